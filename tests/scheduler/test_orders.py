"""scheduler/orders.py: supervision orders (督办单) as one-off occurrences `O<id>`, reminded and
escalated by the planner, closed by a submission with evidence, overdue ones as findings in
the score. Every date is explicit."""

from datetime import date, datetime

import pytest
from sqlmodel import select

from notifiers.local_outbox import LocalOutbox
from notifiers.rendering import make_environment
from scheduler import orders
from scheduler.app import UserInputError
from scheduler.ledger import ledger_rows, score
from scheduler.models import Occurrence, Outbox, OutboxItem, Person
from scheduler.planner import Planner
from scheduler.service import run_tick
from scheduler.submissions import revoke_waiver, submit, waive

# JWC has no supervisor of its own: its branch's secretary (郑晓东) is told on escalation, with
# the propaganda department's contact (孙宣).
ORG = """\
code,name,kind,parent,secretary,email,head,head_email,propaganda,propaganda_email
DW,测试学院党委,党委,,王建国,wang@example.edu.cn,,,,
JG1,机关第一党支部,党支部,DW,郑晓东,zheng@example.edu.cn,,,,
XCB,党委宣传部,处室,JG1,李文静,li@example.edu.cn,李文静,li@example.edu.cn,孙宣,sun@example.edu.cn
JWC,教务处,处室,JG1,褚振华,chu@example.edu.cn,褚振华,chu@example.edu.cn,,
"""

# A pack whose order obligation names its scorecard item: 2 points per overdue order.
OPACK = '''
name = "opack"
title = "督办测试规则包"
source = "001_af5a53c9418d3a89.txt"

[[obligation]]
key = "opack.order"
clause = "19"
title = "问题督办清单限期整改"
applies_to = ["office", "dept_branch"]
responsible = "head"
scorecard = "1.1"
citation = { clause = "第19条", quote = "列出问题督办清单,责令所在部门限期整改" }
schedule = { kind = "ad_hoc" }
deadline = { rule = "period_end" }

[scorecard]
title = "督办考核"
total = 10

[[scorecard.part]]
id = "1"
title = "整改落实"
points = 10

[[scorecard.item]]
id = "1.1"
title = "督办事项按期整改"
points = 10
standard = "逾期未整改每次扣2分"

[[scorecard.item.rule]]
kind = "deductions"
points = 10
per_finding = 2

[scorecard.bonus]
id = "2"
title = "加分"
max = 1
standard = "无"

[scorecard.negative]
id = "3"
title = "负面清单"
standard = "无"
'''


@pytest.fixture
def make_college(open_college):
    return lambda packs=("jincheng-2020", "henan-2023"), extra_pack=None: open_college(ORG, packs, extra_pack)


@pytest.fixture
def college(make_college):
    return make_college()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def issue(app, deadline="2026-03-20", issued="2026-03-02", **kw):
    return orders.issue(app, "JWC", date.fromisoformat(deadline), "宣传栏张贴过期材料，限期更换并建立审核台账",
                        issued_on=date.fromisoformat(issued), **kw)


@pytest.fixture
def evidence(tmp_path):
    f = tmp_path / "整改报告.pdf"
    f.write_bytes(b"%PDF-1.4 rectification report")
    return f


# --------------------------------------------------------------------------- issuing

def test_an_order_is_a_one_off_occurrence_with_its_deadline(college):
    o = issue(college)
    assert (o["obligation"], o["period"], o["deadline"]) == ("henan-2023.19.order", "O1", date(2026, 3, 20))
    assert orders.show(college, 1, date(2026, 3, 2))["status"] == "open"
    with college.session() as s:
        occ = s.exec(select(Occurrence).where(Occurrence.period == "O1")).one()
    assert (occ.unit_code, occ.opens, occ.due, occ.required, occ.provisional) == (
        "JWC", date(2026, 3, 2), date(2026, 3, 20), 1, False)
    assert orders.show(college, 1, date(2026, 3, 21))["status"] == "overdue"
    assert orders.show(college, 1, date(2026, 3, 25))["days_overdue"] == 5


def test_bad_orders_are_refused_with_a_clear_message(college):
    with pytest.raises(UserInputError, match="早于下达日期"):
        issue(college, deadline="2026-03-01")
    with pytest.raises(UserInputError, match="没有适用于 JG1"):
        orders.issue(college, "JG1", date(2026, 3, 20), "整改", issued_on=date(2026, 3, 2))
    with pytest.raises(UserInputError, match="请写明督办事项"):
        orders.issue(college, "JWC", date(2026, 3, 20), "  ", issued_on=date(2026, 3, 2))
    with pytest.raises(UserInputError, match="不是督办事项"):
        issue(college, key="jincheng-2020.4.3")
    with pytest.raises(UserInputError, match="未知考核项目"):
        issue(college, item="9.9")
    with pytest.raises(UserInputError, match="没有统一的扣分标准"):
        issue(college, item="4.1")
    with pytest.raises(UserInputError, match="未知督办单编号"):
        orders.show(college, 7, date(2026, 3, 2))


# --------------------------------------------------------------------------- reminders and escalation

def local(app):
    return {"email": LocalOutbox(app.config.general.data_dir / "outbox", kind="email")}


def plan(app, when):
    return Planner(app, local(app), make_environment()).plan(at(when))


def told(app):
    """{person: {(period, stage, roles)}} of every listed item."""
    with app.session() as s:
        rows = s.exec(select(Person.name, Occurrence.period, OutboxItem.stage, OutboxItem.roles)
                      .join(OutboxItem, OutboxItem.person_id == Person.id)
                      .join(Occurrence, Occurrence.id == OutboxItem.occurrence_id)
                      .where(OutboxItem.state == "listed")).all()
    out = {}
    for name, period, stage, roles in rows:
        out.setdefault(name, set()).add((period, stage, roles))
    return out


def body(app, name):
    with app.session() as s:
        person = s.exec(select(Person).where(Person.name == name)).one()
        return s.exec(select(Outbox).where(Outbox.person_id == person.id)
                      .order_by(Outbox.id.desc())).first().body_text


def test_an_order_is_reminded_to_the_unit_and_escalated_when_overdue(college):
    issue(college)
    plan(college, "2026-03-13 10:00")                 # a week before the deadline
    assert told(college) == {"褚振华": {("O1", "notice", "responsible")}}
    text = body(college, "褚振华")
    assert "问题督办清单限期整改" in text and "督办单 O1（2026-03-02 下达）" in text
    assert "整改要求：宣传栏张贴过期材料，限期更换并建立审核台账" in text
    assert "截止日期：2026年3月20日（周五）" in text
    plan(college, "2026-03-23 10:00")                 # first working day after: unit only
    assert set(told(college)) == {"褚振华"}
    plan(college, "2026-03-25 10:00")                 # three working days overdue: escalated
    assert told(college)["郑晓东"] == {("O1", "overdue-2", "supervisor")}
    assert told(college)["孙宣"] == {("O1", "overdue-2", "propaganda")}
    text = body(college, "孙宣")                       # told only of escalations: the report wording
    assert "仍有 1 项意识形态工作逾期未完成" in text and "【教务处】　责任人：褚振华（负责人）" in text
    assert "所属周期：督办单 O1（2026-03-02 下达）" in text


def test_a_submission_with_the_rectification_evidence_closes_the_order(college, evidence):
    issue(college)
    plan(college, "2026-03-13 10:00")
    r = submit(college, "henan-2023.19.order", "JWC", "O1", at=at("2026-03-18 15:00"), evidence=[evidence])
    assert (r.submission.late, [e.original_name for e in r.evidence]) == (False, ["整改报告.pdf"])
    assert orders.show(college, 1, date(2026, 3, 25))["status"] == "done"
    assert plan(college, "2026-03-25 10:00").settled == 1 and told(college) == {}


def test_order_close_needs_evidence_and_records_a_late_rectification(college, evidence):
    issue(college)
    with pytest.raises(UserInputError, match="请提交整改材料"):
        orders.close(college, 1, [])
    r = orders.close(college, 1, [evidence], at=at("2026-03-24 09:00"))
    assert r.submission.late and r.occurrence.period == "O1"
    o = orders.show(college, 1, date(2026, 3, 25))
    assert (o["status"], o["days_overdue"], o["closed_at"]) == ("late", 4, at("2026-03-24 09:00"))


# --------------------------------------------------------------------------- overdue orders in the score

def order_findings(app, unit="JWC"):
    return [(r["item"], r["points"]) for r in ledger_rows(app, 2026, unit=unit)
            if r["in_force"] and r["kind"] == "finding" and r["points"]]


def test_an_overdue_order_deducts_under_the_item_the_issuer_names(college):
    issue(college, item="4.3")
    orders.record_overdue(college, date(2026, 3, 20))            # due today: not yet
    assert order_findings(college) == []
    run_tick(college, at("2026-03-23 10:00"), channels=local(college))   # the service's score step posts it
    assert order_findings(college) == [("4.3", -1.0)]
    (row,) = [r for r in ledger_rows(college, 2026, unit="JWC", item="4.3") if r["in_force"]]
    assert row["reason"] == ("2026-03-21 发现：督办单 O1 逾期未整改（整改期限 2026-03-20）："
                             "宣传栏张贴过期材料，限期更换并建立审核台账，扣1分")
    assert score(college, 2026, date(2026, 12, 31)).unit("JWC").item("4.3").score == 4
    orders.record_overdue(college, date(2026, 3, 30))            # idempotent
    assert order_findings(college) == [("4.3", -1.0)]


def test_an_order_closed_late_keeps_its_deduction_a_waived_one_loses_it(college, evidence):
    issue(college, item="4.3")
    issue(college, item="4.3", deduct=2)
    orders.record_overdue(college, date(2026, 3, 23))
    assert sorted(order_findings(college)) == [("4.3", -2.0), ("4.3", -1.0)]
    orders.close(college, 1, [evidence], at=at("2026-03-24 09:00"))
    w, _ = waive(college, "henan-2023.19.order", "JWC", "O2", "督办事项已由上级撤销")
    orders.record_overdue(college, date(2026, 3, 25))
    assert order_findings(college) == [("4.3", -1.0)]
    revoke_waiver(college, w.id, "误撤")                        # overdue again: the 2 points again
    orders.record_overdue(college, date(2026, 3, 26))
    assert sorted(order_findings(college)) == [("4.3", -2.0), ("4.3", -1.0)]


def test_an_order_closed_on_time_or_without_an_item_costs_nothing(college, evidence):
    issue(college, item="4.3")
    orders.close(college, 1, [evidence], at=at("2026-03-20 17:00"))
    issue(college)                                              # no item named
    orders.record_overdue(college, date(2026, 4, 30))
    assert order_findings(college) == []


def test_an_overdue_order_deducts_where_the_pack_links_the_order_obligation(make_college):
    app = make_college(packs=(), extra_pack=OPACK)
    o = issue(app)
    assert o["obligation"] == "opack.order"
    orders.record_overdue(app, date(2026, 3, 21))
    rows = [r for r in ledger_rows(app, 2026, unit="JWC") if r["in_force"]]
    assert [(r["item"], r["points"]) for r in rows] == [("1.1", -2.0)]
    assert score(app, 2026, date(2026, 12, 31)).unit("JWC").item("1.1").score == 8
