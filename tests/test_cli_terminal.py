"""Tables fit the terminal: long text is cut with an ellipsis, key columns stay whole; “ ” is
two cells wide in a CJK locale."""

import pytest

from scheduler.tables import Column, display_width, render_table
from tests.cli_college import run


@pytest.fixture(scope="module")
def cfg(demo_college):
    return demo_college / "ccal.toml"


def table_lines(out: str) -> list[str]:
    return [x for x in out.splitlines() if x and not x.startswith("*")]


def test_overdue_fits_120_columns_and_keeps_the_key_columns(cfg):
    wide = run(cfg, "overdue", "--as-of", "2026-06-20", env={"LANG": "C.UTF-8"}).stdout
    assert max(display_width(x, False) for x in table_lines(wide)) > 120     # a file or pipe: nothing cut
    out = run(cfg, "overdue", "--as-of", "2026-06-20", env={"COLUMNS": "120", "LANG": "C.UTF-8"}).stdout
    assert max(display_width(x, False) for x in table_lines(out)) <= 120
    assert "…" in out
    row = next(x for x in out.splitlines() if "jincheng-2020.1.2" in x and "2026-H1" in x and "JDX " in x)
    assert "2026-06-15" in row and "已逾期" in row


def test_score_fits_100_columns(cfg):
    out = run(cfg, "score", "--year", "2025", "--unit", "JDX", "--as-of", "2026-01-01",
              env={"COLUMNS": "100", "LANG": "C.UTF-8"}).stdout
    lines = [x for x in out.splitlines() if x.strip()]
    assert max(display_width(x, False) for x in lines) <= 100


def test_ambiguous_quotes_are_two_cells_in_a_cjk_locale():
    cols = [Column("title", "事项"), Column("due", "截止日期")]
    rows = [{"title": "第一责任人“三带头三亲自”履责报告", "due": "2026-06-30"}, {"title": "述职", "due": "2026-12-31"}]
    for wide in (True, False):
        lines = render_table(rows, cols, width=None, wide_ambiguous=wide).splitlines()
        starts = {display_width(x[:x.index("2026")], wide) for x in lines[2:]}
        assert len(starts) == 1                       # the dates line up
    assert display_width("“”", True) == 4 and display_width("“”", False) == 2


def test_cjk_locale_is_read_from_the_environment(cfg):
    out = run(cfg, "status", "JDX", "--year", "2026", "--as-of", "2026-06-20", env={"LANG": "zh_CN.UTF-8"}).stdout
    header = out.splitlines()[1]
    col = display_width(header[:header.index("截止日期")], True)
    row = next(x for x in out.splitlines() if "“" in x)
    i = next(i for i in range(len(row) + 1) if display_width(row[:i], True) >= col)
    assert row[i:i + 3] == "202"


# ---------------------------------------------------------------- 80 and 60 columns (issue 7)

import json  # noqa: E402
import re  # noqa: E402

QUERIES = {
    "overdue": ("overdue", "--as-of", "2026-06-20"),
    "upcoming": ("upcoming", "--as-of", "2026-06-01"),
    "status": ("status", "JDX", "--year", "2026", "--as-of", "2026-06-20"),
}


def narrow(cfg, width, *args, lang="C.UTF-8"):
    return run(cfg, *args, env={"COLUMNS": str(width), "LANG": lang}).stdout


def assert_fits(out: str, width: int, wide: bool = False):
    too_wide = [x for x in out.splitlines() if display_width(x, wide) > width]
    assert not too_wide, too_wide[:3]


@pytest.mark.parametrize("width", [80, 60])
@pytest.mark.parametrize("name", sorted(QUERIES))
def test_query_tables_fit_narrow_terminals_with_key_values_whole(cfg, name, width):
    args = QUERIES[name]
    records = json.loads(run(cfg, *args, "--format", "json").stdout)
    assert records
    out = narrow(cfg, width, *args)
    assert_fits(out, width)
    rows = [set(x.split()) for x in out.splitlines()]
    for r in records:
        due = r["due"] + ("*" if r.get("provisional") else "")
        keys = {r["obligation"], r["period"], due} | ({r["unit"]} if name != "status" else set())
        assert any(keys <= row for row in rows), (keys, out[:2000])
    if width == 80 and name == "status":           # at 80 the state word and the title stay
        assert any({"jincheng-2020.1.2", "2026-H1", "2026-06-15", "已逾期"} <= row for row in rows)
        assert "联席会议" in out and "…" in out
    if width == 80 and name == "overdue":          # days overdue and progress stay at 80
        r = next(r for r in records if r["obligation"] == "jincheng-2020.1.2" and r["unit"] == "JDX"
                 and r["period"] == "2025-H1")
        assert any({"JDX", "jincheng-2020.1.2", "2025-H1", str(r["days_overdue"]), "0/1", "已逾期"} <= row
                   for row in rows)


@pytest.mark.parametrize("width", [80, 60])
def test_dropped_columns_are_named_in_a_footnote(cfg, width):
    wide = run(cfg, *QUERIES["upcoming"]).stdout      # a pipe: nothing cut, nothing left out
    assert "终端较窄" not in wide and "…" not in wide and "开始日期" in wide
    out = narrow(cfg, width, *QUERIES["upcoming"])
    note = next(x for x in out.splitlines() if x.startswith("终端较窄，已省略："))
    assert "单位" in note and "开始日期" in note
    assert "开始日期" not in out.replace(note, "")
    assert ("事项" in note) == (width == 60)          # at 80 the title is kept, cut with "…"


def test_cjk_locale_fits_80_columns_with_wide_quotes(cfg):
    out = narrow(cfg, 80, *QUERIES["status"], lang="zh_CN.UTF-8")
    assert_fits(out, 80, wide=True)


def score_fields(text: str) -> dict[str, list[str]]:
    """Item id → its 分值 and 得分 cells, from the uncut table (columns two spaces apart)."""
    fields = {}
    for line in text.splitlines():
        if re.match(r"^\d+(\.\d+)*\.?\s{2}", line):
            parts = re.split(r"\s{2,}", line.strip())
            fields.setdefault(parts[0], [p for p in parts[2:4] if re.fullmatch(r"[+-]?\d+(\.\d+)?", p)])
    return fields


@pytest.mark.parametrize("width", [80, 60])
@pytest.mark.parametrize("unit", ["JDX", None])
def test_score_fits_narrow_terminals_with_scores_whole(cfg, width, unit):
    args = ["score", "--year", "2025", "--as-of", "2026-01-01", *(["--unit", unit] if unit else [])]
    full = run(cfg, *args).stdout
    out = narrow(cfg, width, *args)
    assert_fits(out, width)
    expected = score_fields(full)
    assert "1.1" in expected and expected["1."]
    rows = {}
    for line in out.splitlines():
        tokens = line.split()
        if tokens and tokens[0] in expected:
            rows.setdefault(tokens[0], set(tokens))
    for item, values in expected.items():
        assert set(values) <= rows[item], (item, values)
    assert "75.25" in out                               # JDX's total, whole


def test_table_written_to_a_file_is_not_cut(cfg, tmp_path):
    target = tmp_path / "overdue.txt"
    run(cfg, "overdue", "--as-of", "2026-06-20", "--output", target, env={"COLUMNS": "60", "LANG": "C.UTF-8"})
    text = target.read_text(encoding="utf-8")
    assert "…" not in text and "终端较窄" not in text and "逾期天数" in text


def test_submission_list_fits_80_columns(cfg):
    records = json.loads(run(cfg, "submission", "list", "--format", "json").stdout)
    out = narrow(cfg, 80, "submission", "list")
    assert_fits(out, 80)
    rows = [set(x.split()) for x in out.splitlines()]
    for r in records[:50]:
        assert any({str(r["id"]), r["unit"], r["obligation"], r["period"]} <= row for row in rows), r
