"""The database is private and a read-only one still answers read commands.

Issue 7 ("Personal data stays private"): the SQLite file and its -wal/-shm files are created
0600, a new data directory 0700. Issue 10 item 11: a database the user cannot write (read-only
file and directory) must not break `overdue`, `status`, `outbox`, lists: opening it writes
nothing (no WAL switch, no schema upgrade when the schema is current)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from sqlmodel import Session

from scheduler.config import load_config
from scheduler.db import open_db
from scheduler.models import Unit

NOW = "2026-03-16 09:00"


def test_a_new_database_and_its_wal_files_are_owner_only(tmp_path):
    cfg = tmp_path / "ccal.toml"
    cfg.write_text('[general]\ndata_dir = "data"\n', encoding="utf-8")
    engine = open_db(load_config(cfg))
    try:
        with Session(engine) as s:            # a write, so the -wal and -shm files exist
            s.add(Unit(code="XCB", name="党委宣传部", kind="office"))
            s.commit()
            db = tmp_path / "data" / "ccal.db"
            files = [db, db.with_name("ccal.db-wal"), db.with_name("ccal.db-shm")]
            assert all(f.exists() for f in files)
            assert {f.name: f.stat().st_mode & 0o777 for f in files} == {f.name: 0o600 for f in files}
        assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700
    finally:
        engine.dispose()


def _ccal() -> str:
    exe = shutil.which("ccal", path=str(Path(sys.executable).parent))
    assert exe, "the ccal script of the active venv"
    return exe


@pytest.fixture(scope="module")
def readonly_demo():
    """A demo database nobody may write. As a normal user: the file 0444 and the directory 0555.
    Root ignores modes, so under root the commands run inside a read-only bind mount of the
    directory (a private mount namespace, `unshare -m`), which even root cannot write."""
    d = Path(tempfile.mkdtemp(prefix="ccal-ro-"))
    try:
        (d / "ccal.toml").write_text('[general]\ndata_dir = "."\n', encoding="utf-8")
        env = {**os.environ, "CCAL_CONFIG": str(d / "ccal.toml"), "HOME": str(d)}
        env.pop("CCAL_DATABASE_URL", None)
        subprocess.run([_ccal(), "init", "--demo", "--now", NOW], env=env, check=True,
                       capture_output=True)
        for extra in ("ccal.db-wal", "ccal.db-shm"):
            assert not (d / extra).exists(), "a clean close leaves no WAL files"
        shutil.rmtree(d / "evidence", ignore_errors=True)
        os.chmod(d / "ccal.db", 0o444)
        os.chmod(d, 0o555)
        yield d, env
    finally:
        os.chmod(d, 0o755)
        shutil.rmtree(d, ignore_errors=True)


_RO_MOUNT = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'


def _run_readonly(d: Path, env, *args):
    command = [_ccal(), *args]
    if os.geteuid() == 0:
        if shutil.which("unshare") is None:
            pytest.skip("root ignores file modes and unshare is not available")
        probe = subprocess.run(["unshare", "-m", "sh", "-c", _RO_MOUNT, str(d), "true"],
                               capture_output=True)
        if probe.returncode != 0:
            pytest.skip("root ignores file modes and no read-only mount can be made here")
        command = ["unshare", "-m", "sh", "-c", _RO_MOUNT, str(d), *command]
    return subprocess.run(command, env=env, capture_output=True, text=True)


@pytest.mark.parametrize("args", [
    ("overdue", "--as-of", "2026-03-16"),
    ("upcoming", "--as-of", "2026-03-16"),
    ("status", "XCB", "--as-of", "2026-03-16"),
    ("outbox",),
    ("lecture", "list"),
    ("order", "list", "--as-of", "2026-03-16"),
    ("order", "list"),            # today: overdue orders are listed, their findings not posted
])
def test_read_commands_work_on_a_read_only_database(readonly_demo, args):
    d, env = readonly_demo
    before = sorted(p.name for p in d.iterdir())
    assert "ccal.db-wal" not in before and "ccal.db-shm" not in before
    result = _run_readonly(d, env, *args)
    assert result.returncode == 0, result.stderr
    assert "readonly" not in result.stderr and "只读" not in result.stderr
    assert sorted(p.name for p in d.iterdir()) == before      # reading wrote no file


def test_a_read_only_database_is_not_upgraded_but_refused_clearly():
    import sqlite3

    from scheduler.db import make_engine, upgrade

    d = Path(tempfile.mkdtemp(prefix="ccal-ro-old-"))
    try:
        engine = make_engine(f"sqlite:///{d / 'ccal.db'}")
        upgrade(engine, "0001")
        engine.dispose()
        (d / "ccal.toml").write_text('[general]\ndata_dir = "."\n', encoding="utf-8")
        env = {**os.environ, "CCAL_CONFIG": str(d / "ccal.toml"), "HOME": str(d)}
        env.pop("CCAL_DATABASE_URL", None)
        os.chmod(d / "ccal.db", 0o444)
        os.chmod(d, 0o555)
        result = _run_readonly(d, env, "outbox")
        assert result.returncode == 1
        assert "只读" in result.stderr and "ccal init" in result.stderr
        assert "Traceback" not in result.stderr
        with sqlite3.connect(f"file:{d / 'ccal.db'}?mode=ro", uri=True) as c:
            assert c.execute("select version_num from alembic_version").fetchall() == [("0001",)]
    finally:
        os.chmod(d, 0o755)
        shutil.rmtree(d, ignore_errors=True)
