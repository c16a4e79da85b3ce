"""Planning reminders into the outbox: digests, windows, stages told once, escalation, settling."""

from datetime import datetime

import pytest
from sqlmodel import select

from notifiers.base import Delivery
from notifiers.email import EmailChannel
from notifiers.local_outbox import LocalOutbox
from notifiers.rendering import make_environment
from notifiers.secrets import Secret
from notifiers.wecom_robot import WeComRobotChannel
from scheduler import outbox
from scheduler.app import open_app
from scheduler.materialise import materialise
from scheduler.models import Occurrence, Outbox, OutboxItem, Person, RoleAssignment, Submission, Unit
from scheduler.planner import Directory, Planner, routes_for
from scheduler.submissions import refresh_occurrences
from tests.conftest import REMINDER_ORG


@pytest.fixture
def make_app(reminder_config, tmp_path):
    apps = []

    def make(*obligations, org=REMINDER_ORG):
        app = open_app(reminder_config(*obligations, org=org))
        materialise(app, [2026])
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.engine.dispose()


def planner(app, channels=None):
    channels = channels or {"email": LocalOutbox(app.config.general.data_dir / "outbox", kind="email")}
    return Planner(app, channels, make_environment())


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def messages(app):
    """{recipient name: [(topic, status, {unit: stage})]} of every outbox row."""
    with app.session() as s:
        people = {p.id: p.name for p in s.exec(select(Person)).all()}
        out = {}
        for row in s.exec(select(Outbox).order_by(Outbox.id)).all():
            items = s.exec(select(OutboxItem, Occurrence).join(
                Occurrence, Occurrence.id == OutboxItem.occurrence_id)
                .where(OutboxItem.outbox_id == row.id, OutboxItem.state == "listed")).all()
            out.setdefault(people[row.person_id], []).append(
                (row.topic, row.status, {occ.unit_code: item.stage for item, occ in items}))
        return out


def body(app, name):
    with app.session() as s:
        person = s.exec(select(Person).where(Person.name == name)).one()
        row = s.exec(select(Outbox).where(Outbox.person_id == person.id)
                     .order_by(Outbox.id.desc())).first()
        return row.title, row.body_text


def send_all(app, now):
    with app.session() as s:
        for row in outbox.claim_due(s, "email", now, 100):
            outbox.mark_result(s, row, [Delivery.success(None)], now)


def test_one_message_per_person_and_window_listing_all_their_units(make_app):
    app = make_app("spring")
    report = planner(app).plan(at("2026-03-11 10:00"))
    assert (report.open_occurrences, report.entries, report.created) == (3, 3, 2)
    assert messages(app) == {
        "许芳": [("digest:2026-03-11", "planned", {"B1": "notice", "B3": "notice"})],
        "吕刚": [("digest:2026-03-11", "planned", {"B2": "notice"})],
    }
    title, text = body(app, "许芳")
    assert title == "【意识形态工作提醒】2 项工作待办，最早3月20日截止"
    assert text.index("【第一党支部】") < text.index("【第三党支部】")
    assert "许芳同志：您好！" in text and "需报送：研判报告" in text


def test_passes_in_the_same_window_plan_nothing_new(make_app):
    app = make_app("spring")
    p = planner(app)
    p.plan(at("2026-03-11 10:00"))
    before = messages(app)
    for when in ("2026-03-11 10:01", "2026-03-11 17:59", "2026-03-12 10:00"):
        report = p.plan(at(when))
        assert (report.entries, report.created) == (0, 0), when
    send_all(app, at("2026-03-11 10:02"))
    report = p.plan(at("2026-03-16 10:00"))   # told at this stage already: not repeated
    assert (report.entries, report.created) == (0, 0)
    assert len(messages(app)["许芳"]) == len(before["许芳"]) == 1


def test_a_stage_reached_before_sending_replaces_the_earlier_one(make_app):
    app = make_app("spring")
    p = planner(app)
    p.plan(at("2026-03-18 19:00"))            # evening: planned for Thursday 09:00
    assert messages(app)["吕刚"] == [("digest:2026-03-19", "planned", {"B2": "before-3d"})]
    p.plan(at("2026-03-19 08:00"))            # Thursday: 1 working day before due
    assert messages(app)["吕刚"] == [("digest:2026-03-19", "planned", {"B2": "before-1wd"})]
    with app.session() as s:                  # the earlier stage stays recorded as superseded
        lv = s.exec(select(Person).where(Person.name == "吕刚")).one()
        states = sorted(s.exec(select(OutboxItem.stage, OutboxItem.state)
                               .where(OutboxItem.person_id == lv.id)).all())
    assert states == [("before-1wd", "listed"), ("before-3d", "superseded")]


def test_new_items_after_the_window_message_went_out_wait_for_the_next_window(make_app):
    app = make_app("spring")
    p = planner(app)
    p.plan(at("2026-03-11 10:00"))
    send_all(app, at("2026-03-11 10:01"))
    with app.session() as s:                  # a new branch for 许芳 the same afternoon
        s.add(Unit(code="B4", name="第四党支部", kind="branch", parent_code="DW"))
        xu = s.exec(select(Person).where(Person.name == "许芳")).one()
        s.add(RoleAssignment(unit_code="B4", person_id=xu.id, role="secretary"))
    materialise(app, [2026])
    report = p.plan(at("2026-03-11 15:00"))
    assert report.created == 1
    assert messages(app)["许芳"] == [
        ("digest:2026-03-11", "sent", {"B1": "notice", "B3": "notice"}),
        ("digest:2026-03-12", "planned", {"B4": "notice"}),
    ]


def test_a_submission_takes_the_item_out_and_an_empty_message_is_cancelled(make_app):
    app = make_app("spring")
    p = planner(app)
    p.plan(at("2026-03-11 07:00"))
    with app.session() as s:
        for unit in ("B1", "B2"):
            occ = s.exec(select(Occurrence).where(Occurrence.unit_code == unit)).one()
            s.add(Submission(occurrence_id=occ.id, submitted_at=at("2026-03-11 08:00")))
            refresh_occurrences(s, [occ.id])   # what every write path does (submissions.py)
    report = p.plan(at("2026-03-11 08:30"))
    assert (report.settled, report.updated, report.cancelled) == (2, 1, 1)
    assert messages(app) == {
        "许芳": [("digest:2026-03-11", "planned", {"B3": "notice"})],
        "吕刚": [("digest:2026-03-11", "cancelled", {})],
    }
    assert "第一党支部" not in body(app, "许芳")[1]


def test_catch_up_collapses_missed_stages_into_the_current_one(make_app):
    app = make_app("spring")
    planner(app).plan(at("2026-03-26 10:00"))   # first pass long after the window opened
    assert messages(app)["吕刚"] == [("digest:2026-03-26", "planned", {"B2": "overdue-2"})]


def test_a_pass_for_a_past_day_reminds_work_completed_after_that_day(make_app):
    # B1 reported on 25 March; a pass for 11 March (a replay, `tick --now`) still sees it open
    # then, and B2 (never reported) too. Without the later report nothing is asked twice.
    app = make_app("spring")
    with app.session() as s:
        occ = s.exec(select(Occurrence).where(Occurrence.unit_code == "B1")).one()
        s.add(Submission(occurrence_id=occ.id, submitted_at=at("2026-03-25 09:00")))
        refresh_occurrences(s, [occ.id])
    report = planner(app).plan(at("2026-03-11 10:00"))
    assert report.open_occurrences == 3
    assert messages(app)["许芳"] == [("digest:2026-03-11", "planned", {"B1": "notice", "B3": "notice"})]
    later = planner(app).plan(at("2026-03-26 10:00"))      # after the report: B1 is done
    assert "B1" not in {u for _, _, units in messages(app)["许芳"][1:] for u in units}
    assert later.open_occurrences == 2


def test_escalation_tells_the_supervisor_and_the_propaganda_contact(make_app):
    # 许芳 supervises B2 as well as being secretary of B1 and B3: one message, B2 marked.
    org = REMINDER_ORG.replace("赵敏,zhao@example.edu.cn", "许芳,xu@example.edu.cn")
    app = make_app("spring", org=org)
    p = planner(app)
    p.plan(at("2026-03-23 10:00"))            # overdue-1: no escalation yet
    assert set(messages(app)) == {"许芳", "吕刚"}
    send_all(app, at("2026-03-23 10:01"))
    p.plan(at("2026-03-25 10:00"))            # overdue-2: escalates
    got = messages(app)
    assert got["许芳"][-1] == ("digest:2026-03-25", "planned",
                              {"B1": "overdue-2", "B2": "overdue-2", "B3": "overdue-2"})
    assert got["孙宣"] == [("digest:2026-03-25", "planned",
                          {"B1": "overdue-2", "B2": "overdue-2", "B3": "overdue-2"})]
    assert got["王建国"] == [("digest:2026-03-25", "planned", {"B1": "overdue-2", "B3": "overdue-2"})]
    _, text = body(app, "许芳")
    assert "【第二党支部】　逾期督办，责任人：吕刚（书记）" in text
    assert "【第一党支部】\n" in text          # her own units are not marked
    title, text = body(app, "孙宣")
    assert title.startswith("【逾期督办】") and "以下 3 个单位仍有 3 项" in text


def test_who_is_told_when_roles_are_missing(session):
    session.add_all([Unit(code="DW", name="党委", kind="committee"),
                     Unit(code="XCB", name="宣传部", kind="office", parent_code="DW"),
                     Unit(code="B1", name="一支部", kind="branch", parent_code="DW"),
                     Unit(code="B2", name="二支部", kind="branch", parent_code="DW")])
    session.add_all([Person(id=i, key=f"p{i}", name=f"P{i}") for i in range(1, 6)])
    session.flush()
    session.add_all([RoleAssignment(unit_code=u, person_id=p, role=r) for u, p, r in (
        ("DW", 1, "secretary"), ("XCB", 2, "secretary"), ("XCB", 3, "head"),
        ("B1", 4, "secretary"), ("B1", 5, "head"))])
    session.commit()
    d = Directory(session, "XCB")
    assert d.audience("B1", "secretary").responsible == ("4",)
    assert d.audience("B1", "head").responsible == ("5",)
    assert d.audience("B1", "propaganda").responsible == ("4",)   # nobody: the secretary
    assert d.supervisors("B1") == (1,)        # no supervisor recorded: the parent's secretary
    assert d.propaganda == (3,)               # no propaganda contact: the department's head
    assert d.audience("B2", "secretary").responsible == ()


def test_nobody_to_tell_is_reported_not_dropped(make_app):
    org = REMINDER_ORG.replace("B2,第二党支部,党支部,DW,吕刚,lv@example.edu.cn",
                               "B2,第二党支部,党支部,DW,,")
    app = make_app("spring", org=org)
    report = planner(app).plan(at("2026-03-11 10:00"))
    assert report.unaddressed == ["B2 rpack.spring 2026"]


def test_count_based_obligations_show_progress(make_app):
    app = make_app("study")
    with app.session() as s:
        occ = s.exec(select(Occurrence).where(Occurrence.unit_code == "B2",
                                              Occurrence.period == "2026-Q1")).one()
        s.add(Submission(occurrence_id=occ.id, submitted_at=at("2026-03-02 15:00")))
        refresh_occurrences(s, [occ.id])
    planner(app).plan(at("2026-03-24 10:00"))
    _, text = body(app, "吕刚")
    assert "还差 2 次，剩余 7 天" in text


def test_a_provisional_flag_without_a_reason_is_not_shown(make_app):
    # Deliberate change (issue 7): the message states the true reason for a provisional date.
    # 2026's holidays are published and this obligation hangs on no meeting, so a stale flag
    # (set before a holiday import, say) says nothing; above all not "节假日安排未公布".
    # The real reasons are tested in tests/scheduler/test_truthful_reminders.py.
    app = make_app("spring")
    with app.session() as s:
        occ = s.exec(select(Occurrence).where(Occurrence.unit_code == "B2")).one()
        occ.provisional = True
        s.add(occ)
    planner(app).plan(at("2026-03-11 10:00"))
    assert "暂定" not in body(app, "吕刚")[1] and "节假日" not in body(app, "吕刚")[1]


def test_routes_per_person(tmp_path):
    both = Person(key="a", name="A", email="a@example.edu.cn", wecom_userid="A")
    wecom_only = Person(key="b", name="B", wecom_userid="B")
    local = {"email": LocalOutbox(tmp_path, kind="email"),
             "wecom_robot": LocalOutbox(tmp_path, kind="wecom"),
             "wecom_app": LocalOutbox(tmp_path, kind="wecom")}
    # The local stand-in writes one file per message: .eml if possible, else .md.
    assert routes_for(both, local) == ["email"]
    assert routes_for(wecom_only, local) == ["wecom_app"]
    real = {"email": EmailChannel(host="127.0.0.1", from_addr="ccal@example.edu.cn"),
            "wecom_robot": WeComRobotChannel(key=Secret("K", "k" * 20))}
    assert routes_for(both, real) == ["email", "wecom_robot"]
    assert routes_for(wecom_only, real) == ["wecom_robot"]
    assert routes_for(both, real, allowed=("email",)) == ["email"]


def test_an_occurrence_open_again_is_reminded_again(make_app):
    app = make_app("spring")
    p = planner(app)
    p.plan(at("2026-03-11 07:00"))
    with app.session() as s:
        occ = s.exec(select(Occurrence).where(Occurrence.unit_code == "B2")).one()
        sub = Submission(occurrence_id=occ.id, submitted_at=at("2026-03-11 07:30"))
        s.add(sub)
        refresh_occurrences(s, [occ.id])
    p.plan(at("2026-03-11 08:00"))
    assert messages(app)["吕刚"] == [("digest:2026-03-11", "cancelled", {})]
    with app.session() as s:           # the submission is withdrawn: B2 is open again
        s.add(Submission(occurrence_id=occ.id, submitted_at=at("2026-03-11 08:10"),
                         withdrawn=True, corrects_id=sub.id))
        refresh_occurrences(s, [occ.id])
    report = p.plan(at("2026-03-11 08:30"))
    assert report.entries == 1
    assert messages(app)["吕刚"] == [("digest:2026-03-11", "planned", {"B2": "notice"})]


def test_event_relative_obligations_are_reminded_before_their_computed_deadline(make_app):
    from datetime import date, timedelta

    from scheduler.submissions import record_event

    app = make_app("lecture")
    record_event(app, "rpack.lecture", "B2", date(2026, 4, 30), title="名家讲坛")
    due = app.calendar.workdays_before(date(2026, 4, 30), 20).date
    eve = app.calendar.add_workdays(due, -1)
    p = planner(app)
    assert p.plan(at(f"{eve - timedelta(days=8)} 10:00")).entries == 0   # before its notice
    p.plan(at(f"{eve} 10:00"))
    (topic, status, stages), = messages(app)["吕刚"]
    assert stages == {"B2": "before-1wd"}
    _, text = body(app, "吕刚")
    assert "讲座论坛报批" in text and "名家讲坛（2026-04-30）" in text
    assert f"{due.year}年{due.month}月{due.day}日" in text


# --------------------------------------------------------------------------- deductions

# A one-item scorecard for the deduction tests (the reminder packs have none).
SCORE_PACK = '''
name = "spack"
title = "考核测试规则包"
source = "test.txt"

[scorecard]
title = "考核测试"
total = 5

[[scorecard.part]]
id = "1"
title = "阵地管理"
points = 5

[[scorecard.item]]
id = "1.1"
title = "宣传阵地管理"
points = 5
standard = "发现一处问题扣1分"

[[scorecard.item.rule]]
kind = "deductions"
points = 5

[scorecard.bonus]
id = "2"
title = "特色加分"
max = 5

[scorecard.negative]
id = "3"
title = "负面清单"
'''


@pytest.fixture
def scored_app(reminder_config, tmp_path):
    def make(*obligations, org=REMINDER_ORG):
        cfg = reminder_config(*obligations, org=org)
        (tmp_path / "packs" / "spack.toml").write_text(SCORE_PACK, encoding="utf-8")
        app = open_app(cfg)
        materialise(app, [2026])
        return app
    return make


def find(app, unit, text, found_on="2026-03-10", count=1):
    from scheduler.ledger import add_finding
    return add_finding(app, unit, "1.1", text, found_on=datetime.fromisoformat(found_on).date(), count=count)


def notices(app):
    """(person, channel, outbox id) of every score_notice row."""
    from scheduler.models import ScoreNotice
    with app.session() as s:
        people = {p.id: p.name for p in s.exec(select(Person)).all()}
        return [(people[n.person_id], n.channel, n.outbox_id)
                for n in s.exec(select(ScoreNotice).order_by(ScoreNotice.id)).all()]


def test_a_deduction_alone_is_a_message_of_its_own_told_once(scored_app):
    app = scored_app()                         # no obligation: nothing to remind
    find(app, "B2", "宣传栏张贴过期材料", count=2)
    p = planner(app)
    report = p.plan(at("2026-03-11 19:00"))    # evening: for the next window
    assert (report.deductions, report.created, report.entries) == (1, 1, 0)
    with app.session() as s:
        (row,) = s.exec(select(Outbox)).all()
    assert (row.topic, row.status) == ("digest:2026-03-12", "planned")
    assert notices(app) == [("吕刚", "email", row.id)]           # marked with the message
    assert row.title == "【意识形态工作考核】扣分通知：第二党支部1.1 扣2分"
    assert "1. 第二党支部：2026年度考核 1.1 宣传阵地管理，扣2分（2026-03-10 发现：宣传栏张贴过期材料，2处，扣2分）" \
        in row.body_text
    assert "需要您关注" not in row.body_text and "以下 1 项考核扣分已记入" in row.body_text
    assert p.plan(at("2026-03-11 19:05")).deductions == 0       # a re-run tells nothing twice
    send_all(app, at("2026-03-12 09:00"))
    assert p.plan(at("2026-03-13 10:00")).deductions == 0       # nor does the next day's pass


def test_a_deduction_joins_the_secretary_s_digest_on_each_of_her_channels(scored_app):
    app = scored_app("spring")
    find(app, "B3", "网站栏目内容未及时更新")
    channels = {"email": EmailChannel(host="127.0.0.1", from_addr="ccal@example.edu.cn"),
                "wecom_robot": WeComRobotChannel(key=Secret("K", "k" * 20))}
    report = planner(app, channels).plan(at("2026-03-11 10:00"))
    assert report.deductions == 2                              # 许芳: email and the group robot
    with app.session() as s:
        xu = s.exec(select(Person).where(Person.name == "许芳")).one()
        rows = s.exec(select(Outbox).where(Outbox.person_id == xu.id).order_by(Outbox.channel)).all()
    assert [(r.channel, r.topic) for r in rows] == [("email", "digest:2026-03-11"), ("wecom_robot", "digest:2026-03-11")]
    assert notices(app) == [("许芳", "email", rows[0].id), ("许芳", "wecom_robot", rows[1].id)]
    for r in rows:                                           # with her reminders, in one message
        assert "【第一党支部】" in r.body_text and "【考核扣分通知】" in r.body_text
        assert "第三党支部：2026年度考核 1.1 宣传阵地管理，扣1分" in r.body_text
        assert r.title.endswith("（另有考核扣分通知 1 项）")
        assert "### 考核扣分通知" in r.body_markdown and "<li>第三党支部：" in r.body_html
    assert "考核扣分" not in body(app, "吕刚")[1]                  # B2's secretary: nothing of B3


def test_a_deduction_corrected_before_its_message_goes_out_is_told_as_corrected(scored_app):
    from scheduler.ledger import correct_finding

    app = scored_app()
    first = find(app, "B2", "宣传栏张贴过期材料", count=2)
    p = planner(app)
    p.plan(at("2026-03-11 19:00"))
    correct_finding(app, first.finding.id, "复查只有1处", count=1)
    assert p.plan(at("2026-03-11 20:00")).deductions == 1
    assert messages(app)["吕刚"] == [("digest:2026-03-12", "planned", {})]   # the same message, as corrected
    _, text = body(app, "吕刚")
    assert "扣2分" not in text and "更正（复查只有1处）：2026-03-10 发现：宣传栏张贴过期材料，扣1分" in text
    correct_finding(app, first.finding.id + 1, "复核后撤销", deduct=0)
    with app.session() as s:
        report = p.settle(s, at("2026-03-11 21:00"))
    assert report.cancelled == 1                               # withdrawn: nothing left to tell
    assert messages(app)["吕刚"] == [("digest:2026-03-12", "cancelled", {})]
    assert p.plan(at("2026-03-11 21:05")).deductions == 0


def test_a_deduction_nobody_can_be_told_of_is_reported_and_kept(scored_app):
    org = REMINDER_ORG.replace("B2,第二党支部,党支部,DW,吕刚,lv@example.edu.cn", "B2,第二党支部,党支部,DW,,")
    app = scored_app(org=org)
    find(app, "B2", "宣传栏张贴过期材料")
    report = planner(app).plan(at("2026-03-11 10:00"))
    assert report.unaddressed == ["B2 考核扣分 2026 1.1"] and report.deductions == 0
    assert notices(app) == []                                  # told once a secretary is recorded


def test_a_pass_reads_outbox_items_per_pass_not_per_item_and_renders_each_message_once(make_app, monkeypatch):
    # Issue 8: the planner builds each person's digest once per pass with set-based queries.
    from sqlalchemy import event

    app = make_app("spring", "study")
    p = planner(app)
    statements = []
    listener = lambda conn, cur, sql, params, ctx, many: statements.append(sql)  # noqa: E731
    event.listen(app.engine, "before_cursor_execute", listener)
    rendered = []
    real = Planner.render

    def counting(self, session, directory, row, now):
        rendered.append(row.id)
        return real(self, session, directory, row, now)
    monkeypatch.setattr(Planner, "render", counting)
    report = p.plan(at("2026-03-25T10:00"))     # spring overdue and escalated, studies open
    event.remove(app.engine, "before_cursor_execute", listener)
    assert report.entries >= 6
    per_item = [s for s in statements if "FROM outbox_item" in s and "outbox_item.occurrence_id = " in s]
    assert per_item == []
    assert sorted(rendered) == sorted(set(rendered)) and len(rendered) == report.created + report.updated
