"""Dispatch benchmark: 10,000 reminders through the outbox dispatcher and the email channel to a
loopback aiosmtpd server, against a baseline measured in the same run.

    python bench/dispatch.py [--messages 10000] [--baseline-messages 1000] [--concurrency 8]
                             [--batch-size 200] [--latency-ms 20]

- The server is aiosmtpd in its own process (so it does not share the interpreter lock with
  the client being measured), the same process for both runs; its handler accepts everything
  without parsing it and counts what it received. ``--latency-ms`` makes it wait that long
  before answering each DATA, as a real server that writes its queue file to disk (or sits
  across a network) does. The default, 20 ms, is a realistic campus mail server: a real server
  takes tens of milliseconds per message. 0 measures pure CPU on loopback.
- Baseline: the standard library's ``smtplib``, one connection per message, sequential, sending
  the first ``--baseline-messages`` rows of the same outbox, each built by the same
  ``notifiers.email.build_message`` as the dispatcher uses (so the comparison is about
  dispatch, not about MIME code).
- Dispatcher: ``scheduler.dispatcher.Dispatcher`` with ``notifiers.email.EmailChannel``
  (``--concurrency`` connections) sending every planned row of a SQLite outbox, claiming
  ``--batch-size`` rows at a time and committing each result as it goes (the crash-safe path
  the service uses; 200 is the service's default batch).

Both rates, the configuration and the CPU time each side spent per message (Linux: read from
/proc) are printed; the last line is ``speedup: N.Nx`` (dispatcher rate / baseline rate).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from notifiers.base import Recipient  # noqa: E402
from notifiers.email import EmailChannel, build_message, message_bytes  # noqa: E402
from notifiers.rendering import Digest, DigestItem, group_by_unit, make_environment, render_digest  # noqa: E402
from scheduler import outbox  # noqa: E402
from scheduler.db import make_engine, upgrade  # noqa: E402
from scheduler.dispatcher import Dispatcher  # noqa: E402
from scheduler.models import Outbox, Person  # noqa: E402

NOW = datetime(2026, 3, 16, 9, 0)
NOW_AWARE = NOW.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
FROM = "ccal@example.edu.cn"

SERVER = """
import asyncio, signal, sys, time
from aiosmtpd.controller import Controller
latency = float(sys.argv[2]) / 1000
class Counter:
    received = 0
    async def handle_DATA(self, server, session, envelope):
        if latency:
            await asyncio.sleep(latency)
        Counter.received += 1
        return "250 2.0.0 OK"
controller = Controller(Counter(), hostname="127.0.0.1", port=int(sys.argv[1]),
                        server_hostname="bench.example.edu.cn")
controller.start()
print("ready", flush=True)
signal.signal(signal.SIGTERM, lambda *_: (controller.stop(), print(Counter.received, flush=True),
                                          sys.exit(0)))
while True:
    time.sleep(1)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, latency_ms: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(latency_ms)],
                            stdout=subprocess.PIPE, text=True)
    if proc.stdout.readline().strip() != "ready":
        raise SystemExit("the SMTP server did not start")
    return proc


def stop_server(proc: subprocess.Popen) -> int:
    proc.terminate()
    out, _ = proc.communicate(timeout=30)
    return int(out.split()[-1])


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class Measured:
    """Wall time, and CPU time of this process and of the server, over a block."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid

    def __enter__(self) -> "Measured":
        self.server0 = cpu_seconds(self.server_pid)
        self.client0 = time.process_time()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.start
        self.client = time.process_time() - self.client0
        after = cpu_seconds(self.server_pid)
        self.server = None if after is None or self.server0 is None else after - self.server0

    def per_message(self, n: int) -> str:
        server = "?" if self.server is None else f"{self.server / n * 1000:.2f}"
        return f"CPU per message: client {self.client / n * 1000:.2f} ms, server {server} ms"


def sample_digest() -> tuple[str, str, str, str]:
    """A realistic reminder: one secretary, two units, three items."""
    items = [("第一党支部", DigestItem("jincheng-2020.1.2", "向党委宣传部书面汇报意识形态工作（半年）",
                                       "2026-H1", date(2026, 6, 15), note="需报送：书面汇报材料")),
             ("第一党支部", DigestItem("jincheng-2020.3.1", "支部集体学习（每年至少6次）", "2026",
                                       date(2026, 12, 31), done=2, required=6)),
             ("第三党支部", DigestItem("jincheng-2020.1.3", "分析研判意识形态领域情况（每半年）",
                                       "2026-H1", date(2026, 6, 30)))]
    d = render_digest(Digest("许芳同志", date(2026, 6, 10), group_by_unit(items)), make_environment())
    return d.subject, d.text, d.html, d.markdown


def fill_outbox(engine, n: int) -> None:
    subject, text, html, markdown = sample_digest()
    with Session(engine) as s:
        s.execute(insert(Person), [{"key": f"s{i:05d}@example.edu.cn", "name": f"书记{i}",
                                    "email": f"s{i:05d}@example.edu.cn", "created_at": NOW}
                                   for i in range(n)])
        ids = s.exec(select(Person.id).order_by(Person.id)).all()
        s.execute(insert(Outbox), [{
            "topic": "digest:2026-03-16", "stage": "digest", "channel": "email", "person_id": pid,
            "address": outbox.address_json(Recipient(f"书记{i}", email=f"s{i:05d}@example.edu.cn")),
            "title": subject, "body_text": text, "body_html": html, "body_markdown": markdown,
            "status": "planned", "attempts": 0, "send_at": NOW, "next_attempt_at": NOW,
            "created_at": NOW, "updated_at": NOW} for i, pid in enumerate(ids)])
        s.commit()


def baseline(engine, port: int, n: int, server_pid: int) -> tuple[float, Measured]:
    """Messages per second: smtplib, one connection per message, sequential."""
    with Session(engine) as s:
        rows = s.exec(select(Outbox).order_by(Outbox.id).limit(n)).all()
    messages = [outbox.to_message(r) for r in rows]
    with Measured(server_pid) as m:
        for msg in messages:
            data = message_bytes(build_message(msg, from_addr=FROM, from_name="党委宣传部",
                                               recipients=msg.recipients, date=NOW_AWARE))
            with smtplib.SMTP("127.0.0.1", port) as smtp:
                smtp.sendmail(FROM, [r.email for r in msg.recipients], data)
    return len(messages) / m.wall, m


def dispatcher(engine, port: int, concurrency: int, batch_size: int,
               server_pid: int) -> tuple[float, int, Measured]:
    """Messages per second through the dispatcher and the email channel; how many were sent."""
    channel = EmailChannel(host="127.0.0.1", port=port, security="none", from_addr=FROM,
                           concurrency=concurrency, clock=lambda: NOW_AWARE)

    async def run():
        d = Dispatcher(engine, {"email": channel}, clock=lambda: NOW, batch_size=batch_size)
        try:
            return await d.dispatch()
        finally:
            await d.aclose()

    with Measured(server_pid) as m:
        report = asyncio.run(run())
    return report.sent / m.wall, report.sent, m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--baseline-messages", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=200)
    # A real mail server takes tens of milliseconds per message (docs/service.md, Benchmark).
    ap.add_argument("--latency-ms", type=float, default=20.0)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        fill_outbox(engine, args.messages)
        port = free_port()
        server = start_server(port, args.latency_ms)
        try:
            base, base_cpu = baseline(engine, port, args.baseline_messages, server.pid)
            rate, sent, cpu = dispatcher(engine, port, args.concurrency, args.batch_size,
                                         server.pid)
        finally:
            received = stop_server(server)
        engine.dispose()
    expected = args.baseline_messages + args.messages
    print(f"server: aiosmtpd on loopback (own process), {args.latency_ms:g} ms per DATA reply; "
          f"received {received} of {expected} messages; {os.cpu_count()} CPUs")
    print(f"baseline (smtplib, a connection per message, sequential): {base:8.0f} msg/s "
          f"({args.baseline_messages} messages; {base_cpu.per_message(args.baseline_messages)})")
    print(f"dispatcher (EmailChannel, {args.concurrency} connections, batches of "
          f"{args.batch_size}, SQLite outbox, a commit per result): {rate:8.0f} msg/s "
          f"({sent} messages; {cpu.per_message(max(sent, 1))})")
    if sent != args.messages or received != expected:
        raise SystemExit("not every message was delivered")
    print(f"speedup: {rate / base:.1f}x")


if __name__ == "__main__":
    main()
