"""A college for the CLI tests: the config they write, `run` (the CLI through click's CliRunner,
the developer's environment left out), and a fresh copy of a prepared college per test.

The module-scoped `demo_college` fixture (tests/conftest.py) prepares the demo college once per
test module; `copy_college` gives each test its own SQLite copy of it."""

import sqlite3
from pathlib import Path

from click.testing import CliRunner

CONFIG = '[general]\ndata_dir = "data"\n\n[database]\nurl = "sqlite:///ccal.db"\n'
# The demo history up to the start of 2026 (never today's date): 2026 has nothing recorded yet.
DEMO_NOW = "2026-01-01 08:00"


def run(config, *args, env=None):
    from cli import main

    return CliRunner().invoke(main, ["--config", str(config), *map(str, args)],
                              env={"CCAL_CONFIG": None, "CCAL_DATABASE_URL": None, **(env or {})},
                              catch_exceptions=False)


def prepare_demo(directory: Path) -> Path:
    """`ccal init --demo` in `directory` with CONFIG; returns the directory."""
    (directory / "ccal.toml").write_text(CONFIG, encoding="utf-8")
    result = run(directory / "ccal.toml", "init", "--demo", "--now", DEMO_NOW)
    assert result.exit_code == 0, result.output + result.stderr
    return directory


def copy_college(prepared: Path, tmp_path: Path, config: str = CONFIG) -> Path:
    """A copy of the prepared college's database in tmp_path with its own config; returns the
    config's path."""
    with sqlite3.connect(prepared / "ccal.db") as src, sqlite3.connect(tmp_path / "ccal.db") as dst:
        src.backup(dst)
    (tmp_path / "ccal.toml").write_text(config, encoding="utf-8")
    return tmp_path / "ccal.toml"
