"""The month-long replay of issue 7, through the real CLI: the demo college, a look back at 2025,
then `ccal tick` twice on every working day from 2 March to 10 April 2026 (and once on every
weekend and holiday day: Qingming, 4-6 April), with the Q1 joint meeting recorded mid-way, the
local outbox standing in for the mail server. Every written .eml is then read back with the
standard library's parser and checked, for the whole period:

- no reminder names a period outside the tracked years (docs/scale.md, "Tracked years");
- every provisional date states its true reason (docs/reminders.md, "Why a date is provisional");
- every due date that moved after a message told it is announced in the person's next message,
  and not escalated before a working day's grace (docs/reminders.md, "Deadlines that move");
- one message per person, channel and sending window, only inside sending windows, and nothing
  left `sending` (docs/service.md).

The demo history is recorded up to 12 February 08:00, before the Q1 meeting the demo holds that
afternoon, so the Q1 meeting is not recorded when the replay starts: the departmental reports
hang on its default date (31 March) until `ccal meeting set` records it for Monday 30 March
after that morning's messages told 「今日到期 3月30日」 (the issue's scenario). The service is
taken to start on 2 March: what fell due meanwhile is overdue from the first tick on.
"""

import json
import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email import policy
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from obligations.provisional import REASON_WORDS
from obligations.workdays import WorkdayCalendar

DEMO_NOW = "2026-02-12 08:00"      # before the demo's Q1 meeting (12 February, 14:30)
FIRST, LAST = date(2026, 3, 2), date(2026, 4, 10)
MEETING_DAY = date(2026, 3, 30)    # the Q1 meeting, recorded that day after the 09:30 pass
ANCHORED = ("jincheng-2020.meeting.report", "jincheng-2020.meeting.summary")
STOP_AFTER_DAYS = 90               # docs/reminders.md: the default stop_after_days
LOOKED_BACK = ("jincheng-2020.1.4", "JZX", "2025")   # a laggard's missing 2025 plan, recorded late
QUARTERS = "一二三四"
HOLIDAY_WORDS = REASON_WORDS["holidays"]
MEETING_WORDS = REASON_WORDS["meeting"]


def ccal(*args, home: Path | None = None):
    env = {"CCAL_CONFIG": None, "CCAL_DATABASE_URL": None, **({"CCAL_HOME": str(home)} if home else {})}
    result = CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output, result.stderr)
    return result.stdout


def as_json(*args):
    return json.loads(ccal(*args, "--format", "json"))


# --------------------------------------------------------------------------- reading the outbox

@dataclass
class Item:
    unit: str
    escalated: bool          # told as supervisor / propaganda contact (逾期督办), not as responsible
    title: str = ""
    due: date | None = None
    provisional: str | None = None     # the whole 「（日期为暂定，…）」 note, if any
    moved: str | None = None           # the 日期调整 line, if any
    period: str = ""                   # 所属周期, as written
    key: str = ""

    @property
    def ident(self):
        return (self.unit, self.key, self.period)


@dataclass
class Mail:
    path: Path
    to: str
    sent: datetime
    window: str
    items: list[Item] = field(default_factory=list)


CN_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日（周.）(（日期为暂定[^）]*）)?")


def read_mail(path: Path) -> Mail:
    msg = BytesParser(policy=policy.default).parse(path.open("rb"))
    body = msg.get_body(("plain",)).get_content()
    escalation_only = "特此报告，请督促相关单位尽快落实" in body      # the escalation template
    mail = Mail(path, parseaddr(msg["To"])[1], parsedate_to_datetime(msg["Date"]).replace(tzinfo=None),
                msg["X-Ccal-Key"].split("/")[0].removeprefix("digest:"))
    unit = None
    escalated = False
    for line in body.splitlines():
        if line.startswith("【"):
            unit, rest = line[1:].split("】", 1)
            unit = None if unit == "考核扣分通知" else unit
            escalated = escalation_only or "逾期督办" in rest
        elif unit and re.match(r"^\d+\. ", line):
            mail.items.append(Item(unit, escalated, title=line.split(". ", 1)[1]))
        elif unit and mail.items and line.startswith("   "):
            name, _, value = line.strip().partition("：")
            item = mail.items[-1]
            if name == "截止日期":
                m = CN_DATE.match(value)
                assert m, (path.name, line)
                item.due = date(int(m[1]), int(m[2]), int(m[3]))
                item.provisional = m[4]
                assert value == m[0], f"{path.name}: unexpected text after the due date: {line!r}"
            elif name == "日期调整":
                item.moved = value
            elif name == "所属周期":
                item.period = value
            elif name == "事项编号":
                item.key = value
    for item in mail.items:
        assert item.due and item.key and item.period, (path.name, item)
    return mail


def period_year(label: str) -> int:
    """「2025年下半年」「2026年第一季度」「2025年秋季学期」 -> its year; an event's 「名称（2026-04-20）」
    -> the event's year."""
    m = re.match(r"^(\d{4})年", label) or re.search(r"（(\d{4})-\d\d-\d\d）$", label)
    assert m, label
    return int(m[1])


def quarter_name(label: str) -> str:
    """2026-Q1 -> 2026年第一季度 (how messages name the quarter)."""
    year, q = label.split("-Q")
    return f"{year}年第{QUARTERS[int(q) - 1]}季度"


def short(d: date) -> str:
    return f"{d.month}月{d.day}日"


# --------------------------------------------------------------------------- the replay

def tick_times() -> list[datetime]:
    cal = WorkdayCalendar()
    out, d = [], FIRST
    while d <= LAST:
        hours = ((9, 30), (14, 0)) if cal.is_workday(d) else ((10, 0),)
        if d in (MEETING_DAY, MEETING_DAY + timedelta(days=1)):   # and outside the window: 08:00, 18:30
            hours = ((8, 0), *hours, (18, 30))
        out += [datetime(d.year, d.month, d.day, h, m) for h, m in hours]
        d += timedelta(days=1)
    return out


def meeting_dates() -> dict[str, date]:
    return {r["period"]: date.fromisoformat(r["date"])
            for r in as_json("event", "list", "--key", "jincheng-2020.meeting")}


def q1_calendar() -> dict[tuple, dict]:
    rows = as_json("calendar", "--from", "2026-01-01", "--to", "2026-06-30", "--as-of", "2026-03-30")
    return {(r["unit_name"], r["obligation"], r["period"]): r for r in rows if r["period"] == "2026-Q1"}


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    """The replay, once for the module. Module scope runs before the suite's function-scoped
    isolation (tests/conftest.py), so it isolates itself the same way."""
    from obligations import workdays
    from scheduler import config

    home = tmp_path_factory.mktemp("replay-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("CCAL_HOME", str(home))      # no config file: the local outbox in $CCAL_HOME/outbox
    mp.setenv("XDG_CONFIG_HOME", str(home / "xdg"))
    mp.chdir(home)
    mp.setattr(config, "SYSTEM_CONFIG", home / "etc-ccal" / "ccal.toml")
    mp.setattr(workdays, "OFFICIAL_YEARS", range(workdays.OFFICIAL_YEARS.start, 2027))
    try:
        yield run_replay(home)
    finally:
        mp.undo()


def run_replay(home: Path) -> dict:
    ccal("init", "--demo", "--now", DEMO_NOW)
    meetings = {"before": meeting_dates()}
    # A copy of the database without the look back: what the first tick would have sent.
    control = home / "control"
    control.mkdir()
    with sqlite3.connect(home / "ccal.db") as src, sqlite3.connect(control / "ccal.db") as dst:
        src.backup(dst)

    # The look back of the issue, before the first tick: a 2025 query and a late 2025 record.
    unit_key, unit, year = LOOKED_BACK
    overdue = as_json("overdue", "--unit", unit, "--as-of", FIRST.isoformat())
    assert any(r["obligation"] == unit_key and r["period"] == year for r in overdue)   # would be reminded
    assert ccal("calendar", "--from", "2025-10-01", "--to", "2025-12-31", "--as-of", FIRST.isoformat())
    ccal("submit", unit_key, "--unit", unit, "--period", year, "--at", "2026-03-01 16:00", "--note", "补报")

    outbox = home / "outbox"
    sent_by_tick: dict[datetime, set[str]] = {}
    moved: dict[tuple, tuple[date, date]] = {}
    for when in tick_times():
        before = set(p.name for p in outbox.iterdir()) if outbox.exists() else set()
        out = ccal("tick", "--now", when.strftime("%Y-%m-%d %H:%M"))
        assert "发送中 0" in out, out
        sent_by_tick[when] = set(p.name for p in outbox.iterdir()) - before
        if when == datetime.combine(MEETING_DAY, datetime.min.time()).replace(hour=9, minute=30):
            old = q1_calendar()
            ccal("meeting", "set", "--quarter", "2026-Q1", "--date", MEETING_DAY.isoformat())
            new = q1_calendar()
            moved = {k: (date.fromisoformat(old[k]["due"]), date.fromisoformat(new[k]["due"]))
                     for k in old if old[k]["due"] != new[k]["due"]}
            meetings["after"] = meeting_dates()
    ccal("tick", "--now", f"{FIRST} 09:30", home=control)
    first_tick = {"control": [read_mail(p) for p in (control / "outbox").iterdir()],
                  "replay": [read_mail(outbox / name) for name in sent_by_tick[min(sent_by_tick)]]}
    mails = sorted((read_mail(p) for p in outbox.iterdir() if p.suffix == ".eml"),
                   key=lambda m: (m.sent, m.path.name))
    return dict(home=home, mails=mails, first_tick=first_tick, sent_by_tick=sent_by_tick, moved=moved,
                meetings=meetings, files=sorted(p.name for p in outbox.iterdir()),
                outbox=as_json("outbox", "--limit", "100000"))


# --------------------------------------------------------------------------- the checks

def test_the_replay_sent_reminders_every_working_day_and_only_then(replay):
    cal = WorkdayCalendar()
    assert all(name.endswith(".eml") for name in replay["files"])      # everyone has an address
    for when, names in replay["sent_by_tick"].items():
        if not cal.is_workday(when.date()) or not 9 <= when.hour < 18:
            assert names == set(), f"sent at {when:%Y-%m-%d %H:%M}, outside a sending window: {sorted(names)[:3]}"
    for mail in replay["mails"]:
        assert cal.is_workday(mail.sent.date()) and 9 <= mail.sent.hour < 18, (mail.path.name, mail.sent)
        assert mail.window == mail.sent.date().isoformat(), mail.path.name
        assert mail.path.name.startswith(mail.sent.strftime("%Y%m%d-%H%M%S")), mail.path.name   # one clock
    # The 31 March message, planned on 30 March after the window's message had gone out, waits
    # for 31 March 09:00: not sent at 08:00, sent at 09:30.
    assert not replay["sent_by_tick"][datetime(2026, 3, 31, 8, 0)]
    assert replay["sent_by_tick"][datetime(2026, 3, 31, 9, 30)]
    sending_days = {m.sent.date() for m in replay["mails"]}
    assert sending_days >= {date(2026, 3, 2), date(2026, 4, 3), date(2026, 4, 7), date(2026, 4, 10)}
    for off in (date(2026, 3, 7), date(2026, 4, 4), date(2026, 4, 5), date(2026, 4, 6)):   # 清明节 4-6 April
        assert off not in sending_days


def test_one_message_per_person_channel_and_window(replay):
    per_window = defaultdict(list)
    for mail in replay["mails"]:
        per_window[(mail.to, mail.window)].append(mail.path.name)
    assert all(len(v) == 1 for v in per_window.values()), {k: v for k, v in per_window.items() if len(v) > 1}
    assert len(replay["mails"]) > 300                   # about 17 people on about 28 working days


def test_nothing_stays_sending_and_nothing_failed(replay):
    statuses = {r["status"] for r in replay["outbox"]}
    assert statuses <= {"sent", "cancelled"}, statuses
    assert sum(r["status"] == "sent" for r in replay["outbox"]) == len(replay["mails"])


def test_no_reminder_names_an_untracked_period(replay):
    """docs/scale.md: with `track_years = 1` a day of year Y tracks Y in full and the open tail of
    Y-1 (its periods due in Y); rows tracked when they were materialised stay tracked after their
    year ends ("last December's overdue work keeps its reminders until the policy's
    stop_after_days"): the demo's history tracked 2025 in full and 2024's tail only. So a
    reminder on day D names a period of D's year, or of the year before when it is due in D's
    year or (the demo's 2025) still within stop_after_days of its due date when planned; and the
    2025 record made late in the look back is never reminded. (The demo's 2025 is tracked
    history, so a look back at it cannot create untracked rows here; a year nobody tracked is
    covered by tests/scheduler/test_tracking.py.)"""
    looked_key = LOOKED_BACK[0]
    ticks = sorted(replay["sent_by_tick"])
    seen_2025_in_2025 = 0
    for mail in replay["mails"]:
        # The message may have been planned at any pass since the previous window's sending.
        earlier = [t for t in ticks if t < mail.sent and WorkdayCalendar().is_workday(t.date())]
        planned_from = min(t for t in ticks if not earlier or t > earlier[-1]).date()
        for item in mail.items:
            year = period_year(item.period)
            assert item.due >= planned_from - timedelta(days=STOP_AFTER_DAYS), (mail.path.name, item)
            if year == mail.sent.year:
                continue
            assert year == mail.sent.year - 1 == 2025, (mail.path.name, item)
            if item.due.year == 2025:
                seen_2025_in_2025 += 1
            assert not (item.key == looked_key and item.unit == "建筑工程系党支部" and item.period == "2025年度")
    assert seen_2025_in_2025             # the demo's tracked December work is reminded (not vacuous)


def test_looking_back_wakes_nothing(replay):
    """The issue: one `ccal calendar` over 2025's last quarter and one late `ccal submit` for
    2025, and the next tick planned 382 items instead of 30. Here the first tick after them tells
    exactly what it would have told without them, less the work recorded late."""
    told = lambda mails: {(m.to, i.ident) for m in mails for i in m.items}   # noqa: E731
    control, replay_ = told(replay["first_tick"]["control"]), told(replay["first_tick"]["replay"])
    late = {x for x in control if x[1] == ("建筑工程系党支部", LOOKED_BACK[0], "2025年度")}
    assert late                          # it would have been reminded
    assert replay_ == control - late


def test_every_provisional_date_states_its_true_reason(replay):
    """2026's holidays are published: the holiday wording only for a year without data. The
    meeting wording only for an anchored report whose quarter's meeting is not recorded, and
    always for those."""
    cal = WorkdayCalendar()
    recorded_before, recorded_after = replay["meetings"]["before"], replay["meetings"]["after"]
    assert "2026-Q1" not in recorded_before and recorded_after["2026-Q1"] == MEETING_DAY
    seen = defaultdict(int)
    for mail in replay["mails"]:
        for item in mail.items:
            note = item.provisional or ""
            assert note != "（日期为暂定）", (mail.path.name, item)            # never without a reason
            if HOLIDAY_WORDS in note:
                assert cal.is_provisional(item.due), (mail.path.name, item)
            if item.key in ANCHORED:
                m = re.match(r"^(\d{4})年第(.)季度$", item.period)
                label = f"{m[1]}-Q{QUARTERS.index(m[2]) + 1}"
                recorded = recorded_after if mail.sent.date() > MEETING_DAY else recorded_before
                unrecorded = label not in recorded
                assert (MEETING_WORDS in note) == unrecorded, (mail.path.name, mail.sent, item)
                seen[unrecorded] += 1
            else:
                assert MEETING_WORDS not in note, (mail.path.name, item)
            if note:
                seen["provisional"] += 1
    assert seen[True] and seen[False]       # reports told before and after the meeting was recorded


def test_every_moved_deadline_is_announced_and_escalation_waits(replay):
    cal = WorkdayCalendar()
    moved = replay["moved"]
    assert moved, "recording the Q1 meeting moved no due date"
    by_ident = {(unit, key, quarter_name(period)): dates for (unit, key, period), dates in moved.items()}
    per_person = defaultdict(list)
    for mail in replay["mails"]:
        per_person[mail.to].append(mail)

    announced = expected_announcements = 0
    for to, mails in per_person.items():
        told: dict[tuple, date] = {}           # what this person's last message said
        for mail in mails:
            listed = {i.ident: i for i in mail.items}
            for ident, item in listed.items():
                last = told.get(ident)
                if last is not None and last != item.due:
                    expected = f"截止日期已由{short(last)}调整为{short(item.due)}"
                    assert item.moved and item.moved.startswith(expected), (to, mail.path.name, item)
                    if item.due < mail.sent.date():
                        assert "已过新的截止日期，请尽快完成" in item.moved
                    announced += 1
                else:
                    assert item.moved is None, (to, mail.path.name, item)   # nothing moved: no word of it
                told[ident] = item.due
        # The person's first message after the meeting was recorded tells every moved date
        # their earlier messages told.
        before = {i.ident: i.due for m in mails if m.sent.date() <= MEETING_DAY for i in m.items}
        after = [m for m in mails if m.sent.date() > MEETING_DAY]
        for ident, (old, new) in by_ident.items():
            if before.get(ident) == old:
                first = {i.ident: i for i in after[0].items}
                assert ident in first and first[ident].moved, (to, after[0].path.name, ident)
                expected_announcements += 1
    assert announced == expected_announcements
    # The 13 heads told 「今日到期 3月30日」 (the propaganda report's 8 April was not told yet).
    assert expected_announcements == sum(key == "jincheng-2020.meeting.report" for _, key, _ in by_ident) == 13

    # Grace: no escalation of a moved item until a full working day after its new date was told.
    for ident in by_ident:
        told_new = [m.sent.date() for m in replay["mails"] for i in m.items
                    if i.ident == ident and not i.escalated and i.moved]
        if not told_new:
            continue
        grace_ends = cal.add_workdays(min(told_new), 1)
        escalations = sorted(m.sent.date() for m in replay["mails"] for i in m.items
                             if i.ident == ident and i.escalated and m.sent.date() > MEETING_DAY)
        assert all(d > grace_ends for d in escalations), (ident, min(told_new), escalations)
    # The example: told on 31 March, escalated on 2 April, not on 1 April.
    report = [d for (unit, key, _), d in by_ident.items() if key == "jincheng-2020.meeting.report"]
    assert report and all(d == (date(2026, 3, 30), date(2026, 3, 27)) for d in report)
    escalated_on = {m.sent.date() for m in replay["mails"] for i in m.items
                    if i.key == "jincheng-2020.meeting.report" and i.escalated and i.period == "2026年第一季度"}
    assert min(escalated_on) == date(2026, 4, 2), sorted(escalated_on)
