"""Digest templates: Chinese wording, grouping by unit, escaping, overrides."""

from __future__ import annotations

from datetime import date

import pytest

from notifiers.rendering import (Deduction, Digest, DigestGroup, DigestItem, TemplateRenderError,
                                 group_by_unit, make_environment, period_name, points_text, render_digest)

AS_OF = date(2026, 11, 21)


def item(key="jincheng-2020.1.2", title="向党委宣传部书面汇报意识形态工作", period="2026-H2",
         due=date(2026, 12, 15), **kw) -> DigestItem:
    return DigestItem(key=key, title=title, period=period, due=due, **kw)


def render(groups, **kw):
    return render_digest(Digest(kw.pop("salutation", "王老师"), kw.pop("as_of", AS_OF), tuple(groups), **kw),
                         make_environment())


def test_reminder_greets_lists_and_signs_in_chinese():
    r = render([DigestGroup("经济管理系党支部", (item(),))])
    assert r.text.startswith("王老师：您好！\n")
    assert "【经济管理系党支部】" in r.text
    assert "向党委宣传部书面汇报意识形态工作" in r.text
    assert "截止日期：2026年12月15日（周二）" in r.text
    assert "所属周期：2026年下半年" in r.text
    assert "事项编号：jincheng-2020.1.2" in r.text
    assert r.text.rstrip().endswith("党委宣传部\n2026年11月21日")
    assert r.subject == "【意识形态工作提醒】向党委宣传部书面汇报意识形态工作（12月15日截止）"


@pytest.mark.parametrize("due,wording", [
    (date(2026, 11, 26), "即将到期（还有 5 天）"),
    (date(2026, 11, 21), "今日到期"),
    (date(2026, 11, 18), "已逾期 3 天"),
])
def test_stage_wording_follows_the_due_date(due, wording):
    r = render([DigestGroup("机电系党支部", (item(due=due),))])
    for body in (r.text, r.html, r.markdown):
        assert wording in body


def test_count_based_item_says_how_many_are_missing_and_how_long_is_left():
    r = render([DigestGroup("党委", (item(key="henan-2023.1", title="中心组集体学习", period="2026",
                                         due=date(2026, 12, 31), done=2, required=6),))])
    assert "完成进度：还差 4 次，剩余 40 天（已完成 2 次，要求 6 次）" in r.text
    assert "还差 4 次，剩余 40 天" in r.markdown and "还差 4 次，剩余 40 天" in r.html


@pytest.mark.parametrize("due,done,wording", [
    (date(2026, 11, 21), 5, "还差 1 次，今天截止"),
    (date(2026, 11, 16), 4, "还差 2 次，已逾期 5 天"),
    (date(2026, 12, 31), 6, "已完成 6 次（要求 6 次）"),
])
def test_count_progress_wording_matches_the_reminder_policy_wording(due, done, wording):
    r = render([DigestGroup("党委", (item(due=due, done=done, required=6),))])
    assert f"完成进度：{wording}" in r.text


def test_single_submission_item_shows_no_progress_line():
    r = render([DigestGroup("党委", (item(),))])
    assert "完成进度" not in r.text


def test_provisional_date_is_marked_everywhere_with_its_true_reason():
    # issue 7: the reason is the item's own, never the holiday wording by default.
    r = render([DigestGroup("党委", (item(due=date(2027, 1, 29), provisional=True,
                                           provisional_reasons=("holidays",)),))])
    for body in (r.text, r.html, r.markdown):
        assert "（日期为暂定，节假日安排未公布）" in body
    meeting = render([DigestGroup("党委", (item(due=date(2026, 3, 30), provisional=True,
                                                 provisional_reasons=("meeting",)),))])
    for body in (meeting.text, meeting.html, meeting.markdown):
        assert "（日期为暂定，所依据的会议日期尚未登记）" in body and "节假日" not in body
    plain = render([DigestGroup("党委", (item(),))])
    assert "暂定" not in plain.text


def test_a_moved_due_date_is_announced_in_every_format():
    r = render([DigestGroup("党委", (item(due=date(2026, 3, 27), moved_from=date(2026, 3, 30)),))],
               as_of=date(2026, 3, 31))
    for body in (r.text, r.html, r.markdown):
        assert "截止日期已由3月30日调整为3月27日" in body and "已过新的截止日期" in body
    same = render([DigestGroup("党委", (item(moved_from=date(2026, 12, 15)),))])
    assert "调整为" not in same.text


def test_the_citation_names_the_document():
    cited = "《落实意识形态工作责任制考核办法（试行）》晋市职院党〔2020〕44号 考核评分体系 1.2"
    r = render([DigestGroup("党委", (item(citation=cited),))])
    for body in (r.text, r.markdown):
        assert f"依据：{cited}" in body
    assert "依据：《落实意识形态工作责任制考核办法（试行）》" in r.html


def test_secretary_of_several_units_gets_items_grouped_by_unit():
    pairs = [
        ("经济管理系党支部", item(key="a", title="半年书面汇报", due=date(2026, 12, 15))),
        ("机电系党支部", item(key="b", title="季度研判会议", due=date(2026, 11, 18))),
        ("经济管理系党支部", item(key="c", title="专题会议", due=date(2026, 11, 30))),
    ]
    groups = group_by_unit(pairs)
    assert [g.unit for g in groups] == ["机电系党支部", "经济管理系党支部"]  # most overdue first
    assert [i.key for i in groups[1].items] == ["c", "a"]
    r = render(groups)
    assert "您负责的 2 个单位共有 3 项工作" in r.text
    jd, jg = r.text.index("【机电系党支部】"), r.text.index("【经济管理系党支部】")
    assert jd < r.text.index("季度研判会议") < jg < r.text.index("专题会议") < r.text.index("半年书面汇报")
    assert r.markdown.index("### 机电系党支部") < r.markdown.index("### 经济管理系党支部")
    assert r.subject == "【意识形态工作提醒】1 项工作已逾期，共 3 项待办"


def test_html_is_escaped_but_text_and_markdown_are_not():
    r = render([DigestGroup("A&B <党支部>", (item(title="<script>alert(1)</script>汇报"),))])
    assert "<script>" not in r.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;汇报" in r.html
    assert "A&amp;B &lt;党支部&gt;" in r.html
    assert "<script>alert(1)</script>汇报" in r.text and "【A&B <党支部>】" in r.text
    assert "<script>alert(1)</script>汇报" in r.markdown


def test_escalation_is_addressed_to_supervisor_and_lists_units_with_their_responsible():
    groups = group_by_unit([("机电系党支部", item(due=date(2026, 11, 1))),
                            ("经济管理系党支部", item(key="x", title="季度研判会议", due=date(2026, 10, 31)))],
                           responsible={"机电系党支部": "王芳（支部书记）"})
    r = render(groups, salutation="李书记、张老师", escalation=True, contact="宣传部张老师，电话 0356-1234567")
    assert r.text.startswith("李书记、张老师：您好！")
    assert "以下 2 个单位仍有 2 项意识形态工作逾期未完成" in r.text
    assert "【机电系党支部】　责任人：王芳（支部书记）" in r.text
    assert "已逾期 20 天" in r.text and "已逾期 21 天" in r.text
    assert "宣传部张老师，电话 0356-1234567" in r.text
    assert r.subject == "【逾期督办】经济管理系党支部、机电系党支部共 2 项意识形态工作逾期未完成"


def test_escalation_subject_shortens_a_long_unit_list():
    groups = [DigestGroup(f"第{i}党支部", (item(due=date(2026, 11, 1)),)) for i in range(1, 6)]
    r = render(groups, escalation=True)
    assert r.subject == "【逾期督办】第1党支部、第2党支部、第3党支部等 5 个单位共 5 项意识形态工作逾期未完成"


def test_subject_is_one_line_even_if_a_title_has_a_newline():
    r = render([DigestGroup("党委", (item(title="第一行\n第二行"),))])
    assert "\n" not in r.subject


@pytest.mark.parametrize("label,name", [
    ("2026", "2026年度"), ("2026-06", "2026年6月"), ("2026-Q2", "2026年第二季度"),
    ("2026-H1", "2026年上半年"), ("2026-autumn", "2026年秋季学期"), ("2027-spring", "2027年春季学期"),
    ("2026-kaixue", "2026年开学季"), ("E12", "E12"),
])
def test_period_labels_in_chinese(label, name):
    assert period_name(label) == name


def test_period_name_given_by_the_caller_wins():
    r = render([DigestGroup("党委", (item(period="E12", period_name="讲座《新时代青年》（12月1日）"),))])
    assert "所属周期：讲座《新时代青年》（12月1日）" in r.text


def test_broken_user_template_names_file_and_line(tmp_path):
    (tmp_path / "digest.txt").write_text("{{ digest.salutation }}：您好！\n{% for x in %}\n", encoding="utf-8")
    with pytest.raises(TemplateRenderError) as err:
        render_digest(Digest("王老师", AS_OF, (DigestGroup("党委", (item(),)),)), make_environment(tmp_path))
    assert "digest.txt:2" in str(err.value)


def test_user_template_with_an_unknown_variable_names_file_and_line(tmp_path):
    (tmp_path / "digest.md").write_text("第一行\n{{ digest.no_such_field }}\n", encoding="utf-8")
    with pytest.raises(TemplateRenderError) as err:
        render_digest(Digest("王老师", AS_OF, (DigestGroup("党委", (item(),)),)), make_environment(tmp_path))
    assert "digest.md:2" in str(err.value) and "no_such_field" in str(err.value)


def test_a_digest_can_mix_own_units_and_escalated_units_of_others():
    groups = group_by_unit([("经济管理系党支部", item(key="own", due=date(2026, 11, 30))),
                            ("机电系党支部", item(key="other", due=date(2026, 11, 10)))],
                           responsible={"机电系党支部": "王芳（支部书记）"}, escalated={"机电系党支部"})
    r = render(groups, salutation="李书记")
    assert "【机电系党支部】　逾期督办，责任人：王芳（支部书记）" in r.text
    assert "【经济管理系党支部】\n" in r.text
    assert "### 机电系党支部　逾期督办，责任人：王芳（支部书记）" in r.markdown
    assert "逾期督办，责任人：王芳（支部书记）" in r.html


# --------------------------------------------------------------------------- 考核扣分通知

def deduction(unit="教务处", item_id="4.3", points=2.0, reason="2026-11-03 发现：宣传栏张贴过期材料，2处，扣2分"):
    return Deduction(unit=unit, year=2026, item=item_id, title="新闻舆论和宣传阵地管理", points=points, reason=reason)


def test_a_digest_of_deductions_only_is_a_notice_of_its_own():
    r = render([], salutation="褚振华同志", deductions=(deduction(), deduction("机电系党支部", "4.4", 0.5, "x")))
    assert r.subject == "【意识形态工作考核】扣分通知：教务处4.3 扣2分等 2 项"
    lines = r.text.splitlines()
    assert lines[:4] == ["褚振华同志：您好！", "", "【考核扣分通知】",
                         "以下 2 项考核扣分已记入意识形态工作责任制考核台账，特此告知；如有异议，请与党委宣传部联系："]
    assert lines[4] == "1. 教务处：2026年度考核 4.3 新闻舆论和宣传阵地管理，扣2分（2026-11-03 发现：宣传栏张贴过期材料，2处，扣2分）"
    assert lines[5] == "2. 机电系党支部：2026年度考核 4.4 新闻舆论和宣传阵地管理，扣0.5分（x）"
    assert "需要您关注" not in r.text and "完成后请及时" not in r.text      # no work to do, no closing
    assert "### 考核扣分通知" in r.markdown and "> 2. <font color=\"warning\">机电系党支部：" in r.markdown
    assert "<li>教务处：2026年度考核 4.3 新闻舆论和宣传阵地管理，" in r.html


def test_deductions_follow_the_items_and_are_escaped_in_html():
    r = render([DigestGroup("教务处", (item(),))], deductions=(deduction(reason="发现<b>问题</b>"),))
    assert r.subject.endswith("（12月15日截止） （另有考核扣分通知 1 项）")
    assert r.text.index("【教务处】") < r.text.index("【考核扣分通知】") < r.text.index("完成后请及时")
    assert "发现&lt;b&gt;问题&lt;/b&gt;" in r.html and "<b>问题" not in r.html
    assert "发现<b>问题</b>" in r.text


def test_an_escalation_carries_deductions_too():
    r = render([DigestGroup("教务处", (item(due=date(2026, 11, 10)),), responsible="褚振华（负责人）")],
               escalation=True, deductions=(deduction(),))
    assert r.subject.endswith("逾期未完成（另有考核扣分通知 1 项）")
    assert "【考核扣分通知】" in r.text and "### 考核扣分通知" in r.markdown and "考核扣分通知</h3>" in r.html


@pytest.mark.parametrize("points,text", [(2.0, "2"), (0.5, "0.5"), (1.25, "1.25"), (3.0000001, "3")])
def test_points_are_written_as_the_scorecard_writes_them(points, text):
    assert points_text(points) == text
