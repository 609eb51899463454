"""A throwaway PostgreSQL cluster for the test session (real server, 127.0.0.1, a free port).

``PgCluster.start()`` finds the server binaries (``$PAPERSIFT_PG_BIN``, ``pg_config --bindir``,
``/usr/lib/postgresql/*/bin``, ``$PATH``), runs ``initdb`` into a temp dir (as the ``postgres``
system user when the tests run as root: initdb refuses root), starts the server with durability
off (a test cluster needs no fsync), and builds one migrated template database. Every test gets
its own database, ``CREATE DATABASE … TEMPLATE papersift_template`` (a file copy: milliseconds,
where running the migrations would take a second), dropped when the test ends. The cluster stops
at the end of the session.

Without PostgreSQL the ``postgres`` tests skip with one reason (one summary line);
``PAPERSIFT_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) turns a missing PostgreSQL into an error.
"""

from __future__ import annotations

import glob
import itertools
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)
TEMPLATE = "papersift_template"
SUPERUSER = "papersift"


class PgUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (or the cluster would not start)."""


def find_bindir() -> Path | None:
    env = os.environ.get("PAPERSIFT_PG_BIN")
    if env:  # the one place to look (a wrong one means: no PostgreSQL)
        return Path(env) if (Path(env) / "initdb").exists() and (Path(env) / "pg_ctl").exists() else None
    candidates: list[str] = []
    if shutil.which("pg_config"):
        try:
            out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10)
            candidates.append(out.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).parent))
    for c in candidates:
        if c and (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return Path(c)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """One running PostgreSQL cluster in a temp dir."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="papersift-pg-"))
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.port = _free_port()
        self.as_user: str | None = None
        self._names = itertools.count(1)
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise PgUnavailable("running as root, and no `postgres` user to run the server as") from None
            self.as_user = "postgres"
            os.chmod(self.root, 0o755)
            self.sock.mkdir()
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            os.chown(self.sock, pw.pw_uid, pw.pw_gid)
        else:
            self.sock.mkdir()

    def _run(self, *args: str, timeout: float = 120) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_user:
            cmd = ["runuser", "-u", self.as_user, "--", *cmd]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if res.returncode != 0:
            raise PgUnavailable(f"{args[0]} failed ({res.returncode}): {(res.stdout + res.stderr)[-2000:]}")

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> PgCluster:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", SUPERUSER, "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.sock} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=400 "
                "-c shared_buffers=64MB")
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.root / "server.log"), "-w",
                  "-t", "60", "start")
        try:
            self._make_template()
        except BaseException:
            self.stop()
            raise
        return self

    def _admin(self):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres",
                               autocommit=True)

    def _make_template(self) -> None:
        from papersift.store import Database

        with self._admin() as con:
            con.execute(f"CREATE DATABASE {TEMPLATE}")
        db = Database(self.url(TEMPLATE))
        try:
            db.upgrade()
        finally:
            db.close()

    def create_database(self, migrated: bool = True, template: str | None = None) -> str:
        """A fresh database (a copy of ``template``, else migrated, else empty); returns its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        source = template or (TEMPLATE if migrated else "template0")
        with self._admin() as con:
            con.execute(f"CREATE DATABASE {name} TEMPLATE {source}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with self._admin() as con:
            con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        except (PgUnavailable, subprocess.SubprocessError, OSError) as e:
            log.warning("could not stop the test PostgreSQL: %s", e)
        deadline = time.monotonic() + 10
        while (self.data / "postmaster.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> PgCluster:
    bindir = find_bindir()
    if bindir is None:
        raise PgUnavailable("PostgreSQL server binaries not found (install Debian's `postgresql`, or set "
                            "PAPERSIFT_PG_BIN)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise PgUnavailable("the psycopg driver is not installed (pip install 'psycopg[binary]')") from None
    return PgCluster(bindir).start()
