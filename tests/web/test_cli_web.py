"""The web's commands: ccal user add, ccal link show/rotate, ccal init --demo's access lines,
ccal serve running the daemon and the web in one process."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from cli import main

ROOT = Path(__file__).resolve().parents[2]


def invoke(cfg, *args, input=None, env=None):
    return CliRunner().invoke(main, ["--config", str(cfg), *args], input=input,
                              env={"CCAL_WEB_SECRET": "cli-test-secret-0123456789", **(env or {})})


def test_user_add_reads_the_password_from_stdin_and_refuses_a_short_one(reminder_config):
    cfg = reminder_config("spring")
    r = invoke(cfg, "user", "add", "li", "--role", "viewer", "--password-stdin", input="short\n")
    assert r.exit_code == 1 and "密码至少 8 个字符" in r.output
    r = invoke(cfg, "user", "add", "li", "--role", "viewer", "--password-stdin", input="long enough pw\n")
    assert r.exit_code == 0 and "已创建工作人员账号 li（只读）" in r.output
    r = invoke(cfg, "user", "add", "li", "--role", "propaganda", "--password-stdin", input="long enough pw\n")
    assert r.exit_code == 1 and "已存在" in r.output


def test_link_rotate_revokes_the_link_at_once(reminder_config):
    cfg = reminder_config("spring")
    shown = invoke(cfg, "link", "show", "xu@example.edu.cn")
    assert shown.exit_code == 0, shown.output
    old = re.search(r"http://\S+/l/\S+", shown.output).group(0)
    assert invoke(cfg, "link", "show", "许芳").output.endswith(old + "\n")   # the same link while in force
    r = invoke(cfg, "link", "rotate", "许芳")
    assert r.exit_code == 0 and "已停用 许芳 的 1 个链接" in r.output
    new = re.search(r"http://\S+/l/\S+", r.output).group(0)
    assert new != old
    assert invoke(cfg, "link", "rotate", "无此人").output.startswith("错误：未知人员")


def test_init_demo_prints_a_staff_login_and_a_secretary_link(tmp_path):
    cfg = tmp_path / "ccal.toml"
    cfg.write_text('[general]\ndata_dir = "data"\n[database]\nurl = "sqlite:///ccal.db"\n', encoding="utf-8")
    r = invoke(cfg, "init", "--demo", "--now", "2026-07-01 10:00")
    assert r.exit_code == 0, r.output
    assert re.search(r"网页工作人员登录：http://127.0.0.1:8080/login 用户名 xcb 密码 \S{12,}", r.output)
    assert re.search(r"书记个人链接（吕刚，建筑工程系党支部）：http://127.0.0.1:8080/l/[A-Za-z0-9_-]{43}", r.output)


def test_serve_runs_the_daemon_and_the_web_in_one_process(reminder_config, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cfg = reminder_config("spring", extra=f'[web]\nlisten = "127.0.0.1:{port}"\n')
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "cli", "--config", str(cfg), "serve", "--now", "2026-03-11 09:05"],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "CCAL_WEB_SECRET": "x" * 32})
    try:
        # the web answers, and once the daemon's catch-up pass has finished, /healthz is 200
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                if r.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "the web never reported a finished pass"
            time.sleep(0.1)
        assert r.json()["database"] == "ok" and r.json()["last_pass"].startswith("2026-03-11T09:0")
        # the daemon's catch-up pass ran in the same process: reminders were written
        deadline = time.monotonic() + 60
        while not list((tmp_path / "data" / "outbox").glob("*.eml")):
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
    assert proc.returncode == 0, (tmp_path / "serve.log").read_text()


def test_web_runs_only_the_web_server(reminder_config, tmp_path):
    """`ccal web` (several web processes behind nginx): pages answer, but no planning pass runs
    and nothing is sent, so /healthz stays 503 (stale) until a daemon or tick has planned."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cfg = reminder_config("spring")
    log = open(tmp_path / "web.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "cli", "--config", str(cfg), "web",
                             "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "CCAL_WEB_SECRET": "x" * 32})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, (tmp_path / "web.log").read_text()
                assert time.monotonic() < deadline, "ccal web never answered"
                time.sleep(0.1)
        assert r.status_code == 503 and r.json()["status"] == "stale" and r.json()["last_pass"] is None
        assert "<h1>工作人员登录</h1>" in httpx.get(f"http://127.0.0.1:{port}/login", timeout=5).text
        assert not (tmp_path / "data" / "outbox").exists() or not any((tmp_path / "data" / "outbox").iterdir())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
    # uvicorn shuts down gracefully, then re-raises SIGTERM (systemd counts that as a clean stop)
    assert proc.returncode in (0, -signal.SIGTERM), (tmp_path / "web.log").read_text()
    assert "Finished server process" in (tmp_path / "web.log").read_text()
