"""Scoring under the jincheng-2020 scorecard, checked against scores worked out by hand from
the seed's 考核标准 (002 考核评分体系)."""

from dataclasses import replace
from datetime import date, datetime, time

import pytest

from obligations.packs import bundled_pack_dir, load_pack
from obligations.scorecard import scorecard_of
from obligations.scoring import (
    AUTO, FINDING, MANUAL, MANUAL_SLOT, UNSET, Entry, OccurrenceFact, SubmissionFact, UnitRef,
    automatic_postings, finding_slot, fmt_points, rank, round2, score_year,
)

J = "jincheng-2020."
UNITS = (
    UnitRef("DW", "党委", "committee"),
    UnitRef("JG", "机关党支部", "branch", "DW"),
    UnitRef("BGS", "办公室", "office", "JG"),
    UnitRef("JWC", "教务处", "office", "JG"),
    UnitRef("JDX", "机电系党支部", "dept_branch", "DW"),
    UnitRef("XXX", "信息系党支部", "dept_branch", "DW"),
    UnitRef("LTX", "离退休党支部", "branch", "DW"),
)


@pytest.fixture(scope="module")
def card():
    return scorecard_of(load_pack(bundled_pack_dir() / "jincheng-2020.toml"))


class Record:
    """Facts and ledger entries built the way scheduler/ledger.py builds them."""

    def __init__(self, card):
        self.card = card
        self.occs: list[OccurrenceFact] = []
        self.subs: list[SubmissionFact] = []
        self.later: list[tuple] = []
        self._occ = self._sub = 0

    def occ(self, unit, key, period, due, state, done_on=None, files=0):
        self._occ += 1
        done = datetime.combine(done_on, time(10)) if done_on else None
        self.occs.append(OccurrenceFact(self._occ, unit, J + key, period, due, state, done, files))

    def sub(self, unit, key, period, on, files=0):
        self._sub += 1
        self.subs.append(SubmissionFact(self._sub, 0, unit, J + key, period, datetime.combine(on, time(9)), files))

    def manual(self, unit, item, points, kind=MANUAL):
        self.later.append((unit, item, MANUAL_SLOT, points, kind))

    def finding(self, unit, item, points):
        self.later.append((unit, item, finding_slot(len(self.later) + 1), points, FINDING))

    def entries(self):
        out = []
        for p in automatic_postings(self.card, self.occs, self.subs):
            if p.settled:
                out.append(Entry(len(out) + 1, p.unit, p.item, p.slot, p.points, p.reason, AUTO, p.rule))
        for unit, item, slot, points, kind in self.later:
            out.append(Entry(len(out) + 1, unit, item, slot, points, f"{kind} {item}", kind))
        return out

    def report(self, card=None, units=UNITS):
        return score_year(card or self.card, 2026, units, self.entries())


def item(report, unit, item_id):
    return report.unit(unit).item(item_id)


@pytest.fixture
def hand(card):
    r = Record(card)
    # JDX: 1.2 on time in H1 (1) and late in H2 (1 - 0.5).
    r.occ("JDX", "1.2", "2026-H1", date(2026, 6, 15), "done", date(2026, 6, 10))
    r.occ("JDX", "1.2", "2026-H2", date(2026, 12, 15), "late", date(2026, 12, 20))
    # 1.3: four meetings (both kinds), each with minutes and evidence: 8, capped at 6.
    for key, period in (("1.3", "2026-H1"), ("1.3", "2026-H2"), ("1.3.sizheng", "2026-H1"), ("1.3.sizheng", "2026-H2")):
        r.sub("JDX", key, period, date(2026, 5, 1), files=1)
    # 3.3: seven publicity reports, 1 each, capped at 5.
    for d in range(7):
        r.sub("JDX", "3.3", "2026", date(2026, 3, 1 + d))
    # 3.2: two activities with evidence and one without: 2; five people under 5,000 points:
    # -2.5 on a 2-point part, which stops at 0.
    r.sub("JDX", "3.2.activity", "2026", date(2026, 4, 1), files=1)
    r.sub("JDX", "3.2.activity", "2026", date(2026, 5, 1), files=2)
    r.sub("JDX", "3.2.activity", "2026", date(2026, 6, 1))
    r.finding("JDX", "3.2", -2.5)
    r.finding("JDX", "4.3", -2)          # 2 处: 5 - 2
    r.manual("JDX", "6", 3)              # bonus
    # XXX: 1.2 missing in H1 (0), on time in H2 (1); 1.7: system 2, semesters 2 of 4.
    r.occ("XXX", "1.2", "2026-H1", date(2026, 6, 15), "overdue")
    r.occ("XXX", "1.2", "2026-H2", date(2026, 12, 15), "done", date(2026, 12, 1))
    r.occ("XXX", "1.7.system", "2026", date(2026, 12, 31), "done", date(2026, 9, 1), files=1)
    r.occ("XXX", "1.7.attend", "2026-spring", date(2026, 7, 10), "done", date(2026, 4, 1))
    r.occ("XXX", "1.7.teach", "2026-spring", date(2026, 7, 10), "done", date(2026, 5, 1))
    r.occ("XXX", "1.7.attend", "2025-autumn", date(2026, 1, 20), "late", date(2026, 2, 1))
    r.occ("XXX", "1.7.teach", "2025-autumn", date(2026, 1, 20), "overdue")
    r.finding("XXX", "7", -3)            # negative list
    # JG, a branch of two offices: its reports late twice (0.5 + 0.5); a 5.3 finding for the branch.
    r.occ("JG", "1.2", "2026-H1", date(2026, 6, 15), "late", date(2026, 6, 16))
    r.occ("JG", "1.2", "2026-H2", date(2026, 12, 15), "late", date(2026, 12, 16))
    r.finding("JG", "5.3", -1)
    # BGS: plan and summary (3); two reports (2).
    r.occ("BGS", "1.1.plan", "2026", date(2026, 3, 31), "done", date(2026, 3, 1))
    r.occ("BGS", "1.1.summary", "2026", date(2026, 12, 31), "late", date(2027, 1, 5))
    r.sub("BGS", "3.3", "2026", date(2026, 4, 1))
    r.sub("BGS", "3.3", "2026", date(2026, 5, 1))
    # JWC: plan only (1.5 of 3); three reports; a club without adviser (4.4: -1).
    r.occ("JWC", "1.1.plan", "2026", date(2026, 3, 31), "done", date(2026, 3, 1))
    r.occ("JWC", "1.1.summary", "2026", date(2026, 12, 31), "overdue")
    for d in range(3):
        r.sub("JWC", "3.3", "2026", date(2026, 6, 1 + d))
    r.finding("JWC", "4.4", -1)
    return r


# Items that start full and are only deducted from: 4.2 4, 4.3 5, 4.4 4, 4.6 4 (office and
# 系), the 学习强国 part of 3.2 (2) and 5.3 (4) (branch and 系).
def test_dept_branch_scored_by_hand(hand):
    rep = hand.report()
    jdx = rep.unit("JDX")
    assert [item(rep, "JDX", i).score for i in ("1.2", "1.3", "3.2", "3.3", "4.3", "4.2", "5.3")] == \
        [1.5, 6, 2, 5, 3, 4, 4]
    # 1.5 + 6 + 5 + (4 + 3 + 4 + 4) + 2 + 4 = 33.5 of 100, bonus 3
    assert (jdx.subtotal, jdx.applicable_max, jdx.converted, jdx.bonus, jdx.total) == (33.5, 100, 33.5, 3, 36.5)
    xxx = rep.unit("XXX")
    assert (item(rep, "XXX", "1.2").score, item(rep, "XXX", "1.7").score) == (1, 4)
    # 1 + 4 + 23 = 28, negative list -3
    assert (xxx.subtotal, xxx.negative, xxx.total) == (28, -3, 25)


def test_reasons_say_on_time_late_missing_and_the_cap(hand):
    rep = hand.report()
    reasons = [ln.reason for ln in item(rep, "JDX", "1.2").lines]
    assert reasons == ["2026-H1：按时完成（截止 2026-06-15，完成 2026-06-10），得1分",
                       "2026-H2：迟报（截止 2026-12-15，完成 2026-12-20），扣0.5分，得0.5分"]
    assert item(rep, "XXX", "1.2").lines[0].reason == "2026-H1：未报（截止 2026-06-15），不得分"
    assert item(rep, "JDX", "1.3").notes == ("已达上限6分（累计8分）",)
    assert item(rep, "JDX", "3.3").notes == ("已达上限5分（累计7分）",)
    # 3.2: the 学习强国 part stops at 0; the activities keep their 2 points.
    assert item(rep, "JDX", "3.2").notes == ("学习强国个人年度积分至少5000分扣完为止（2分）",)


def test_office_takes_its_branch_items_and_is_scaled_without_1_7(hand):
    rep = hand.report()
    bgs, jwc = rep.unit("BGS"), rep.unit("JWC")
    assert item(rep, "BGS", "1.2").score == 1            # the branch's two late reports
    assert [ln.unit for ln in item(rep, "BGS", "1.2").lines] == ["JG", "JG"]
    assert item(rep, "BGS", "5.3").score == 3            # the branch's finding counts for its offices
    assert not item(rep, "BGS", "1.7").applicable
    # BGS: 1 + 3 + 2 + 17 + 2 + 3 = 28 of 94 -> 29.79; JWC: 1 + 1.5 + 3 + 16 + 2 + 3 = 26.5 -> 28.19
    assert (bgs.subtotal, bgs.applicable_max, bgs.total) == (28, 94, 29.79)
    assert (item(rep, "JWC", "1.1").score, item(rep, "JWC", "4.4").score) == (1.5, 3)
    assert (jwc.subtotal, jwc.total) == (26.5, 28.19)


def test_branch_of_several_offices_scores_their_average(hand):
    jg = hand.report().unit("JG")
    assert (jg.members, jg.total, jg.ranking) == (("BGS", "JWC"), 28.99, None)   # (29.79 + 28.19) / 2


def test_branch_without_offices_is_scored_on_the_items_that_apply(hand):
    ltx = hand.report().unit("LTX")
    # Branch items only: 1.2 2, 1.3 6, 1.4 2, 1.5 4, 1.6 2, 2.2 4, 3.1 5, 3.2 5, 4.2 4, 5.3 4 = 38
    # (4.2: a branch hosting a lecture needs its approval too, issue 7);
    # it has done nothing: 3.2's 2, 4.2's 4 and 5.3's 4 -> 10 / 38 x 100
    assert (ltx.applicable_max, ltx.subtotal, ltx.total, ltx.ranking) == (38, 10, 26.32, None)


def test_not_applicable_full_counts_the_missing_items_full(hand, card):
    bgs = hand.report(replace(card, not_applicable="full")).unit("BGS")
    assert (bgs.converted, bgs.total) == (34, 34)        # 28 + 1.7's 6


def test_two_rankings_kept_apart_and_committee_not_scored(hand):
    rep = hand.report()
    assert [(r.id, [row.unit for row in r.rows]) for r in rep.rankings] == \
        [("teaching", ["JDX", "XXX"]), ("admin", ["BGS", "JWC"])]
    assert rep.unit("DW") is None
    assert (rep.unit("JDX").rank, rep.unit("XXX").rank) == (1, 2)


def test_share_rules_of_one_quarterly_item(card):
    # 1.5: minutes 1, written report 1, sent on time 2, shared among four quarters.
    r = Record(card)
    r.occ("JDX", "1.5", "2026-Q1", date(2026, 3, 31), "done", date(2026, 3, 20), files=1)   # 0.25 + 0.25 + 0.5
    r.occ("JDX", "1.5", "2026-Q2", date(2026, 6, 30), "late", date(2026, 7, 3))            # 0.25 + 0 + 0
    r.occ("JDX", "1.5", "2026-Q3", date(2026, 9, 30), "waived")                            # 0.25 + 0.25 + 0.5
    r.occ("JDX", "1.5", "2026-Q4", date(2026, 12, 31), "open")                             # not yet
    i = item(r.report(), "JDX", "1.5")
    assert i.score == 2.25
    assert "按时按要求报送｜2026-Q2：逾期完成（截止 2026-06-30，完成 2026-07-03），不得分" in [ln.reason for ln in i.lines]


def test_open_occurrences_are_pending_postings(card):
    r = Record(card)
    r.occ("JDX", "1.2", "2026-H2", date(2026, 12, 15), "open")
    (p,) = automatic_postings(card, r.occs, [])
    assert (p.points, p.settled, p.reason) == (0, False, "2026-H2：未到期（截止 2026-12-15）")


def test_manual_score_replaces_the_rules_and_later_findings_deduct_from_it(card):
    r = Record(card)
    r.occ("JDX", "1.2", "2026-H1", date(2026, 6, 15), "done", date(2026, 6, 1))
    r.occ("JDX", "1.2", "2026-H2", date(2026, 12, 15), "done", date(2026, 12, 1))
    r.finding("JDX", "4.3", -2)          # before the assessor's score: part of it
    r.manual("JDX", "4.3", 4)
    r.finding("JDX", "4.3", -1)          # after: deducts from it
    r.manual("JDX", "1.2", 1.5)
    rep = r.report()
    i43 = item(rep, "JDX", "4.3")
    assert (i43.score, i43.manual) == (3, True)
    assert [(ln.points, ln.counted) for ln in i43.lines] == [(4, True), (-2, False), (-1, True)]
    i12 = item(rep, "JDX", "1.2")
    assert (i12.score, [ln.counted for ln in i12.lines]) == (1.5, [True, False, False])


def test_unset_returns_the_item_to_its_rules_and_the_latest_manual_counts(card):
    r = Record(card)
    r.manual("JDX", "2.2", 3)
    r.manual("JDX", "2.2", 3.5)          # a correction: the later entry counts
    assert item(r.report(), "JDX", "2.2").score == 3.5
    r.manual("JDX", "2.2", 0, kind=UNSET)
    i = item(r.report(), "JDX", "2.2")
    assert (i.score, i.manual, i.pending) == (0, False, True)
    assert i.notes == ("待评：考核组评定（4分，ccal score set）",)


def test_office_own_manual_score_beats_its_branch(card):
    r = Record(card)
    r.manual("JG", "2.2", 2)
    r.manual("JWC", "2.2", 4)
    rep = r.report()
    assert (item(rep, "BGS", "2.2").score, item(rep, "JWC", "2.2").score) == (2, 4)


def test_bonus_is_capped_and_deductions_stop_at_zero(card):
    r = Record(card)
    r.manual("JG", "6", 3)
    r.manual("BGS", "6", 4)              # the office's own + its branch's, at most 5
    for _ in range(7):
        r.finding("JWC", "4.3", -1)      # 7 处 on a 5-point item
    rep = r.report()
    assert rep.unit("BGS").bonus == 5
    assert item(rep, "JWC", "4.3").score == 0


def test_finding_on_an_item_without_deductions_rule_deducts_from_the_item(card):
    r = Record(card)
    r.occ("JDX", "1.2", "2026-H1", date(2026, 6, 15), "done", date(2026, 6, 1))
    r.occ("JDX", "1.2", "2026-H2", date(2026, 12, 15), "done", date(2026, 12, 1))
    r.finding("JDX", "1.2", -0.5)
    r.finding("JDX", "1.2", -5)
    assert item(r.report(), "JDX", "1.2").score == 0


def test_corrected_finding_counts_once_with_its_latest_value(card):
    entries = [Entry(1, "JDX", "4.3", finding_slot(1), -3, "3 处", FINDING),
               Entry(2, "JDX", "4.3", finding_slot(1), -1, "更正：1 处", FINDING)]
    rep = score_year(card, 2026, UNITS, entries)
    assert item(rep, "JDX", "4.3").score == 4


def test_competition_ranking_and_bottom_three_with_ties():
    rows = rank([("A", "", 90), ("B", "", 85.004), ("C", "", 85), ("D", "", 80), ("E", "", 70), ("F", "", 70)], 3)
    assert [(r.unit, r.rank, r.flagged) for r in rows] == [
        ("A", 1, False), ("B", 2, False), ("C", 2, False), ("D", 4, True), ("E", 5, True), ("F", 5, True)]
    # Everyone tied with the third-lowest is flagged: four units here.
    rows = rank([("A", "", 90), ("B", "", 80), ("C", "", 80), ("D", "", 80), ("E", "", 70)], 3)
    assert [r.unit for r in rows if r.flagged] == ["B", "C", "D", "E"]
    # Ties listed by unit code; three or fewer units: all flagged.
    assert [(r.unit, r.rank) for r in rank([("Z", "", 50), ("A", "", 50)], 3)] == [("A", 1), ("Z", 1)]
    assert all(r.flagged for r in rank([("Z", "", 50), ("A", "", 60)], 3))
    assert not any(r.flagged for r in rank([("Z", "", 50), ("A", "", 60)], 0))


def test_rounding_is_half_up_on_the_decimal_value():
    assert (round2(27.395), round2(28.1914), round2(2.675)) == (27.4, 28.19, 2.68)
    assert (fmt_points(1.5), fmt_points(2.0), fmt_points(5 / 3), fmt_points(-0.0)) == ("1.5", "2", "1.67", "0")


def test_a_year_with_no_entries_has_nothing_to_rank_or_flag(card):
    # issue 7: the deductions items start full, so without this every unit tied first and all
    # were flagged for the 提醒谈话.
    rep = score_year(card, 2031, UNITS, [])
    assert rep.empty
    assert all(r.rows == () for r in rep.rankings)
    assert not any(u.flagged or u.rank for u in rep.units)
