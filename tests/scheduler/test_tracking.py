"""Tracked years and the occurrence's state in SQL (issue 8 items 2-3, issue 7 "Looking back
must not wake the past"): queries never write, a look or a late record for an untracked year
never turns on reminders, and the state columns follow every write path."""

from datetime import date, datetime

from click.testing import CliRunner
from sqlmodel import Session, func, select

from cli import main
from scheduler.app import open_app
from scheduler.materialise import materialise
from scheduler.models import Occurrence, OutboxItem, TrackedYear
from scheduler.queries import calendar, overdue, unit_year, upcoming
from scheduler.submissions import refresh_occurrences, revoke_waiver, submit, waive, withdraw
from scheduler.tracking import track, tracked_span


def tick(cfg, when: str):
    result = CliRunner().invoke(main, ["--config", str(cfg), "tick", "--now", when])
    assert result.exit_code == 0, result.output
    return result.output


def occurrence_count(app) -> int:
    with Session(app.engine) as s:
        return s.exec(select(func.count()).select_from(Occurrence)).one()


def planned_periods(app) -> set[tuple[str, str]]:
    with Session(app.engine) as s:
        return set(s.exec(select(Occurrence.unit_code, Occurrence.period)
                          .join(OutboxItem, OutboxItem.occurrence_id == Occurrence.id)).all())


def test_tracked_span_is_this_year_and_the_open_tail_of_the_last():
    span = tracked_span(date(2026, 3, 11))
    assert (span.years, span.tail, span.due_from) == ((2026,), 2025, date(2026, 1, 1))
    assert tracked_span(date(2026, 12, 1)).years == (2026, 2027)      # December: next January's work
    assert tracked_span(date(2026, 3, 11), 2).years == (2025, 2026)


def test_a_look_at_last_year_writes_nothing_and_the_next_tick_plans_only_this_year(reminder_config):
    cfg = reminder_config("study")
    app = open_app(cfg)
    rows = calendar(app, date(2025, 10, 1), date(2025, 12, 31), as_of=date(2026, 3, 11))
    # The quarter is shown (computed on the fly): three branches' 2025-Q4 studies, overdue.
    assert {(r["unit"], r["period"], r["status"]) for r in rows} == {
        ("B1", "2025-Q4", "overdue"), ("B2", "2025-Q4", "overdue"), ("B3", "2025-Q4", "overdue")}
    assert overdue(app, date(2026, 3, 11)) == []       # nothing of 2026 is overdue yet
    assert unit_year(app, "B1", 2025, date(2026, 3, 11)).totals["overdue"] == 4
    assert occurrence_count(app) == 0                   # looking wrote nothing
    tick(cfg, "2026-04-08T10:00")     # 2026-Q1 is overdue by then
    planned = planned_periods(app)
    assert ("B1", "2026-Q1") in planned and {p for _, p in planned} <= {"2026-Q1", "2026-Q2"}
    app.engine.dispose()


def test_a_late_record_for_last_year_does_not_turn_on_its_reminders(reminder_config):
    cfg = reminder_config("study")
    app = open_app(cfg)
    tick(cfg, "2026-03-11T10:00")
    submit(app, "rpack.study", "B1", "2025-Q2", at=datetime(2025, 6, 20, 9, 0))
    with Session(app.engine) as s:
        b1_2025 = s.exec(select(Occurrence).where(Occurrence.unit_code == "B1",
                                                  Occurrence.period.startswith("2025"))).all()
    assert b1_2025 and not any(o.tracked for o in b1_2025)
    tick(cfg, "2026-04-08T10:00")
    planned = planned_periods(app)
    assert ("B1", "2026-Q1") in planned and not {p for u, p in planned if p.startswith("2025")}
    # Its status is still answered, with the record.
    rows = {r["period"]: r for r in unit_year(app, "B1", 2025, date(2026, 4, 8)).rows}
    assert (rows["2025-Q2"]["status"], rows["2025-Q2"]["done"]) == ("overdue", 1)
    assert rows["2025-Q1"]["status"] == "overdue"
    app.engine.dispose()


def test_track_years_2_tracks_last_year_in_full(reminder_config):
    cfg = reminder_config("study", extra="[service]\ntrack_years = 2\n")
    app = open_app(cfg)
    tick(cfg, "2026-03-02T10:00")     # 2025-Q4 overdue for 61 days: still reminded
    with Session(app.engine) as s:
        assert set(s.exec(select(TrackedYear.year)).all()) == {2025, 2026}
        assert s.exec(select(func.count()).select_from(Occurrence).where(
            Occurrence.period == "2025-Q2", Occurrence.tracked == True)).one() == 3  # noqa: E712
    assert ("B1", "2025-Q4") in planned_periods(app)
    app.engine.dispose()


def test_a_pass_that_finds_the_year_recorded_does_not_materialise_again(reminder_config):
    cfg = reminder_config("study")
    app = open_app(cfg)
    first = track(app, date(2026, 3, 11))
    assert first.created == 12          # three branches x four quarters of 2026
    assert track(app, date(2026, 3, 11)) == type(first)()     # recorded: nothing done
    app.engine.dispose()


def state(app, unit, key, period):
    with Session(app.engine) as s:
        o = s.exec(select(Occurrence).where(Occurrence.unit_code == unit, Occurrence.obligation_key == key,
                                            Occurrence.period == period)).one()
        return (o.done, o.completed_at, o.waived, o.is_open)


def test_state_columns_follow_submissions_corrections_withdrawals_and_waivers(tracking_app):
    app = tracking_app
    materialise(app, [2026])
    key = "tpack.study"   # three studies a year
    a = submit(app, key, "LTX", "2026", at=datetime(2026, 3, 1, 9, 0)).submission
    submit(app, key, "LTX", "2026", at=datetime(2026, 5, 1, 9, 0))
    assert state(app, "LTX", key, "2026") == (2, None, False, True)
    third = submit(app, key, "LTX", "2026", at=datetime(2026, 9, 1, 9, 0)).submission
    assert state(app, "LTX", key, "2026") == (3, datetime(2026, 9, 1, 9, 0), False, False)
    # A correction moves the completing date; a withdrawal reopens it.
    fixed = submit(app, key, "LTX", "2026", at=datetime(2026, 8, 1, 9, 0), corrects=third.id).submission
    assert state(app, "LTX", key, "2026") == (3, datetime(2026, 8, 1, 9, 0), False, False)
    withdraw(app, a.id, "误报")
    assert state(app, "LTX", key, "2026") == (2, None, False, True)
    late = {r["obligation"]: r for r in overdue(app, date(2027, 1, 5), unit="LTX")}
    assert (late[key]["status"], late[key]["done"]) == ("overdue", 2)
    w, _ = waive(app, key, "LTX", "2026", "支部撤并")
    assert state(app, "LTX", key, "2026") == (2, None, True, False)
    revoke_waiver(app, w.id, "未撤并")
    assert state(app, "LTX", key, "2026") == (2, None, False, True)
    # Nothing to change: refresh reports no change.
    with app.session() as s:
        ids = s.exec(select(Occurrence.id)).all()
        assert refresh_occurrences(s, ids) == 0
    assert fixed.id


def test_overdue_on_a_past_day_counts_what_was_done_by_then(tracking_app):
    app = tracking_app
    materialise(app, [2026])
    submit(app, "tpack.report", "LTX", "2026-H1", at=datetime(2026, 6, 20, 9, 0))   # 5 days late
    rows = {(r["unit"], r["period"]) for r in overdue(app, date(2026, 6, 18)) if r["obligation"] == "tpack.report"}
    assert ("LTX", "2026-H1") in rows                           # on 18 June it was still overdue
    assert ("LTX", "2026-H1") not in {(r["unit"], r["period"]) for r in overdue(app, date(2026, 6, 21))}
    assert upcoming(app, date(2026, 6, 1), days=14, unit="LTX")[0]["status"] == "open"


def test_recording_a_meeting_rewrites_only_the_occurrences_that_hang_on_it(tracking_app, monkeypatch):
    import scheduler.materialise as m
    from scheduler.submissions import record_event

    app = tracking_app
    materialise(app, [2026, 2027])

    def whole_year(*args, **kwargs):
        raise AssertionError("a meeting re-derived every slot of the year")
    monkeypatch.setattr(m, "_slots", whole_year)     # the cost of a re-materialisation
    with Session(app.engine) as s:
        before = {o.id: (o.due, o.updated_at) for o in s.exec(select(Occurrence)).all()}
    r = record_event(app, "tpack.meeting", "XCB", date(2026, 3, 20), period="2026-Q1")
    with Session(app.engine) as s:
        after = {o.id: (o.due, o.updated_at) for o in s.exec(select(Occurrence)).all()}
        changed = s.exec(select(Occurrence.unit_code, Occurrence.obligation_key, Occurrence.period)
                         .where(Occurrence.id.in_([i for i in after if after[i] != before.get(i)]))).all()
    assert sorted(changed) == [(u, "tpack.meeting.report", "2026-Q1") for u in ("JDX", "JWC", "XCB")]
    assert (r.counts.created, r.counts.updated) == (0, 3)
    assert len(after) == len(before)          # nothing re-materialised, nothing created
