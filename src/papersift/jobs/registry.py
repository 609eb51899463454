"""The worker's jobs. Each is a function of a ``JobContext`` that returns a one-line summary.

Built in: ``index`` (follow the change log into the lexical and vector indexes; needs the index
lock, so only the index owner runs it) and ``embed`` (embed papers that lack a vector; a store
write, any worker may run it). Later jobs (arXiv / Hugging Face harvest, the email digest) plug in
with ``register(Job(...))`` from a module listed in ``JOB_MODULES``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from papersift.config import Settings
from papersift.engine import Engine

log = logging.getLogger(__name__)


@dataclass
class JobContext:
    engine: Engine
    settings: Settings
    worker: str
    should_stop: Callable[[], bool]


@dataclass
class Result:
    detail: str
    worked: bool = True  # False: nothing to do (logged at DEBUG, not INFO)
    failed: bool = False  # a failure the job handled itself (recorded as failed, no traceback)
    next_in: float | None = None  # seconds to the next run, instead of the job's ``every``


@dataclass
class Job:
    name: str
    every: float  # seconds between the end of one run and the next
    run: Callable[[JobContext], Result]
    needs_owner: bool = False
    description: str = ""
    enabled: Callable[[Settings], bool] = field(default=lambda _s: True)


_REGISTRY: dict[str, Job] = {}
JOB_MODULES: list[str] = [  # modules that call register() when imported
    "papersift.jobs.harvest",
    "papersift.notify.job",
]


def register(job: Job) -> Job:
    _REGISTRY[job.name] = job
    return job


# -- built-in jobs -----------------------------------------------------------------------------------
def run_index(ctx: JobContext) -> Result:
    from papersift.store import stats

    eng = ctx.engine
    papers = eng.catch_up()
    vectors = eng.catch_up_vectors()
    stats.refresh(eng.db)  # the corpus statistics requests read (at most once a minute)
    return Result(f"indexed {papers} papers, {vectors} vectors (change {eng.lexical.seq})",
                  worked=bool(papers or vectors))


def run_embed(ctx: JobContext) -> Result:
    from papersift.index.embed_stage import embed_pending
    from papersift.store import embeddings as vectors_sql

    eng = ctx.engine
    model = eng.semantic.model
    if not vectors_sql.pending(eng.db, model, limit=1):  # one row, not a count over the corpus
        return Result(f"nothing to embed for {model}", worked=False)
    embedder = eng.semantic.encoder.embedder()
    report = embed_pending(eng.db, embedder, should_stop=ctx.should_stop)
    if eng.is_owner:
        eng.catch_up_vectors(force_save=True)
    state = "stopped early" if report.stopped else "done"
    return Result(f"embedded {report.embedded} papers with {model} ({report.unchanged} unchanged; {state})")


def builtin_jobs(settings: Settings) -> list[Job]:
    return [
        Job("index", settings.index_every, run_index, needs_owner=True,
            description="follow the store's change log into the lexical and vector indexes"),
        Job("embed", settings.embed_every, run_embed,
            description="embed papers that have no vector for the configured model"),
    ]


def jobs_for(settings: Settings) -> list[Job]:
    """Every job this worker runs: the built-ins plus whatever the job modules register."""
    for mod in JOB_MODULES + settings.job_modules:
        importlib.import_module(mod)
    jobs = {j.name: j for j in builtin_jobs(settings)}
    jobs.update(_REGISTRY)
    return [j for j in jobs.values() if j.enabled(settings)]
