"""Fault trials (issue 10), as an operator runs into them: the real `ccal` command line, a real
SQLite file, the loopback SMTP server (aiosmtpd) and the loopback WeCom imitation.

    python bench/faults.py [--units 302] [--trials 3]

Prints one line per trial kind with what was measured; docs/service.md ("Faults") lists the
figures. Every scenario builds a fresh database in a temporary directory: one secretary per
branch, one obligation (`rpack.spring` of the test suite) whose notice goes out on
2026-03-11.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402

from tests.conftest import REMINDER_OBLIGATIONS  # noqa: E402
from tests.fakes.smtp import FakeSMTP, HeaderRecorder  # noqa: E402
from tests.fakes.wecom import FakeWeCom  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def college(d: Path, units: int, notify: str, service: str = "") -> Path:
    (d / "packs").mkdir(parents=True)
    (d / "packs" / "rpack.toml").write_text(
        'name = "rpack"\ntitle = "t"\nsource = "t.txt"\n' + REMINDER_OBLIGATIONS["spring"], encoding="utf-8")
    org = ("code,name,kind,parent,secretary,email,wecom_userid\n"
           "DW,测试学院党委,党委,,王建国,wang@example.edu.cn,wang\n"
           + "".join(f"B{i:03d},第{i}党支部,党支部,DW,书记{i},s{i:03d}@example.edu.cn,u{i:03d}\n"
                     for i in range(1, units + 1)))
    (d / "org.csv").write_text(org, encoding="utf-8")
    cfg = d / "ccal.toml"
    cfg.write_text('[general]\ndata_dir = "data"\n[database]\nurl = "sqlite:///ccal.db"\n'
                   '[packs]\nenabled = []\nextra_dirs = ["packs"]\n' + notify
                   + ("[service]\n" + service if service else ""), encoding="utf-8")
    run(cfg, "org", "import", str(d / "org.csv"))
    return cfg


def email(port, extra=""):
    return (f'[notify.email]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
            f'from_addr = "ccal@example.edu.cn"\n{extra}')


def ccal(cfg, *args, env=None):
    return subprocess.Popen([sys.executable, "-m", "cli", "--config", str(cfg), *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def run(cfg, *args, env=None):
    p = ccal(cfg, *args, env=env)
    out = p.communicate(timeout=600)[0].decode()
    return p.returncode, out


def statuses(cfg):
    import sqlite3
    db = sqlite3.connect(cfg.parent / "ccal.db")
    try:
        return dict(db.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())
    finally:
        db.close()


def two_ticks(units, trials):
    ok = dups = 0
    for _ in range(trials):
        with tempfile.TemporaryDirectory() as t, FakeSMTP() as smtp:
            cfg = college(Path(t), units, email(smtp.port))
            ps = [ccal(cfg, "tick", "--now", "2026-03-11 10:00") for _ in range(2)]
            outs = [p.communicate(timeout=600)[0].decode() for p in ps]
            ok += all(p.returncode == 0 and "Traceback" not in o for p, o in zip(ps, outs))
            got = Counter(m.message["X-Ccal-Key"] for m in smtp.messages)
            dups += sum(n - 1 for n in got.values())
    print(f"two ticks at once, fresh database, {units} units: {ok}/{trials} trials both exit 0 "
          f"without a traceback; duplicates {dups}")


def tick_beside_serve(units, trials):
    ok = dups = 0
    for _ in range(trials):
        with tempfile.TemporaryDirectory() as t, FakeSMTP() as smtp:
            cfg = college(Path(t), units, email(smtp.port))
            daemon = ccal(cfg, "serve", "--no-web", "--now", "2026-03-11 10:00")
            time.sleep(2)
            code, out = run(cfg, "tick", "--now", "2026-03-11 10:00")
            time.sleep(3)
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(30)
            ok += code == 0 and "Traceback" not in out
            got = Counter(m.message["X-Ccal-Key"] for m in smtp.messages)
            dups += sum(n - 1 for n in got.values())
    print(f"tick 2 s after serve, {units} units: {ok}/{trials} ticks exit 0; duplicates {dups}")


def kill_then_tick(units, trials, concurrency=4):
    stuck, dups, lost, ambiguous = [], 0, 0, []
    for _ in range(trials):
        rec, port = HeaderRecorder("X-Ccal-Key"), free_port()
        server = Controller(rec, hostname="127.0.0.1", port=port, ready_timeout=5)
        server.start()
        try:
            with tempfile.TemporaryDirectory() as t:
                cfg = college(Path(t), units, email(port, f"concurrency = {concurrency}\n"))
                run(cfg, "tick", "--now", "2026-03-11 08:00")
                d = ccal(cfg, "serve", "--no-web", "--now", "2026-03-11 09:05")
                while len(rec.keys) < units // 3:
                    time.sleep(0.01)
                d.send_signal(signal.SIGKILL)
                d.wait(10)
                before = statuses(cfg).get("sending", 0)
                code, out = run(cfg, "tick", "--now", "2026-03-11 09:06")
                stuck.append((before, statuses(cfg).get("sending", 0)))
                ambiguous.append(int(out.split("其中 ")[1].split(" 条")[0]) if "其中 " in out else 0)
                time.sleep(0.3)
        finally:
            server.stop()
        got = Counter(rec.keys)
        lost += units - len(got)
        dups = max(dups, sum(n - 1 for n in got.values()))
    print(f"kill -9 mid-batch then a tick at once, {units} units, concurrency {concurrency}: "
          f"rows sending before/after the tick {stuck}; counted ambiguous {ambiguous}; "
          f"lost {lost}; most duplicates in a trial {dups}")


def bad_login(units):
    with tempfile.TemporaryDirectory() as t, FakeSMTP(users={"ccal": "right"}) as smtp:
        cfg = college(Path(t), units, email(smtp.port, 'username = "ccal"\n'),
                      'operator_email = "ops@example.edu.cn"\n')
        bad = {"CCAL_SMTP_PASSWORD": "wrong"}
        started = time.monotonic()
        for when in ("10:00", "10:02", "10:05", "10:09", "10:20"):
            run(cfg, "tick", "--now", f"2026-03-11 {when}", env=bad)
        after = statuses(cfg)
        logins = smtp.connections
        elapsed = time.monotonic() - started
        run(cfg, "tick", "--now", "2026-03-11 11:30", env={"CCAL_SMTP_PASSWORD": "right"})
        got = Counter(m.message["X-Ccal-Key"] for m in smtp.messages)
        digests = sum(1 for k in got if k.startswith("digest:"))
        notices = sum(1 for k in got if k.startswith("notice:"))
        final = statuses(cfg)
    print(f"SMTP 535, {units} rows, 5 passes: {after} after them ({logins} connections, "
          f"{elapsed:.1f} s); after the fix one pass: delivered {digests}/{units}, {final}, "
          f"operator notices {notices}")


def silent(units, timeout=2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(512)
    try:
        with tempfile.TemporaryDirectory() as t:
            cfg = college(Path(t), units, email(s.getsockname()[1], f"timeout = {timeout}\n"))
            run(cfg, "tick", "--now", "2026-03-11 08:00")
            started = time.monotonic()
            code, out = run(cfg, "tick", "--now", "2026-03-11 10:00")
            elapsed = time.monotonic() - started
            st = statuses(cfg)
            started = time.monotonic()
            run(cfg, "tick", "--now", "2026-03-11 10:00")   # the channel is paused: sends nothing
            idle = time.monotonic() - started
    finally:
        s.close()
    print(f"silent SMTP server, {units} messages, timeout = {timeout}: one tick {elapsed:.1f} s "
          f"(a tick that sends nothing: {idle:.1f} s), exit {code}, {st}")


def robot_45009(units=13):
    with tempfile.TemporaryDirectory() as t, FakeWeCom() as fake:
        for _ in range(3):
            fake.script("/cgi-bin/webhook/send", {"errcode": 45009, "errmsg": "api freq out of limit"})
        cfg = college(Path(t), units, f'[notify.wecom_robot]\nbase_url = "{fake.base_url}"\n'
                                      'trust_env = false\n')
        env = {"CCAL_WECOM_ROBOT_KEY": "robot-key-0123456789"}
        run(cfg, "tick", "--now", "2026-03-11 08:00", env=env)
        started = time.monotonic()
        run(cfg, "tick", "--now", "2026-03-11 10:00", env=env)
        elapsed = time.monotonic() - started
        calls = len(fake.calls("/cgi-bin/webhook/send"))
    print(f"robot 45009, {units} messages: one tick {elapsed:.1f} s (start-up included), "
          f"{calls} webhook call(s), then the channel waits 60 s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=302)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--only", help="one of: ticks, serve, kill, login, silent, robot")
    a = ap.parse_args()
    trials = {"ticks": lambda: two_ticks(a.units, a.trials),
              "serve": lambda: tick_beside_serve(a.units, a.trials),
              "kill": lambda: kill_then_tick(a.units, a.trials),
              "login": lambda: bad_login(a.units), "silent": lambda: silent(a.units),
              "robot": robot_45009}
    for name, trial in trials.items():
        if a.only in (None, name):
            trial()


if __name__ == "__main__":
    main()
