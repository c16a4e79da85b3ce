"""Supervision orders (督办单, 限期整改; seed 001 clause 19: "列出问题督办清单,责令所在部门限期整改").

An order is a one-off obligation of one unit: an `Order` row plus the occurrence `O<id>` of an
`ad_hoc` obligation (henan-2023.19.order in the bundled packs) that opens the day it is issued
and is due on the rectification deadline. From there it is an occurrence like any other: the
reminder service reminds the unit's responsible person and escalates when it is overdue;
`ccal submit henan-2023.19.order --unit JWC --period O3 --evidence 整改报告.pdf` closes it, and
`ccal order close 3 --evidence ...` calls the same code; `ccal waive` withdraws it.

Overdue orders feed the scorecard as the pack defines: the order obligation's `scorecard`
item when it has a deductions rule, or the item the issuer names (`--item`). Each order that
became overdue (closed late or not at all) is one finding there (key "order:<id>:逾期"), dated
the day after the deadline, in the deadline's year; an order closed on time or waived has none.
An obligation linked to a share rule (completion, on_time) needs no finding: its occurrences
are scored by `scheduler.ledger.post_automatic` like any other. `record_overdue` posts and
withdraws these findings; it runs in the service's daily score step and every `ccal tick`
(scheduler/service.py: `keep_score`), after `ccal order close` and in `ccal order list`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from obligations.occurrences import occurrence_status
from obligations.packs import unit_kind_name
from scheduler.app import UserInputError
from scheduler.ledger import (AUTO_RECORDER, SyncResult, add_finding, latest_findings, reconcile_finding,
                              scorecard, scorecards)
from scheduler.materialise import applies_to_unit
from scheduler.models import Occurrence, Order, Unit
from scheduler.submissions import SubmissionRecord, counting_submissions, submit, waived_occurrences

if TYPE_CHECKING:
    from obligations.packs import Obligation
    from obligations.scorecard import Scorecard
    from scheduler.app import App

_LABEL = re.compile(r"^O(\d+)$")


def order_label(order_id: int) -> str:
    return f"O{order_id}"


def order_id_of(label: str) -> int | None:
    m = _LABEL.match(label)
    return int(m.group(1)) if m else None


# --------------------------------------------------------------------------- issuing and closing

def order_obligation(app: "App", unit: Unit, key: str | None = None) -> "Obligation":
    """The ad_hoc obligation an order of `unit` is tracked under: `key`, else the only enabled
    ad_hoc obligation that applies to the unit."""
    if key is not None:
        ob = app.obligation(key)
        if ob.schedule.kind != "ad_hoc":
            raise UserInputError(f"事项 {key} 不是督办事项（日程 {ob.schedule.kind}，应为 ad_hoc）")
        if not applies_to_unit(ob, unit, app.propaganda_unit):
            raise UserInputError(f"事项 {key} 不适用于单位 {unit.code}（{unit.name}）：适用于 {'、'.join(unit_kind_name(k) for k in ob.applies_to)}")
        return ob
    candidates = [ob for ob in app.obligations.values()
                  if ob.schedule.kind == "ad_hoc" and applies_to_unit(ob, unit, app.propaganda_unit)]
    if not candidates:
        raise UserInputError(f"已启用的规则包中没有适用于 {unit.code}（{unit.name}，{unit.kind}）的督办事项（ad_hoc）")
    if len(candidates) > 1:
        raise UserInputError("有多个督办事项，请用 --key 指定：" + ", ".join(sorted(ob.key for ob in candidates)))
    return candidates[0]


def _scoring(app: "App", item: str | None, deduct: float | None,
             card_name: str | None) -> tuple[str | None, str | None]:
    """(scorecard, item) named by the issuer, checked: the item exists and either deducts per
    finding or is given an explicit deduction."""
    if item is None:
        if deduct is not None:
            raise UserInputError("--deduct 需要与 --item 一起使用（逾期扣分计入哪个考核项目）")
        return None, None
    card = scorecard(app, card_name)
    if item == card.bonus.id:
        raise UserInputError(f"{item} 是加分项，逾期督办不能计入")
    known = card.item(item)
    if known is None and item != card.negative.id:
        raise UserInputError(f"未知考核项目：{item}（{', '.join(card.item_ids)}）")
    if deduct is None and (known is None or known.deduction_rule is None):
        raise UserInputError(f"考核项目 {item} 没有统一的扣分标准，请用 --deduct 指明逾期扣几分")
    if deduct is not None and deduct <= 0:
        raise UserInputError(f"扣分应大于 0，给出的是 {deduct}")
    return card.pack, item


def issue(app: "App", unit_code: str, deadline: date, text: str, *, key: str | None = None,
          issued_on: date | None = None, item: str | None = None, deduct: float | None = None,
          scorecard: str | None = None, recorded_by: str = "") -> dict[str, Any]:
    """Issue an order to `unit_code`: rectify by `deadline` (inclusive)."""
    text = (text or "").strip()
    if not text:
        raise UserInputError("请写明督办事项和整改要求 (--text)")
    issued_on = issued_on or app.today()
    if deadline < issued_on:
        raise UserInputError(f"整改期限 {deadline.isoformat()} 早于下达日期 {issued_on.isoformat()}")
    card_name, item = _scoring(app, item, deduct, scorecard)
    with app.session() as session:
        unit = app.unit(session, unit_code)
        ob = order_obligation(app, unit, key)
        now = app.now()
        order = Order(unit_code=unit.code, obligation_key=ob.key, text=text, issued_on=issued_on,
                      deadline=deadline, scorecard=card_name, item=item, deduct=deduct,
                      recorded_at=now, recorded_by=recorded_by)
        session.add(order)
        session.flush()
        session.add(Occurrence(unit_code=unit.code, obligation_key=ob.key, period=order_label(order.id),
                               opens=issued_on, due=deadline, required=1, provisional=False,
                               created_at=now, updated_at=now))
        session.flush()
        order_id = order.id
    return show(app, order_id, app.today())


def _order(session: Session, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None:
        raise UserInputError(f"未知督办单编号：{order_id}（ccal order list 列出全部）")
    return order


def close(app: "App", order_id: int, evidence: Sequence[Path], *, at: datetime | None = None,
          note: str = "", recorded_by: str = "") -> SubmissionRecord:
    """Close an order with the rectification evidence: a submission on its occurrence, exactly
    as `ccal submit <key> --unit <unit> --period O<id> --evidence ...`."""
    if not evidence:
        raise UserInputError("请提交整改材料 (--evidence 文件)")
    with app.session() as session:
        order = _order(session, order_id)
        key, unit = order.obligation_key, order.unit_code
    record = submit(app, key, unit, order_label(order_id), at=at, evidence=evidence,
                    note=note or "整改完成", recorded_by=recorded_by)
    record_overdue(app, app.today(), [order_id])
    return record


# --------------------------------------------------------------------------- reading

@dataclass(frozen=True)
class _Row:
    order: Order
    occurrence: Occurrence | None
    unit_name: str


def _rows(session: Session, ids: Sequence[int] | None = None, unit: str | None = None) -> list[_Row]:
    q = select(Order).order_by(col(Order.id))
    if ids is not None:
        q = q.where(col(Order.id).in_(list(ids)))
    if unit is not None:
        q = q.where(Order.unit_code == unit)
    orders = session.exec(q).all()
    if not orders:
        return []
    occs = {(o.unit_code, o.obligation_key, o.period): o for o in session.exec(
        select(Occurrence).where(col(Occurrence.period).in_([order_label(x.id) for x in orders]))).all()}
    names = dict(session.exec(select(Unit.code, Unit.name)).all())
    return [_Row(o, occs.get((o.unit_code, o.obligation_key, order_label(o.id))), names.get(o.unit_code, ""))
            for o in orders]


def _statuses(app: "App", session: Session, rows: Sequence[_Row], as_of: date):
    ids = [r.occurrence.id for r in rows if r.occurrence is not None]
    subs = counting_submissions(session, ids)
    waived = waived_occurrences(session, ids)
    tz = app.config.general.tz
    return {r.order.id: occurrence_status(r.occurrence.opens, r.occurrence.due, r.occurrence.required,
                                          subs.get(r.occurrence.id, ()), r.occurrence.id in waived,
                                          as_of, tz=tz)
            for r in rows if r.occurrence is not None}


def _view(r: _Row, st, as_of: date) -> dict[str, Any]:
    o = r.order
    return {
        "id": o.id, "unit": o.unit_code, "unit_name": r.unit_name, "obligation": o.obligation_key,
        "period": order_label(o.id), "text": o.text, "issued_on": o.issued_on, "deadline": o.deadline,
        "status": st.state if st else "unknown", "days_overdue": st.days_overdue if st else 0,
        "days_left": max((o.deadline - as_of).days, 0) if st and st.state in ("open", "upcoming") else 0,
        "closed_at": st.completed_at if st else None, "item": o.item, "scorecard": o.scorecard,
    }


def show(app: "App", order_id: int, as_of: date) -> dict[str, Any]:
    with app.session() as session:
        _order(session, order_id)
        rows = _rows(session, [order_id])
        st = _statuses(app, session, rows, as_of)
    return _view(rows[0], st.get(order_id), as_of)


def listing(app: "App", as_of: date, *, unit: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
    with app.session() as session:
        if unit is not None:
            app.unit(session, unit)
        rows = _rows(session, unit=unit)
        st = _statuses(app, session, rows, as_of)
    out = [_view(r, st.get(r.order.id), as_of) for r in rows]
    if status is not None:
        out = [r for r in out if r["status"] == status]
    return sorted(out, key=lambda r: (r["deadline"], r["id"]))


# --------------------------------------------------------------------------- overdue orders in the score

def finding_key(order_id: int) -> str:
    return f"order:{order_id}:逾期"


def _target(app: "App", cards: Mapping[str, "Scorecard"], order: Order) -> tuple["Scorecard", str, float | None] | None:
    """(scorecard, item, deduction) an overdue order deducts from, or None."""
    if order.item is not None:
        card = cards.get(order.scorecard)
        return (card, order.item, order.deduct) if card is not None else None
    ob = app.obligations.get(order.obligation_key)
    card = cards.get(ob.pack) if ob is not None else None
    item = card.item(ob.scorecard) if card is not None and ob.scorecard else None
    if item is not None and item.deduction_rule is not None:
        return card, item.id, None
    return None


def record_overdue(app: "App", as_of: date, order_ids: Sequence[int] | None = None) -> SyncResult:
    """Post a finding for every order overdue on `as_of` (or closed late) whose pack or issuer
    names a scorecard item; withdraw it when the record no longer shows the order overdue
    (the closing submission corrected to an earlier date, the order waived). Idempotent."""
    result = SyncResult()
    with app.session() as session:
        rows = _rows(session, order_ids)
        if not rows:
            return result
        cards = scorecards(app)
        if not cards:
            return result
        st = _statuses(app, session, rows, as_of)
        existing = latest_findings(session, "order", [r.order.id for r in rows])
    for r in rows:
        o = r.order
        status = st.get(o.id)
        key = finding_key(o.id)
        latest = existing.get(key)
        target = _target(app, cards, o)
        want = target is not None and status is not None and status.state in ("overdue", "late")
        if latest is None and not want:
            continue
        card, item, deduct = target if target is not None else (cards.get(latest.scorecard), latest.item, None)
        if card is None:
            continue
        text = f"督办单 {order_label(o.id)} 逾期未整改（整改期限 {o.deadline.isoformat()}）：{o.text}"

        def post(o=o, card=card, item=item, deduct=deduct, key=key, text=text):
            return add_finding(app, o.unit_code, item, text, year=o.deadline.year,
                               found_on=o.deadline + timedelta(days=1), deduct=deduct, source_kind="order",
                               source_id=o.id, key=key, recorded_by=AUTO_RECORDER, card=card)
        reconcile_finding(app, card, latest, want, post,
                          reason_off=f"督办单 {order_label(o.id)} 按期整改或已撤销，不再扣分",
                          reason_on=f"督办单 {order_label(o.id)} 逾期未整改，恢复扣分", result=result,
                          what=f"督办单 {o.id}", deduct=deduct)
    return result


# --------------------------------------------------------------------------- digests

def describe(session: Session, occs: Mapping[int, Occurrence]) -> dict[int, dict[str, Any]]:
    """DigestItem fields for order occurrences: the order and what it asks."""
    ids = {order_id_of(o.period): o for o in occs.values() if o.event_id is None and order_id_of(o.period)}
    if not ids:
        return {}
    out = {}
    for order in session.exec(select(Order).where(col(Order.id).in_(list(ids)))).all():
        occ = ids[order.id]
        if (occ.unit_code, occ.obligation_key) != (order.unit_code, order.obligation_key):
            continue
        out[occ.id] = {"period_name": f"督办单 {order_label(order.id)}（{order.issued_on.isoformat()} 下达）",
                       "note": f"整改要求：{order.text}；整改完成后请报送整改报告"}
    return out
