"""Reviewing submissions: a returned one stops counting, the occurrence is open again, the
secretary hears of it in the next digest; on time versus late follows the accepted one."""

from datetime import datetime

import pytest
from sqlmodel import select

from notifiers.local_outbox import LocalOutbox
from notifiers.rendering import make_environment
from scheduler import queries, reviews
from scheduler.app import UserInputError
from scheduler.models import Outbox, OutboxItem, SubmissionReview, WebAudit
from scheduler.planner import Planner
from scheduler.submissions import counting_submissions, submit
from tests.web.conftest import NOW


def status(app, unit, key, period, as_of):
    return next(r for r in queries.unit_year(app, unit, 2026, as_of).rows
                if r["obligation"] == key and r["period"] == period)["status"]


def planner(app):
    return Planner(app, {"email": LocalOutbox(app.config.general.data_dir / "outbox", kind="email")},
                   make_environment())


def test_a_returned_submission_stops_counting_and_the_occurrence_is_open_again(college):
    app = college.app
    rec = submit(app, "rpack.spring", "B1", "2026", at=NOW)
    assert status(app, "B1", "rpack.spring", "2026", NOW.date()) == "done"
    reviews.review(app, rec.submission.id, "returned", "缺少签字页", by="propaganda")
    with app.session() as s:
        assert counting_submissions(s, [rec.occurrence.id]) == {}
    assert status(app, "B1", "rpack.spring", "2026", NOW.date()) == "open"
    # after the due date it is overdue, not late-done
    assert status(app, "B1", "rpack.spring", "2026", datetime(2026, 3, 25).date()) == "overdue"


def test_on_time_or_late_is_decided_by_the_submission_finally_accepted(college):
    app = college.app
    first = submit(app, "rpack.spring", "B1", "2026", at=datetime(2026, 3, 16, 9))
    reviews.review(app, first.submission.id, "returned", "内容不全", by="propaganda")
    fix = submit(app, "rpack.spring", "B1", "2026", at=datetime(2026, 3, 23, 9))   # after the 20th
    reviews.review(app, fix.submission.id, "accepted", by="propaganda")
    assert status(app, "B1", "rpack.spring", "2026", datetime(2026, 3, 30).date()) == "late"


def test_a_return_needs_a_reason_and_a_submission_is_reviewed_once(college):
    app = college.app
    rec = submit(app, "rpack.spring", "B1", "2026", at=NOW)
    with pytest.raises(UserInputError, match="退回必须填写原因"):
        reviews.review(app, rec.submission.id, "returned", "  ", by="propaganda")
    reviews.review(app, rec.submission.id, "accepted", by="propaganda")
    with pytest.raises(UserInputError, match="已于"):
        reviews.review(app, rec.submission.id, "returned", "再看看", by="propaganda")
    with app.session() as s:
        assert len(s.exec(select(SubmissionReview)).all()) == 1


def test_the_secretary_hears_of_the_return_in_the_next_digest_once(college):
    app = college.app
    p = planner(app)
    p.plan(NOW)                                   # the ordinary reminder of the spring report
    with app.session() as s:
        for row in s.exec(select(Outbox)).all():  # pretend it went out
            row.status = "sent"
            s.add(row)
    rec = submit(app, "rpack.spring", "B1", "2026", at=NOW)
    reviews.review(app, rec.submission.id, "returned", "缺少签字页", by="propaganda",
                   now=datetime(2026, 3, 16, 11))
    later = datetime(2026, 3, 16, 12)
    report = p.plan(later)
    assert report.entries == 1
    with app.session() as s:
        item = s.exec(select(OutboxItem).where(OutboxItem.stage.startswith("returned:"))).one()
        row = s.get(Outbox, item.outbox_id)
        assert row.status == "planned"
        assert "已退回" in row.body_text and "缺少签字页" in row.body_text
        assert "/l/" in row.body_text                      # with the personal link
    assert p.plan(datetime(2026, 3, 16, 13)).entries == 0   # told once


def test_a_return_settled_by_a_new_submission_before_sending_is_not_told(college):
    app = college.app
    p = planner(app)
    rec = submit(app, "rpack.spring", "B1", "2026", at=NOW)
    reviews.review(app, rec.submission.id, "returned", "缺少签字页", by="propaganda")
    p.plan(NOW)
    submit(app, "rpack.spring", "B1", "2026", at=NOW)        # sent again at once
    p.plan(datetime(2026, 3, 16, 12))
    with app.session() as s:
        item = s.exec(select(OutboxItem).where(OutboxItem.stage.startswith("returned:"))).one()
        assert item.state == "settled"


def test_a_later_reminder_stage_does_not_push_the_return_notice_out_of_the_message(college):
    app = college.app
    p = planner(app)
    p.plan(NOW)
    with app.session() as s:
        for row in s.exec(select(Outbox)).all():
            row.status = "sent"
            s.add(row)
    rec = submit(app, "rpack.spring", "B1", "2026", at=NOW)
    reviews.review(app, rec.submission.id, "returned", "缺少签字页", by="propaganda", now=NOW)
    p.plan(datetime(2026, 3, 16, 11))          # the notice waits for Tuesday's window
    p.plan(datetime(2026, 3, 17, 8))           # Tuesday's own stage (3 days before) joins it
    with app.session() as s:
        item = s.exec(select(OutboxItem).where(OutboxItem.stage.startswith("returned:"))).one()
        assert item.state == "listed"
        assert "缺少签字页" in s.get(Outbox, item.outbox_id).body_text


def test_email_and_wecom_app_messages_carry_the_personal_link_the_group_robot_does_not(college):
    from notifiers.email import EmailChannel
    from notifiers.secrets import Secret
    from notifiers.wecom_app import WeComAppChannel
    from notifiers.wecom_robot import WeComRobotChannel
    from scheduler.models import Person
    app = college.app
    channels = {"email": EmailChannel(host="127.0.0.1", port=25, from_addr="ccal@example.edu.cn"),
                "wecom_app": WeComAppChannel(corp_id="ww1", secret=Secret("S", "s" * 20), agent_id=1),
                "wecom_robot": WeComRobotChannel(key=Secret("K", "k" * 20))}
    Planner(app, channels, make_environment()).plan(NOW)
    token = college.links["A"].rsplit("/", 1)[1]
    with app.session() as s:
        xu = s.exec(select(Person.id).where(Person.name == "许芳")).one()
        rows = {r.channel: r for r in s.exec(select(Outbox).where(Outbox.person_id == xu)).all()}
    b1 = college.occurrence("B1", "rpack.spring", "2026")
    assert f"/l/{token}/o/{b1}" in rows["email"].body_text and f"/l/{token}/o/{b1}" in rows["email"].body_html
    assert f"/l/{token}/o/{b1}" in rows["wecom_app"].body_markdown
    robot = rows["wecom_robot"]
    assert "/l/" not in (robot.body_markdown + robot.body_text + (robot.body_html or ""))
    assert "http://127.0.0.1:8080/me" in robot.body_markdown


def test_a_reminder_with_a_link_asks_for_the_online_submission_not_for_paper(college):
    """Issue 9: the closing line "完成后请及时将相关材料报送党委宣传部登记" is the loop the web closes.
    A message that carries a link says to submit through it (paper stays possible)."""
    app = college.app
    planner(app).plan(NOW)
    with app.session() as s:
        row = s.exec(select(Outbox).where(Outbox.person_id == college.people["A"])).one()
    assert "完成后请通过本消息中的链接在线提交材料" in row.body_text
    assert "完成后请及时将相关材料报送" not in row.body_text
    assert "完成后请通过本消息中的链接在线提交材料" in row.body_html


def test_an_escalation_carries_the_supervisors_own_link_but_no_submit_form_of_the_unit(college):
    from scheduler.models import Person
    app = college.app
    planner(app).plan(datetime(2026, 3, 26, 10))   # spring due 20 March: 4 working days overdue
    with app.session() as s:
        zhao = s.exec(select(Person.id).where(Person.name == "赵敏")).one()   # B2's supervisor
        row = s.exec(select(Outbox).where(Outbox.person_id == zhao)).one()
    assert "第二党支部" in row.body_text and "/l/" in row.body_text      # her own page
    assert "/o/" not in row.body_text                                    # not B2's form
    # her link reads B2 (the unit she supervises), without a submit form
    from starlette.testclient import TestClient
    import re
    link = re.search(r"http://127\.0\.0\.1:8080/l/[A-Za-z0-9_-]+", row.body_text).group(0)
    c = TestClient(college.web, base_url="http://127.0.0.1:8080", follow_redirects=False)
    assert c.get(link.replace("http://127.0.0.1:8080", "")).status_code == 303
    me = c.get("/me").text
    assert "分管单位（督办，只读）" in me and "第二党支部" in me
    b2 = college.occurrence("B2", "rpack.spring", "2026")
    page = c.get(f"/o/{b2}")
    assert page.status_code == 200 and 'action="/o/%d/submit"' % b2 not in page.text
    from tests.web.conftest import csrf_of, PDF
    r = c.post(f"/o/{b2}/submit", data={"csrf": csrf_of(c)}, files=[("files", ("a.pdf", PDF, "application/pdf"))])
    assert r.status_code == 403
    assert c.get(f"/o/{college.occurrence('B1', 'rpack.spring', '2026')}").status_code == 403


def test_the_person_who_submitted_hears_of_the_return_even_when_not_responsible(college):
    """In the demo, 吕刚 (secretary) answered a report whose responsible role is the head: his
    link opens every unit where he holds a role, so he may. The 退回 notice went to the head
    only and the person who sent it never heard. It goes to the submitter too."""
    from scheduler.models import Person, RoleAssignment
    app = college.app
    with app.session() as s:
        zhou = Person(key="zhou@example.edu.cn", name="周明", email="zhou@example.edu.cn")
        s.add(zhou)
        s.flush()
        s.add(RoleAssignment(unit_code="B1", person_id=zhou.id, role="propaganda"))
        zhou_id = zhou.id
    p = planner(app)
    rec = submit(app, "rpack.spring", "B1", "2026", at=NOW,
                 recorded_by=f"周明（网页，人员{zhou_id}）")   # as the web records it
    reviews.review(app, rec.submission.id, "returned", "缺少签字页", by="propaganda", now=NOW)
    p.plan(datetime(2026, 3, 16, 11))
    with app.session() as s:
        told = {i.person_id for i in s.exec(select(OutboxItem).where(
            OutboxItem.stage.startswith("returned:"))).all()}
        assert told == {college.people["A"], zhou_id}      # the secretary and the submitter
        row = s.exec(select(Outbox).where(Outbox.person_id == zhou_id)).one()
        assert "已退回" in row.body_text and "缺少签字页" in row.body_text
