from datetime import date
from pathlib import Path

import pytest

from obligations import packs as packs_module
from obligations.deadlines import BeforeAnchor, DayInLastMonth, Xun
from obligations.packs import PackError, check_dir, load_pack, load_packs
from obligations.schedules import HalfYearlySchedule, QuarterlySchedule

GOOD = """\
name = "demo"
title = "示例规则包"
source = "002_e020950e72e664f2.txt"
issued = "2020-12-28"

[reminders]
first = "7d"

[[obligation]]
key = "demo.1.2"
clause = "1.2"
title = "向党委宣传部书面汇报意识形态工作（半年）"
applies_to = ["branch", "dept_branch"]
responsible = "secretary"
evidence = ["书面汇报材料"]
scorecard = "1.2"

[obligation.citation]
clause = "考核评分体系 1.2"
quote = "支部每半年末15日前向党委宣传部书面汇报1次意识形态工作情况"

[obligation.schedule]
kind = "half_yearly"

[obligation.deadline]
rule = "day_in_last_month"
day = 15

[[obligation]]
key = "demo.meeting"
clause = "9"
title = "联席会议（季度）"
applies_to = ["propaganda"]
times = 1

[obligation.citation]
source = "004_7de5d04c64a363aa.txt"
clause = "九 4"
quote = "联席会议每季度召开一次"

[obligation.schedule]
kind = "quarterly"

[obligation.deadline]
rule = "xun"
xun = "mid"

[obligation.reminders]
escalate_after = 3

[[obligation]]
key = "demo.before"
clause = "9.a"
title = "会前报送本领域意识形态情况"
applies_to = ["office"]
anchor = "demo.meeting"
default = true
notes = "the seed gives no deadline: one day before the meeting"

[obligation.citation]
clause = "九"
quote = "会前报送"

[obligation.schedule]
kind = "quarterly"

[obligation.deadline]
rule = "before_anchor"
"""


def write(tmp_path: Path, text: str, name: str = "demo.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    """1-based number of the first line containing `needle`."""
    return next(i for i, ln in enumerate(text.splitlines()) if needle in ln) + 1


def error_for(tmp_path: Path, text: str) -> PackError:
    path = write(tmp_path, text)
    with pytest.raises(PackError) as exc:
        load_pack(path)
    return exc.value


# ---------------------------------------------------------------------------------------------
# A good pack


def test_good_pack_builds_obligations_with_citations_schedules_and_rules(tmp_path):
    pack = load_pack(write(tmp_path, GOOD))
    assert (pack.name, pack.title, pack.issued) == ("demo", "示例规则包", date(2020, 12, 28))
    assert [ob.key for ob in pack.obligations] == ["demo.1.2", "demo.meeting", "demo.before"]
    report, meeting, before = pack.obligations
    assert report.pack == "demo"
    assert report.citation.source == "002_e020950e72e664f2.txt"  # the pack's source by default
    assert meeting.citation.source == "004_7de5d04c64a363aa.txt"
    assert report.applies_to == ("branch", "dept_branch")
    assert report.schedule == HalfYearlySchedule()
    assert report.deadline == DayInLastMonth(day=15)
    assert meeting.deadline == Xun(xun="mid")
    assert isinstance(meeting.schedule, QuarterlySchedule)
    assert before.deadline == BeforeAnchor()
    assert before.anchor == "demo.meeting"
    assert (before.default_date, report.default_date) == (True, False)
    assert before.responsible == "secretary"  # default
    assert (report.times, report.evidence, report.scorecard) == (1, ("书面汇报材料",), "1.2")


def test_reminders_table_is_kept_raw(tmp_path):
    pack = load_pack(write(tmp_path, GOOD))
    assert pack.reminders == {"first": "7d"}
    assert pack.scorecard == {}
    assert pack.obligations[1].reminders == {"escalate_after": 3}
    assert pack.obligations[0].reminders is None


# ---------------------------------------------------------------------------------------------
# Errors name file, line, obligation key and field


def test_error_message_names_file_line_key_and_field(tmp_path):
    text = GOOD.replace("day = 15", "day = 0")
    err = error_for(tmp_path, text)
    path = tmp_path / "demo.toml"
    line = line_of(text, "day = 0")
    assert (err.file, err.line, err.key, err.field) == (path, line, "demo.1.2", "deadline.day")
    assert str(err) == f"{path}:{line}: 事项 demo.1.2: 字段 deadline.day: 必须是 1-31 的整数，实际为 0"


def test_toml_syntax_error_names_file_and_line(tmp_path):
    text = GOOD.replace('clause = "9"', 'clause = "9')
    err = error_for(tmp_path, text)
    assert err.line == line_of(text, 'clause = "9')
    assert str(err).startswith(f"{tmp_path / 'demo.toml'}:{err.line}: TOML 语法错误")


@pytest.mark.parametrize(
    "old, new, key, field, message",
    [
        # unknown keys at every level
        ('issued = "2020-12-28"', 'issued = "2020-12-28"\nauthor = "x"', None, "author", "未知字段"),
        ('responsible = "secretary"', 'responsible = "secretary"\napplies = ["branch"]', "demo.1.2", "applies",
         "是否想写 'applies_to'"),
        ('kind = "half_yearly"', 'kind = "half_yearly"\nevery = 2', "demo.1.2", "schedule.every", "未知字段，kind 'half_yearly' 不用此字段"),
        ("day = 15", "day = 15\nhour = 9", "demo.1.2", "deadline.hour", "未知字段，rule 'day_in_last_month' 不用此字段"),
        ('quote = "联席会议每季度召开一次"', 'quote = "联席会议每季度召开一次"\npage = 3', "demo.meeting",
         "citation.page", "未知字段"),
        # bad kind / rule and fields a rule needs
        ('kind = "half_yearly"', 'kind = "biannual"', "demo.1.2", "schedule.kind", "未知的 kind 'biannual'"),
        ('rule = "xun"', 'rule = "mid_month"', "demo.meeting", "deadline.rule", "未知的 rule 'mid_month'"),
        ("day = 15", "", "demo.1.2", "deadline.day", "缺少此字段：rule 'day_in_last_month' 需要它"),
        # bad values
        ('xun = "mid"', 'xun = "middle"', "demo.meeting", "deadline.xun", '必须是 "early"、"mid" 或 "late"'),
        ("day = 15", "day = 32", "demo.1.2", "deadline.day", "必须是 1-31 的整数"),
        ("times = 1", "times = 0", "demo.meeting", "times", "必须是不小于 1 的整数"),
        ('xun = "mid"', 'xun = "mid"\nmonth = 4', "demo.meeting", "deadline.month", "必须是 1-3（quarterly 周期内的第几个月）"),
        ('xun = "mid"', 'xun = "mid"\nroll = "nearest"', "demo.meeting", "deadline.roll", "必须是 none、next_workday"),
        ('kind = "half_yearly"', 'kind = "semester"\nwhich = ["winter"]', "demo.1.2", "schedule.which", '只能包含 "autumn" 或 "spring"'),
        ('rule = "xun"\nxun = "mid"', 'rule = "workdays_before_event"\nworkdays = 20', "demo.meeting",
         "deadline.rule", 'workdays_before_event 需要 kind = "event"'),
        # keys, anchors, unit kinds, roles
        ('key = "demo.1.2"', 'key = "other.1.2"', "other.1.2", "key", '必须以规则包名开头："demo.'),
        ('key = "demo.before"', 'key = "demo.1.2"', "demo.1.2", "key", "key 重复"),
        ('anchor = "demo.meeting"', 'anchor = "demo.nomeeting"', "demo.before", "anchor", "规则包 demo 中没有事项 'demo.nomeeting'"),
        ('anchor = "demo.meeting"\n', "", "demo.before", "anchor", "before_anchor 需要 anchor"),
        ('applies_to = ["branch", "dept_branch"]', 'applies_to = ["branch", "department"]', "demo.1.2",
         "applies_to", "未知单位类型 'department'"),
        ('responsible = "secretary"', 'responsible = "dean"', "demo.1.2", "responsible", "必须是 secretary、head、propaganda 之一"),
        ('default = true', 'default = "yes"', "demo.before", "default", "必须是 true 或 false"),
        ('times = 1', 'times = 1\nsensitive_only = "yes"', "demo.meeting", "sensitive_only", "必须是 true 或 false"),
        ('times = 1', 'times = 1\nsensitive_only = true', "demo.meeting", "sensitive_only",
         '只用于讲座审批：kind = "event" 且 rule = "workdays_before_event"'),
        ('issued = "2020-12-28"', 'issued = "28.12.2020"', None, "issued", '必须是日期 "YYYY-MM-DD"'),
    ],
)
def test_each_kind_of_error_is_reported_with_key_field_and_line(tmp_path, old, new, key, field, message):
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    err = error_for(tmp_path, text)
    assert (err.key, err.field) == (key, field)
    assert message in err.message
    assert err.line is not None
    line_text = text.splitlines()[err.line - 1]
    # The line points at the field itself when it is in the file, else at its table or the key.
    last = field.split(".")[-1]
    if f"{last} =" in new:
        assert line_text.startswith(f"{last} ="), line_text
    else:
        assert line_text.startswith(("key =", f"[obligation.{field.split('.')[0]}]")), line_text
    assert str(err).startswith(f"{tmp_path / 'demo.toml'}:{err.line}: ")
    if key:
        assert f"事项 {key}: 字段 {field}: " in str(err)


@pytest.mark.parametrize(
    "remove, key, field",
    [
        ('key = "demo.1.2"\n', None, "key"),
        ('clause = "1.2"\n', "demo.1.2", "clause"),
        ('title = "向党委宣传部书面汇报意识形态工作（半年）"\n', "demo.1.2", "title"),
        ('quote = "支部每半年末15日前向党委宣传部书面汇报1次意识形态工作情况"\n', "demo.1.2", "citation.quote"),
        ('clause = "考核评分体系 1.2"\n', "demo.1.2", "citation.clause"),
        ('applies_to = ["branch", "dept_branch"]\n', "demo.1.2", "applies_to"),
        ('kind = "half_yearly"\n', "demo.1.2", "schedule.kind"),
        ('rule = "day_in_last_month"\n', "demo.1.2", "deadline.rule"),
        ('title = "示例规则包"\n', None, "title"),
    ],
)
def test_missing_required_fields_are_named(tmp_path, remove, key, field):
    text = GOOD.replace(remove, "", 1)
    err = error_for(tmp_path, text)
    assert (err.key, err.field) == (key, field)
    assert "缺少" in err.message
    if key:  # points into the obligation's block: at its key line or the field's table
        assert err.line >= line_of(text, f'key = "{key}"')
        assert err.line < line_of(text, 'key = "demo.meeting"')


def test_sensitive_only_marks_a_lecture_approval(tmp_path):
    text = GOOD + """
[[obligation]]
key = "demo.12"
clause = "12"
title = "敏感议题讲座报批"
applies_to = ["office"]
sensitive_only = true
citation = { clause = "第12条", quote = "需提前20个工作日,报党委宣传部审批" }
schedule = { kind = "event" }
deadline = { rule = "workdays_before_event", workdays = 20 }
"""
    (tmp_path / "demo.toml").write_text(text, encoding="utf-8")
    obs = {ob.key: ob for ob in load_pack(tmp_path / "demo.toml").obligations}
    assert obs["demo.12"].sensitive_only is True
    assert obs["demo.1.2"].sensitive_only is False             # the default


def test_missing_citation_source_without_pack_source(tmp_path):
    err = error_for(tmp_path, GOOD.replace('source = "002_e020950e72e664f2.txt"\n', ""))
    assert (err.key, err.field) == ("demo.1.2", "citation.source")


def test_line_of_the_key_for_an_error_in_a_later_obligation(tmp_path):
    text = GOOD.replace('xun = "mid"', 'xun = "mid"\nopens_days_before = -2')
    err = error_for(tmp_path, text)
    assert (err.key, err.field, err.line) == ("demo.meeting", "deadline.opens_days_before",
                                              line_of(text, "opens_days_before"))


def test_anchor_must_share_the_schedule_of_its_meeting(tmp_path):
    text = GOOD.replace('kind = "quarterly"\n\n[obligation.deadline]\nrule = "before_anchor"',
                        'kind = "monthly"\n\n[obligation.deadline]\nrule = "before_anchor"')
    err = error_for(tmp_path, text)
    assert (err.key, err.field) == ("demo.before", "anchor")
    assert "周期一致" in err.message


def test_anchor_on_an_obligation_without_anchor_rule_is_rejected(tmp_path):
    text = GOOD.replace('responsible = "secretary"', 'responsible = "secretary"\nanchor = "demo.meeting"')
    err = error_for(tmp_path, text)
    assert (err.key, err.field) == ("demo.1.2", "anchor")


def test_wrong_value_types_are_named(tmp_path):
    err = error_for(tmp_path, GOOD.replace('title = "联席会议（季度）"', "title = 3"))
    assert (err.key, err.field) == ("demo.meeting", "title")
    err = error_for(tmp_path, GOOD.replace('applies_to = ["office"]', 'applies_to = "office"'))
    assert (err.key, err.field) == ("demo.before", "applies_to")


# ---------------------------------------------------------------------------------------------
# Several packs


def test_load_packs_finds_bundled_packs_by_name_and_reads_extra_dirs(tmp_path, monkeypatch):
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    write(bundled, GOOD)
    extra = tmp_path / "extra"
    extra.mkdir()
    write(extra, GOOD.replace('name = "demo"', 'name = "mine"').replace('"demo.', '"mine.'), "mine.toml")
    monkeypatch.setattr(packs_module, "bundled_pack_dir", lambda: bundled)
    loaded = load_packs(["demo"], [extra])
    assert [p.name for p in loaded] == ["demo", "mine"]
    assert packs_module.bundled_pack_names() == ["demo"]


def test_unknown_bundled_pack_name_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(packs_module, "bundled_pack_dir", lambda: tmp_path)
    write(tmp_path, GOOD)
    with pytest.raises(PackError, match="没有名为 'nope' 的内置规则包（内置：demo）"):
        load_packs(["nope"])


def test_same_pack_twice_across_dirs_is_reported_on_the_second_file(tmp_path):
    # Keys start with their pack's name, so keys can only clash across packs through a pack
    # name used twice: that is reported on the second file's `name` line.
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    write(a, GOOD)
    write(b, GOOD, "copy.toml")
    with pytest.raises(PackError) as exc:
        load_packs([], [a, b])
    err = exc.value
    assert (err.file, err.key, err.field, err.line) == (b / "copy.toml", None, "name", 1)
    assert f"在 {a / 'demo.toml'} 中也有定义" in err.message
    assert "demo.1.2" in err.message  # names a clashing key


def test_anchor_into_another_loaded_pack_is_accepted(tmp_path):
    write(tmp_path, GOOD)
    other = GOOD.replace('name = "demo"', 'name = "demo3"').replace('"demo.', '"demo3.').replace(
        'anchor = "demo3.meeting"', 'anchor = "demo.meeting"')
    write(tmp_path, other, "third.toml")
    loaded = load_packs([], [tmp_path])
    assert loaded[1].obligations[2].anchor == "demo.meeting"


def test_anchor_into_another_pack_must_exist_when_packs_load_together(tmp_path):
    third = GOOD.replace('name = "demo"', 'name = "demo3"').replace('"demo.', '"demo3.').replace(
        'anchor = "demo3.meeting"', 'anchor = "demo.nothing"')
    write(tmp_path, third, "third.toml")
    with pytest.raises(PackError) as exc:
        load_packs([], [tmp_path])
    err = exc.value
    assert (err.key, err.field) == ("demo3.before", "anchor")
    assert err.line == line_of(third, 'anchor = "demo.nothing"')


def test_check_dir_reports_every_broken_pack_and_skips_none(tmp_path):
    write(tmp_path, GOOD, "good.toml")
    write(tmp_path, GOOD.replace('name = "demo"', 'name = "b"').replace('"demo.', '"b.').replace("day = 15", "day = 0"),
          "b.toml")
    write(tmp_path, GOOD.replace('name = "demo"', 'name = "c"').replace('"demo.', '"c.')
          .replace('xun = "mid"', 'xun = "late"\nfoo = 1').replace("times = 1", "times = -1"), "c.toml")
    write(tmp_path, "name = [", "d.toml")
    errors = check_dir(tmp_path)
    summary = sorted((e.file.name, e.key, e.field) for e in errors)
    assert summary == [
        ("b.toml", "b.1.2", "deadline.day"),
        ("c.toml", "c.meeting", "deadline.foo"),
        ("c.toml", "c.meeting", "times"),
        ("d.toml", None, None),
    ]


def test_check_dir_of_good_packs_is_empty_and_missing_dir_is_reported(tmp_path):
    write(tmp_path, GOOD)
    assert check_dir(tmp_path) == []
    [err] = check_dir(tmp_path / "missing")
    assert "不是目录" in str(err)


def test_missing_extra_dir_is_an_error(tmp_path):
    with pytest.raises(PackError, match="找不到规则包目录"):
        load_packs([], [tmp_path / "nope"])


def test_a_broken_scorecard_refuses_the_pack_and_check_dir_reports_it(tmp_path):
    text = GOOD.replace('[reminders]', '[scorecard]\ntotal = 100\n\n[reminders]', 1)
    err = error_for(tmp_path, text)
    assert str(tmp_path / "demo.toml") in str(err) and "scorecard" in str(err)
    assert any("scorecard" in str(e) for e in check_dir(tmp_path))


def test_the_bundled_scorecard_is_checked_when_its_pack_loads():
    pack = load_pack(packs_module.bundled_pack_dir() / "jincheng-2020.toml")
    assert pack.scorecard["total"] == 100


def test_check_dir_reports_every_bad_field_of_one_table(tmp_path):
    # Issue 10 (11): a file with two bad fields gives two errors, each with its field and line.
    text = GOOD.replace('rule = "day_in_last_month"\nday = 15',
                        'rule = "day_in_last_month"\nday = 40\nroll = "sideways"')
    write(tmp_path, text)
    errors = check_dir(tmp_path)
    assert sorted((e.key, e.field, e.line) for e in errors) == [
        ("demo.1.2", "deadline.day", line_of(text, "day = 40")),
        ("demo.1.2", "deadline.roll", line_of(text, 'roll = "sideways"')),
    ]


def test_check_dir_reports_month_and_day_of_a_fixed_date_and_a_bad_xun(tmp_path):
    text = GOOD.replace('rule = "day_in_last_month"\nday = 15', 'rule = "fixed"\nmonth = 13\nday = 40')
    text = text.replace('xun = "mid"', 'xun = "middle"\nmonth = 0')
    write(tmp_path, text)
    found = sorted((e.key, e.field) for e in check_dir(tmp_path))
    assert found == [("demo.1.2", "deadline.day"), ("demo.1.2", "deadline.month"),
                     ("demo.meeting", "deadline.month"), ("demo.meeting", "deadline.xun")]


# ------------------------------------------------------------------ documents (issue 7: names a person recognises)

DOCUMENTS = '''
[documents."002_e020950e72e664f2.txt"]
title = "《落实意识形态工作责任制考核办法（试行）》"
number = "晋市职院党〔2020〕44号"
'''


def _with_documents(text: str) -> str:
    return GOOD.replace('issued = "2020-12-28"\n', 'issued = "2020-12-28"\n' + text, 1)


def test_documents_name_the_cited_source_and_cite_shows_title_and_number(tmp_path):
    from obligations.citations import cite

    pack = load_pack(write(tmp_path, _with_documents(DOCUMENTS)))
    report, meeting = pack.obligations[0], pack.obligations[1]
    assert cite(report.citation) == "《落实意识形态工作责任制考核办法（试行）》晋市职院党〔2020〕44号 考核评分体系 1.2"
    assert cite(report.citation, quote=True).endswith("：「支部每半年末15日前向党委宣传部书面汇报1次意识形态工作情况」")
    # a source the pack does not name: the file name stands in
    assert cite(meeting.citation) == "004_7de5d04c64a363aa.txt 九 4"


@pytest.mark.parametrize("text, field, message", [
    ('[documents."002_e020950e72e664f2.txt"]\nnumber = "x"\n', "documents.002_e020950e72e664f2.txt.title",
     "缺少必填字段"),
    ('[documents."002_e020950e72e664f2.txt"]\ntitle = "t"\nnumbr = "x"\n',
     "documents.002_e020950e72e664f2.txt.numbr", "是否想写 'number'"),
    ('[documents."009_nobody.txt"]\ntitle = "t"\n', "documents.009_nobody.txt", "没有事项引用 '009_nobody.txt'"),
    ('documents = "x"\n', "documents", "必须由 [documents.\"<来源文件>\"] 表组成"),
])
def test_bad_documents_are_refused_with_the_field_named(tmp_path, text, field, message):
    other = DOCUMENTS.replace("002_e020950e72e664f2.txt", "004_7de5d04c64a363aa.txt")
    full = _with_documents(text if text.startswith("documents =") else other + text)
    with pytest.raises(PackError) as e:
        load_pack(write(tmp_path, full))
    assert e.value.field == field and message in e.value.message
    # the line of the entry (or its field), not the first [documents] table
    wanted = text.splitlines()[-1].split("=")[0].strip() if "numbr" in text else text.splitlines()[0]
    assert e.value.line == line_of(full, wanted)


def test_unit_kinds_have_one_chinese_mapping():
    from obligations.packs import UNIT_KIND_NAMES, UNIT_KINDS, unit_kind_name
    from scheduler.models import UNIT_KINDS as DB_KINDS

    assert set(UNIT_KIND_NAMES) == set(UNIT_KINDS)
    assert [unit_kind_name(k) for k in ("committee", "branch", "dept_branch", "office")] == [
        "党委", "党支部", "系党支部", "处室"]
    assert DB_KINDS == {k: UNIT_KIND_NAMES[k] for k in DB_KINDS}


def test_a_bad_top_level_field_and_a_broken_scorecard_are_both_reported(tmp_path):
    text = GOOD.replace('issued = "2020-12-28"', 'issued = "28.12.2020"')
    text = text.replace('[reminders]', '[scorecard]\ntotal = 100\n\n[reminders]', 1)
    write(tmp_path, text)
    errors = check_dir(tmp_path)
    assert [e.field for e in errors if e.field == "issued"] == ["issued"]
    assert any("scorecard" in str(e) for e in errors), [str(e) for e in errors]
