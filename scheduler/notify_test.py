"""`ccal notify test PERSON`: one real test message to a person, through the channels their
reminders would use (the same routing as the planner), sent at once and not through the
outbox (it is not a reminder: nothing to retry, nothing to keep)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import col, func, or_, select

from scheduler.app import UserInputError
from scheduler.models import Person

if TYPE_CHECKING:
    from scheduler.app import App


@dataclass(frozen=True)
class TestResult:
    route: str
    channel: str          # in words (scheduler.channel_words)
    ok: bool
    error: str | None


def find_person(app: "App", who: str) -> Person:
    """A person by name, email, WeCom user id or mobile; a name shared by several is refused."""
    text = who.strip()
    with app.session() as session:
        people = session.exec(select(Person).where(or_(
            Person.name == text, func.lower(Person.email) == text.lower(),
            Person.wecom_userid == text, Person.mobile == text)).order_by(col(Person.id))).all()
    if not people:
        raise UserInputError(f"未找到人员 {text}（可用姓名、邮箱、企业微信账号或手机号；ccal org list 列出人员）")
    if len(people) > 1:
        raise UserInputError(f"有 {len(people)} 人匹配 {text}，请改用邮箱或企业微信账号："
                             + "，".join(f"{p.name} {p.email or p.wecom_userid or p.mobile or ''}".strip()
                                        for p in people))
    return people[0]


def send_test(app: "App", who: str, now: datetime, environ=None) -> tuple[Person, list[TestResult]]:
    from notifiers.base import Message, Recipient
    from notifiers.settings import build_channels
    from scheduler.channel_words import describe_channel
    from scheduler.planner import routes_for

    person = find_person(app, who)
    channels = build_channels(app.config.notify, config_path=app.config.path,
                              data_dir=app.config.general.data_dir,
                              environ=os.environ if environ is None else environ)
    routes = routes_for(person, channels)
    if not routes:
        raise UserInputError(f"{person.name} 没有可用的联系方式（邮箱或企业微信账号），无法发送")
    to = Recipient(person.name, person.email, person.wecom_userid, person.mobile)
    stamp = f"{now:%Y-%m-%d %H:%M}"
    body = (f"{person.name}同志：\n\n这是 ccal 合规日历发出的测试消息（{stamp}），"
            "用于确认提醒能送达。收到即可，无需回复。\n")

    async def run() -> list[TestResult]:
        results = []
        try:
            for route in routes:
                channel = channels[route]
                message = Message(key=f"test:{now:%Y%m%dT%H%M%S}/{route}/{person.id}",
                                  subject="【测试】ccal 提醒测试消息", text=body, html=None,
                                  markdown=f"**【测试】ccal 提醒测试消息**\n\n{body}",
                                  recipients=(to,), mentions=(to,))
                deliveries = await channel.send(message)
                bad = [d for d in deliveries if not d.ok]
                results.append(TestResult(route, describe_channel(channel, chinese=True), not bad,
                                          "；".join(d.error or "" for d in bad) or None))
        finally:
            for channel in {id(c): c for c in channels.values()}.values():
                await channel.aclose()
        return results

    return person, asyncio.run(run())
