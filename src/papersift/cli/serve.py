"""papersift serve: the web app and API (uvicorn workers), optionally with a background worker."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Annotated

import typer

from papersift.cli.common import app, err, state


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="Web worker processes.")] = 1,
    demo: Annotated[bool, typer.Option(help="Load the demo corpus first if the store is empty.")] = False,
    with_worker: Annotated[bool, typer.Option(
        "--worker/--no-worker", help="Also run `papersift worker` (stopped with the server).")] = False,
) -> None:
    """Serve the web app and the API. Migrates the database first."""
    import uvicorn

    from papersift import log
    from papersift.cli.ingest import load_demo
    from papersift.engine import open_engine
    from papersift.store import Database

    log.setup(state.log_level, default="INFO")
    state.settings.ensure()
    db = Database(state.settings.db_url)
    try:
        db.upgrade()
    finally:
        db.close()
    if demo:
        load_demo()
    # heal the indexes once if nobody owns them (a crash between store and index commits)
    eng = open_engine(state.settings, "auto", owner="serve")
    eng.close()
    os.environ["PAPERSIFT_DATA"] = str(state.settings.data_dir)
    child = None
    if with_worker:
        child = subprocess.Popen([sys.executable, "-m", "papersift", "--data-dir", str(state.settings.data_dir),
                                  "worker"], start_new_session=True,
                                 env={**os.environ, "PAPERSIFT_PARENT_PID": str(os.getpid())})
        err.print(f"papersift worker started (pid {child.pid})")
    err.print(f"papersift serving {state.settings.data_dir} on http://{host}:{port}")
    try:
        uvicorn.run("papersift.web.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                    log_level="info")
    finally:
        if child is not None:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
            err.print("papersift worker stopped")
