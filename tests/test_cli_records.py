"""See what was recorded (`org list`, `submission list`, `waiver list`, `event list`,
`finding list`) and type less (Chinese period labels, unit codes in any case, a warning when a
submission completes nothing new)."""

import json

import pytest
from click.testing import CliRunner

from cli import main
from tests.cli_college import copy_college, run


def ok(result):
    assert result.exit_code == 0, result.output + result.stderr
    return result


def as_json(result):
    return json.loads(ok(result).stdout)


@pytest.fixture
def cfg(demo_college, tmp_path):
    return copy_college(demo_college, tmp_path)


# --------------------------------------------------------------------------- lists

def test_org_list_shows_units_kinds_and_secretaries(cfg):
    rows = as_json(run(cfg, "org", "list", "--format", "json"))
    jdx = next(r for r in rows if r["unit"] == "JDX")
    assert jdx["kind"] == "dept_branch" and jdx["kind_text"] == "系党支部"
    assert jdx["secretary"] and jdx["secretary"][0]["name"]
    table = ok(run(cfg, "org", "list")).stdout
    assert "系党支部" in table and jdx["secretary"][0]["name"] in table and "JDX" in table


def test_submission_list_gives_the_ids_withdraw_needs(cfg):
    out = ok(run(cfg, "submit", "jincheng-2020.1.2", "--unit", "JDX", "--period", "2026-H1",
                 "--at", "2026-06-10 10:00")).stdout
    sid = int(out.split("提交记录 ")[1].split("：")[0])
    rows = as_json(run(cfg, "submission", "list", "--unit", "JDX", "--key", "jincheng-2020.1.2",
                       "--period", "2026-H1", "--format", "json"))
    assert [(r["id"], r["state"], r["late"]) for r in rows] == [(sid, "counts", False)]
    ok(run(cfg, "submission", "withdraw", sid, "--reason", "录错"))
    rows = as_json(run(cfg, "submission", "list", "--unit", "JDX", "--year", "2026", "--format", "json"))
    states = {r["id"]: r["state"] for r in rows}
    assert states[sid] == "withdrawn"
    assert "withdrawal" in states.values()
    table = ok(run(cfg, "submission", "list", "--unit", "JDX", "--year", "2026")).stdout
    assert str(sid) in table and "已撤回" in table
    # The year filter keeps other years out.
    assert all(r["period"].startswith("2025") or r["period"][0] in "EO"
               for r in as_json(run(cfg, "submission", "list", "--year", "2025", "--format", "json")))


def test_waiver_list_shows_the_waiver_and_its_revocation(cfg):
    ok(run(cfg, "waive", "jincheng-2020.1.2", "--unit", "JDX", "--period", "2026-H1", "--reason", "合并"))
    rows = as_json(run(cfg, "waiver", "list", "--unit", "JDX", "--period", "2026-H1", "--format", "json"))
    assert [(r["obligation"], r["state"]) for r in rows] == [("jincheng-2020.1.2", "in_force")]
    ok(run(cfg, "waiver", "revoke", rows[0]["id"], "--reason", "不合并"))
    rows = as_json(run(cfg, "waiver", "list", "--unit", "JDX", "--period", "2026-H1", "--format", "json"))
    assert [r["state"] for r in rows] == ["revoked", "revocation"]
    assert "已撤销" in ok(run(cfg, "waiver", "list", "--unit", "JDX", "--period", "2026-H1")).stdout


def test_event_list_shows_a_recorded_meeting(cfg):
    ok(run(cfg, "meeting", "set", "--quarter", "2026-Q1", "--date", "2026-03-20"))
    rows = as_json(run(cfg, "event", "list", "--year", "2026", "--format", "json"))
    r = next(r for r in rows if r["period"] == "2026-Q1")
    assert r["date"] == "2026-03-20" and r["obligation"] == "jincheng-2020.meeting"
    assert "2026-03-20" in ok(run(cfg, "event", "list", "--year", "2026")).stdout


def test_finding_list_shows_ids_and_corrections(cfg):
    out = ok(run(cfg, "finding", "add", "--unit", "JDX", "--item", "4.3", "--text", "宣传栏未更新",
                 "--date", "2026-05-01")).stdout
    fid = int(out.split("已登记问题 ")[1].split("：")[0])
    ok(run(cfg, "finding", "correct", fid, "--reason", "复核", "--deduct", "0"))
    rows = as_json(run(cfg, "finding", "list", "--unit", "JDX", "--year", "2026", "--format", "json"))
    states = {r["id"]: r["state"] for r in rows}
    assert states[fid] == "corrected" and "withdrawn" in states.values()
    assert "宣传栏未更新" in ok(run(cfg, "finding", "list", "--unit", "JDX", "--year", "2026")).stdout


# --------------------------------------------------------------------------- type less

def test_chinese_period_labels_and_lower_case_unit_codes(cfg):
    out = ok(run(cfg, "submit", "jincheng-2020.1.2", "--unit", "jdx", "--period", "2026上半年",
                 "--at", "2026-06-10 10:00")).stdout
    assert "jincheng-2020.1.2 / JDX / 2026-H1" in out
    rows = as_json(run(cfg, "submission", "list", "--unit", "Jdx", "--period", "2026年上半年", "--format", "json"))
    assert [(r["unit"], r["period"]) for r in rows] == [("JDX", "2026-H1")]
    status = as_json(run(cfg, "status", "jdx", "--year", "2026", "--as-of", "2026-06-20", "--format", "json"))
    r = next(r for r in status if r["obligation"] == "jincheng-2020.1.2" and r["period"] == "2026-H1")
    assert r["status"] == "done"
    overdue = as_json(run(cfg, "overdue", "--unit", "jdx", "--as-of", "2026-06-20", "--format", "json"))
    assert overdue and {r["unit"] for r in overdue} == {"JDX"}


def test_a_second_submission_of_a_done_item_warns_and_is_kept(cfg):
    first = ok(run(cfg, "submit", "jincheng-2020.1.2", "--unit", "JDX", "--period", "2026-H1",
                   "--at", "2026-06-10 10:00"))
    assert "此前已完成" not in first.stderr
    second = ok(run(cfg, "submit", "jincheng-2020.1.2", "--unit", "JDX", "--period", "2026-H1",
                    "--at", "2026-06-11 10:00"))
    assert "此前已完成" in second.stderr and "不增加完成次数" in second.stderr
    rows = as_json(run(cfg, "submission", "list", "--unit", "JDX", "--period", "2026-H1", "--format", "json"))
    assert len(rows) == 2


# --------------------------------------------------------------------------- opens in Chinese Excel

XLSX_QUERIES = [
    (["overdue", "--as-of", "2026-06-20"], "单位代码"),
    (["upcoming", "--as-of", "2026-06-01"], "单位代码"),
    (["status", "JDX", "--year", "2026", "--as-of", "2026-06-20"], "单位代码"),
    (["calendar", "--from", "2026-06-01", "--to", "2026-06-30", "--as-of", "2026-06-01"], "单位代码"),
    (["outbox"], "编号"),
    (["obligations"], "事项编号"),
    (["org", "list"], "单位代码"),
    (["submission", "list"], "编号"),
    (["waiver", "list"], "编号"),
    (["event", "list"], "编号"),
    (["finding", "list"], "编号"),
    (["lecture", "list"], "编号"),
    (["order", "list", "--as-of", "2026-06-20"], "编号"),
    (["packs", "list"], "规则包"),
    (["score", "ledger", "--year", "2025"], "编号"),
]


@pytest.mark.parametrize("args, first", XLSX_QUERIES, ids=lambda a: " ".join(a) if isinstance(a, list) else a)
def test_every_query_writes_xlsx_with_chinese_headers(cfg, tmp_path, args, first):
    from openpyxl import load_workbook

    target = tmp_path / "out.xlsx"
    result = ok(run(cfg, *args, "--format", "xlsx", "--output", target))
    assert "已写入" in result.stderr
    ws = load_workbook(target).active
    assert ws.cell(row=1, column=1).value == first


def test_xlsx_needs_an_output_file(cfg):
    result = run(cfg, "overdue", "--as-of", "2026-06-20", "--format", "xlsx")
    assert result.exit_code == 2 and "--output" in result.stderr


def test_xlsx_rows_carry_chinese_status_words_and_real_dates(cfg, tmp_path):
    from datetime import datetime

    from openpyxl import load_workbook

    ok(run(cfg, "overdue", "--unit", "JDX", "--as-of", "2026-06-20", "--format", "xlsx", "--output", tmp_path / "o.xlsx"))
    ws = load_workbook(tmp_path / "o.xlsx").active
    headers = [c.value for c in ws[1]]
    rows = [dict(zip(headers, (c.value for c in row))) for row in ws.iter_rows(min_row=2) if row[0].value]
    r = next(r for r in rows if r["事项编号"] == "jincheng-2020.1.2" and r["期间"] == "2026-H1")
    assert r["状态"] == "已逾期" and r["截止日期"] == datetime(2026, 6, 15) and r["逾期天数"] == 5


def test_json_stays_english(cfg):
    rows = as_json(run(cfg, "overdue", "--unit", "JDX", "--as-of", "2026-06-20", "--format", "json"))
    assert rows and all(r["status"] == "overdue" for r in rows) and "unit_name" in rows[0]
    out = ok(run(cfg, "submission", "list", "--format", "csv")).stdout
    assert out.startswith("\ufeff编号,单位代码,")


# --------------------------------------------------------------------------- shell completion

def complete(cfg, words: str) -> list[str]:
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    result = CliRunner().invoke(main, [], prog_name="ccal", env={
        "_CCAL_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword),
        "CCAL_CONFIG": str(cfg), "CCAL_DATABASE_URL": None})
    return [line.split(",", 1)[1] for line in result.output.splitlines() if "," in line]


def test_completion_offers_unit_codes_and_obligation_keys(cfg):
    assert "JDX" in complete(cfg, "ccal overdue --unit J")
    assert "JDX" in complete(cfg, "ccal status j")
    keys = complete(cfg, "ccal submit jincheng-2020.1.")
    assert "jincheng-2020.1.2" in keys and all(k.startswith("jincheng-2020.1.") for k in keys)
    assert "overdue" in complete(cfg, "ccal ov")
