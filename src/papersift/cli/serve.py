"""papersift serve: the web app and API (uvicorn workers), optionally with a background worker."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Annotated

import typer

from papersift.cli.common import app, err, esc, state


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port to listen on (1-65535).")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Web worker processes (at least 1).")] = 1,
    demo: Annotated[bool, typer.Option(help="Load the demo corpus first if the store is empty.")] = False,
    with_worker: Annotated[bool, typer.Option(
        "--worker/--no-worker", help="Also run `papersift worker` (stopped with the server).")] = False,
) -> None:
    """Serve the web app and the API. Migrates the database first."""
    import uvicorn

    from papersift import log
    from papersift.cli.ingest import load_demo
    from papersift.engine import open_engine, read_only_reason
    from papersift.store import Database, SchemaOutOfDate
    from papersift.store.db import ReadOnlyStore

    log.setup(state.log_level, default="INFO")
    reason = read_only_reason(state.settings)
    if reason and (demo or with_worker):
        raise ReadOnlyStore(f"{reason}: --demo and --worker write the data dir")
    if not reason:
        state.settings.ensure()
    db = Database(state.settings.db_url, read_only=bool(reason))
    try:
        db.upgrade()  # read-only: only checks the schema (SchemaOutOfDate says what to run)
    except SchemaOutOfDate as e:
        err.print(f"[red]error:[/] {esc(str(e))}")
        raise typer.Exit(2) from None
    finally:
        db.close()
    if demo:
        load_demo()
    # heal the indexes once if nobody owns them (a crash between store and index commits)
    eng = open_engine(state.settings, "reader" if reason else "auto", owner="serve")
    eng.close()
    os.environ["PAPERSIFT_DATA"] = str(state.settings.data_dir)
    if reason:
        os.environ["PAPERSIFT_READ_ONLY"] = "1"  # the web workers build their Settings from the environment
        err.print(f"papersift is read-only ({reason}): votes, accounts and submissions are refused")
    child = None
    if with_worker:
        child = subprocess.Popen([sys.executable, "-m", "papersift", "--data-dir", str(state.settings.data_dir),
                                  "worker"], start_new_session=True,
                                 env={**os.environ, "PAPERSIFT_PARENT_PID": str(os.getpid())})
        err.print(f"papersift worker started (pid {child.pid})")
    err.print(f"papersift serving {state.settings.data_dir} on http://{host}:{port}")
    try:
        uvicorn.run("papersift.web.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                    log_level="info", proxy_headers=False)
    finally:
        if child is not None:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
            err.print("papersift worker stopped")
