"""Period labels as clerks write them: `2026年6月`, `2026年第二季度`, `2026上半年`, `2026秋季`,
`2026年` ... turned into the labels of `obligations/schedules.py` (`2026-06`, `2026-Q2`,
`2026-H1`, `2026-autumn`, `2026`). Pure: no I/O.

Accepted (full-width digits and spaces are fine; case does not matter):
- month: 2026年6月, 2026年06月, 2026-6, 2026/6, 2026.6
- quarter: 2026年第二季度, 2026年第2季度, 2026年二季度, 2026第二季度, 2026Q2, 2026-q2
- half year: 2026上半年, 2026年下半年, 2026H1, 2026-h2
- semester: 2026秋季, 2026年秋季学期, 2027春季, 2027年春季学期 (the year the semester starts in)
- season: 2026开学季, 2026年招生季, 2026年毕业季
- year: 2026年, 2026年度, 2026
- event and order periods: E12, e12, O3, o3
Anything else is returned unchanged (stripped), for the caller's own error about labels.
"""

from __future__ import annotations

import re
import unicodedata

_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4}
_SEMESTERS = {"秋季": "autumn", "春季": "spring"}
_SEASONS = {"开学季": "kaixue", "招生季": "zhaosheng", "毕业季": "biye"}

_YEAR = r"(?P<y>\d{4})\s*年?\s*"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p, re.IGNORECASE), kind) for p, kind in (
    (_YEAR + r"(?P<m>\d{1,2})\s*月(份)?", "month"),
    (r"(?P<y>\d{4})\s*[-/.]\s*(?P<m>\d{1,2})", "month"),
    (_YEAR + r"第?\s*(?P<q>[1-4一二三四])\s*季度", "quarter"),
    (r"(?P<y>\d{4})\s*-?\s*Q(?P<q>[1-4])", "quarter"),
    (_YEAR + r"(?P<h>[上下])半年", "half"),
    (r"(?P<y>\d{4})\s*-?\s*H(?P<h>[12])", "half"),
    (_YEAR + r"(?P<s>秋季|春季)(学期)?", "semester"),
    (r"(?P<y>\d{4})\s*-\s*(?P<s>autumn|spring)", "semester"),
    (_YEAR + r"(?P<season>开学季|招生季|毕业季)", "season"),
    (r"(?P<y>\d{4})\s*(年度?)?", "year"),
    (r"(?P<eo>[EO])\s*(?P<n>\d+)", "record"),
))


def parse_period_label(text: str) -> str:
    """The canonical period label for what a clerk typed (see the module docstring)."""
    s = unicodedata.normalize("NFKC", text).strip()
    for pattern, kind in _PATTERNS:
        m = pattern.fullmatch(s)
        if m is None:
            continue
        if kind == "record":
            return f"{m['eo'].upper()}{int(m['n'])}"
        y = m["y"]
        if kind == "month":
            month = int(m["m"])
            if 1 <= month <= 12:
                return f"{y}-{month:02d}"
            return s
        if kind == "quarter":
            q = m["q"]
            return f"{y}-Q{_CN_DIGITS.get(q) or int(q)}"
        if kind == "half":
            h = m["h"]
            return f"{y}-H{1 if h in ('上', '1') else 2}"
        if kind == "semester":
            return f"{y}-{_SEMESTERS.get(m['s'], m['s'].lower())}"
        if kind == "season":
            return f"{y}-{_SEASONS[m['season']]}"
        return y
    return s
