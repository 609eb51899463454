"""Helpers for the multi-process tests: generated corpora, a real `papersift serve` subprocess on
127.0.0.1, and CLI commands run as separate processes (the way people and cron run them)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

PY = sys.executable


def store_rows(data_dir: Path, sql: str, url: str | None = None) -> list[tuple]:
    """Rows of ``sql`` from the store: the PostgreSQL database ``url``, else the data dir's SQLite file."""
    if url is None:
        con = sqlite3.connect(data_dir / "papersift.db", timeout=30)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    from sqlalchemy import text

    from papersift.store import Database
    db = Database(url)
    try:
        with db.read() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        db.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def token(n: int) -> str:
    """A word that occurs in exactly one generated paper (letters only, so no stemming surprises)."""
    letters = "bcdfghjklmnpqrstvwxz"
    out = ""
    for _ in range(6):
        n, r = divmod(n, len(letters))
        out += letters[r]
    return "zq" + out


def write_corpus(path: Path, start: int, count: int, tag: str = "gen") -> Path:
    """``count`` JSONL papers with arXiv ids and one unique title word each."""
    with open(path, "w", encoding="utf-8") as fh:
        for n in range(start, start + count):
            fh.write(json.dumps({
                "id": f"{tag}-{n}", "arxiv_id": f"{2000 + n // 100000:04d}.{n % 100000:05d}",
                "title": f"Paper {token(n)} on sparse attention for graph data {n}",
                "abstract": f"We study {token(n)} and message passing on large graphs; item {n}.",
                "authors": [f"Author {n % 997}", "Ada Lovelace"], "categories": ["cs.LG"],
                "published": f"2023-{1 + n % 12:02d}-{1 + n % 28:02d}"}) + "\n")
    return path


def env(data_dir: Path, **extra: str) -> dict[str, str]:
    e = {**os.environ, "PAPERSIFT_DATA": str(data_dir), "PAPERSIFT_EMBEDDER": "hashing-384",
         "PAPERSIFT_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
    e.update(extra)
    return e


def cli(data_dir: Path, *args: str, timeout: float = 600, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, "-m", "papersift", *args], env=env(data_dir, **extra), capture_output=True,
                          text=True, timeout=timeout)


def spawn(data_dir: Path, *args: str, log: Path | None = None, **extra: str) -> subprocess.Popen[str]:
    fh = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
    return subprocess.Popen([PY, "-m", "papersift", *args], env=env(data_dir, **extra), stdout=fh,
                            stderr=subprocess.STDOUT, text=True)


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[str]
    log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, trust_env=False)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator:
    procs: list[subprocess.Popen[str]] = []

    def start(data_dir: Path, workers: int = 2, **extra: str) -> Server:
        port = free_port()
        log = tmp_path / f"serve-{port}.log"
        proc = spawn(data_dir, "serve", "--port", str(port), "--workers", str(workers), log=log, **extra)
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"papersift serve exited: {log.read_text()[-3000:]}")
            try:
                if httpx.get(url + "/api/v1/stats", timeout=2, trust_env=False).status_code == 200:
                    return Server(url, proc, log)
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"papersift serve did not answer: {log.read_text()[-3000:]}")

    yield start
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
