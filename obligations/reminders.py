"""Reminder policy: which reminder stage an open occurrence is in on a given day, who is told,
and how the reminders of one service pass are grouped into digests.

Pure: no clock, no database; ``today``/``now`` and the working-day calendar are parameters. The
reminder service (``scheduler/``) asks :func:`stage_at` for each open occurrence, turns the
answers into :class:`ReminderItem` values and lets :func:`plan_digests` group them; it stores
what is planned in its outbox under the :class:`OutboxKey` values built here, so no pass plans a
message twice. The policy and its readings of the issue are documented in docs/reminders.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple, Protocol

from obligations.sending_windows import (
    DEFAULT_WINDOW,
    WINDOW_KEYS,
    SendingWindow,
    next_window_start,
    window_id,
)


class WorkdayLookup(Protocol):
    """The part of ``workdays.WorkdayCalendar`` used here."""

    def is_workday(self, d: date) -> bool: ...
    def is_provisional(self, d: date) -> bool: ...
    def count(self, a: date, b: date) -> int: ...
    def add_workdays(self, d: date, n: int) -> date: ...
    def next_workday(self, d: date) -> date: ...


# ---------------------------------------------------------------------------------------------
# The policy as data


class ReminderPolicyError(ValueError):
    """A bad reminder setting; ``str()`` names where (file/table) and the field."""

    def __init__(self, where: str, field: str, message: str):
        super().__init__(f"{where}: {field}: {message}")
        self.where = where
        self.field = field
        self.message = message


_WINDOW_OR_DAYS = re.compile(r"^window_or_(\d+)_days$")
_DAYS = re.compile(r"^(\d+)_days$")
FIRST_NOTICE_HELP = '"window_or_N_days"（默认 N=7）、"window"、"N_days" 或 "none"'


def _parse_first_notice(value: Any) -> tuple[str, int]:
    """``first_notice`` -> (mode, days). Raises ValueError with a message for the field."""
    if isinstance(value, str):
        if value in ("window", "none"):
            return value, 0
        for mode, pattern in (("window_or_days", _WINDOW_OR_DAYS), ("days", _DAYS)):
            m = pattern.match(value)
            if m and int(m.group(1)) >= 1:
                return mode, int(m.group(1))
    raise ValueError(f"必须是 {FIRST_NOTICE_HELP}，实际为 {value!r}")


@dataclass(frozen=True)
class ReminderPolicy:
    """When the stages of one occurrence fall. Built-in defaults are the issue's policy."""

    first_notice: str = "window_or_7_days"
    short_window_days: int = 14  # a window opening at most this many days before due is "short"
    before_days: tuple[int, ...] = (3,)
    before_workdays: tuple[int, ...] = (1,)
    on_due: bool = True
    overdue_every_workdays: int = 2
    escalate_after_workdays: int = 3
    # Overdue reminders stop this many calendar days after the due date (0: never). The item
    # stays overdue in every query and in the score; only the repeated messages end, so that
    # last year's misses do not fill a secretary's digest for ever.
    stop_after_days: int = 90

    def __post_init__(self) -> None:
        # Direct construction is checked like a mapping; lists become tuples.
        object.__setattr__(self, "before_days", tuple(self.before_days))
        object.__setattr__(self, "before_workdays", tuple(self.before_workdays))
        for name in _FIELDS:
            _check_field(name, getattr(self, name), "提醒策略")

    @classmethod
    def from_mapping(
        cls,
        mapping: Mapping[str, Any] | None,
        *,
        where: str = "配置文件 [reminders]",
        base: "ReminderPolicy | None" = None,
        allow_window_keys: bool = False,
    ) -> "ReminderPolicy":
        """The policy ``base`` (built-in defaults when None) with the keys of ``mapping`` set.

        Keys not named keep the base value; a list replaces the base list. ``where`` names the
        file and table in error messages. The sending-window keys (``window_start`` ...) are
        skipped when ``allow_window_keys`` (the config file's table, where they live and are read
        by ``SendingWindow.from_mapping``) and refused otherwise (a pack or an obligation).
        """
        base = base or DEFAULT_POLICY
        if mapping is None:
            return base
        if not isinstance(mapping, Mapping):
            raise ReminderPolicyError(where, "reminders", f"必须是表（table），实际为 {mapping!r}")
        changes: dict[str, Any] = {}
        for key, value in mapping.items():
            if key in WINDOW_KEYS:
                if not allow_window_keys:
                    raise ReminderPolicyError(
                        where, key,
                        "发送时段在配置文件的 [reminders] 中设置，不能写在规则包里")
                continue  # read by SendingWindow.from_mapping
            if key not in _FIELDS:
                known = "、".join(_FIELDS + (WINDOW_KEYS if allow_window_keys else ()))
                raise ReminderPolicyError(where, key, f"未知设置项（可用：{known}）")
            _check_field(key, value, where)
            changes[key] = tuple(value) if isinstance(value, list) else value
        return replace(base, **changes)

    def merged(self, mapping: Mapping[str, Any] | None, *, where: str) -> "ReminderPolicy":
        """This policy overridden by ``mapping`` (a later, more specific layer)."""
        return ReminderPolicy.from_mapping(mapping, where=where, base=self)

    @property
    def notice_mode(self) -> str:
        return _parse_first_notice(self.first_notice)[0]

    @property
    def notice_days(self) -> int:
        return _parse_first_notice(self.first_notice)[1]


_FIELDS = (
    "first_notice",
    "short_window_days",
    "before_days",
    "before_workdays",
    "on_due",
    "overdue_every_workdays",
    "escalate_after_workdays",
    "stop_after_days",
)


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_field(name: str, value: Any, where: str) -> None:
    def bad(message: str) -> ReminderPolicyError:
        return ReminderPolicyError(where, name, message)

    if name == "first_notice":
        try:
            _parse_first_notice(value)
        except ValueError as exc:
            raise bad(str(exc)) from None
    elif name in ("before_days", "before_workdays"):
        if not isinstance(value, (list, tuple)) or not all(
            _is_whole(v) and v >= 1 for v in value
        ):
            raise bad(f"必须是不小于 1 的整数列表，例如 [7, 3]，实际为 {value!r}")
        if len(set(value)) != len(value):
            raise bad(f"有重复的数字：{value!r}")
    elif name == "on_due":
        if not isinstance(value, bool):
            raise bad(f"必须是 true 或 false，实际为 {value!r}")
    elif name in ("short_window_days", "stop_after_days"):
        if not _is_whole(value) or value < 0:
            raise bad(f"必须是天数（0 或正整数），实际为 {value!r}")
    elif not _is_whole(value) or value < 1:  # overdue_every_workdays, escalate_after_workdays
        raise bad(f"必须是工作日数（至少 1 的整数），实际为 {value!r}")


DEFAULT_POLICY = ReminderPolicy()


def effective_policy(
    *,
    pack: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    obligation: Mapping[str, Any] | None = None,
    pack_where: str = "规则包 [reminders]",
    config_where: str = "配置文件 [reminders]",
    obligation_where: str = "[obligation.reminders]",
) -> ReminderPolicy:
    """The policy for one obligation. Layers, each overriding the keys it names:

    built-in default < pack ``[reminders]`` < config ``[reminders]`` < ``[obligation.reminders]``.

    The institution's config beats a pack's general defaults (a bundled pack cannot impose
    its reminder rhythm); settings written on one obligation are the most specific and win
    (e.g. an approval due 20 working days before an event that needs an earlier notice).
    """
    policy = DEFAULT_POLICY.merged(pack, where=pack_where)
    if config is not None:
        policy = ReminderPolicy.from_mapping(
            config, where=config_where, base=policy, allow_window_keys=True)
    if obligation is not None:
        policy = ReminderPolicy.from_mapping(
            obligation, where=obligation_where, base=policy, allow_window_keys=False)
    return policy


# ---------------------------------------------------------------------------------------------
# Stages


@dataclass(frozen=True)
class Stage:
    """The reminder stage of one occurrence on ``as_of``.

    ``id`` is stable and goes into the outbox key: ``notice``, ``before-3d`` (calendar days),
    ``before-1wd`` (working days), ``due``, ``overdue-1``, ``overdue-2``, ... The counts are for
    wording and are as of ``as_of``, not of the trigger date.
    """

    id: str
    kind: str  # before | due | overdue   (the notice is a "before" stage)
    trigger: date  # the day the stage starts; may be a weekend (sending waits for a window)
    as_of: date
    due: date
    days_left: int  # calendar days from as_of to due; 0 on and after the due date
    days_overdue: int  # calendar days past due; 0 up to the due date
    workdays_overdue: int  # working days in (due, as_of]
    escalate: bool  # supervisor and propaganda contact are told too
    provisional: bool  # a working-day count behind this stage lies in a provisional year


# Order of stages that fall on the same day: the later in this order wins (closer to due).
_ORDER_NOTICE, _ORDER_DAYS, _ORDER_WORKDAYS, _ORDER_DUE = 0, 1, 2, 3


def _spans_provisional(cal: WorkdayLookup, a: date, b: date) -> bool:
    return any(cal.is_provisional(date(y, 1, 1)) for y in range(a.year, b.year + 1))


def _notice_date(policy: ReminderPolicy, opens: date, due: date) -> date | None:
    mode, days = policy.notice_mode, policy.notice_days
    if mode == "none":
        return None
    if mode == "window":
        return opens
    if mode == "window_or_days" and (due - opens).days <= policy.short_window_days:
        return opens  # a short window is announced the day it opens, giving all of it
    return max(opens, due - timedelta(days=days))


def _stages_up_to_due(
    policy: ReminderPolicy, opens: date, due: date, cal: WorkdayLookup
) -> list[tuple[date, int, str, bool]]:
    """(trigger, order, id, provisional) of every stage up to the due date, sorted.

    Stages before the window opens are dropped: the occurrence is not open yet and the notice
    (or the first stage inside the window) tells all that is needed.
    """
    stages: list[tuple[date, int, str, bool]] = []
    notice = _notice_date(policy, opens, due)
    if notice is not None:
        stages.append((notice, _ORDER_NOTICE, "notice", False))
    for n in sorted(policy.before_days, reverse=True):
        stages.append((due - timedelta(days=n), _ORDER_DAYS, f"before-{n}d", False))
    for n in sorted(policy.before_workdays, reverse=True):
        trigger = cal.add_workdays(due, -n)
        provisional = _spans_provisional(cal, trigger, due)
        stages.append((trigger, _ORDER_WORKDAYS, f"before-{n}wd", provisional))
    if policy.on_due:
        stages.append((due, _ORDER_DUE, "due", False))
    # Ties on a day (e.g. 3 days and 1 working day before a Monday due date both fall on
    # Friday): the stage later in _ORDER, the one closer to due, is the one that counts.
    stages.sort(key=lambda s: (s[0], s[1]))
    return [s for s in stages if s[0] >= opens]


def _kind(stage_id: str) -> str:
    if stage_id == "due":
        return "due"
    return "overdue" if stage_id.startswith("overdue-") else "before"


def stage_at(
    policy: ReminderPolicy, *, opens: date, due: date, today: date, cal: WorkdayLookup
) -> Stage | None:
    """The current stage on ``today`` of an open (not submitted, not waived) occurrence.

    It is the latest stage whose trigger date is on or before ``today``: stages missed while
    the service was down collapse into the current one. None before the first stage, and
    None once the occurrence is more than ``stop_after_days`` calendar days overdue.
    Overdue reminder k starts on working day 1 + (k-1)*every after the due date (working day 1
    is the first working day after due); it escalates when that is at least
    ``escalate_after_workdays`` working days overdue.
    """
    if opens > due:
        raise ValueError(f"window opens {opens} after its due date {due}")
    if today < opens:
        return None

    def make(stage_id: str, trigger: date, escalate: bool, provisional: bool,
             wd_over: int) -> Stage:
        return Stage(
            id=stage_id, kind=_kind(stage_id), trigger=trigger, as_of=today, due=due,
            days_left=max((due - today).days, 0), days_overdue=max((today - due).days, 0),
            workdays_overdue=wd_over, escalate=escalate, provisional=provisional,
        )

    if today > due:
        if policy.stop_after_days and (today - due).days > policy.stop_after_days:
            return None
        provisional = _spans_provisional(cal, due, today)
        worked = cal.count(due + timedelta(days=1), today)
        if worked >= 1:
            every = policy.overdue_every_workdays
            k = (worked - 1) // every + 1
            offset = 1 + (k - 1) * every
            return make(
                f"overdue-{k}", cal.add_workdays(due, offset),
                offset >= policy.escalate_after_workdays, provisional, worked,
            )
        # Past due but no working day yet (a due date before a weekend): the due stage holds.
    current = None
    for trigger, _order, stage_id, provisional in _stages_up_to_due(policy, opens, due, cal):
        if trigger > today:
            break
        current = (trigger, stage_id, provisional)
    if current is None:
        return None
    trigger, stage_id, provisional = current
    return make(stage_id, trigger, False, provisional, 0)


def stage_dates(
    policy: ReminderPolicy, *, opens: date, due: date, cal: WorkdayLookup, overdue: int = 3
) -> list[tuple[str, date]]:
    """The stages an occurrence would pass through if never submitted: (id, trigger date),
    up to the ``overdue``-th overdue reminder. For previews and docs ("提醒安排")."""
    out = [(sid, trig) for trig, _o, sid, _p in _stages_up_to_due(policy, opens, due, cal)]
    # Same-day ties: only the stage that counts is listed.
    dedup: dict[date, str] = {}
    for sid, trig in out:
        dedup[trig] = sid
    listed = [(sid, trig) for trig, sid in dedup.items()]
    every = policy.overdue_every_workdays
    listed += [(f"overdue-{k}", cal.add_workdays(due, 1 + (k - 1) * every))
               for k in range(1, overdue + 1)]
    return listed


# ---------------------------------------------------------------------------------------------
# Wording shared by templates


def progress_text(done: int, required: int, due: date, today: date) -> str:
    """Progress of a count-based obligation ("at least N per period"):
    ``还差 4 次，剩余 40 天`` before the due date, ``还差 4 次，今天截止`` on it,
    ``还差 4 次，已逾期 5 天`` after it; ``已完成 6 次（要求 6 次）`` when met."""
    if not _is_whole(required) or required < 1 or not _is_whole(done) or done < 0:
        raise ValueError(f"progress needs done >= 0 and required >= 1, got {done}/{required}")
    if done >= required:
        return f"已完成 {done} 次（要求 {required} 次）"
    missing = required - done
    days = (due - today).days
    if days > 0:
        return f"还差 {missing} 次，剩余 {days} 天"
    if days == 0:
        return f"还差 {missing} 次，今天截止"
    return f"还差 {missing} 次，已逾期 {-days} 天"


# ---------------------------------------------------------------------------------------------
# Recipients and digests

ROLE_RESPONSIBLE = "responsible"  # the unit's secretary / head / propaganda contact per obligation
ROLE_SUPERVISOR = "supervisor"  # the unit's supervisor (分管领导), told on escalation
ROLE_PROPAGANDA = "propaganda"  # the propaganda-department contact, told on escalation


@dataclass(frozen=True)
class Audience:
    """Who may hear about one occurrence; recipients are the service's person ids."""

    responsible: tuple[str, ...]
    supervisors: tuple[str, ...] = ()
    propaganda: tuple[str, ...] = ()


def recipients(stage: Stage, audience: Audience) -> dict[str, tuple[str, ...]]:
    """Recipient id -> the roles in which they are told, in first-seen order. The responsible
    people always; supervisors and the propaganda contact too once the stage escalates. A
    person holding two roles is told once."""
    roles: dict[str, list[str]] = {}
    groups = [(ROLE_RESPONSIBLE, audience.responsible)]
    if stage.escalate:
        groups += [(ROLE_SUPERVISOR, audience.supervisors), (ROLE_PROPAGANDA, audience.propaganda)]
    for role, people in groups:
        for person in people:
            if role not in roles.setdefault(person, []):
                roles[person].append(role)
    return {person: tuple(r) for person, r in roles.items()}


@dataclass(frozen=True)
class ReminderItem:
    """One open occurrence in its current stage, as the service hands it to the planner."""

    occurrence: str  # the service's occurrence id
    unit: str  # the unit the occurrence belongs to (digests are grouped by it)
    stage: Stage
    audience: Audience


class OutboxKey(NamedTuple):
    """Unique key of a planned message: (occurrence or digest, stage, channel, recipient)."""

    subject: str
    stage: str
    channel: str
    recipient: str


@dataclass(frozen=True)
class DigestEntry:
    occurrence: str
    unit: str
    stage: Stage
    roles: tuple[str, ...]  # why this recipient hears of it


@dataclass(frozen=True)
class UnitGroup:
    unit: str
    entries: tuple[DigestEntry, ...]  # earliest due first


@dataclass(frozen=True)
class Digest:
    """One message to one recipient on one channel in one sending window."""

    recipient: str
    channel: str
    window: str  # window_id of send_at
    send_at: datetime
    units: tuple[UnitGroup, ...]

    @property
    def key(self) -> OutboxKey:
        return OutboxKey(f"digest:{self.window}", "digest", self.channel, self.recipient)

    @property
    def entry_keys(self) -> tuple[OutboxKey, ...]:
        return tuple(
            entry_key(e.occurrence, e.stage.id, self.channel, self.recipient)
            for g in self.units for e in g.entries
        )


def entry_key(occurrence: str, stage_id: str, channel: str, recipient: str) -> OutboxKey:
    """Outbox key of one stage of one occurrence for one recipient and channel: once planned,
    the same stage is never planned again for them, in any later pass or window."""
    return OutboxKey(str(occurrence), stage_id, channel, str(recipient))


@dataclass(frozen=True)
class DigestPlan:
    digests: tuple[Digest, ...]
    # Items nobody can be told about (no recipient, or no channel for any recipient): the
    # service reports these rather than dropping them silently.
    unaddressed: tuple[ReminderItem, ...] = field(default=())


def plan_digests(
    items: Iterable[ReminderItem],
    *,
    now: datetime,
    cal: WorkdayLookup,
    window: SendingWindow = DEFAULT_WINDOW,
    channels: Sequence[str] | Callable[[str], Sequence[str]] = ("email",),
    already_planned: Container[OutboxKey] = frozenset(),
) -> DigestPlan:
    """Group one pass's reminder items into one digest per recipient, channel and sending
    window, grouped by unit inside.

    ``channels`` is the list of channels for everyone, or a function giving one recipient's
    channels. Entries whose :func:`entry_key` is in ``already_planned`` are left out (they were
    planned by an earlier pass); a digest left empty is not produced. If one occurrence comes
    twice for the same recipient, only its latest stage is kept.
    """
    send_at = next_window_start(now, cal, window)
    wid = window_id(send_at)
    channels_of = channels if callable(channels) else (lambda _r, _c=tuple(channels): _c)

    # (recipient, channel) -> occurrence -> entry
    boxes: dict[tuple[str, str], dict[str, DigestEntry]] = {}
    unaddressed: list[ReminderItem] = []
    for item in items:
        told = False
        for person, roles in recipients(item.stage, item.audience).items():
            for channel in channels_of(person):
                told = True
                if entry_key(item.occurrence, item.stage.id, channel, person) in already_planned:
                    continue
                box = boxes.setdefault((str(person), channel), {})
                new = DigestEntry(str(item.occurrence), str(item.unit), item.stage, roles)
                old = box.get(new.occurrence)
                if old is None or new.stage.trigger > old.stage.trigger:
                    box[new.occurrence] = new
        if not told:
            unaddressed.append(item)

    digests = []
    for (person, channel), box in sorted(boxes.items()):
        by_unit: dict[str, list[DigestEntry]] = {}
        for entry in box.values():
            by_unit.setdefault(entry.unit, []).append(entry)
        units = tuple(
            UnitGroup(unit, tuple(sorted(entries, key=lambda e: (e.stage.due, e.occurrence))))
            for unit, entries in sorted(by_unit.items())
        )
        digests.append(Digest(person, channel, wid, send_at, units))
    return DigestPlan(tuple(digests), tuple(unaddressed))
