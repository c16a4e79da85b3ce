"""Several daemons, one PostgreSQL database (issue 8 item 6): two `ccal serve` processes share
the outbox (claims with FOR UPDATE SKIP LOCKED, owners and leases: the faults work); one is
killed with kill -9 while 2,000 messages go to a loopback SMTP server. Every message arrives, at
most `concurrency` of them twice (the ones on the killed process's connections), and a message
sent twice carries the same Message-ID both times (clients can drop the copy)."""

import signal
import time
from collections import Counter, defaultdict

import pytest
from sqlmodel import Session, select

from scheduler.app import open_app
from scheduler.models import Outbox
from tests.fakes.smtp import serving
from tests.scheduler.test_crash import SlowRecorder, batch_config, plan_batch, serve, wait_for

MESSAGES = 2000
CONCURRENCY = 2


class IdRecorder(SlowRecorder):
    def __init__(self):
        super().__init__()
        self.ids = defaultdict(set)

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes, policy
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self.lock:
            self.ids[msg["X-Ccal-Key"]].add(msg["Message-ID"])
        return await super().handle_DATA(server, session, envelope)


def test_two_daemons_one_killed_every_message_arrives_duplicates_bounded(reminder_config, tmp_path, db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("several daemons share a PostgreSQL database; SQLite allows one (test_faults)")
    recorder = IdRecorder()
    with serving(recorder) as port:
        cfg = batch_config(reminder_config, port, MESSAGES, concurrency=CONCURRENCY,
                           extra='[service]\ndispatch_every_seconds = 5\nbatch_size = 100\n')
        plan_batch(cfg, recorder, MESSAGES)

        logs = [open(tmp_path / f"serve{i}.log", "wb") for i in (1, 2)]
        daemons = [serve(cfg, log) for log in logs]
        try:
            wait_for(lambda: recorder.count() >= MESSAGES // 4, daemons[0], logs[0], 120, "the batch to start")
            daemons[0].send_signal(signal.SIGKILL)
            daemons[0].wait(10)
            assert recorder.count() < MESSAGES, "everything was sent before the kill: no crash tested"
            wait_for(lambda: len(set(recorder.keys)) >= MESSAGES, daemons[1], logs[1], 180, "every message")
            time.sleep(0.5)           # anything sent twice would arrive now
        finally:
            for d in daemons:
                if d.poll() is None:
                    d.send_signal(signal.SIGTERM)
            codes = [d.wait(30) for d in daemons]
            for log in logs:
                log.close()
        assert codes[1] == 0, (tmp_path / "serve2.log").read_text()

    received = Counter(recorder.keys)
    assert len(received) == MESSAGES                                   # none missing
    assert sum(n - 1 for n in received.values()) <= CONCURRENCY        # one kill: its connections
    assert all(len(recorder.ids[k]) == 1 for k in received)            # a copy has the same Message-ID
    app = open_app(cfg)
    with Session(app.engine) as s:
        assert {r.status for r in s.exec(select(Outbox)).all()} == {"sent"}
    app.engine.dispose()
