"""papersift db upgrade / status: schema migrations, run once under a lock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from papersift.cli.common import app, out, state

db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade() -> None:
    """Create or migrate the database schema to this papersift's version (safe to run anytime)."""
    from papersift.engine import read_only_reason
    from papersift.store import Database
    from papersift.store.db import ReadOnlyStore, head_revision

    reason = read_only_reason(state.settings)
    if reason:
        raise ReadOnlyStore(f"{reason}: `db upgrade` migrates the database")
    state.settings.ensure()
    db = Database(state.settings.db_url)
    try:
        ran = db.upgrade()
    finally:
        db.close()
    out.print(f"database {db.safe_url}: {'migrated to' if ran else 'already at'} schema revision {head_revision()}")


@db_app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False) -> None:
    """Show the schema revision of the database and the one this papersift needs."""
    from sqlalchemy.engine.url import make_url

    from papersift.store import Database
    from papersift.store.db import head_revision

    url = make_url(state.settings.db_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        have, want, safe = None, head_revision(), url.render_as_string(hide_password=True)  # do not create it
    else:
        from papersift.engine import read_only_reason

        db = Database(state.settings.db_url, read_only=bool(read_only_reason(state.settings)))
        try:
            have, want, safe = db.revision(), head_revision(), db.safe_url
        finally:
            db.close()
    if as_json:
        print(json.dumps({"database": safe, "revision": have, "head": want, "current": have == want}))
        return
    out.print(f"database {safe}: revision {have or '(none)'}, needs {want}"
              f"{'' if have == want else ' — run `papersift db upgrade`'}")
    if have != want:
        raise typer.Exit(1)
