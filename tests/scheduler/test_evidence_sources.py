"""Evidence comes only from ordinary files (issue 10, item 10): symlinks, special files, system
files and ccal's own config, secret and database files are refused; nothing is recorded and
nothing is copied. Real files, real symlinks, a real FIFO and a real SQLite database."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import select

from scheduler.evidence import EvidenceError, check_source, protected_files, store_evidence
from scheduler.models import Submission
from scheduler.submissions import submit

AT = datetime(2026, 6, 1, 9, 0)


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def refused(app, path, match: str):
    with pytest.raises(EvidenceError, match=match) as err:
        submit(app, "tpack.report", "LTX", "2026-H1", at=AT, evidence=[path])
    assert not re.search(r"\([a-z' ,]+\)", str(err.value)), "no English copy of the reason"
    with app.session() as s:
        assert s.exec(select(Submission)).all() == [], "nothing may be recorded"
    assert stored_files(app.config.evidence.dir) == [], "nothing may be copied"


def test_a_symlink_is_refused_even_to_an_ordinary_file(tracking_app, tmp_path):
    real = tmp_path / "minutes.pdf"
    real.write_bytes(b"minutes")
    link = tmp_path / "link.pdf"
    link.symlink_to(real)
    refused(tracking_app, link, "符号链接")


def test_a_symlink_to_etc_passwd_is_refused(tracking_app, tmp_path):
    link = tmp_path / "passwd.pdf"
    link.symlink_to("/etc/passwd")
    refused(tracking_app, link, "符号链接")


def test_a_relative_path_climbing_into_etc_is_refused(tracking_app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    climb = Path("../" * len(tmp_path.parts) + "etc/passwd")
    assert climb.resolve() == Path("/etc/passwd")
    refused(tracking_app, climb, "/etc")


def test_a_directory_symlinked_into_etc_is_refused(tracking_app, tmp_path):
    (tmp_path / "conf").symlink_to("/etc")
    refused(tracking_app, tmp_path / "conf" / "passwd", "/etc")


@pytest.mark.parametrize("path,match", [("/proc/self/status", "/proc"),
                                        ("/sys/devices/system/cpu/online", "/sys"),
                                        ("/dev/null", "不是普通文件")])
def test_kernel_and_device_files_are_refused(tracking_app, path, match):
    if not os.path.exists(path):
        pytest.skip(f"{path} does not exist here")
    refused(tracking_app, Path(path), match)


def test_a_fifo_and_a_directory_are_refused_without_blocking(tracking_app, tmp_path):
    fifo = tmp_path / "pipe.pdf"
    os.mkfifo(fifo)
    refused(tracking_app, fifo, "不是普通文件")
    refused(tracking_app, tmp_path, "不是普通文件")


def test_the_config_file_is_refused(tracking_app):
    refused(tracking_app, tracking_app.config.path, "ccal 自己的")


@pytest.mark.sqlite_only    # the database as a file: SQLite's
def test_the_database_and_its_wal_file_are_refused(tracking_app):
    db = Path(str(tracking_app.engine.url.database))
    assert db.is_file()
    refused(tracking_app, db, "ccal 自己的")
    with tracking_app.engine.connect() as conn:       # keep the WAL file in existence
        conn.exec_driver_sql("select 1")
        wal = db.with_name(db.name + "-wal")
        if wal.exists():
            refused(tracking_app, wal, "ccal 自己的")


def test_the_secret_file_and_a_hard_link_to_it_are_refused(tmp_path):
    from scheduler.config import load_config

    secret = tmp_path / "secrets.env"
    secret.write_text("CCAL_SMTP_PASSWORD=hunter2-secret\n", encoding="utf-8")
    cfg = tmp_path / "ccal.toml"
    cfg.write_text('[general]\ndata_dir = "data"\n[notify]\nsecret_file = "secrets.env"\n',
                   encoding="utf-8")
    protected = protected_files(load_config(cfg))
    hard = tmp_path / "innocent.pdf"
    os.link(secret, hard)
    for path in (secret, hard, cfg):
        with pytest.raises(EvidenceError, match="ccal 自己的") as err:
            store_evidence(path, tmp_path / "evidence", protected=protected)
        assert "hunter2" not in str(err.value)
    assert stored_files(tmp_path / "evidence") == []


def test_an_ordinary_file_is_still_accepted(tracking_app, tmp_path):
    f = tmp_path / "会议记录.pdf"
    f.write_bytes(b"minutes of the meeting")
    check_source(f, protected_files(tracking_app.config))
    r = submit(tracking_app, "tpack.report", "LTX", "2026-H1", at=AT, evidence=[f])
    assert len(r.evidence) == 1


def test_the_store_is_private_to_the_owner(tracking_app, tmp_path):
    f = tmp_path / "会议记录.pdf"
    f.write_bytes(b"minutes with phone numbers")
    r = submit(tracking_app, "tpack.report", "LTX", "2026-H1", at=AT, evidence=[f])
    root = tracking_app.config.evidence.dir
    stored = root / r.evidence[0].stored_path
    assert root.stat().st_mode & 0o777 == 0o700
    assert stored.parent.stat().st_mode & 0o777 == 0o700
    assert stored.stat().st_mode & 0o777 == 0o400


def test_cli_submit_refuses_etc_passwd_with_a_clear_message(tracking_app, tmp_path):
    from click.testing import CliRunner

    from cli import main

    link = tmp_path / "report.pdf"
    link.symlink_to("/etc/passwd")
    result = CliRunner().invoke(main, ["--config", str(tracking_app.config.path), "submit",
                                       "tpack.report", "--unit", "LTX", "--period", "2026-H1",
                                       "--at", "2026-06-01 09:00", "--evidence", str(link)])
    assert result.exit_code == 1
    assert "符号链接" in result.output and "Traceback" not in result.output
    assert "root:" not in result.output
