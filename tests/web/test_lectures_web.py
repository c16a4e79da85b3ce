"""Lectures on the web (flow 3 of issue 9, at route level): the application form shows the
approval deadline on the working-day calendar and says plainly when it is already late; the
application is approved in the department's queue; both sides read the same status."""

import re
from datetime import datetime

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from scheduler.links import Links
from scheduler.models import Person
from tests.scheduler.test_lectures import ORG
from tests.web.conftest import PASSWORD, PDF, csrf_of, fix_clock, login

NOW = datetime(2026, 9, 20, 10, 0)     # after the 8 September deadline of a 12 October lecture


@pytest.fixture
def site(open_college, monkeypatch):
    from scheduler.web.accounts import add_user
    from scheduler.web.app import create_app

    monkeypatch.setenv("CCAL_WEB_SECRET", "lecture-test-secret-0123456789")
    from scheduler.materialise import materialise

    app = open_college(ORG)
    fix_clock(app, NOW)
    materialise(app, [2026])      # the tracked year, as the daemon keeps it (scheduler/tracking.py)
    add_user(app, "propaganda", "propaganda", PASSWORD)
    add_user(app, "viewer", "viewer", PASSWORD)
    web = create_app(app)

    def client(who=None):
        c = TestClient(web, base_url="http://127.0.0.1:8080", follow_redirects=False)
        if who in ("propaganda", "viewer"):
            login(c, who)
        elif who:
            with app.session() as s:
                pid = s.exec(select(Person.id).where(Person.name == who)).one()
                url = Links(app).url_for(s, pid, NOW)
            assert c.get(url.replace("http://127.0.0.1:8080", "")).status_code == 303
        return c
    return client


FORM = {"unit": "JDX", "title": "党史专题报告会", "speaker": "张教授", "date": "2026-10-12",
        "time": "14:30", "place": "报告厅", "categories": "history"}


def test_the_form_shows_the_deadline_and_says_when_it_is_already_late(site):
    head = site("朱建平")                 # head of JDX: the lecture obligations remind the head
    page = head.get("/lectures/new", params=FORM).text
    assert "报批截止日期：<strong>2026年9月8日（周二）</strong>" in page
    assert "已超过报批截止日期" in page
    on_time = head.get("/lectures/new", params={**FORM, "date": "2026-12-01"}).text
    assert "已超过报批截止日期" not in on_time and "请在截止日期前提交" in on_time
    plain = head.get("/lectures/new", params={**FORM, "date": "2026-09-20", "categories": ""}).text
    assert "2026年9月14日" in plain         # not sensitive: jincheng-2020.4.2 (5 working days)


def test_a_late_sensitive_application_is_approved_in_the_queue_and_reads_so_on_both_sides(site):
    head = site("朱建平")
    r = head.post("/lectures/new", data={**FORM, "csrf": csrf_of(head, "/lectures/new")},
                  files=[("files", ("申请表.pdf", PDF, "application/pdf"))])
    assert r.status_code == 303, r.text
    path = r.headers["location"]
    page = head.get(path).text
    assert "逾期报批" in page and "待审批" in page and "（逾期）" in page
    staff = site("propaganda")
    queue = staff.get("/staff/lectures").text
    assert "党史专题报告会" in queue and "逾期报批" in queue
    lecture_id = re.search(r"/lectures/(\d+)", path).group(1)
    viewer = site("viewer")
    assert viewer.post(f"/staff/lectures/{lecture_id}/decide",
                       data={"csrf": csrf_of(viewer), "decision": "approve"}).status_code == 403
    r = staff.post(f"/staff/lectures/{lecture_id}/decide", data={"csrf": csrf_of(staff), "decision": "approve"})
    assert r.status_code == 303
    assert "已批准" in head.get(path).text and "已批准" in staff.get(path).text


def test_nobody_else_opens_or_files_a_units_lectures(site):
    head = site("朱建平")
    r = head.post("/lectures/new", data={**FORM, "csrf": csrf_of(head, "/lectures/new")})
    path = r.headers["location"]
    other = site("褚振华")               # head of JWC
    assert other.get(path).status_code == 403
    r = other.post("/lectures/new", data={**FORM, "csrf": csrf_of(other, "/lectures/new")})
    assert r.status_code == 403
    assert site().get(path).status_code == 403
    assert site().get("/lectures/new").status_code == 403
    assert site("viewer").get("/lectures/new").status_code == 403


def test_a_supervision_order_is_read_and_answered_with_a_rectification_report(site, open_college):
    from datetime import date

    from scheduler import orders
    from scheduler.models import Occurrence
    head = site("朱建平")
    app = head.app.state.web.app
    o = orders.issue(app, "JDX", date(2026, 10, 15), "宣传栏内容未按要求更新，请限期整改")
    with app.session() as s:
        occ = s.exec(select(Occurrence).where(Occurrence.period == o["period"])).one()
    me = head.get("/me").text
    assert f'href="/o/{occ.id}"' in me
    page = head.get(f"/o/{occ.id}").text
    assert "督办单 O" in page and "宣传栏内容未按要求更新，请限期整改" in page and "2026年10月15日" in page
    r = head.post(f"/o/{occ.id}/submit", data={"csrf": csrf_of(head, f"/o/{occ.id}")},
                  files=[("files", ("整改报告.pdf", PDF, "application/pdf"))])
    assert r.status_code == 303
    assert orders.show(app, o["id"], NOW.date())["status"] == "done"


def test_staff_record_a_quarters_meeting_date_and_the_reports_hang_on_it(site):
    from scheduler.models import Event, Occurrence
    staff = site("propaganda")
    r = staff.post("/staff/meeting", data={"csrf": csrf_of(staff), "quarter": "2026-Q4", "date": "2026-12-10"})
    assert r.status_code == 303
    app = staff.app.state.web.app
    with app.session() as s:
        ev = s.exec(select(Event).where(Event.label == "2026-Q4")).one()
        report = s.exec(select(Occurrence).where(Occurrence.obligation_key == "jincheng-2020.meeting.report",
                                                 Occurrence.period == "2026-Q4",
                                                 Occurrence.unit_code == "JDX")).one()
    assert ev.date.isoformat() == "2026-12-10"
    assert report.due < ev.date and not report.provisional        # due before the recorded meeting
    viewer = site("viewer")
    assert viewer.post("/staff/meeting", data={"csrf": csrf_of(viewer), "quarter": "2026-Q4",
                                               "date": "2026-12-11"}).status_code == 403
