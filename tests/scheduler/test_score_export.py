"""The year's scores as handed on: the xlsx workbook read back cell by cell, JSON, CSV, table."""

import pytest
from openpyxl import load_workbook

from obligations.packs import bundled_pack_dir, load_pack
from obligations.scorecard import scorecard_of
from obligations.scoring import AUTO, FINDING, MANUAL, Entry, UnitRef, score_year
from scheduler.score_export import CSV_KEYS, csv_rows, render_score_table, sheet_name, unit_records, write_xlsx

UNITS = (
    UnitRef("DW", "党委", "committee"),
    UnitRef("JG", "机关党支部", "branch", "DW"),
    UnitRef("BGS", "办公室", "office", "JG"),
    UnitRef("JWC", "教务处", "office", "JG"),
    UnitRef("JDX", "机电系党支部", "dept_branch", "DW"),
    UnitRef("XXX", "信息系党支部", "dept_branch", "DW"),
)
ON_TIME = "2026-H1：按时完成（截止 2026-06-15，完成 2026-06-10），得1分"
LATE = "2026-H2：迟报（截止 2026-12-15，完成 2026-12-20），扣0.5分，得0.5分"


@pytest.fixture(scope="module")
def report():
    card = scorecard_of(load_pack(bundled_pack_dir() / "jincheng-2020.toml"))
    entries = [
        Entry(1, "JDX", "1.2", "on_time:occurrence:1", 1, ON_TIME, AUTO, "on_time"),
        Entry(2, "JDX", "1.2", "on_time:occurrence:2", 0.5, LATE, AUTO, "on_time"),
        Entry(3, "JDX", "4.3", "finding:1", -2, "2026-11-03 发现：宣传栏张贴过期材料，2处，扣2分", FINDING),
        Entry(4, "JDX", "6", "manual", 3, "人工评分：市级表彰", MANUAL),
        Entry(5, "XXX", "7", "finding:2", -3, "2026-12-01 发现：违反实施细则第十七条，扣3分", FINDING),
        Entry(6, "BGS", "3.3", "records:submission:1", 1, "2026 提交记录 1（2026-04-01）：记录1分，计1分", AUTO, "records"),
        Entry(7, "BGS", "3.3", "records:submission:2", 1, "2026 提交记录 2（2026-05-01）：记录1分，计1分", AUTO, "records"),
    ]
    return score_year(card, 2026, UNITS, entries)


# Hand totals. Items that start full: 4.2 4, 4.3 5, 4.4 4, 4.6 4, 3.2's 学习强国 2, 5.3 4 (23).
# JDX: 1.5 + 23 - 2 = 22.5, bonus 3 -> 25.5.  XXX: 23, negative list -3 -> 20.
# BGS: 23 + 2 = 25 of 94 -> 26.6.  JWC: 23 of 94 -> 24.47.  JG: (26.6 + 24.47) / 2 = 25.535 -> 25.54.
def test_totals_used_by_every_format(report):
    assert [(u.unit.code, u.total) for u in report.units] == [
        ("JDX", 25.5), ("XXX", 20), ("BGS", 26.6), ("JWC", 24.47), ("JG", 25.54)]


@pytest.fixture(scope="module")
def workbook(report, tmp_path_factory):
    path = tmp_path_factory.mktemp("xlsx") / "考核得分.xlsx"
    write_xlsx(report, path)
    return load_workbook(path)


def test_workbook_has_a_ranking_sheet_per_ranking_branches_and_a_detail_sheet_per_unit(workbook):
    assert workbook.sheetnames == [
        "排名-教学部门（按系党支部）", "排名-行政部门（按处室）", "支部成绩",
        "JDX 机电系党支部", "XXX 信息系党支部", "BGS 办公室", "JWC 教务处", "JG 机关党支部"]


def test_ranking_sheet_cell_by_cell(workbook):
    ws = workbook["排名-教学部门（按系党支部）"]
    assert ws["A1"].value == "2026年度意识形态工作责任制考核排名：教学部门（按系党支部）"
    assert [c.value for c in ws[2]] == [
        "名次", "单位代码", "单位", "1.体制机制（25）", "2.明确责任（10）", "3.意识形态价值引领（25）",
        "4.阵地管理（30）", "5.队伍建设（10）", "小计", "适用满分", "折算得分", "特色加分", "负面清单", "总分", "备注"]
    assert [c.value for c in ws[3]] == [1, "JDX", "机电系党支部", 1.5, 0, 2, 15, 4, 22.5, 100, 22.5, 3, 0, 25.5, "提醒谈话"]
    assert [c.value for c in ws[4]] == [2, "XXX", "信息系党支部", 0, 0, 2, 17, 4, 23, 100, 23, 0, -3, 20, "提醒谈话"]
    assert [c.value for c in ws[5]][2:] == ["平均", 0.75, 0, 2, 16, 4, 22.75, 100, 22.75, 1.5, -1.5, 22.75, None]
    assert ws.freeze_panes == "D3"
    assert ws.column_dimensions["C"].width == 22 and ws["N3"].number_format == "0.00"
    assert ws["A2"].font.bold
    assert ws["A7"].value.startswith("排名规则：按总分（保留两位小数）从高到低，同分同名次")

    admin = workbook["排名-行政部门（按处室）"]
    assert [c.value for c in admin[3]][:3] + [admin["I3"].value, admin["J3"].value, admin["K3"].value, admin["N3"].value] == \
        [1, "BGS", "办公室", 25, 94, 26.6, 26.6]
    assert [admin["B4"].value, admin["N4"].value] == ["JWC", 24.47]


def test_branch_sheet_gives_the_average_of_its_offices(workbook):
    ws = workbook["支部成绩"]
    assert [c.value for c in ws[2]] == ["支部代码", "支部", "组成处室", "成绩", "说明"]
    assert [c.value for c in ws[3]] == ["JG", "机关党支部", "办公室 26.60、教务处 24.47", 25.54,
                                        "支部成绩：所属处室（BGS、JWC）平均分"]


def rows_by_item(ws):
    return {row[0].value: [c.value for c in row] for row in ws.iter_rows(min_row=4) if row[0].value}


def test_detail_sheet_lists_every_item_with_its_reasons_and_the_totals(workbook):
    ws = workbook["JDX 机电系党支部"]
    assert ws["A1"].value == "机电系党支部（JDX）2026年度意识形态工作责任制考核得分明细"
    assert ws["A2"].value == "系党支部；教学部门（按系党支部） 第1名（共2个），提醒谈话；总分 25.50"
    assert [c.value for c in ws[3]] == ["项目", "考核要点", "分值", "得分", "计分依据", "考核标准"]
    assert ws.freeze_panes == "A4"
    items = rows_by_item(ws)
    assert items["1"][:4] == ["1", "体制机制（25分）", 25, 1.5]
    assert items["1.2"] == ["1.2", "定期向党委宣传部书面汇报（每半年）", 2, 1.5, f"{ON_TIME} [+1]\n{LATE} [+0.5]",
                            "按时按要求汇报2分，迟报扣0.5分，未报0分。"]
    assert items["4.3"][3:5] == [3, "2026-11-03 发现：宣传栏张贴过期材料，2处，扣2分 [-2]"]
    assert items["2.2"][3:5] == [0, "待评：考核组评定（4分，ccal score set）"]
    assert items["6"][:5] == ["6", "特色加分", 5, 3, "人工评分：市级表彰 [+3]"]
    last = [c.value for c in ws[ws.max_row]]
    assert last[:4] == [None, "总分", 100, 25.5]


def test_detail_sheet_of_an_office_marks_1_7_and_shows_the_scaling(workbook):
    ws = workbook["BGS 办公室"]
    items = rows_by_item(ws)
    assert items["1.7"][2:5] == [6, "不适用", "不适用于本单位"]
    labels = {row[1].value: [c.value for c in row] for row in ws.iter_rows(min_row=4)}
    assert labels["小计"][2:4] == [94, 25]
    assert labels["折算得分"][2:5] == [100, 26.6, "不适用于本单位的项目（如 1.7 仅适用于系党支部）不计分，"
                                       "小计按适用满分折算为100分制：折算得分 = 小计 ÷ 适用满分 × 100。"]


def test_branch_detail_sheet_lists_its_offices(workbook):
    ws = workbook["JG 机关党支部"]
    assert [[c.value for c in row] for row in ws.iter_rows(min_row=3)] == [
        ["处室代码", "处室", "总分"], ["BGS", "办公室", 26.6], ["JWC", "教务处", 24.47], [None, "平均分（支部成绩）", 25.54]]


def test_one_unit_workbook_keeps_the_rankings(report, tmp_path):
    write_xlsx(report, tmp_path / "one.xlsx", unit="JWC")
    assert load_workbook(tmp_path / "one.xlsx").sheetnames[-1] == "JWC 教务处"
    assert len(load_workbook(tmp_path / "one.xlsx").sheetnames) == 4


def test_sheet_names_are_valid_and_unique():
    taken = set()
    long = "A/B:C " + "很长" * 20
    first = sheet_name(long, taken)
    assert first == ("ABC " + "很长" * 20)[:31] and len(first) == 31
    second = sheet_name(long, taken)
    assert second.endswith("(2)") and len(second) == 31 and second != first


def test_json_records_per_unit(report):
    (jdx,) = unit_records(report, "JDX")
    assert (jdx["total"], jdx["rank"], jdx["ranking"], jdx["flagged"], jdx["bonus"]) == (25.5, 1, "teaching", True, 3)
    i12 = next(i for i in jdx["items"] if i["item"] == "1.2")
    assert (i12["score"], [ln["reason"] for ln in i12["lines"]]) == (1.5, [ON_TIME, LATE])
    bgs = unit_records(report, "BGS")[0]
    assert next(i for i in bgs["items"] if i["item"] == "1.7")["score"] is None
    assert unit_records(report, "JG")[0]["members"] == ["BGS", "JWC"]


def test_csv_rows_per_unit_and_item_then_totals(report):
    rows = csv_rows(report, "XXX")
    assert set(rows[0]) == set(CSV_KEYS)
    assert [(r["item"], r["score"]) for r in rows[-3:]] == [("6", 0), ("7", -3), ("total", 20)]
    assert rows[-1]["reasons"] == "教学部门（按系党支部） 第2名（共2个），提醒谈话"


def test_table_shows_reasons_and_both_rankings(report):
    text = render_score_table(report)
    assert f"{ON_TIME} [+1]" in text and f"{LATE} [+0.5]" in text
    assert "2026 年度排名：教学部门（按系党支部）" in text and "2026 年度排名：行政部门（按处室）" in text
    assert "支部成绩（多个处室组成的支部取各处室平均分）" in text
    one = render_score_table(report, "JWC")
    assert one.startswith("教务处（JWC）2026 年度  总分 24.47  行政部门（按处室） 第2名（共2个），提醒谈话")
