"""Rendering reminder digests with Jinja2 templates (Chinese wording lives in
`notifiers/templates/`, overridable file by file from a user directory).

The input is plain data (`Digest` of `DigestGroup`s of `DigestItem`s, plus the
`Deduction`s told to a unit's secretary) that the reminder service fills from
occurrences and the score ledger; the output is the subject and the three bodies
every channel needs: text, HTML (autoescaped) and WeCom markdown. A digest may
hold deductions only (a "考核扣分通知").
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import NamedTuple

import jinja2

from obligations.provisional import message_note
from obligations.reminders import progress_text

BUNDLED_TEMPLATES = Path(__file__).with_name("templates")
WEEKDAYS = "一二三四五六日"
SEASONS = {"kaixue": "开学季", "zhaosheng": "招生季", "biye": "毕业季"}
SEMESTERS = {"autumn": "秋季学期", "spring": "春季学期"}
QUARTERS = {"1": "一", "2": "二", "3": "三", "4": "四"}
TEMPLATE_SUFFIXES = (".txt", ".html", ".md", ".j2")


@dataclass(frozen=True)
class DigestItem:
    """One obligation occurrence that needs attention."""

    key: str  # obligation key, e.g. "jincheng-2020.1.2"
    title: str  # obligation title (Chinese)
    period: str  # period label: 2026-06, 2026-Q2, 2026-H1, 2026, 2026-autumn, 2026-kaixue, E12
    due: date
    done: int = 0  # dated submissions so far
    required: int = 1  # "at least N per period"
    provisional: bool = False  # the date may still move (see provisional_reasons)
    period_name: str | None = None  # wording for the period when the label says too little (events)
    note: str | None = None  # one extra line, e.g. what to submit
    # Why the date is provisional: obligations.provisional reasons ("holidays": the year's
    # holiday data is not published; "meeting": the meeting it hangs on is not recorded).
    provisional_reasons: tuple[str, ...] = ()
    citation: str | None = None  # the document and clause it rests on (obligations.citations.cite)
    # The due date the recipient was told before, when the date has moved since
    # (scheduler/moved.py): the message says 「截止日期已由3月30日调整为3月27日」.
    moved_from: date | None = None
    url: str | None = None  # the recipient's own submit form for it (personal link)


@dataclass(frozen=True)
class DigestGroup:
    unit: str  # unit name, e.g. "经济管理系党支部"
    items: tuple[DigestItem, ...]
    responsible: str | None = None  # who answers for the unit, e.g. "王芳（支部书记）"
    # The recipient hears of this unit as supervisor / propaganda contact (escalated
    # overdue items), inside an ordinary digest that may also hold their own units.
    escalated: bool = False


@dataclass(frozen=True)
class Deduction:
    """A scorecard deduction told to the unit's secretary: one line of the digest's
    考核扣分通知 section (from the score ledger, scheduler/ledger.py)."""

    unit: str  # unit name, e.g. "教务处"
    year: int  # assessment year
    item: str  # scorecard item id, e.g. "4.3" ("7": the negative list)
    title: str  # the item's title
    points: float  # points deducted, > 0
    reason: str  # the ledger's reason: when found, what, how many, the deduction


@dataclass(frozen=True)
class Digest:
    salutation: str  # "王老师" / "李书记、张老师"
    as_of: date
    groups: tuple[DigestGroup, ...]
    # The escalation templates: a report to the supervisor and the propaganda contact
    # listing the overdue items of the units (rather than "your work to do").
    escalation: bool = False
    sender: str = "党委宣传部"
    contact: str | None = None  # footer, e.g. "张老师，电话 0356-1234567"
    deductions: tuple[Deduction, ...] = ()  # 考核扣分通知, after the items
    # The recipient's page (personal link); for a group robot the page without a token.
    link: str | None = None


class RenderedDigest(NamedTuple):
    subject: str
    text: str
    html: str
    markdown: str


class TemplateRenderError(ValueError):
    """A (user) template failed; the message names the template file and line."""


@dataclass(frozen=True)
class ItemView:
    """A `DigestItem` with the numbers templates need, computed once for `as_of`."""

    item: DigestItem
    days_left: int  # due - as_of; 0 on the due date, negative when overdue

    @property
    def overdue_days(self) -> int:
        return max(-self.days_left, 0)

    @property
    def missing(self) -> int:
        return max(self.item.required - self.item.done, 0)

    @property
    def moved_note(self) -> str:
        """「截止日期已由3月30日调整为3月27日」 when the due date moved since the last message."""
        old = self.item.moved_from
        if old is None or old == self.item.due:
            return ""
        return f"截止日期已由{short_date(old)}调整为{short_date(self.item.due)}"

    @property
    def provisional_note(self) -> str:
        """「（日期为暂定，节假日安排未公布）」 with the item's true reason; "" for a firm date."""
        return message_note(self.item.provisional_reasons) if self.item.provisional else ""

    @property
    def progress(self) -> str:
        """Count progress in the policy's own words ("还差 4 次，剩余 40 天")."""
        today = self.item.due - timedelta(days=self.days_left)
        return progress_text(self.item.done, self.item.required, self.item.due, today)


def group_by_unit(pairs: Iterable[tuple[str, DigestItem]], responsible: Mapping[str, str] | None = None,
                  escalated: Collection[str] = ()) -> tuple[DigestGroup, ...]:
    """Group (unit, item) pairs: items by due date inside a unit, units by their
    most urgent item, so what is most overdue comes first."""
    by_unit: dict[str, list[DigestItem]] = {}
    for unit, item in pairs:
        by_unit.setdefault(unit, []).append(item)
    groups = [DigestGroup(unit, tuple(sorted(items, key=lambda i: (i.due, i.key))),
                          (responsible or {}).get(unit), unit in escalated)
              for unit, items in by_unit.items()]
    groups.sort(key=lambda g: (g.items[0].due, g.unit))
    return tuple(groups)


def cn_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日（周{WEEKDAYS[d.weekday()]}）"


def short_date(d: date) -> str:
    return f"{d.month}月{d.day}日"


def points_text(x: float) -> str:
    """Score points as the scorecard writes them: 1, 0.5, 2.25 (no trailing zeros)."""
    return f"{round(x, 2):.2f}".rstrip("0").rstrip(".")


def period_name(item_or_label: DigestItem | str) -> str:
    """Chinese wording of a period label ('2026-H1' -> '2026年上半年')."""
    if isinstance(item_or_label, DigestItem):
        if item_or_label.period_name:
            return item_or_label.period_name
        label = item_or_label.period
    else:
        label = item_or_label
    if m := re.fullmatch(r"(\d{4})", label):
        return f"{m[1]}年度"
    if m := re.fullmatch(r"(\d{4})-(\d{2})", label):
        return f"{m[1]}年{int(m[2])}月"
    if m := re.fullmatch(r"(\d{4})-Q([1-4])", label):
        return f"{m[1]}年第{QUARTERS[m[2]]}季度"
    if m := re.fullmatch(r"(\d{4})-H([12])", label):
        return f"{m[1]}年{'上' if m[2] == '1' else '下'}半年"
    if (m := re.fullmatch(r"(\d{4})-([a-z]+)", label)) and m[2] in SEMESTERS | SEASONS:
        return f"{m[1]}年{(SEMESTERS | SEASONS)[m[2]]}"
    return label


def make_environment(user_dir: Path | None = None) -> jinja2.Environment:
    """Templates from `user_dir` first, the bundled ones second. HTML templates are
    autoescaped; text and markdown are not (they are not HTML)."""
    loaders: list[jinja2.BaseLoader] = []
    if user_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(user_dir)))
    loaders.append(jinja2.FileSystemLoader(str(BUNDLED_TEMPLATES)))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(["html"], default_for_string=False, default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(cn_date=cn_date, short_date=short_date, period_name=period_name,
                       points=points_text)
    return env


def render_digest(digest: Digest, env: jinja2.Environment) -> RenderedDigest:
    """Subject, text, HTML and markdown of a reminder (or escalation) digest."""
    base = "escalation" if digest.escalation else "digest"
    groups = [(g, [ItemView(i, (i.due - digest.as_of).days) for i in g.items]) for g in digest.groups]
    views = [v for _, vs in groups for v in vs]
    context = {
        "digest": digest,
        "groups": groups,
        "total": len(views),
        "overdue": sum(1 for v in views if v.days_left < 0),
        "first_due": min((v.item.due for v in views), default=digest.as_of),
        "units": [g.unit for g in digest.groups],
        "deductions": digest.deductions,
    }
    # One line whatever the template does: a newline in a header is an injection.
    subject = " ".join(_render(env, f"{base}.subject.txt", context).split())
    context["subject"] = subject
    return RenderedDigest(
        subject=subject,
        text=_render(env, f"{base}.txt", context),
        html=_render(env, f"{base}.html", context),
        markdown=_render(env, f"{base}.md", context),
    )


def _render(env: jinja2.Environment, name: str, context: dict) -> str:
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or exc.name or name
        raise TemplateRenderError(f"{where}:{exc.lineno}: template syntax error: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateRenderError(f"{name}: template not found ({exc.name})") from None
    except jinja2.TemplateError as exc:
        raise TemplateRenderError(f"{_template_position(exc, name)}: {exc.message}") from None


def _template_position(exc: BaseException, name: str) -> str:
    # Jinja rewrites tracebacks so that template frames carry the template's
    # file name and line: the last such frame is where rendering failed.
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(TEMPLATE_SUFFIXES):
            return f"{frame.filename}:{frame.lineno}"
    return name
