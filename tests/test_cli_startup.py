"""`ccal --help`, `--version` and shell completion start fast: they load no database or network
library (issue 8 item 1). Every command's own help still works."""

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import cli
from cli import COMMANDS, SECTIONS, main

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "pydantic", "httpx", "aiosmtplib", "jinja2", "openpyxl",
         "icalendar", "apscheduler")

# Runs ccal's entry point in a fresh interpreter, then prints the heavy modules it loaded.
PROBE = """
import sys
sys.argv = ["ccal", *sys.argv[1:]]
import cli
try:
    cli.main()
except SystemExit:
    pass
heavy = %r
print("LOADED:" + ",".join(sorted({m.split(".")[0] for m in sys.modules} & set(heavy))))
""" % (HEAVY,)


def probe(*args, **env):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("CCAL_", "_CCAL"))}
    full.update(env)
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=ROOT,
                          env=full, timeout=60)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.rstrip().splitlines()[-1]
    assert last.startswith("LOADED:")
    return proc.stdout, last[len("LOADED:"):]


def test_help_loads_no_database_or_network_library():
    out, loaded = probe("--help")
    assert loaded == ""
    assert "overdue" in out and "日常工作" in out


def test_help_loads_no_command_module_and_no_renderer():
    # The root help reads the COMMANDS table: no command module, and not scheduler.tables
    # (csv, json and the rest), only the format names (scheduler.formats).
    proc = subprocess.run([sys.executable, "-c", "import sys; sys.argv = ['ccal', '--help']; import cli\n"
                           "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
                           "print('MODULES:' + ','.join(sorted(m for m in sys.modules if m.startswith('scheduler'))))"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={k: v for k, v in os.environ.items() if not k.startswith("CCAL_")})
    assert proc.returncode == 0, proc.stderr
    modules = proc.stdout.rstrip().splitlines()[-1].removeprefix("MODULES:").split(",")
    assert "scheduler.tables" not in modules
    assert [m for m in modules if m.startswith("scheduler.commands.")] == ["scheduler.commands.i18n"]


def test_version_loads_no_database_or_network_library():
    out, loaded = probe("--version")
    assert loaded == "" and "ccal" in out


def test_shell_completion_loads_no_database_or_network_library():
    out, loaded = probe(_CCAL_COMPLETE="bash_complete", COMP_WORDS="ccal ov", COMP_CWORD="1")
    assert loaded == ""
    assert "overdue" in out


def test_the_installed_script_help_imports_nothing_heavy():
    script = Path(sys.executable).parent / "ccal"
    if not script.exists():
        pytest.skip("no ccal script next to this interpreter")
    proc = subprocess.run([sys.executable, "-X", "importtime", str(script), "--help"], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert imported and not (imported & set(HEAVY))


def test_root_help_groups_commands_by_section_from_the_table():
    out = CliRunner().invoke(main, ["--help"]).output
    positions = [out.index(s + ":") for s in SECTIONS]
    assert positions == sorted(positions)
    for name, entry in COMMANDS.items():
        assert f"  {name} " in out and entry.help in out


def walk(group: click.Group, ctx: click.Context, path: list[str]):
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None, (path, name)
        yield [*path, name], cmd
        if isinstance(cmd, click.Group):
            yield from walk(cmd, click.Context(cmd, info_name=name, parent=ctx), [*path, name])


def test_every_registered_command_resolves_and_its_help_works():
    ctx = click.Context(main, info_name="ccal")
    paths = list(walk(main, ctx, []))
    assert len(paths) > len(COMMANDS)
    for path, cmd in paths:
        result = CliRunner().invoke(main, [*path, "--help"], env={"CCAL_CONFIG": None})
        assert result.exit_code == 0, (path, result.output)
        assert " ".join(path) in result.output
        # One language: click's own strings are Chinese too.
        assert "用法：" in result.output and "显示本帮助后退出" in result.output
        assert "Usage:" not in result.output and "Show this message" not in result.output
        assert "[OPTIONS]" not in result.output and "[选项]" in result.output


def test_the_table_names_each_commands_registered_name():
    for name, entry in COMMANDS.items():
        assert main.get_command(click.Context(main), name).name == name


def test_python_m_cli_runs_the_same_registry():
    proc = subprocess.run([sys.executable, "-m", "cli", "workdays", "count", "2026-10-08", "2026-10-16"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={k: v for k, v in os.environ.items() if not k.startswith("CCAL_")})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "8"
    assert cli.__name__ == "cli"


def test_click_errors_are_in_chinese():
    result = CliRunner().invoke(main, ["status"], env={"CCAL_CONFIG": None})
    assert result.exit_code == 2
    assert "缺少参数 'CODE'" in result.stderr and "用法：" in result.stderr and "Missing" not in result.stderr
    typo = CliRunner().invoke(main, ["ovrdue"], env={"CCAL_CONFIG": None})
    assert "没有命令 'ovrdue'" in typo.stderr


def test_root_help_is_chinese_only():
    out = CliRunner().invoke(main, ["--help"]).output
    assert "Compliance calendar" not in out and "config file" not in out


def test_a_command_without_the_database_loads_no_database_library(tmp_path):
    # Each command imports only what it uses: working-day arithmetic needs packs and the
    # calendar, not SQLAlchemy (issue 8 item 1).
    cfg = tmp_path / "ccal.toml"
    cfg.write_text('[database]\nurl = "sqlite:///ccal.db"\n[packs]\nenabled = ["school-template"]\n', encoding="utf-8")
    out, loaded = probe("--config", str(cfg), "workdays", "count", "2026-10-08", "2026-10-16")
    assert out.splitlines()[0] == "8"
    assert loaded == ""


def test_path_errors_are_chinese_without_clicks_english_type_word(tmp_path):
    # audit7: "错误：'DIRECTORY' 的值无效：Directory 'x.toml' 是文件。" mixed in click's English
    # type name (kept English on purpose as a metavar, so it is left out of these messages).
    (tmp_path / "x.toml").write_text("", encoding="utf-8")
    is_file = CliRunner().invoke(main, ["packs", "check", str(tmp_path / "x.toml")], env={"CCAL_CONFIG": None})
    assert is_file.exit_code == 2 and "是文件" in is_file.stderr and "Directory" not in is_file.stderr
