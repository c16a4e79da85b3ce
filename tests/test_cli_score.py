"""`ccal score ...` and `ccal finding ...` end to end on a copy of the demo college.
Every command passes --as-of or --date: nothing depends on today's date."""

import email
import json
from email import policy

import pytest
from openpyxl import load_workbook

from tests.cli_college import copy_college, run

AS_OF = ("--as-of", "2026-12-31")


def ok(result):
    assert result.exit_code == 0, result.output + result.stderr
    return result


@pytest.fixture
def cfg(demo_college, tmp_path):
    return copy_college(demo_college, tmp_path)


def unit_json(cfg, unit):
    (record,) = json.loads(ok(run(cfg, "score", "--year", 2026, "--unit", unit, "--format", "json", *AS_OF)).stdout)
    return record


def item(record, item_id):
    return next(i for i in record["items"] if i["item"] == item_id)


def test_submissions_manual_scores_and_findings_show_in_the_score(cfg):
    ok(run(cfg, "submit", "jincheng-2020.1.2", "--unit", "JDX", "--period", "2026-H1", "--at", "2026-06-10"))
    ok(run(cfg, "submit", "jincheng-2020.1.2", "--unit", "JDX", "--period", "2026-H2", "--at", "2026-12-18"))
    out = ok(run(cfg, "score", "set", "--unit", "JDX", "--year", 2026, "--item", "2.2", "--points", 3.5,
                 "--reason", "履责报告完整", "--by", "李文静")).stdout
    assert out.startswith("已记录人工评分 3.5 分：JDX 2026 年度 2.2")
    out = ok(run(cfg, "finding", "add", "--unit", "JDX", "--item", "4.3", "--text", "宣传栏张贴过期材料",
                 "--count", 2, "--date", "2026-11-03", "--by", "检查组")).stdout
    assert out.startswith("已登记问题 1：JDX 2026 年度 4.3，扣 2 分")
    record = unit_json(cfg, "JDX")
    assert [item(record, i)["score"] for i in ("1.2", "2.2", "4.3")] == [1.5, 3.5, 3]
    assert record["ranking"] == "teaching" and record["rank"] == 1


def test_corrections_are_new_ledger_rows(cfg):
    ok(run(cfg, "finding", "add", "--unit", "JWC", "--item", "4.4", "--text", "社团无指导教师", "--date", "2026-10-09"))
    out = ok(run(cfg, "finding", "correct", 1, "--deduct", 0, "--reason", "已配备指导教师")).stdout
    assert out.startswith("问题 1 已撤销扣分")
    ok(run(cfg, "score", "set", "--unit", "JWC", "--year", 2026, "--item", "6", "--points", 2, "--reason", "市级表彰"))
    ok(run(cfg, "score", "set", "--unit", "JWC", "--year", 2026, "--item", "6", "--points", 1, "--reason", "复核"))
    ledger = json.loads(ok(run(cfg, "score", "ledger", "--year", 2026, "--unit", "JWC", "--format", "json")).stdout)
    assert [(r["item"], r["kind"], r["points"], r["in_force"]) for r in ledger] == [
        ("4.4", "finding", -1, False), ("4.4", "finding", 0, True), ("6", "manual", 2, False), ("6", "manual", 1, True)]
    assert ledger[1]["corrects"] == ledger[0]["id"] and ledger[3]["corrects"] == ledger[2]["id"]
    record = unit_json(cfg, "JWC")
    assert (item(record, "4.4")["score"], record["bonus"]) == (4, 1)


def test_score_post_is_idempotent(cfg):
    first = ok(run(cfg, "score", "post", "--year", 2026, *AS_OF)).stdout
    assert first.startswith("2026 年度自动计分：新增台账记录 ") and "新增台账记录 0，" not in first
    assert "新增台账记录 0，" in ok(run(cfg, "score", "post", "--year", 2026, *AS_OF)).stdout


def test_a_tick_records_the_findings_the_record_implies_and_posts_the_year(cfg):
    ok(run(cfg, "order", "issue", "--unit", "JWC", "--deadline", "2026-03-20", "--date", "2026-03-02",
           "--text", "宣传栏张贴过期材料，限期更换", "--item", "4.3"))
    out = ok(run(cfg, "tick", "--now", "2026-06-20 10:00")).stdout
    assert "考核：扣分新增 1 项，撤销 0 项；自动记分 " in out and "自动记分 0 条" not in out
    ledger = json.loads(ok(run(cfg, "score", "ledger", "--year", 2026, "--format", "json")).stdout)
    (order,) = [r for r in ledger if r["unit"] == "JWC" and r["item"] == "4.3"]
    assert order["points"] == -1 and "督办单 O1 逾期未整改" in order["reason"]
    (report,) = [r for r in ledger if r["unit"] == "JDX" and r["item"] == "1.2"]   # posted by the tick alone
    assert (report["points"], report["reason"]) == (0, "2026-H1：未报（截止 2026-06-15），不得分")
    again = ok(run(cfg, "tick", "--now", "2026-06-20 10:05")).stdout
    assert "考核：扣分新增 0 项，撤销 0 项；自动记分 0 条" in again       # idempotent


def mail(cfg, address):
    """Plain-text bodies of the local-outbox emails to `address`, oldest first."""
    out = []
    for f in sorted((cfg.parent / "data" / "outbox").glob("*.eml")):
        m = email.message_from_bytes(f.read_bytes(), policy=policy.default)
        if address in str(m["To"]):
            out.append((str(m["Subject"]), m.get_body(("plain",)).get_content()))
    return out


def test_a_deduction_is_told_once_in_the_secretary_s_next_digest(cfg):
    chu = "chuzhenhua@example.edu.cn"                        # 教务处's secretary
    ok(run(cfg, "finding", "add", "--unit", "JWC", "--item", "4.3", "--text", "宣传栏张贴过期材料",
           "--count", 2, "--date", "2026-11-03", "--by", "检查组"))
    out = ok(run(cfg, "tick", "--now", "2026-11-04 10:00")).stdout
    assert "扣分通知 1 条" in out
    ((subject, text),) = [m for m in mail(cfg, chu) if "考核扣分通知" in m[1]]
    line = ("1. 教务处：2026年度考核 4.3 新闻舆论和宣传阵地管理，扣2分"
            "（2026-11-03 发现：宣传栏张贴过期材料，2处，扣2分）")
    assert line in text.splitlines() and "（另有考核扣分通知 1 项）" in subject
    assert "根据意识形态工作责任制的要求" in text                # in the digest with her reminders
    # The next digest tells it no more: a new deduction comes alone.
    ok(run(cfg, "finding", "add", "--unit", "JWC", "--item", "4.4", "--text", "社团无指导教师",
           "--date", "2026-11-05"))
    ok(run(cfg, "tick", "--now", "2026-11-05 10:00"))
    told = [m for m in mail(cfg, chu) if "考核扣分通知" in m[1]]
    assert len(told) == 2 and "（另有考核扣分通知 1 项）" in told[1][0]
    assert "宣传栏张贴过期材料" not in told[1][1] and "1. 教务处：2026年度考核 4.4 学生社团管理和指导教师，扣1分" in told[1][1]
    assert all("考核扣分通知" not in m for m in mail(cfg, "yangzhiqiang@example.edu.cn"))   # JDX: nothing


def test_table_shows_both_rankings_and_the_flag(cfg):
    out = ok(run(cfg, "score", "--year", 2026, *AS_OF)).stdout
    assert "2026 年度排名：教学部门（按系党支部）" in out and "2026 年度排名：行政部门（按处室）" in out
    assert "提醒谈话" in out and "排名规则" in out


def test_xlsx_needs_an_output_file_and_is_written(cfg, tmp_path):
    result = run(cfg, "score", "--year", 2026, "--format", "xlsx", *AS_OF)
    assert result.exit_code == 2 and "--output" in result.output
    path = tmp_path / "考核得分.xlsx"
    ok(run(cfg, "score", "--year", 2026, "--format", "xlsx", "--output", path, *AS_OF))
    wb = load_workbook(path)
    assert wb.sheetnames[:3] == ["排名-教学部门（按系党支部）", "排名-行政部门（按处室）", "支部成绩"]
    assert "JDX 机电工程系党支部" in wb.sheetnames


def test_csv_has_a_row_per_unit_and_item(cfg):
    lines = ok(run(cfg, "score", "--year", 2026, "--unit", "JDX", "--format", "csv", *AS_OF)).stdout.splitlines()
    # Issue 7: CSV for Chinese Excel (BOM, Chinese headers); JSON stays English.
    assert lines[0] == "\ufeff年度,单位代码,单位,类型,排名类别,名次,提醒谈话,考核项目,名称,满分,得分,计分理由,总分"
    assert len(lines) == 1 + 25 + 3          # 25 items, bonus, negative list, total


def test_clerk_errors_are_messages_not_tracebacks(cfg):
    result = run(cfg, "score", "set", "--unit", "JDX", "--year", 2026, "--item", "9.9", "--points", 1, "--reason", "x")
    assert result.exit_code == 1 and result.stderr.startswith("错误：未知考核项目：9.9")
    result = run(cfg, "finding", "add", "--unit", "NOPE", "--item", "4.3", "--text", "x", "--date", "2026-01-05")
    assert result.exit_code == 1 and "未知单位代码：NOPE" in result.stderr
    result = run(cfg, "score", *AS_OF)
    assert result.exit_code == 2 and "--year" in result.output


def test_a_year_nothing_was_tracked_in_has_nothing_to_score(cfg):
    # issue 7: 2031 has no occurrence due, no finding, no manual score. Before, every unit tied
    # first on the deduction items' full points and all were flagged for the 提醒谈话.
    out = ok(run(cfg, "score", "--year", 2031, *AS_OF)).stdout
    assert out.startswith("2031 年度没有可计分的记录")
    assert "排名" not in out.replace("也不排名", "") and "第1名" not in out
    assert json.loads(ok(run(cfg, "score", "--year", 2031, "--format", "json", *AS_OF)).stdout) == []


def test_a_full_marks_deduction_item_reads_no_problem_found(cfg):
    # 4.3 (deductions, 1 per 处): nobody found anything at JDX in 2026.
    record = unit_json(cfg, "JDX")
    out = ok(run(cfg, "score", "--year", 2026, "--unit", "JDX", *AS_OF)).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("4.3 "))
    assert item(record, "4.3")["lines"] == [] and item(record, "4.3")["score"] == 5
    assert "未发现问题" in line and "尚无计分记录" not in line
