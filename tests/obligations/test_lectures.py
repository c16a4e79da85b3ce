"""obligations/lectures.py: clause 12's categories, which approval a lecture needs, its
deadlines, and the three violations (未批先办, 边批边办, 事后补批). Pure: dates are explicit."""

from dataclasses import replace
from datetime import date, datetime, time

import pytest

from obligations import lectures as L
from obligations.lectures import Decision, Moment
from obligations.occurrences import slot_for_event
from obligations.packs import load_packs
from obligations.workdays import WorkdayCalendar


@pytest.fixture(scope="module")
def bundled():
    return {ob.key: ob for p in load_packs(["jincheng-2020", "henan-2023"]) for ob in p.obligations}


@pytest.fixture
def cal():
    # Per test: built after conftest holds the official holiday data at 2004-2026.
    return WorkdayCalendar()


def dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --------------------------------------------------------------------------- categories

def test_the_seven_categories_of_clause_12_in_its_order():
    assert [c.key for c in L.SENSITIVE_CATEGORIES] == [
        "history", "leaders", "ethnic-religion", "foreign", "hmt", "groups", "spirit"]
    assert L.SENSITIVE_CATEGORIES[0].label == "涉党史、国史、军史及河南省历史上重大事件、敏感问题、重要人物和重大决策过程的"
    # Every label is the clause's own wording.
    assert all(c.label in L.CLAUSE_12.quote for c in L.SENSITIVE_CATEGORIES)
    assert "需提前20个工作日,报党委宣传部审批" in L.CLAUSE_12.quote


def test_categories_by_key_or_chinese_name_comma_separated_or_repeated():
    assert L.parse_categories(["hmt,leaders", "党史国史军史", "港澳台"]) == ("history", "leaders", "hmt")
    assert L.parse_categories(["民族宗教，外交政策"]) == ("ethnic-religion", "foreign")
    assert L.parse_categories([]) == ()
    assert L.parse_categories(["", " , "]) == ()


def test_an_unknown_category_is_named_with_the_choices():
    with pytest.raises(ValueError) as e:
        L.parse_categories(["history,religion"])
    assert "'religion'" in str(e.value) and "ethnic-religion（民族宗教）" in str(e.value)


# --------------------------------------------------------------------------- which approval

def keys(obs):
    return [ob.key for ob in obs]


def test_a_sensitive_lecture_needs_the_20_working_day_approval_first(bundled):
    needed = L.requirements(bundled.values(), "dept_branch", sensitive=True)
    assert keys(needed) == ["henan-2023.12", "jincheng-2020.4.2"]      # strictest first
    assert L.lead_workdays(needed[0]) == 20


def test_an_ordinary_lecture_needs_the_college_approval_only(bundled):
    assert keys(L.requirements(bundled.values(), "office", sensitive=False)) == ["jincheng-2020.4.2"]


def test_with_henan_alone_an_ordinary_lecture_is_only_reported(bundled):
    henan = [ob for ob in bundled.values() if ob.pack == "henan-2023"]
    assert L.requirements(henan, "dept_branch", sensitive=False) == ()
    assert keys(L.requirements(henan, "dept_branch", sensitive=True)) == ["henan-2023.12"]


def test_sensitive_only_is_read_from_the_pack(bundled):
    assert bundled["henan-2023.12"].sensitive_only is True
    assert bundled["jincheng-2020.4.2"].sensitive_only is False
    # A local pack may mark its own approval sensitive-only: ordinary lectures then need none.
    local = replace(bundled["jincheng-2020.4.2"], key="local.lecture", sensitive_only=True)
    assert L.requirements([local], "office", sensitive=False) == ()
    assert keys(L.requirements([local], "office", sensitive=True)) == ["local.lecture"]


def test_the_department_s_own_filing_with_the_city_is_not_an_approval(bundled):
    assert not L.is_lecture_obligation(bundled["jincheng-2020.lecture"])
    assert L.is_lecture_obligation(bundled["jincheng-2020.4.2"])
    # issue 7: a lecture hosted by a 党支部 or the 党委 needs the approval too (谁主办、谁负责).
    for kind in ("branch", "committee"):
        assert keys(L.requirements(bundled.values(), kind, sensitive=True)) == ["henan-2023.12", "jincheng-2020.4.2"]
        assert keys(L.requirements(bundled.values(), kind, sensitive=False)) == ["jincheng-2020.4.2"]


def test_the_approval_deadline_is_20_working_days_before_the_event(bundled, cal):
    # DOMAIN.md: an event on 2026-10-12 needs approval by 2026-09-08; on 2026-03-02 by 2026-01-27.
    ob = bundled["henan-2023.12"]
    assert slot_for_event(ob, "E1", date(2026, 10, 12), cal).due == date(2026, 9, 8)
    assert slot_for_event(ob, "E2", date(2026, 3, 2), cal).due == date(2026, 1, 27)


def test_a_deadline_counted_into_a_year_without_holiday_data_is_provisional(bundled, cal):
    slot = slot_for_event(bundled["henan-2023.12"], "E3", date(2027, 1, 20), cal)
    assert (slot.due, slot.provisional) == (date(2026, 12, 22), True)


def test_the_department_decides_by_the_last_working_day_before_the_event(cal):
    # 2026-10-10 is a Saturday worked in exchange for the National Day holiday.
    assert L.decision_due(date(2026, 10, 12), cal) == L.Deadline(date(2026, 10, 10), False)
    assert L.decision_due(date(2026, 6, 15), cal) == L.Deadline(date(2026, 6, 12), False)
    assert L.decision_due(date(2027, 3, 15), cal).provisional


# --------------------------------------------------------------------------- moments

def test_a_day_without_a_time_gives_the_benefit_of_the_doubt():
    day = Moment(date(2026, 10, 12))
    assert not L.after(dt("2026-10-12 23:00"), day)
    assert L.after(dt("2026-10-13 00:00"), day)
    at = Moment(date(2026, 10, 12), time(14, 30))
    assert not L.after(dt("2026-10-12 14:30"), at)
    assert L.after(dt("2026-10-12 14:31"), at)
    assert Moment.of(dt("2026-10-12 14:30")).text() == "2026-10-12 14:30"
    assert Moment.of(dt("2026-10-12 00:00"), time_known=False).text() == "2026-10-12"


# --------------------------------------------------------------------------- violations

STARTS = Moment(date(2026, 10, 12), time(14, 30))
HELD = STARTS


def classify(filed=None, decisions=(), held=HELD, starts=STARTS):
    return L.classify(starts=starts, filed_at=dt(filed) if filed else None,
                      decisions=[Decision(dt(t), ok) for t, ok in decisions], held=held)


def test_approved_before_it_was_held_is_no_violation():
    assert classify("2026-09-01 10:00", [("2026-09-05 09:00", True)]) is None
    # Approved the morning of the event, time of the event unknown: fine.
    day = Moment(date(2026, 10, 12))
    assert classify("2026-09-01 10:00", [("2026-10-12 09:00", True)], held=day, starts=day) is None


def test_held_without_any_application_is_unapproved():
    v = classify(None)
    assert (v.kind, v.label, v.found_on) == (L.UNAPPROVED, "未批先办", date(2026, 10, 12))
    assert "未报审即举办" in v.explanation


def test_held_while_pending_and_never_approved_is_unapproved():
    assert classify("2026-09-01 10:00").kind == L.UNAPPROVED
    assert classify("2026-09-01 10:00", [("2026-10-20 09:00", False)]).kind == L.UNAPPROVED


def test_held_after_a_rejection_is_unapproved_even_if_approved_later():
    v = classify("2026-09-01 10:00", [("2026-09-05 09:00", False), ("2026-10-20 09:00", True)])
    assert (v.kind, v.explanation) == (L.UNAPPROVED, "2026-10-12 14:30 审批未通过仍举办")


def test_held_while_pending_and_approved_afterwards_is_concurrent():
    v = classify("2026-09-01 10:00", [("2026-10-12 16:00", True)])
    assert (v.kind, v.label, v.found_on) == (L.CONCURRENT, "边批边办", date(2026, 10, 12))
    assert "2026-10-12 16:00 才批准" in v.explanation


def test_applied_for_after_the_event_is_retroactive():
    v = classify("2026-10-13 09:00", [("2026-10-14 09:00", True)])
    assert (v.kind, v.label, v.found_on) == (L.RETROACTIVE, "事后补批", date(2026, 10, 13))
    # Even before anyone recorded that it took place: the application came after its date.
    assert classify("2026-10-13 09:00", held=None).kind == L.RETROACTIVE
    # Applied for an hour into the lecture.
    assert classify("2026-10-12 15:30").kind == L.RETROACTIVE


def test_nothing_is_a_violation_before_the_event():
    assert classify(None, held=None) is None
    assert classify("2026-10-01 09:00", held=None) is None


def test_the_latest_decision_counts():
    ds = [Decision(dt("2026-09-05 09:00"), False), Decision(dt("2026-09-08 09:00"), True)]
    assert L.decision_in_force(ds).approved
    assert not L.decision_in_force(ds, dt("2026-09-06 00:00")).approved
    assert L.decision_in_force(ds, dt("2026-09-01 00:00")) is None


def test_registration_after_the_approval_deadline_is_flagged_late():
    assert L.filed_late(dt("2026-09-09 08:00"), date(2026, 9, 8))
    assert not L.filed_late(dt("2026-09-08 23:59"), date(2026, 9, 8))
    assert not L.filed_late(None, date(2026, 9, 8))


@pytest.mark.parametrize("kwargs, state", [
    (dict(needs_approval=True, filed_at=None, decisions=[], held=None, cancelled=False), "planned"),
    (dict(needs_approval=True, filed_at=dt("2026-09-01 10:00"), decisions=[], held=None, cancelled=False), "pending"),
    (dict(needs_approval=True, filed_at=dt("2026-09-01 10:00"), decisions=[Decision(dt("2026-09-02 10:00"), True)],
          held=None, cancelled=False), "approved"),
    (dict(needs_approval=True, filed_at=dt("2026-09-01 10:00"), decisions=[Decision(dt("2026-09-02 10:00"), False)],
          held=None, cancelled=False), "rejected"),
    (dict(needs_approval=False, filed_at=dt("2026-09-01 10:00"), decisions=[], held=None, cancelled=False), "reported"),
    (dict(needs_approval=True, filed_at=None, decisions=[], held=HELD, cancelled=False), "held"),
    (dict(needs_approval=True, filed_at=None, decisions=[], held=None, cancelled=True), "cancelled"),
])
def test_status_words(kwargs, state):
    assert L.status_of(**kwargs) == state
    assert L.STATUS_WORDS[state]
