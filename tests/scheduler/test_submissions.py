from datetime import date, datetime

import pytest
from sqlmodel import select

from scheduler.app import UserInputError
from scheduler.evidence import evidence_path
from scheduler.models import Evidence, Occurrence, Submission
from scheduler.submissions import (
    active_waivers, counting_submissions, record_event, revoke_waiver, submit, waive, withdraw,
)


def occurrence(app, unit, key, period) -> Occurrence:
    with app.session() as s:
        return s.exec(select(Occurrence).where(Occurrence.unit_code == unit, Occurrence.obligation_key == key,
                                               Occurrence.period == period)).one()


def counting(app, occ_id):
    with app.session() as s:
        return counting_submissions(s, [occ_id]).get(occ_id, [])


def test_submission_after_the_due_date_is_late_and_on_the_due_date_is_not(tracking_app):
    # Due 15 June: the 15th at any hour is on time, the 16th is late.
    on_time = submit(tracking_app, "tpack.report", "LTX", "2026-H1", at=datetime(2026, 6, 15, 23, 30))
    late = submit(tracking_app, "tpack.report", "JDX", "2026-H1", at=datetime(2026, 6, 16, 8, 0))
    assert on_time.occurrence.due == date(2026, 6, 15)
    assert (on_time.submission.late, late.submission.late) == (False, True)


def test_submit_materialises_the_period_it_needs(tracking_app):
    r = submit(tracking_app, "tpack.report", "LTX", "2027-H2", at=datetime(2027, 12, 1, 10, 0))
    assert (r.occurrence.period, r.occurrence.due) == ("2027-H2", date(2027, 12, 15))


def test_unknown_key_unit_or_period_is_a_clear_error(tracking_app):
    with pytest.raises(UserInputError, match="tpack.nope"):
        submit(tracking_app, "tpack.nope", "LTX", "2026-H1")
    with pytest.raises(UserInputError, match="NOPE"):
        submit(tracking_app, "tpack.report", "NOPE", "2026-H1")
    with pytest.raises(UserInputError, match="2026-Q3.*2026-H1, 2026-H2"):
        submit(tracking_app, "tpack.report", "LTX", "2026-Q3")
    with pytest.raises(UserInputError, match="不适用"):
        submit(tracking_app, "tpack.report", "JWC", "2026-H1")      # an office has no branch report
    with pytest.raises(UserInputError, match="event add"):
        submit(tracking_app, "tpack.lecture", "JWC", "E99")
    with tracking_app.session() as s:
        assert s.exec(select(Submission)).all() == []


def test_evidence_is_stored_under_its_content_hash(tracking_app, tmp_path):
    f = tmp_path / "会议记录.pdf"
    f.write_bytes(b"minutes of the meeting")
    r = submit(tracking_app, "tpack.report", "LTX", "2026-H1", at=datetime(2026, 6, 1, 9, 0),
               evidence=[f], note="上半年汇报")
    (ev,) = r.evidence
    assert ev.original_name == "会议记录.pdf" and ev.size == 22
    stored = evidence_path(ev.stored_path, tracking_app.config.evidence.dir)
    assert stored.read_bytes() == b"minutes of the meeting"
    assert ev.sha256 in stored.name
    with tracking_app.session() as s:
        assert s.exec(select(Evidence.submission_id)).all() == [r.submission.id]


def test_missing_evidence_file_records_nothing(tracking_app, tmp_path):
    from scheduler.evidence import EvidenceError

    with pytest.raises(EvidenceError, match="nothere.pdf"):
        submit(tracking_app, "tpack.report", "LTX", "2026-H1", evidence=[tmp_path / "nothere.pdf"])
    with tracking_app.session() as s:
        assert s.exec(select(Submission)).all() == []


def test_a_correction_replaces_the_submission_without_deleting_it(tracking_app):
    wrong = submit(tracking_app, "tpack.report", "LTX", "2026-H1", at=datetime(2026, 6, 20, 9, 0))
    fixed = submit(tracking_app, "tpack.report", "LTX", "2026-H1", at=datetime(2026, 6, 12, 9, 0),
                   corrects=wrong.submission.id)
    occ_id = wrong.occurrence.id
    assert counting(tracking_app, occ_id) == [datetime(2026, 6, 12, 9, 0)]
    with tracking_app.session() as s:
        assert len(s.exec(select(Submission)).all()) == 2
        assert s.get(Submission, fixed.submission.id).corrects_id == wrong.submission.id
    # Only the latest of a chain can be corrected again.
    with pytest.raises(UserInputError, match=str(fixed.submission.id)):
        submit(tracking_app, "tpack.report", "LTX", "2026-H1", corrects=wrong.submission.id)


def test_withdrawal_is_a_new_row_and_nothing_counts_afterwards(tracking_app):
    r = submit(tracking_app, "tpack.report", "LTX", "2026-H1", at=datetime(2026, 6, 1, 9, 0))
    row = withdraw(tracking_app, r.submission.id, "交错了期间")
    assert (row.withdrawn, row.corrects_id, row.note) == (True, r.submission.id, "交错了期间")
    assert counting(tracking_app, r.occurrence.id) == []
    with pytest.raises(UserInputError):
        withdraw(tracking_app, r.submission.id, "again")
    with pytest.raises(UserInputError):
        withdraw(tracking_app, 999, "unknown")
    with pytest.raises(UserInputError, match="原因"):
        withdraw(tracking_app, row.id, "  ")


def test_waiver_and_its_revocation(tracking_app):
    w, occ = waive(tracking_app, "tpack.study", "JDX", "2026", "系部撤并，本年度不考核")
    with tracking_app.session() as s:
        assert active_waivers(s, [occ.id])[occ.id].reason == "系部撤并，本年度不考核"
    with pytest.raises(UserInputError, match="已豁免"):
        waive(tracking_app, "tpack.study", "JDX", "2026", "twice")
    revoke_waiver(tracking_app, w.id, "撤并取消")
    with tracking_app.session() as s:
        assert active_waivers(s, [occ.id]) == {}
    with pytest.raises(UserInputError, match="原因"):
        waive(tracking_app, "tpack.study", "JDX", "2026", "")


def test_event_creates_an_occurrence_due_n_working_days_before_it(tracking_app):
    # DOMAIN.md: an event on 2026-10-12 needs approval 20 working days before, by 2026-09-08.
    r = record_event(tracking_app, "tpack.lecture", "JDX", date(2026, 10, 12), title="形势与政策讲座")
    occ = r.occurrence
    assert (occ.unit_code, occ.period, occ.due, occ.provisional) == ("JDX", f"E{r.event.id}", date(2026, 9, 8), False)
    assert occ.event_id == r.event.id
    sub = submit(tracking_app, "tpack.lecture", "JDX", occ.period, at=datetime(2026, 9, 9, 9, 0))
    assert sub.submission.late is True
    with pytest.raises(UserInputError, match="--period"):
        record_event(tracking_app, "tpack.lecture", "JDX", date(2026, 10, 12), period="2026-Q4")


def test_recording_the_meeting_moves_the_dependent_due_dates(tracking_app):
    from scheduler.materialise import materialise

    materialise(tracking_app, [2026])
    assert occurrence(tracking_app, "JWC", "tpack.meeting.report", "2026-Q1").due == date(2026, 3, 30)
    r = record_event(tracking_app, "tpack.meeting", "XCB", date(2026, 3, 20), period="2026-Q1")
    moved = occurrence(tracking_app, "JWC", "tpack.meeting.report", "2026-Q1")
    assert (moved.due, moved.provisional) == (date(2026, 3, 19), False)
    assert {(o.unit_code, o.due) for o in r.moved} == {(u, date(2026, 3, 19)) for u in ("JDX", "JWC", "XCB")}
    # Other quarters keep the fallback.
    assert occurrence(tracking_app, "JWC", "tpack.meeting.report", "2026-Q2").due == date(2026, 6, 29)
    # A re-recorded date (postponed meeting) is a new row and wins.
    record_event(tracking_app, "tpack.meeting", "XCB", date(2026, 3, 26), period="2026-Q1")
    assert occurrence(tracking_app, "JWC", "tpack.meeting.report", "2026-Q1").due == date(2026, 3, 25)


def test_a_submitted_meeting_anchors_its_period_when_no_date_was_recorded(tracking_app):
    from scheduler.materialise import materialise

    materialise(tracking_app, [2026])   # a meeting moves stored rows; it creates none (issue 8)
    held = submit(tracking_app, "tpack.meeting", "XCB", "2026-Q2", at=datetime(2026, 6, 10, 15, 0))
    assert occurrence(tracking_app, "JDX", "tpack.meeting.report", "2026-Q2").due == date(2026, 6, 9)
    withdraw(tracking_app, held.submission.id, "会议延期")
    assert occurrence(tracking_app, "JDX", "tpack.meeting.report", "2026-Q2").due == date(2026, 6, 29)


def test_meeting_needs_a_valid_period_and_the_propaganda_unit(tracking_app):
    with pytest.raises(UserInputError, match="--period"):
        record_event(tracking_app, "tpack.meeting", "XCB", date(2026, 3, 20))
    with pytest.raises(UserInputError, match="2026-H1"):
        record_event(tracking_app, "tpack.meeting", "XCB", date(2026, 3, 20), period="2026-H1")
    with pytest.raises(UserInputError, match="不适用"):
        record_event(tracking_app, "tpack.meeting", "JWC", date(2026, 3, 20), period="2026-Q1")
    with pytest.raises(UserInputError, match="ccal submit"):
        record_event(tracking_app, "tpack.report", "LTX", date(2026, 3, 20), period="2026-H1")


def test_an_obligation_for_other_units_names_their_kinds_in_chinese(tracking_app):
    # tpack.report applies to branches and 系 branches: 教务处 (an office) is told so in Chinese.
    with pytest.raises(UserInputError, match="适用于 党支部、系党支部"):
        submit(tracking_app, "tpack.report", "JWC", "2026-H1")
