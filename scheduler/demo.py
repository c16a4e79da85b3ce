"""The demo college: a fictional vocational college (丹河职业技术学院) to try ccal on.

18 units: the Party committee, four branches, three of them made of offices (机关第一党支部
holds 党政办公室, 组织部 and 宣传部 (XCB)), eight offices and five teaching-department branches;
fictional people with example.edu.cn addresses (`demo/org.csv`, `load_demo`).

`load_history` gives it a past (`demo/history.toml`): for every occurrence due in the previous
or the current year that opened before `now`, reports on time, late or missing, a couple of
waivers, partly held "at least N" studies, the quarterly joint meetings that date the
departmental reports and a couple of lectures (one approved in time, one applied for after it
was held). Diligent units, steady ones and two laggards, so that the status, the reminders
and the scorecard ranking look like a real year. Everything is derived from a hash of unit +
obligation + period and recorded through `scheduler.submissions` and `scheduler.lectures`;
only what happened before `now` is recorded. Loading the organisation or the history twice
changes nothing (a later `now` adds what happened since).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import tomllib
from collections import Counter
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from importlib.resources import as_file, files
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from obligations.packs import Obligation
from obligations.workdays import WorkdayCalendar
from scheduler import lectures
from scheduler.materialise import materialise, period_year
from scheduler.models import Event, Lecture, LectureVersion, Occurrence, Submission, Unit, Waiver
from scheduler.org import ImportResult, import_org
from scheduler.submissions import record_event, submit, waive

if TYPE_CHECKING:
    from scheduler.app import App

DEMO_ORG = "org.csv"
DEMO_HISTORY = "history.toml"


def load_demo(session: Session, now: dt.datetime | None = None) -> ImportResult:
    """Import the demo college into the session (flushed, not committed)."""
    with as_file(files("scheduler").joinpath("demo", DEMO_ORG)) as path:
        return import_org(session, path, now=now)


def demo_unit_codes() -> list[str]:
    """Codes of the demo college's units, in file order."""
    text = files("scheduler").joinpath("demo", DEMO_ORG).read_text(encoding="utf-8")
    return [line.split(",", 1)[0] for line in text.splitlines()[1:] if line.strip()]


# --------------------------------------------------------------------------- history data

class DemoDataError(ValueError):
    """The bundled history file is wrong; names the file and the field."""

    def __init__(self, file: str, field_name: str, message: str):
        self.file, self.field, self.message = file, field_name, message
        super().__init__(f"{file}: field {field_name}: {message}")


@dataclass(frozen=True)
class Profile:
    late: float
    missing: float
    count_share: float
    evidence: float


@dataclass(frozen=True)
class WaiverSpec:
    unit: str
    key: str
    period: str            # with {last} / {this}
    reason: str
    days_before: int

    def label(self, year: int) -> str:
        return self.period.format(last=year - 1, this=year)


@dataclass(frozen=True)
class LectureSpec:
    unit: str
    title: str
    speaker: str
    place: str
    starts: str            # "{this}-05-20 15:00"
    sensitive: tuple[str, ...]
    filed: int             # days from the lecture's day
    decided: int
    note: str

    def starts_at(self, year: int) -> dt.datetime:
        return dt.datetime.fromisoformat(self.starts.format(last=year - 1, this=year))


@dataclass(frozen=True)
class MeetingSpec:
    key: str
    month_of_quarter: int
    day: tuple[int, int]
    title: str
    note: str


@dataclass(frozen=True)
class HistoryData:
    """`demo/history.toml`, checked."""
    recorded_by: str
    profiles: dict[str, Profile]
    units: dict[str, str]              # unit code -> profile name
    default_profile: str
    early_days: tuple[int, int]
    late_days: tuple[int, int]
    hours: tuple[int, ...]
    on_time_notes: tuple[str, ...]
    late_notes: tuple[str, ...]
    counted_note: str
    nothing_note: str
    meeting: MeetingSpec
    waivers: tuple[WaiverSpec, ...]
    lectures: tuple[LectureSpec, ...] = ()

    def profile(self, unit: str) -> Profile:
        return self.profiles[self.units.get(unit, self.default_profile)]


def read_history(path: Path, label: str | None = None) -> HistoryData:
    """Read and check a history file (the format of `demo/history.toml`)."""
    label = label or str(path)
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise DemoDataError(label, "(syntax)", str(e)) from None
    r = _Reader(raw, label)
    profiles = {name: Profile(r.share(f"profiles.{name}.late"), r.share(f"profiles.{name}.missing"),
                              r.share(f"profiles.{name}.count_share"), r.share(f"profiles.{name}.evidence"))
                for name in r.table("profiles")}
    for name, p in profiles.items():
        if p.late + p.missing > 1:
            raise DemoDataError(label, f"profiles.{name}", "late + missing is more than 1")
    units = {code: r.text(f"units.{code}") for code in r.table("units")}
    default = units.pop("default", None)
    if default is None:
        raise DemoDataError(label, "units.default", "missing")
    for code, name in {**units, "default": default}.items():
        if name not in profiles:
            raise DemoDataError(label, f"units.{code}", f"unknown profile {name!r} (profiles: {', '.join(profiles)})")
    waivers = []
    for i, _ in enumerate(raw.get("waiver", [])):
        f = f"waiver[{i}]"
        waivers.append(WaiverSpec(r.text(f"{f}.unit"), r.text(f"{f}.key"), r.text(f"{f}.period"),
                                  r.text(f"{f}.reason"), r.count(f"{f}.days_before")))
    lecture_specs = []
    for i, _ in enumerate(raw.get("lecture", [])):
        f = f"lecture[{i}]"
        spec = LectureSpec(r.text(f"{f}.unit"), r.text(f"{f}.title"), r.text(f"{f}.speaker"),
                           r.text(f"{f}.place"), r.text(f"{f}.starts"),
                           tuple(r.text(f"{f}.sensitive[{j}]") for j in range(len(r.get(f"{f}.sensitive", list)))),
                           r.days(f"{f}.filed"), r.days(f"{f}.decided"), r.text(f"{f}.note"))
        try:
            spec.starts_at(2000)
        except (ValueError, KeyError, IndexError):
            raise r.fail(f"{f}.starts", f"expected 'YYYY-MM-DD HH:MM' with {{last}} or {{this}} for the year, "
                                        f"got {spec.starts!r}") from None
        lecture_specs.append(spec)
    return HistoryData(
        recorded_by=r.text("recorded_by"), profiles=profiles, units=units, default_profile=default,
        early_days=r.span("timing.early_days"), late_days=r.span("timing.late_days"),
        hours=tuple(r.hour(f"timing.hours[{i}]") for i, _ in enumerate(r.get("timing.hours", list))),
        on_time_notes=r.texts("notes.on_time"), late_notes=r.texts("notes.late"),
        counted_note=r.text("notes.counted"), nothing_note=r.text("notes.nothing"),
        meeting=MeetingSpec(r.text("meeting.key"), r.month_of_quarter("meeting.month_of_quarter"),
                            r.span("meeting.day", 1, 28), r.text("meeting.title"), r.text("meeting.note")),
        waivers=tuple(waivers), lectures=tuple(lecture_specs))


class _Reader:
    """Typed access to a parsed TOML document by dotted field ("waiver[0].unit")."""

    def __init__(self, raw: dict, label: str):
        self.raw, self.label = raw, label

    def fail(self, field_name: str, message: str) -> DemoDataError:
        return DemoDataError(self.label, field_name, message)

    def get(self, field_name: str, kind: type) -> Any:
        value: Any = self.raw
        for part in field_name.replace("[", ".[").split("."):
            if part.startswith("["):
                index = int(part[1:-1])
                value = value[index] if isinstance(value, list) and index < len(value) else None
            else:
                value = value.get(part) if isinstance(value, dict) else None
            if value is None:
                raise self.fail(field_name, "missing")
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            name = "number" if isinstance(kind, tuple) else kind.__name__
            raise self.fail(field_name, f"expected {name}, got {value!r}")
        return value

    def table(self, field_name: str) -> dict:
        return self.get(field_name, dict)

    def text(self, field_name: str) -> str:
        value = self.get(field_name, str)
        if not value.strip():
            raise self.fail(field_name, "empty")
        return value

    def texts(self, field_name: str) -> tuple[str, ...]:
        items = self.get(field_name, list)
        if not items:
            raise self.fail(field_name, "empty list")
        return tuple(self.text(f"{field_name}[{i}]") for i in range(len(items)))

    def share(self, field_name: str) -> float:
        value = self.get(field_name, (int, float))
        if not 0 <= value <= 1:
            raise self.fail(field_name, f"expected a share between 0 and 1, got {value!r}")
        return float(value)

    def count(self, field_name: str, low: int = 0, high: int = 366) -> int:
        value = self.get(field_name, int)
        if not low <= value <= high:
            raise self.fail(field_name, f"expected {low}..{high}, got {value}")
        return value

    def days(self, field_name: str) -> int:
        return self.count(field_name, -366, 366)

    def hour(self, field_name: str) -> int:
        return self.count(field_name, 0, 23)

    def month_of_quarter(self, field_name: str) -> int:
        return self.count(field_name, 1, 3)

    def span(self, field_name: str, low: int = 0, high: int = 366) -> tuple[int, int]:
        items = self.get(field_name, list)
        if len(items) != 2:
            raise self.fail(field_name, f"expected [low, high], got {items!r}")
        a, b = (self.count(f"{field_name}[{i}]", low, high) for i in range(2))
        if a > b:
            raise self.fail(field_name, f"low {a} is above high {b}")
        return a, b


def demo_history() -> HistoryData:
    with as_file(files("scheduler").joinpath("demo", DEMO_HISTORY)) as path:
        return read_history(path, f"scheduler/demo/{DEMO_HISTORY}")


# --------------------------------------------------------------------------- the plan (pure)

def fraction(*parts: object) -> float:
    """A stable number in [0, 1) for `parts` (the same on every machine and every run)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _pick(seq: Sequence, *parts: object):
    return seq[int(fraction(*parts) * len(seq))]


def _between(span: tuple[int, int], *parts: object) -> int:
    low, high = span
    return low + int(fraction(*parts) * (high - low + 1))


@dataclass(frozen=True)
class Planned:
    """One record the demo unit makes for an occurrence."""
    at: dt.datetime
    note: str
    material: tuple[str, ...] = ()       # evidence names attached as files


def _workday_on_or_before(cal: WorkdayCalendar, d: dt.date) -> dt.date:
    return d if cal.is_workday(d) else cal.add_workdays(d, -1)


def _in_window(cal: WorkdayCalendar, d: dt.date, opens: dt.date, due: dt.date) -> dt.date:
    """A working day near `d` inside [opens, due] (the due date itself if the window has none)."""
    d = _workday_on_or_before(cal, min(max(d, opens), due))
    if d < opens:
        d = cal.next_workday(opens)
    return d if d <= due else due


def _at(data: HistoryData, day: dt.date, *parts: object) -> dt.datetime:
    """Working hours on `day`: an hour of `timing.hours`, minutes in fives."""
    hour = _pick(data.hours, *parts, "hour")
    return dt.datetime.combine(day, dt.time(hour, 5 * int(fraction(*parts, "minute") * 12)))


def plan_occurrence(data: HistoryData, cal: WorkdayCalendar, ob: Obligation, unit: str,
                    period: str, opens: dt.date, due: dt.date, required: int) -> list[Planned]:
    """What `unit` did for one occurrence, in time order (nothing: it never reported)."""
    profile = data.profile(unit)
    ident = (unit, ob.key, period)
    material = ob.evidence[0] if ob.evidence else None
    # One file, the supporting material (the last named; the record itself is the submission),
    # where the scorecard reads it: each file costs a synced copy into the evidence store.
    attach = ob.evidence[-1:] if ob.scorecard and fraction(*ident, "evidence") < profile.evidence else ()
    if required > 1:
        # "At least N": each record held with probability count_share, spread over the period.
        span = (due - opens).days
        days = []
        for i in range(required):
            if fraction(*ident, "held", i) >= profile.count_share:
                continue
            jitter = (fraction(*ident, "jitter", i) - 0.5) * span / (2 * required)
            days.append((i, _in_window(cal, opens + dt.timedelta(days=round(span * (i + 0.5) / required + jitter)),
                                       opens, due)))
        return [Planned(_at(data, d, *ident, i),
                        data.counted_note.format(n=n, material=material) if material else data.nothing_note,
                        attach)
                for n, (i, d) in enumerate(days, start=1)]
    fate = fraction(*ident, "fate")
    if fate < profile.missing:
        return []
    if fate < profile.missing + profile.late:
        day = cal.next_workday(due + dt.timedelta(days=_between(data.late_days, *ident, "late")))
        notes = data.late_notes
    else:
        day = _in_window(cal, due - dt.timedelta(days=_between(data.early_days, *ident, "early")), opens, due)
        notes = data.on_time_notes
    note = _pick(notes, *ident, "note").format(material=material) if material else data.nothing_note
    return [Planned(_at(data, day, *ident), note, attach)]


def meeting_day(data: HistoryData, cal: WorkdayCalendar, year: int, quarter: int) -> dt.date:
    """The joint meeting of a quarter: the first working day from a day of its middle month."""
    month = 3 * (quarter - 1) + data.meeting.month_of_quarter
    day = _between(data.meeting.day, "meeting", year, quarter)
    return cal.next_workday(dt.date(year, month, day))


# --------------------------------------------------------------------------- recording

@dataclass(frozen=True)
class DemoHistory:
    """What one `load_history` added."""
    submissions: int = 0
    late: int = 0
    waivers: int = 0
    meetings: int = 0
    lectures: int = 0

    @property
    def changed(self) -> bool:
        return any((self.submissions, self.waivers, self.meetings, self.lectures))

    def summary(self) -> str:
        return (f"提交记录：新增 {self.submissions}（其中逾期 {self.late}）；豁免：新增 {self.waivers}；"
                f"联席会议：新增 {self.meetings}；讲座：新增 {self.lectures}")


class _Clock:
    """The time the demo's records are made at: each one when it happened."""

    def __init__(self, now: dt.datetime):
        self.time = now

    def __call__(self) -> dt.datetime:
        return self.time


def _in_session(app: "App", session: Session, clock: _Clock) -> "App":
    """The app, lent `session` and `clock`. The submissions API opens one committing session per
    call and stamps rows with the app's clock; the demo records about a thousand rows, so they go
    into one transaction (rolled back whole on error), each stamped when it happened."""
    bound = copy.copy(app)
    bound.session = lambda: nullcontext(session)          # type: ignore[method-assign]
    bound.now = clock                                     # type: ignore[method-assign]
    return bound


@dataclass
class _Recorded:
    """What the database already holds for the demo units' occurrences."""
    demo_rows: Counter = field(default_factory=Counter)       # occurrence id -> demo submissions
    others: set[int] = field(default_factory=set)             # occurrences a clerk worked on
    waived: set[int] = field(default_factory=set)             # occurrences with any waiver row

    @classmethod
    def read(cls, session: Session, recorded_by: str) -> "_Recorded":
        seen = cls()
        for oid, by in session.exec(select(Submission.occurrence_id, Submission.recorded_by)).all():
            if by == recorded_by:
                seen.demo_rows[oid] += 1
            else:
                seen.others.add(oid)
        seen.waived = set(session.exec(select(Waiver.occurrence_id)).all())
        return seen


class _Material:
    """Small example files standing for the evidence an obligation names (one per name; the
    evidence store keeps identical content once)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.paths: dict[str, Path] = {}

    def __call__(self, names: Sequence[str]) -> list[Path]:
        return [self.path(n) for n in names]

    def path(self, name: str) -> Path:
        if name not in self.paths:
            safe = "".join("_" if c in '/\\:*?"<>|' else c for c in name)
            p = self.directory / f"{safe}.txt"
            p.write_text(f"{name}（示例材料）\n本文件由 ccal init --demo 生成，仅用于演示。\n", encoding="utf-8")
            self.paths[name] = p
        return self.paths[name]


def load_history(app: "App", now: dt.datetime, *, session: Session | None = None,
                 data: HistoryData | None = None) -> DemoHistory:
    """Record the demo college's history up to `now` (naive local time): the occurrences due in
    the previous or the current year, the meetings and lectures of those years. Needs the demo
    units (`load_demo`). Runs in `session` if given (the caller commits), else in its own
    committed session. Idempotent."""
    if now.tzinfo is not None:
        now = now.astimezone(app.config.general.tz).replace(tzinfo=None)
    if session is None:
        with app.session() as s:
            return load_history(app, now, session=s, data=data)
    data = data or demo_history()
    clock = _Clock(now)
    bound = _in_session(app, session, clock)
    # Held for the whole load: the session's identity map keeps only referenced objects, and
    # every submit() looks its unit up.
    present = {u.code: u for u in session.exec(select(Unit)).all()}
    units = [u for u in demo_unit_codes() if u in present]
    years = [now.year - 1, now.year]
    first_due = dt.date(now.year - 1, 1, 1)
    # Last year's record includes what fell due in it from the year before (the autumn semester).
    materialise(bound, [now.year - 2], session=session, due_from=first_due)
    materialise(bound, years, session=session)
    with TemporaryDirectory(prefix="ccal-demo-") as tmp:
        material = _Material(Path(tmp))
        meetings, meeting_rows = _hold_meetings(bound, session, clock, data, years, now, units, material)
        waivers = _give_waivers(bound, session, clock, data, now, units)
        rows, late = _report(bound, session, clock, data, first_due, now, units, material)
    held = _hold_lectures(bound, session, clock, data, now, units)
    return DemoHistory(rows + meeting_rows, late, waivers, meetings, held)


def _hold_meetings(app: "App", session: Session, clock: _Clock, data: HistoryData, years: Sequence[int],
                   now: dt.datetime, units: Sequence[str], material: _Material) -> tuple[int, int]:
    """The quarterly joint meetings held before `now`: an event (it dates the reports anchored
    on it) and the meeting's own record. Returns (events added, submissions added)."""
    spec, host = data.meeting, app.propaganda_unit
    ob = app.obligations.get(spec.key)
    if ob is None or host not in units:
        return 0, 0
    held = set(session.exec(select(Event.label).where(
        Event.obligation_key == spec.key, Event.unit_code == host)).all())
    recorded = _Recorded.read(session, data.recorded_by)
    events = rows = 0
    for year in years:
        for quarter in range(1, 5):
            label = f"{year}-Q{quarter}"
            day = meeting_day(data, app.calendar, year, quarter)
            starts = dt.datetime.combine(day, dt.time(14, 30))
            if starts >= now:
                continue
            if label not in held:
                clock.time = starts
                record_event(app, spec.key, host, day, period=label,
                             title=spec.title.format(year=year, quarter="一二三四"[quarter - 1]))
                events += 1
            occ = _occurrence(session, host, spec.key, label)
            minutes = dt.datetime.combine(day, dt.time(17, 0))
            if (occ is None or minutes >= now or occ.id in recorded.others or occ.id in recorded.waived
                    or recorded.demo_rows[occ.id]):
                continue
            clock.time = minutes
            names = ob.evidence[-1:] if fraction(host, spec.key, label, "evidence") < data.profile(host).evidence else ()
            submit(app, spec.key, host, label, at=minutes, evidence=material(names),
                   note=spec.note.format(material=ob.evidence[-1] if ob.evidence else "会议记录"),
                   recorded_by=data.recorded_by)
            rows += 1
    clock.time = now
    return events, rows


def _give_waivers(app: "App", session: Session, clock: _Clock, data: HistoryData, now: dt.datetime,
                  units: Sequence[str]) -> int:
    recorded = _Recorded.read(session, data.recorded_by)
    added = 0
    for spec in data.waivers:
        if spec.unit not in units or spec.key not in app.obligations:
            continue
        occ = _occurrence(session, spec.unit, spec.key, spec.label(now.year))
        if occ is None or occ.id in recorded.waived or occ.id in recorded.others or recorded.demo_rows[occ.id]:
            continue
        at = dt.datetime.combine(occ.due - dt.timedelta(days=spec.days_before), dt.time(10, 0))
        if at >= now:
            continue
        clock.time = at
        waive(app, spec.key, spec.unit, occ.period, spec.reason, recorded_by=data.recorded_by)
        added += 1
    clock.time = now
    return added


def _report(app: "App", session: Session, clock: _Clock, data: HistoryData, first_due: dt.date,
            now: dt.datetime, units: Sequence[str], material: _Material) -> tuple[int, int]:
    """Every other calendar occurrence due from `first_due` and opened before `now`: its planned
    records made before `now`. Returns (submissions added, of which late)."""
    excused = {(w.unit, w.key, w.label(now.year)) for w in data.waivers}
    recorded = _Recorded.read(session, data.recorded_by)
    occurrences = session.exec(
        select(Occurrence.id, Occurrence.unit_code, Occurrence.obligation_key, Occurrence.period,
               Occurrence.opens, Occurrence.due, Occurrence.required)
        .where(col(Occurrence.unit_code).in_(list(units)), col(Occurrence.event_id).is_(None),
               Occurrence.due >= first_due, Occurrence.opens <= now.date(),
               Occurrence.obligation_key != data.meeting.key)
        .order_by(Occurrence.unit_code, Occurrence.obligation_key, Occurrence.period)).all()
    rows = late = 0
    for oid, unit, key, period, opens, due, required in occurrences:
        ob = app.obligations.get(key)
        if (ob is None or period_year(period) is None or (unit, key, period) in excused
                or oid in recorded.others or oid in recorded.waived):
            continue
        plan = plan_occurrence(data, app.calendar, ob, unit, period, opens, due, required)
        for p in plan[recorded.demo_rows[oid]:]:
            if p.at >= now:
                break
            clock.time = min(p.at + dt.timedelta(minutes=20), now)    # the clerk records it soon after
            rec = submit(app, key, unit, period, at=p.at, evidence=material(p.material), note=p.note,
                         recorded_by=data.recorded_by)
            rows += 1
            late += rec.submission.late
    clock.time = now
    return rows, late


def _hold_lectures(app: "App", session: Session, clock: _Clock, data: HistoryData, now: dt.datetime,
                   units: Sequence[str]) -> int:
    """The lectures of `data` wholly before `now` (registered and applied for, approved, held),
    through scheduler.lectures, which also posts the violations as findings. Returns how many."""
    done = set(session.exec(
        select(Lecture.unit_code, LectureVersion.title)
        .join(LectureVersion, col(LectureVersion.lecture_id) == col(Lecture.id))
        .where(Lecture.recorded_by == data.recorded_by)).all())
    cal = app.calendar
    added = 0
    for spec in data.lectures:
        if spec.unit not in units or (spec.unit, spec.title) in done:
            continue
        starts = spec.starts_at(now.year)

        def on_workday(days: int, at: dt.time) -> dt.datetime:
            day = starts.date() + dt.timedelta(days=days)
            day = _workday_on_or_before(cal, day) if days < 0 else cal.next_workday(day)
            return dt.datetime.combine(day, at)

        filed, decided = on_workday(spec.filed, dt.time(10, 0)), on_workday(spec.decided, dt.time(16, 0))
        ended = starts + dt.timedelta(hours=2)
        if max(filed, decided, ended) >= now:
            continue
        clock.time = filed
        record = lectures.register(app, spec.unit, title=spec.title, starts=starts, time_known=True,
                                   speaker=spec.speaker, place=spec.place, categories=spec.sensitive,
                                   filed_at=filed, note=spec.note, recorded_by=data.recorded_by)
        # Only a lecture that needs approval is decided on (with the lecture packs disabled it is
        # only reported).
        steps = [(decided, "decide")] if record["obligation"] else []
        for at, step in sorted([*steps, (ended, "held")]):
            clock.time = at
            if step == "decide":
                lectures.decide(app, record["id"], True, at=at, note="同意举办", recorded_by=data.recorded_by)
            else:
                lectures.held(app, record["id"], at=starts, recorded_by=data.recorded_by)
        added += 1
    clock.time = now
    return added


def _occurrence(session: Session, unit: str, key: str, period: str) -> Occurrence | None:
    return session.exec(select(Occurrence).where(
        Occurrence.unit_code == unit, Occurrence.obligation_key == key, Occurrence.period == period)).first()
