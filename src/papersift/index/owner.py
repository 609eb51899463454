"""Index ownership: exactly one process at a time writes a data dir's indexes.

The owner holds an exclusive ``flock`` on ``<data_dir>/index.lock`` for as long as it owns the
indexes. The kernel drops the lock when the process dies, however it dies (SIGKILL included), so a
killed owner can never leave it stuck. Beside it, ``index.owner.json`` says who holds it (pid,
role, host, since) for messages; it is only trusted while the lock is actually held.

Forked children (the parallel parser) must not keep the lock alive after their parent dies, so
every held lock's descriptor is closed in a child right after ``fork``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from papersift.fsutil import read_json, write_json_atomic

log = logging.getLogger(__name__)
LOCK_NAME = "index.lock"
INFO_NAME = "index.owner.json"

_held: set[int] = set()
_held_lock = threading.Lock()


def _close_in_child() -> None:
    for fd in list(_held):
        with contextlib.suppress(OSError):  # already closed: nothing to drop
            os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_close_in_child)


class IndexLock:
    """The owner lock of one data dir. ``acquire`` never blocks unless asked to."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LOCK_NAME
        self.info_path = self.data_dir / INFO_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, role: str, wait: float = 0.0) -> bool:
        """Take the lock as ``role`` ("worker", "ingest", ...); wait up to ``wait`` seconds."""
        if self._fd is not None:
            return True
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + max(wait, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(min(0.2, max(deadline - time.monotonic(), 0.01)))
        with _held_lock:
            _held.add(fd)
        self._fd = fd
        write_json_atomic(self.info_path, {"pid": os.getpid(), "role": role, "host": socket.gethostname(),
                                           "since": datetime.now(UTC).isoformat(timespec="seconds")})
        log.debug("index owner: %s (pid %d)", role, os.getpid())
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with _held_lock:
            _held.discard(fd)
        try:
            self.info_path.unlink(missing_ok=True)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def owner(self) -> dict[str, Any] | None:
        """Who owns the indexes now (None when nobody does). Probes the lock without keeping it."""
        if self._fd is not None:
            return {"pid": os.getpid(), "role": "this process"}
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)  # flock needs no write access
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                info = read_json(self.info_path, None)
                return info if isinstance(info, dict) else {"pid": None, "role": "unknown"}
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def __enter__(self) -> IndexLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def describe(owner: dict[str, Any] | None) -> str:
    if not owner:
        return "nobody"
    return f"{owner.get('role', 'a process')} (pid {owner.get('pid')})" + (
        f" on {owner['host']}" if owner.get("host") and owner.get("host") != socket.gethostname() else "")


def is_worker(owner: dict[str, Any] | None) -> bool:
    return bool(owner) and (owner or {}).get("role") == "worker"


__all__ = ["IndexLock", "describe", "is_worker"]
