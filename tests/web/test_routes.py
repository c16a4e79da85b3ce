"""Route tests against a real SQLite file: who may see and do what, links, uploads, cookies."""

import re
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from scheduler.links import Links
from scheduler.models import Evidence, Person, RoleAssignment, Submission, SubmissionReview, Unit, WebAudit
from scheduler.submissions import submit
from tests.web.conftest import NOW, PDF, PNG, PASSWORD, csrf_of, login

VISITORS = ("anonymous", "A", "B", "viewer", "propaganda")


def _post(client, path, data=None, files=None):
    token = csrf_of(client, "/login")
    return client.post(path, data={"csrf": token, **(data or {})}, files=files)


def _evidence_of_b1(college):
    rec = submit(college.app, "rpack.spring", "B1", "2026", at=NOW, evidence=[_file(college, PDF)],
                 names=["报告.pdf"])
    return rec.submission.id, rec.evidence[0].id


def _file(college, content, name="x.pdf"):
    path = college.app.config.general.data_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


# Every route x every kind of visitor: (method, path template, {visitor: expected status}).
# "{b1}" is an occurrence of unit B1 (secretary A's), "{sid}"/"{ev}" a submission/file of B1.
TABLE = [
    ("GET", "/me", dict(anonymous=200, A=200, B=200, viewer=303, propaganda=303)),
    ("GET", "/u/B1", dict(anonymous=403, A=200, B=403, viewer=200, propaganda=200)),
    ("GET", "/u/B2", dict(anonymous=403, A=403, B=200, viewer=200, propaganda=200)),
    ("GET", "/o/{b1}", dict(anonymous=403, A=200, B=403, viewer=200, propaganda=200)),
    ("POST", "/o/{b1}/submit", dict(anonymous=403, A=303, B=403, viewer=403, propaganda=303)),
    ("GET", "/files/{ev}", dict(anonymous=403, A=200, B=403, viewer=200, propaganda=200)),
    ("GET", "/staff", dict(anonymous=303, A=403, B=403, viewer=200, propaganda=200)),
    ("GET", "/staff/review", dict(anonymous=303, A=403, B=403, viewer=200, propaganda=200)),
    ("POST", "/staff/review/{sid}", dict(anonymous=403, A=403, B=403, viewer=403, propaganda=303)),
    ("POST", "/o/{b1}/waive", dict(anonymous=403, A=403, B=403, viewer=403, propaganda=303)),
    # rpack has no meeting anchor: staff who may write get past authorization to a 400
    ("POST", "/staff/meeting", dict(anonymous=403, A=403, B=403, viewer=403, propaganda=400)),
    ("GET", "/lectures/new", dict(anonymous=403, A=200, B=200, viewer=403, propaganda=200)),
    ("POST", "/lectures/new", dict(anonymous=403, A=303, B=403, viewer=403, propaganda=303)),
    ("GET", "/lectures/{lec}", dict(anonymous=403, A=200, B=403, viewer=200, propaganda=200)),
    ("GET", "/staff/lectures", dict(anonymous=303, A=403, B=403, viewer=200, propaganda=200)),
    # rpack's lectures need no approval (only reported): past authorization, a 400
    ("POST", "/staff/lectures/{lec}/decide", dict(anonymous=403, A=403, B=403, viewer=403, propaganda=400)),
    ("POST", "/staff/people/{pa}/rotate", dict(anonymous=403, A=403, B=403, viewer=403, propaganda=303)),
    ("GET", "/metrics", dict(anonymous=403, A=403, B=403, viewer=200, propaganda=200)),
    # no planning pass has run in this college: stale, for everyone alike
    ("GET", "/healthz", dict(anonymous=503, A=503, B=503, viewer=503, propaganda=503)),
    ("GET", "/login", dict(anonymous=200, A=200, B=200, viewer=200, propaganda=200)),
    ("POST", "/logout", dict(anonymous=303, A=303, B=303, viewer=303, propaganda=303)),
    ("GET", "/", dict(anonymous=303, A=303, B=303, viewer=303, propaganda=303)),
    # token routes: whoever holds A's link is A for that request (it is a bearer credential)
    ("GET", "/l/{tok}", dict(anonymous=303, A=303, B=303, viewer=303, propaganda=303)),
    ("GET", "/l/{tok}/o/{b1}", dict(anonymous=303, A=303, B=303, viewer=303, propaganda=303)),
    ("GET", "/ics/{tok}.ics", dict(anonymous=200, A=200, B=200, viewer=200, propaganda=200)),
]
# Routes outside the table, each with the test that covers it.
ELSEWHERE = {
    "POST /login": "test_staff_login_is_throttled_after_repeated_failures",
    "GET /static": "static files (the stylesheet): no data",
}


def test_the_authorization_table_covers_every_route(college):
    """A route added later without a row here fails this test."""
    from starlette.routing import Mount
    missing = []
    for route in college.web.routes:
        pattern = re.compile(re.sub(r"{[^}]+}", "[^/]+", route.path) + "$")
        methods = ["GET"] if isinstance(route, Mount) else sorted(route.methods - {"HEAD"})
        for m in methods:
            if not any(tm == m and pattern.match(tp) for tm, tp, _ in TABLE) \
                    and f"{m} {route.path}" not in ELSEWHERE:
                missing.append(f"{m} {route.path}")
    assert missing == []


@pytest.mark.parametrize("method,path,expected", TABLE, ids=[f"{m} {p}" for m, p, _ in TABLE])
def test_authorization_table(college, method, path, expected):
    from scheduler import lectures
    sid, ev = _evidence_of_b1(college)
    b1 = college.occurrence("B1", "rpack.spring", "2026")
    lec = lectures.register(college.app, "B1", title="形势政策报告会", starts=datetime(2026, 4, 20, 14))["id"]
    url = path.format(b1=b1, sid=sid, ev=ev, lec=lec, pa=college.people["B"] if "rotate" in path else 0,
                      tok=college.links["A"].rsplit("/", 1)[1])
    data = {"decision": "return", "reason": "缺少签字页", "note": "n"} if "review" in path else \
        {"reason": "本期不适用"} if "waive" in path else \
        {"decision": "approve"} if "decide" in path else \
        {"unit": "B1", "title": "形势政策报告会", "date": "2026-05-20"} if path == "/lectures/new" else \
        {"quarter": "2026-Q1", "date": "2026-03-10"}
    files = [("files", ("a.pdf", PDF, "application/pdf"))] if path.endswith("submit") else None
    got = {}
    for who in VISITORS:
        c = college.client(who)
        r = c.get(url) if method == "GET" else _post(c, url, data, files)
        got[who] = r.status_code
        if r.status_code == 403:
            assert "报送春季" not in r.text and "报告.pdf" not in r.text   # refusals show no data
    assert got == expected


def test_secretary_a_sees_only_her_units_and_b_only_his(college):
    a = college.client("A").get("/me").text
    b = college.client("B").get("/me").text
    assert "第一党支部" in a and "第三党支部" in a and "第二党支部" not in a
    assert "第二党支部" in b and "第一党支部" not in b


def test_a_used_link_becomes_a_cookie_and_leaves_the_address_bar(college):
    c = college.client()
    path = college.links["A"].replace("http://127.0.0.1:8080", "")
    r = c.get(path)
    assert r.status_code == 303 and r.headers["location"] == "/me"
    cookie = r.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "secure" not in cookie.lower()          # base_url is http
    b1 = college.occurrence("B1", "rpack.spring", "2026")
    r = c.get(f"{path}/o/{b1}")
    assert r.headers["location"] == f"/o/{b1}"


def test_the_cookie_is_secure_when_base_url_is_https(college):
    from dataclasses import replace

    from starlette.testclient import TestClient

    from scheduler.web.app import create_app
    from scheduler.web.settings import web_settings
    settings = replace(web_settings(college.app.config), base_url="https://ccal.example.edu.cn")
    c = TestClient(create_app(college.app, settings=settings), base_url="https://ccal.example.edu.cn",
                   follow_redirects=False)
    r = c.get(college.links["A"].replace("http://127.0.0.1:8080", ""))
    assert "secure" in r.headers["set-cookie"].lower()


def test_expired_and_rotated_links_get_a_chinese_page_and_no_data(college):
    app = college.app
    links = Links(app)
    # rotated: the old link and the session made from it stop at once
    c = college.client("A")
    with app.session() as s:
        revoked, new_url = links.rotate(s, college.people["A"], NOW)
    assert revoked == 1 and new_url != college.links["A"]
    r = c.get("/me")
    assert "请使用您的个人链接" in r.text and "第一党支部" not in r.text
    r = college.client().get(college.links["A"].replace("http://127.0.0.1:8080", ""))
    assert r.status_code == 403 and "已停用" in r.text and "第一党支部" not in r.text
    # expired: a year and a day later
    app.now = lambda: NOW + timedelta(days=366)
    r = college.client().get(new_url.replace("http://127.0.0.1:8080", ""))
    assert r.status_code == 403 and "已过期" in r.text


def test_a_made_up_token_opens_nothing(college):
    r = college.client().get("/l/" + "x" * 43)
    assert r.status_code == 403 and "链接无效" in r.text


def test_submitting_a_pdf_records_it_by_that_person_and_shows_it(college):
    a = college.client("A")
    b1 = college.occurrence("B1", "rpack.spring", "2026")
    r = _post(a, f"/o/{b1}/submit", {"note": "见附件"},
              [("files", ("../../etc/研判报告.pdf", PDF, "application/pdf")),
               ("files", ("照片.png", PNG, "image/png"))])
    assert r.status_code == 303
    page = a.get(f"/o/{b1}").text
    assert "已提交，等待党委宣传部审核" in page and "研判报告.pdf" in page and "照片.png" in page
    with college.app.session() as s:
        sub = s.exec(select(Submission)).one()
        assert "许芳" in sub.recorded_by and sub.note == "见附件"
        names = sorted(e.original_name for e in s.exec(select(Evidence)).all())
        stored = [e.stored_path for e in s.exec(select(Evidence)).all()]
        assert names == ["照片.png", "研判报告.pdf"]        # the path is cut off, the name recorded only
        assert all(re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{64}\.(pdf|png)", p) for p in stored)
        assert s.exec(select(WebAudit).where(WebAudit.action == "submit")).one().actor == \
            f"person:{college.people['A']}"


def test_a_count_obligation_shows_its_progress(college):
    a = college.client("A")
    q1 = college.occurrence("B1", "rpack.study", "2026-Q1")
    for _ in range(2):
        assert _post(a, f"/o/{q1}/submit", {}, [("files", ("学习记录.pdf", PDF, "application/pdf"))]).status_code == 303
    assert "已完成 2/3" in a.get(f"/o/{q1}").text
    assert "已完成 2/3" in a.get("/me").text


@pytest.mark.parametrize("name,content,ctype,word", [
    ("病毒.exe", b"MZ\x90\x00", "application/octet-stream", "类型不受支持"),
    ("假的.pdf", PNG, "application/pdf", "文件头不符"),
    ("报告.pdf", PDF, "text/html", "内容类型"),
])
def test_unknown_or_disguised_files_are_refused(college, name, content, ctype, word):
    a = college.client("A")
    b1 = college.occurrence("B1", "rpack.spring", "2026")
    r = _post(a, f"/o/{b1}/submit", {}, [("files", (name, content, ctype))])
    assert r.status_code == 415 and word in r.text
    with college.app.session() as s:
        assert s.exec(select(Submission)).all() == []


def test_an_upload_over_the_limit_gets_413_in_chinese(college):
    a = college.client("A")
    b1 = college.occurrence("B1", "rpack.spring", "2026")
    big = PDF + b"0" * (21 * 1024 * 1024)
    r = _post(a, f"/o/{b1}/submit", {}, [("files", ("大文件.pdf", big, "application/pdf"))])
    assert r.status_code == 413 and "不能超过 20 MB" in r.text
    with college.app.session() as s:
        assert s.exec(select(Submission)).all() == []


@pytest.mark.parametrize("done_on,word", [("2026-03-17", "晚于今天"), ("2026-03-01", "早于本期开始日期"),
                                          ("17/03/2026", "格式有误")])
def test_the_done_date_is_never_future_nor_before_the_period_opens(college, done_on, word):
    a = college.client("A")
    b1 = college.occurrence("B1", "rpack.spring", "2026")
    r = _post(a, f"/o/{b1}/submit", {"done_on": done_on}, [("files", ("a.pdf", PDF, "application/pdf"))])
    assert r.status_code == 400 and word in r.text


def test_a_form_without_its_csrf_token_is_refused(college):
    a = college.client("A")
    b1 = college.occurrence("B1", "rpack.spring", "2026")
    r = a.post(f"/o/{b1}/submit", data={"csrf": "forged"}, files=[("files", ("a.pdf", PDF, "application/pdf"))])
    assert r.status_code == 403 and "安全校验失败" in r.text


@pytest.mark.parametrize("method,path,expected", [row for row in TABLE if row[0] == "POST"],
                         ids=[p for m, p, _ in TABLE if m == "POST"])
def test_every_form_refuses_a_post_without_its_csrf_token(college, method, path, expected):
    """Every POST route, sent by the visitor it would otherwise serve, with a forged token:
    403 and the Chinese explanation, and no audit record of the action."""
    from scheduler import lectures
    sid, _ = _evidence_of_b1(college)
    b1 = college.occurrence("B1", "rpack.spring", "2026")
    lec = lectures.register(college.app, "B1", title="形势政策报告会", starts=datetime(2026, 4, 20, 14))["id"]
    url = path.format(b1=b1, sid=sid, lec=lec, pa=college.people["B"])
    who = next(w for w in ("propaganda", "A") if expected[w] != 403)
    c = college.client(who)
    with college.app.session() as s:
        before = len(s.exec(select(WebAudit)).all())
    r = c.post(url, data={"csrf": "forged"},
               files=[("files", ("a.pdf", PDF, "application/pdf"))] if url.endswith("submit") else None)
    assert r.status_code == 403 and "安全校验失败" in r.text
    with college.app.session() as s:
        assert len(s.exec(select(WebAudit)).all()) == before


def test_downloads_show_pdf_inline_and_send_other_files_as_attachments(college):
    sid, ev = _evidence_of_b1(college)
    docx = submit(college.app, "rpack.spring", "B1", "2026", at=NOW,
                  evidence=[_file(college, b"PK\x03\x04rest", "y.docx")], names=["记录.docx"]).evidence[0].id
    p = college.client("propaganda")
    r = p.get(f"/files/{ev}")
    assert r.content == PDF and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("inline") and r.headers["x-content-type-options"] == "nosniff"
    r = p.get(f"/files/{docx}")
    assert r.headers["content-disposition"].startswith("attachment")
    assert r.headers["content-type"] == "application/octet-stream"


def test_a_unit_named_like_a_script_shows_as_text(college):
    with college.app.session() as s:
        s.add(Unit(code="XSS", name="<script>alert(1)</script>", kind="branch"))
        s.flush()
        s.add(RoleAssignment(unit_code="XSS", person_id=college.people["A"], role="secretary"))
    page = college.client("A").get("/me").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page


def test_staff_login_is_throttled_after_repeated_failures(college):
    c = college.client()
    for _ in range(5):
        assert login(c, "propaganda", "wrong password").status_code == 400
    r = login(c, "propaganda", PASSWORD)
    assert r.status_code == 429 and "15 分钟后再试" in r.text
    other = college.client()
    assert login(other, "viewer").status_code == 303      # other accounts are not locked


def test_staff_return_from_the_queue_opens_the_occurrence_again(college):
    a = college.client("A")
    b1 = college.occurrence("B1", "rpack.spring", "2026")
    _post(a, f"/o/{b1}/submit", {}, [("files", ("a.pdf", PDF, "application/pdf"))])
    with college.app.session() as s:
        sid = s.exec(select(Submission.id)).one()
    p = college.client("propaganda")
    assert "a.pdf" in p.get("/staff/review").text
    r = _post(p, f"/staff/review/{sid}", {"decision": "return", "reason": ""})
    assert r.status_code == 400 and "退回必须填写原因" in r.text
    assert _post(p, f"/staff/review/{sid}", {"decision": "return", "reason": "缺少签字页"}).status_code == 303
    page = a.get("/me").text
    assert "已退回（请修改后重新提交）" in page and "缺少签字页" in page
    assert "没有待审核的提交" in p.get("/staff/review").text
    with college.app.session() as s:
        assert s.exec(select(SubmissionReview)).one().reviewed_by == "propaganda"
        assert s.exec(select(WebAudit).where(WebAudit.action == "return")).one().actor == "staff:propaganda"


def test_group_chat_links_ask_for_the_personal_link(college):
    r = college.client().get("/me")
    assert r.status_code == 200 and "请使用您的个人链接" in r.text and "第一党支部" not in r.text


def test_the_personal_calendar_feed_is_current_with_an_alarm_the_day_before(college):
    from icalendar import Calendar
    token = college.links["A"].rsplit("/", 1)[1]
    me = college.client("A").get("/me").text
    assert f"webcal://127.0.0.1:8080/ics/{token}.ics" in me
    c = college.client()
    cal = Calendar.from_ical(c.get(f"/ics/{token}.ics").content)
    events = list(cal.walk("VEVENT"))
    summaries = [str(e.get("summary")) for e in events]
    assert "第一党支部：报送春季意识形态工作研判报告" in summaries
    assert not any("第二党支部" in s for s in summaries)          # B's unit is not in A's feed
    alarms = [a for e in events for a in e.walk("VALARM")]
    assert len(alarms) == len(events) and alarms[0].get("trigger").dt.total_seconds() == -15 * 3600
    # current: a submission shows in the next fetch
    submit(college.app, "rpack.spring", "B1", "2026", at=NOW)
    spring = next(e for e in Calendar.from_ical(c.get(f"/ics/{token}.ics").content).walk("VEVENT")
                  if str(e.get("summary")) == "第一党支部：报送春季意识形态工作研判报告")
    assert "状态：已完成" in str(spring.get("description"))
    assert c.get("/ics/" + "y" * 43 + ".ics").status_code == 403


def test_healthz_answers_503_when_the_last_pass_is_older_than_stale_after_minutes(college):
    from notifiers.local_outbox import LocalOutbox
    from notifiers.rendering import make_environment
    from scheduler.service import Service
    c = college.client()
    assert c.get("/healthz").json()["status"] == "stale"
    Service(college.app, clock=lambda: NOW).plan(NOW)
    r = c.get("/healthz")
    assert r.status_code == 200 and r.json()["last_pass"] == NOW.isoformat()
    college.app.now = lambda: NOW + timedelta(minutes=31)      # default stale_after_minutes = 30
    r = c.get("/healthz")
    assert r.status_code == 503 and r.json()["status"] == "stale"


def test_metrics_for_staff_or_a_bearer_token(college, monkeypatch):
    monkeypatch.setenv("CCAL_METRICS_TOKEN", "scrape-token-0123456789")
    submit(college.app, "rpack.spring", "B1", "2026", at=NOW)
    anonymous = college.client()
    assert anonymous.get("/metrics").status_code == 403
    assert anonymous.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    r = anonymous.get("/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"})
    assert r.status_code == 200
    assert 'ccal_occurrences{state="done"} 1.0' in r.text and 'ccal_occurrences{state="open"}' in r.text
    assert "ccal_open_returns 0.0" in r.text


def test_metrics_count_occurrences_by_state_from_the_state_columns(college, monkeypatch):
    """At 4,000 units /metrics took 11 s (every submission of the year read and each status
    computed in Python per scrape), past Prometheus's default 10 s scrape timeout. The counts
    come from the occurrences' state columns in SQL and agree with the status every page shows."""
    from collections import Counter

    from scheduler import queries, submissions
    from scheduler.submissions import waive
    for _ in range(3):                                                                # done
        submit(college.app, "rpack.study", "B1", "2026-Q1", at=datetime(2026, 3, 1, 9))
    submit(college.app, "rpack.study", "B2", "2026-Q1", at=datetime(2026, 3, 1, 9))  # 1 of 3
    waive(college.app, "rpack.spring", "B2", "2026", "本期不适用")                     # waived
    submit(college.app, "rpack.spring", "B3", "2026", at=datetime(2026, 3, 25, 9))    # late
    later = NOW + timedelta(days=20)                         # 5 April: spring and Q1 past due
    college.app.now = lambda: later
    want = Counter(r["status"] for y in (2026,) for u in ("B1", "B2", "B3")
                   for r in queries.unit_year(college.app, u, y, later.date()).rows
                   if r["due"].year == 2026)
    assert {"late", "waived", "overdue", "open", "upcoming"} <= set(want)

    def no_submissions(*a, **k):
        raise AssertionError("metrics read the submissions")
    monkeypatch.setattr(submissions, "counting_submissions", no_submissions)
    text = college.client("viewer").get("/metrics").text
    got = {m[0]: int(float(m[1])) for m in re.findall(r'ccal_occurrences\{state="(\w+)"\} ([0-9.]+)', text)}
    assert got == dict(want)


def test_the_overview_shows_each_units_counts_beside_its_name(college):
    """With some 40 obligations as columns the per-unit counts were the last column, off the
    screen; they follow the unit's name, before the obligations."""
    submit(college.app, "rpack.spring", "B1", "2026", at=NOW)
    page = college.client("viewer").get("/staff").text
    head = re.search(r"<thead><tr>(.*?)</tr></thead>", page, re.S).group(1)
    assert re.findall(r"<th[^>]*>([^<]*)</th>", head)[:2] == ["单位", "合计"]
    row = re.search(r'<tr><th><a href="/u/B1">第一党支部</a></th>\s*<td class="meta">([^/]*?)</td>', page)
    assert row and "完成 1" in row.group(1)


def test_the_overview_counts_what_is_still_overdue_from_earlier_periods(college):
    """Each cell is the current period, so a unit that left the first quarter's studies undone
    looked clean in April. Its counts say 往期逾期 N and lead to its year."""
    for _ in range(3):
        submit(college.app, "rpack.study", "B3", "2026-Q1", at=datetime(2026, 3, 1, 9))
    college.app.now = lambda: datetime(2026, 4, 7, 10)     # Q2 is the current quarter
    page = college.client("viewer").get("/staff").text
    row = lambda code: re.search(rf'<tr><th><a href="/u/{code}">[^<]*</a></th>\s*<td class="meta">(.*?)</td>',
                                 page, re.S).group(1)
    assert '<a class="earlier" href="/u/B1">往期逾期 1</a>' in row("B1")      # Q1's studies, not done
    assert "往期逾期" not in row("B3")                        # done in time


def test_the_overviews_next_page_keeps_a_filter_with_an_ampersand(college):
    """The pager wrote the filter into its links unencoded: 「党建&宣传」 came back as 「党建」."""
    import html
    with college.app.session() as s:
        s.add_all(Unit(code=f"X{i:02d}", name=f"党建&宣传{i:02d}支部", kind="branch") for i in range(55))
        s.add_all(Unit(code=f"Y{i:02d}", name=f"党建{i:02d}支部", kind="branch") for i in range(5))
    c = college.client("viewer")
    page = c.get("/staff", params={"q": "党建&宣传"}).text
    assert "共 55 个单位，第 1/2 页" in page
    nxt = html.unescape(re.search(r'<a href="([^"]+)">下一页', page).group(1))
    assert "共 55 个单位，第 2/2 页" in c.get(nxt).text


def test_the_overview_matrix_shows_each_units_current_occurrence_by_colour_and_word(college):
    from scheduler import reviews
    rec = submit(college.app, "rpack.spring", "B1", "2026", at=NOW)
    reviews.review(college.app, rec.submission.id, "returned", "缺少签字页", by="propaganda")
    submit(college.app, "rpack.spring", "B3", "2026", at=NOW)
    page = college.client("viewer").get("/staff").text
    b1 = college.occurrence("B1", "rpack.spring", "2026")
    b2 = college.occurrence("B2", "rpack.spring", "2026")
    b3 = college.occurrence("B3", "rpack.spring", "2026")
    assert f'<td class="c-returned"><a href="/o/{b1}">退回</a></td>' in page
    assert f'<td class="c-open"><a href="/o/{b2}">进行中</a></td>' in page
    assert f'<td class="c-done"><a href="/o/{b3}">完成</a></td>' in page
    q1 = college.occurrence("B1", "rpack.study", "2026-Q1")
    assert f'href="/o/{q1}"' in page                               # Q1, not a later quarter
    assert f'href="/o/{college.occurrence("B1", "rpack.study", "2026-Q2")}"' not in page
    only_b2 = college.client("viewer").get("/staff", params={"q": "第二"}).text
    assert f'href="/o/{b2}"' in only_b2 and f'href="/o/{b1}"' not in only_b2
    assert "共 1 个单位" in only_b2


def test_the_review_queue_holds_what_people_submitted_through_their_links(college):
    submit(college.app, "rpack.spring", "B2", "2026", at=NOW, recorded_by="clerk")   # typed in from paper
    a = college.client("A")
    b1 = college.occurrence("B1", "rpack.spring", "2026")
    _post(a, f"/o/{b1}/submit", {}, [("files", ("a.pdf", PDF, "application/pdf"))])
    queue = college.client("viewer").get("/staff/review").text
    assert "审核（1）" in queue and "第一党支部" in queue and "第二党支部" not in queue
    assert "提交人：许芳（网页提交）" in queue and "人员" not in queue      # no internal id


def test_staff_submit_on_behalf_without_a_file_and_waive(college):
    from scheduler import queries
    p = college.client("propaganda")
    b2 = college.occurrence("B2", "rpack.spring", "2026")
    assert _post(p, f"/o/{b2}/submit", {"note": "纸质材料已收"}).status_code == 303
    with college.app.session() as s:
        sub = s.exec(select(Submission)).one()
    assert sub.recorded_by == "propaganda（网页，宣传部）" and sub.note == "纸质材料已收"
    b3 = college.occurrence("B3", "rpack.spring", "2026")
    assert _post(p, f"/o/{b3}/waive", {"reason": "支部改选，本期不适用"}).status_code == 303
    states = {r["unit"]: r["status"] for r in queries.unit_year(college.app, "B3", 2026, NOW.date()).rows
              if r["obligation"] == "rpack.spring"}
    assert states == {"B3": "waived"}
    assert "已豁免" in college.client("A").get(f"/o/{b3}").text


def test_an_upload_without_a_length_is_cut_off_at_the_limit(college):
    a = college.client("A")
    b1 = college.occurrence("B1", "rpack.spring", "2026")
    token = csrf_of(a, f"/o/{b1}")
    boundary = "ccalboundary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.pdf"\r\n'
            f'Content-Type: application/pdf\r\n\r\n').encode() + PDF

    def body():                       # a generator: sent chunked, no Content-Length
        yield head
        for _ in range(22):
            yield b"0" * (1024 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    r = a.post(f"/o/{b1}/submit", content=body(),
               headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413 and "不能超过 20 MB" in r.text
    with college.app.session() as s:
        assert s.exec(select(Submission)).all() == []


@pytest.mark.parametrize("back,location", [("//evil.example/x", "/staff/review"), ("/o/{b1}", "/o/{b1}"),
                                           ("https://evil.example", "/staff/review")])
def test_after_a_review_the_redirect_never_leaves_the_site(college, back, location):
    sid, _ = _evidence_of_b1(college)
    b1 = college.occurrence("B1", "rpack.spring", "2026")
    p = college.client("propaganda")
    r = _post(p, f"/staff/review/{sid}", {"decision": "accept", "back": back.format(b1=b1)})
    assert r.status_code == 303 and r.headers["location"] == location.format(b1=b1)


def test_browsing_a_year_the_daemon_never_materialised_creates_nothing(college):
    from scheduler.models import Occurrence
    with college.app.session() as s:
        before = len(s.exec(select(Occurrence)).all())
    page = college.client("A").get("/me", params={"year": 2025}).text
    assert "本年度暂无事项" in page
    with college.app.session() as s:
        assert len(s.exec(select(Occurrence)).all()) == before


def test_staff_rotate_a_persons_link_from_the_unit_page_and_it_stops_at_once(college):
    a = college.client("A")
    p = college.client("propaganda")
    page = p.get("/u/B1").text
    assert "许芳（书记）" in page and f'action="/staff/people/{college.people["A"]}/rotate"' in page
    r = _post(p, f"/staff/people/{college.people['A']}/rotate", {"back": "/u/B1"})
    assert r.status_code == 303 and r.headers["location"] == "/u/B1"
    assert "请使用您的个人链接" in a.get("/me").text             # A's session ended
    with college.app.session() as s:
        assert s.exec(select(WebAudit).where(WebAudit.action == "link_rotate")).one().actor == "staff:propaganda"
    assert "停用并更换个人链接" not in college.client("viewer").get("/u/B1").text
