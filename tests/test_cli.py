"""`ccal` end to end: click's CliRunner on a copy of one demo database per module, and a few
runs as a real subprocess. Every query passes --as-of: nothing depends on today's date."""

import json
import os
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from icalendar import Calendar


from cli import main

ROOT = Path(__file__).resolve().parents[1]
CONFIG = '[general]\ndata_dir = "data"\n\n[database]\nurl = "sqlite:///ccal.db"\n'
# The demo history is recorded up to --now (never today's date): the start of 2026 gives a
# recorded 2025 and a 2026 in which nothing is recorded yet, for the tests below to fill in.
DEMO_NOW = "2026-01-01 08:00"


def run(config: Path, *args, env=None):
    """Invoke ccal in-process with `--config` on the group; the environment is explicit."""
    full_env = {"CCAL_CONFIG": None, "CCAL_DATABASE_URL": None, **(env or {})}
    return CliRunner().invoke(main, ["--config", str(config), *map(str, args)], env=full_env,
                              catch_exceptions=False)


def ok(result):
    assert result.exit_code == 0, result.output + result.stderr
    return result


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A demo database made once per module by `ccal init --demo`."""
    d = tmp_path_factory.mktemp("demo")
    (d / "ccal.toml").write_text(CONFIG, encoding="utf-8")
    result = ok(run(d / "ccal.toml", "init", "--demo", "--now", DEMO_NOW))
    return d, result


@pytest.fixture
def cfg(prepared, tmp_path):
    """A config whose database is a private copy of the prepared demo database."""
    src_dir, _ = prepared
    with sqlite3.connect(src_dir / "ccal.db") as src, sqlite3.connect(tmp_path / "ccal.db") as dst:
        src.backup(dst)        # consistent copy, WAL included
    (tmp_path / "ccal.toml").write_text(CONFIG, encoding="utf-8")
    return tmp_path / "ccal.toml"


def as_json(result):
    data = json.loads(ok(result).stdout)
    assert isinstance(data, list)
    return data


def find(rows, **match):
    hits = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    assert len(hits) == 1, (match, hits)
    return hits[0]


def unit_codes(db: Path) -> list[str]:
    with sqlite3.connect(db) as c:
        return [r[0] for r in c.execute("select code from unit order by code")]


# --------------------------------------------------------------------------- init

def test_init_demo_loads_the_demo_college(prepared):
    d, result = prepared
    assert "示例学院" in result.stdout and "单位：新增 18" in result.stdout
    assert len(unit_codes(d / "ccal.db")) == 18


def test_init_twice_changes_nothing(cfg):
    out = ok(run(cfg, "init", "--demo", "--now", DEMO_NOW)).stdout
    assert "单位：新增 0，更新 0" in out
    assert "提交记录：新增 0（其中逾期 0）；豁免：新增 0；联席会议：新增 0" in out


# --------------------------------------------------------------------------- queries

def test_overdue_json_field_by_field(cfg):
    rows = as_json(run(cfg, "overdue", "--unit", "JDX", "--as-of", "2026-06-20", "--format", "json"))
    r = find(rows, obligation="jincheng-2020.1.2", period="2026-H1")
    assert r["unit"] == "JDX"
    assert r["unit_name"] == "机电工程系党支部"
    assert r["title"] == "向党委宣传部书面汇报意识形态工作（半年）"
    assert r["opens"] == "2026-01-01"
    assert r["due"] == "2026-06-15"
    assert r["days_overdue"] == 5
    assert r["status"] == "overdue"
    assert r["provisional"] is False
    assert {x["unit"] for x in rows} == {"JDX"}
    assert all(x["status"] == "overdue" and x["due"] < "2026-06-20" for x in rows)
    assert [x["due"] for x in rows] == sorted(x["due"] for x in rows)
    assert list(r) == sorted(r)                          # stable, sorted keys


def test_overdue_table_marks_provisional_dates(cfg):
    out = ok(run(cfg, "overdue", "--unit", "JDX", "--as-of", "2026-06-20")).stdout
    header = out.splitlines()[0]
    for word in ("单位", "编号", "事项", "期间", "截止日期", "逾期天数", "状态"):
        assert word in header
    assert "已逾期" in out
    # The Q1 departmental report hangs on a meeting date not recorded yet: provisional.
    # The footnote states that reason (issue 7), in the messages' wording, not "节假日".
    assert "2026-03-30*" in out
    assert out.rstrip().endswith("* 暂定：所依据的会议日期尚未登记，登记会议日期后截止日期会随之调整")


def test_upcoming_json(cfg):
    rows = as_json(run(cfg, "upcoming", "--days", "14", "--unit", "JDX", "--as-of", "2026-06-01",
                       "--format", "json"))
    r = find(rows, obligation="jincheng-2020.1.2", period="2026-H1")
    assert (r["due"], r["status"], r["days_left"], r["provisional"]) == ("2026-06-15", "open", 14, False)
    assert all("2026-06-01" <= x["due"] <= "2026-06-15" for x in rows)


def test_upcoming_csv_opens_in_chinese_excel(cfg):
    # Issue 7: CSV for Chinese Excel (BOM, Chinese headers and status words); JSON stays English.
    out = ok(run(cfg, "upcoming", "--days", "14", "--unit", "JDX", "--as-of", "2026-06-01",
                 "--format", "csv")).stdout
    assert out.startswith("\ufeff")
    lines = out[1:].splitlines()
    assert lines[0].split(",")[:5] == ["单位代码", "单位", "事项编号", "名称", "期间"]
    row = next(line for line in lines[1:] if line.startswith("JDX,机电工程系党支部,jincheng-2020.1.2,"))
    assert ",进行中," in row and "open" not in row


def test_submit_late_then_status_shows_it(cfg):
    out = ok(run(cfg, "submit", "jincheng-2020.1.2", "--unit", "JDX", "--period", "2026-H1",
                 "--at", "2026-06-18 10:00", "--note", "补交")).stdout
    assert "逾期完成" in out
    rows = as_json(run(cfg, "status", "JDX", "--year", "2026", "--as-of", "2026-06-20", "--format", "json"))
    r = find(rows, obligation="jincheng-2020.1.2", period="2026-H1")
    assert (r["status"], r["done"], r["required"]) == ("late", 1, 1)
    table = ok(run(cfg, "status", "JDX", "--year", "2026", "--as-of", "2026-06-20")).stdout
    assert "逾期完成" in table and "合计：" in table and "逾期完成 1" in table
    still = as_json(run(cfg, "overdue", "--unit", "JDX", "--as-of", "2026-06-20", "--format", "json"))
    assert not [x for x in still if (x["obligation"], x["period"]) == ("jincheng-2020.1.2", "2026-H1")]


def test_status_progress_for_count_based_obligations(cfg):
    for day in ("2026-03-10", "2026-05-12"):
        ok(run(cfg, "submit", "henan-2023.1.study", "--unit", "DW", "--period", "2026", "--at", day))
    rows = as_json(run(cfg, "status", "DW", "--year", "2026", "--as-of", "2026-11-21", "--format", "json"))
    r = find(rows, obligation="henan-2023.1.study", period="2026")
    assert (r["done"], r["required"], r["status"]) == (2, 6, "open")
    assert r["progress"] == "已完成 2/6，剩余 40 天"


def test_waive_then_status_says_waived(cfg):
    out = ok(run(cfg, "waive", "jincheng-2020.1.2", "--unit", "LTX", "--period", "2026-H1",
                 "--reason", "支部换届")).stdout
    assert "已豁免" in out
    rows = as_json(run(cfg, "status", "LTX", "--as-of", "2026-06-20", "--format", "json"))
    assert find(rows, obligation="jincheng-2020.1.2", period="2026-H1")["status"] == "waived"


def test_withdraw_a_submission(cfg):
    out = ok(run(cfg, "submit", "jincheng-2020.1.2", "--unit", "LTX", "--period", "2026-H1",
                 "--at", "2026-06-01")).stdout
    sid = out.split("提交记录 ")[1].split("：")[0]
    ok(run(cfg, "submission", "withdraw", sid, "--reason", "交错了"))
    rows = as_json(run(cfg, "overdue", "--unit", "LTX", "--as-of", "2026-06-20", "--format", "json"))
    find(rows, obligation="jincheng-2020.1.2", period="2026-H1")


def test_event_add_refuses_a_lecture_approval_and_points_at_ccal_lecture(cfg):
    for key in ("henan-2023.12", "jincheng-2020.4.2"):
        result = run(cfg, "event", "add", key, "--unit", "JDX", "--date", "2026-10-12", "--title", "形势与政策报告会")
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert f"{key} 是讲座、报告会报批事项" in result.stderr and "ccal lecture register" in result.stderr
    rows = as_json(run(cfg, "upcoming", "--unit", "JDX", "--days", "60", "--as-of", "2026-09-01",
                       "--format", "json"))
    assert [r for r in rows if r["obligation"] in ("henan-2023.12", "jincheng-2020.4.2")] == []   # nothing recorded
    # The department's own filing with the city is no approval: an event like any other.
    out = ok(run(cfg, "event", "add", "jincheng-2020.lecture", "--unit", "XCB", "--date", "2026-10-12")).stdout
    assert "已登记活动" in out and "截止 2026-10-08" in out       # 10 October is a working Saturday


def test_event_add_for_the_anchor_meeting_moves_the_reports(cfg):
    out = ok(run(cfg, "event", "add", "jincheng-2020.meeting", "--unit", "XCB", "--date", "2026-03-20",
                 "--period", "2026-Q1")).stdout
    assert "jincheng-2020.meeting.report 2026-Q1 截止 2026-03-19" in out
    rows = as_json(run(cfg, "overdue", "--unit", "JDX", "--as-of", "2026-06-20", "--format", "json"))
    r = find(rows, obligation="jincheng-2020.meeting.report", period="2026-Q1")
    assert (r["due"], r["provisional"]) == ("2026-03-19", False)


def test_calendar_ics_parses_back(cfg, tmp_path):
    out_file = tmp_path / "jdx.ics"
    ok(run(cfg, "calendar", "--from", "2026-06-01", "--to", "2026-06-30", "--unit", "JDX",
           "--as-of", "2026-06-01", "--format", "ics", "--output", out_file))
    events = [c for c in Calendar.from_ical(out_file.read_bytes()).walk() if c.name == "VEVENT"]
    by_summary = {str(e["summary"]): e for e in events}
    e = by_summary["机电工程系党支部：向党委宣传部书面汇报意识形态工作（半年）"]
    assert e.decoded("dtstart") == date(2026, 6, 15)
    assert "支部每半年末15日前向党委宣传部书面汇报1次意识形态工作情况" in str(e["description"])
    assert all(date(2026, 6, 1) <= x.decoded("dtstart") <= date(2026, 6, 30) for x in events)
    assert len({str(x["uid"]) for x in events}) == len(events)
    # The same export twice gives the same UIDs (calendar apps update instead of duplicating).
    again = ok(run(cfg, "calendar", "--from", "2026-06-01", "--to", "2026-06-30", "--unit", "JDX",
                   "--as-of", "2026-06-01", "--format", "ics"))
    uids = {str(x["uid"]) for x in Calendar.from_ical(again.stdout_bytes).walk() if x.name == "VEVENT"}
    assert uids == {str(x["uid"]) for x in events}


def test_obligations_catalogue_with_citations(cfg):
    rows = as_json(run(cfg, "obligations", "--pack", "jincheng-2020", "--format", "json"))
    r = find(rows, obligation="jincheng-2020.1.2")
    assert r["citation_source"] == "002_e020950e72e664f2.txt"
    assert "15日前" in r["citation_quote"]
    assert {x["pack"] for x in rows} == {"jincheng-2020"}


def test_obligations_table_names_documents_and_unit_kinds_in_chinese(cfg):
    # issue 7: a citation shows the document's title and 文号, not a file name; kinds in Chinese
    out = ok(run(cfg, "obligations", "--pack", "jincheng-2020")).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("jincheng-2020.1.2 "))
    assert "《落实意识形态工作责任制考核办法（试行）》晋市职院党〔2020〕44号 考核评分体系 1.2" in line
    assert "党支部、系党支部" in line and ".txt" not in line and "dept_branch" not in line


def test_obligations_csv_names_documents_kinds_and_roles_in_chinese(cfg):
    # audit7: the CSV for Excel still had an English header (citation_document), kinds, roles,
    # schedules and deadline rules in English, and the document only as a file name.
    import csv
    import io

    text = run(cfg, "obligations", "--pack", "jincheng-2020", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert all(not any(c.isascii() and c.isalpha() for c in h) for h in rows[0]), list(rows[0])
    r = next(x for x in rows if x["事项编号"] == "jincheng-2020.1.2")
    assert r["依据"] == "《落实意识形态工作责任制考核办法（试行）》晋市职院党〔2020〕44号 考核评分体系 1.2"
    assert r["适用单位"] == "党支部、系党支部" and r["责任人"] == "书记"
    assert r["周期"] == "每半年" and r["截止"] == "末月15日"


# --------------------------------------------------------------------------- errors

def test_unknown_unit_key_and_period_are_clear_errors(cfg):
    cases = [
        (("submit", "jincheng-2020.1.2", "--unit", "NOPE", "--period", "2026-H1"), "NOPE"),
        (("submit", "jincheng-2020.9.9", "--unit", "JDX", "--period", "2026-H1"), "jincheng-2020.9.9"),
        (("submit", "jincheng-2020.1.2", "--unit", "JDX", "--period", "2026-Q7"), "2026-Q7"),
        (("status", "NOPE", "--as-of", "2026-06-20"), "NOPE"),
    ]
    for args, word in cases:
        result = run(cfg, *args)
        assert result.exit_code == 1, args
        assert word in result.stderr and "Traceback" not in result.output


def test_overdue_json_for_an_unknown_unit_prints_no_half_list(cfg):
    # The JSON streams as it is read; an unknown unit is refused before anything is printed.
    result = run(cfg, "overdue", "--unit", "NOPE", "--as-of", "2026-06-20", "--format", "json")
    assert result.exit_code == 1 and "NOPE" in result.stderr
    assert result.stdout == ""


def test_overdue_json_streams_the_same_rows_as_the_table(cfg):
    rows = as_json(run(cfg, "overdue", "--as-of", "2026-06-20", "--format", "json"))
    csv_lines = ok(run(cfg, "overdue", "--as-of", "2026-06-20", "--format", "csv")).stdout.splitlines()
    assert rows and len(rows) == len(csv_lines) - 1
    assert [(r["due"], r["unit"], r["obligation"], r["period"]) for r in rows] == \
        sorted((r["due"], r["unit"], r["obligation"], r["period"]) for r in rows)
    assert {r["status"] for r in rows} == {"overdue"}


def test_bad_date_is_a_usage_error(cfg):
    result = run(cfg, "overdue", "--as-of", "2026-13-01")
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.stderr


def test_bad_config_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[general]\ntimezone = "Mars/Olympus"\n', encoding="utf-8")
    result = run(bad, "overdue", "--as-of", "2026-06-20")
    assert result.exit_code == 1
    assert f"{bad}:2" in result.stderr and "general.timezone" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_pack_in_config_is_a_clear_error(tmp_path):
    (tmp_path / "ccal.toml").write_text(CONFIG + '\n[packs]\nenabled = ["nopack"]\n', encoding="utf-8")
    result = run(tmp_path / "ccal.toml", "obligations")
    assert result.exit_code == 1 and "nopack" in result.stderr and "Traceback" not in result.output


def test_table_columns_line_up_by_display_width(cfg):
    from scheduler.tables import display_width

    out = ok(run(cfg, "status", "JDX", "--year", "2026", "--as-of", "2026-06-20")).stdout
    header, *rest = out.splitlines()[1:]
    body = [x for x in rest if x.startswith(("jincheng", "henan", "school", "shanghai"))]
    col = display_width(header[:header.index("截止日期")])

    def text_at(line: str, column: int) -> str:
        i = next(i for i in range(len(line) + 1) if display_width(line[:i]) >= column)
        return line[i:i + 3]

    # Every due date starts in the header's terminal column, whatever Chinese title precedes it.
    assert len(body) > 10
    assert all(text_at(x, col) == "202" for x in body), out


def test_org_import_bad_rows_lists_line_numbers_and_imports_nothing(cfg, tmp_path):
    csv = tmp_path / "org.csv"
    csv.write_text("code,name,kind\nNEW1,新单位一,处室\nNEW2,新单位二,院系\nNEW3,,党支部\n", encoding="utf-8")
    before = unit_codes(tmp_path / "ccal.db")
    result = run(cfg, "org", "import", csv)
    assert result.exit_code == 1
    assert f"{csv}:3" in result.stderr and f"{csv}:4" in result.stderr
    assert "未导入任何数据" in result.stderr and "nothing imported" not in result.stderr   # audit7
    assert unit_codes(tmp_path / "ccal.db") == before
    partial = run(cfg, "org", "import", csv, "--partial")
    assert partial.exit_code == 1 and f"{csv}:3" in partial.stderr
    assert set(unit_codes(tmp_path / "ccal.db")) - set(before) == {"NEW1"}


def test_packs_check_names_file_key_and_field(tmp_path):
    good = (ROOT / "obligations" / "packs" / "jincheng-2020.toml").read_text(encoding="utf-8")
    broken = good.replace('rule = "day_in_last_month"\nday = 15', 'rule = "day_in_last_month"\nday = 0', 1)
    assert broken != good
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "jincheng-2020.toml").write_text(broken, encoding="utf-8")
    (tmp_path / "ccal.toml").write_text(CONFIG, encoding="utf-8")
    result = run(tmp_path / "ccal.toml", "packs", "check", packs)
    assert result.exit_code == 1
    assert "jincheng-2020.toml" in result.stderr and "jincheng-2020.1.2" in result.stderr
    assert "deadline.day" in result.stderr
    assert f"{packs}：发现 1 个错误" in result.stderr and "errors in" not in result.stderr   # audit7
    (packs / "jincheng-2020.toml").write_text(good, encoding="utf-8")
    assert "OK" in ok(run(tmp_path / "ccal.toml", "packs", "check", packs)).stdout


# --------------------------------------------------------------------------- working days

def test_workdays_deadline_counts_back_from_the_event(tmp_path):
    (tmp_path / "ccal.toml").write_text(CONFIG, encoding="utf-8")
    out = ok(run(tmp_path / "ccal.toml", "workdays", "deadline", "2026-10-12", "--before", "20")).stdout
    assert out.startswith("截止日期 2026-09-08（") and "第 20 个工作日" in out and "*" not in out
    data = as_json(run(tmp_path / "ccal.toml", "workdays", "deadline", "2026-03-02", "--before", "20",
                       "--format", "json"))
    assert data == [{"counted": 20, "deadline": "2026-01-27", "event": "2026-03-02", "provisional": False}]
    assert not (tmp_path / "ccal.db").exists()          # no database needed


def test_workdays_count(tmp_path):
    (tmp_path / "ccal.toml").write_text(CONFIG, encoding="utf-8")
    # 8-16 Oct 2026: seven weekdays plus Saturday 10 Oct, a 调休 working day after 国庆.
    out = ok(run(tmp_path / "ccal.toml", "workdays", "count", "2026-10-08", "2026-10-16")).stdout
    assert out.strip() == "8"


def holiday_file_2027(path: Path) -> Path:
    from obligations.statutory import statutory_holidays

    days = dict(statutory_holidays(2027))
    for d in range(9, 12):
        days[date(2027, 2, d)] = "春节"
    items = ",\n".join(f'  {{ date = "{d.isoformat()}", name = "{n}" }}' for d, n in sorted(days.items()))
    path.write_text(f'year = 2027\nholidays = [\n{items}\n]\nworkdays = ["2027-02-20"]\n', encoding="utf-8")
    return path


def test_holidays_import_then_show(cfg, tmp_path):
    assert "暂定" in ok(run(cfg, "holidays", "show", "2027")).stdout
    assert "截止 2027-02-01*" in ok(run(cfg, "lecture", "register", "--unit", "JDX", "--title", "党史讲座",
                                       "--date", "2027-03-03", "--sensitive", "history", "--planned")).stdout
    deadline = as_json(run(cfg, "workdays", "deadline", "2027-02-22", "--before", "3", "--format", "json"))[0]
    assert (deadline["deadline"], deadline["provisional"]) == ("2027-02-17", True)
    out = ok(run(cfg, "holidays", "import", holiday_file_2027(tmp_path / "2027.toml"))).stdout
    assert "2027" in out
    shown = as_json(run(cfg, "holidays", "show", "2027", "--format", "json"))[0]
    assert shown["source"] == "user"
    assert {"date": "2027-02-11", "name": "春节"} in shown["holidays"]
    assert shown["workdays"] == [{"date": "2027-02-20", "name": "调休上班"}]
    # Deadlines now count with the installed year: Saturday 20 Feb is a working day, and the
    # date is no longer provisional.
    deadline = as_json(run(cfg, "workdays", "deadline", "2027-02-22", "--before", "3", "--format", "json"))[0]
    assert (deadline["deadline"], deadline["provisional"]) == ("2027-02-18", False)
    # The recorded lecture's approval deadline was recomputed by the import: 20 working days
    # before 3 March, now skipping 9-11 Feb and counting Saturday 20 Feb.
    rows = as_json(run(cfg, "upcoming", "--unit", "JDX", "--days", "40", "--as-of", "2027-01-10",
                       "--format", "json"))
    lecture = find(rows, obligation="henan-2023.12")
    assert (lecture["due"], lecture["provisional"]) == ("2027-01-28", False)


def test_holidays_import_of_a_gbk_csv_names_the_encoding(cfg, tmp_path):
    from obligations.statutory import statutory_holidays

    days = dict(statutory_holidays(2027))
    rows = ["date,type,name", *(f"{d.isoformat()},休,{n}" for d, n in sorted(days.items())),
            "2027-02-20,班,调休上班"]
    path = tmp_path / "2027.csv"
    path.write_bytes("\r\n".join(rows).encode("gbk"))
    out = ok(run(cfg, "holidays", "import", path)).stdout
    assert "2027" in out and "文件编码 GB18030" in out


def test_holidays_import_refuses_a_bad_file(cfg, tmp_path):
    bad = tmp_path / "2027.toml"
    bad.write_text('year = 2027\nholidays = ["2027-13-01"]\n', encoding="utf-8")
    result = run(cfg, "holidays", "import", bad)
    assert result.exit_code == 1 and str(bad) in result.stderr and "Traceback" not in result.output


# --------------------------------------------------------------------------- options and env

def test_config_after_the_subcommand_and_database_url_from_env(tmp_path):
    (tmp_path / "ccal.toml").write_text(CONFIG, encoding="utf-8")
    other = tmp_path / "other.db"
    result = CliRunner().invoke(
        main, ["init", "--demo", "--now", DEMO_NOW, "--config", str(tmp_path / "ccal.toml")],
        env={"CCAL_CONFIG": None, "CCAL_DATABASE_URL": f"sqlite:///{other}"}, catch_exceptions=False)
    ok(result)
    assert len(unit_codes(other)) == 18
    assert not (tmp_path / "ccal.db").exists()


# --------------------------------------------------------------------------- real processes

def ccal_command() -> list[str]:
    script = Path(sys.executable).parent / "ccal"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("CCAL_CONFIG", "CCAL_DATABASE_URL")}
    env.update(extra)
    return env


def test_subprocess_workdays_deadline(tmp_path):
    (tmp_path / "ccal.toml").write_text(CONFIG, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "cli", "--config", str(tmp_path / "ccal.toml"),
                           "workdays", "deadline", "2026-10-12", "--before", "20"],
                          cwd=ROOT, capture_output=True, text=True, env=clean_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "2026-09-08" in proc.stdout


def test_subprocess_overdue_json_and_error_exit_code(cfg):
    proc = subprocess.run([*ccal_command(), "overdue", "--unit", "JDX", "--as-of", "2026-06-20",
                           "--format", "json"], capture_output=True, text=True, timeout=60,
                          env=clean_env(CCAL_CONFIG=str(cfg)), cwd=cfg.parent)
    assert proc.returncode == 0, proc.stderr
    r = find(json.loads(proc.stdout), obligation="jincheng-2020.1.2", period="2026-H1")
    assert (r["due"], r["days_overdue"]) == ("2026-06-15", 5)
    bad = subprocess.run([*ccal_command(), "status", "NOPE"], capture_output=True, text=True, timeout=60,
                         env=clean_env(CCAL_CONFIG=str(cfg)), cwd=cfg.parent)
    assert bad.returncode == 1 and "NOPE" in bad.stderr and "Traceback" not in bad.stderr


def test_a_provisional_footnote_and_a_message_share_one_wording():
    # issue 7: one source of wording for the CLI footnote and the reminder messages
    from obligations.provisional import HOLIDAYS, MEETING, footnote, message_note

    for reason, words in ((HOLIDAYS, "节假日安排未公布"), (MEETING, "所依据的会议日期尚未登记")):
        assert words in footnote((reason,)) and words in message_note((reason,))
    assert "节假日" not in footnote((MEETING,)) + message_note((MEETING,))
