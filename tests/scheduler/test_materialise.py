from datetime import date, datetime

from sqlmodel import func, select

from obligations.statutory import statutory_holidays
from scheduler.materialise import materialise, period_year
from scheduler.models import Occurrence, Submission


def rows(app, **where):
    with app.session() as s:
        q = select(Occurrence)
        for k, v in where.items():
            q = q.where(getattr(Occurrence, k) == v)
        return s.exec(q.order_by(Occurrence.unit_code, Occurrence.obligation_key, Occurrence.period)).all()


def count(app) -> int:
    with app.session() as s:
        return s.exec(select(func.count()).select_from(Occurrence)).one()


def test_running_twice_creates_nothing_new(tracking_app):
    first = materialise(tracking_app, [2026])
    n = count(tracking_app)
    second = materialise(tracking_app, [2026])
    assert first.created == n > 0
    assert (second.created, second.updated, second.unchanged) == (0, 0, n)
    assert count(tracking_app) == n


def test_each_unit_gets_the_periods_of_the_obligations_for_its_kind(tracking_app):
    materialise(tracking_app, [2026])
    by_unit = {}
    for o in rows(tracking_app):
        by_unit.setdefault(o.unit_code, set()).add((o.obligation_key, o.period))
    assert by_unit["DW"] == {("tpack.teach", "2026-spring"), ("tpack.teach", "2026-autumn")}
    assert by_unit["LTX"] == {("tpack.report", "2026-H1"), ("tpack.report", "2026-H2"),
                              ("tpack.study", "2026")}
    # Only the configured propaganda unit (XCB) holds the meetings; JWC is an ordinary office.
    assert {p for k, p in by_unit["XCB"] if k == "tpack.meeting"} == {"2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"}
    assert not any(k == "tpack.meeting" for k, _ in by_unit["JWC"])
    assert ("tpack.festival", "2026") in by_unit["JWC"]


def test_windows_and_required_counts_are_stored(tracking_app):
    materialise(tracking_app, [2026])
    h1 = rows(tracking_app, unit_code="LTX", obligation_key="tpack.report", period="2026-H1")[0]
    assert (h1.opens, h1.due, h1.required, h1.provisional) == (date(2026, 1, 1), date(2026, 6, 15), 1, False)
    study = rows(tracking_app, unit_code="JDX", obligation_key="tpack.study")[0]
    assert (study.due, study.required) == (date(2026, 12, 31), 3)
    # Until the meeting date is recorded, the meeting's own due date stands in: provisional.
    report = rows(tracking_app, unit_code="JWC", obligation_key="tpack.meeting.report", period="2026-Q1")[0]
    assert (report.due, report.provisional) == (date(2026, 3, 30), True)


def test_units_filter_materialises_only_those_units(tracking_app):
    counts = materialise(tracking_app, [2026], units=["LTX"])
    assert counts.created == 3
    assert {o.unit_code for o in rows(tracking_app)} == {"LTX"}


def test_event_obligations_get_no_calendar_occurrences(tracking_app):
    materialise(tracking_app, [2026, 2027])
    assert rows(tracking_app, obligation_key="tpack.lecture") == []


def year_file_2027(path):
    """An administrator's 2027 file: statutory days plus a 7-day Spring Festival (5-11 Feb)
    and a working Saturday; illustrative, not the real notice."""
    days = dict(statutory_holidays(2027))
    for d in range(9, 12):
        days[date(2027, 2, d)] = "春节"
    entries = ",\n".join(f'  {{ date = "{d.isoformat()}", name = "{n}" }}' for d, n in sorted(days.items()))
    path.write_text(f'year = 2027\nholidays = [\n{entries}\n]\nworkdays = ["2027-02-20"]\n', encoding="utf-8")
    return path


def test_installing_a_holiday_file_updates_provisional_dates_in_place(tracking_app, tmp_path):
    from obligations.holiday_files import install_holiday_file

    materialise(tracking_app, [2027])
    before = rows(tracking_app, unit_code="JWC", obligation_key="tpack.festival", period="2027")[0]
    # Provisional 2027: 7 Feb is a Sunday, 8 Feb the last statutory day off: rolled to Tuesday 9 Feb.
    assert (before.due, before.provisional) == (date(2027, 2, 9), True)
    with tracking_app.session() as s:
        s.add(Submission(occurrence_id=before.id, submitted_at=datetime(2027, 2, 1, 9, 0)))

    install_holiday_file(year_file_2027(tmp_path / "2027.toml"), tracking_app.holiday_dir)
    tracking_app.reload_calendar()
    counts = materialise(tracking_app, [2027])

    after = rows(tracking_app, unit_code="JWC", obligation_key="tpack.festival", period="2027")[0]
    assert (after.id, after.due, after.provisional) == (before.id, date(2027, 2, 12), False)
    assert counts.created == 0 and counts.updated >= 2          # JWC and XCB festival rows
    with tracking_app.session() as s:                               # the submission still hangs on it
        assert s.exec(select(Submission.occurrence_id)).all() == [before.id]
    # Dates that do not depend on working days stay as they were.
    report = rows(tracking_app, unit_code="LTX", obligation_key="tpack.report", period="2027-H1")[0]
    assert (report.due, report.provisional) == (date(2027, 6, 15), False)


def test_refresh_without_create_only_updates_existing_rows(tracking_app):
    materialise(tracking_app, [2026], units=["LTX"])
    counts = materialise(tracking_app, [2026, 2027], create=False)
    assert counts.created == 0
    assert {o.unit_code for o in rows(tracking_app)} == {"LTX"}


def test_period_year():
    assert [period_year(x) for x in ("2026-06", "2026-Q2", "2026-H1", "2026", "2026-autumn", "E12", "O3")] == \
        [2026, 2026, 2026, 2026, 2026, None, None]


def test_due_from_creates_only_rows_due_from_that_day(tracking_app):
    materialise(tracking_app, [2026], due_from=date(2026, 7, 1))
    created = rows(tracking_app)
    assert created and min(o.due for o in created) >= date(2026, 7, 1)
    assert ("LTX", "tpack.report", "2026-H1") not in {(o.unit_code, o.obligation_key, o.period) for o in created}


def test_a_unit_whose_kind_changed_keeps_its_rows_and_gets_the_new_kinds(tracking_app):
    from scheduler.models import Unit

    materialise(tracking_app, [2026])
    before = count(tracking_app)
    with tracking_app.session() as s:
        s.get(Unit, "LTX").kind = "office"
    again = materialise(tracking_app, [2026])
    ltx = {(o.obligation_key, o.period): o for o in rows(tracking_app, unit_code="LTX")}
    # The branch's record stays (report H1 and H2, the study), untouched and not counted.
    assert {("tpack.report", "2026-H1"), ("tpack.report", "2026-H2"), ("tpack.study", "2026")} <= set(ltx)
    assert (again.updated, again.unchanged) == (0, before - 3)
    # An office's duties are added: the festival report and the four meeting reports.
    assert again.created == 5 and ("tpack.festival", "2026") in ltx
    new = ltx[("tpack.festival", "2026")]
    assert (new.done, new.completed_at, new.waived, new.is_open, new.tracked) == (0, None, False, True, True)
