"""The score ledger: every score change of a unit on a scorecard item is a `ScoreEntry` row.

Nothing is edited in place. An entry values one *slot* of (unit, year, item):

| slot | kind | posted by |
|---|---|---|
| `<rule>:occurrence:<id>` | auto | `post_automatic`: an occurrence's share under a share rule |
| `<rule>:submission:<id>` | auto | `post_automatic`: a counted record (records rules) |
| `manual` | manual / unset | `set_score` (`ccal score set`), `--clear` lifts it |
| `finding:<id>` | finding | `add_finding` / `correct_finding` (`ccal finding ...`) |

The latest entry of a slot is in force; a correction is a new entry whose `corrects_id` names
the entry it replaces. Automatic entries are derived from what ccal tracks, but posted as rows
(idempotently: `post_automatic` adds a row only for a slot whose value or reason changed), so
the ledger shows when and why a score moved: a 1.2 report missing on 16 June (0), reported
late on 20 June (0.5, correcting the first row). The daemon runs it daily; `ccal score` runs it
before scoring.

Scores are computed by the pure `obligations.scoring.score_year` from these rows.
Deductions (findings) are told to the unit's secretary: `deductions_to_notify` lists the ones
not yet told and `mark_notified` records that they were, in `score_notice` (not on the row).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, insert, or_
from sqlmodel import Session, col, func, select

from obligations.occurrences import occurrence_status
from obligations.scorecard import Scorecard, scorecard_of
from obligations.scoring import (
    AUTO, FINDING, MANUAL, MANUAL_SLOT, PRECISION, UNSET, Entry, OccurrenceFact, ScoreReport,
    SubmissionFact, UnitRef, applies, automatic_postings, finding_slot, fmt_points, in_force,
    score_year, scope_of,
)
from scheduler.app import UserInputError
from scheduler.materialise import materialise
from scheduler.models import (
    Evidence, Finding, Occurrence, ScoreEntry, ScoreNotice, ScoreWatermark, Submission, Unit,
)
from scheduler.submissions import superseded_submission_ids
from scheduler.tracking import packs_fingerprint, recorded_years

if TYPE_CHECKING:
    from scheduler.app import App

log = logging.getLogger(__name__)

AUTO_RECORDER = "ccal"      # recorded_by of automatic entries and of findings ccal records itself
ASSESSED_KINDS = ("branch", "dept_branch", "office")


# --------------------------------------------------------------------------- the scorecard

def scorecards(app: "App") -> dict[str, Scorecard]:
    """Pack name -> scorecard, for the enabled packs that have one (validated here: a bad
    `[scorecard]` raises ScorecardError naming file, line, item and field)."""
    out = {}
    for pack in app.packs:
        card = scorecard_of(pack)
        if card is not None:
            out[pack.name] = card
    return out


def scorecard(app: "App", name: str | None = None) -> Scorecard:
    """The scorecard to use: `name` (a pack), else the only enabled one."""
    cards = scorecards(app)
    if name is not None:
        if name not in cards:
            known = "、".join(cards) or "无"
            raise UserInputError(f"规则包 {name} 没有考核评分体系（有评分体系的规则包：{known}）")
        return cards[name]
    if not cards:
        raise UserInputError("已启用的规则包中没有考核评分体系 [scorecard]（例如 jincheng-2020）")
    if len(cards) > 1:
        raise UserInputError(f"有多个考核评分体系（{'、'.join(cards)}），请用 --scorecard 指定")
    return next(iter(cards.values()))


def _check_year(year: int) -> None:
    if not 1900 <= year <= 2200:
        raise UserInputError(f"年度有误：{year}")


def _item_label(card: Scorecard, item_id: str) -> str:
    return f"{item_id} {card.title_of(item_id)}"


# --------------------------------------------------------------------------- facts and automatic entries

def _linked_keys(app: "App", card: Scorecard) -> set[str]:
    keys = {k for item in card.items for rule in item.rules for k in rule.obligations}
    return {k for k in keys if k in app.obligations}


def collect_facts(app: "App", session: Session, card: Scorecard, year: int,
                  as_of: date, units: Sequence[str] | None = None) -> tuple[list[OccurrenceFact], list[SubmissionFact]]:
    """The year's occurrences of the obligations the scorecard reads, with their status on
    `as_of`, and the submissions that count (of `units` only, when given). An occurrence
    belongs to the year of its due date (the autumn semester due in January counts in the
    assessment of that January's year). Related rows are read by subquery, not id lists."""
    keys = _linked_keys(app, card)
    if not keys:
        return [], []
    cond = [col(Occurrence.obligation_key).in_(sorted(keys)),
            col(Occurrence.due) >= date(year, 1, 1), col(Occurrence.due) <= date(year, 12, 31)]
    if units is not None:
        if not units:
            return [], []
        cond.append(col(Occurrence.unit_code).in_(list(units)))
    # Plain rows of the columns used: a province's year is 100,000 occurrences.
    occs = session.execute(select(Occurrence.id, Occurrence.unit_code, Occurrence.obligation_key,
                                  Occurrence.period, Occurrence.opens, Occurrence.due, Occurrence.required,
                                  Occurrence.waived).where(*cond)).all()
    if not occs:
        return [], []
    ids = select(Occurrence.id).where(*cond)
    rows = session.exec(select(Submission.id, Submission.occurrence_id, Submission.submitted_at,
                               Submission.withdrawn)
                        .where(col(Submission.occurrence_id).in_(ids))).all()
    superseded = superseded_submission_ids(session, ids)   # the record's rules: scheduler/submissions.py
    counting = [(sid, oid, at) for sid, oid, at, withdrawn in rows
                if not withdrawn and sid not in superseded and at.date() <= as_of]
    sub_ids = select(Submission.id).where(col(Submission.occurrence_id).in_(ids))
    files = dict(session.exec(select(Evidence.submission_id, func.count(Evidence.id))
                              .where(col(Evidence.submission_id).in_(sub_ids))
                              .group_by(Evidence.submission_id)).all()) if counting else {}
    waived = {o.id for o in occs if o.waived}     # the state column (refresh_occurrences)
    by_occ: dict[int, list[tuple[int, datetime]]] = defaultdict(list)
    for sid, oid, at in counting:
        by_occ[oid].append((sid, at))
    tz = app.config.general.tz
    by_id = {o.id: o for o in occs}
    occurrence_facts = []
    for o in occs:
        subs = by_occ.get(o.id, [])
        st = occurrence_status(o.opens, o.due, o.required, [at for _, at in subs], o.id in waived, as_of, tz=tz)
        occurrence_facts.append(OccurrenceFact(o.id, o.unit_code, o.obligation_key, o.period, o.due,
                                               st.state, st.completed_at,
                                               sum(files.get(sid, 0) for sid, _ in subs)))
    submission_facts = [SubmissionFact(sid, oid, by_id[oid].unit_code, by_id[oid].obligation_key,
                                       by_id[oid].period, at, files.get(sid, 0))
                        for sid, oid, at in counting]
    return occurrence_facts, submission_facts


def changed_units(app: "App", session: Session, card: Scorecard, year: int, as_of: date,
                  mark: ScoreWatermark) -> set[str]:
    """Units whose automatic entries may have moved since the posting `mark`: an occurrence
    of the scorecard's obligations due in `year` whose state changed (`state_changed_at`),
    whose window moved or that was created (`updated_at`), that fell due between the two
    as-of days (open -> overdue), or that got a submission row (a correction can move a date
    without changing the state). Stamps have one-second resolution, so the second of the
    last posting is read again (deriving a unit twice is harmless: postings are idempotent)."""
    keys = sorted(_linked_keys(app, card))
    if not keys:
        return set()
    in_year = (col(Occurrence.obligation_key).in_(keys), col(Occurrence.due) >= date(year, 1, 1),
               col(Occurrence.due) <= date(year, 12, 31))
    since = mark.posted_at - timedelta(seconds=1)   # one-second stamps: the posting's own second again
    units = set(session.exec(select(Occurrence.unit_code).where(
        *in_year, or_(col(Occurrence.state_changed_at) > since, col(Occurrence.updated_at) > since,
                      and_(col(Occurrence.due) >= mark.as_of, col(Occurrence.due) < as_of)))
        .distinct()).all())
    units |= set(session.exec(select(Occurrence.unit_code).join(
        Submission, col(Submission.occurrence_id) == col(Occurrence.id))
        .where(*in_year, col(Submission.recorded_at) > since).distinct()).all())
    return units


@dataclass(frozen=True)
class PostResult:
    posted: int           # new ledger rows
    unchanged: int        # slots already in force with the same value


_INSERT_BATCH = 2000     # ledger rows per INSERT of an automatic posting


def _entries(session: Session, card: Scorecard, year: int, *conditions) -> list[ScoreEntry]:
    return list(session.exec(select(ScoreEntry).where(
        ScoreEntry.scorecard == card.pack, ScoreEntry.year == year, *conditions)
        .order_by(col(ScoreEntry.id))).all())


def _latest_by_slot(rows: Iterable[ScoreEntry]) -> dict[tuple[str, str, str], ScoreEntry]:
    latest: dict[tuple[str, str, str], ScoreEntry] = {}
    for r in rows:
        latest[(r.unit_code, r.item, r.slot)] = r     # rows come in id order
    return latest


def post_automatic(app: "App", year: int, as_of: date, *, card: Scorecard | None = None,
                   session: Session | None = None, full: bool = False) -> PostResult:
    """Post the automatic entries of `year` as of `as_of`: one new row per slot whose value or
    reason changed since its entry in force. Idempotent. Runs in `session` if given.

    Only the units with a change since the last posting (`score_watermark`, `changed_units`)
    are derived again; the first posting of a year, a pack change, an earlier `as_of` or
    `full=True` derive every unit."""
    _check_year(year)
    card = card or scorecard(app)
    if session is None:
        with app.session() as s:
            return post_automatic(app, year, as_of, card=card, session=s, full=full)
    # Every occurrence due in the year: its periods start at most a year before (autumn
    # semester). A tracked year is materialised already; another is completed here, untracked.
    if year not in recorded_years(app, session):
        materialise(app, [year - 1, year], session=session, due_from=date(year, 1, 1), track=False)
    now = app.now()
    fp = packs_fingerprint(app)
    mark = session.get(ScoreWatermark, (card.pack, year))
    units = None
    if mark is not None and not full and mark.fingerprint == fp and as_of >= mark.as_of:
        units = changed_units(app, session, card, year, as_of, mark)
    if units is not None and not units:   # nothing changed: every slot in force stays as it is
        in_force = session.exec(select(func.count(func.distinct(ScoreEntry.slot))).where(
            ScoreEntry.scorecard == card.pack, ScoreEntry.year == year, ScoreEntry.kind == AUTO)).one()
        result = PostResult(0, in_force)
    else:
        result = _post(app, session, card, year, as_of, now, units)
    if mark is None:
        mark = ScoreWatermark(scorecard=card.pack, year=year, as_of=as_of, posted_at=now, fingerprint=fp)
    else:
        mark.as_of, mark.posted_at, mark.fingerprint = as_of, now, fp
    session.add(mark)
    session.flush()
    return result


def _post(app: "App", session: Session, card: Scorecard, year: int, as_of: date, now: datetime,
          units: set[str] | None) -> PostResult:
    occs, subs = collect_facts(app, session, card, year, as_of, None if units is None else sorted(units))
    titles = {k: ob.title for k, ob in app.obligations.items()}
    postings = automatic_postings(card, occs, subs, titles)
    conditions = [ScoreEntry.kind == AUTO]
    if units is not None:
        conditions.append(col(ScoreEntry.unit_code).in_(sorted(units)))
    # Plain rows in, plain INSERTs out (in batches): the first posting of a province's year is
    # 50,000 entries, which as ORM objects held the whole pass's memory.
    current = _latest_by_slot(session.execute(
        select(*ScoreEntry.__table__.columns).where(
            ScoreEntry.scorecard == card.pack, ScoreEntry.year == year, *conditions)
        .order_by(col(ScoreEntry.id))).all())
    batch: list[dict] = []
    posted = unchanged = 0

    def add(**entry) -> None:
        nonlocal posted
        batch.append({"scorecard": card.pack, "year": year, "kind": AUTO, "recorded_by": AUTO_RECORDER,
                      "recorded_at": now, **entry})
        posted += 1
        if len(batch) >= _INSERT_BATCH:
            session.execute(insert(ScoreEntry.__table__), batch)
            batch.clear()

    seen = set()
    for p in postings:
        k = (p.unit, p.item, p.slot)
        seen.add(k)
        cur = current.get(k)
        same = cur is not None and round(cur.points, PRECISION) == p.points and cur.reason == p.reason
        if same or (cur is None and not p.settled):
            unchanged += int(same)
            continue
        add(unit_code=p.unit, item=p.item, rule=p.rule, slot=p.slot, points=p.points, reason=p.reason,
            source_kind=p.source_kind, source_id=p.source_id, corrects_id=cur.id if cur else None)
    for k, cur in current.items():
        if k in seen or (cur.points == 0 and cur.reason.endswith("不再计分")):
            continue
        what = "提交记录已撤回或被更正" if cur.source_kind == "submission" else "该事项不再计入本年度"
        add(unit_code=cur.unit_code, item=cur.item, rule=cur.rule, slot=cur.slot, points=0.0,
            reason=f"{what}，不再计分", source_kind=cur.source_kind, source_id=cur.source_id,
            corrects_id=cur.id)
    if batch:
        session.execute(insert(ScoreEntry.__table__), batch)
    return PostResult(posted, unchanged)


# --------------------------------------------------------------------------- units

def unit_refs(session: Session) -> list[UnitRef]:
    return [UnitRef(u.code, u.name, u.kind, u.parent_code)
            for u in session.exec(select(Unit).order_by(Unit.code)).all()]


def _assessed_unit(app: "App", session: Session, code: str) -> tuple[Unit, list[UnitRef]]:
    unit = app.unit(session, code)
    if unit.kind not in ASSESSED_KINDS:
        raise UserInputError(f"单位 {unit.code}（{unit.name}）不参加考核：考核对象为党支部、系党支部和处室")
    return unit, unit_refs(session)


def _check_applies(card: Scorecard, item_id: str, unit: Unit, refs: list[UnitRef]) -> None:
    """An item that does not apply to the unit (nor, for a branch, to any of its offices)
    would be recorded and never counted: refuse it."""
    item = card.item(item_id)
    if item is None:
        return
    by_code = {r.code: r for r in refs}
    candidates = [by_code[unit.code]]
    if unit.kind == "branch":
        candidates += [r for r in refs if r.parent == unit.code and r.kind == "office"]
    if not any(applies(item, c, scope_of(c, by_code)) for c in candidates):
        raise UserInputError(f"考核项目 {_item_label(card, item_id)} 不适用于单位 {unit.code}（{unit.name}）")


# --------------------------------------------------------------------------- manual scores

def set_score(app: "App", unit_code: str, year: int, item_id: str, points: float | None, reason: str,
              *, recorded_by: str = "", clear: bool = False, card: Scorecard | None = None) -> ScoreEntry:
    """The assessor's score for an item (or the bonus): a new `manual` entry that replaces the
    rules' result for the item. `clear=True` lifts the manual score (a new `unset` entry)."""
    _check_year(year)
    card = card or scorecard(app)
    if not reason or not reason.strip():
        raise UserInputError("人工评分必须说明理由 (--reason)")
    if item_id == card.negative.id:
        raise UserInputError(f"{_item_label(card, item_id)}按发现的问题扣分，请用 ccal finding add")
    if item_id == card.bonus.id:
        maximum = card.bonus.max
    else:
        item = card.item(item_id)
        if item is None:
            raise UserInputError(f"未知考核项目：{item_id}（{', '.join(card.item_ids)}）")
        maximum = item.points
    if not clear:
        if points is None:
            raise UserInputError("请给出分数 (--points)")
        if not 0 <= points <= maximum:
            raise UserInputError(f"{_item_label(card, item_id)}的分数应在 0 到 {fmt_points(maximum)} 之间，"
                                 f"给出的是 {fmt_points(points)}")
    with app.session() as session:
        unit, refs = _assessed_unit(app, session, unit_code)
        _check_applies(card, item_id, unit, refs)
        cur = _latest_by_slot(_entries(session, card, year, ScoreEntry.unit_code == unit.code,
                                       ScoreEntry.item == item_id, ScoreEntry.slot == MANUAL_SLOT))
        previous = next(iter(cur.values()), None)
        if clear and (previous is None or previous.kind != MANUAL):
            raise UserInputError(f"{unit.code} {year} 年度 {_item_label(card, item_id)}没有人工评分可撤销")
        text = reason.strip()
        entry = ScoreEntry(
            scorecard=card.pack, unit_code=unit.code, year=year, item=item_id, rule="", slot=MANUAL_SLOT,
            points=0.0 if clear else round(float(points), PRECISION),
            reason=f"撤销人工评分：{text}" if clear else f"人工评分：{text}",
            kind=UNSET if clear else MANUAL, source_kind="manual", recorded_by=recorded_by,
            recorded_at=app.now(), corrects_id=previous.id if previous else None)
        session.add(entry)
        session.flush()
        return entry


# --------------------------------------------------------------------------- findings

@dataclass(frozen=True)
class FindingRecord:
    finding: Finding
    entry: ScoreEntry
    created: bool = True      # False: a finding with the same key was already recorded


def _finding_reason(card: Scorecard, f: Finding, counted: str) -> str:
    count = f"，{f.count}{counted}" if f.count != 1 else ""
    return f"{f.found_on.isoformat()} 发现：{f.description}{count}，扣{fmt_points(f.deduct)}分"


def _counted(card: Scorecard, item_id: str) -> str:
    item = card.item(item_id)
    rule = item.deduction_rule if item else None
    return rule.counted if rule else "处"


def _default_deduct(card: Scorecard, item_id: str, count: int) -> float | None:
    item = card.item(item_id)
    rule = item.deduction_rule if item else None
    return rule.per_finding * count if rule else None


def add_finding(app: "App", unit_code: str, item_id: str, description: str, *, year: int | None = None,
                found_on: date | None = None, count: int = 1, deduct: float | None = None,
                source_kind: str = "inspection", source_id: int | None = None, key: str | None = None,
                recorded_by: str = "", card: Scorecard | None = None,
                session: Session | None = None) -> FindingRecord:
    """Record a violation found in an inspection (or detected by ccal) and its deduction.

    `deduct` defaults to the item's deductions rule: per_finding x count (4.3: 1 per 处; 3.2:
    0.5 per person); items without one (and the negative list) need it. `key` makes the call
    idempotent for automatic findings (e.g. "lecture:12:未批先办"): a second call with the same
    key returns the first finding. Runs in `session` if given (the caller commits)."""
    card = card or scorecard(app)
    if session is None:
        with app.session() as s:
            return add_finding(app, unit_code, item_id, description, year=year, found_on=found_on,
                               count=count, deduct=deduct, source_kind=source_kind, source_id=source_id,
                               key=key, recorded_by=recorded_by, card=card, session=s)
    if item_id == card.bonus.id:
        raise UserInputError(f"{_item_label(card, item_id)}是加分项，请用 ccal score set")
    if item_id not in card.item_ids:
        raise UserInputError(f"未知考核项目：{item_id}（{', '.join(card.item_ids)}）")
    if not description or not description.strip():
        raise UserInputError("请说明发现的问题 (--text)")
    if count < 1:
        raise UserInputError(f"--count 应为正整数，给出的是 {count}")
    if key is not None:
        existing = session.exec(select(Finding).where(Finding.key == key)).first()
        if existing is not None:
            entry = _latest_by_slot(_entries(session, card, existing.year, ScoreEntry.unit_code == existing.unit_code,
                                             ScoreEntry.slot == finding_slot(existing.id)))
            return FindingRecord(existing, next(iter(entry.values())), created=False)
    if deduct is None:
        deduct = _default_deduct(card, item_id, count)
        if deduct is None:
            raise UserInputError(f"{_item_label(card, item_id)}没有统一的扣分标准，请用 --deduct 指明扣几分")
    if deduct <= 0:
        raise UserInputError(f"扣分应大于 0，给出的是 {fmt_points(deduct)}（撤销已记录的问题请用 ccal finding correct）")
    found_on = found_on or app.today()
    year = year if year is not None else found_on.year
    _check_year(year)
    unit, refs = _assessed_unit(app, session, unit_code)
    if item_id != card.negative.id:
        _check_applies(card, item_id, unit, refs)
    now = app.now()
    f = Finding(scorecard=card.pack, unit_code=unit.code, year=year, item=item_id, found_on=found_on,
                description=description.strip(), count=count, deduct=round(float(deduct), PRECISION),
                source_kind=source_kind, source_id=source_id, key=key, recorded_by=recorded_by,
                recorded_at=now)
    session.add(f)
    session.flush()
    entry = ScoreEntry(scorecard=card.pack, unit_code=unit.code, year=year, item=item_id, rule="",
                       slot=finding_slot(f.id), points=-f.deduct,
                       reason=_finding_reason(card, f, _counted(card, item_id)), kind=FINDING,
                       source_kind="finding", source_id=f.id, recorded_by=recorded_by, recorded_at=now)
    session.add(entry)
    session.flush()
    return FindingRecord(f, entry)


def _chain_root(session: Session, f: Finding) -> Finding:
    while f.corrects_id is not None:
        f = session.get(Finding, f.corrects_id)
    return f


def correct_finding(app: "App", finding_id: int, reason: str, *, deduct: float | None = None,
                    count: int | None = None, description: str | None = None, recorded_by: str = "",
                    card: Scorecard | None = None) -> FindingRecord:
    """Correct a finding: a new Finding row (`corrects_id`) and a new ledger entry for its slot.
    `deduct=0` withdraws the deduction. Only the latest row of a chain can be corrected."""
    card = card or scorecard(app)
    if not reason or not reason.strip():
        raise UserInputError("更正必须说明原因 (--reason)")
    with app.session() as session:
        old = session.get(Finding, finding_id)
        if old is None or old.scorecard != card.pack:
            raise UserInputError(f"未知问题记录：{finding_id}")
        later = session.exec(select(Finding.id).where(Finding.corrects_id == finding_id)).first()
        if later is not None:
            raise UserInputError(f"问题记录 {finding_id} 已被记录 {later} 更正；请对 {later} 操作")
        count = old.count if count is None else count
        if count < 1:
            raise UserInputError(f"--count 应为正整数，给出的是 {count}")
        if deduct is None:
            per = _default_deduct(card, old.item, count)
            deduct = per if per is not None and count != old.count else old.deduct
        if deduct < 0:
            raise UserInputError(f"扣分不能为负数，给出的是 {fmt_points(deduct)}")
        root = _chain_root(session, old)
        now = app.now()
        f = Finding(scorecard=card.pack, unit_code=old.unit_code, year=old.year, item=old.item,
                    found_on=old.found_on, description=(description or old.description).strip(), count=count,
                    deduct=round(float(deduct), PRECISION), source_kind=old.source_kind, source_id=old.source_id,
                    recorded_by=recorded_by, recorded_at=now, corrects_id=old.id)
        session.add(f)
        session.flush()
        slot = finding_slot(root.id)
        cur = _latest_by_slot(_entries(session, card, old.year, ScoreEntry.unit_code == old.unit_code,
                                       ScoreEntry.item == old.item, ScoreEntry.slot == slot))
        previous = next(iter(cur.values()), None)
        what = "撤销扣分" if f.deduct == 0 else "更正"
        entry = ScoreEntry(scorecard=card.pack, unit_code=old.unit_code, year=old.year, item=old.item, rule="",
                           slot=slot, points=-f.deduct,
                           reason=f"{what}（{reason.strip()}）：{_finding_reason(card, f, _counted(card, old.item))}",
                           kind=FINDING, source_kind="finding", source_id=f.id, recorded_by=recorded_by,
                           recorded_at=now, corrects_id=previous.id if previous else None)
        session.add(entry)
        session.flush()
        return FindingRecord(f, entry)


# --------------------------------------------------------------------------- findings that follow a record

@dataclass
class SyncResult:
    """What one reconciliation of automatic findings (lecture violations, overdue orders) did."""
    added: list[int] = field(default_factory=list)        # finding ids (new, or corrected back on)
    withdrawn: list[int] = field(default_factory=list)    # finding ids (the correcting rows)
    skipped: list[str] = field(default_factory=list)      # why a finding could not be posted


def latest_findings(session: Session, source_kind: str, source_ids: Sequence[int]) -> dict[str, Finding]:
    """Root key -> the latest row of its correction chain, for the automatic (keyed) findings of
    `source_kind` ("lecture", "order") about `source_ids`."""
    rows = session.exec(select(Finding).where(Finding.source_kind == source_kind,
                                              col(Finding.source_id).in_(list(source_ids)))
                        .order_by(col(Finding.id))).all()
    latest: dict[str, Finding] = {}
    root_key: dict[int, str] = {}
    for f in rows:
        key = f.key if f.corrects_id is None else root_key.get(f.corrects_id)
        if key is None:
            continue
        root_key[f.id] = key
        latest[key] = f
    return latest


def reconcile_finding(app: "App", card: Scorecard, latest: Finding | None, want: bool,
                      add: Callable[[], FindingRecord], *, reason_off: str, reason_on: str,
                      result: SyncResult, what: str, deduct: float | None = None) -> None:
    """Make the automatic finding behind one key say what its record says (scheduler/lectures.py,
    scheduler/orders.py): posted when `want` (`add()` records it), withdrawn (a correction to 0,
    `reason_off`) when not. A withdrawn one that applies again is corrected back to `deduct`
    (default: the item's per-finding deduction x count; `reason_on`). A finding the ledger
    refuses (e.g. the unit is not assessed) is reported in `result.skipped`, prefixed `what`."""
    try:
        if want:
            if latest is None:
                result.added.append(add().finding.id)
            elif latest.deduct == 0:
                again = deduct if deduct is not None else _default_deduct(card, latest.item, latest.count)
                if again:
                    r = correct_finding(app, latest.id, reason_on, deduct=again, recorded_by=AUTO_RECORDER,
                                        card=card)
                    result.added.append(r.finding.id)
        elif latest is not None and latest.deduct > 0:
            r = correct_finding(app, latest.id, reason_off, deduct=0, recorded_by=AUTO_RECORDER, card=card)
            result.withdrawn.append(r.finding.id)
    except UserInputError as e:      # say so and go on with the other findings
        result.skipped.append(f"{what}：{e}")
        log.warning("%s: finding not posted: %s", what, e)


# --------------------------------------------------------------------------- reading

def _as_entry(r: ScoreEntry) -> Entry:
    return Entry(id=r.id, unit=r.unit_code, item=r.item, slot=r.slot, points=r.points, reason=r.reason,
                 kind=r.kind, rule=r.rule, recorded_at=r.recorded_at, recorded_by=r.recorded_by,
                 source_kind=r.source_kind, source_id=r.source_id)


def score(app: "App", year: int, as_of: date, *, unit: str | None = None, post: bool = True,
          card: Scorecard | None = None) -> ScoreReport:
    """The year's scores: automatic entries posted first (as of `as_of`) unless `post=False`,
    then every assessed unit scored and ranked (`unit` only checks that the unit exists; the
    report always holds every unit, since a rank depends on all of them)."""
    _check_year(year)
    card = card or scorecard(app)
    with app.session() as session:
        if unit is not None:
            app.unit(session, unit)
        if post:
            post_automatic(app, year, as_of, card=card, session=session)
        refs = unit_refs(session)
        entries = [_as_entry(r) for r in _entries(session, card, year)]
    return score_year(card, year, refs, entries)


def ledger_rows(app: "App", year: int, *, unit: str | None = None, item: str | None = None,
                card: Scorecard | None = None) -> list[dict[str, Any]]:
    """The ledger of `year` (every row, oldest first) with `in_force` marking the rows that count."""
    _check_year(year)
    card = card or scorecard(app)
    with app.session() as session:
        conditions = []
        if unit is not None:
            conditions.append(ScoreEntry.unit_code == app.unit(session, unit).code)
        if item is not None:
            conditions.append(ScoreEntry.item == item)
        rows = _entries(session, card, year, *conditions)
        names = dict(session.exec(select(Unit.code, Unit.name)).all())
    live = {e.id for e in in_force(_as_entry(r) for r in rows).values()}
    return [{"id": r.id, "unit": r.unit_code, "unit_name": names.get(r.unit_code, ""), "year": r.year,
             "item": r.item, "item_title": card.title_of(r.item), "kind": r.kind, "points": r.points,
             "reason": r.reason, "source_kind": r.source_kind, "source_id": r.source_id,
             "recorded_by": r.recorded_by, "recorded_at": r.recorded_at, "corrects": r.corrects_id,
             "in_force": r.id in live} for r in rows]


# --------------------------------------------------------------------------- telling units of deductions

@dataclass(frozen=True)
class DeductionNotice:
    """A deduction in force not yet told to the unit (a line in its secretary's next digest)."""
    entry_id: int
    unit: str
    year: int
    item: str
    item_title: str
    points: float          # < 0
    reason: str
    recorded_at: datetime

    @property
    def line(self) -> str:
        return (f"{self.year}年度意识形态工作责任制考核 {self.item} {self.item_title}："
                f"扣{fmt_points(-self.points)}分（{self.reason}）")


def deductions_to_notify(session: Session, cards: Sequence[Scorecard], *,
                         units: Sequence[str] | None = None) -> list[DeductionNotice]:
    """Deductions (finding entries with negative points) that are in force and not yet told to
    anyone (no `score_notice` row), oldest first. A corrected deduction is a new entry, told again; one
    corrected before it was told is told once, as corrected."""
    by_pack = {c.pack: c for c in cards}
    if not by_pack:
        return []
    told = select(ScoreNotice.entry_id)
    q = (select(ScoreEntry).where(ScoreEntry.kind == FINDING, col(ScoreEntry.points) < 0,
                                  col(ScoreEntry.scorecard).in_(list(by_pack)),
                                  col(ScoreEntry.id).not_in(told))
         .order_by(col(ScoreEntry.id)))
    if units is not None:
        q = q.where(col(ScoreEntry.unit_code).in_(list(units)))
    rows = session.exec(q).all()
    if not rows:
        return []
    replaced = _replaced(session, [r.id for r in rows])
    return [_notice(r, by_pack) for r in rows if r.id not in replaced]


def _notice(r: ScoreEntry, by_pack: dict[str, Scorecard]) -> DeductionNotice:
    return DeductionNotice(r.id, r.unit_code, r.year, r.item, by_pack[r.scorecard].title_of(r.item),
                           r.points, r.reason, r.recorded_at)


def _replaced(session: Session, entry_ids: Sequence[int]) -> set[int]:
    """The entries among `entry_ids` that a later entry corrects (no longer in force)."""
    if not entry_ids:
        return set()
    return set(session.exec(select(ScoreEntry.corrects_id).where(
        col(ScoreEntry.corrects_id).in_(list(entry_ids)))).all())


def told_in(session: Session, cards: Sequence[Scorecard], outbox_id: int) -> list[DeductionNotice]:
    """The deductions put into the outbox message `outbox_id` (`mark_notified(..., outbox_id=)`)
    that are still in force, oldest first. One corrected or withdrawn before the message went
    out is left out: its correction, if any, is a deduction of its own, told on its own."""
    by_pack = {c.pack: c for c in cards}
    rows = session.exec(select(ScoreEntry).join(ScoreNotice, col(ScoreNotice.entry_id) == col(ScoreEntry.id))
                        .where(ScoreNotice.outbox_id == outbox_id).order_by(col(ScoreEntry.id))).all()
    replaced = _replaced(session, [r.id for r in rows])
    return [_notice(r, by_pack) for r in rows if r.id not in replaced and r.scorecard in by_pack]


def messages_with_replaced_deductions(session: Session, outbox_ids) -> set[int]:
    """Among `outbox_ids` (a list or a SELECT of ids), the messages that carry a deduction
    corrected or withdrawn since it was put there: to be rendered again before they go out."""
    corrected = select(ScoreEntry.corrects_id).where(col(ScoreEntry.corrects_id).is_not(None))
    return set(session.exec(select(ScoreNotice.outbox_id).where(
        col(ScoreNotice.outbox_id).in_(outbox_ids), col(ScoreNotice.entry_id).in_(corrected))).all())


def mark_notified(session: Session, entry_ids: Iterable[int], now: datetime, *,
                  person_id: int | None = None, channel: str = "", outbox_id: int | None = None) -> int:
    """Record that these deductions were told to `person_id` on `channel` (in the outbox
    message `outbox_id`). Once per entry, person and channel; returns the rows added."""
    ids = sorted(set(entry_ids))
    if not ids:
        return 0
    q = select(ScoreNotice.entry_id).where(col(ScoreNotice.entry_id).in_(ids), ScoreNotice.channel == channel)
    q = q.where(col(ScoreNotice.person_id).is_(None) if person_id is None else ScoreNotice.person_id == person_id)
    done = set(session.exec(q).all())
    new = [ScoreNotice(entry_id=i, person_id=person_id, channel=channel, outbox_id=outbox_id, notified_at=now)
           for i in ids if i not in done]
    session.add_all(new)
    session.flush()
    return len(new)
