"""Who holds what: process identity, owner liveness and lease rows.

A claim on outbox rows and a lease row record their owner as ``host/pid/process start``. On
the same host an owner whose process is gone (or whose pid now belongs to another process,
told apart by its start time) is dead at once; an owner on another host is trusted until its
lease expires. Lease times are UTC real time (``utc_now``), never the service clock: ``tick
--now`` and ``serve --now`` move the service clock, not the processes' lives.

Leases (``service_lease`` rows):

- ``plan``: planning and materialising run in one process at a time (several daemons on
  PostgreSQL, or a daemon and an operator's tick); a pass that does not get it skips those
  steps and still sends. A killed holder is taken over within one lease period, at once
  when it was on this host.
- ``serve``: on SQLite one daemon per database file; a second ``ccal serve`` refuses to start
  and names the running one.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from scheduler.models import ServiceLease
from scheduler.redelivery import insert_ignore_rows

_lease = ServiceLease.__table__
PLAN = "plan"
SERVE = "serve"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def process_start(pid: int) -> str:
    """The start time of process ``pid`` in clock ticks since boot (Linux /proc), "" if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""


@lru_cache(maxsize=4)
def _identity(pid: int) -> str:
    return f"{socket.gethostname()}/{pid}/{process_start(pid)}"


def this_process() -> str:
    """This process as an owner: ``host/pid/start`` (recomputed after a fork)."""
    return _identity(os.getpid())


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    start: str

    @classmethod
    def parse(cls, text: str | None) -> "Owner | None":
        if not text:
            return None
        parts = text.split("/")
        if len(parts) < 3 or not parts[-2].isdigit():
            return None
        return cls("/".join(parts[:-2]), int(parts[-2]), parts[-1])

    def describe(self) -> str:
        return f"主机 {self.host}，进程号 {self.pid}"


def alive(owner_text: str | None) -> bool | None:
    """Is the owner process running? True/False on this host; None for another host (or an
    owner that cannot be read): only its lease tells."""
    owner = Owner.parse(owner_text)
    if owner is None or owner.host != socket.gethostname():
        return None
    if owner_text == this_process():
        return True
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    start = process_start(owner.pid)
    return not (owner.start and start and start != owner.start)


@dataclass(frozen=True)
class Holder:
    owner: str
    expires_at: dt.datetime

    def describe(self) -> str:
        owner = Owner.parse(self.owner)
        return owner.describe() if owner else self.owner


def acquire(engine: Engine, name: str, period: dt.timedelta, *, owner: str | None = None,
            now: dt.datetime | None = None) -> Holder | None:
    """Take or renew the lease ``name`` for ``period``. Returns None when this process holds it
    now, else the live holder. Taken over when its owner died on this host, or when the lease
    of an owner on another host expired."""
    owner = owner or this_process()
    now = now or utc_now()
    until = now + period
    with engine.connect() as conn:
        insert_ignore_rows(conn, _lease, {"name": name, "owner": owner, "expires_at": until,
                                      "acquired_at": now})
        row = conn.execute(select(_lease.c.owner, _lease.c.expires_at)
                           .where(_lease.c.name == name)).one()
        # On this host liveness decides (a live holder busy in a long pass keeps its lease even
        # past expiry; a dead one loses it at once); another host's holder, its expiry.
        state = alive(row.owner)
        if row.owner == owner or state is False or (state is None and row.expires_at < now):
            taken = conn.execute(update(_lease).where(_lease.c.name == name,
                                                      _lease.c.owner == row.owner)
                                 .values(owner=owner, expires_at=until,
                                         acquired_at=now if row.owner != owner else _lease.c.acquired_at))
            conn.commit()
            if taken.rowcount == 1:
                return None
            row = conn.execute(select(_lease.c.owner, _lease.c.expires_at)
                               .where(_lease.c.name == name)).one()
        conn.commit()
        return Holder(row.owner, row.expires_at)


def release(engine: Engine, name: str, *, owner: str | None = None) -> None:
    owner = owner or this_process()
    with engine.connect() as conn:
        conn.execute(delete(_lease).where(_lease.c.name == name, _lease.c.owner == owner))
        conn.commit()
