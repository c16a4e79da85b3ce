"""`ccal lecture`, `ccal order` and `ccal meeting` end to end (click's CliRunner), with the
reminders they cause read back from the local outbox after `ccal tick --now`; plus the
count-based progress of `ccal status` (issue 4). A small college imported from CSV, the
bundled packs; every date is explicit."""

import email
import json
from email import policy

import pytest
from tests.cli_college import copy_college, run
from tests.orgs import ROLES_ORG

CONFIG = '[general]\ndata_dir = "data"\n\n[database]\nurl = "sqlite:///ccal.db"\n\n[packs]\nenabled = ["jincheng-2020", "henan-2023", "school-template", "shanghai-2023"]\n'
ORG = ROLES_ORG


def ok(result):
    assert result.exit_code == 0, result.output + result.stderr
    return result.stdout


def fails(result, message):
    assert result.exit_code == 1, result.output
    assert message in result.stderr, result.stderr


def as_json(result):
    return json.loads(ok(result))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    d = tmp_path_factory.mktemp("college")
    (d / "ccal.toml").write_text(CONFIG, encoding="utf-8")
    (d / "org.csv").write_text(ORG, encoding="utf-8")
    ok(run(d / "ccal.toml", "init"))
    ok(run(d / "ccal.toml", "org", "import", d / "org.csv"))
    return d


@pytest.fixture
def cfg(prepared, tmp_path):
    return copy_college(prepared, tmp_path, CONFIG)


def register(cfg, *extra, unit="JDX", title="党史专题报告会", when="2026-10-12 14:30"):
    return run(cfg, "lecture", "register", "--unit", unit, "--title", title, "--date", when,
               "--speaker", "张教授", "--place", "报告厅", *extra)


def lecture_json(cfg, **filters):
    args = [x for k, v in filters.items() for x in (f"--{k}", v)]
    return as_json(run(cfg, "lecture", "list", "--format", "json", *args))


def mail(cfg, name):
    """Plain-text bodies of the local-outbox emails to `name`, oldest first."""
    out = []
    for f in sorted((cfg.parent / "data" / "outbox").glob("*.eml")):
        m = email.message_from_bytes(f.read_bytes(), policy=policy.default)
        if name in str(m["To"]):
            out.append(m.get_body(("plain",)).get_content())
    return out


# --------------------------------------------------------------------------- lectures

def test_categories_are_listed_with_the_clause(cfg):
    out = ok(run(cfg, "lecture", "categories"))
    for key in ("history", "leaders", "ethnic-religion", "foreign", "hmt", "groups", "spirit"):
        assert key in out
    # issue 7: the document as people name it, not the seed's file name
    assert "涉港澳台问题的" in out and "依据：河南科技职业大学党委意识形态工作举措（2023年12月28日印发） 第12条" in out
    assert ".txt" not in out


def test_register_a_sensitive_lecture_gives_the_20_working_day_deadline(cfg):
    out = ok(register(cfg, "--sensitive", "history,港澳台", "--filed", "2026-09-01 10:00"))
    assert "已登记讲座 1" in out
    assert "涉及党史国史军史、港澳台：须报党委宣传部审批（henan-2023.12 / E1），截止 2026-09-08" in out
    assert "报审 2026-09-01 10:00（按时）" in out and "状态：待审批" in out
    (row,) = lecture_json(cfg)
    assert (row["deadline"], row["status"], row["late"], row["categories"]) == (
        "2026-09-08", "pending", False, ["history", "hmt"])


def test_registering_late_is_allowed_and_flagged(cfg):
    out = ok(register(cfg, "--sensitive", "leaders", "--filed", "2026-09-10 10:00"))
    assert "报审 2026-09-10 10:00（逾期）" in out
    assert lecture_json(cfg)[0]["late"] is True
    assert "（逾期）" in ok(run(cfg, "lecture", "list"))


def test_an_approval_deadline_in_2027_is_provisional(cfg):
    out = ok(register(cfg, "--sensitive", "hmt", "--filed", "2026-11-01 09:00", when="2027-01-20"))
    assert "截止 2026-12-22*" in out and "* 暂定：节假日安排未公布" in out
    listing = ok(run(cfg, "lecture", "list", "--year", "2027"))
    assert "2026-12-22*" in listing and listing.rstrip().endswith("* 暂定：节假日安排未公布")


def test_an_ordinary_lecture_takes_the_college_rule(cfg):
    out = ok(register(cfg, "--filed", "2026-09-01 10:00", unit="JWC", title="职业教育前沿讲座", when="2026-09-20"))
    assert "一般讲座：须报党委宣传部审批（jincheng-2020.4.2 / E1），截止 2026-09-14" in out


def test_a_change_voids_the_approval(cfg):
    ok(register(cfg, "--sensitive", "history", "--filed", "2026-09-01 10:00"))
    assert "状态：已批准" in ok(run(cfg, "lecture", "approve", "1", "--at", "2026-09-05 10:00"))
    out = ok(run(cfg, "lecture", "change", "1", "--reason", "主讲人时间冲突", "--date", "2026-10-19 14:30",
                 "--filed", "2026-09-10 10:00"))
    assert "讲座 1 已变更（第 2 版），原审批失效" in out
    # E3: events 1 and 2 are the first version's approval and its filing with the city (issue 7)
    assert "（henan-2023.12 / E3），截止 2026-09-15" in out and "状态：待审批" in out
    show = ok(run(cfg, "lecture", "show", "1"))
    assert "变更" in show and "主讲人时间冲突" in show and "批准" in show
    fails(run(cfg, "lecture", "change", "1", "--reason", "x"), "没有变更内容")
    fails(run(cfg, "lecture", "change", "1", "--reason", "x", "--sensitive", "nonsense"), "未知敏感议题类别")


def test_every_violation_kind_is_recorded_as_a_4_2_deduction(cfg):
    # 未批先办: planned, never applied for, held.
    ok(register(cfg, "--sensitive", "history", "--planned", title="讲座甲", when="2026-05-11 14:30"))
    assert "违规：未批先办" in ok(run(cfg, "lecture", "held", "1"))
    # 边批边办: applied for, held while pending, approved afterwards.
    ok(register(cfg, "--sensitive", "history", "--filed", "2026-04-01 10:00", title="讲座乙", when="2026-05-12 14:30"))
    ok(run(cfg, "lecture", "held", "2"))
    assert "违规：边批边办" in ok(run(cfg, "lecture", "approve", "2", "--at", "2026-05-12 17:00"))
    # 事后补批: applied for after it took place.
    out = ok(register(cfg, "--sensitive", "history", "--filed", "2026-05-20 10:00", title="讲座丙", when="2026-05-13"))
    assert "违规：事后补批" in out and "（逾期）" in out
    # In order and approved in time: nothing.
    ok(register(cfg, "--filed", "2026-04-01 10:00", title="讲座丁", when="2026-05-14"))
    ok(run(cfg, "lecture", "approve", "4", "--at", "2026-04-02 10:00"))
    ok(run(cfg, "lecture", "held", "4"))
    rows = lecture_json(cfg, status="violation")
    assert [(r["title"], r["violation"]) for r in rows] == [
        ("讲座甲", "未批先办"), ("讲座乙", "边批边办"), ("讲座丙", "事后补批")]
    ledger = as_json(run(cfg, "score", "ledger", "--year", "2026", "--unit", "JDX", "--item", "4.2", "--format", "json"))
    live = sorted((r["reason"].split("：")[1][:7], r["points"]) for r in ledger if r["in_force"] and r["points"])
    assert live == [("讲座事后补批", -1.0), ("讲座未批先办", -1.0), ("讲座边批边办", -1.0)]


def test_lecture_errors_are_clerk_readable(cfg):
    fails(run(cfg, "lecture", "approve", "9"), "未知讲座编号")
    ok(register(cfg, "--planned"))
    fails(run(cfg, "lecture", "approve", "1"), "尚未报审")
    ok(run(cfg, "lecture", "cancel", "1", "--reason", "主讲人无法到场"))
    fails(run(cfg, "lecture", "held", "1"), "已取消")
    assert lecture_json(cfg)[0]["status"] == "cancelled"


def test_reminders_go_to_the_organiser_and_the_department_then_pending_to_the_department(cfg):
    ok(register(cfg, "--sensitive", "history", "--planned"))
    ok(run(cfg, "tick", "--now", "2026-09-01 10:00"))
    for name in ("朱建平", "孙宣"):
        (text,) = [m for m in mail(cfg, name) if "党史专题报告会" in m]
        assert "讲座 1《党史专题报告会》（2026-10-12 14:30）" in text and "2026年9月8日" in text
    ok(run(cfg, "lecture", "apply", "1", "--at", "2026-09-02 09:00"))
    ok(run(cfg, "tick", "--now", "2026-10-09 10:00"))
    pending = [m for m in mail(cfg, "孙宣") if "审批讲座、报告会申请" in m]
    assert len(pending) == 1 and "机电工程系党支部于 2026-09-02 报审，待审批" in pending[0]
    assert len([m for m in mail(cfg, "朱建平") if "党史专题报告会" in m]) == 1   # not told again


# --------------------------------------------------------------------------- orders

def test_an_order_is_reminded_escalated_closed_and_scored(cfg, tmp_path):
    out = ok(run(cfg, "order", "issue", "--unit", "JWC", "--deadline", "2026-03-20", "--date", "2026-03-02",
                 "--text", "宣传栏张贴过期材料，限期更换", "--item", "4.3"))
    assert "已下达督办单 1：henan-2023.19.order / JWC / O1" in out and "逾期计入考核项目 4.3" in out
    ok(run(cfg, "tick", "--now", "2026-03-25 10:00"))       # three working days overdue
    assert any("督办单 O1（2026-03-02 下达）" in m for m in mail(cfg, "褚振华"))
    # Escalated to the supervisor (JWC's branch secretary) in his digest, as a group of its own.
    assert any("【教务处】　逾期督办，责任人：褚振华（负责人）" in m and "督办单 O1" in m for m in mail(cfg, "郑晓东"))
    rows = as_json(run(cfg, "order", "list", "--as-of", "2026-03-25", "--format", "json"))
    assert [(r["id"], r["status"], r["days_overdue"]) for r in rows] == [(1, "overdue", 5)]
    report = tmp_path / "整改报告.pdf"
    report.write_bytes(b"%PDF-1.4")
    out = ok(run(cfg, "submit", "henan-2023.19.order", "--unit", "JWC", "--period", "O1",
                 "--at", "2026-03-27 09:00", "--evidence", report))
    assert "逾期完成" in out
    assert as_json(run(cfg, "order", "show", "1", "--as-of", "2026-03-30", "--format", "json"))[0]["status"] == "late"
    (unit,) = as_json(run(cfg, "score", "--year", "2026", "--unit", "JWC", "--as-of", "2026-12-31", "--format", "json"))
    (item,) = [i for i in unit["items"] if i["item"] == "4.3"]
    assert item["score"] == 4 and "督办单 O1 逾期未整改" in json.dumps(item["lines"], ensure_ascii=False)


def test_order_list_is_a_query_it_posts_no_finding(cfg):
    # Listing today (no --as-of) shows the order overdue; the finding is posted by a pass
    # (`ccal tick`, the daemon), never by looking.
    import sqlite3

    from freezegun import freeze_time

    ok(run(cfg, "order", "issue", "--unit", "JWC", "--deadline", "2026-03-20", "--date", "2026-03-02",
           "--text", "宣传栏张贴过期材料，限期更换", "--item", "4.3"))
    findings = "SELECT count(*) FROM finding WHERE source_kind = 'order'"
    with freeze_time("2026-03-25 10:00"):
        rows = as_json(run(cfg, "order", "list", "--format", "json"))
    assert [(r["id"], r["status"]) for r in rows] == [(1, "overdue")]
    with sqlite3.connect(cfg.parent / "ccal.db") as db:
        assert db.execute(findings).fetchone() == (0,)
    ok(run(cfg, "tick", "--now", "2026-03-25 10:00"))
    with sqlite3.connect(cfg.parent / "ccal.db") as db:
        assert db.execute(findings).fetchone() == (1,)


def test_order_close_is_the_same_submission(cfg, tmp_path):
    ok(run(cfg, "order", "issue", "--unit", "JDX", "--deadline", "2026-06-30", "--date", "2026-06-01",
           "--text", "整改社团指导教师配备"))
    usage = run(cfg, "order", "close", "1")
    assert usage.exit_code == 2 and "缺少选项 '--evidence'" in usage.stderr   # click's strings in Chinese (issue 7)
    report = tmp_path / "整改报告.docx"
    report.write_bytes(b"report")
    out = ok(run(cfg, "order", "close", "1", "--evidence", report, "--at", "2026-06-20 10:00"))
    assert "督办单 1 已办结" in out and "按期整改" in out and "整改报告.docx" in out
    assert as_json(run(cfg, "order", "list", "--as-of", "2026-07-01", "--format", "json"))[0]["status"] == "done"
    fails(run(cfg, "order", "issue", "--unit", "JG1", "--deadline", "2026-06-30", "--date", "2026-06-01",
              "--text", "x"), "没有适用于 JG1")


def test_status_lists_orders_and_lectures_in_the_year_they_are_due(cfg):
    ok(run(cfg, "order", "issue", "--unit", "JWC", "--deadline", "2026-03-20", "--date", "2026-03-02",
           "--text", "宣传栏张贴过期材料，限期更换"))
    ok(run(cfg, "order", "issue", "--unit", "JWC", "--deadline", "2027-01-15", "--date", "2026-12-20",
           "--text", "年底前完成网站栏目自查"))
    ok(register(cfg, "--planned", unit="JWC", title="职业教育前沿讲座", when="2026-09-20"))

    def dated(year):
        rows = as_json(run(cfg, "status", "JWC", "--year", year, "--as-of", "2026-03-25", "--format", "json"))
        return [(r["obligation"], r["period"], r["due"], r["status"]) for r in rows if r["period"][0] in "OE"]
    assert dated(2026) == [("henan-2023.19.order", "O1", "2026-03-20", "overdue"),
                           ("jincheng-2020.4.2", "E1", "2026-09-14", "upcoming")]
    assert dated(2027) == [("henan-2023.19.order", "O2", "2027-01-15", "upcoming")]
    table = ok(run(cfg, "status", "JWC", "--year", "2026", "--as-of", "2026-03-25"))
    assert "问题督办清单限期整改" in table and "已逾期 1，" in table


# --------------------------------------------------------------------------- the quarterly meeting and counts

def test_meeting_set_moves_the_departmental_report_before_it(cfg):
    def report_row():
        rows = as_json(run(cfg, "upcoming", "--unit", "JDX", "--as-of", "2026-09-01", "--days", "40",
                           "--format", "json"))
        return [r for r in rows if r["obligation"] == "jincheng-2020.meeting.report" and r["period"] == "2026-Q3"]
    (before,) = report_row()
    assert before["provisional"] is True              # no meeting date recorded: the quarter's end stands in
    out = ok(run(cfg, "meeting", "set", "--quarter", "2026-Q3", "--date", "2026-09-25"))
    assert "已登记 2026-Q3 联席会议日期 2026-09-25（jincheng-2020.meeting" in out
    assert "联席会议前提交本部门分管领域意识形态报告（jincheng-2020.meeting.report）截止 2026-09-24" in out
    (after,) = report_row()
    assert (after["due"], after["provisional"]) == ("2026-09-24", False)
    fails(run(cfg, "meeting", "set", "--quarter", "2026-Q9", "--date", "2026-09-25"), "未知期间")


def test_status_shows_progress_of_at_least_n_a_year(cfg):
    def row():
        rows = as_json(run(cfg, "status", "JDX", "--year", "2026", "--as-of", "2026-06-30", "--format", "json"))
        (r,) = [r for r in rows if r["obligation"] == "jincheng-2020.3.3"]
        return r
    assert (row()["required"], row()["progress"]) == (5, "已完成 0/5，剩余 184 天")
    for day in ("2026-03-10", "2026-05-20"):
        ok(run(cfg, "submit", "jincheng-2020.3.3", "--unit", "JDX", "--period", "2026", "--at", day))
    assert (row()["done"], row()["progress"]) == (2, "已完成 2/5，剩余 184 天")
