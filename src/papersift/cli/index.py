"""papersift reindex / embed: rebuild the indexes; compute vectors."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from papersift.cli.common import app, err, esc, finish_indexing, open_engine, out, progress_bar, state


@app.command()
def reindex(wait: Annotated[float, typer.Option(min=0, help="Seconds to wait for the index owner to finish.")] = 0.0,
            ) -> None:
    """Rebuild the lexical and vector indexes from the store (needs to own the indexes: stop the
    worker first, or pass --wait)."""
    eng = open_engine("owner", owner="reindex", wait=wait)
    try:
        total = eng.store.count()
        t0 = time.perf_counter()
        with progress_bar() as bar:
            task = bar.add_task("reindex", total=total, rate="")

            def tick(n: int) -> None:
                rate = bar.tasks[0].completed / max(time.perf_counter() - t0, 1e-9)
                bar.update(task, advance=n, rate=f"{rate:,.0f}/s")

            n = eng.reindex(tick)
        out.print(f"indexed {n} papers and {len(eng.semantic)} vectors in {time.perf_counter() - t0:.1f}s")
    finally:
        eng.close()


@app.command()
def embed(
    model: Annotated[str | None, typer.Option(help="Embedding model name (default: the bundled one).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Texts per model call (at least 1).")] = 64,
) -> None:
    """Embed papers that lack a vector (resumable; a model change re-embeds into its own index).

    Runs under the "embed" job lease, so it never embeds beside the worker's embed job; vectors go
    to the store, and into the vector index when no worker owns it."""
    from papersift.index.embed_stage import embed_pending, pending
    from papersift.jobs.lease import JobLease, worker_id
    from papersift.store import jobs as jobs_sql

    if model:
        state.settings.embedder = model
    eng = open_engine("auto", owner="embed")
    try:
        try:
            embedder = eng.semantic.encoder.embedder()
        except (ImportError, ValueError) as e:
            err.print(f"[red]error:[/] {esc(str(e))}")
            raise typer.Exit(2) from None
        with JobLease(eng.db, "embed", worker_id("cli"), state.settings.lease_seconds,
                      every=state.settings.embed_every) as lease:
            if not lease.acquired:
                row = jobs_sql.get(eng.db, "embed")
                err.print(f"embed: already running in {row.lease_owner if row else 'another process'}; "
                          f"it will embed the {pending(eng.db, embedder.name)} pending papers")
                return
            todo = pending(eng.db, embedder.name)
            t0 = time.perf_counter()
            with progress_bar() as bar:
                task = bar.add_task(f"embed ({embedder.name})", total=todo, rate="")

                def tick(n: int) -> None:
                    bar.update(task, advance=n)
                    rate = bar.tasks[0].completed / max(time.perf_counter() - t0, 1e-9)
                    bar.update(task, rate=f"{rate:,.1f}/s")

                report = embed_pending(eng.db, embedder, tick, batch_size=batch_size,
                                       should_stop=lambda: lease.lost)
            lease.detail = f"embedded {report.embedded} papers with {embedder.name} (from the command line)"
        if eng.is_owner:
            eng.catch_up_vectors(force_save=True)
        else:
            finish_indexing(eng, "embed")
        out.print(f"embedded {report.embedded} papers with {embedder.name} in {time.perf_counter() - t0:.1f}s; "
                  f"{len(eng.semantic)} vectors in the index")
    finally:
        eng.close()
