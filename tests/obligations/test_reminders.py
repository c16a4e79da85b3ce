"""Reminder stages, escalation, policy layers, progress wording and digest planning."""

from datetime import date, datetime, timedelta

import pytest

from obligations.reminders import (
    DEFAULT_POLICY,
    ROLE_PROPAGANDA,
    ROLE_RESPONSIBLE,
    ROLE_SUPERVISOR,
    Audience,
    OutboxKey,
    ReminderItem,
    ReminderPolicy,
    ReminderPolicyError,
    effective_policy,
    entry_key,
    plan_digests,
    progress_text,
    recipients,
    stage_at,
    stage_dates,
)
from obligations.sending_windows import SendingWindow
from obligations.workdays import WorkdayCalendar

D = date


@pytest.fixture(scope="module")
def cal():
    return WorkdayCalendar()


def timeline(policy, opens, due, cal, first=D(2026, 3, 1), last=D(2026, 4, 30)):
    """{day: (stage id, trigger, escalate) or None} for every day from first to last."""
    out, day = {}, first
    while day <= last:
        s = stage_at(policy, opens=opens, due=due, today=day, cal=cal)
        out[day] = None if s is None else (s.id, s.trigger, s.escalate)
        day += timedelta(days=1)
    return out


def expand(changes, first=D(2026, 3, 1), last=D(2026, 4, 30)):
    """Expected timeline from its change points [(day, id, escalate)]: a stage holds from its
    trigger day until the next one."""
    out, current, day, todo = {}, None, first, list(changes)
    while day <= last:
        if todo and todo[0][0] == day:
            trig, sid, esc = todo.pop(0)
            current = (sid, trig, esc)
        out[day] = current
        day += timedelta(days=1)
    assert not todo, f"change points outside the range: {todo}"
    return out


# ---------------------------------------------------------------------------------------------
# A simulated March-April 2026 (Qingming 4-6 April off, no 调休 in the range)


def test_monthly_report_due_end_of_march(cal):
    # Window 1-31 March is long: the first notice comes 7 days before due, not on 1 March.
    got = timeline(DEFAULT_POLICY, D(2026, 3, 1), D(2026, 3, 31), cal)
    assert got == expand([
        (D(2026, 3, 24), "notice", False),
        (D(2026, 3, 28), "before-3d", False),  # a Saturday: still the stage on that date
        (D(2026, 3, 30), "before-1wd", False),
        (D(2026, 3, 31), "due", False),
        (D(2026, 4, 1), "overdue-1", False),  # 1st working day overdue
        (D(2026, 4, 3), "overdue-2", True),  # 3rd working day overdue: escalates
        (D(2026, 4, 8), "overdue-3", True),  # 5th: 4-6 April is the Qingming holiday
        (D(2026, 4, 10), "overdue-4", True),
        (D(2026, 4, 14), "overdue-5", True),
        (D(2026, 4, 16), "overdue-6", True),
        (D(2026, 4, 20), "overdue-7", True),
        (D(2026, 4, 22), "overdue-8", True),
        (D(2026, 4, 24), "overdue-9", True),
        (D(2026, 4, 28), "overdue-10", True),
        (D(2026, 4, 30), "overdue-11", True),
    ])


def test_mid_march_meeting(cal):
    # 中旬 window 11-20 March is short: announced the day it opens.
    got = timeline(DEFAULT_POLICY, D(2026, 3, 11), D(2026, 3, 20), cal)
    assert got == expand([
        (D(2026, 3, 11), "notice", False),
        (D(2026, 3, 17), "before-3d", False),
        (D(2026, 3, 19), "before-1wd", False),
        (D(2026, 3, 20), "due", False),  # Friday; Saturday and Sunday stay "due"
        (D(2026, 3, 23), "overdue-1", False),
        (D(2026, 3, 25), "overdue-2", True),
        (D(2026, 3, 27), "overdue-3", True),
        (D(2026, 3, 31), "overdue-4", True),
        (D(2026, 4, 2), "overdue-5", True),
        (D(2026, 4, 7), "overdue-6", True),  # 3 April is working day 10, 7 April day 11
        (D(2026, 4, 9), "overdue-7", True),
        (D(2026, 4, 13), "overdue-8", True),
        (D(2026, 4, 15), "overdue-9", True),
        (D(2026, 4, 17), "overdue-10", True),
        (D(2026, 4, 21), "overdue-11", True),
        (D(2026, 4, 23), "overdue-12", True),
        (D(2026, 4, 27), "overdue-13", True),
        (D(2026, 4, 29), "overdue-14", True),
    ])


def test_stage_counts_for_wording(cal):
    s = stage_at(DEFAULT_POLICY, opens=D(2026, 3, 11), due=D(2026, 3, 20), today=D(2026, 3, 18), cal=cal)
    assert (s.id, s.kind, s.days_left, s.days_overdue, s.as_of) == ("before-3d", "before", 2, 0, D(2026, 3, 18))
    s = stage_at(DEFAULT_POLICY, opens=D(2026, 3, 11), due=D(2026, 3, 20), today=D(2026, 3, 22), cal=cal)
    assert (s.id, s.kind, s.days_left, s.days_overdue, s.workdays_overdue) == ("due", "due", 0, 2, 0)
    s = stage_at(DEFAULT_POLICY, opens=D(2026, 3, 11), due=D(2026, 3, 20), today=D(2026, 3, 26), cal=cal)
    assert (s.id, s.kind, s.days_overdue, s.workdays_overdue, s.escalate) == ("overdue-2", "overdue", 6, 4, True)


def test_escalation_starts_on_the_third_working_day_overdue(cal):
    def at(day):
        return stage_at(DEFAULT_POLICY, opens=D(2026, 3, 11), due=D(2026, 3, 20), today=day, cal=cal)

    audience = Audience(responsible=("sec",), supervisors=("boss",), propaganda=("xcb",))
    second_day = at(D(2026, 3, 24))  # working day 2 overdue
    third_day = at(D(2026, 3, 25))  # working day 3 overdue
    assert (second_day.workdays_overdue, second_day.escalate) == (2, False)
    assert (third_day.workdays_overdue, third_day.escalate) == (3, True)
    assert recipients(second_day, audience) == {"sec": (ROLE_RESPONSIBLE,)}
    assert recipients(third_day, audience) == {
        "sec": (ROLE_RESPONSIBLE,), "boss": (ROLE_SUPERVISOR,), "xcb": (ROLE_PROPAGANDA,)}


def test_before_the_window_opens_there_is_no_stage(cal):
    assert stage_at(DEFAULT_POLICY, opens=D(2026, 3, 11), due=D(2026, 3, 20), today=D(2026, 3, 10), cal=cal) is None
    # Inside a long window, before the notice: nothing yet either.
    assert stage_at(DEFAULT_POLICY, opens=D(2026, 1, 1), due=D(2026, 12, 31), today=D(2026, 6, 1), cal=cal) is None


def test_yearly_obligation_is_announced_a_week_before_due(cal):
    dates = stage_dates(DEFAULT_POLICY, opens=D(2026, 1, 1), due=D(2026, 12, 31), cal=cal, overdue=2)
    assert dates == [
        ("notice", D(2026, 12, 24)),
        ("before-3d", D(2026, 12, 28)),
        ("before-1wd", D(2026, 12, 30)),
        ("due", D(2026, 12, 31)),
        ("overdue-1", D(2027, 1, 4)),  # 1 January 2027 is New Year's Day (provisional year)
        ("overdue-2", D(2027, 1, 6)),
    ]


def test_collapse_after_downtime(cal):
    # The service last ran on 10 March (no stage yet) and comes back 5 days after the due date:
    # only the current stage is planned, not notice/before/due/overdue-1 as a flood.
    opens, due = D(2026, 3, 11), D(2026, 3, 20)
    assert stage_at(DEFAULT_POLICY, opens=opens, due=due, today=D(2026, 3, 10), cal=cal) is None
    stage = stage_at(DEFAULT_POLICY, opens=opens, due=due, today=D(2026, 3, 25), cal=cal)
    assert (stage.id, stage.days_overdue, stage.escalate) == ("overdue-2", 5, True)
    plan = plan_digests(
        [ReminderItem("occ-7", "branch-1", stage, Audience(("sec",), ("boss",), ("xcb",)))],
        now=datetime(2026, 3, 25, 8, 0), cal=cal)
    assert [(d.recipient, [e.stage.id for g in d.units for e in g.entries]) for d in plan.digests] == [
        ("boss", ["overdue-2"]), ("sec", ["overdue-2"]), ("xcb", ["overdue-2"])]


def test_same_day_stages_keep_the_one_closest_to_due(cal):
    # Due Monday 23 March: 3 days before and 1 working day before both fall on Friday 20 March.
    dates = stage_dates(DEFAULT_POLICY, opens=D(2026, 3, 1), due=D(2026, 3, 23), cal=cal, overdue=0)
    assert dates == [("notice", D(2026, 3, 16)), ("before-1wd", D(2026, 3, 20)), ("due", D(2026, 3, 23))]
    s = stage_at(DEFAULT_POLICY, opens=D(2026, 3, 1), due=D(2026, 3, 23), today=D(2026, 3, 21), cal=cal)
    assert s.id == "before-1wd"


def test_short_event_window_drops_stages_before_it_opens(cal):
    # An event registered on 18 March whose approval is due 20 March: the window opens after
    # "3 days before"; nothing is sent before the window, the notice comes on opening.
    dates = stage_dates(DEFAULT_POLICY, opens=D(2026, 3, 18), due=D(2026, 3, 20), cal=cal, overdue=0)
    assert dates == [("notice", D(2026, 3, 18)), ("before-1wd", D(2026, 3, 19)), ("due", D(2026, 3, 20))]


def test_event_relative_approval_deadline(cal):
    # Lecture on 2026-10-12 needs approval 20 working days before: due 2026-09-08.
    due = cal.workdays_before(D(2026, 10, 12), 20).date
    assert due == D(2026, 9, 8)
    dates = stage_dates(DEFAULT_POLICY, opens=D(2026, 8, 3), due=due, cal=cal, overdue=1)
    assert dates == [("notice", D(2026, 9, 1)), ("before-3d", D(2026, 9, 5)),
                     ("before-1wd", D(2026, 9, 7)), ("due", D(2026, 9, 8)), ("overdue-1", D(2026, 9, 9))]


def test_provisional_years_do_not_crash(cal):
    # 2030 has no published schedule: computed provisionally and flagged.
    opens, due = D(2030, 3, 1), D(2030, 3, 31)  # due on a Sunday
    got = timeline(DEFAULT_POLICY, opens, due, cal, D(2030, 3, 1), D(2030, 4, 10))
    assert got[D(2030, 3, 29)] == ("before-1wd", D(2030, 3, 29), False)
    assert got[D(2030, 4, 1)] == ("overdue-1", D(2030, 4, 1), False)
    before_1wd = stage_at(DEFAULT_POLICY, opens=opens, due=due, today=D(2030, 3, 29), cal=cal)
    overdue = stage_at(DEFAULT_POLICY, opens=opens, due=due, today=D(2030, 4, 1), cal=cal)
    assert before_1wd.provisional and overdue.provisional
    # Calendar-day stages do not depend on the working-day data.
    notice = stage_at(DEFAULT_POLICY, opens=opens, due=due, today=D(2030, 3, 25), cal=cal)
    assert (notice.id, notice.provisional) == ("notice", False)
    # 2026 is published: not provisional.
    assert not stage_at(DEFAULT_POLICY, opens=D(2026, 3, 1), due=D(2026, 3, 31), today=D(2026, 4, 1), cal=cal).provisional


def test_window_opening_after_due_is_refused(cal):
    with pytest.raises(ValueError, match="2026-03-21"):
        stage_at(DEFAULT_POLICY, opens=D(2026, 3, 21), due=D(2026, 3, 20), today=D(2026, 3, 21), cal=cal)


# ---------------------------------------------------------------------------------------------
# Policy as data: settings, validation, layers


def test_policy_from_mapping_sets_the_named_fields():
    p = ReminderPolicy.from_mapping({
        "before_days": [7, 3], "before_workdays": [2, 1], "on_due": False,
        "overdue_every_workdays": 3, "escalate_after_workdays": 5, "first_notice": "window",
    })
    assert p == ReminderPolicy(first_notice="window", before_days=(7, 3), before_workdays=(2, 1),
                               on_due=False, overdue_every_workdays=3, escalate_after_workdays=5)
    assert ReminderPolicy.from_mapping({}) == DEFAULT_POLICY
    assert ReminderPolicy.from_mapping(None) == DEFAULT_POLICY


def test_configured_policy_changes_the_stages(cal):
    p = ReminderPolicy(first_notice="none", before_days=(7,), before_workdays=(), on_due=False,
                       overdue_every_workdays=3, escalate_after_workdays=4)
    assert stage_dates(p, opens=D(2026, 3, 1), due=D(2026, 3, 31), cal=cal, overdue=3) == [
        ("before-7d", D(2026, 3, 24)),
        ("overdue-1", D(2026, 4, 1)), ("overdue-2", D(2026, 4, 7)), ("overdue-3", D(2026, 4, 10))]
    # Escalation rides on the first overdue reminder at or after 4 working days: overdue-2 (day 4).
    assert stage_at(p, opens=D(2026, 3, 1), due=D(2026, 3, 31), today=D(2026, 4, 3), cal=cal).escalate is False
    assert stage_at(p, opens=D(2026, 3, 1), due=D(2026, 3, 31), today=D(2026, 4, 7), cal=cal).escalate is True
    # On the due date with no due stage, the last stage before it holds.
    assert stage_at(p, opens=D(2026, 3, 1), due=D(2026, 3, 31), today=D(2026, 3, 31), cal=cal).id == "before-7d"


@pytest.mark.parametrize(
    "first_notice, notice_day",
    [
        ("window_or_7_days", D(2026, 3, 24)),  # long window: 7 days before due
        ("window_or_10_days", D(2026, 3, 21)),
        ("window", D(2026, 3, 1)),
        ("7_days", D(2026, 3, 24)),
        ("none", None),
    ],
)
def test_first_notice_modes_on_a_month(cal, first_notice, notice_day):
    p = ReminderPolicy(first_notice=first_notice)
    dates = dict(stage_dates(p, opens=D(2026, 3, 1), due=D(2026, 3, 31), cal=cal, overdue=0))
    assert dates.get("notice") == notice_day


def test_first_notice_on_a_short_window_depends_on_the_reading(cal):
    # The default reading announces 中旬 on its first day; "7_days" (later of opening and
    # 7 days before due) would wait until 13 March.
    short = dict(stage_dates(DEFAULT_POLICY, opens=D(2026, 3, 11), due=D(2026, 3, 20), cal=cal, overdue=0))
    later_of = dict(stage_dates(ReminderPolicy(first_notice="7_days"), opens=D(2026, 3, 11),
                                due=D(2026, 3, 20), cal=cal, overdue=0))
    assert (short["notice"], later_of["notice"]) == (D(2026, 3, 11), D(2026, 3, 13))
    # With short_window_days = 0 every window is "long".
    strict = ReminderPolicy(short_window_days=0)
    assert dict(stage_dates(strict, opens=D(2026, 3, 11), due=D(2026, 3, 20), cal=cal, overdue=0))["notice"] == D(2026, 3, 13)


@pytest.mark.parametrize(
    "mapping, field",
    [
        ({"before_days": [7, -3]}, "before_days"),
        ({"before_days": 7}, "before_days"),
        ({"before_days": [3, 3]}, "before_days"),
        ({"before_workdays": [True]}, "before_workdays"),
        ({"on_due": "yes"}, "on_due"),
        ({"overdue_every_workdays": 0}, "overdue_every_workdays"),
        ({"escalate_after_workdays": 2.5}, "escalate_after_workdays"),
        ({"first_notice": "window_or_week"}, "first_notice"),
        ({"first_notice": "0_days"}, "first_notice"),
        ({"short_window_days": -1}, "short_window_days"),
        ({"stop_after_days": -1}, "stop_after_days"),
        ({"befor_days": [3]}, "befor_days"),
    ],
)
def test_bad_settings_name_the_field(mapping, field):
    with pytest.raises(ReminderPolicyError) as err:
        ReminderPolicy.from_mapping(mapping, where="packs/mine.toml [reminders]")
    assert err.value.field == field
    assert str(err.value).startswith(f"packs/mine.toml [reminders]: {field}: ")


def test_bad_first_notice_lists_the_accepted_values_in_chinese():
    with pytest.raises(ReminderPolicyError) as err:
        ReminderPolicy.from_mapping({"first_notice": "window_or_week"}, where="packs/mine.toml [reminders]")
    assert err.value.message == ('必须是 "window_or_N_days"（默认 N=7）、"window"、"N_days" 或 "none"，'
                                 "实际为 'window_or_week'")
    with pytest.raises(ReminderPolicyError) as err:
        ReminderPolicy.from_mapping({"befor_days": [3]}, where="packs/mine.toml [reminders]")
    assert err.value.message.startswith("未知设置项（可用：first_notice、short_window_days、")


def test_sending_window_keys_belong_to_the_config_only():
    config = {"window_start": "08:00", "workdays_only": True, "before_days": [5]}
    assert effective_policy(config=config).before_days == (5,)
    with pytest.raises(ReminderPolicyError) as err:
        effective_policy(pack={"window_start": "08:00"}, pack_where="packs/mine.toml [reminders]")
    assert err.value.field == "window_start" and "配置文件的 [reminders]" in err.value.message
    with pytest.raises(ReminderPolicyError):
        ReminderPolicy.from_mapping({"window_end": "17:00"}, where="[obligation.reminders]")


def test_layers_default_then_pack_then_config_then_obligation():
    pack = {"before_days": [10, 3], "overdue_every_workdays": 5}
    config = {"before_days": [5], "escalate_after_workdays": 4}
    obligation = {"before_days": [20, 10]}
    # Default only.
    assert effective_policy() == DEFAULT_POLICY
    # Pack over default.
    assert effective_policy(pack=pack).before_days == (10, 3)
    # Config over pack, key by key: the pack's other settings stay.
    p = effective_policy(pack=pack, config=config)
    assert (p.before_days, p.overdue_every_workdays, p.escalate_after_workdays) == ((5,), 5, 4)
    # Obligation over both; untouched keys come from config, pack, default.
    p = effective_policy(pack=pack, config=config, obligation=obligation)
    assert (p.before_days, p.overdue_every_workdays, p.escalate_after_workdays, p.on_due) == (
        (20, 10), 5, 4, True)


def test_layer_errors_name_their_source():
    with pytest.raises(ReminderPolicyError,
                       match=r"^packs/mine.toml 事项 mine.1 的 reminders: on_due: 必须是 true 或 false，实际为 1$"):
        effective_policy(obligation={"on_due": 1},
                         obligation_where="packs/mine.toml 事项 mine.1 的 reminders")


# ---------------------------------------------------------------------------------------------
# Progress wording for count-based obligations


def test_progress_text():
    assert progress_text(2, 6, D(2026, 12, 31), D(2026, 11, 21)) == "还差 4 次，剩余 40 天"
    assert progress_text(5, 6, D(2026, 12, 31), D(2026, 12, 31)) == "还差 1 次，今天截止"
    assert progress_text(0, 2, D(2026, 6, 30), D(2026, 7, 5)) == "还差 2 次，已逾期 5 天"
    assert progress_text(6, 6, D(2026, 12, 31), D(2026, 11, 21)) == "已完成 6 次（要求 6 次）"
    with pytest.raises(ValueError):
        progress_text(-1, 6, D(2026, 12, 31), D(2026, 11, 21))


# ---------------------------------------------------------------------------------------------
# Digest planning


def _stage(cal, opens, due, today):
    return stage_at(DEFAULT_POLICY, opens=opens, due=due, today=today, cal=cal)


def test_weekend_stage_is_sent_in_the_next_window(cal):
    # before-3d of the March report is the stage on Saturday 28 March, sent Monday 09:00.
    stage = _stage(cal, D(2026, 3, 1), D(2026, 3, 31), D(2026, 3, 28))
    assert (stage.id, stage.trigger) == ("before-3d", D(2026, 3, 28))
    plan = plan_digests([ReminderItem("occ-1", "branch-1", stage, Audience(("sec",)))],
                        now=datetime(2026, 3, 28, 10, 0), cal=cal)
    (digest,) = plan.digests
    assert (digest.send_at, digest.window) == (datetime(2026, 3, 30, 9, 0), "2026-03-30")
    assert digest.key == OutboxKey("digest:2026-03-30", "digest", "email", "sec")
    assert digest.entry_keys == (OutboxKey("occ-1", "before-3d", "email", "sec"),)


def test_one_digest_per_recipient_and_channel_grouped_by_unit(cal):
    today = D(2026, 3, 25)
    meeting = _stage(cal, D(2026, 3, 11), D(2026, 3, 20), today)  # overdue-2, escalated
    report = _stage(cal, D(2026, 3, 1), D(2026, 3, 31), today)  # notice
    items = [
        ReminderItem("occ-report-b2", "branch-2", report, Audience(("sec2",), ("boss",), ("xcb",))),
        ReminderItem("occ-meeting-b1", "branch-1", meeting, Audience(("sec1",), ("boss",), ("xcb",))),
        ReminderItem("occ-report-b1", "branch-1", report, Audience(("sec1",), ("boss",), ("xcb",))),
        ReminderItem("occ-meeting-b2", "branch-2", meeting, Audience(("sec2",), ("boss",), ("xcb",))),
    ]
    channels = {"sec1": ["email", "wecom"], "sec2": ["email"], "boss": ["email"], "xcb": ["email"]}
    plan = plan_digests(items, now=datetime(2026, 3, 25, 9, 30), cal=cal, channels=channels.get)
    summary = {
        (d.recipient, d.channel): [(g.unit, [(e.occurrence, e.stage.id, e.roles) for e in g.entries])
                                   for g in d.units]
        for d in plan.digests
    }
    sec1 = [("branch-1", [("occ-meeting-b1", "overdue-2", (ROLE_RESPONSIBLE,)),
                          ("occ-report-b1", "notice", (ROLE_RESPONSIBLE,))])]
    assert summary == {
        # Supervisor and propaganda contact hear only of the escalated meeting, per unit.
        ("boss", "email"): [("branch-1", [("occ-meeting-b1", "overdue-2", (ROLE_SUPERVISOR,))]),
                            ("branch-2", [("occ-meeting-b2", "overdue-2", (ROLE_SUPERVISOR,))])],
        ("sec1", "email"): sec1,
        ("sec1", "wecom"): sec1,
        ("sec2", "email"): [("branch-2", [("occ-meeting-b2", "overdue-2", (ROLE_RESPONSIBLE,)),
                                          ("occ-report-b2", "notice", (ROLE_RESPONSIBLE,))])],
        ("xcb", "email"): [("branch-1", [("occ-meeting-b1", "overdue-2", (ROLE_PROPAGANDA,))]),
                           ("branch-2", [("occ-meeting-b2", "overdue-2", (ROLE_PROPAGANDA,))])],
    }
    assert {d.window for d in plan.digests} == {"2026-03-25"}
    assert {d.send_at for d in plan.digests} == {datetime(2026, 3, 25, 9, 30)}


def test_already_planned_stages_are_not_planned_again(cal):
    # A second pass the next day: the meeting is still in overdue-2 (planned yesterday), the
    # report moved on to a new stage.
    meeting = _stage(cal, D(2026, 3, 11), D(2026, 3, 20), D(2026, 3, 26))
    report = _stage(cal, D(2026, 3, 1), D(2026, 3, 31), D(2026, 3, 26))
    assert (meeting.id, report.id) == ("overdue-2", "notice")
    done = {entry_key("occ-m", "overdue-2", "email", "sec"), entry_key("occ-m", "overdue-2", "email", "boss")}
    items = [ReminderItem("occ-m", "b1", meeting, Audience(("sec",), ("boss",))),
             ReminderItem("occ-r", "b1", report, Audience(("sec",), ("boss",)))]
    plan = plan_digests(items, now=datetime(2026, 3, 26, 9, 0), cal=cal, already_planned=done)
    assert [(d.recipient, d.entry_keys) for d in plan.digests] == [
        ("sec", (OutboxKey("occ-r", "notice", "email", "sec"),))]  # no empty digest for boss
    assert plan.unaddressed == ()


def test_a_person_in_two_roles_is_told_once(cal):
    stage = _stage(cal, D(2026, 3, 11), D(2026, 3, 20), D(2026, 3, 25))
    assert recipients(stage, Audience(("sec",), ("xcb",), ("xcb",))) == {
        "sec": (ROLE_RESPONSIBLE,), "xcb": (ROLE_SUPERVISOR, ROLE_PROPAGANDA)}
    plan = plan_digests([ReminderItem("o", "u", stage, Audience(("sec",), ("xcb",), ("xcb",)))],
                        now=datetime(2026, 3, 25, 10, 0), cal=cal)
    assert [(d.recipient, len(d.entry_keys)) for d in plan.digests] == [("sec", 1), ("xcb", 1)]


def test_same_occurrence_twice_keeps_its_latest_stage(cal):
    older = _stage(cal, D(2026, 3, 1), D(2026, 3, 31), D(2026, 3, 28))  # before-3d (Saturday)
    newer = _stage(cal, D(2026, 3, 1), D(2026, 3, 31), D(2026, 3, 30))  # before-1wd
    items = [ReminderItem("o", "u", newer, Audience(("sec",))), ReminderItem("o", "u", older, Audience(("sec",)))]
    plan = plan_digests(items, now=datetime(2026, 3, 30, 9, 0), cal=cal)
    assert plan.digests[0].entry_keys == (OutboxKey("o", "before-1wd", "email", "sec"),)


def test_items_nobody_can_receive_are_reported(cal):
    stage = _stage(cal, D(2026, 3, 11), D(2026, 3, 20), D(2026, 3, 12))
    lonely = ReminderItem("o1", "u1", stage, Audience(responsible=()))
    unreachable = ReminderItem("o2", "u2", stage, Audience(responsible=("sec",)))
    plan = plan_digests([lonely, unreachable], now=datetime(2026, 3, 12, 9, 0), cal=cal,
                        channels=lambda person: [])
    assert plan.digests == () and plan.unaddressed == (lonely, unreachable)


def test_digests_use_the_configured_window(cal):
    stage = _stage(cal, D(2026, 3, 11), D(2026, 3, 20), D(2026, 3, 12))
    window = SendingWindow.from_mapping({"window_start": "10:00", "window_end": "16:00"})
    plan = plan_digests([ReminderItem("o", "u", stage, Audience(("sec",)))],
                        now=datetime(2026, 3, 12, 16, 30), cal=cal, window=window)
    assert plan.digests[0].send_at == datetime(2026, 3, 13, 10, 0)


def test_overdue_reminders_stop_after_stop_after_days(cal):
    due = D(2026, 3, 31)
    kwargs = dict(opens=D(2026, 3, 1), due=due, cal=cal)
    last = stage_at(DEFAULT_POLICY, today=due + timedelta(days=90), **kwargs)
    assert last is not None and last.kind == "overdue"
    assert stage_at(DEFAULT_POLICY, today=due + timedelta(days=91), **kwargs) is None
    never = ReminderPolicy.from_mapping({"stop_after_days": 0})
    assert stage_at(never, today=D(2027, 6, 1), **kwargs).kind == "overdue"
