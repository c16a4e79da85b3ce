"""Lecture pre-approval (一会一报): the record of each lecture, its violations as scorecard
findings, and the lectures' part of a reminder pass.

The record (all rows append-only, scheduler/models.py):
- `Lecture`: the organising unit;
- `LectureVersion`: the registration, each change, the cancellation. A version that needs
  approval (obligations.lectures.requirements) gets its own `Event` of the strictest lecture
  obligation, so its own occurrence `E<event id>` with the approval deadline on the working-day
  calendar (provisional where the holiday data is). A change is a new version: the old
  approval no longer counts and the new version needs its own; an old version never applied
  for is waived ("变更").
- the application of a version that needs approval is a submission on its occurrence, so
  `ccal submit henan-2023.12 --unit JDX --period E7` and `ccal lecture apply` are the same
  thing; a lecture that needs no approval is reported with a `report` action;
- `LectureAction`: approve / reject (the propaganda department), held.

Violations (未批先办, 边批边办, 事后补批; obligations.lectures.classify) follow from the record and
are posted as findings (scheduler.ledger.add_finding, key "lecture:<id>:<违规>") under the
scorecard item of the lecture obligations (jincheng-2020.4.2 -> 4.2). `sync_findings` brings
the findings in line with the record: it runs after every lecture command and in the
service's daily score step and every `ccal tick` (scheduler/service.py: `keep_score`), so a
submission recorded with plain `ccal submit` counts too.

Reminders (`LectureReminders`, called by scheduler/planner.py): until a version is applied
for, its occurrence is reminded to the organiser's responsible person and to the propaganda
department; once applied for and while undecided, the propaganda department is reminded to
decide by the last working day before the event (stages "pending-..."). Nothing is reminded
for a lecture that was held, cancelled or whose day has passed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from obligations import lectures as rules
from obligations.lectures import Decision, Moment
from obligations.provisional import HOLIDAYS
from obligations.reminders import Audience, ReminderItem, stage_at
from scheduler.app import UserInputError
from scheduler.ledger import (AUTO_RECORDER, SyncResult, add_finding, latest_findings, reconcile_finding,
                              scorecards)
from scheduler.materialise import event_label, materialise_event
from scheduler.models import (
    Event, Lecture, LectureAction, LectureVersion, Occurrence, Submission, Unit, Waiver,
)
from scheduler.submissions import active_waivers, counting_submissions, refresh_occurrences, submit

if TYPE_CHECKING:
    from obligations.packs import Obligation
    from obligations.reminders import ReminderPolicy
    from obligations.scorecard import Scorecard
    from scheduler.app import App

PENDING = "pending-"             # stage prefix of the department's reminders to decide


# --------------------------------------------------------------------------- reading the record

@dataclass
class LectureRecord:
    """One lecture with every row about it."""
    lecture: Lecture
    unit: Unit
    versions: list[LectureVersion]                       # oldest first
    actions: list[LectureAction]                         # oldest first
    occurrences: dict[int, Occurrence] = field(default_factory=dict)   # version id -> its occurrence
    filed: dict[int, datetime] = field(default_factory=dict)           # version id -> first application

    @property
    def current(self) -> LectureVersion:
        return self.versions[-1]

    @property
    def cancelled(self) -> bool:
        return self.current.kind == "cancel"

    def _latest(self, action: str) -> LectureAction | None:
        rows = [a for a in self.actions if a.action == action]
        return rows[-1] if rows else None

    @property
    def held_action(self) -> LectureAction | None:
        return self._latest("held")

    @property
    def held(self) -> Moment | None:
        a = self.held_action
        return Moment.of(a.at, a.time_known) if a else None

    @property
    def held_version(self) -> LectureVersion:
        """The version held (or, until it is, the current one)."""
        a = self.held_action
        if a is None:
            return self.current
        return next(v for v in self.versions if v.id == a.version_id)

    def decisions(self, version: LectureVersion) -> list[Decision]:
        return [Decision(a.at, a.action == "approve") for a in self.actions
                if a.version_id == version.id and a.action in ("approve", "reject")]

    def filed_at(self, version: LectureVersion) -> datetime | None:
        return self.filed.get(version.id)

    def starts(self, version: LectureVersion) -> Moment:
        return Moment.of(version.starts_at, version.time_known)

    def violation(self) -> rules.Violation | None:
        if self.cancelled:
            return None
        v = self.held_version
        if v.obligation_key is None:
            return None
        return rules.classify(starts=self.starts(v), filed_at=self.filed_at(v),
                              decisions=self.decisions(v), held=self.held)

    def status(self) -> str:
        v = self.current
        return rules.status_of(needs_approval=v.obligation_key is not None, filed_at=self.filed_at(v),
                               decisions=self.decisions(v), held=self.held, cancelled=self.cancelled)


def load(session: Session, ids: Iterable[int] | None = None, *, unit: str | None = None) -> list[LectureRecord]:
    """The records of lectures `ids` (None: all; `unit`: of one unit), by id."""
    q = select(Lecture).order_by(col(Lecture.id))
    if ids is not None:
        q = q.where(col(Lecture.id).in_(list(ids)))
    if unit is not None:
        q = q.where(Lecture.unit_code == unit)
    lectures = session.exec(q).all()
    if not lectures:
        return []
    lids = [lec.id for lec in lectures]
    versions: dict[int, list[LectureVersion]] = defaultdict(list)
    for v in session.exec(select(LectureVersion).where(col(LectureVersion.lecture_id).in_(lids))
                          .order_by(col(LectureVersion.id))).all():
        versions[v.lecture_id].append(v)
    actions: dict[int, list[LectureAction]] = defaultdict(list)
    for a in session.exec(select(LectureAction).where(col(LectureAction.lecture_id).in_(lids))
                          .order_by(col(LectureAction.id))).all():
        actions[a.lecture_id].append(a)
    event_ids = [v.event_id for vs in versions.values() for v in vs if v.event_id is not None]
    occs = {o.event_id: o for o in session.exec(
        select(Occurrence).where(col(Occurrence.event_id).in_(event_ids))).all()} if event_ids else {}
    subs = counting_submissions(session, [o.id for o in occs.values()]) if occs else {}
    units = {u.code: u for u in session.exec(
        select(Unit).where(col(Unit.code).in_({lec.unit_code for lec in lectures}))).all()}
    records = []
    for lec in lectures:
        rec = LectureRecord(lec, units[lec.unit_code], versions[lec.id], actions[lec.id])
        for v in rec.versions:
            occ = occs.get(v.event_id) if v.event_id is not None else None
            if occ is not None:
                rec.occurrences[v.id] = occ
                if subs.get(occ.id):
                    rec.filed[v.id] = min(subs[occ.id])
            elif v.obligation_key is None:
                reports = [a.at for a in rec.actions if a.version_id == v.id and a.action == "report"]
                if reports:
                    rec.filed[v.id] = min(reports)
        records.append(rec)
    return records


def refuse_bare_event(app: "App", key: str) -> None:
    """Events of a lecture approval (rules.is_lecture_obligation: henan-2023.12, jincheng-2020.4.2)
    are recorded only with their lecture (`register`, `change`): a bare event (`ccal event add`)
    would have no approval decisions, no violation checks and no reminders to the department.
    Raises UserInputError pointing at `ccal lecture register`; other keys pass."""
    ob = app.obligations.get(key)
    if ob is not None and rules.is_lecture_obligation(ob):
        raise UserInputError(
            f"{key} 是讲座、报告会报批事项（一会一报），不能用 ccal event add 登记：请用 "
            f"ccal lecture register --unit 单位 --title 名称 --date 日期 [--sensitive 类别] 登记讲座，"
            f"审批、违规认定和提醒都依据讲座记录")


def _one(app: "App", session: Session, lecture_id: int) -> LectureRecord:
    found = load(session, [lecture_id])
    if not found:
        raise UserInputError(f"未知讲座编号：{lecture_id}（ccal lecture list 列出全部）")
    return found[0]


# --------------------------------------------------------------------------- what a clerk sees

def view(rec: LectureRecord) -> dict[str, Any]:
    """JSON-ready description of a lecture as it stands."""
    v = rec.current
    occ = rec.occurrences.get(v.id)
    filed = rec.filed_at(v)
    decision = rules.decision_in_force(rec.decisions(v))
    violation = rec.violation()
    held = rec.held
    status = rec.status()
    due = occ.due if occ is not None else None
    return {
        "id": rec.lecture.id, "unit": rec.unit.code, "unit_name": rec.unit.name,
        "version": len([x for x in rec.versions if x.kind != "cancel"]),
        "title": v.title, "speaker": v.speaker, "place": v.place,
        "date": v.starts_at.date(), "time": v.starts_at.strftime("%H:%M") if v.time_known else None,
        "starts": rec.starts(v).text(),
        "categories": [k for k in v.categories.split(",") if k],
        "categories_text": rules.category_labels(v.categories.split(",")) if v.categories else "",
        "sensitive": bool(v.categories),
        "obligation": v.obligation_key, "period": occ.period if occ is not None else None,
        "deadline": due, "provisional": bool(occ.provisional) if occ is not None else False,
        "filed_at": filed, "late": rules.filed_late(filed, due) if occ is not None else (
            filed is not None and rules.after(filed, rec.starts(v))),
        "decision": None if decision is None else ("approve" if decision.approved else "reject"),
        "decided_at": decision.at if decision is not None else None,
        "held_at": held.text() if held is not None else None,
        "status": status, "status_text": rules.STATUS_WORDS[status],
        "violation": violation.label if violation else None,
        "violation_text": violation.explanation if violation else None,
        "reason": v.reason,
    }


def show(app: "App", lecture_id: int) -> dict[str, Any]:
    with app.session() as session:
        return view(_one(app, session, lecture_id))


def history(app: "App", lecture_id: int) -> list[dict[str, Any]]:
    """Every row of a lecture by when it happened (`at`; `recorded_at`: when it was
    recorded): versions, applications (every submission on a version's occurrence, withdrawn
    ones too), reports, decisions, holding."""
    words = {"register": "登记", "change": "变更", "cancel": "取消", "report": "报备",
             "approve": "批准", "reject": "不予批准", "held": "举办"}
    with app.session() as session:
        rec = _one(app, session, lecture_id)
        rows = []
        for v in rec.versions:
            occ = rec.occurrences.get(v.id)
            what = f"{v.title}，{rec.starts(v).text()}"
            if v.categories:
                what += f"，涉及{rules.category_labels(v.categories.split(','))}"
            if occ is not None:
                what += f"，报批截止 {occ.due.isoformat()}{'*' if occ.provisional else ''}（{occ.period}）"
            if v.reason:
                what += f"；原因：{v.reason}"
            # A version was known no later than it was applied for (a paper application entered later).
            known = min(v.recorded_at, rec.filed.get(v.id, v.recorded_at))
            rows.append({"at": known, "recorded_at": v.recorded_at, "what": words[v.kind],
                         "detail": what, "by": v.recorded_by, "_order": 0})
        occs = {o.id: o for o in rec.occurrences.values()}
        if occs:
            for sub in session.exec(select(Submission).where(col(Submission.occurrence_id).in_(list(occs)))
                                    .order_by(col(Submission.id))).all():
                occ = occs[sub.occurrence_id]
                if sub.withdrawn:
                    detail = f"{occ.period} 撤回提交记录 {sub.corrects_id}：{sub.note}"
                else:
                    detail = f"{occ.period} 提交记录 {sub.id}" + ("（逾期）" if sub.late else "")
                rows.append({"at": sub.submitted_at, "recorded_at": sub.recorded_at,
                             "what": "撤回" if sub.withdrawn else "报审", "detail": detail, "by": sub.recorded_by,
                             "_order": 1})
        for a in rec.actions:
            when = Moment.of(a.at, a.time_known).text()
            rows.append({"at": a.at, "recorded_at": a.recorded_at, "what": words[a.action],
                         "detail": f"{when} {a.note}".strip(), "by": a.recorded_by,
                         "_order": 3 if a.action == "held" else 2})
    rows.sort(key=lambda r: (r["at"], r["_order"], r["recorded_at"]))
    return [{k: x for k, x in r.items() if k != "_order"} for r in rows]


def listing(app: "App", *, unit: str | None = None, year: int | None = None,
            status: str | None = None) -> list[dict[str, Any]]:
    with app.session() as session:
        if unit is not None:
            app.unit(session, unit)
        rows = [view(r) for r in load(session, unit=unit)]
    if year is not None:
        rows = [r for r in rows if r["date"].year == year]
    if status is not None:
        rows = [r for r in rows if r["status"] == status or (status == "violation" and r["violation"])]
    return sorted(rows, key=lambda r: (r["date"], r["id"]))


# --------------------------------------------------------------------------- recording

def _check_files(files: Sequence[Path]) -> list[Path]:
    paths = [Path(f) for f in files]
    for p in paths:
        if not p.is_file():
            raise UserInputError(f"找不到证明材料文件：{p}")
    return paths


def _categories(values: Iterable[str]) -> tuple[str, ...]:
    try:
        return rules.parse_categories(values)
    except ValueError as e:
        raise UserInputError(str(e)) from None


def _new_version(app: "App", session: Session, lecture: Lecture, unit: Unit, *, kind: str, title: str,
                 speaker: str, place: str, starts: datetime, time_known: bool,
                 categories: Sequence[str], reason: str, recorded_by: str) -> LectureVersion:
    """A version row; one that needs approval gets its event and occurrence (the deadline)."""
    now = app.now()
    key = event_id = None
    if kind != "cancel":
        needed = rules.requirements(app.obligations.values(), unit.kind, bool(categories))
        if needed:
            key = needed[0].key
            ev = Event(unit_code=unit.code, obligation_key=key, date=starts.date(), title=title,
                       recorded_at=now)
            session.add(ev)
            session.flush()
            ev.label = event_label(ev.id)
            session.flush()
            materialise_event(app, session, ev)
            event_id = ev.id
    if kind != "cancel":
        _file_with_superiors(app, session, lecture, title, starts)
    v = LectureVersion(lecture_id=lecture.id, kind=kind, title=title, speaker=speaker, place=place,
                       starts_at=starts, time_known=time_known, categories=",".join(categories),
                       obligation_key=key, event_id=event_id, reason=reason, recorded_at=now,
                       recorded_by=recorded_by)
    session.add(v)
    session.flush()
    return v


def filing_title(lecture_id: int, title: str) -> str:
    """The title of a lecture's filing event: 「讲座 7《题目》」. Its prefix 「讲座 7《」 finds the
    filings of lecture 7 again (`_filing_events`)."""
    return f"讲座 {lecture_id}《{title}》"


def _filing_events(session: Session, app: "App", lecture_id: int) -> list[Event]:
    keys = [ob.key for ob in rules.filings(app.obligations.values())]
    if not keys:
        return []
    return list(session.exec(select(Event).where(
        col(Event.obligation_key).in_(keys), Event.unit_code == app.propaganda_unit,
        col(Event.title).startswith(f"讲座 {lecture_id}《")).order_by(col(Event.id))).all())


def _file_with_superiors(app: "App", session: Session, lecture: Lecture, title: str, starts: datetime) -> None:
    """Each registered (or changed) lecture is also filed by the propaganda department with its
    superior (jincheng-2020.lecture: 按时向市委宣传部报备), as its approval is: one event of each
    filing obligation for the propaganda unit, so its own occurrence and deadline."""
    obs = rules.filings(app.obligations.values())
    if not obs or session.get(Unit, app.propaganda_unit) is None:
        return                      # no filing obligation enabled, or no propaganda unit to track it
    for ob in obs:
        ev = Event(unit_code=app.propaganda_unit, obligation_key=ob.key, date=starts.date(),
                   title=filing_title(lecture.id, title), recorded_at=app.now())
        session.add(ev)
        session.flush()
        ev.label = event_label(ev.id)
        session.flush()
        materialise_event(app, session, ev)


def _retire_filings(app: "App", session: Session, lecture_id: int, why: str, recorded_by: str) -> None:
    """The lecture changed or was cancelled: its filings not yet made are waived (a changed
    lecture gets new ones with its new version)."""
    events = _filing_events(session, app, lecture_id)
    if not events:
        return
    occs = session.exec(select(Occurrence).where(col(Occurrence.event_id).in_([e.id for e in events]))).all()
    ids = [o.id for o in occs]
    done = counting_submissions(session, ids)
    waived = active_waivers(session, ids)
    for occ in occs:
        if not done.get(occ.id) and not waived.get(occ.id):
            session.add(Waiver(occurrence_id=occ.id, reason=why, recorded_by=recorded_by or AUTO_RECORDER,
                               recorded_at=app.now()))


def _retire(app: "App", session: Session, rec: LectureRecord, why: str, recorded_by: str) -> None:
    """The current version stops needing an approval: if it was never applied for, its
    occurrence is waived (so nobody is reminded of it)."""
    v = rec.current
    occ = rec.occurrences.get(v.id)
    if occ is None or v.id in rec.filed or active_waivers(session, [occ.id]).get(occ.id):
        return
    session.add(Waiver(occurrence_id=occ.id, reason=why, recorded_by=recorded_by or AUTO_RECORDER,
                       recorded_at=app.now()))
    refresh_occurrences(session, [occ.id], app.now())


def _file(app: "App", lecture_id: int, at: datetime, evidence: Sequence[Path], note: str,
          recorded_by: str, names: Sequence[str] | None = None) -> None:
    """The application (or, without approval, the report) of the current version."""
    with app.session() as session:
        rec = _one(app, session, lecture_id)
        v = rec.current
        occ = rec.occurrences.get(v.id)
        if occ is None:
            if evidence:
                raise UserInputError("该讲座无需审批（仅报备），不需要上传审批材料")
            session.add(LectureAction(lecture_id=lecture_id, version_id=v.id, action="report", at=at,
                                      time_known=True, note=note, recorded_at=app.now(),
                                      recorded_by=recorded_by))
            return
        key, unit, period = occ.obligation_key, occ.unit_code, occ.period
    submit(app, key, unit, period, at=at, evidence=evidence, note=note or "讲座报审",
           recorded_by=recorded_by, names=names)


def register(app: "App", unit_code: str, *, title: str, starts: datetime, time_known: bool = False,
             speaker: str = "", place: str = "", categories: Iterable[str] = (), planned: bool = False,
             filed_at: datetime | None = None, evidence: Sequence[Path] = (), note: str = "",
             recorded_by: str = "", names: Sequence[str] | None = None) -> dict[str, Any]:
    """Register a lecture. Unless `planned`, this is also its report / application for approval
    (at `filed_at`, default now); a planned one is reminded until it is applied for. `names`:
    the evidence files' original names (web uploads, see submissions.submit)."""
    title = title.strip()
    if not title:
        raise UserInputError("请填写讲座名称 (--title)")
    cats = _categories(categories)
    files = _check_files(evidence)
    if planned and (files or filed_at):
        raise UserInputError("--planned 表示尚未报审，不能同时给出 --filed 或 --evidence")
    with app.session() as session:
        unit = app.unit(session, unit_code)
        lec = Lecture(unit_code=unit.code, recorded_at=app.now(), recorded_by=recorded_by)
        session.add(lec)
        session.flush()
        _new_version(app, session, lec, unit, kind="register", title=title, speaker=speaker.strip(),
                     place=place.strip(), starts=starts, time_known=time_known, categories=cats,
                     reason="", recorded_by=recorded_by)
        lecture_id = lec.id
    if not planned:
        _file(app, lecture_id, filed_at or app.now(), files, note, recorded_by, names)
    sync_findings(app, [lecture_id])
    return show(app, lecture_id)


def _check_open(rec: LectureRecord, doing: str) -> None:
    if rec.cancelled:
        raise UserInputError(f"讲座 {rec.lecture.id} 已取消，不能{doing}")


def change(app: "App", lecture_id: int, *, reason: str, title: str | None = None,
           speaker: str | None = None, place: str | None = None, starts: datetime | None = None,
           time_known: bool | None = None, categories: Iterable[str] | None = None,
           planned: bool = False, filed_at: datetime | None = None, evidence: Sequence[Path] = (),
           recorded_by: str = "") -> dict[str, Any]:
    """Record a change: a new version, which voids the approval (clause 12: 变更需要重新报批).
    Unless `planned`, the change is reported and applied for again at `filed_at` (default now)."""
    if not reason or not reason.strip():
        raise UserInputError("请说明变更原因 (--reason)")
    files = _check_files(evidence)
    if planned and (files or filed_at):
        raise UserInputError("--planned 表示尚未报审，不能同时给出 --filed 或 --evidence")
    with app.session() as session:
        rec = _one(app, session, lecture_id)
        _check_open(rec, "变更")
        if rec.held is not None:
            raise UserInputError(f"讲座 {lecture_id} 已于 {rec.held.text()} 举办，不能再变更")
        old = rec.current
        new = {
            "title": old.title if title is None else title.strip(),
            "speaker": old.speaker if speaker is None else speaker.strip(),
            "place": old.place if place is None else place.strip(),
            "starts": old.starts_at if starts is None else starts,
            "time_known": old.time_known if time_known is None or starts is None else time_known,
            "categories": (tuple(k for k in old.categories.split(",") if k) if categories is None
                           else _categories(categories)),
        }
        if not new["title"]:
            raise UserInputError("讲座名称不能为空")
        same = (new["title"], new["speaker"], new["place"], new["starts"], new["time_known"],
                ",".join(new["categories"])) == (old.title, old.speaker, old.place, old.starts_at,
                                                 old.time_known, old.categories)
        if same:
            raise UserInputError("没有变更内容：请给出新的名称、主讲人、地点、时间或敏感议题类别")
        _retire(app, session, rec, f"讲座 {lecture_id} 已变更（{reason.strip()}），原审批事项不再需要", recorded_by)
        _retire_filings(app, session, lecture_id, f"讲座 {lecture_id} 已变更（{reason.strip()}），按变更后的内容报备",
                        recorded_by)
        _new_version(app, session, rec.lecture, rec.unit, kind="change", reason=reason.strip(),
                     recorded_by=recorded_by, **new)
    if not planned:
        _file(app, lecture_id, filed_at or app.now(), files, "", recorded_by)
    sync_findings(app, [lecture_id])
    return show(app, lecture_id)


def apply(app: "App", lecture_id: int, *, at: datetime | None = None, evidence: Sequence[Path] = (),
          note: str = "", recorded_by: str = "") -> dict[str, Any]:
    """File the application (or report) of the current version, at `at` (default now)."""
    files = _check_files(evidence)
    with app.session() as session:
        rec = _one(app, session, lecture_id)
        _check_open(rec, "报审")
        if rec.current.id in rec.filed:
            raise UserInputError(f"讲座 {lecture_id} 已于 {rec.filed[rec.current.id]:%Y-%m-%d %H:%M} 报审")
    _file(app, lecture_id, at or app.now(), files, note, recorded_by)
    sync_findings(app, [lecture_id])
    return show(app, lecture_id)


def decide(app: "App", lecture_id: int, approve: bool, *, at: datetime | None = None, note: str = "",
           recorded_by: str = "") -> dict[str, Any]:
    """The propaganda department approves or rejects the current version's application. A later
    decision replaces an earlier one (a rejected application approved after revision)."""
    with app.session() as session:
        rec = _one(app, session, lecture_id)
        _check_open(rec, "审批")
        v = rec.current
        if v.obligation_key is None:
            raise UserInputError(f"讲座 {lecture_id} 未涉及敏感议题，无需审批（仅报备）")
        if v.id not in rec.filed:
            raise UserInputError(f"讲座 {lecture_id} 尚未报审，不能审批；请先登记报审：ccal lecture apply {lecture_id}")
        session.add(LectureAction(lecture_id=lecture_id, version_id=v.id,
                                  action="approve" if approve else "reject", at=at or app.now(),
                                  time_known=True, note=note.strip(), recorded_at=app.now(),
                                  recorded_by=recorded_by))
    sync_findings(app, [lecture_id])
    return show(app, lecture_id)


def held(app: "App", lecture_id: int, *, at: datetime | None = None, time_known: bool = True,
         note: str = "", recorded_by: str = "") -> dict[str, Any]:
    """The lecture took place: at `at`, else when the current version says. Recording it again
    corrects the time (the latest row counts)."""
    with app.session() as session:
        rec = _one(app, session, lecture_id)
        _check_open(rec, "登记举办")
        v = rec.current
        when, known = (at, time_known) if at is not None else (v.starts_at, v.time_known)
        session.add(LectureAction(lecture_id=lecture_id, version_id=v.id, action="held", at=when,
                                  time_known=known, note=note.strip(), recorded_at=app.now(),
                                  recorded_by=recorded_by))
    sync_findings(app, [lecture_id])
    return show(app, lecture_id)


def cancel(app: "App", lecture_id: int, reason: str, *, recorded_by: str = "") -> dict[str, Any]:
    if not reason or not reason.strip():
        raise UserInputError("请说明取消原因 (--reason)")
    with app.session() as session:
        rec = _one(app, session, lecture_id)
        _check_open(rec, "再次取消")
        if rec.held is not None:
            raise UserInputError(f"讲座 {lecture_id} 已于 {rec.held.text()} 举办，不能取消")
        old = rec.current
        _retire(app, session, rec, f"讲座 {lecture_id} 已取消（{reason.strip()}）", recorded_by)
        _retire_filings(app, session, lecture_id, f"讲座 {lecture_id} 已取消（{reason.strip()}），无需报备", recorded_by)
        _new_version(app, session, rec.lecture, rec.unit, kind="cancel", title=old.title,
                     speaker=old.speaker, place=old.place, starts=old.starts_at, time_known=old.time_known,
                     categories=tuple(k for k in old.categories.split(",") if k),
                     reason=reason.strip(), recorded_by=recorded_by)
    sync_findings(app, [lecture_id])
    return show(app, lecture_id)


# --------------------------------------------------------------------------- violations as findings

def finding_key(lecture_id: int, kind: str) -> str:
    return f"lecture:{lecture_id}:{rules.VIOLATION_LABELS[kind]}"


def finding_target(app: "App", cards: Mapping[str, "Scorecard"], unit_kind: str,
                   sensitive: bool) -> tuple["Scorecard", str] | None:
    """The scorecard item a lecture's violation deducts from: the first lecture obligation it
    falls under whose `scorecard` names an item with a deductions rule (4.2 for
    jincheng-2020.4.2). None when no enabled scorecard scores lectures."""
    for ob in rules.requirements(app.obligations.values(), unit_kind, sensitive):
        card = cards.get(ob.pack)
        item = card.item(ob.scorecard) if card is not None and ob.scorecard else None
        if item is not None and item.deduction_rule is not None:
            return card, item.id
    return None


def sync_findings(app: "App", lecture_ids: Iterable[int] | None = None) -> SyncResult:
    """Post the violations the record shows as findings, withdraw the ones it no longer shows
    (a violation reclassified: held while pending is 未批先办 until the approval arrives, then
    边批边办). Idempotent; each add or withdrawal is its own transaction."""
    result = SyncResult()
    with app.session() as session:
        if lecture_ids is None:
            lecture_ids = session.exec(select(Lecture.id)).all()
        lecture_ids = list(lecture_ids)
        if not lecture_ids:
            return result
        cards = scorecards(app)
        if not cards:
            return result
        records = load(session, lecture_ids)
        existing = latest_findings(session, "lecture", lecture_ids)
    for rec in records:
        v = rec.held_version
        violation = rec.violation()
        target = finding_target(app, cards, rec.unit.kind, bool(v.categories))
        for kind in rules.VIOLATION_KINDS:
            key = finding_key(rec.lecture.id, kind)
            latest = existing.get(key)
            want = violation is not None and violation.kind == kind and target is not None
            if latest is None and not want:
                continue
            card, item = target if target is not None else (cards.get(latest.scorecard), latest.item)
            if card is None:
                continue
            text = (f"讲座{rules.VIOLATION_LABELS[kind]}：{v.title}（{rec.starts(v).text()}，"
                    f"讲座 {rec.lecture.id}）" + (f"，{violation.explanation}" if want else ""))

            def post(rec=rec, v=v, violation=violation, card=card, item=item, key=key, text=text):
                return add_finding(app, rec.unit.code, item, text, year=v.starts_at.year,
                                   found_on=violation.found_on, source_kind="lecture",
                                   source_id=rec.lecture.id, key=key, recorded_by=AUTO_RECORDER, card=card)
            now_kind = violation.label if violation is not None else "不构成违规"
            reconcile_finding(app, card, latest, want, post, reason_off=f"讲座记录更新，改判为：{now_kind}",
                              reason_on=f"讲座记录更新，再次认定为{rules.VIOLATION_LABELS[kind]}",
                              result=result, what=f"讲座 {rec.lecture.id}")
    return result


# --------------------------------------------------------------------------- the reminder pass

@dataclass(frozen=True)
class _Active:
    rec: LectureRecord
    version: LectureVersion
    occurrence: Occurrence


class LectureReminders:
    """The lectures' part of one reminder pass (scheduler/planner.py).

    `extend` adds the propaganda department to the audience of lectures not yet applied for,
    drops the occurrences of lectures held, cancelled, superseded or past, and adds the
    department's reminders to decide pending applications; `still_open` serves settling
    (and the module function `describe`, rendering)."""

    def __init__(self, app: "App", session: Session, today: date) -> None:
        self.app, self.today = app, today
        versions = session.exec(select(LectureVersion.lecture_id, LectureVersion.event_id)).all()
        self.lecture_events: set[int] = {e for _, e in versions if e is not None}
        self.active: dict[int, _Active] = {}          # event id of a current, open version
        self.pending: dict[int, _Active] = {}         # occurrence id -> applied for, undecided
        self.events_of: dict[int, int] = {}           # occurrence id -> event id (lectures)
        if not self.lecture_events:
            return
        self.events_of = dict(session.exec(select(Occurrence.id, Occurrence.event_id).where(
            col(Occurrence.event_id).in_(list(self.lecture_events)))).all())
        soon = session.exec(select(LectureVersion.lecture_id).where(
            col(LectureVersion.starts_at) >= datetime.combine(today, datetime.min.time()))).all()
        for rec in load(session, set(soon)):
            v = rec.current
            occ = rec.occurrences.get(v.id)
            if occ is None or rec.cancelled or rec.held is not None or v.starts_at.date() < today:
                continue
            a = _Active(rec, v, occ)
            self.active[v.event_id] = a
            if v.id in rec.filed and rules.decision_in_force(rec.decisions(v)) is None:
                self.pending[occ.id] = a

    def is_lecture(self, occ: Occurrence) -> bool:
        return occ.event_id is not None and occ.event_id in self.lecture_events

    def extend(self, items: Sequence[ReminderItem], occurrences: dict[int, Occurrence], propaganda: Sequence[str],
               policy: Callable[["Obligation"], "ReminderPolicy"]) -> tuple[list[ReminderItem], dict[int, Occurrence]]:
        out = []
        for item in items:
            occ = occurrences[int(item.occurrence)]
            if self.is_lecture(occ):
                if occ.event_id not in self.active:
                    occurrences.pop(occ.id, None)   # nothing left to apply for
                    continue
                told = tuple(dict.fromkeys((*item.audience.responsible, *propaganda)))
                item = replace(item, audience=replace(item.audience, responsible=told))
            out.append(item)
        cal = self.app.calendar
        for occ_id, a in self.pending.items():
            ob = self.app.obligations.get(a.version.obligation_key)
            if ob is None:
                continue
            due = rules.decision_due(a.version.starts_at.date(), cal)
            opens = min(a.rec.filed[a.version.id].date(), due.due)
            stage = stage_at(policy(ob), opens=opens, due=due.due, today=self.today, cal=cal)
            if stage is None:
                continue
            stage = replace(stage, id=PENDING + stage.id, provisional=stage.provisional or due.provisional)
            out.append(ReminderItem(str(occ_id), a.occurrence.unit_code, stage, Audience(tuple(propaganda))))
            occurrences[occ_id] = a.occurrence
        return out, occurrences

    def still_open(self, occurrence_id: int, stage: str, ordinary: bool) -> bool:
        """Whether an unsent reminder item still has something to tell (`ordinary`: the
        planner's answer for an occurrence not done and not waived)."""
        if stage.startswith(PENDING):
            return occurrence_id in self.pending
        if occurrence_id in self.events_of:
            return ordinary and self.events_of[occurrence_id] in self.active
        return ordinary


def describe(app: "App", session: Session, occs: Mapping[int, Occurrence],
             stages: Mapping[int, set[str]]) -> dict[int, dict[str, Any]]:
    """DigestItem fields for the lecture occurrences among `occs` (stages: the listed stages of
    each): what the lecture is, and for a pending application the department's task and its
    date. No query at all when none of them is an event."""
    events = {o.event_id: o for o in occs.values() if o.event_id is not None}
    if not events:
        return {}
    versions = session.exec(select(LectureVersion).where(col(LectureVersion.event_id).in_(list(events)))).all()
    if not versions:
        return {}
    names = dict(session.exec(select(Unit.code, Unit.name)).all())
    filed = counting_submissions(session, [events[v.event_id].id for v in versions])
    out: dict[int, dict[str, Any]] = {}
    for v in versions:
        occ = events[v.event_id]
        starts = Moment.of(v.starts_at, v.time_known).text()
        about = "、".join(x for x in (f"主讲人 {v.speaker}" if v.speaker else "",
                                      f"地点 {v.place}" if v.place else "") if x)
        topic = (f"涉及{rules.category_labels(v.categories.split(','))}" if v.categories
                 else "一般学术报告会、讲座")
        fields: dict[str, Any] = {"period_name": f"讲座 {v.lecture_id}《{v.title}》（{starts}）"}
        if any(s.startswith(PENDING) for s in stages.get(occ.id, ())):
            due = rules.decision_due(v.starts_at.date(), app.calendar)
            when = f"于 {min(filed[occ.id]):%Y-%m-%d} " if filed.get(occ.id) else ""
            fields.update(
                title="审批讲座、报告会申请（一会一报）", due=due.due, provisional=due.provisional,
                provisional_reasons=(HOLIDAYS,) if due.provisional else (),
                note="；".join(x for x in (f"{names.get(occ.unit_code, occ.unit_code)}{when}报审，待审批",
                                          topic, about, "请在活动前完成审批") if x))
        else:
            ob = app.obligations.get(occ.obligation_key)
            send = f"（需报送：{'、'.join(ob.evidence)}）" if ob is not None and ob.evidence else ""
            fields["note"] = "；".join(x for x in (topic, about, "尚未报党委宣传部审批，请在截止日期前报审" + send) if x)
        out[occ.id] = fields
    return out
