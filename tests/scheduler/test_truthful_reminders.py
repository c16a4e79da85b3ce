"""Reminders that tell the truth (issue 7): a provisional date says its real reason, and a due
date that moved after a reminder told another one is announced, with a working day's grace
before escalation. The issue's scenario: the 2026 Q1 joint meeting is recorded on Monday
30 March, so 教务处's pre-meeting report (jincheng-2020.meeting.report, "会前": the last working
day before the meeting) moves from 30 March (the meeting's default, 31 March) to 27 March."""

from datetime import date, datetime

import pytest
from sqlmodel import select

from notifiers.base import Delivery
from notifiers.local_outbox import LocalOutbox
from notifiers.rendering import make_environment
from scheduler import outbox
from scheduler.models import Occurrence, Outbox, OutboxItem, Person
from scheduler.planner import Planner
from scheduler.submissions import record_event
from tests.orgs import ROLES_ORG_NO_JDX

# 褚振华 heads JWC (the report reminds the head); JWC's supervisor falls back to the secretary of
# its branch JG1 (郑晓东); 孙宣 is the propaganda contact.
ORG = ROLES_ORG_NO_JDX
KEY = "jincheng-2020.meeting.report"


@pytest.fixture
def college(open_college):
    app = open_college(ORG, ("jincheng-2020",))
    from scheduler.materialise import materialise
    materialise(app, [2026])
    return app


def at(text):
    return datetime.fromisoformat(text)


def plan(app, when):
    channels = {"email": LocalOutbox(app.config.general.data_dir / "outbox", kind="email")}
    return Planner(app, channels, make_environment()).plan(at(when))


def send_all(app, when):
    with app.session() as s:
        for row in outbox.claim_due(s, "email", at(when), 500):
            outbox.mark_result(s, row, [Delivery.success(None)], at(when))


def messages_about(app, name, key=KEY, unit="JWC"):
    """[(topic, stage, body)] of the person's messages listing `key` for `unit`, oldest first."""
    with app.session() as s:
        person = s.exec(select(Person).where(Person.name == name)).one()
        rows = s.exec(select(Outbox, OutboxItem).join(OutboxItem, OutboxItem.outbox_id == Outbox.id)
                      .join(Occurrence, Occurrence.id == OutboxItem.occurrence_id)
                      .where(Outbox.person_id == person.id, Occurrence.obligation_key == key,
                             Occurrence.unit_code == unit, Occurrence.period == "2026-Q1",
                             OutboxItem.state == "listed")
                      .order_by(Outbox.id)).all()
        return [(row.topic, item.stage, row.body_text) for row, item in rows]


def due_of(app):
    with app.session() as s:
        return s.exec(select(Occurrence.due).where(Occurrence.obligation_key == KEY, Occurrence.unit_code == "JWC",
                                                   Occurrence.period == "2026-Q1")).one()


def test_a_date_waiting_for_its_meeting_says_so_not_holidays(college):
    plan(college, "2026-03-24 10:00")                 # the notice, 7 days before 30 March
    (_, stage, text), = messages_about(college, "褚振华")
    assert stage == "notice" and "2026年3月30日（周一）（日期为暂定，所依据的会议日期尚未登记）" in text
    assert "节假日" not in text                        # 2026's holidays are published


def test_a_moved_deadline_is_announced_and_escalation_waits_a_working_day(college):
    plan(college, "2026-03-24 10:00")
    send_all(college, "2026-03-24 10:01")
    plan(college, "2026-03-30 10:00")                 # due day: 今日到期 3月30日
    send_all(college, "2026-03-30 10:01")
    assert "今日到期" in messages_about(college, "褚振华")[-1][2]

    record_event(college, "jincheng-2020.meeting", "XCB", date(2026, 3, 30), period="2026-Q1")
    assert due_of(college) == date(2026, 3, 27)       # moved into the past

    plan(college, "2026-03-31 10:00")                 # the next message says so
    topic, stage, text = messages_about(college, "褚振华")[-1]
    assert topic == "digest:2026-03-31" and stage == "overdue-1@2026-03-27"   # keyed by the new date
    assert "截止日期已由3月30日调整为3月27日" in text and "暂定" not in text
    send_all(college, "2026-03-31 10:01")

    # Without the grace, 1 April (3rd working day after 27 March) would escalate (overdue-2).
    plan(college, "2026-04-01 10:00")
    assert messages_about(college, "郑晓东") == [] and messages_about(college, "孙宣") == []
    topic, stage, text = messages_about(college, "褚振华")[-1]
    assert (topic, stage) == ("digest:2026-04-01", "overdue-2@2026-03-27") and "调整为" not in text  # told once
    send_all(college, "2026-04-01 10:01")

    plan(college, "2026-04-02 10:00")                 # a full working day after the notice
    assert [s for _, s, _ in messages_about(college, "郑晓东")] == ["overdue-2@2026-03-27"]
    assert [s for _, s, _ in messages_about(college, "孙宣")] == ["overdue-2@2026-03-27"]


def test_an_unsent_message_is_rendered_again_when_the_date_moves(college):
    plan(college, "2026-03-24 10:00")                 # planned, not sent
    record_event(college, "jincheng-2020.meeting", "XCB", date(2026, 3, 30), period="2026-Q1")
    plan(college, "2026-03-24 10:05")
    (_, _, text), = messages_about(college, "褚振华")
    assert "2026年3月27日（周五）" in text and "3月30日" not in text and "调整为" not in text   # never told


def test_a_lecture_deadline_in_an_unpublished_year_says_holidays(open_college):
    from scheduler import lectures

    app = open_college(ORG, ("jincheng-2020",))
    lectures.register(app, "JWC", title="职业教育前沿讲座", starts=at("2027-03-10 14:30"), time_known=True,
                      planned=True)
    plan(app, "2027-03-01 10:00")                      # approval due 5 working days before
    with app.session() as s:
        bodies = s.exec(select(Outbox.body_text).where(Outbox.body_text.contains("前沿讲座"))).all()
    assert bodies and all("（日期为暂定，节假日安排未公布）" in b and "会议日期" not in b for b in bodies)


def test_a_date_moved_later_is_announced_at_once_and_its_due_day_told_again(college):
    # Q2: the report is due 29 June (the day before the meeting's default, Tuesday 30 June).
    # The meeting is recorded for Friday 26 June first, then corrected to Wednesday 1 July
    # (still Q2's meeting): the report moves 25 June -> 30 June.
    record_event(college, "jincheng-2020.meeting", "XCB", date(2026, 6, 26), period="2026-Q2")
    plan(college, "2026-06-25 10:00")                  # 今日到期 6月25日
    send_all(college, "2026-06-25 10:01")
    record_event(college, "jincheng-2020.meeting", "XCB", date(2026, 7, 1), period="2026-Q2")
    plan(college, "2026-06-25 15:00")                  # the same day: the change is told at once
    with college.session() as s:
        rows = s.exec(select(Outbox.topic, OutboxItem.stage, Outbox.body_text)
                      .join(OutboxItem, OutboxItem.outbox_id == Outbox.id)
                      .join(Occurrence, Occurrence.id == OutboxItem.occurrence_id)
                      .where(Occurrence.obligation_key == KEY, Occurrence.unit_code == "JWC",
                             Occurrence.period == "2026-Q2", OutboxItem.state == "listed")
                      .order_by(Outbox.id)).all()
    (_, first, told), (topic, stage, text) = rows
    assert first == "due" and "今日到期" in told
    assert (topic, stage) == ("digest:2026-06-26", "notice@2026-06-30")      # next window
    assert "截止日期已由6月25日调整为6月30日" in text and "还有" in text
    send_all(college, "2026-06-26 09:00")
    plan(college, "2026-06-30 10:00")                  # the new due day is told, as the old one was
    with college.session() as s:
        stages = s.exec(select(OutboxItem.stage).join(Occurrence, Occurrence.id == OutboxItem.occurrence_id)
                        .where(Occurrence.obligation_key == KEY, Occurrence.unit_code == "JWC",
                               Occurrence.period == "2026-Q2")).all()
    assert "due@2026-06-30" in stages
