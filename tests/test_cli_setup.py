"""Setting up: no false all-clear on a missing database, the config found the usual way,
`ccal doctor`, choosing the rule packs."""

import json
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
    assert invoke("--config", cfg, "init", "--packs", "school-template").exit_code == 0
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


# --------------------------------------------------------------------------- choose your rules

def test_init_without_a_choice_enables_no_pack_and_queries_say_how_to_choose(cfg):
    result = invoke("--config", cfg, "init")
    assert result.exit_code == 0 and "ccal init --packs" in result.stdout
    refused = invoke("--config", cfg, "overdue", "--as-of", "2026-06-20")
    assert refused.exit_code == 1 and "未启用任何规则包" in refused.stderr and "ccal init --packs" in refused.stderr
    listed = invoke("--config", cfg, "packs", "list", "--format", "json")
    assert listed.exit_code == 0
    assert not any(r["enabled"] for r in json.loads(listed.stdout))
    # audit7: a clerk choosing a pack sees what each one is (its title and size) before enabling it.
    jincheng = next(r for r in json.loads(listed.stdout) if r["pack"] == "jincheng-2020")
    assert jincheng["title"] == "晋城职业技术学院 落实意识形态工作责任制考核办法（试行）"
    assert jincheng["obligations"] > 30


def test_init_packs_writes_the_choice_into_the_config(cfg):
    result = invoke("--config", cfg, "init", "--packs", "school-template")
    assert result.exit_code == 0, result.output
    assert 'enabled = ["school-template"]' in cfg.read_text(encoding="utf-8")
    rows = json.loads(invoke("--config", cfg, "packs", "list", "--format", "json").stdout)
    enabled = [(r["pack"], r["origin"]) for r in rows if r["enabled"]]
    assert enabled == [("school-template", "bundled")]
    keys = {r["obligation"] for r in json.loads(invoke("--config", cfg, "obligations", "--format", "json").stdout)}
    assert keys and all(k.startswith("school-template.") for k in keys)
    # The same choice again is fine; another one is refused, naming the file.
    assert invoke("--config", cfg, "init", "--packs", "school-template").exit_code == 0
    other = invoke("--config", cfg, "init", "--packs", "henan-2023")
    assert other.exit_code == 1 and str(cfg) in other.stderr and "packs.enabled" in other.stderr


def test_init_with_an_unknown_pack_writes_nothing(cfg):
    before = cfg.read_text(encoding="utf-8")
    result = invoke("--config", cfg, "init", "--packs", "nopack")
    assert result.exit_code == 1 and "nopack" in result.stderr
    assert cfg.read_text(encoding="utf-8") == before and not (cfg.parent / "ccal.db").exists()


def test_init_packs_without_a_config_file_writes_the_user_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("init", "--packs", "school-template")
    assert result.exit_code == 0, result.output
    user = tmp_path / "xdg-config" / "ccal" / "ccal.toml"
    assert 'enabled = ["school-template"]' in user.read_text(encoding="utf-8")


def test_packs_list_names_an_extra_directory(cfg, tmp_path):
    extra = tmp_path / "mypacks"
    extra.mkdir()
    src = Path(__file__).resolve().parents[1] / "obligations" / "packs" / "school-template.toml"
    (extra / "school-template.toml").write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    cfg.write_text(CONFIG + f'\n[packs]\nenabled = []\nextra_dirs = ["{extra}"]\n', encoding="utf-8")
    invoke("--config", cfg, "init")
    rows = json.loads(invoke("--config", cfg, "packs", "list", "--format", "json").stdout)
    assert [(r["pack"], r["origin"]) for r in rows if r["enabled"]] == [("school-template", str(extra))]
    table = invoke("--config", cfg, "packs", "list").stdout
    assert f"扩展目录 {extra}" in table


def test_an_empty_organisation_is_not_an_all_clear(cfg):
    assert invoke("--config", cfg, "init", "--packs", "school-template").exit_code == 0
    for cmd in ("overdue", "upcoming"):
        result = invoke("--config", cfg, cmd, "--as-of", "2026-06-20")
        assert result.exit_code == 0
        assert "还没有任何单位" in result.stderr and "ccal org import" in result.stderr


def test_init_again_on_the_demo_keeps_its_packs_and_says_nothing_false(cfg):
    # audit7: `ccal init` (the upgrade step) on a database that tracks packs printed
    # "未启用任何规则包" although every other command keeps the packs the database tracks.
    assert invoke("--config", cfg, "init", "--demo", "--now", "2026-03-16 10:00").exit_code == 0
    again = invoke("--config", cfg, "init")
    assert again.exit_code == 0 and "未启用任何规则包" not in again.output, again.output
    rows = json.loads(invoke("--config", cfg, "packs", "list", "--format", "json").stdout)
    assert all(r["enabled"] for r in rows)
