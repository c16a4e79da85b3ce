"""scheduler/lectures.py: the record of a lecture (register, apply, approve/reject, change, held,
cancel), its violations posted as findings under scorecard item 4.2, and its reminders through
the planner. Bundled packs jincheng-2020 and henan-2023; every date is explicit."""

from datetime import date, datetime

import pytest
from sqlmodel import select

from notifiers.local_outbox import LocalOutbox
from notifiers.rendering import make_environment
from scheduler import lectures
from scheduler.app import UserInputError
from scheduler.ledger import ledger_rows, score
from scheduler.models import Finding, Occurrence, Outbox, OutboxItem, Person, Waiver
from scheduler.planner import Planner
from scheduler.submissions import submit
from tests.orgs import ROLES_ORG

# 孙宣 is the propaganda department's contact; 朱建平 heads JDX (the lecture obligations remind
# the head), 赵敏 supervises it; 褚振华 heads JWC.
ORG = ROLES_ORG


@pytest.fixture
def make_college(open_college):
    return lambda packs=("jincheng-2020", "henan-2023"): open_college(ORG, packs)


@pytest.fixture
def college(make_college):
    return make_college()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def register(app, unit="JDX", title="党史专题报告会", starts="2026-10-12 14:30", sensitive=("history",), **kw):
    return lectures.register(app, unit, title=title, starts=at(starts), time_known=" " in starts,
                             speaker="张教授", place="报告厅", categories=sensitive, **kw)


def findings(app, unit="JDX"):
    """The deductions in force: {(item, description head): points} (withdrawn ones are 0)."""
    return {(r["item"], r["reason"].split("：")[1].split("（")[0]): r["points"]
            for r in ledger_rows(app, 2026, unit=unit) if r["in_force"] and r["kind"] == "finding" and r["points"]}


def item_score(app, unit="JDX", item="4.2"):
    return score(app, 2026, date(2026, 12, 31)).unit(unit).item(item).score


# --------------------------------------------------------------------------- registering

def test_a_sensitive_lecture_gets_its_approval_deadline_20_working_days_before(college):
    v = register(college, filed_at=at("2026-09-01 10:00"))
    assert (v["obligation"], v["deadline"], v["provisional"]) == ("henan-2023.12", date(2026, 9, 8), False)
    assert (v["status"], v["filed_at"], v["late"]) == ("pending", at("2026-09-01 10:00"), False)
    assert (v["categories"], v["categories_text"]) == (["history"], "党史国史军史")
    with college.session() as s:
        occ = s.exec(select(Occurrence).where(Occurrence.period == v["period"])).one()
    assert (occ.unit_code, occ.obligation_key, occ.due) == ("JDX", "henan-2023.12", date(2026, 9, 8))


def test_registering_after_the_deadline_is_allowed_but_flagged_late(college):
    v = register(college, filed_at=at("2026-09-09 08:00"))
    assert (v["status"], v["late"]) == ("pending", True)
    assert lectures.history(college, v["id"])[1]["detail"].endswith("（逾期）")


def test_an_ordinary_lecture_takes_the_college_s_five_working_days(college):
    v = register(college, unit="JWC", title="职业教育前沿讲座", starts="2026-09-20", sensitive=(),
                 filed_at=at("2026-09-11 10:00"))
    assert (v["obligation"], v["deadline"], v["late"], v["time"]) == ("jincheng-2020.4.2", date(2026, 9, 14), False, None)


def test_without_an_approval_rule_an_ordinary_lecture_is_only_reported(make_college):
    app = make_college(packs=("henan-2023",))
    v = register(app, sensitive=(), filed_at=at("2026-09-01 10:00"))
    assert (v["obligation"], v["deadline"], v["status"], v["late"]) == (None, None, "reported", False)
    with pytest.raises(UserInputError, match="无需审批"):
        lectures.decide(app, v["id"], True, at=at("2026-09-02 10:00"))
    lectures.held(app, v["id"])
    assert lectures.show(app, v["id"])["violation"] is None
    late = register(app, sensitive=(), starts="2026-09-01", filed_at=at("2026-09-03 10:00"))
    assert late["late"] is True


def test_a_deadline_in_a_year_without_holiday_data_is_provisional(college):
    v = register(college, unit="JDX", starts="2027-01-20", sensitive=("hmt",), filed_at=at("2026-11-01 09:00"))
    assert (v["deadline"], v["provisional"]) == (date(2026, 12, 22), True)


def test_bad_input_is_refused_with_a_clear_message(college):
    with pytest.raises(UserInputError, match="未知敏感议题类别"):
        register(college, sensitive=("religion",))
    with pytest.raises(UserInputError, match="未知单位代码"):
        register(college, unit="NOPE")
    with pytest.raises(UserInputError, match="找不到证明材料文件"):
        register(college, evidence=["/nonexistent/审批表.pdf"])
    with pytest.raises(UserInputError, match="未知讲座编号"):
        lectures.show(college, 99)
    planned = register(college, planned=True)
    with pytest.raises(UserInputError, match="尚未报审"):
        lectures.decide(college, planned["id"], True, at=at("2026-09-02 10:00"))
    with pytest.raises(UserInputError, match="没有变更内容"):
        lectures.change(college, planned["id"], reason="核对", title="党史专题报告会")


# --------------------------------------------------------------------------- violations and the score

def test_approved_in_time_keeps_the_full_4_points(college):
    v = register(college, filed_at=at("2026-09-01 10:00"))
    lectures.decide(college, v["id"], True, at=at("2026-09-05 10:00"))
    v = lectures.held(college, v["id"])
    assert (v["status"], v["violation"]) == ("held", None)
    assert findings(college) == {}
    assert item_score(college) == 4


def test_held_without_approval_is_unapproved_and_deducts_one_point_under_4_2(college):
    v = register(college, planned=True)
    v = lectures.held(college, v["id"])
    assert v["violation"] == "未批先办"
    assert findings(college) == {("4.2", "讲座未批先办"): -1.0}
    assert item_score(college) == 3
    with college.session() as s:
        f = s.exec(select(Finding)).one()
    assert (f.source_kind, f.source_id, f.key, f.found_on, f.year) == (
        "lecture", v["id"], f"lecture:{v['id']}:未批先办", date(2026, 10, 12), 2026)


def test_held_while_pending_then_approved_is_concurrent_one_deduction_only(college):
    v = register(college, filed_at=at("2026-09-01 10:00"))
    lectures.held(college, v["id"])
    assert findings(college) == {("4.2", "讲座未批先办"): -1.0}
    v = lectures.decide(college, v["id"], True, at=at("2026-10-12 16:00"))
    assert v["violation"] == "边批边办"
    assert findings(college) == {("4.2", "讲座边批边办"): -1.0}      # reclassified, not added
    reasons = [r["reason"] for r in ledger_rows(college, 2026, unit="JDX", item="4.2")]
    assert any(r.startswith("撤销扣分（讲座记录更新，改判为：边批边办）") for r in reasons)
    assert item_score(college) == 3


def test_applied_for_after_the_event_is_retroactive(college):
    v = register(college, starts="2026-10-12 14:30", filed_at=at("2026-10-15 09:00"))
    assert (v["violation"], v["late"]) == ("事后补批", True)
    lectures.decide(college, v["id"], True, at=at("2026-10-16 09:00"))
    assert findings(college) == {("4.2", "讲座事后补批"): -1.0}


def test_every_violating_lecture_deducts_down_to_zero(college):
    for day in ("2026-05-11", "2026-05-12", "2026-05-13", "2026-05-14", "2026-05-15"):
        lectures.held(college, register(college, starts=day, planned=True)["id"])
    assert item_score(college) == 0


def test_a_plain_submission_after_the_event_counts_as_the_application(college):
    v = register(college, planned=True)
    submit(college, "henan-2023.12", "JDX", v["period"], at=at("2026-10-13 09:00"))
    lectures.sync_findings(college)
    assert lectures.show(college, v["id"])["violation"] == "事后补批"
    assert findings(college) == {("4.2", "讲座事后补批"): -1.0}
    again = lectures.sync_findings(college)                          # idempotent
    assert (again.added, again.withdrawn) == ([], [])


# --------------------------------------------------------------------------- changes and cancellation

def test_a_change_voids_the_approval_and_needs_a_new_one(college):
    v = register(college, filed_at=at("2026-09-01 10:00"))
    lectures.decide(college, v["id"], True, at=at("2026-09-05 10:00"))
    old_period = v["period"]
    v = lectures.change(college, v["id"], reason="主讲人时间冲突", starts=at("2026-10-19 14:30"),
                        time_known=True, speaker="李教授", filed_at=at("2026-09-10 10:00"))
    assert (v["status"], v["version"], v["speaker"]) == ("pending", 2, "李教授")
    assert v["period"] != old_period and v["deadline"] == date(2026, 9, 15)
    assert v["late"] is False
    # Held as changed without the new approval: 未批先办, the old approval does not count.
    v = lectures.held(college, v["id"])
    assert v["violation"] == "未批先办"
    assert [r["what"] for r in lectures.history(college, v["id"])] == ["登记", "报审", "批准", "变更", "报审", "举办"]


def test_a_changed_lecture_approved_again_is_fine(college):
    v = register(college, filed_at=at("2026-09-01 10:00"))
    lectures.decide(college, v["id"], True, at=at("2026-09-05 10:00"))
    lectures.change(college, v["id"], reason="改地点", place="图书馆报告厅", filed_at=at("2026-09-07 10:00"))
    lectures.decide(college, v["id"], True, at=at("2026-09-08 10:00"))
    assert lectures.held(college, v["id"])["violation"] is None


def test_changing_a_planned_lecture_waives_the_old_deadline(college):
    v = register(college, planned=True)
    lectures.change(college, v["id"], reason="改期", starts=at("2026-11-02 14:30"), time_known=True, planned=True)
    with college.session() as s:
        waiver, occ = s.exec(select(Waiver, Occurrence).join(Occurrence, Occurrence.id == Waiver.occurrence_id)
                             .where(Occurrence.obligation_key == "henan-2023.12")).one()
    assert occ.period == v["period"] and "已变更" in waiver.reason


def filings(app):
    """The propaganda department's filings with the city: [(due, waived reason or None)]."""
    with app.session() as s:
        rows = s.exec(select(Occurrence).where(Occurrence.obligation_key == "jincheng-2020.lecture")
                      .order_by(Occurrence.id)).all()
        waived = {w.occurrence_id: w.reason for w in s.exec(select(Waiver)).all()}
        return [(o.unit_code, o.due, waived.get(o.id)) for o in rows]


def test_a_registered_lecture_creates_its_filing_with_the_city(college):
    # issue 7: 000 "按时向市委宣传部报备" follows every lecture, as its approval does. 3 working days
    # before Monday 2026-10-12: Saturday 10-10 (调休), Friday 10-9, Thursday 10-8 (after National Day).
    register(college, filed_at=at("2026-09-01 10:00"))
    assert filings(college) == [("XCB", date(2026, 10, 8), None)]
    ordinary = register(college, unit="JG1", title="支部读书会讲座", starts="2026-06-19", sensitive=())
    assert filings(college)[-1] == ("XCB", date(2026, 6, 16), None)
    assert ordinary["obligation"] == "jincheng-2020.4.2"     # a 党支部's lecture needs approval too


def test_a_change_re_files_and_a_cancellation_waives_the_filing(college):
    v = register(college, filed_at=at("2026-09-01 10:00"))
    lectures.change(college, v["id"], reason="改期", starts=at("2026-11-02 14:30"), time_known=True,
                    filed_at=at("2026-09-20 10:00"))
    (unit, old_due, old_waived), (_, new_due, new_waived) = filings(college)
    assert (old_due, new_due, new_waived) == (date(2026, 10, 8), date(2026, 10, 28), None)
    assert "已变更" in old_waived
    lectures.cancel(college, v["id"], "主讲人无法到场")
    assert "已取消" in filings(college)[-1][2]


def test_a_cancelled_lecture_cannot_be_held_or_approved(college):
    v = register(college, planned=True)
    v = lectures.cancel(college, v["id"], "主讲人无法到场")
    assert v["status"] == "cancelled"
    with pytest.raises(UserInputError, match="已取消"):
        lectures.held(college, v["id"])
    with pytest.raises(UserInputError, match="已取消"):
        lectures.apply(college, v["id"], at=at("2026-09-01 10:00"))


def test_a_held_lecture_cannot_change(college):
    v = register(college, filed_at=at("2026-09-01 10:00"))
    lectures.held(college, v["id"])
    with pytest.raises(UserInputError, match="已于 2026-10-12 14:30 举办"):
        lectures.change(college, v["id"], reason="补记", title="新名称")


# --------------------------------------------------------------------------- reminders

def plan(app, when):
    channels = {"email": LocalOutbox(app.config.general.data_dir / "outbox", kind="email")}
    return Planner(app, channels, make_environment()).plan(at(when))


def told(app):
    """{person: {(period, stage)}} of the listed lecture items in unsent or sent messages (the
    approvals; the department's filings with the city are tested on their own)."""
    with app.session() as s:
        rows = s.exec(select(Person.name, Occurrence.period, OutboxItem.stage)
                      .join(OutboxItem, OutboxItem.person_id == Person.id)
                      .join(Occurrence, Occurrence.id == OutboxItem.occurrence_id)
                      .where(OutboxItem.state == "listed", Occurrence.obligation_key != "jincheng-2020.lecture")).all()
    out = {}
    for name, period, stage in rows:
        out.setdefault(name, set()).add((period, stage))
    return out


def body(app, name):
    with app.session() as s:
        person = s.exec(select(Person).where(Person.name == name)).one()
        row = s.exec(select(Outbox).where(Outbox.person_id == person.id).order_by(Outbox.id.desc())).first()
        return row.body_text


def test_before_the_deadline_the_organiser_and_the_department_are_reminded(college):
    v = register(college, planned=True)
    plan(college, "2026-09-01 10:00")              # a week before the 8 September deadline
    assert told(college) == {"朱建平": {(v["period"], "notice")}, "孙宣": {(v["period"], "notice")}}
    text = body(college, "朱建平")
    assert "讲座 1《党史专题报告会》（2026-10-12 14:30）" in text
    assert "2026年9月8日" in text and "涉及党史国史军史" in text and "尚未报党委宣传部审批" in text


def test_a_pending_application_is_reminded_to_the_department_only(college):
    v = register(college, planned=True)
    plan(college, "2026-09-01 10:00")
    lectures.apply(college, v["id"], at=at("2026-09-02 09:00"))
    report = plan(college, "2026-10-09 10:00")     # one working day before the decision is due
    assert report.settled == 2                      # the unsent "apply" reminders were withdrawn
    assert told(college) == {"孙宣": {(v["period"], "pending-before-1wd")}}
    text = body(college, "孙宣")
    assert "审批讲座、报告会申请（一会一报）" in text
    assert "截止日期：2026年10月10日（周六）" in text      # the working Saturday before the event
    assert "机电工程系党支部于 2026-09-02 报审，待审批" in text
    lectures.decide(college, v["id"], True, at=at("2026-10-09 11:00"))
    assert plan(college, "2026-10-09 12:00").settled == 1
    assert told(college) == {}


def test_a_provisional_approval_deadline_is_marked_in_the_reminder(college):
    register(college, starts="2027-01-20", sensitive=("hmt",), planned=True)
    plan(college, "2026-12-15 10:00")
    assert "截止日期：2026年12月22日（周二）（日期为暂定，节假日安排未公布）" in body(college, "朱建平")


def test_nothing_is_reminded_for_a_lecture_held_or_past(college):
    # The approval: nothing (what happened is a violation, not a task). The department's filing
    # with the city is its own duty and stays overdue until made (reading: a late filing is still
    # owed), so it is the only thing told.
    v = register(college, planned=True)
    lectures.held(college, v["id"])
    plan(college, "2026-10-13 10:00")
    assert told(college) == {}
    w = register(college, title="另一场讲座", starts="2026-06-01", planned=True)
    plan(college, "2026-06-02 10:00")
    assert told(college) == {}
    assert lectures.show(college, w["id"])["status"] == "planned"


def test_a_branch_s_sensitive_lecture_needs_approval_and_reminds_its_secretary(college):
    # issue 7: before, a 党支部's lecture got "无需审批，仅报备" and no deadline. JG1 has no head:
    # its secretary 郑晓东 is reminded (the planner falls back to the secretary).
    v = register(college, unit="JG1", title="党史学习报告会", planned=True)
    assert (v["obligation"], v["deadline"], v["status"]) == ("henan-2023.12", date(2026, 9, 8), "planned")
    plan(college, "2026-09-01 10:00")
    assert told(college).get("郑晓东") == {(v["period"], "notice")}
