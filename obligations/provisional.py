"""Why a date is provisional, in one wording for the CLI footnotes and the reminder messages.

A date may still move for two reasons (docs/reminders.md, docs/packs.md):

- ``holidays``: it was counted in working days on a year whose holiday schedule the State
  Council has not published yet (provisional calendar: statutory holidays and weekends only);
- ``meeting``: it hangs on a meeting (``before_anchor`` / ``after_anchor``) whose date the
  propaganda department has not recorded yet, so the meeting's default date stands in.

Pure: the caller finds out which reasons apply (scheduler/provisional.py) and passes them in.
"""

from __future__ import annotations

from collections.abc import Iterable

HOLIDAYS = "holidays"
MEETING = "meeting"
REASONS = (HOLIDAYS, MEETING)
REASON_WORDS = {
    HOLIDAYS: "节假日安排未公布",
    MEETING: "所依据的会议日期尚未登记",
}
MARK = "*"


def ordered(reasons: Iterable[str]) -> tuple[str, ...]:
    """The reasons in a fixed order without duplicates; unknown ones are refused."""
    given = set(reasons)
    unknown = given - set(REASONS)
    if unknown:
        raise ValueError(f"unknown provisional reason(s): {sorted(unknown)}")
    return tuple(r for r in REASONS if r in given)


def reason_text(reasons: Iterable[str]) -> str:
    """「节假日安排未公布」, 「所依据的会议日期尚未登记」 or both, joined by 「；」."""
    return "；".join(REASON_WORDS[r] for r in ordered(reasons))


def message_note(reasons: Iterable[str]) -> str:
    """What a message prints after a provisional date: 「（日期为暂定，节假日安排未公布）」."""
    text = reason_text(reasons)
    return f"（日期为暂定，{text}）" if text else "（日期为暂定）"


def footnote(reasons: Iterable[str]) -> str:
    """The CLI footnote for dates marked *: 「* 暂定：节假日安排未公布」."""
    reasons = ordered(reasons)
    text = reason_text(reasons)
    if MEETING in reasons:
        text += "，登记会议日期后截止日期会随之调整"
    return f"{MARK} 暂定：{text}" if text else f"{MARK} 暂定"
