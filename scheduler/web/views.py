"""What the pages show, as plain data: a unit's year sorted into the secretary's sections, one
occurrence with its submissions, the staff overview. No web framework here; statuses come from
`scheduler.queries` / `scheduler.submissions`, so the pages and the CLI agree."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, func, select

from notifiers.rendering import cn_date, period_name
from obligations.occurrences import occurrence_status
from scheduler import queries, reviews
from scheduler.models import Event, Occurrence, RoleAssignment, Unit, UNIT_KINDS
from scheduler.submissions import counting_submissions, waived_occurrences

if TYPE_CHECKING:
    from obligations.packs import Obligation
    from scheduler.app import App

# Sections of 我的事项, in the order shown.
SECTIONS = (
    ("returned", "已退回（请修改后重新提交）"),
    ("overdue", "已逾期"),
    ("open", "待完成"),
    ("coming", "即将开始"),
    ("done", "已完成"),
    ("waived", "已豁免"),
)
STATE_WORDS = {"upcoming": "未开始", "open": "进行中", "overdue": "已逾期", "done": "已完成",
               "late": "逾期完成", "waived": "已豁免"}
REVIEW_WORDS = {"pending": "已提交，待审核", "accepted": "审核通过", "returned": "已退回",
                "replaced": "已更正"}
# Titles of the source documents the packs cite (a pack names its own document in `title`).
KNOWN_SOURCES = {
    "000_518fc08228bb2f65.txt": "中共晋城职业技术学院委员会 落实意识形态工作责任制情况通报",
}
RESPONSIBLE_ROLES = ("secretary", "head", "propaganda")


def citation(app: "App", ob: "Obligation") -> str:
    """The citation as people read it: the document's title, the clause, the quoted words."""
    title = KNOWN_SOURCES.get(ob.citation.source)
    if title is None:
        title = next((p.title for p in app.packs if getattr(p, "source", None) == ob.citation.source), None)
    if title is None:
        title = next((p.title for p in app.packs if p.name == ob.pack), ob.pack)
    return f"《{title}》{ob.citation.clause}：“{ob.citation.quote}”"


def person_units(session: Session, person_id: int) -> list[Unit]:
    """The units a person answers for (secretary, head or propaganda contact): what their link opens."""
    codes = session.exec(select(RoleAssignment.unit_code).where(
        RoleAssignment.person_id == person_id, col(RoleAssignment.role).in_(RESPONSIBLE_ROLES))).all()
    if not codes:
        return []
    return list(session.exec(select(Unit).where(col(Unit.code).in_(set(codes))).order_by(Unit.code)).all())


def supervised_units(session: Session, person_id: int) -> list[Unit]:
    """Units the person hears of on escalation as their supervisor (the planner's Directory:
    the unit's `supervisor`, else the secretary of its parent unit). Their link reads these
    units too, without submitting for them."""
    explicit = set(session.exec(select(RoleAssignment.unit_code).where(
        RoleAssignment.person_id == person_id, RoleAssignment.role == "supervisor")).all())
    led = set(session.exec(select(RoleAssignment.unit_code).where(
        RoleAssignment.person_id == person_id, RoleAssignment.role == "secretary")).all())
    with_supervisor = set(session.exec(select(RoleAssignment.unit_code).where(
        RoleAssignment.role == "supervisor")).all())
    children = set(session.exec(select(Unit.code).where(col(Unit.parent_code).in_(led))).all()) if led else set()
    codes = explicit | (children - with_supervisor)
    own = {u.code for u in person_units(session, person_id)}
    codes -= own
    if not codes:
        return []
    return list(session.exec(select(Unit).where(col(Unit.code).in_(codes)).order_by(Unit.code)).all())


def unit_people(session: Session, code: str) -> list[tuple[Any, str]]:
    """(person, role word) of a unit, for the staff's unit page."""
    from scheduler.models import ROLES, Person
    rows = session.exec(select(Person, RoleAssignment.role).join(
        RoleAssignment, col(RoleAssignment.person_id) == col(Person.id)).where(
        RoleAssignment.unit_code == code).order_by(col(RoleAssignment.id))).all()
    return [(p, ROLES.get(role, role)) for p, role in rows]


@dataclass
class Row:
    id: int
    title: str
    period: str
    due: str
    opens: str
    provisional: bool
    state: str
    state_word: str
    progress: str
    required: int
    section: str
    review: str = ""          # the latest submission's review state word
    reason: str = ""          # why it was returned
    citation: str = ""


@dataclass
class UnitYearView:
    code: str
    name: str
    year: int
    sections: list[tuple[str, str, list[Row]]] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)


def unit_year_view(app: "App", session: Session, code: str, year: int, as_of: date) -> UnitYearView:
    # queries never write: a year nobody tracks is computed on the fly (scheduler/tracking.py);
    # its rows have no stored occurrence, so they are shown without a submit form.
    uy = queries.unit_year(app, code, year, as_of)
    ids = {(o.obligation_key, o.period): o.id for o in session.exec(
        select(Occurrence).where(Occurrence.unit_code == code)).all()}
    hist = reviews.history(session, list(ids.values()))
    by_section: dict[str, list[Row]] = {k: [] for k, _ in SECTIONS}
    for r in uy.rows:
        oid = ids.get((r["obligation"], r["period"]))
        if oid is None:
            continue
        ob = app.obligations[r["obligation"]]
        latest = (hist.get(oid) or [None])[0]
        state = r["status"]
        returned = latest is not None and latest["state"] == "returned" and state in ("open", "overdue", "upcoming")
        section = ("returned" if returned else "waived" if state == "waived" else
                   "done" if state in ("done", "late") else "coming" if state == "upcoming" else state)
        by_section[section].append(Row(
            id=oid, title=ob.title, period=period_name(r["period"]), due=cn_date(r["due"]),
            opens=cn_date(r["opens"]), provisional=r["provisional"], state=state,
            state_word=STATE_WORDS.get(state, state), progress=r.get("progress", ""),
            required=r["required"], section=section,
            review=REVIEW_WORDS.get(latest["state"], "") if latest else "",
            reason=latest["review"].reason if returned and latest["review"] else "",
            citation=citation(app, ob)))
    view = UnitYearView(uy.unit, uy.unit_name, year)
    view.sections = [(k, label, by_section[k]) for k, label in SECTIONS if by_section[k]]
    view.totals = {k: len(by_section[k]) for k, _ in SECTIONS}
    return view


@dataclass
class OccurrenceView:
    occ: Occurrence
    unit: Unit
    ob: Any
    title: str
    period: str
    status: Any
    state_word: str
    progress: str
    citation: str
    submissions: list[dict]
    waived: bool
    event: Event | None
    order: dict | None = None      # a supervision order (督办单): its text, issue date, deadline


def occurrence_view(app: "App", session: Session, occ: Occurrence, as_of: date) -> OccurrenceView:
    ob = app.obligations[occ.obligation_key]
    subs = counting_submissions(session, [occ.id]).get(occ.id, [])
    waived = occ.id in waived_occurrences(session, [occ.id])
    st = occurrence_status(occ.opens, occ.due, occ.required, subs, waived, as_of, tz=app.config.general.tz)
    event = session.get(Event, occ.event_id) if occ.event_id else None
    return OccurrenceView(
        occ=occ, unit=session.get(Unit, occ.unit_code), ob=ob, title=ob.title,
        period=(f"{event.title or '活动'}（{event.date.isoformat()}）" if event else period_name(occ.period)),
        status=st, state_word=STATE_WORDS.get(st.state, st.state),
        progress=queries.progress_text(st, occ.due, as_of), citation=citation(app, ob),
        submissions=reviews.history(session, [occ.id]).get(occ.id, []), waived=waived, event=event,
        order=_order(app, occ, as_of))


def _order(app: "App", occ: Occurrence, as_of: date) -> dict | None:
    from scheduler import orders
    order_id = orders.order_id_of(occ.period) if ob_kind(app, occ) == "ad_hoc" else None
    return orders.show(app, order_id, as_of) if order_id is not None else None


def ob_kind(app: "App", occ: Occurrence) -> str:
    return app.obligations[occ.obligation_key].schedule.kind


# --------------------------------------------------------------------------- staff matrix

CELL_WORDS = {"done": "完成", "late": "逾期完成", "open": "进行中", "overdue": "逾期", "returned": "退回",
              "waived": "豁免", "upcoming": "未开始"}


@dataclass
class Matrix:
    columns: list[tuple[str, str]]                 # (obligation key, title)
    rows: list[tuple[Unit, dict[str, tuple[int, str]], Counter]]   # unit, {key: (occ id, state)}, counts
    column_counts: dict[str, Counter]
    total: int


def matrix(app: "App", session: Session, as_of: date, *, kind: str | None = None, query: str = "",
           page: int = 1, per_page: int = 50) -> Matrix:
    """Units (paged, filtered) × obligations: each cell the unit's current occurrence of the
    obligation, i.e. the latest one that has opened by `as_of`, with its state (returned when
    a submission was returned and nothing counts since). Counts per unit and per obligation are
    over the units of the page; each unit's counts also hold "earlier_overdue", its occurrences
    of earlier periods (opened since last year) still overdue."""
    from scheduler.models import Submission, SubmissionReview
    q = select(Unit)
    if kind in UNIT_KINDS:
        q = q.where(Unit.kind == kind)
    if query:
        like = f"%{query}%"
        q = q.where(col(Unit.name).like(like) | col(Unit.code).like(like))
    total = session.exec(select(func.count()).select_from(q.subquery())).one()
    units = list(session.exec(q.order_by(Unit.code).offset((page - 1) * per_page).limit(per_page)).all())
    codes = [u.code for u in units]
    if not codes:
        return Matrix([], [], {}, total)
    # Looking is free: a page never materialises (the daemon, `ccal init` and `ccal org import`
    # keep the tracked years; scheduler/tracking.py).
    occs = session.exec(select(Occurrence).where(
        col(Occurrence.unit_code).in_(codes), col(Occurrence.opens) <= as_of,
        col(Occurrence.opens) >= date(as_of.year - 1, 1, 1))).all()
    current: dict[tuple[str, str], Occurrence] = {}
    for o in occs:
        ob = app.obligations.get(o.obligation_key)
        if ob is None or ob.schedule.kind in ("event", "ad_hoc"):
            continue        # lectures and orders have their own pages
        k = (o.unit_code, o.obligation_key)
        if k not in current or (o.opens, o.due) > (current[k].opens, current[k].due):
            current[k] = o
    ids = [o.id for o in current.values()]
    subs = counting_submissions(session, ids)
    waived = waived_occurrences(session, ids)
    returned = set(session.exec(select(Submission.occurrence_id).join(
        SubmissionReview, col(SubmissionReview.submission_id) == col(Submission.id)).where(
        SubmissionReview.decision == "returned", col(Submission.occurrence_id).in_(ids))).all()) if ids else set()
    tz = app.config.general.tz
    cells: dict[str, dict[str, tuple[int, str]]] = {c: {} for c in codes}
    column_counts: dict[str, Counter] = {}
    for (unit, key), o in current.items():
        state = occurrence_status(o.opens, o.due, o.required, subs.get(o.id, ()), o.id in waived, as_of,
                                  tz=tz).state
        if state in ("open", "overdue") and o.id in returned:
            state = "returned"
        cells[unit][key] = (o.id, state)
        column_counts.setdefault(key, Counter())[state] += 1
    columns = sorted(column_counts, key=lambda k: (app.obligations[k].pack, k))
    rows = [(u, cells[u.code], Counter(s for _, s in cells[u.code].values())) for u in units]
    # Earlier periods still overdue (the state columns): a cell shows only the current period.
    shown = set(ids)
    earlier = Counter(o.unit_code for o in occs if o.id not in shown and o.is_open and o.due < as_of
                      and o.obligation_key in app.obligations
                      and app.obligations[o.obligation_key].schedule.kind not in ("event", "ad_hoc"))
    for u, _, counts in rows:
        counts["earlier_overdue"] = earlier[u.code]
    return Matrix([(k, app.obligations[k].title) for k in columns], rows, column_counts, total)
