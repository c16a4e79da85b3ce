"""Lecture pre-approval (一会一报): the sensitive categories of seed 001 clause 12, which
obligations a lecture falls under, its deadlines, and the three violations. Pure: no database,
no clock; every date and time is an argument.

Seed 001 clause 12: every philosophy/social-science report meeting, seminar, lecture or forum
is reported ("一会一报"); those touching the listed categories "需提前20个工作日,报党委宣传部审批";
a change needs approval again ("有特殊原因需要变更的,需要重新报批"); "坚决杜绝'未批先办''边批边办'
'事后补批'". Seed 002 item 4.2 scores the approval of every lecture under the college's own
rules (deductions per event not approved as required).

Which obligation a lecture falls under is read from the enabled packs (docs/lectures-and-orders.md):
a *lecture obligation* is an `event` obligation with the `workdays_before_event` rule that the
organiser (not only the propaganda department) carries. Most apply to every lecture
(jincheng-2020.4.2); the ones the pack marks `sensitive_only = true` apply only to lectures
touching a category (henan-2023.12). The strictest one (most working days) sets the approval deadline; one approval
by the propaganda department answers all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING

from obligations.packs import Citation, Document

if TYPE_CHECKING:
    from obligations.packs import Obligation
    from obligations.workdays import WorkdayCalendar


# --------------------------------------------------------------------------- clause 12 as data

@dataclass(frozen=True)
class Category:
    key: str        # short key for the command line: --sensitive history,leaders
    short: str      # short Chinese name, also accepted on the command line
    label: str      # the clause's wording


SENSITIVE_CATEGORIES: tuple[Category, ...] = (
    Category("history", "党史国史军史",
             "涉党史、国史、军史及河南省历史上重大事件、敏感问题、重要人物和重大决策过程的"),
    Category("leaders", "党和国家领导人", "涉党和国家领导人的"),
    Category("ethnic-religion", "民族宗教", "涉民族宗教问题的"),
    Category("foreign", "外交政策", "涉外交政策的"),
    Category("hmt", "港澳台", "涉港澳台问题的"),
    Category("groups", "特定群体", "涉特定群体的"),
    Category("spirit", "时代精神民族精神", "涉时代精神、民族精神的"),
)
CATEGORIES_BY_KEY = {c.key: c for c in SENSITIVE_CATEGORIES}

CLAUSE_12 = Citation(
    source="001_af5a53c9418d3a89.txt", clause="第12条",
    document=Document("河南科技职业大学党委意识形态工作举措（2023年12月28日印发）"),  # as henan-2023.toml names it
    quote="其中对于涉党史、国史、军史及河南省历史上重大事件、敏感问题、重要人物和重大决策过程的,"
          "涉党和国家领导人的,涉民族宗教问题的,涉外交政策的,涉港澳台问题的,涉特定群体的,"
          "涉时代精神、民族精神的,需提前20个工作日,报党委宣传部审批",
)

def parse_categories(values: Iterable[str]) -> tuple[str, ...]:
    """Category keys from command-line values: keys or short Chinese names, comma-separated or
    repeated, in the clause's order without duplicates. Raises ValueError naming the bad one."""
    by_name = {c.key: c.key for c in SENSITIVE_CATEGORIES} | {c.short: c.key for c in SENSITIVE_CATEGORIES}
    picked: set[str] = set()
    for value in values:
        for part in value.replace("，", ",").split(","):
            name = part.strip()
            if not name:
                continue
            key = by_name.get(name) or by_name.get(name.lower())
            if key is None:
                known = "；".join(f"{c.key}（{c.short}）" for c in SENSITIVE_CATEGORIES)
                raise ValueError(f"未知敏感议题类别 {name!r}；可选：{known}")
            picked.add(key)
    return tuple(c.key for c in SENSITIVE_CATEGORIES if c.key in picked)


def category_labels(keys: Iterable[str]) -> str:
    """Short Chinese names of category keys, e.g. "党和国家领导人、港澳台"."""
    return "、".join(CATEGORIES_BY_KEY[k].short for k in keys if k in CATEGORIES_BY_KEY)


# --------------------------------------------------------------------------- which obligations

def is_lecture_obligation(ob: "Obligation") -> bool:
    """An approval the organiser of a lecture asks for: an event obligation counted in working
    days before the event that applies to some unit besides the propaganda department (whose
    own per-event filing with the city, jincheng-2020.lecture, is not an approval)."""
    return (ob.schedule.kind == "event" and ob.deadline.rule == "workdays_before_event"
            and any(kind != "propaganda" for kind in ob.applies_to))


def is_filing_obligation(ob: "Obligation") -> bool:
    """The propaganda department's own per-lecture filing with a superior (jincheng-2020.lecture:
    "按时向市委宣传部报备"): an event obligation counted in working days before the event that
    only the propaganda department carries. Every registered lecture creates one."""
    return (ob.schedule.kind == "event" and ob.deadline.rule == "workdays_before_event"
            and set(ob.applies_to) == {"propaganda"})


def filings(obligations: Iterable["Obligation"]) -> tuple["Obligation", ...]:
    """The filing obligations among `obligations`, by key."""
    return tuple(sorted((ob for ob in obligations if is_filing_obligation(ob)), key=lambda ob: ob.key))


def lead_workdays(ob: "Obligation") -> int:
    return ob.deadline.workdays


def requirements(obligations: Iterable["Obligation"], unit_kind: str, sensitive: bool) -> tuple["Obligation", ...]:
    """The lecture obligations a lecture of a unit of `unit_kind` falls under, strictest first
    (most working days; then key). Empty: the lecture is only reported (一会一报), no approval.
    An obligation marked `sensitive_only` in its pack applies only to a sensitive lecture."""
    found = [ob for ob in obligations
             if is_lecture_obligation(ob) and unit_kind in ob.applies_to
             and (sensitive or not ob.sensitive_only)]
    return tuple(sorted(found, key=lambda ob: (-lead_workdays(ob), ob.key)))


# --------------------------------------------------------------------------- moments

@dataclass(frozen=True)
class Moment:
    """A date with an optional time of day. Without a time it stands for the whole day: a filing
    or decision that day counts as before it (the benefit of the doubt goes to the unit)."""
    day: date
    time: time | None = None

    @classmethod
    def of(cls, value: date | datetime, time_known: bool = True) -> "Moment":
        if isinstance(value, datetime):
            return cls(value.date(), value.time() if time_known else None)
        return cls(value, None)

    def as_datetime(self) -> datetime:
        return datetime.combine(self.day, self.time or time.min)

    def text(self) -> str:
        return self.day.isoformat() + (f" {self.time:%H:%M}" if self.time is not None else "")


def after(at: datetime, moment: Moment) -> bool:
    """`at` lies after `moment` (a later day, or later the same day when the time is known)."""
    if moment.time is None:
        return at.date() > moment.day
    return at > datetime.combine(moment.day, moment.time)


# --------------------------------------------------------------------------- deadlines

@dataclass(frozen=True)
class Deadline:
    due: date
    provisional: bool      # counted on a year without published holiday data


def decision_due(event_day: date, cal: "WorkdayCalendar") -> Deadline:
    """When the propaganda department should have decided a pending application: the last
    working day before the event (the clause gives the department no lead time of its own)."""
    due = cal.add_workdays(event_day, -1)
    return Deadline(due, cal.is_provisional(due) or cal.is_provisional(event_day))


# --------------------------------------------------------------------------- violations

UNAPPROVED, CONCURRENT, RETROACTIVE = "unapproved", "concurrent", "retroactive"
VIOLATION_LABELS = {UNAPPROVED: "未批先办", CONCURRENT: "边批边办", RETROACTIVE: "事后补批"}
VIOLATION_KINDS = (UNAPPROVED, CONCURRENT, RETROACTIVE)


@dataclass(frozen=True)
class Decision:
    at: datetime
    approved: bool


@dataclass(frozen=True)
class Violation:
    kind: str          # unapproved | concurrent | retroactive
    found_on: date     # the day it happened: held (未批先办, 边批边办) or applied for (事后补批)
    explanation: str

    @property
    def label(self) -> str:
        return VIOLATION_LABELS[self.kind]


def decision_in_force(decisions: Sequence[Decision], at: datetime | Moment | None = None) -> Decision | None:
    """The latest decision (by time; the later record wins a tie), or the latest not after `at`."""
    chosen = None
    for d in sorted(decisions, key=lambda d: d.at):
        if at is not None:
            if isinstance(at, Moment):
                if after(d.at, at):
                    continue
            elif d.at > at:
                continue
        chosen = d
    return chosen


def classify(*, starts: Moment, filed_at: datetime | None, decisions: Sequence[Decision],
             held: Moment | None) -> Violation | None:
    """The violation of one version of a lecture that needs approval, from its record.

    - 事后补批: the application was filed after the event (as held, else as scheduled);
    - held with the approval in force (a decision not after the holding is "approve"): none;
    - 边批边办: held while the application was pending, and approved afterwards;
    - 未批先办: held with no application, with the application pending and never approved, or
      after a rejection.
    Until it is held (and unless an application came after its date) there is no violation.
    """
    event = held or starts
    if filed_at is not None and after(filed_at, event):
        return Violation(RETROACTIVE, filed_at.date(),
                         f"活动于 {event.text()} 举办，{filed_at:%Y-%m-%d %H:%M} 才报审")
    if held is None:
        return None
    at_held = decision_in_force(decisions, held)
    if at_held is not None and at_held.approved:
        return None
    latest = decision_in_force(decisions)
    if filed_at is not None and at_held is None and latest is not None and latest.approved:
        return Violation(CONCURRENT, held.day,
                         f"{held.text()} 举办时审批尚未完成，{latest.at:%Y-%m-%d %H:%M} 才批准")
    if filed_at is None:
        why = "未报审即举办"
    elif at_held is not None:
        why = "审批未通过仍举办"
    else:
        why = "报审后未获批准即举办"
    return Violation(UNAPPROVED, held.day, f"{held.text()} {why}")


def filed_late(filed_at: datetime | None, due: date | None) -> bool:
    """Registered (applied for) after the approval deadline: allowed, but flagged."""
    return filed_at is not None and due is not None and filed_at.date() > due


# --------------------------------------------------------------------------- status words

STATUS_WORDS = {
    "planned": "未报审", "pending": "待审批", "approved": "已批准", "rejected": "未批准",
    "reported": "已报备", "held": "已举办", "cancelled": "已取消",
}


def status_of(*, needs_approval: bool, filed_at: datetime | None, decisions: Sequence[Decision],
              held: Moment | None, cancelled: bool) -> str:
    """The state a clerk sees: cancelled, held, or before the event: planned (not applied
    for), pending, approved, rejected; reported for a lecture that needs no approval."""
    if cancelled:
        return "cancelled"
    if held is not None:
        return "held"
    if filed_at is None:
        return "planned"
    if not needs_approval:
        return "reported"
    latest = decision_in_force(decisions)
    if latest is None:
        return "pending"
    return "approved" if latest.approved else "rejected"
