"""The scorecard as pack data: the bundled jincheng-2020 scorecard encodes seed 002's
考核评分体系, and a bad [scorecard] is refused with file, line, item and field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from obligations.packs import PackError, bundled_pack_dir, load_pack, pack_errors
from obligations.scorecard import ScorecardError, read_scorecard, scorecard_of

SEED_002 = "002_e020950e72e664f2.txt"

# The seed's 考核评分体系: item -> points.
SEED_POINTS = {
    "1.1": 3, "1.2": 2, "1.3": 6, "1.4": 2, "1.5": 4, "1.6": 2, "1.7": 6,
    "2.1": 4, "2.2": 4, "2.3": 2,
    "3.1": 5, "3.2": 5, "3.3": 5, "3.4": 5, "3.5": 5,
    "4.1": 4, "4.2": 4, "4.3": 5, "4.4": 4, "4.5": 5, "4.6": 4, "4.7": 4,
    "5.1": 4, "5.2": 2, "5.3": 4,
}


@pytest.fixture(scope="module")
def pack():
    return load_pack(bundled_pack_dir() / "jincheng-2020.toml")


@pytest.fixture(scope="module")
def card(pack):
    return scorecard_of(pack)


def test_jincheng_scorecard_has_every_item_with_the_seeds_points(card):
    assert {i.id: i.points for i in card.items} == SEED_POINTS
    assert [(p.id, p.title, p.points) for p in card.parts] == [
        ("1", "体制机制", 25), ("2", "明确责任", 10), ("3", "意识形态价值引领", 25), ("4", "阵地管理", 30),
        ("5", "队伍建设", 10)]
    assert card.total == 100 and sum(p.points for p in card.parts) == 100
    assert (card.bonus.id, card.bonus.max, card.negative.id) == ("6", 5, "7")
    assert [(r.id, r.kinds) for r in card.rankings] == [("teaching", ("dept_branch",)), ("admin", ("office",))]
    assert (card.flag_bottom, card.flag_label, card.not_applicable) == (3, "提醒谈话", "scale")


def test_the_issues_rule_kinds_are_encoded(card):
    i12, i13, i33, i32 = card.item("1.2"), card.item("1.3"), card.item("3.3"), card.item("3.2")
    assert [(r.kind, r.points, r.late_deduction) for r in i12.rules] == [("on_time", 2, 0.5)]
    assert [(r.kind, r.points, r.per_record, r.per_evidence) for r in i13.rules] == [("records", 6, 1, 1)]
    assert set(i13.rules[0].obligations) == {"jincheng-2020.1.3", "jincheng-2020.1.3.sizheng"}
    assert [(r.kind, r.points, r.obligations) for r in i33.rules] == [("records", 5, ("jincheng-2020.3.3",))]
    assert [(r.kind, r.points, r.per_finding, r.counted) for r in i32.rules][0] == ("deductions", 2, 0.5, "人")
    for i in ("4.3", "4.4"):
        rule = card.item(i).deduction_rule
        assert (rule.points, rule.per_finding) == (card.item(i).points, 1)
    assert [r.kind for r in card.item("2.2").rules] == ["manual"]


def test_1_7_applies_to_dept_branches_only(card):
    i17 = card.item("1.7")
    assert i17.applies_to == ("dept_branch",) and i17.obligation_kinds == {"dept_branch"}


def test_every_standard_is_verbatim_from_the_seed(card, seeds_dir):
    seed = re.sub(r"\s+", "", (seeds_dir / SEED_002).read_text(encoding="utf-8"))
    texts = [(i.id, i.standard) for i in card.items] + [("6", card.bonus.standard), ("7", card.negative.standard)]
    for item_id, text in texts:
        for fragment in text.split("；"):
            assert re.sub(r"\s+", "", fragment) in seed, f"{item_id}: {fragment!r}"


def test_every_linked_obligation_names_an_item_and_automatic_rules_read_obligations(pack, card):
    linked = {ob.scorecard for ob in pack.obligations if ob.scorecard}
    assert linked <= set(SEED_POINTS)
    keys = {ob.key for ob in pack.obligations}
    for item in card.items:
        for rule in item.rules:
            if rule.automatic:
                assert rule.obligations and set(rule.obligations) <= keys, (item.id, rule.id)


# --------------------------------------------------------------------------- validation

CARD = '''\
[scorecard]
title = "测试评分体系"
total = 15

[[scorecard.part]]
id = "1"
title = "体制机制"
points = 10

[[scorecard.part]]
id = "2"
title = "阵地管理"
points = 5

[scorecard.bonus]
id = "6"
title = "特色加分"
max = 5

[scorecard.negative]
id = "7"
title = "负面清单"

[[scorecard.item]]
id = "1.1"
title = "半年汇报"
points = 6
standard = "按时按要求汇报2分"

[[scorecard.item.rule]]
kind = "on_time"
points = 6
late_deduction = 0.5

[[scorecard.item]]
id = "1.2"
title = "专题会议"
points = 4
standard = "相关会议记录"

[[scorecard.item.rule]]
kind = "records"
points = 4

[[scorecard.item]]
id = "2.1"
title = "阵地"
points = 5
standard = "有违规情况1处扣1分"

[[scorecard.item.rule]]
kind = "deductions"
points = 5
'''

PACK_HEAD = '''\
name = "mine"
title = "某校评分"
source = "002_e020950e72e664f2.txt"

[[obligation]]
key = "mine.report"
clause = "1.1"
title = "半年汇报"
applies_to = ["branch"]
scorecard = "1.1"
citation = { clause = "1.2", quote = "书面汇报" }
schedule = { kind = "half_yearly" }
deadline = { rule = "day_in_last_month", day = 15 }

[[obligation]]
key = "mine.meeting"
clause = "1.2"
title = "专题会议"
applies_to = ["branch"]
scorecard = "1.2"
citation = { clause = "1.3", quote = "专题会议" }
schedule = { kind = "half_yearly" }
deadline = { rule = "period_end" }

'''


def write_pack(tmp_path, card_text=CARD, head=PACK_HEAD) -> Path:
    path = tmp_path / "mine.toml"
    path.write_text(head + card_text, encoding="utf-8")
    return path


def errors_of(path: Path) -> list[PackError]:
    return pack_errors(path)


def line_of(path: Path, text: str, after: str | None = None) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index(after) if after else 0
    return next(i for i in range(start, len(lines)) if lines[i].startswith(text)) + 1


def test_another_institution_defines_its_own_scorecard_in_the_same_form(tmp_path):
    path = write_pack(tmp_path)
    card = scorecard_of(load_pack(path))
    assert [(i.id, i.points, i.obligations) for i in card.items] == [
        ("1.1", 6, ("mine.report",)), ("1.2", 4, ("mine.meeting",)), ("2.1", 5, ())]
    assert card.item("1.1").rules[0].obligations == ("mine.report",)   # all linked obligations by default
    assert card.rankings[0].kinds == ("dept_branch",)                   # default rankings
    assert errors_of(path) == []


def test_items_that_do_not_add_up_to_their_part_are_refused_at_the_part(tmp_path):
    path = write_pack(tmp_path, CARD.replace('id = "1.2"\ntitle = "专题会议"\npoints = 4', 'id = "1.2"\ntitle = "专题会议"\npoints = 3')
                      .replace('kind = "records"\npoints = 4', 'kind = "records"\npoints = 3'))
    (err,) = errors_of(path)
    assert isinstance(err, ScorecardError)
    assert err.field == "points" and "部分 1 各条目合计 9 分（1.1 6 + 1.2 3），不等于该部分的 10 分" in str(err)
    assert str(err).startswith(f"{path}:{line_of(path, 'points = 10')}: 评分体系: 字段 points:")


def test_parts_that_do_not_add_up_to_the_total_are_refused(tmp_path):
    path = write_pack(tmp_path, CARD.replace('total = 15', 'total = 100'))
    (err,) = errors_of(path)
    assert "各部分合计 15 分（体制机制 10 + 阵地管理 5），不等于总分 100" in str(err)
    assert err.line == line_of(path, "total = 100")


def test_rules_that_do_not_add_up_to_the_item_name_the_item_and_line(tmp_path):
    path = write_pack(tmp_path, CARD.replace('kind = "on_time"\npoints = 6', 'kind = "on_time"\npoints = 5'))
    errors = errors_of(path)
    assert any(e.item == "1.1" and "各规则合计 5 分（on_time 5），不等于条目的 6 分" in str(e) for e in errors)
    err = next(e for e in errors if e.item == "1.1")
    assert str(err).startswith(f"{path}:{line_of(path, 'points = 6')}: 评分体系条目 1.1: 字段 points:")


def test_unknown_rule_kind_and_field_get_a_hint_and_the_rule_line(tmp_path):
    path = write_pack(tmp_path, CARD.replace('kind = "records"', 'kind = "record"').replace(
        'late_deduction = 0.5', 'late_deduct = 0.5'))
    messages = {str(e) for e in errors_of(path)}
    kind_line = line_of(path, 'kind = "record"')
    assert f"{path}:{kind_line}: 评分体系条目 1.2: 字段 rule[1].kind: " \
           "未知 kind 'record'（是否想写 'records'？）" in messages
    assert f"{path}:{line_of(path, 'late_deduct')}: 评分体系条目 1.1: 字段 rule[1].late_deduct: " \
           "未知字段（是否想写 'late_deduction'？）" in messages


def test_automatic_rule_without_obligations_and_rule_naming_an_unlinked_one(tmp_path):
    text = CARD.replace('kind = "deductions"\npoints = 5', 'kind = "completion"\npoints = 5')
    messages = [str(e) for e in errors_of(write_pack(tmp_path, text))]
    assert any("评分体系条目 2.1: 字段 rule[1].kind: completion 规则读取被跟踪的事项，"
               '但本规则包没有事项写了 scorecard = "2.1"' in m for m in messages)
    text = CARD.replace('kind = "records"\npoints = 4', 'kind = "records"\npoints = 4\nobligations = ["mine.report"]')
    messages = [str(e) for e in errors_of(write_pack(tmp_path, text))]
    assert any("事项 'mine.report' 没有关联到条目 1.2" in m for m in messages)


def test_obligation_linked_to_an_unknown_item_is_reported_at_the_obligation(tmp_path):
    path = write_pack(tmp_path, head=PACK_HEAD.replace('scorecard = "1.2"', 'scorecard = "1.3"'))
    errors = errors_of(path)
    err = next(e for e in errors if e.key == "mine.meeting")
    link_line = line_of(path, 'scorecard = "1.3"')
    assert str(err) == f"{path}:{link_line}: 事项 mine.meeting: 字段 scorecard: " \
                       "评分体系中没有条目 '1.3'（是否想写 '1.2'？）"


def test_missing_bonus_and_duplicate_item_are_refused(tmp_path):
    text = CARD.replace('[scorecard.bonus]\nid = "6"\ntitle = "特色加分"\nmax = 5\n', '')
    text += '\n[[scorecard.item]]\nid = "1.1"\ntitle = "x"\npoints = 1\nstandard = "x"\n\n[[scorecard.item.rule]]\nkind = "manual"\npoints = 1\n'
    messages = [str(e) for e in errors_of(write_pack(tmp_path, text))]
    assert any("字段 bonus: 缺少必填的表 [scorecard.bonus]" in m for m in messages)
    assert any("评分体系条目 1.1: 字段 id: 条目 id '1.1' 重复" in m for m in messages)


def test_a_pack_with_a_broken_scorecard_is_refused_with_the_first_error(tmp_path):
    with pytest.raises(ScorecardError, match=r"字段 bonus.max: 必须是大于 0 的数，实际为 0"):
        load_pack(write_pack(tmp_path, CARD.replace('max = 5', 'max = 0')))


def test_read_scorecard_without_a_file_still_names_the_item():
    card, errors = read_scorecard({"title": "x", "part": [], "item": [{"id": "1.1", "points": 1}]}, pack="p")
    assert card is None
    assert any(e.item == "1.1" and e.field == "title" for e in errors)
