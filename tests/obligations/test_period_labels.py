"""Chinese period labels typed by clerks map to the schedule labels."""

import pytest

from obligations.period_labels import parse_period_label


@pytest.mark.parametrize("typed, label", [
    ("2026年6月", "2026-06"), ("2026年06月", "2026-06"), ("2026-6", "2026-06"), ("２０２６年１２月", "2026-12"),
    ("2026年第二季度", "2026-Q2"), ("2026年第2季度", "2026-Q2"), ("2026二季度", "2026-Q2"),
    ("2026q4", "2026-Q4"), ("2026-q1", "2026-Q1"),
    ("2026上半年", "2026-H1"), ("2026年下半年", "2026-H2"), ("2026-h2", "2026-H2"),
    ("2026秋季", "2026-autumn"), ("2026年秋季学期", "2026-autumn"), ("2027春季", "2027-spring"),
    ("2026-Autumn", "2026-autumn"),
    ("2026年开学季", "2026-kaixue"), ("2026招生季", "2026-zhaosheng"), ("2026年毕业季", "2026-biye"),
    ("2026年", "2026"), ("2026年度", "2026"), (" 2026 ", "2026"),
    ("e12", "E12"), ("O3", "O3"),
    # canonical labels pass through
    ("2026-06", "2026-06"), ("2026-Q2", "2026-Q2"), ("2026-H1", "2026-H1"), ("2026-autumn", "2026-autumn"),
])
def test_typed_labels(typed, label):
    assert parse_period_label(typed) == label


@pytest.mark.parametrize("typed", ["2026年13月", "2026年第五季度", "明年", "2026-X"])
def test_unknown_text_is_returned_for_the_callers_error(typed):
    assert parse_period_label(typed) == typed.strip()
