"""The demo college: its organisation (`load_demo`) and its history (`load_history`, run by
`ccal init --demo --now ...`). The history is loaded once per module at NOW; tests that write
work on a copy. Nothing depends on today's date."""

import re
import sqlite3
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import select

from scheduler.config import load_config
from scheduler.demo import DemoDataError, load_demo, load_history, read_history
from scheduler.models import Event, Evidence, Occurrence, Person, RoleAssignment, Submission, Unit, Waiver

NOW = datetime(2026, 7, 1, 10, 0)
AS_OF = NOW.date()
CONFIG = '[general]\ndata_dir = "data"\n\n[database]\nurl = "sqlite:///ccal.db"\n'
DILIGENT, LAGGARD = "XXGC", "JZX"            # teaching branches (demo/history.toml)
OFFICE_LAGGARD = "HQC"


# --------------------------------------------------------------------------- the organisation

def test_demo_college_has_the_shape_the_packs_need(session):
    result = load_demo(session)
    assert result.errors == []
    units = {u.code: u for u in session.exec(select(Unit))}
    assert 15 <= len(units) <= 25
    kinds = Counter(u.kind for u in units.values())
    assert kinds["committee"] == 1
    assert kinds["branch"] >= 3 and kinds["dept_branch"] >= 3 and kinds["office"] >= 5
    # the propaganda department is the configured default unit, and an office
    propaganda = units[load_config(None).organisation.propaganda_unit]
    assert (propaganda.name, propaganda.kind) == ("党委宣传部", "office")
    # 机关第一党支部 is made of several offices
    organ = next(u for u in units.values() if u.name == "机关第一党支部")
    members = [u for u in units.values() if u.parent_code == organ.code]
    assert len(members) >= 2 and all(u.kind == "office" for u in members)
    # every unit but the committee hangs under another one
    assert [u.code for u in units.values() if u.parent_code is None] == \
        [u.code for u in units.values() if u.kind == "committee"]


def test_every_demo_unit_has_a_reachable_secretary(session):
    load_demo(session)
    rows = session.exec(select(RoleAssignment.unit_code, Person)
                        .join(Person, Person.id == RoleAssignment.person_id)
                        .where(RoleAssignment.role == "secretary")).all()
    secretaries = dict(rows)
    assert set(secretaries) == set(session.exec(select(Unit.code)))
    for person in secretaries.values():
        assert person.email.endswith("@example.edu.cn")
        assert person.wecom_userid and len(person.mobile) == 11


def test_loading_the_demo_twice_changes_nothing(session):
    first = load_demo(session)
    counts = (len(session.exec(select(Unit)).all()), len(session.exec(select(Person)).all()),
              len(session.exec(select(RoleAssignment)).all()))
    second = load_demo(session)
    assert first.changed and not second.changed
    assert counts == (len(session.exec(select(Unit)).all()), len(session.exec(select(Person)).all()),
                      len(session.exec(select(RoleAssignment)).all()))


# --------------------------------------------------------------------------- the history

def run(config: Path, *args):
    from cli import main
    return CliRunner().invoke(main, ["--config", str(config), *map(str, args)],
                              env={"CCAL_CONFIG": None, "CCAL_DATABASE_URL": None}, catch_exceptions=False)


def ok(result):
    assert result.exit_code == 0, result.output + result.stderr
    return result


def open_demo_app(config: Path):
    from scheduler.app import open_app
    with pytest.MonkeyPatch.context() as mp:      # module scope: the autouse env fixture is not active yet
        mp.delenv("CCAL_CONFIG", raising=False)
        mp.delenv("CCAL_DATABASE_URL", raising=False)
        return open_app(config)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`ccal init --demo --now NOW` once: (config path, stdout)."""
    d = tmp_path_factory.mktemp("demo")
    (d / "ccal.toml").write_text(CONFIG, encoding="utf-8")
    out = ok(run(d / "ccal.toml", "init", "--demo", "--now", "2026-07-01 10:00")).stdout
    return d / "ccal.toml", out


@pytest.fixture(scope="module")
def app(demo):
    app = open_demo_app(demo[0])
    yield app
    app.engine.dispose()


@pytest.fixture
def copy_app(demo, tmp_path):
    """An app on a private copy of the demo database (its evidence directory not copied)."""
    with sqlite3.connect(demo[0].parent / "ccal.db") as src, sqlite3.connect(tmp_path / "ccal.db") as dst:
        src.backup(dst)
    (tmp_path / "ccal.toml").write_text(CONFIG, encoding="utf-8")
    app = open_demo_app(tmp_path / "ccal.toml")
    yield app
    app.engine.dispose()


def record_counts(app) -> dict[str, int]:
    with app.session() as s:
        return {m.__name__: len(s.exec(select(m.id)).all()) for m in (Submission, Waiver, Event, Evidence)}


def totals(app, unit: str, year: int) -> dict[str, int]:
    from scheduler.queries import unit_year
    return unit_year(app, unit, year, AS_OF).totals


def status_rows(app, unit: str, year: int) -> dict[tuple[str, str], dict]:
    from scheduler.queries import unit_year
    return {(r["obligation"], r["period"]): r for r in unit_year(app, unit, year, AS_OF).rows}


def demo_submissions(app):
    with app.session() as s:
        return s.exec(select(Submission, Occurrence).join(Occurrence, Occurrence.id == Submission.occurrence_id)).all()


def test_init_demo_reports_what_the_history_added(demo):
    out = demo[1]
    m = re.search(r"示例记录（截至 2026-07-01 10:00）：提交记录：新增 (\d+)（其中逾期 (\d+)）；豁免：新增 (\d+)；"
                  r"联席会议：新增 (\d+)；讲座：新增 (\d+)", out)
    assert m, out
    submitted, late, waivers, meetings, lectures = map(int, m.groups())
    assert submitted > 500 and 0 < late < submitted / 5
    assert (waivers, meetings) == (2, 6)       # 2025 Q1-Q4 and 2026 Q1-Q2 (Q3 is in August)
    assert lectures == 2                      # MKS in 2025, JZX in May 2026


def test_a_second_init_adds_nothing(demo, copy_app):
    before = record_counts(copy_app)
    out = ok(run(copy_app.config.path, "init", "--demo", "--now", "2026-07-01 10:00")).stdout
    assert "提交记录：新增 0（其中逾期 0）；豁免：新增 0；联席会议：新增 0；讲座：新增 0" in out
    assert record_counts(copy_app) == before


def test_a_later_now_adds_only_what_happened_since(copy_app):
    def rows():
        return {(s.id, s.occurrence_id, s.submitted_at) for s, _ in demo_submissions(copy_app)}

    before = rows()
    added = load_history(copy_app, datetime(2026, 9, 1, 10, 0))
    after = rows()
    assert added.submissions > 50 and added.meetings == 1      # the Q3 joint meeting, in August
    assert before < after and len(after - before) == added.submissions
    assert all(NOW <= at < datetime(2026, 9, 1, 10, 0) for _, _, at in after - before)


def test_a_diligent_unit_is_done_and_a_laggard_is_behind(app):
    diligent = [totals(app, DILIGENT, y) for y in (2025, 2026)]
    laggard = [totals(app, LAGGARD, y) for y in (2025, 2026)]
    # 2025 is over: the diligent unit did everything, the laggard left a third undone
    assert diligent[0]["overdue"] == 0 and diligent[0]["done"] >= 40
    assert laggard[0]["overdue"] >= 10 and laggard[0]["late"] >= 5
    # mid-2026: the diligent unit has nothing overdue, the laggard has
    assert diligent[1]["overdue"] == 0 and diligent[1]["done"] > 0 and diligent[1]["open"] > 0
    assert laggard[1]["overdue"] >= 3
    assert totals(app, OFFICE_LAGGARD, 2025)["overdue"] >= 5


def test_some_reports_are_late_and_flagged_late(app):
    rows = demo_submissions(app)
    late = [(s, o) for s, o in rows if s.late]
    assert len(late) >= 30
    assert all(s.submitted_at.date() > o.due for s, o in late)
    assert all(s.submitted_at.date() <= o.due for s, o in rows if not s.late)
    assert all(("补报" in s.note or "延期" in s.note) for s, o in late if o.required == 1)
    states = Counter(r["status"] for r in status_rows(app, LAGGARD, 2025).values())
    assert states["late"] >= 5 and states["overdue"] >= 10


def test_records_are_made_on_working_days_in_office_hours_before_now(app):
    rows = demo_submissions(app)
    assert rows
    for s, o in rows:
        assert s.submitted_at < NOW and s.submitted_at <= s.recorded_at <= NOW
        assert app.calendar.is_workday(s.submitted_at.date()), (s.submitted_at, o.obligation_key)
        assert 9 <= s.submitted_at.hour <= 17
        assert s.recorded_by == "示例数据" and s.note and not s.withdrawn
        assert o.due >= date(2025, 1, 1)


def test_count_based_obligations_are_partly_met(app):
    study = ("henan-2023.1.study", "2026")                  # 中心组学习：每年不少于6次
    r = status_rows(app, "DW", 2026)[study]
    assert r["status"] == "open" and 0 < r["done"] < r["required"] == 6
    assert r["progress"].startswith(f"已完成 {r['done']}/6")
    last_year = status_rows(app, "DW", 2025)[("henan-2023.1.study", "2025")]
    assert last_year["status"] == "overdue" and 0 < last_year["done"] < 6
    notes = [s.note for s, o in demo_submissions(app)
             if (o.unit_code, o.obligation_key, o.period) == ("DW", *study)]
    assert notes[0].startswith("第1次：")


def test_joint_meetings_date_the_departmental_reports(app):
    with app.session() as s:
        events = s.exec(select(Event).where(Event.obligation_key == "jincheng-2020.meeting")).all()
    by_label = {e.label: e for e in events}
    assert sorted(by_label) == ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2"]
    for label, e in by_label.items():
        quarter = int(label[-1])
        assert e.unit_code == "XCB" and e.date.month == 3 * quarter - 1 and app.calendar.is_workday(e.date)
        assert "联席会议" in e.title
    rows = status_rows(app, "JDX", 2026)
    q2 = rows[("jincheng-2020.meeting.report", "2026-Q2")]
    # before_anchor, 1 working day: the working day before the recorded meeting, no longer provisional
    assert q2["due"] == app.calendar.add_workdays(by_label["2026-Q2"].date, -1) and not q2["provisional"]
    assert rows[("jincheng-2020.meeting.report", "2026-Q3")]["provisional"]      # not held yet
    xcb = status_rows(app, "XCB", 2026)
    assert xcb[("jincheng-2020.meeting", "2026-Q2")]["status"] == "done"


def test_a_couple_of_duties_are_waived_with_a_reason(app):
    assert status_rows(app, "LTX", 2025)[("jincheng-2020.5.3", "2025")]["status"] == "waived"
    assert status_rows(app, "JJGL", 2025)[("jincheng-2020.1.7.attend", "2025-autumn")]["status"] == "waived"
    with app.session() as s:
        reasons = s.exec(select(Waiver.reason)).all()
    assert len(reasons) == 2 and all("经党委宣传部同意" in r for r in reasons)


def test_a_lecture_approved_in_time_and_one_applied_for_after_it_was_held(app):
    from scheduler import lectures
    by_unit = {r["unit"]: r for r in lectures.listing(app)}
    assert set(by_unit) == {"MKS", "JZX"}
    mks, jzx = by_unit["MKS"], by_unit["JZX"]
    # 涉党史: henan-2023.12, 20 working days ahead; applied for before the deadline, approved, held
    assert (mks["obligation"], mks["sensitive"], mks["late"], mks["decision"], mks["status"], mks["violation"]) == \
        ("henan-2023.12", True, False, "approve", "held", None)
    assert mks["filed_at"].date() <= mks["deadline"] < mks["date"] == date(2025, 10, 22)
    # applied for two days after it was held: 事后补批, a deduction under scorecard item 4.2
    assert (jzx["obligation"], jzx["late"], jzx["violation"]) == ("jincheng-2020.4.2", True, "事后补批")
    assert jzx["filed_at"] > datetime(2026, 5, 20, 15, 0)
    from scheduler.ledger import ledger_rows
    findings = [r for r in ledger_rows(app, 2026, unit=LAGGARD, item="4.2") if r["kind"] == "finding"]
    assert [r["points"] for r in findings] == [-1] and "事后补批" in findings[0]["reason"]


def test_diligent_units_attach_their_material_more_often(app):
    with_files: Counter = Counter()
    records: Counter = Counter()
    with app.session() as s:
        attached = set(s.exec(select(Evidence.submission_id)).all())
    for sub, occ in demo_submissions(app):
        if app.obligations[occ.obligation_key].scorecard:
            records[occ.unit_code] += 1
            with_files[occ.unit_code] += sub.id in attached
    share = {u: with_files[u] / records[u] for u in (DILIGENT, LAGGARD)}
    assert share[DILIGENT] > 0.7 and share[LAGGARD] < 0.4


def test_the_history_is_derived_from_unit_obligation_and_period(app):
    """Deterministic: every occurrence holds exactly what plan_occurrence gives it (a stable hash
    of unit + obligation + period, not `random`) up to NOW, and the hash is the same in every
    process (not Python's salted hash())."""
    from scheduler.demo import demo_history, fraction, plan_occurrence
    assert fraction("XXGC", "jincheng-2020.1.2", "2025-H1", "fate") == 0.8194121674005097
    data = demo_history()
    with app.session() as s:
        attached = set(s.exec(select(Evidence.submission_id)).all())
        waived = set(s.exec(select(Waiver.occurrence_id)).all())
    recorded: dict[int, list] = {}
    occurrences: dict[int, Occurrence] = {}
    for sub, occ in demo_submissions(app):
        recorded.setdefault(occ.id, []).append((sub.submitted_at, sub.note, sub.id in attached))
        occurrences[occ.id] = occ
    with app.session() as s:
        occurrences.update({o.id: o for o in s.exec(select(Occurrence).where(
            Occurrence.due >= date(2025, 1, 1), Occurrence.opens <= AS_OF, Occurrence.event_id == None))})  # noqa: E711
    checked = 0
    for oid, occ in occurrences.items():
        if occ.obligation_key == data.meeting.key or oid in waived or occ.event_id is not None:
            continue                                   # meetings, waivers and lectures: own tests
        plan = plan_occurrence(data, app.calendar, app.obligations[occ.obligation_key], occ.unit_code,
                               occ.period, occ.opens, occ.due, occ.required)
        assert sorted(recorded.get(oid, [])) == [(p.at, p.note, bool(p.material)) for p in plan if p.at < NOW], occ
        checked += 1
    assert checked > 1000


def test_score_ranks_the_laggards_at_the_bottom(demo, copy_app):
    import json
    out = ok(run(copy_app.config.path, "score", "--year", 2026, "--as-of", "2026-07-01", "--format", "json")).stdout
    ranked = {r["unit"]: r for r in json.loads(out) if r["rank"] is not None}
    teaching = [u for u, r in ranked.items() if r["ranking"] == "teaching"]
    offices = [u for u, r in ranked.items() if r["ranking"] == "admin"]
    assert ranked[LAGGARD]["rank"] == len(teaching) and ranked[LAGGARD]["flagged"]
    assert ranked[OFFICE_LAGGARD]["rank"] == len(offices) and ranked[OFFICE_LAGGARD]["flagged"]
    assert not ranked[DILIGENT]["flagged"] and ranked[DILIGENT]["rank"] <= 2


def test_a_bad_history_file_names_the_file_and_field(tmp_path):
    from importlib.resources import files
    good = files("scheduler").joinpath("demo", "history.toml").read_text(encoding="utf-8")
    bad = tmp_path / "history.toml"
    bad.write_text(good.replace('JZX = "laggard"', 'JZX = "lazy"'), encoding="utf-8")
    with pytest.raises(DemoDataError) as e:
        read_history(bad)
    assert str(bad) in str(e.value) and "units.JZX" in str(e.value) and "lazy" in str(e.value)
    bad.write_text(good.replace("late = 0.3\n", "late = 1.3\n"), encoding="utf-8")
    with pytest.raises(DemoDataError, match=r"profiles\.laggard\.late"):
        read_history(bad)
    assert read_history(files("scheduler").joinpath("demo", "history.toml")).units[LAGGARD] == "laggard"


def test_a_clerks_own_record_is_left_alone(copy_app):
    from scheduler.demo import demo_history, plan_occurrence
    from scheduler.submissions import submit
    target = ("jincheng-2020.1.5", DILIGENT, "2026-Q3")          # the demo would report it in September
    sub = submit(copy_app, *target, at=datetime(2026, 8, 3, 10, 0), note="提前报送")
    occ = sub.occurrence
    planned = plan_occurrence(demo_history(), copy_app.calendar, copy_app.obligations[target[0]], DILIGENT,
                              occ.period, occ.opens, occ.due, occ.required)
    later = datetime(2026, 10, 1, 10, 0)
    assert planned and all(NOW < p.at < later for p in planned)
    assert load_history(copy_app, later).submissions > 0
    with copy_app.session() as s:
        on_it = s.exec(select(Submission).where(Submission.occurrence_id == occ.id)).all()
    assert [x.note for x in on_it] == ["提前报送"]


def test_now_is_local_time_and_an_earlier_now_adds_nothing(copy_app):
    assert not load_history(copy_app, datetime(2026, 7, 1, 2, 0, tzinfo=timezone.utc)).changed   # 10:00 in Shanghai
    assert not load_history(copy_app, NOW - timedelta(days=30)).changed
