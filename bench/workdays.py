"""Benchmark: "N working days before an event", indexed calendar vs a day-by-day loop.

Run from the repository root: `python bench/workdays.py`. Events are random dates in
2020-2026 with n in 1..30; both methods must give the same deadlines. The last line printed
is `speedup: N.Nx`.
"""
from __future__ import annotations

import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import chinese_calendar  # noqa: E402

from obligations.workdays import WorkdayCalendar  # noqa: E402

CASES = 3000          # the naive loop is slow; this keeps it to a few seconds
INDEXED_ROUNDS = 20   # the indexed calendar repeats the same cases for a measurable time


def naive_workdays_before(event: date, n: int) -> date:
    d, counted = event, 0
    while counted < n:
        d -= timedelta(days=1)
        if chinese_calendar.is_workday(d):
            counted += 1
    return d


def main() -> None:
    rng = random.Random(2026)
    first, span = date(2020, 1, 1), (date(2026, 12, 31) - date(2020, 1, 1)).days + 1
    cases = [(first + timedelta(days=rng.randrange(span)), rng.randint(1, 30)) for _ in range(CASES)]

    start = time.perf_counter()
    naive = [naive_workdays_before(event, n) for event, n in cases]
    naive_rate = len(cases) / (time.perf_counter() - start)

    cal = WorkdayCalendar()
    start = time.perf_counter()
    indexed = [cal.workdays_before(event, n).date for event, n in cases]  # includes building the index
    first_round = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(INDEXED_ROUNDS):
        for event, n in cases:
            cal.workdays_before(event, n)
    indexed_rate = len(cases) * INDEXED_ROUNDS / (time.perf_counter() - start)

    mismatches = [(c, a, b) for c, a, b in zip(cases, naive, indexed) if a != b]
    if mismatches:
        print(f"MISMATCH in {len(mismatches)} of {len(cases)} cases, e.g. {mismatches[0]}")
        sys.exit(1)
    print(f"cases: {len(cases)} events in 2020-2026, n in 1..30; all {len(cases)} deadlines agree")
    print(f"naive day-by-day (chinese_calendar.is_workday): {naive_rate:,.0f} deadlines/s")
    print(f"WorkdayCalendar first round, index built lazily: {len(cases) / first_round:,.0f} deadlines/s")
    print(f"WorkdayCalendar.workdays_before (indexed): {indexed_rate:,.0f} deadlines/s")
    print(f"speedup: {indexed_rate / naive_rate:.1f}x")


if __name__ == "__main__":
    main()
