"""The papersift command line: thin command modules over the library.

``common`` (the Typer app, settings, consoles, progress bars, opening the engine), ``ingest``
(ingest, demo), ``query`` (search, show, similar, stats), ``index`` (reindex, embed), ``eval``,
``serve``, ``db`` (db upgrade / status), ``worker`` (worker, jobs), ``users`` (user create / list).
"""

from papersift.cli import db, eval, index, ingest, migrate, query, serve, users, worker  # noqa: F401  (registers)
from papersift.cli.common import app

__all__ = ["app"]
