"""What was recorded, as lists a clerk can check: the organisation, submissions, waivers,
events and findings (`ccal org list`, `ccal submission list`, ...).

Every function returns JSON-ready dicts (English keys; the CLI shows Chinese headers and
words). Rows are never hidden: replaced, withdrawn and revoked rows are listed with a state,
because their ids are what `withdraw`, `--corrects`, `waiver revoke` and `finding correct` need.
Filters: unit (any case), obligation key, period label, year (the year the period starts in;
for an event or order occurrence, the year of its due date).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, func, select

from scheduler.materialise import period_year
from scheduler.models import (
    ROLES, UNIT_KINDS, Event, Evidence, Finding, Occurrence, Person, RoleAssignment, Submission, Unit, Waiver,
)

if TYPE_CHECKING:
    from scheduler.app import App

# Submission states: counts | replaced (a later row corrects it) | withdrawn (a later row
# withdraws it) | withdrawal (the row that withdraws another).
SUBMISSION_STATE_WORDS = {"counts": "有效", "replaced": "已被更正", "withdrawn": "已撤回", "withdrawal": "撤回记录"}
WAIVER_STATE_WORDS = {"in_force": "有效", "revoked": "已撤销", "revocation": "撤销记录"}
FINDING_STATE_WORDS = {"in_force": "有效", "corrected": "已更正", "withdrawn": "已撤销扣分"}


def _year_of(occ: Occurrence) -> int:
    year = period_year(occ.period)
    return year if year is not None else occ.due.year


def _occurrence_filter(app: "App", session: Session, q, *, unit, key, period):
    if unit is not None:
        q = q.where(Occurrence.unit_code == app.unit(session, unit).code)
    if key is not None:
        q = q.where(Occurrence.obligation_key == app.obligation(key).key)
    if period is not None:
        q = q.where(Occurrence.period == period)
    return q


def _title(app: "App", key: str) -> str:
    ob = app.obligations.get(key)
    return ob.title if ob is not None else ""


# --------------------------------------------------------------------------- organisation

def org_rows(app: "App") -> list[dict[str, Any]]:
    """Every unit with its kind and the people in each role (name and contacts)."""
    with app.session() as session:
        units = session.exec(select(Unit).order_by(col(Unit.code))).all()
        people: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
        for ra, person in session.exec(select(RoleAssignment, Person)
                                       .where(RoleAssignment.person_id == Person.id)
                                       .order_by(col(RoleAssignment.id))).all():
            people[ra.unit_code][ra.role].append({"name": person.name, "email": person.email,
                                                  "wecom_userid": person.wecom_userid, "mobile": person.mobile})
    rows = []
    for u in units:
        row: dict[str, Any] = {"unit": u.code, "unit_name": u.name, "kind": u.kind,
                               "kind_text": UNIT_KINDS.get(u.kind, u.kind), "parent": u.parent_code or ""}
        for role in ROLES:
            row[role] = people[u.code].get(role, [])
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- submissions

def submission_rows(app: "App", *, unit: str | None = None, key: str | None = None, period: str | None = None,
                    year: int | None = None) -> list[dict[str, Any]]:
    """Every submission row (oldest first) with its state and the row that replaced it."""
    with app.session() as session:
        q = select(Submission, Occurrence).where(Submission.occurrence_id == Occurrence.id)
        q = _occurrence_filter(app, session, q, unit=unit, key=key, period=period).order_by(col(Submission.id))
        pairs = [(s, o) for s, o in session.exec(q).all() if year is None or _year_of(o) == year]
        ids = [s.id for s, _ in pairs]
        later: dict[int, Submission] = {}
        evidence: dict[int, int] = {}
        if ids:
            for s in session.exec(select(Submission).where(col(Submission.corrects_id).in_(ids))).all():
                later[s.corrects_id] = s
            evidence = dict(session.exec(select(Evidence.submission_id, func.count(col(Evidence.id)))
                                         .where(col(Evidence.submission_id).in_(ids))
                                         .group_by(col(Evidence.submission_id))).all())
        names = dict(session.exec(select(Unit.code, Unit.name)).all())
    rows = []
    for s, o in pairs:
        nxt = later.get(s.id)
        if s.withdrawn:
            state = "withdrawal"
        elif nxt is None:
            state = "counts"
        else:
            state = "withdrawn" if nxt.withdrawn else "replaced"
        rows.append({"id": s.id, "unit": o.unit_code, "unit_name": names.get(o.unit_code, ""),
                     "obligation": o.obligation_key, "title": _title(app, o.obligation_key), "period": o.period,
                     "due": o.due, "submitted_at": s.submitted_at, "late": s.late, "state": state,
                     "corrects": s.corrects_id, "replaced_by": nxt.id if nxt is not None else None,
                     "evidence": evidence.get(s.id, 0), "note": s.note, "recorded_by": s.recorded_by,
                     "recorded_at": s.recorded_at})
    return rows


# --------------------------------------------------------------------------- waivers

def waiver_rows(app: "App", *, unit: str | None = None, key: str | None = None, period: str | None = None,
                year: int | None = None) -> list[dict[str, Any]]:
    with app.session() as session:
        q = select(Waiver, Occurrence).where(Waiver.occurrence_id == Occurrence.id)
        q = _occurrence_filter(app, session, q, unit=unit, key=key, period=period).order_by(col(Waiver.id))
        pairs = [(w, o) for w, o in session.exec(q).all() if year is None or _year_of(o) == year]
        revoked = dict(session.exec(select(Waiver.revokes_id, Waiver.id)
                                    .where(col(Waiver.revokes_id).is_not(None))).all())
        names = dict(session.exec(select(Unit.code, Unit.name)).all())
    rows = []
    for w, o in pairs:
        state = "revocation" if w.revokes_id else ("revoked" if w.id in revoked else "in_force")
        rows.append({"id": w.id, "unit": o.unit_code, "unit_name": names.get(o.unit_code, ""),
                     "obligation": o.obligation_key, "title": _title(app, o.obligation_key), "period": o.period,
                     "reason": w.reason, "state": state, "revokes": w.revokes_id, "revoked_by": revoked.get(w.id),
                     "recorded_by": w.recorded_by, "recorded_at": w.recorded_at})
    return rows


# --------------------------------------------------------------------------- events

def event_rows(app: "App", *, unit: str | None = None, key: str | None = None, year: int | None = None
               ) -> list[dict[str, Any]]:
    """Recorded events: anchor meetings (label = their period) and lecture events (E<id>)."""
    with app.session() as session:
        q = select(Event).order_by(col(Event.date), col(Event.id))
        if unit is not None:
            q = q.where(Event.unit_code == app.unit(session, unit).code)
        if key is not None:
            q = q.where(Event.obligation_key == app.obligation(key).key)
        events = [e for e in session.exec(q).all() if year is None or e.date.year == year]
        names = dict(session.exec(select(Unit.code, Unit.name)).all())
    return [{"id": e.id, "unit": e.unit_code, "unit_name": names.get(e.unit_code, ""),
             "obligation": e.obligation_key, "obligation_title": _title(app, e.obligation_key),
             "period": e.label or f"E{e.id}", "date": e.date, "title": e.title, "recorded_at": e.recorded_at}
            for e in events]


# --------------------------------------------------------------------------- findings

def finding_rows(app: "App", *, unit: str | None = None, year: int | None = None, item: str | None = None
                 ) -> list[dict[str, Any]]:
    """Every finding row (oldest first); a corrected row says which row replaced it."""
    with app.session() as session:
        q = select(Finding).order_by(col(Finding.id))
        if unit is not None:
            q = q.where(Finding.unit_code == app.unit(session, unit).code)
        if year is not None:
            q = q.where(Finding.year == year)
        if item is not None:
            q = q.where(Finding.item == item)
        findings = session.exec(q).all()
        later = dict(session.exec(select(Finding.corrects_id, Finding.id)
                                  .where(col(Finding.corrects_id).is_not(None))).all())
        names = dict(session.exec(select(Unit.code, Unit.name)).all())
    rows = []
    for f in findings:
        if f.id in later:
            state = "corrected"
        else:
            state = "withdrawn" if f.deduct == 0 else "in_force"
        rows.append({"id": f.id, "unit": f.unit_code, "unit_name": names.get(f.unit_code, ""), "year": f.year,
                     "item": f.item, "found_on": f.found_on, "description": f.description, "count": f.count,
                     "deduct": f.deduct, "source_kind": f.source_kind, "source_id": f.source_id, "state": state,
                     "corrects": f.corrects_id, "corrected_by": later.get(f.id), "scorecard": f.scorecard,
                     "recorded_by": f.recorded_by, "recorded_at": f.recorded_at})
    return rows


# --------------------------------------------------------------------------- a submission that adds nothing

def completes_nothing_new(app: "App", submission: Submission, occurrence: Occurrence) -> str | None:
    """A warning when `submission` (just recorded, kept) adds nothing: the occurrence was
    already complete and is not count-based (required 1). A correction is never warned about."""
    from scheduler.submissions import counting_submissions

    if submission.corrects_id is not None or submission.withdrawn or occurrence.required != 1:
        return None
    with app.session() as session:
        others = session.exec(select(Submission.id).where(
            Submission.occurrence_id == occurrence.id, Submission.id != submission.id,
            Submission.withdrawn == False)).all()  # noqa: E712 (SQL expression)
        counted = counting_submissions(session, [occurrence.id]).get(occurrence.id, [])
    if len(counted) < 2 or not others:
        return None
    return (f"注意：{occurrence.obligation_key} / {occurrence.unit_code} / {occurrence.period} 此前已完成，"
            f"本次登记不增加完成次数（已保存；如为更正请用 --corrects，"
            f"查看记录：ccal submission list --unit {occurrence.unit_code} --period {occurrence.period}）")


def has_units(app: "App") -> bool:
    """Whether the organisation has been imported: an empty answer means "nothing due" only then."""
    with app.session() as session:
        return session.exec(select(Unit.code).limit(1)).first() is not None


NO_UNITS_NOTE = "注意：数据库中还没有任何单位，所以没有事项；请先 ccal org import 导入组织架构（或 ccal init --demo）"
