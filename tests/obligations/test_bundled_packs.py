"""The bundled rule packs (obligations/packs/*.toml): they load, they cover every row of the
DOMAIN.md inventory, their quotes are verbatim from the seeds, and their dates come out as
the documents say."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from obligations.occurrences import slot_for_event, slots_for_year
from obligations.packs import Obligation, bundled_pack_dir, load_pack, load_packs
from obligations.schedules import Context
from obligations.workdays import WorkdayCalendar

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "docs" / "obligations.md"
BUNDLED = ("jincheng-2020", "henan-2023", "school-template", "shanghai-2023")

# DOMAIN.md's inventory, row by row, with the keys that encode it. A renamed or dropped key
# fails here: keys are stable (submissions and history refer to them).
INVENTORY: dict[str, tuple[str, ...]] = {
    # 002 Jincheng assessment rules and scorecard
    "002 1.1 annual plan and summary": ("jincheng-2020.1.1.plan", "jincheng-2020.1.1.summary"),
    "002 1.2 half-year written report": ("jincheng-2020.1.2",),
    "002 1.3 special meetings (and 思政课 for 系)": ("jincheng-2020.1.3", "jincheng-2020.1.3.sizheng"),
    "002 1.4 risk plan": ("jincheng-2020.1.4",),
    "002 1.5 quarterly 研判": ("jincheng-2020.1.5",),
    "002 1.6 组织生活会 and 述职": ("jincheng-2020.1.6",),
    "002 1.7 系 leaders attend and teach 思政课": (
        "jincheng-2020.1.7.system", "jincheng-2020.1.7.attend", "jincheng-2020.1.7.teach",
    ),  # fmt: skip
    "002 2.1 grid management": ("jincheng-2020.2.1",),
    "002 2.2 duty report": ("jincheng-2020.2.2",),
    "002 2.3 archive": ("jincheng-2020.2.3",),
    "002 3.1 branch study": ("jincheng-2020.3.1.plan", "jincheng-2020.3.1.summary"),
    "002 3.2 学习强国 and themed activities": ("jincheng-2020.3.2", "jincheng-2020.3.2.activity"),
    "002 3.3 publicity reports": ("jincheng-2020.3.3",),
    "002 3.4 civilisation creation, culture, brand": ("jincheng-2020.3.4",),
    "002 3.5 education system / curriculum reform": ("jincheng-2020.3.5",),
    "002 4.1 teaching inspection": ("jincheng-2020.4.1",),
    "002 4.2 lectures approved": ("jincheng-2020.4.2",),
    "002 4.3 media": ("jincheng-2020.4.3",),
    "002 4.4 student clubs": ("jincheng-2020.4.4",),
    "002 4.5 network media": ("jincheng-2020.4.5",),
    "002 4.6 interviews, NGOs, safety": ("jincheng-2020.4.6",),
    "002 4.7 anti-cult": ("jincheng-2020.4.7",),
    "002 5.1-5.3 team, vetting, training": ("jincheng-2020.5.1", "jincheng-2020.5.2", "jincheng-2020.5.3"),
    # 6 (bonus) and 7 (negative list) are scoring rules, not dated duties: the scorecard's.
    "002 二 each unit's self-check before the assessment": ("jincheng-2020.selfcheck",),
    # 000 Jincheng situation report
    "000 quarterly joint meeting": ("jincheng-2020.meeting",),
    "000 departmental report before the meeting": ("jincheng-2020.meeting.report",),
    "000 situation report after the meeting": ("jincheng-2020.meeting.summary",),
    "000 lectures filed with the city": ("jincheng-2020.lecture",),
    "000 team training each semester": ("jincheng-2020.training",),
    "000 questionnaire, annual judgment, inspection": (
        "jincheng-2020.survey", "jincheng-2020.judgment", "jincheng-2020.inspection",
    ),  # fmt: skip
    # 001 Henan measures
    "001 1 centre group plan, 6 sessions, papers, 学习强国": (
        "henan-2023.1.plan", "henan-2023.1.study", "henan-2023.1.paper", "henan-2023.1.xuexi",
    ),  # fmt: skip
    "001 2 teaching and lecture teams": ("henan-2023.2.teach", "henan-2023.2.teach.college", "henan-2023.2.lecture"),
    "001 12 一会一报, 20 working days": ("henan-2023.12",),
    "001 14 religion study": ("henan-2023.14",),
    "001 15 ethnic study": ("henan-2023.15",),
    "001 16 club advisers": ("henan-2023.16",),
    "001 17 seasonal risk screening": ("henan-2023.17",),
    "001 18 network commentators": ("henan-2023.18",),
    "001 19 mainstream list, supervision orders": ("henan-2023.19.list", "henan-2023.19.order"),
    "001 20 briefing, training, committee study, report": (
        "henan-2023.20.briefing", "henan-2023.20.training", "henan-2023.20.study", "henan-2023.20.report",
    ),  # fmt: skip
    "001 20 school-wide yearly briefing (not the intra-party one)": ("henan-2023.20.situation",),
    "001 20 ideology work in 民主生活会 and 述职报告": ("henan-2023.20.duty",),
    "001 21 quarterly analysis": ("henan-2023.21",),
    "001 22 inspection and risk investigations": ("henan-2023.22", "henan-2023.22.risk"),
    # 004 school templates (documents 1 = 4 = 9; 3, 6, 10, 11, 12)
    "004 2 leading group studies, half-year report, briefing": (
        "school-template.2", "school-template.2.study", "school-template.2.briefing",
    ),  # fmt: skip
    "004 4 monthly branch report": ("school-template.4", "school-template.4.duty"),
    "004 5 half-yearly analysis, yearly briefing": ("school-template.5", "school-template.5.briefing"),
    "004 6 quarterly leadership review": ("school-template.6", "school-template.6.report"),
    "004 7 leaders' exchanges": ("school-template.7",),
    "004 8 inspection and assessment": ("school-template.8",),
    "004 9 quarterly joint meeting": ("school-template.9",),
    "004 10 special inspection in December": ("school-template.10",),
    # doc 3's 1-2 briefings a year and doc 10's meetings restate 5.briefing and 2.study
    "004 docs 3, 6, 10, 11, 12": (
        "school-template.doc3.summary", "school-template.doc3.plan", "school-template.doc6.meeting",
        "school-template.doc11.semester", "school-template.doc12.plan",
    ),  # fmt: skip
    # 003 Shanghai report
    "003 yearly report on ideology work": ("shanghai-2023.report",),
}


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def packs():
    return {p.name: p for p in load_packs(BUNDLED)}


@pytest.fixture(scope="module")
def obs(packs) -> dict[str, Obligation]:
    return {ob.key: ob for p in packs.values() for ob in p.obligations}


@pytest.fixture(scope="module")
def seeds(seeds_dir) -> dict[str, str]:
    return {p.name: _collapse(p.read_text(encoding="utf-8")) for p in seeds_dir.glob("*.txt")}


@pytest.fixture(scope="module")
def cal():
    return WorkdayCalendar()


CTX = Context()


def _all_obligations() -> list[Obligation]:
    return [ob for path in sorted(bundled_pack_dir().glob("*.toml")) for ob in load_pack(path).obligations]


# ------------------------------------------------------------------------------------ loading


@pytest.mark.parametrize("path", sorted(bundled_pack_dir().glob("*.toml")), ids=lambda p: p.stem)
def test_every_bundled_pack_loads_with_the_real_loader(path):
    pack = load_pack(path)
    assert pack.name == path.stem
    assert pack.obligations


def test_the_bundled_packs_are_exactly_the_four_regimes():
    assert sorted(p.stem for p in bundled_pack_dir().glob("*.toml")) == sorted(BUNDLED)


def test_all_bundled_packs_load_together(packs):
    # load_packs checks keys unique across packs and anchors resolvable
    assert set(packs) == set(BUNDLED)


# ------------------------------------------------------------------------------------ coverage


@pytest.mark.parametrize("row", INVENTORY, ids=str)
def test_every_inventory_row_has_its_obligations(row, obs):
    missing = [k for k in INVENTORY[row] if k not in obs]
    assert not missing, f"{row}: no obligation {missing}"


def test_every_bundled_obligation_is_in_the_inventory_checklist(obs):
    listed = {k for keys in INVENTORY.values() for k in keys}
    assert sorted(set(obs) - listed) == []


def test_the_catalogue_lists_every_bundled_obligation(obs):
    text = CATALOGUE.read_text(encoding="utf-8")
    missing = [k for k in obs if f"`{k}`" not in text]
    assert not missing, f"docs/obligations.md lacks {missing}"


# ------------------------------------------------------------------------------------ citations


@pytest.mark.parametrize("ob", _all_obligations(), ids=lambda ob: ob.key)
def test_quote_is_short_and_verbatim_in_its_seed(ob, seeds):
    assert ob.citation.source in seeds, f"{ob.key}: unknown seed file {ob.citation.source}"
    quote = _collapse(ob.citation.quote)
    assert 10 <= len(quote) <= 60, f"{ob.key}: quote has {len(quote)} characters"
    assert quote in seeds[ob.citation.source], f"{ob.key}: quote not found verbatim in {ob.citation.source}"


def test_seed_000_items_cite_seed_000(obs):
    from_000 = [k for k in INVENTORY if k.startswith("000")]
    for row in from_000:
        for key in INVENTORY[row]:
            assert obs[key].citation.source == "000_518fc08228bb2f65.txt", key


def test_every_pack_chosen_date_says_why(obs):
    silent = [k for k, ob in obs.items() if ob.default_date and not ob.notes.strip()]
    assert silent == []


# ------------------------------------------------------------------------------------ who


LECTURE_APPROVALS = ("henan-2023.12", "jincheng-2020.4.2")


def test_reminded_role_exists_in_every_unit_it_applies_to(obs):
    # offices have a head, branches a secretary; the propaganda role belongs to that department.
    # The lecture approvals are the organiser's (谁主办、谁负责), whatever unit hosts it: the head,
    # or the secretary of a Party organisation without one (tested in test_lecture_approval_...).
    has_role = {
        "secretary": {"committee", "branch", "dept_branch"},
        "head": {"office", "dept_branch"},
        "propaganda": {"propaganda"},
    }
    wrong = {k: (ob.responsible, ob.applies_to) for k, ob in obs.items()
             if k not in LECTURE_APPROVALS and not set(ob.applies_to) <= has_role[ob.responsible]}
    assert wrong == {}
    assert {k: obs[k].responsible for k in LECTURE_APPROVALS} == dict.fromkeys(LECTURE_APPROVALS, "head")


def test_lecture_approvals_apply_to_every_unit_that_can_host_an_event(obs):
    # issue 7: 001 §12 makes no exception for the organiser; neither does 002 4.2.
    for key in LECTURE_APPROVALS:
        assert set(obs[key].applies_to) == {"committee", "branch", "dept_branch", "office"}, key


def test_the_self_check_is_in_december_and_marked_a_default(obs, cal):
    slot = _slot(obs["jincheng-2020.selfcheck"], cal, "2026")
    assert (slot.opens, slot.due) == (date(2026, 12, 1), date(2026, 12, 15))
    assert obs["jincheng-2020.selfcheck"].default_date


def test_the_doc3_plan_follows_the_pack_s_rule_for_plans(obs, cal):
    plan, summary = obs["school-template.doc3.plan"], obs["school-template.doc3.summary"]
    assert _slot(plan, cal, "2026").due == date(2026, 3, 31) and plan.default_date
    assert _slot(summary, cal, "2026").due == date(2026, 12, 31)
    assert "计划" not in summary.title and "总结" not in plan.title


def test_dept_branch_only_items_are_the_xi_branch_duties(obs):
    only_xi = sorted(k for k, ob in obs.items() if ob.applies_to == ("dept_branch",))
    assert only_xi == [
        "henan-2023.2.teach.college",
        "jincheng-2020.1.3.sizheng",
        "jincheng-2020.1.7.attend",
        "jincheng-2020.1.7.system",
        "jincheng-2020.1.7.teach",
    ]


# ------------------------------------------------------------------------------------ dates


def _slot(ob, cal, label, anchors=None, anchor_ob=None):
    """The 2026 slot ``label`` of ``ob``; anchored periods without a recorded meeting date fall
    back to ``anchor_ob``'s own due date."""
    slots = {s.period: s for s in slots_for_year(ob, 2026, cal, CTX, anchors or {}, anchor_ob=anchor_ob)}
    return slots[label]


@pytest.mark.parametrize(
    "key, label, opens, due",
    [
        ("school-template.9", "2026-Q1", date(2026, 3, 11), date(2026, 3, 20)),  # 3月中旬
        ("school-template.9", "2026-Q4", date(2026, 12, 11), date(2026, 12, 20)),
        ("school-template.6", "2026-Q3", date(2026, 9, 21), date(2026, 9, 30)),  # 9月下旬
        ("school-template.4", "2026-02", date(2026, 2, 1), date(2026, 2, 28)),  # 每月底前
        ("school-template.5", "2026-H1", date(2026, 6, 11), date(2026, 6, 20)),  # 6月中旬
        ("school-template.5", "2026-H2", date(2026, 12, 11), date(2026, 12, 20)),  # 12月中旬
        ("school-template.10", "2026", date(2026, 12, 1), date(2026, 12, 31)),  # 12月份
        ("jincheng-2020.1.2", "2026-H1", date(2026, 1, 1), date(2026, 6, 15)),  # 每半年末15日前
        ("jincheng-2020.1.2", "2026-H2", date(2026, 7, 1), date(2026, 12, 15)),
        ("jincheng-2020.1.5", "2026-Q2", date(2026, 4, 1), date(2026, 6, 30)),  # pack default
        ("henan-2023.21", "2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),  # 每季度至少1次
    ],
)
def test_due_dates_for_2026(obs, cal, key, label, opens, due):
    slot = _slot(obs[key], cal, label)
    assert (slot.opens, slot.due) == (opens, due)


def test_due_date_is_kept_on_a_weekend(obs, cal):
    # 2026-02-28 is a Saturday: "每月底前" stays the 28th (DOMAIN.md: no roll unless the pack says)
    assert date(2026, 2, 28).weekday() == 5
    assert _slot(obs["school-template.4"], cal, "2026-02").due == date(2026, 2, 28)


@pytest.mark.parametrize(
    "event, due",
    [(date(2026, 10, 12), date(2026, 9, 8)), (date(2026, 3, 2), date(2026, 1, 27))],
)
def test_sensitive_lecture_needs_approval_20_working_days_before(obs, cal, event, due):
    assert slot_for_event(obs["henan-2023.12"], "E1", event, cal).due == due


def test_count_obligations_require_their_number_of_submissions(obs, cal):
    required = {k: _slot(obs[k], cal, "2026").required for k in
                ("henan-2023.1.study", "henan-2023.20.study", "henan-2023.22.risk", "school-template.2.study",
                 "jincheng-2020.3.3", "henan-2023.20.report")}  # fmt: skip
    assert required == {
        "henan-2023.1.study": 6,
        "henan-2023.20.study": 2,
        "henan-2023.22.risk": 2,
        "school-template.2.study": 2,
        "jincheng-2020.3.3": 5,
        "henan-2023.20.report": 1,
    }


def test_departmental_report_is_due_the_working_day_before_the_recorded_meeting(obs, cal):
    # meeting recorded on Monday 2026-06-15: the report is due Friday 2026-06-12
    report, meeting = obs["jincheng-2020.meeting.report"], obs["jincheng-2020.meeting"]
    slot = _slot(report, cal, "2026-Q2", {"2026-Q2": date(2026, 6, 15)}, meeting)
    assert slot.due == date(2026, 6, 12)
    assert not slot.provisional


def test_departmental_report_falls_back_to_the_meetings_default_date(obs, cal):
    report, meeting = obs["jincheng-2020.meeting.report"], obs["jincheng-2020.meeting"]
    slot = _slot(report, cal, "2026-Q1", anchor_ob=meeting)
    assert slot.due == date(2026, 3, 30)  # the meeting defaults to 31 March (Tuesday)
    assert slot.provisional


def test_situation_report_is_due_five_working_days_after_the_meeting(obs, cal):
    # meeting on Tuesday 2026-09-29; working days after it: 9-30, (National Day 10-1..10-7 off)
    # 10-8, 10-9, Saturday 10-10 (adjusted working day), 10-12 -> due Monday 2026-10-12
    summary, meeting = obs["jincheng-2020.meeting.summary"], obs["jincheng-2020.meeting"]
    slot = _slot(summary, cal, "2026-Q3", {"2026-Q3": date(2026, 9, 29)}, meeting)
    assert (slot.opens, slot.due) == (date(2026, 9, 29), date(2026, 10, 12))


def test_seasonal_screening_has_one_slot_per_configured_season(obs, cal):
    labels = sorted(s.period for s in slots_for_year(obs["henan-2023.17"], 2026, cal, CTX))
    assert labels == ["2026-biye", "2026-kaixue", "2026-zhaosheng"]


def test_semester_duties_follow_the_institution_semesters(obs, cal):
    labels = [s.period for s in slots_for_year(obs["jincheng-2020.1.7.teach"], 2026, cal, CTX)]
    assert labels == ["2026-spring", "2026-autumn"]


# ------------------------------------------------------------------------------------ names (issue 7)


def test_every_cited_source_has_a_document_name(packs):
    unnamed = sorted({(p.name, ob.citation.source) for p in packs.values() for ob in p.obligations
                      if ob.citation.document is None})
    assert unnamed == []


def test_citations_show_the_document_title_and_number_not_the_file_name(obs):
    from obligations.citations import cite

    assert cite(obs["jincheng-2020.1.2"].citation) == (
        "《落实意识形态工作责任制考核办法（试行）》晋市职院党〔2020〕44号 考核评分体系 1.2")
    assert ".txt" not in cite(obs["henan-2023.12"].citation, quote=True)


def test_document_titles_and_numbers_are_verbatim_from_their_seeds(packs, seeds):
    for p in packs.values():
        for source, doc in p.documents.items():
            for quoted in re.findall(r"《([^》]+)》", doc.title):
                assert _collapse(quoted) in seeds[source], (p.name, source, quoted)
            if doc.number:
                assert doc.number in seeds[source], (p.name, source, doc.number)


def test_clause_12_constant_names_its_document_as_the_pack_does(obs):
    from obligations.lectures import CLAUSE_12

    assert CLAUSE_12.document == obs["henan-2023.12"].citation.document
