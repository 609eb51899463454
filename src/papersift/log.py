"""Logging set-up for the processes (CLI, worker, web). Library modules only call
``logging.getLogger(__name__)``; the level comes from ``--log-level`` or ``PAPERSIFT_LOG_LEVEL``."""

from __future__ import annotations

import logging
import os
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d]: %(message)s"


def setup(level: str | None = None, default: str = "WARNING") -> None:
    name = (level or os.environ.get("PAPERSIFT_LOG_LEVEL") or default).upper()
    if name not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError(f"log level must be DEBUG, INFO, WARNING or ERROR, not {name!r}")
    root = logging.getLogger()
    root.setLevel(name)
    if not any(getattr(h, "_papersift", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        handler._papersift = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    for noisy in ("alembic.runtime.migration", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
