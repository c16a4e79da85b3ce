"""The reminder service's heartbeat: when its last planning pass finished and how long it took.
Written after every pass (`Service.plan`, so `ccal tick` and the daemon's plan job); read by
/healthz and /metrics. One row, overwritten: it is the state of the process, not a record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from scheduler.models import ServicePass

if TYPE_CHECKING:
    from scheduler.app import App


@dataclass(frozen=True)
class LastPass:
    finished_at: datetime
    clock: datetime
    duration_ms: int


def record_pass(app: "App", clock: datetime, duration_s: float) -> None:
    finished = app.now()
    with app.session() as session:
        row = session.get(ServicePass, 1) or ServicePass(id=1, finished_at=finished, clock=clock)
        row.finished_at, row.clock, row.duration_ms = finished, clock, int(duration_s * 1000)
        session.add(row)


def last_pass(session) -> LastPass | None:
    row = session.get(ServicePass, 1)
    return LastPass(row.finished_at, row.clock, row.duration_ms) if row else None
