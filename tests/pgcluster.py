"""A throwaway PostgreSQL cluster for the tests, from the machine's own binaries.

`initdb` and `pg_ctl` refuse to run as root, so as root they run as the `postgres` system user
(`runuser -u postgres --`) in a directory that user owns. The server listens on a free
loopback TCP port (and a unix socket in that directory), with fsync off: the cluster lives for
one test session. Each test gets a fresh database copied from a template that already holds the
schema at the latest revision (`CREATE DATABASE ... TEMPLATE`, a few milliseconds), so the
migrations run once per session (and once more in the test that checks them on PostgreSQL).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

TEMPLATE = "ccal_template"


def find_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl: PATH, /usr/local/bin, then Debian's
    /usr/lib/postgresql/<version>/bin (newest first)."""
    candidates = []
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).parent)
    candidates.append(Path("/usr/local/bin"))
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                      key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
                      reverse=True)
    candidates += [Path(p) for p in versions]
    for d in candidates:
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            return d
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="ccal-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.root, "postgres")
        self._names = itertools.count(1)
        self._live: list[str] = []

    def _run(self, *args: str) -> None:
        cmd = [str(a) for a in args]
        if self._as_root:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.root)

    def start(self) -> "Cluster":
        self._run(self.bindir / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync",
                  "-E", "UTF8", "--locale=C")
        opts = (f"-k {self.root} -p {self.port} -h 127.0.0.1 -F -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c max_connections=200")
        self._run(self.bindir / "pg_ctl", "-D", self.data, "-l", self.root / "log", "-w", "-o", opts, "start")
        return self

    def stop(self) -> None:
        try:   # immediate: the data is thrown away; -W: do not wait for the last backends
            self._run(self.bindir / "pg_ctl", "-D", self.data, "-m", "immediate", "-W", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(sql)

    def make_template(self) -> None:
        """The template database, schema at head (the migrations run here, once)."""
        from scheduler.db import make_engine, upgrade

        self._admin(f"CREATE DATABASE {TEMPLATE}")
        engine = make_engine(self.url(TEMPLATE))
        upgrade(engine)
        engine.dispose()

    def fresh_database(self, *, empty: bool = False) -> str:
        """URL of a new database: a copy of the template, or `empty` (no schema)."""
        name = f"ccal_{next(self._names)}"
        self._admin(f"CREATE DATABASE {name}" + ("" if empty else f" TEMPLATE {TEMPLATE}"))
        self._live.append(name)
        return self.url(name)

    def drop_databases(self) -> None:
        """Drop the databases handed out so far (after each test: the disk stays small)."""
        while self._live:
            self._admin(f"DROP DATABASE IF EXISTS {self._live.pop()} WITH (FORCE)")
