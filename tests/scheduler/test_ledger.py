"""The score ledger: automatic entries posted from tracked obligations, manual scores and
findings; corrections are new rows; deductions are told once."""

from datetime import date, datetime

import pytest
from sqlmodel import select

from scheduler.app import UserInputError, open_app
from scheduler.ledger import (
    SyncResult, add_finding, correct_finding, deductions_to_notify, latest_findings, ledger_rows,
    mark_notified, post_automatic, reconcile_finding, score, scorecard, set_score,
)
from scheduler.models import Finding, ScoreEntry, ScoreNotice, Unit
from scheduler.submissions import submit, waive, withdraw

UNITS = (
    ("DW", "党委", "committee", None),
    ("JG", "机关党支部", "branch", "DW"),
    ("BGS", "办公室", "office", "JG"),
    ("JWC", "教务处", "office", "JG"),
    ("JDX", "机电系党支部", "dept_branch", "DW"),
    ("XXX", "信息系党支部", "dept_branch", "DW"),
)


@pytest.fixture
def app(tmp_path, db_url):
    """An App with only the bundled jincheng-2020 pack and a small college."""
    cfg = tmp_path / "ccal.toml"
    cfg.write_text(f'[general]\ndata_dir = "data"\n[database]\nurl = "{db_url}"\n'
                   '[packs]\nenabled = ["jincheng-2020"]\n', encoding="utf-8")
    app = open_app(cfg)
    with app.session() as s:
        for code, name, kind, parent in UNITS:
            s.add(Unit(code=code, name=name, kind=kind, parent_code=parent))
            s.flush()
    yield app
    app.engine.dispose()


def rows(app, unit, item):
    with app.session() as s:
        return s.exec(select(ScoreEntry).where(ScoreEntry.unit_code == unit, ScoreEntry.item == item)
                      .order_by(ScoreEntry.id)).all()


def item_score(app, unit, item_id, as_of=date(2026, 12, 31)):
    return score(app, 2026, as_of, post=False).unit(unit).item(item_id).score


def test_late_report_after_a_missing_one_is_a_new_correcting_entry(app):
    post_automatic(app, 2026, date(2026, 6, 20))
    (missing,) = [r for r in rows(app, "JDX", "1.2")]
    assert (missing.points, missing.reason) == (0, "2026-H1：未报（截止 2026-06-15），不得分")
    submit(app, "jincheng-2020.1.2", "JDX", "2026-H1", at=datetime(2026, 6, 22, 9))
    result = post_automatic(app, 2026, date(2026, 6, 25))
    first, late = rows(app, "JDX", "1.2")
    assert (first.id, first.points) == (missing.id, 0)           # the ledger keeps the old row
    assert (late.points, late.corrects_id, late.kind, late.recorded_by) == (0.5, missing.id, "auto", "ccal")
    assert late.reason == "2026-H1：迟报（截止 2026-06-15，完成 2026-06-22），扣0.5分，得0.5分"
    assert late.source_kind == "occurrence" and result.posted >= 1
    again = post_automatic(app, 2026, date(2026, 6, 25))
    assert again.posted == 0 and again.unchanged > 0
    assert item_score(app, "JDX", "1.2", date(2026, 6, 25)) == 0.5


def test_a_later_posting_derives_only_the_units_whose_record_changed(app, monkeypatch):
    import scheduler.ledger as ledger

    clock = [datetime(2026, 6, 20, 9, 0)]
    monkeypatch.setattr(app, "now", lambda: clock[0])
    post_automatic(app, 2026, date(2026, 6, 20))     # materialises 2026 at 9:00, derives everyone
    clock[0] = datetime(2026, 6, 20, 9, 5)
    post_automatic(app, 2026, date(2026, 6, 20))     # the second of the last posting is read again
    clock[0] = datetime(2026, 6, 20, 9, 10)
    derived = []
    real = ledger.collect_facts

    def spy(*args, **kwargs):
        derived.append(kwargs.get("units", args[5] if len(args) > 5 else None))
        return real(*args, **kwargs)
    monkeypatch.setattr(ledger, "collect_facts", spy)
    assert post_automatic(app, 2026, date(2026, 6, 20)).posted == 0 and derived == []   # nothing changed
    clock[0] = datetime(2026, 6, 22, 9, 0)
    submit(app, "jincheng-2020.1.2", "JDX", "2026-H1", at=datetime(2026, 6, 22, 9))
    clock[0] = datetime(2026, 6, 22, 9, 5)
    assert post_automatic(app, 2026, date(2026, 6, 22)).posted == 1
    assert derived == [["JDX"]]
    assert [r.points for r in rows(app, "JDX", "1.2")] == [0, 0.5]
    # Later, the units with something that fell due in between are derived again (open -> overdue).
    derived.clear()
    clock[0] = datetime(2026, 7, 2, 9, 0)
    post_automatic(app, 2026, date(2026, 7, 2))
    assert derived and derived[0] is not None and "DW" not in derived[0]


def test_open_occurrences_post_nothing_until_they_settle(app):
    post_automatic(app, 2026, date(2026, 3, 1))
    assert rows(app, "JDX", "1.2") == []
    submit(app, "jincheng-2020.1.2", "JDX", "2026-H1", at=datetime(2026, 6, 1, 9))
    post_automatic(app, 2026, date(2026, 6, 2))
    assert [r.points for r in rows(app, "JDX", "1.2")] == [1]


def test_a_waived_report_counts_as_done_with_its_reason(app):
    waive(app, "jincheng-2020.1.2", "JDX", "2026-H1", "支部换届，宣传部同意免报")
    post_automatic(app, 2026, date(2026, 7, 1))
    assert [(r.points, r.reason) for r in rows(app, "JDX", "1.2")] == [(1, "2026-H1：已豁免，按完成计，得1分")]


def test_publicity_reports_count_up_to_five_and_a_withdrawn_one_drops_out(app):
    subs = [submit(app, "jincheng-2020.3.3", "JWC", "2026", at=datetime(2026, 3, d, 9)).submission for d in range(1, 7)]
    assert item_score(app, "JWC", "3.3") == 0                      # nothing posted yet
    assert score(app, 2026, date(2026, 12, 31)).unit("JWC").item("3.3").score == 5   # 6 reports, max 5
    for s in subs[:2]:
        withdraw(app, s.id, "重复登记")
    post_automatic(app, 2026, date(2026, 12, 31))
    dropped = [r for r in rows(app, "JWC", "3.3") if r.source_id == subs[0].id]
    assert [(r.points, r.reason) for r in dropped][-1] == (0, "提交记录已撤回或被更正，不再计分")
    assert item_score(app, "JWC", "3.3") == 4


def test_branch_report_scores_for_its_offices_and_the_branch_averages_them(app):
    submit(app, "jincheng-2020.1.2", "JG", "2026-H1", at=datetime(2026, 6, 1, 9))
    submit(app, "jincheng-2020.3.3", "BGS", "2026", at=datetime(2026, 5, 1, 9))
    rep = score(app, 2026, date(2026, 7, 1))
    assert rep.unit("BGS").item("1.2").score == rep.unit("JWC").item("1.2").score == 1
    bgs, jwc, jg = rep.unit("BGS"), rep.unit("JWC"), rep.unit("JG")
    assert bgs.total - jwc.total == pytest.approx(100 / 94, abs=0.011)   # one report more, scaled
    assert jg.total == round((bgs.total + jwc.total) / 2 + 1e-9, 2)
    assert [r.id for r in rep.rankings] == ["teaching", "admin"]


def test_score_set_is_a_new_entry_and_a_second_one_corrects_it(app):
    first = set_score(app, "JDX", 2026, "2.2", 3, "履责报告完整，谈话情况良好", recorded_by="李文静")
    second = set_score(app, "JDX", 2026, "2.2", 3.5, "补充材料后复核", recorded_by="李文静")
    assert (second.corrects_id, second.kind, second.reason) == (first.id, "manual", "人工评分：补充材料后复核")
    assert item_score(app, "JDX", "2.2") == 3.5
    ledger = ledger_rows(app, 2026, unit="JDX", item="2.2")
    assert [(r["points"], r["in_force"], r["recorded_by"]) for r in ledger] == [(3, False, "李文静"), (3.5, True, "李文静")]
    cleared = set_score(app, "JDX", 2026, "2.2", None, "误录", clear=True)
    assert (cleared.kind, cleared.corrects_id) == ("unset", second.id)
    assert item_score(app, "JDX", "2.2") == 0                      # manual item waits for the assessor again


def test_score_set_refuses_what_would_never_count(app):
    with pytest.raises(UserInputError, match="0 到 4 之间"):
        set_score(app, "JDX", 2026, "2.2", 5, "超出分值")
    with pytest.raises(UserInputError, match="未知考核项目：9.9"):
        set_score(app, "JDX", 2026, "9.9", 1, "x")
    with pytest.raises(UserInputError, match="1.7 .*不适用于单位 JWC"):
        set_score(app, "JWC", 2026, "1.7", 6, "处室无此项")
    with pytest.raises(UserInputError, match="不参加考核"):
        set_score(app, "DW", 2026, "2.2", 4, "党委")
    with pytest.raises(UserInputError, match="finding add"):
        set_score(app, "JDX", 2026, "7", 1, "负面清单")
    with pytest.raises(UserInputError, match="理由"):
        set_score(app, "JDX", 2026, "2.2", 4, "  ")
    with pytest.raises(UserInputError, match="没有人工评分可撤销"):
        set_score(app, "JDX", 2026, "2.2", None, "x", clear=True)
    with app.session() as s:
        assert s.exec(select(ScoreEntry)).all() == []


def test_branch_may_be_scored_on_an_item_of_its_offices(app):
    set_score(app, "JG", 2026, "3.4", 4, "文明创建按时完成，有思政工作品牌")
    rep = score(app, 2026, date(2026, 12, 31), post=False)
    assert rep.unit("BGS").item("3.4").score == rep.unit("JWC").item("3.4").score == 4


def test_finding_deducts_by_the_standard_and_corrections_are_new_rows(app):
    r = add_finding(app, "JWC", "4.3", "宣传栏张贴过期材料", found_on=date(2026, 11, 3), count=2, recorded_by="检查组")
    assert (r.finding.deduct, r.entry.points, r.entry.kind) == (2, -2, "finding")
    assert r.entry.reason == "2026-11-03 发现：宣传栏张贴过期材料，2处，扣2分"
    assert item_score(app, "JWC", "4.3") == 3
    c = correct_finding(app, r.finding.id, "复查只有1处", count=1)
    assert (c.finding.corrects_id, c.finding.deduct, c.entry.corrects_id, c.entry.points) == (r.finding.id, 1, r.entry.id, -1)
    assert item_score(app, "JWC", "4.3") == 4
    w = correct_finding(app, c.finding.id, "已整改，不予扣分", deduct=0)
    assert w.entry.points == 0 and w.entry.reason.startswith("撤销扣分（已整改，不予扣分）")
    assert item_score(app, "JWC", "4.3") == 5
    with pytest.raises(UserInputError, match=f"已被记录 {c.finding.id} 更正"):
        correct_finding(app, r.finding.id, "再改", deduct=3)
    with app.session() as s:
        assert len(s.exec(select(Finding)).all()) == 3
        assert [e.points for e in s.exec(select(ScoreEntry).order_by(ScoreEntry.id))] == [-2, -1, 0]


def test_finding_people_short_of_points_and_items_without_a_standard(app):
    r = add_finding(app, "JDX", "3.2", "学习强国年度积分不足5000分", found_on=date(2026, 12, 20), count=3)
    assert r.finding.deduct == 1.5                               # 0.5 per person
    with pytest.raises(UserInputError, match="--deduct"):
        add_finding(app, "JDX", "7", "违反实施细则第十七条", found_on=date(2026, 12, 20))
    neg = add_finding(app, "JDX", "7", "违反实施细则第十七条", found_on=date(2026, 12, 20), deduct=3)
    rep = score(app, 2026, date(2026, 12, 31), post=False)
    assert rep.unit("JDX").item("3.2").score == 0.5 and rep.unit("JDX").negative == -3 and neg.created
    with pytest.raises(UserInputError, match="加分项"):
        add_finding(app, "JDX", "6", "x", found_on=date(2026, 12, 20), deduct=1)
    with pytest.raises(UserInputError, match="不适用于单位 BGS"):
        add_finding(app, "BGS", "1.7", "x", found_on=date(2026, 12, 20), deduct=1)


def test_automatic_finding_with_a_key_is_recorded_once(app):
    kwargs = dict(found_on=date(2026, 5, 8), source_kind="lecture", source_id=12, key="lecture:12:未批先办")
    first = add_finding(app, "JDX", "4.2", "讲座未批先办", **kwargs)
    second = add_finding(app, "JDX", "4.2", "讲座未批先办", **kwargs)
    assert (second.created, second.finding.id, second.entry.id) == (False, first.finding.id, first.entry.id)
    assert item_score(app, "JDX", "4.2") == 3


def test_reconciling_an_automatic_finding_posts_withdraws_and_restores_it(app):
    """The helper lectures and orders share: the finding of a key follows what the record says."""
    card = scorecard(app)
    key = "order:7:逾期"

    def sync(unit, want, deduct=None):
        with app.session() as s:
            latest = latest_findings(s, "order", [7]).get(key)
        result = SyncResult()
        post = lambda: add_finding(app, unit, "4.3", "督办单 O7 逾期未整改", found_on=date(2026, 3, 21),  # noqa: E731
                                   deduct=deduct, source_kind="order", source_id=7, key=key, card=card)
        reconcile_finding(app, card, latest, want, post, reason_off="按期整改", reason_on="再次逾期",
                          result=result, what="督办单 7", deduct=deduct)
        return result

    assert sync("JWC", want=False) == SyncResult()                   # nothing to post, nothing posted
    added = sync("JWC", want=True, deduct=2).added
    assert sync("JWC", want=True, deduct=2) == SyncResult()           # idempotent
    assert item_score(app, "JWC", "4.3") == 3
    withdrawn = sync("JWC", want=False).withdrawn
    assert item_score(app, "JWC", "4.3") == 5
    again = sync("JWC", want=True, deduct=2).added                    # back at the order's own amount
    assert item_score(app, "JWC", "4.3") == 3
    assert len({*added, *withdrawn, *again}) == 3
    with app.session() as s:
        chain = s.exec(select(Finding).order_by(Finding.id)).all()
    assert [(f.deduct, f.corrects_id) for f in chain] == [(2, None), (0, chain[0].id), (2, chain[1].id)]
    refused = SyncResult()                                            # the committee is not assessed
    reconcile_finding(app, card, None, True, lambda: add_finding(app, "DW", "4.3", "x", card=card),
                      reason_off="", reason_on="", result=refused, what="督办单 8")
    assert refused.added == [] and refused.skipped[0].startswith("督办单 8：单位 DW")


def test_a_deduction_is_told_once_and_a_correction_again(app):
    card = scorecard(app)
    r = add_finding(app, "JWC", "4.4", "社团无指导教师", found_on=date(2026, 10, 9))
    with app.session() as s:
        (notice,) = deductions_to_notify(s, [card])
        assert (notice.entry_id, notice.unit, notice.points) == (r.entry.id, "JWC", -1)
        assert notice.line == ("2026年度意识形态工作责任制考核 4.4 学生社团管理和指导教师：扣1分"
                               "（2026-10-09 发现：社团无指导教师，扣1分）")
        assert mark_notified(s, [notice.entry_id], datetime(2026, 10, 10, 9)) == 1
        assert mark_notified(s, [notice.entry_id], datetime(2026, 10, 10, 9)) == 0
    with app.session() as s:
        assert deductions_to_notify(s, [card]) == []
    c = correct_finding(app, r.finding.id, "另发现一个违规活动", count=2)
    with app.session() as s:
        assert [n.entry_id for n in deductions_to_notify(s, [card], units=["JWC"])] == [c.entry.id]
        assert deductions_to_notify(s, [card], units=["JDX"]) == []
    correct_finding(app, c.finding.id, "复核后撤销", deduct=0)
    with app.session() as s:
        assert deductions_to_notify(s, [card]) == []             # the corrected one was never told; now withdrawn
        assert len(s.exec(select(ScoreNotice)).all()) == 1


def test_automatic_entries_are_not_deductions_to_tell(app):
    post_automatic(app, 2026, date(2026, 7, 1))
    with app.session() as s:
        assert deductions_to_notify(s, [scorecard(app)]) == []
