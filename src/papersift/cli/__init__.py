"""The papersift command line: thin command modules over the library.

``common`` (the Typer app, settings, consoles, progress bars, opening the engine), ``ingest``
(ingest, demo), ``query`` (search, show, similar, stats), ``index`` (reindex, embed), ``eval``,
``serve``, ``db`` (db upgrade / status), ``worker`` (worker, jobs), ``users`` (user create / list),
``interests`` (follow, feedback, foryou, library import / list / export / save / remove / tag),
``digest`` (digest send / preview / settings / feed).
"""

import papersift.cli.digest  # noqa: F401  (registers: digest send / preview / settings / feed)
from papersift.cli import db, eval, index, ingest, interests, query, serve, users, worker  # noqa: F401  (registers)
from papersift.cli import harvest as _harvest  # noqa: F401  (registers harvest arxiv|hf, fetch arxiv)
from papersift.cli import migrate as _migrate  # noqa: F401  (registers migrate)
from papersift.cli.common import app

__all__ = ["app"]
