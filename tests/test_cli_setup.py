"""Setting up: no false all-clear on a missing database, the config found the usual way,
`ccal doctor`, choosing the rule packs."""

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main

CONFIG = '[general]\ndata_dir = "data"\n\n[database]\nurl = "sqlite:///ccal.db"\n'


def invoke(*args, env=None):
    return CliRunner().invoke(main, [*map(str, args)], env=env or {}, catch_exceptions=False)


@pytest.fixture
def cfg(tmp_path):
    path = tmp_path / "ccal.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- no false all-clear

DB_COMMANDS = [
    ["overdue", "--as-of", "2026-06-20"],
    ["upcoming", "--as-of", "2026-06-20"],
    ["status", "JDX", "--as-of", "2026-06-20"],
    ["calendar", "--from", "2026-06-01", "--to", "2026-06-30"],
    ["submit", "jincheng-2020.1.2", "--unit", "JDX", "--period", "2026-H1"],
    ["materialise", "2026"],
    ["tick", "--now", "2026-06-20 09:00"],
    ["outbox"],
    ["score", "--year", "2026"],
    ["lecture", "list"],
    ["order", "list"],
    ["meeting", "set", "--quarter", "2026-Q1", "--date", "2026-03-20"],
]


@pytest.mark.parametrize("args", DB_COMMANDS, ids=lambda a: a[0])
def test_a_missing_database_is_refused_naming_the_path_and_the_fix(cfg, args):
    result = invoke("--config", cfg, *args)
    assert result.exit_code == 1, result.output
    assert str(cfg.parent / "ccal.db") in result.stderr and "ccal init" in result.stderr
    assert "数据库不存在" in result.stderr and "Traceback" not in result.output
    assert not (cfg.parent / "ccal.db").exists()       # nothing created behind the clerk's back


def test_an_empty_database_file_is_refused_as_uninitialised(cfg):
    sqlite3.connect(cfg.parent / "ccal.db").close()
    result = invoke("--config", cfg, "overdue", "--as-of", "2026-06-20")
    assert result.exit_code == 1
    assert "数据库尚未初始化" in result.stderr and "ccal init" in result.stderr


def test_init_creates_the_database_and_then_queries_work(cfg):
    assert invoke("--config", cfg, "init").exit_code == 0
    assert (cfg.parent / "ccal.db").exists()
    result = invoke("--config", cfg, "overdue", "--as-of", "2026-06-20", "--format", "json")
    assert result.exit_code == 0, result.output


# --------------------------------------------------------------------------- config discovery

def which_config(monkeypatch, tmp_path, env=None, args=()):
    """Runs a command that fails on the (missing) database; its message names the database,
    which tells which config file was read."""
    result = invoke(*args, "overdue", env=env)
    assert result.exit_code == 1
    return result.stderr


def config_in(directory: Path, db_name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "ccal.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{db_name}.db"\n', encoding="utf-8")
    return path


def test_config_discovery_order(monkeypatch, tmp_path):
    from scheduler import config

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    system = config_in(tmp_path / "etc", "system")
    monkeypatch.setattr(config, "SYSTEM_CONFIG", system)
    assert "system.db" in which_config(monkeypatch, tmp_path)
    config_in(tmp_path / "xdg-config" / "ccal", "user")
    assert "user.db" in which_config(monkeypatch, tmp_path)
    config_in(work, "here")
    assert "here.db" in which_config(monkeypatch, tmp_path)
    env_cfg = config_in(tmp_path / "env", "env")
    assert "env.db" in which_config(monkeypatch, tmp_path, env={"CCAL_CONFIG": str(env_cfg)})
    explicit = config_in(tmp_path / "explicit", "explicit")
    assert "explicit.db" in which_config(monkeypatch, tmp_path, env={"CCAL_CONFIG": str(env_cfg)},
                                         args=("--config", explicit))
