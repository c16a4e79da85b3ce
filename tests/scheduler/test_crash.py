"""kill -9 in the middle of a batch: a real `ccal serve` process, a real SMTP server on loopback.

300 secretaries each have a reminder due at 09:00. The daemon is started (its clock set to
09:05 with `serve --now`), SIGKILLed once the SMTP server has received a good part of the batch,
and started again. Counting what the server received: every message arrived, and at most one
arrived twice. The email channel runs with `concurrency = 1`: one connection, so at most one
message is on the wire when the process dies (with N connections the bound would be N).
"""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from click.testing import CliRunner
from sqlmodel import Session, select

from cli import main
from scheduler.app import open_app
from scheduler.models import Outbox
from tests.fakes.smtp import HeaderRecorder, serving

ROOT = Path(__file__).resolve().parents[2]
UNITS = 300
HEADER = ("code,name,kind,parent,secretary,email\n"
          "DW,测试学院党委,党委,,王建国,wang@example.edu.cn\n")


class SlowRecorder(HeaderRecorder):
    """Accepts everything, a few milliseconds per message (a server writing its queue file),
    and records the outbox key of each message received."""

    def __init__(self):
        super().__init__("X-Ccal-Key", delay=0.004)


def batch_config(reminder_config, port, units, concurrency, extra=""):
    """A college of `units` branches, one secretary each, mailed through the loopback SMTP
    server on `port` by an email channel of `concurrency` connections."""
    width = len(str(units))
    org = HEADER + "".join(f"B{i:0{width}d},第{i}党支部,党支部,DW,书记{i},s{i:0{width}d}@example.edu.cn\n"
                           for i in range(1, units + 1))
    return reminder_config("spring", org=org, extra=(
        f'[notify.email]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        f'from_addr = "ccal@example.edu.cn"\nconcurrency = {concurrency}\n' + extra))


def plan_batch(cfg, recorder, units):
    """08:00: everything is planned for the 09:00 window, nothing sent yet."""
    result = CliRunner().invoke(main, ["--config", str(cfg), "tick", "--now", "2026-03-11 08:00"])
    assert result.exit_code == 0, result.output
    assert f"新消息 {units} 条" in result.output and recorder.count() == 0


def wait_for(predicate, process, log, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if process.poll() is not None:
            raise AssertionError(f"ccal serve exited ({process.returncode}) before {what}:\n"
                                 + Path(log.name).read_text())
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def serve(cfg, log):
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "--config", str(cfg), "serve", "--no-web", "--now", "2026-03-11 09:05"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_kill_9_during_a_batch_loses_nothing_and_repeats_at_most_one(reminder_config, tmp_path):
    recorder = SlowRecorder()
    with serving(recorder) as port:
        cfg = batch_config(reminder_config, port, UNITS, concurrency=1)
        plan_batch(cfg, recorder, UNITS)

        with open(tmp_path / "serve1.log", "wb") as log:
            first = serve(cfg, log)
            try:
                wait_for(lambda: recorder.count() >= UNITS // 3, first, log, 60,
                         "the batch to start")
            finally:
                first.send_signal(signal.SIGKILL)
                first.wait(10)
        killed_at = recorder.count()
        assert killed_at < UNITS, "the daemon finished before it was killed: no crash tested"

        with open(tmp_path / "serve2.log", "wb") as log:
            second = serve(cfg, log)
            try:
                wait_for(lambda: len(set(recorder.keys)) >= UNITS, second, log, 60,
                         "every message")
                time.sleep(0.2)   # anything sent twice would arrive now
            finally:
                second.send_signal(signal.SIGTERM)
                code = second.wait(20)
        assert code == 0, (tmp_path / "serve2.log").read_text()
        log2 = (tmp_path / "serve2.log").read_text()
        assert "will be sent again" in log2 and "ccal service stopped" in log2

    received = Counter(recorder.keys)
    assert len(received) == UNITS                                      # none missing
    assert sum(n - 1 for n in received.values()) <= 1                 # at most one twice
    with Session(open_app(cfg).engine) as s:
        assert {r.status for r in s.exec(select(Outbox)).all()} == {"sent"}
