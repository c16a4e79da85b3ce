"""The outbox state machine: claim, results, back-off, dead rows, crash recovery, retry."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from notifiers.base import Delivery, Recipient
from scheduler import outbox
from scheduler.models import Outbox, Person

NOW = datetime(2026, 3, 16, 9, 0)
XU = Recipient("许芳", email="xu@example.edu.cn", wecom_userid="XuFang", mobile="13800001071")


@pytest.fixture
def person(session) -> int:
    p = Person(key="xu@example.edu.cn", name="许芳", email="xu@example.edu.cn")
    session.add(p)
    session.commit()
    return p.id


def add_row(session, person, *, topic="digest:2026-03-16", channel="email", due=NOW, **kw):
    row = Outbox(topic=topic, stage="digest", channel=channel, person_id=person,
                 address=outbox.address_json(XU), title="【意识形态工作提醒】1 项工作待办",
                 body_text="许芳同志：您好！", send_at=due, next_attempt_at=due, **kw)
    session.add(row)
    session.commit()
    return row


def ok():
    return [Delivery.success(XU)]


def temporary(error="SMTP 451 4.3.0 Temporary failure"):
    return [Delivery.failure(XU, error, retryable=True)]


def test_the_key_is_unique_so_no_pass_can_plan_a_message_twice(session, person):
    add_row(session, person)
    with pytest.raises(IntegrityError):
        add_row(session, person)
    session.rollback()
    add_row(session, person, channel="wecom_app")            # another channel: another message
    add_row(session, person, topic="digest:2026-03-17")      # another window: another message
    assert len(session.exec(select(Outbox)).all()) == 3


def test_a_claim_marks_due_rows_sending_and_commits_before_anything_is_sent(engine, session, person):
    due = add_row(session, person)
    add_row(session, person, topic="digest:2026-03-17", due=NOW + timedelta(days=1))  # not yet
    add_row(session, person, channel="wecom_app")                                     # other channel
    claimed = outbox.claim_due(session, "email", NOW, limit=10)
    assert [r.id for r in claimed] == [due.id]
    assert claimed[0].status == "sending" and claimed[0].attempts == 1
    with Session(engine) as other:   # visible to another connection: it is committed
        assert other.get(Outbox, due.id).status == "sending"
    assert outbox.claim_due(session, "email", NOW, limit=10) == []   # never claimed twice


def test_claims_take_the_oldest_due_rows_first_up_to_the_limit(session, person):
    rows = [add_row(session, person, topic=f"digest:2026-03-{d}", due=NOW - timedelta(days=20 - d))
            for d in (12, 10, 11)]
    claimed = outbox.claim_due(session, "email", NOW, limit=2)
    assert [r.topic for r in claimed] == ["digest:2026-03-10", "digest:2026-03-11"]
    assert len(rows) == 3


def test_an_accepted_message_is_sent(session, person):
    add_row(session, person)
    row = outbox.claim_due(session, "email", NOW, 1)[0]
    result = outbox.mark_result(session, row, ok(), NOW + timedelta(seconds=2))
    session.refresh(row)
    assert (result.status, row.status, row.sent_at) == ("sent", "sent", NOW + timedelta(seconds=2))
    assert row.last_error is None and row.claim is None


def test_retryable_failures_back_off_exponentially_then_go_dead(session, person):
    retry = outbox.RetryPolicy(max_attempts=4, base_delay=timedelta(minutes=1),
                               max_delay=timedelta(minutes=3))
    row = add_row(session, person)
    now, waits = NOW, []
    for _ in range(4):
        claimed = outbox.claim_due(session, "email", now, 1)
        assert [r.id for r in claimed] == [row.id]
        result = outbox.mark_result(session, claimed[0], temporary(), now, retry)
        session.refresh(row)
        if result.status == "failed":
            waits.append(row.next_attempt_at - now)
            assert outbox.claim_due(session, "email", row.next_attempt_at - timedelta(seconds=1), 1) == []
            now = row.next_attempt_at
    assert waits == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=3)]
    assert row.status == "dead" and row.attempts == 4
    assert row.last_error == "重试 4 次仍失败：SMTP 451 4.3.0 Temporary failure"


def test_a_permanent_error_is_dead_at_once(session, person):
    add_row(session, person)
    row = outbox.claim_due(session, "email", NOW, 1)[0]
    outbox.mark_result(session, row, [Delivery.failure(XU, "收件人被拒绝：SMTP 550 mailbox unavailable",
                                                       retryable=False)], NOW)
    session.refresh(row)
    assert row.status == "dead" and "550" in row.last_error


def test_the_default_policy_keeps_retrying_for_hours():
    policy = outbox.DEFAULT_RETRY
    total = sum((policy.delay(k) for k in range(1, policy.max_attempts)), timedelta())
    assert total > timedelta(hours=8)
    assert policy.delay(200) == policy.max_delay


def dead_owner() -> str:
    """An owner on this host whose process is gone (a pid no process has)."""
    import socket
    return f"{socket.gethostname()}/{2 ** 22 + 12345}/1"


def test_rows_of_a_live_sender_stay_and_a_dead_senders_go_back_at_once(session, person):
    # Behaviour changed with the faults work (issue 10, item 2): a claim records its owner
    # process; a dead owner's rows come back at once, a live owner's never before its lease
    # ends. Only rows whose send had begun count as interrupted (ambiguous).
    started = add_row(session, person)
    unstarted = add_row(session, person, topic="digest:2026-03-17")
    live = add_row(session, person, topic="digest:2026-03-18")
    claimed = outbox.claim_due(session, "email", NOW, 10)
    assert len(claimed) == 3
    outbox.mark_started(session, [started.id], NOW)
    later = NOW + timedelta(minutes=1)
    assert outbox.recover_interrupted(session, later) == 0       # its owner (us) is alive
    session.execute(update(Outbox).where(Outbox.id.in_([started.id, unstarted.id]))
                    .values(claim_owner=dead_owner()))
    session.commit()
    recovered = outbox.recover_interrupted(session, later)
    assert (recovered, recovered.ambiguous, recovered.released) == (2, 1, 1)
    for row in (started, unstarted, live):
        session.refresh(row)
    assert (started.status, started.last_error, started.attempts) == ("failed", outbox.INTERRUPTED, 1)
    assert (unstarted.status, unstarted.last_error, unstarted.attempts) == ("failed", None, 0)
    assert started.next_attempt_at == unstarted.next_attempt_at == later
    assert live.status == "sending"
    # A lease that ran out (an owner on another host, or one that hung) frees the row too.
    session.execute(update(Outbox).where(Outbox.id == live.id)
                    .values(lease_until=datetime(2000, 1, 1)))
    session.commit()
    assert outbox.recover_interrupted(session, later) == 1
    assert {r.id for r in outbox.claim_due(session, "email", later, 10)} == {started.id, unstarted.id, live.id}


def test_rows_claimed_before_owners_were_recorded_honour_the_tick_lease(session, person):
    old = add_row(session, person)
    new = add_row(session, person, topic="digest:2026-03-17")
    outbox.claim_due(session, "email", NOW, 10)
    session.execute(update(Outbox).values(claim_owner=None, lease_until=None))
    session.execute(update(Outbox).where(Outbox.id == new.id)
                    .values(claimed_at=NOW + timedelta(hours=1)))
    session.commit()
    later = NOW + timedelta(hours=1, minutes=5)
    assert outbox.recover_interrupted(session, later, claimed_before=later - timedelta(minutes=30)) == 1
    assert outbox.recover_interrupted(session, later) == 1
    for row in (old, new):
        session.refresh(row)
        assert row.status == "failed" and row.next_attempt_at == later
        assert row.last_error == outbox.INTERRUPTED


def test_an_operator_requeues_one_row_or_every_dead_one(session, person):
    rows = [add_row(session, person, topic=f"digest:2026-03-1{d}") for d in (1, 2, 3)]
    for row in outbox.claim_due(session, "email", NOW, 10):
        outbox.mark_result(session, row, [Delivery.failure(XU, "SMTP 550", retryable=False)], NOW)
    later = NOW + timedelta(days=1)
    assert outbox.retry(session, rows[0].id, later).status == "planned"
    assert outbox.retry_dead(session, later) == 2
    for row in rows:
        session.refresh(row)
        assert (row.status, row.attempts, row.next_attempt_at) == ("planned", 0, row.send_at)
    outbox.mark_result(session, outbox.claim_due(session, "email", later, 1)[0], ok(), later)
    with pytest.raises(outbox.OutboxError, match="sent"):
        outbox.retry(session, rows[0].id, later)
    with pytest.raises(outbox.OutboxError, match="999"):
        outbox.retry(session, 999, later)


def test_a_row_becomes_the_message_its_channel_sends(session, person):
    email = outbox.to_message(add_row(session, person))
    assert email.key == f"digest:2026-03-16/digest/email/{person}"
    assert email.recipients == (XU,) and email.mentions == ()
    robot = outbox.to_message(add_row(session, person, channel="wecom_robot"))
    assert robot.mentions == (XU,)   # the group robot @-mentions the person


def test_counts_and_listing(session, person):
    add_row(session, person)
    row = outbox.claim_due(session, "email", NOW, 1)[0]
    outbox.mark_result(session, row, temporary(), NOW)
    add_row(session, person, topic="digest:2026-03-17")
    assert outbox.counts(session) == {"planned": 1, "sending": 0, "sent": 0, "failed": 1,
                                      "dead": 0, "cancelled": 0}
    failed, = outbox.listing(session, "failed")
    assert failed["recipient"] == "许芳" and failed["address"] == "xu@example.edu.cn"
    assert failed["next_attempt_at"] == NOW + timedelta(minutes=1)
    assert "451" in failed["last_error"]
    with pytest.raises(outbox.OutboxError):
        outbox.listing(session, "lost")


def test_a_long_lived_session_sees_the_attempt_count_of_a_row_claimed_again(engine, person):
    # The dispatcher keeps one session (expire_on_commit=False) for a whole pass; a row that
    # failed early in the pass and is due again before it ends must count its second attempt.
    with Session(engine, expire_on_commit=False) as s:
        add_row(s, person)
        first, = outbox.claim_due(s, "email", NOW, 1)
        outbox.mark_result(s, first, temporary(), NOW)
        again, = outbox.claim_due(s, "email", NOW + timedelta(minutes=1), 1)
        assert again.attempts == 2
        assert outbox.mark_result(s, again, temporary(), NOW + timedelta(minutes=1)).next_attempt_at \
            == NOW + timedelta(minutes=3)


def test_a_failed_attempt_keeps_the_row_unsent_and_a_dead_one_keeps_its_due_time(session, person):
    row = add_row(session, person)
    claimed, = outbox.claim_due(session, "email", NOW, 1)
    outbox.mark_result(session, claimed, [Delivery.failure(XU, "SMTP 550", retryable=False)], NOW)
    session.refresh(row)
    assert (row.status, row.sent_at, row.next_attempt_at, row.claim) == ("dead", None, NOW, None)
