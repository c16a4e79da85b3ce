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
