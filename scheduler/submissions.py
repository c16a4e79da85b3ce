"""Record what units did: submissions (with evidence), waivers and events.

Nothing is deleted or edited. The design:
- a submission is a dated row on an occurrence; `late` is fixed when it is recorded
  (its date is after the occurrence's due date);
- a correction is a new submission with `corrects_id` = the row it replaces
  (`ccal submit ... --corrects ID`); the replaced row stops counting;
- a withdrawal is a new row with `withdrawn = True` and `corrects_id` = the withdrawn row
  (`ccal submission withdraw ID --reason ...`); neither row counts;
- only the latest row of a chain can be corrected or withdrawn (no forks);
- a waiver is a row on an occurrence; revoking it is a new waiver row with `revokes_id`;
- a submission the propaganda department returned (退回, a `submission_review` row, see
  scheduler/reviews.py) stops counting: the occurrence is open or overdue again until a new
  submission arrives. On time versus late is read from the submissions that count, so the one
  finally accepted (or still pending) decides it, not the returned one.
`counting_submissions` and `waived_occurrences` are the one place that reads these rules.

Events: for `event` obligations (a lecture to be approved) an event creates the occurrence
`E<event id>`; for an anchor obligation (e.g. `jincheng-2020.meeting`) it records the meeting
date of a period, which moves the due dates of the obligations anchored on it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Select, and_, or_, update
from sqlmodel import Session, col, select

from obligations.packs import unit_kind_name
from obligations.schedules import periods_in_year
from scheduler.app import UserInputError
from scheduler.evidence import protected_files, store_evidence
from scheduler.materialise import (
    MaterialiseCounts, anchor_keys, applies_to_unit, event_label, generated_by_calendar, materialise,
    materialise_event, move_dependents, period_year,
)
from scheduler.models import Event, Evidence, Occurrence, Submission, SubmissionReview, Waiver, local_now
from scheduler.tracking import recorded_years

if TYPE_CHECKING:
    from scheduler.app import App


# --------------------------------------------------------------------------- reading the rules

def superseded_submission_ids(session: Session, occurrence_ids=None) -> set[int]:
    """Submissions that do not count although not withdrawn themselves: replaced by a
    correction, or returned by the propaganda department (退回). Of `occurrence_ids` when
    given (ids or a SELECT of ids; a correction lives on the occurrence of the row it replaces)."""
    q = select(Submission.corrects_id).where(col(Submission.corrects_id).is_not(None))
    if occurrence_ids is not None:
        q = q.where(col(Submission.occurrence_id).in_(_ids(occurrence_ids)))
    return set(session.exec(q).all()) | returned_submission_ids(session, occurrence_ids)


def returned_submission_ids(session: Session, occurrence_ids=None) -> set[int]:
    """Submissions the propaganda department returned (scheduler/reviews.py)."""
    q = select(SubmissionReview.submission_id).where(SubmissionReview.decision == "returned")
    if occurrence_ids is not None:
        q = q.join(Submission, col(Submission.id) == col(SubmissionReview.submission_id)).where(
            col(Submission.occurrence_id).in_(_ids(occurrence_ids)))
    return set(session.exec(q).all())


def _ids(occurrence_ids):
    # A SELECT of ids stays a subquery (no huge IN lists); anything else is a collection.
    return occurrence_ids if isinstance(occurrence_ids, Select) else list(occurrence_ids)


def counting_submissions(session: Session, occurrence_ids=None) -> dict[int, list[datetime]]:
    """occurrence id -> dates of the submissions that count (not withdrawn, not replaced).
    `occurrence_ids`: ids, a SELECT of ids, or None for all."""
    superseded = superseded_submission_ids(session, occurrence_ids)
    q = select(Submission.id, Submission.occurrence_id, Submission.submitted_at).where(
        Submission.withdrawn == False)  # noqa: E712  (SQL expression)
    if occurrence_ids is not None:
        q = q.where(col(Submission.occurrence_id).in_(_ids(occurrence_ids)))
    result: dict[int, list[datetime]] = defaultdict(list)
    for sid, oid, at in session.exec(q).all():
        if sid not in superseded:
            result[oid].append(at)
    return result


def active_waivers(session: Session, occurrence_ids=None) -> dict[int, Waiver]:
    """occurrence id -> its waiver in force (not revoked)."""
    rq = select(Waiver.revokes_id).where(col(Waiver.revokes_id).is_not(None))
    q = select(Waiver).where(col(Waiver.revokes_id).is_(None))
    if occurrence_ids is not None:
        rq = rq.where(col(Waiver.occurrence_id).in_(_ids(occurrence_ids)))
        q = q.where(col(Waiver.occurrence_id).in_(_ids(occurrence_ids)))
    revoked = set(session.exec(rq).all())
    return {w.occurrence_id: w for w in session.exec(q).all() if w.id not in revoked}


def waived_occurrences(session: Session, occurrence_ids=None) -> set[int]:
    return set(active_waivers(session, occurrence_ids))


def open_on(as_of: date):
    """SQL condition: the occurrence is not done or waived as of `as_of` (open now, or
    completed only after that day). Uses the state columns `refresh_occurrences` keeps."""
    return or_(col(Occurrence.is_open) == True,  # noqa: E712
               and_(col(Occurrence.waived) == False,  # noqa: E712
                    col(Occurrence.completed_at) >= datetime.combine(as_of + timedelta(days=1), time.min)))


def open_on_halves(session: Session, as_of: date) -> list[list]:
    """`open_on(as_of)` as separate conditions whose rows together are the same set: open now,
    and (only when such rows exist: a question about a past day) completed after `as_of`, not
    waived. Each is a range of one index ((is_open, due), completed_at); as one OR the database
    reads every row of the other columns' range."""
    later = datetime.combine(as_of + timedelta(days=1), time.min)
    halves = [[col(Occurrence.is_open) == True]]  # noqa: E712
    if session.execute(select(Occurrence.id).where(col(Occurrence.completed_at) >= later).limit(1)).first():
        halves.append([col(Occurrence.waived) == False, col(Occurrence.completed_at) >= later])  # noqa: E712
    return halves


def refresh_occurrences(session: Session, occurrence_ids: Iterable[int], now: datetime | None = None) -> int:
    """Bring the state columns of these occurrences (`done`, `completed_at`, `waived`,
    `is_open`) in line with their submissions and waivers. Every write path calls it in its
    own transaction (submit, withdraw, correct, waive, revoke; the web's return), so queries
    and the planner can ask "open?" in SQL. Returns how many rows changed; their
    `state_changed_at` is set to `now` (the score watermark reads it)."""
    ids = sorted(set(occurrence_ids))
    if not ids:
        return 0
    session.flush()
    changed = 0
    for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
        subs = counting_submissions(session, chunk)
        waived = waived_occurrences(session, chunk)
        rows = session.exec(select(Occurrence.id, Occurrence.required, Occurrence.done,
                                   Occurrence.completed_at, Occurrence.waived)
                            .where(col(Occurrence.id).in_(chunk))).all()
        updates = []
        for oid, required, done, completed_at, was_waived in rows:
            times = sorted(subs.get(oid, ()))
            completed = times[required - 1] if len(times) >= required else None
            w = oid in waived
            if (len(times), completed, w) != (done, completed_at, bool(was_waived)):
                updates.append({"id": oid, "done": len(times), "completed_at": completed, "waived": w,
                                "is_open": completed is None and not w,
                                "state_changed_at": now or local_now()})
        if updates:
            session.execute(update(Occurrence), updates)
            changed += len(updates)
    if changed:   # ORM objects loaded before see the new state
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Occurrence) and obj.id in ids:
                session.refresh(obj)
    return changed


# --------------------------------------------------------------------------- finding an occurrence

def find_occurrence(app: "App", session: Session, key: str, unit_code: str, period: str) -> Occurrence:
    """The occurrence of `key` for `unit_code` in `period`, materialised first if needed.
    Raises UserInputError saying which of key, unit or period is wrong."""
    ob = app.obligation(key)
    unit = app.unit(session, unit_code)
    if not applies_to_unit(ob, unit, app.propaganda_unit):
        raise UserInputError(
            f"事项 {key} 不适用于单位 {unit.code}（{unit.name}）：适用于 {'、'.join(unit_kind_name(k) for k in ob.applies_to)}，"
            f"该单位类型为{unit_kind_name(unit.kind)}")
    kind = ob.schedule.kind
    if kind in ("event", "ad_hoc"):
        occ = _lookup(session, unit.code, key, period)
        if occ is None:
            hint = ("请先用 ccal event add 登记活动，期间为 E<活动编号>" if kind == "event"
                    else "该事项由督办单产生")
            raise UserInputError(f"未知期间 {period!r}（{key} / {unit.code}）：{hint}")
        return occ
    year = period_year(period)
    if year is None:
        raise UserInputError(f"期间格式有误：{period!r}（{key}，例如 {_examples(app, ob, 2026)}）")
    occ = _lookup(session, unit.code, key, period)
    if occ is None:
        # A year nobody tracks gets its rows untracked: a late record for 2025 does not turn
        # on reminders for 2025 (scheduler/tracking.py).
        materialise(app, [year], [unit.code], session=session, track=year in recorded_years(app, session))
        occ = _lookup(session, unit.code, key, period)
    if occ is None:
        raise UserInputError(
            f"未知期间 {period!r}（{key}）：{year} 年的期间为 "
            f"{_examples(app, ob, year)}")
    return occ


def check_period_opened(app: "App", key: str, period: str, when: datetime) -> None:
    """Refuse work recorded for a calendar period that has not begun by `when` (e.g.
    `--period 2031` in 2026): it would be recorded as on time for work not yet due. Checked
    before anything is materialised, so a refused submission writes nothing."""
    ob = app.obligation(key)
    year = period_year(period)
    if not generated_by_calendar(ob) or year is None:
        return
    found = next((p for p in periods_in_year(ob.schedule, year, app.context) if p.label == period), None)
    if found is not None and found.start > when.date():
        raise UserInputError(
            f"期间 {period} 尚未开始（{found.start:%Y年%-m月%-d日}起），不能登记其完成情况"
            f"（登记时间 {when:%Y-%m-%d}）；请核对 --period 或 --at")


def _examples(app: "App", ob, year: int) -> str:
    labels = [p.label for p in periods_in_year(ob.schedule, year, app.context)]
    return ", ".join(labels) or "（无）"


def _lookup(session: Session, unit_code: str, key: str, period: str) -> Occurrence | None:
    return session.exec(select(Occurrence).where(
        Occurrence.unit_code == unit_code, Occurrence.obligation_key == key,
        Occurrence.period == period)).first()


# --------------------------------------------------------------------------- submissions

@dataclass(frozen=True)
class SubmissionRecord:
    submission: Submission
    occurrence: Occurrence
    evidence: tuple[Evidence, ...]


def submit(app: "App", key: str, unit_code: str, period: str, *, at: datetime | None = None,
           evidence: Sequence[Path] = (), note: str = "", corrects: int | None = None,
           recorded_by: str = "", names: Sequence[str] | None = None) -> SubmissionRecord:
    """Record that `unit_code` did `key` for `period` at `at` (default now), with evidence
    files copied into the evidence store. `corrects`: id of the submission this one replaces.
    `names`: the files' original names when they differ from the paths (web uploads are
    spooled under names of the program's own; the uploaded name is only recorded)."""
    files = [Path(p) for p in evidence]
    when = at or app.now()
    check_period_opened(app, key, period, when)
    with app.session() as session:
        occ = find_occurrence(app, session, key, unit_code, period)
        if corrects is not None:
            _check_replaceable(session, corrects)
        sub = Submission(occurrence_id=occ.id, submitted_at=when, recorded_at=app.now(),
                         recorded_by=recorded_by, note=note, late=when.date() > occ.due,
                         corrects_id=corrects)
        session.add(sub)
        session.flush()
        stored = tuple(_attach(app, session, sub, f, n) for f, n in
                       zip(files, names if names is not None else [None] * len(files)))
        session.flush()
        touched = [occ.id] + ([session.get(Submission, corrects).occurrence_id] if corrects is not None else [])
        refresh_occurrences(session, touched, app.now())
        if key in anchor_keys(app):    # the meeting date moves its dependents
            move_dependents(app, session, key, [occ.period])
        return SubmissionRecord(sub, occ, stored)


def _attach(app: "App", session: Session, sub: Submission, path: Path, name: str | None = None) -> Evidence:
    stored = store_evidence(path, app.config.evidence.dir, protected=protected_files(app.config))
    ev = Evidence(submission_id=sub.id, sha256=stored.sha256,
                  original_name=(name or stored.original_name)[:255],
                  size=stored.size, stored_path=stored.stored_path)
    session.add(ev)
    return ev


def _check_replaceable(session: Session, submission_id: int) -> Submission:
    old = session.get(Submission, submission_id)
    if old is None:
        raise UserInputError(f"未知提交记录：{submission_id}")
    if old.withdrawn:
        raise UserInputError(f"提交记录 {submission_id} 是一条撤回记录，不能再更正或撤回")
    later = session.exec(select(Submission.id).where(Submission.corrects_id == submission_id)).first()
    if later is not None:
        raise UserInputError(f"提交记录 {submission_id} 已被记录 {later} 更正或撤回；请对 {later} 操作")
    return old


def withdraw(app: "App", submission_id: int, reason: str, recorded_by: str = "") -> Submission:
    """Withdraw a submission: a new row (withdrawn, corrects_id) on the same occurrence."""
    if not reason.strip():
        raise UserInputError("撤回必须说明原因 (--reason)")
    with app.session() as session:
        old = _check_replaceable(session, submission_id)
        now = app.now()
        row = Submission(occurrence_id=old.occurrence_id, submitted_at=now, recorded_at=now,
                         recorded_by=recorded_by, note=reason.strip(), withdrawn=True,
                         corrects_id=old.id)
        session.add(row)
        session.flush()
        refresh_occurrences(session, [old.occurrence_id], now)
        occ = session.get(Occurrence, old.occurrence_id)
        if occ.obligation_key in anchor_keys(app):    # the withdrawn meeting no longer anchors
            move_dependents(app, session, occ.obligation_key, [occ.period])
        return row


# --------------------------------------------------------------------------- waivers

def waive(app: "App", key: str, unit_code: str, period: str, reason: str,
          recorded_by: str = "") -> tuple[Waiver, Occurrence]:
    if not reason.strip():
        raise UserInputError("豁免必须说明原因 (--reason)")
    with app.session() as session:
        occ = find_occurrence(app, session, key, unit_code, period)
        current = active_waivers(session, [occ.id]).get(occ.id)
        if current is not None:
            raise UserInputError(f"{key} / {unit_code} / {period} 已豁免（记录 {current.id}）")
        w = Waiver(occurrence_id=occ.id, reason=reason.strip(), recorded_by=recorded_by,
                   recorded_at=app.now())
        session.add(w)
        session.flush()
        refresh_occurrences(session, [occ.id], app.now())
        return w, occ


def revoke_waiver(app: "App", waiver_id: int, reason: str, recorded_by: str = "") -> Waiver:
    if not reason.strip():
        raise UserInputError("撤销豁免必须说明原因 (--reason)")
    with app.session() as session:
        w = session.get(Waiver, waiver_id)
        if w is None or w.revokes_id is not None:
            raise UserInputError(f"未知豁免记录：{waiver_id}")
        if active_waivers(session, [w.occurrence_id]).get(w.occurrence_id) is None:
            raise UserInputError(f"豁免记录 {waiver_id} 已撤销")
        row = Waiver(occurrence_id=w.occurrence_id, reason=reason.strip(), recorded_by=recorded_by,
                     recorded_at=app.now(), revokes_id=w.id)
        session.add(row)
        session.flush()
        refresh_occurrences(session, [w.occurrence_id], app.now())
        return row


# --------------------------------------------------------------------------- events

@dataclass(frozen=True)
class EventRecord:
    event: Event
    occurrence: Occurrence | None          # event obligations: the occurrence it created
    moved: tuple[Occurrence, ...] = ()     # anchor meetings: dependent occurrences of the period
    counts: MaterialiseCounts = MaterialiseCounts()


def record_event(app: "App", key: str, unit_code: str, on: date, *, period: str | None = None,
                 title: str = "") -> EventRecord:
    """Record an event of `key` held by `unit_code` on `on` (see module docstring)."""
    ob = app.obligation(key)
    with app.session() as session:
        unit = app.unit(session, unit_code)
        if not applies_to_unit(ob, unit, app.propaganda_unit):
            raise UserInputError(
                f"事项 {key} 不适用于单位 {unit.code}（{unit.name}）：适用于 {'、'.join(unit_kind_name(k) for k in ob.applies_to)}")
        if ob.schedule.kind == "event":
            if period is not None:
                raise UserInputError(f"{key} 按活动登记，不需要 --period（期间自动为 E<活动编号>）")
            ev = Event(unit_code=unit.code, obligation_key=key, date=on, title=title, recorded_at=app.now())
            session.add(ev)
            session.flush()
            ev.label = event_label(ev.id)
            session.flush()
            return EventRecord(ev, materialise_event(app, session, ev))
        if key in anchor_keys(app):
            if period is None:
                raise UserInputError(f"{key} 是会议锚点事项，请用 --period 指明会议所属期间（例如 {_examples(app, ob, on.year)}）")
            year = period_year(period)
            if year is None or period not in {p.label for p in periods_in_year(ob.schedule, year, app.context)}:
                raise UserInputError(f"未知期间 {period!r}（{key}，例如 {_examples(app, ob, on.year)}）")
            ev = Event(unit_code=unit.code, obligation_key=key, label=period, date=on, title=title,
                       recorded_at=app.now())
            session.add(ev)
            session.flush()
            counts = move_dependents(app, session, key, [period])    # only what hangs on it
            dependents = [k for k, o in app.obligations.items() if o.anchor == key]
            moved = session.exec(select(Occurrence).where(
                col(Occurrence.obligation_key).in_(dependents), Occurrence.period == period)
                .order_by(Occurrence.obligation_key, Occurrence.unit_code)).all()
            return EventRecord(ev, None, tuple(moved), counts)
        raise UserInputError(f"事项 {key} 不按活动登记（日程 {ob.schedule.kind}），也不是会议锚点；"
                             "请用 ccal submit 记录完成情况")
