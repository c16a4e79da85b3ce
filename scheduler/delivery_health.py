"""Delivery health: paused channels, dead letters, stuck rows, and the operator's daily notice.

A channel fault (``Delivery.channel_fault``: a bad login, a refused or silent server, a rate
limit) pauses the channel (``channel_state``) with a back-off that grows with each consecutive
fault (the outbox retry policy's steps, at least the channel's ``retry_after``); the first
success clears it. ``health`` summarises what an operator must hear about: paused channels
with their reasons, dead rows by reason, and rows stuck or retrying for more than a day. The
same summary heads ``ccal outbox`` and makes the daily 投递异常 notice, which the service
plans once a day, inside a sending window, to the operator (``[service] operator_email`` /
``operator_wecom``) or else the propaganda department's contact, on each of their channels
that is not paused (dead rows of the last week: a dead letter nobody re-queues is announced
for seven days, and stays in ``ccal outbox``'s summary). The notice is an outbox row (topic ``notice:<day>``, stage ``notice``):
once per day, person and channel by the outbox's unique key, retried like any message.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection
from sqlmodel import Session

from scheduler import leases, outbox
from scheduler.redelivery import insert_ignore_rows
from scheduler.models import ChannelState, Outbox, Person, person_key

_state = ChannelState.__table__
_outbox = Outbox.__table__
STUCK_AFTER = timedelta(days=1)
NOTICE_STAGE = "notice"
CHANNEL_WORDS = {"email": "邮件", "wecom_app": "企业微信应用消息", "wecom_robot": "企业微信群机器人",
                 "local": "本地发件箱"}
_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PART = re.compile(r"^第 \d+/\d+ 条：")


# --------------------------------------------------------------------------- channel state

def pause(db: Connection, channel: str, now: datetime, reason: str,
          retry_after: float | None, retry: outbox.RetryPolicy = outbox.DEFAULT_RETRY
          ) -> tuple[datetime, datetime]:
    """Record a channel fault and pause the channel; returns (paused until, failing since)
    (committed)."""
    insert_ignore_rows(db, _state, {"channel": channel, "failures": 0, "updated_at": now})
    row = db.execute(select(_state.c.failures, _state.c.since)
                     .where(_state.c.channel == channel)).one()
    failures = row.failures + 1
    until = now + max(retry.delay(failures), timedelta(seconds=retry_after or 0))
    db.execute(update(_state).where(_state.c.channel == channel).values(
        paused_until=until, reason=reason[:2000], failures=failures,
        since=row.since or now, updated_at=now))
    db.commit()
    return until, row.since or now


def clear(db: Connection, channel: str, now: datetime) -> None:
    """The channel delivered: its fault streak is over (committed)."""
    db.execute(update(_state).where(_state.c.channel == channel, _state.c.failures > 0)
               .values(paused_until=None, reason=None, failures=0, since=None, updated_at=now))
    db.commit()


def paused_until(db: Connection | Session, channel: str, now: datetime) -> datetime | None:
    until = db.execute(select(_state.c.paused_until).where(_state.c.channel == channel)).scalar()
    return until if until is not None and until > now else None


def failing(db: Connection | Session, channel: str) -> bool:
    return bool(db.execute(select(_state.c.failures).where(_state.c.channel == channel)).scalar())


def failing_since(db: Connection | Session, channel: str) -> datetime | None:
    return db.execute(select(_state.c.since).where(_state.c.channel == channel,
                                                   _state.c.failures > 0)).scalar()


def paused_channels(db: Connection | Session, now: datetime) -> set[str]:
    return set(db.execute(select(_state.c.channel).where(_state.c.paused_until > now)).scalars())


# --------------------------------------------------------------------------- the summary

def reason_of(error: str | None) -> str:
    """An error text as a reason shared by many rows: no addresses, no part numbers."""
    text = _PART.sub("", error or "未知错误")
    return _ADDRESS.sub("<地址>", text).strip()[:300]


@dataclass(frozen=True)
class PausedChannel:
    channel: str
    reason: str
    since: datetime | None
    until: datetime | None
    failures: int


@dataclass
class Health:
    as_of: datetime
    paused: list[PausedChannel] = field(default_factory=list)
    dead: list[tuple[str, str, int]] = field(default_factory=list)      # (channel, reason, rows)
    stuck: list[tuple[str, str, int, datetime]] = field(default_factory=list)  # channel, status, rows, oldest
    orphaned: int = 0      # rows `sending` whose process is gone (put back by the next pass)

    @property
    def ok(self) -> bool:
        return not (self.paused or self.dead or self.stuck or self.orphaned)

    def lines(self) -> list[str]:
        """The summary in Chinese, one line per fact (the notice body and ``ccal outbox``)."""
        out = []
        for p in self.paused:
            when = f"，自 {p.since:%Y-%m-%d %H:%M} 起" if p.since else ""
            until = f"，暂停至 {p.until:%Y-%m-%d %H:%M}" if p.until and p.until > self.as_of else ""
            out.append(f"通道故障：{CHANNEL_WORDS.get(p.channel, p.channel)}（{p.channel}）"
                       f"连续失败 {p.failures} 次{when}{until}；原因：{p.reason}")
        for channel, reason, n in self.dead:
            out.append(f"已放弃 {n} 条（{CHANNEL_WORDS.get(channel, channel)}）：{reason}")
        for channel, status, n, oldest in self.stuck:
            word = {"planned": "待发送", "failed": "失败待重试", "sending": "发送中"}.get(status, status)
            out.append(f"超过一天未送达 {n} 条（{CHANNEL_WORDS.get(channel, channel)}，{word}，"
                       f"最早应于 {oldest:%Y-%m-%d %H:%M} 发送）")
        if self.orphaned:
            out.append(f"发送中断 {self.orphaned} 条：发送它们的进程已退出或租约已过期，"
                       "下一次运行（tick 或服务启动）时重新发送")
        return out


NOTICE_DEAD_DAYS = 7


def health(session: Session | Connection, now: datetime,
           dead_since: datetime | None = None, channels: Sequence[str] | None = None) -> Health:
    """What an operator must hear about, as of ``now`` (see the module docstring). Dead rows:
    all of them, or those that died since ``dead_since`` (the daily notice: the last week, so
    a dead letter nobody re-queues is not announced forever). ``channels``: only these
    channels' pauses (a channel removed from the config is not announced forever)."""
    report = Health(now)
    for row in session.execute(select(_state).where(_state.c.failures > 0)
                               .order_by(_state.c.channel)).all():
        if channels is not None and row.channel not in channels:
            continue
        report.paused.append(PausedChannel(row.channel, row.reason or "", row.since,
                                           row.paused_until, row.failures))
    dead = Counter()
    for channel, error in session.execute(
            select(_outbox.c.channel, _outbox.c.last_error).where(
                _outbox.c.status == outbox.DEAD, _outbox.c.stage != NOTICE_STAGE,
                _outbox.c.updated_at >= (dead_since or datetime.min))).all():
        dead[(channel, reason_of(error))] += 1
    report.dead = [(c, r, n) for (c, r), n in sorted(dead.items(), key=lambda kv: -kv[1])]
    stuck = session.execute(
        select(_outbox.c.channel, _outbox.c.status, func.count(), func.min(_outbox.c.send_at))
        .where(_outbox.c.status.in_((outbox.PLANNED, outbox.FAILED, outbox.SENDING)),
               _outbox.c.send_at < now - STUCK_AFTER)
        .group_by(_outbox.c.channel, _outbox.c.status)
        .order_by(_outbox.c.channel, _outbox.c.status)).all()
    report.stuck = [(c, s, n, oldest) for c, s, n, oldest in stuck]
    real_now = leases.utc_now()
    for owner, until in session.execute(
            select(_outbox.c.claim_owner, _outbox.c.lease_until)
            .where(_outbox.c.status == outbox.SENDING)).all():
        if owner and ((until is not None and until < real_now) or leases.alive(owner) is False):
            report.orphaned += 1
    return report


# --------------------------------------------------------------------------- the notice

def render_notice(report: Health, day: date, sender: str) -> tuple[str, str]:
    """(subject, plain text) of the 投递异常 notice."""
    lines = report.lines()
    subject = f"【投递异常】提醒消息投递异常 {len(lines)} 项（{day:%Y-%m-%d}）"
    text = "\n".join([
        "您好！",
        f"截至 {report.as_of:%Y-%m-%d %H:%M}，提醒服务有以下投递异常，部分提醒可能未送达：",
        "",
        *(f"{i}. {line}" for i, line in enumerate(lines, start=1)),
        "",
        "处理建议：通道故障请检查 [notify] 配置（账号、密码或密钥、服务器地址、IP 白名单），"
        "修复后无需操作，服务会自动恢复发送；已放弃的消息可用 `ccal outbox retry --dead` 重新排队；"
        "`ccal outbox` 查看详情。本通知每天最多发送一次。",
        "",
        sender,
    ])
    return subject, text


def operator(session: Session, *, email: str | None, wecom_userid: str | None,
             fallback: Sequence[int], now: datetime) -> list[Person]:
    """Who hears about delivery trouble: the configured operator (a person row is recorded for
    them if the organisation has none), else the propaganda department's contact(s)."""
    if not email and not wecom_userid:
        return [p for p in (session.get(Person, i) for i in fallback) if p is not None]
    key = person_key("运维联系人", email, wecom_userid)
    person = session.execute(select(Person).where(Person.key == key)).scalar()
    if person is None:
        person = Person(key=key, name="运维联系人", email=email, wecom_userid=wecom_userid,
                        created_at=now)
        session.add(person)
        session.flush()
    return [person]


def plan_notice(session: Session, now: datetime, *, people: Sequence[Person],
                routes: Callable[[Person], list[str]], send_at: datetime,
                sender: str, channels: Sequence[str] | None = None) -> int:
    """Plan today's 投递异常 notice when there is trouble (once a day per person and channel,
    by the outbox key). Returns the rows created. Commits."""
    report = health(session, now, dead_since=now - timedelta(days=NOTICE_DEAD_DAYS),
                    channels=channels)
    if report.ok:
        return 0
    subject, text = render_notice(report, now.date(), sender)
    topic = f"notice:{now.date().isoformat()}"
    created = 0
    for person in people:
        recipient = outbox.Recipient(name=person.name, email=person.email,
                                     wecom_userid=person.wecom_userid, mobile=person.mobile)
        for channel in routes(person):
            created += insert_ignore_rows(session.connection(), _outbox, dict(
                topic=topic, stage=NOTICE_STAGE, channel=channel, person_id=person.id,
                address=outbox.address_json(recipient), title=subject, body_text=text,
                body_html=None, body_markdown=f"**{subject}**\n\n{text}", status=outbox.PLANNED,
                attempts=0, send_at=send_at, next_attempt_at=send_at, created_at=now,
                updated_at=now))
    session.commit()
    return created
