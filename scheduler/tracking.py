"""Which years ccal tracks, and materialising them.

A *tracked* occurrence is one the reminder service may remind (`Occurrence.tracked`). The
tracked span as of a day is set by `[service] track_years` (default 1): the current year and
the `track_years - 1` years before it in full, plus the open tail of the year before those
(its periods due in the span, e.g. last autumn's semester due in January), and in December
next year (its January deadlines get their first notices). Only the daemon (its daily job, and
a pass that finds a tracked year not yet materialised under the enabled packs), `ccal org
import`, `ccal materialise` and `ccal init` materialise; `tracked_year` records each year
materialised for every unit with the packs' fingerprint.

Looking is free: queries never write. A year that is not recorded (or was recorded under other
packs) is completed on the fly by `virtual_slots` (its rows computed, not stored). A
submission for a period whose year is not recorded creates that one occurrence, untracked: a
late record for 2025 never turns on reminders for 2025.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlmodel import Session, select

from scheduler.materialise import MaterialiseCounts, materialise
from scheduler.models import TrackedYear

if TYPE_CHECKING:
    from scheduler.app import App

DEFAULT_TRACK_YEARS = 1


@dataclass(frozen=True)
class TrackedSpan:
    years: tuple[int, ...]     # materialised in full
    tail: int                  # the year before: only its rows due on or after `due_from`
    due_from: date


def track_years(app: "App") -> int:
    value = (app.config.service or {}).get("track_years", DEFAULT_TRACK_YEARS)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 20:
        raise app.config.error("service.track_years", f"应为 1 到 20 之间的整数，实际为 {value!r}")
    return value


def tracked_span(today: date, years: int = DEFAULT_TRACK_YEARS) -> TrackedSpan:
    first = today.year - (years - 1)
    full = tuple(range(first, today.year + 1)) + ((today.year + 1,) if today.month == 12 else ())
    return TrackedSpan(full, first - 1, date(first, 1, 1))


def packs_fingerprint(app: "App") -> str:
    """Changes when the enabled packs (or their files) change."""
    cached = app.__dict__.get("_packs_fingerprint")
    if cached is None:
        h = hashlib.sha256()
        for pack in sorted(app.packs, key=lambda p: p.name):
            h.update(pack.name.encode())
            try:
                h.update(pack.path.read_bytes())
            except OSError:
                pass
        cached = app.__dict__["_packs_fingerprint"] = h.hexdigest()
    return cached


def recorded_years(app: "App", session: Session) -> set[int]:
    """Years materialised for every unit under the enabled packs."""
    fp = packs_fingerprint(app)
    return set(session.exec(select(TrackedYear.year).where(TrackedYear.fingerprint == fp)).all())


def record_years(app: "App", session: Session, years: Iterable[int], now: datetime) -> None:
    fp = packs_fingerprint(app)
    for year in set(years):
        row = session.get(TrackedYear, year)
        if row is None:
            session.add(TrackedYear(year=year, fingerprint=fp, materialised_at=now))
        else:
            row.fingerprint, row.materialised_at = fp, now
            session.add(row)
    session.flush()


def track(app: "App", today: date, *, force: bool = False, session: Session | None = None,
          units: Sequence[str] | None = None) -> MaterialiseCounts:
    """Materialise the tracked span as of `today` (tracked rows). Without `force` it does
    nothing when every year of the span is already recorded under the enabled packs (a pass
    that changes nothing costs one SELECT). `units`: only these (after an org import)."""
    if session is None:
        with app.session() as s:
            return track(app, today, force=force, session=s, units=units)
    span = tracked_span(today, track_years(app))
    if not force and units is None and set(span.years) <= recorded_years(app, session):
        return MaterialiseCounts()
    counts = materialise(app, span.years, units, session=session)
    counts += materialise(app, [span.tail], units, session=session, due_from=span.due_from)
    if units is None:
        record_years(app, session, span.years, app.now())
    return counts


def materialise_years(app: "App", years: Iterable[int], units: Sequence[str] | None = None,
                      session: Session | None = None) -> MaterialiseCounts:
    """`ccal materialise YEARS`: the operator says these years are tracked."""
    if session is None:
        with app.session() as s:
            return materialise_years(app, years, units, s)
    years = sorted(set(years))
    counts = materialise(app, years, units, session=session)
    if units is None:
        record_years(app, session, years, app.now())
    return counts


def unrecorded(app: "App", session: Session, years: Iterable[int]) -> list[int]:
    done = recorded_years(app, session)
    return [y for y in sorted(set(years)) if y not in done]
