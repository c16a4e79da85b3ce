"""The WeCom group robot channel against the loopback WeCom fake."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from notifiers.base import Message, Recipient
from notifiers.secrets import Secret
from notifiers.wecom_robot import WeComRobotChannel
from tests.fakes import FakeWeCom

KEY = "robot-key-0123456789"
WEBHOOK = "/cgi-bin/webhook/send"


def message(markdown="**【意识形态工作提醒】**\n> 经济管理系党支部：半年书面汇报 6月15日截止",
            key="robot/2026-H1", mentions=()) -> Message:
    return Message(key=key, subject="提醒", text="纯文本", html=None, markdown=markdown,
                   recipients=(), mentions=tuple(mentions))


def robot(fake: FakeWeCom, clock=None, key=KEY, **kw) -> WeComRobotChannel:
    if clock is not None:
        kw.update(clock=clock, sleep=clock.sleep)
    return WeComRobotChannel(key=Secret("CCAL_WECOM_ROBOT_KEY", key), base_url=fake.base_url,
                             trust_env=False, **kw)


async def send(channel: WeComRobotChannel, *messages: Message):
    try:
        return await channel.send_many(messages)
    finally:
        await channel.aclose()


def long_markdown(lines=300) -> str:
    return "\n".join(f"> {i:03d}. 经济管理系党支部：专题研究意识形态工作，6月30日截止，请及时报送会议记录"
                     for i in range(lines))


def test_markdown_goes_to_the_webhook_of_the_key():
    with FakeWeCom() as fake:
        [[delivery]] = asyncio.run(send(robot(fake), message()))
        [call] = fake.calls(WEBHOOK)
    assert delivery.ok and delivery.recipient is None
    assert call.query == {"key": KEY}
    assert call.body == {"msgtype": "markdown",
                         "markdown": {"content": message().markdown}}


def test_plain_text_is_sent_when_there_is_no_markdown():
    with FakeWeCom() as fake:
        asyncio.run(send(robot(fake), message(markdown=None)))
        [call] = fake.calls(WEBHOOK)
    assert call.body["markdown"]["content"] == "纯文本"


def test_long_markdown_is_split_under_4096_bytes_at_line_boundaries():
    content = long_markdown()
    assert len(content.encode()) > 3 * 4096
    with FakeWeCom() as fake:
        [[delivery]] = asyncio.run(send(robot(fake), message(markdown=content)))
        parts = [c.body["markdown"]["content"] for c in fake.calls(WEBHOOK)]
    assert delivery.ok
    assert len(parts) >= 4
    assert all(len(p.encode("utf-8")) <= 4096 for p in parts)
    n = len(parts)
    sent_lines = []
    for k, part in enumerate(parts, start=1):
        *lines, marker = part.split("\n")
        assert marker == f"（第 {k}/{n} 部分）"
        sent_lines += lines
    assert sent_lines == content.split("\n"), "every line arrives whole and in order"


def test_mentions_by_userid_go_into_the_markdown_and_by_mobile_into_a_text_message():
    wang = Recipient("王芳", wecom_userid="wangfang")
    li = Recipient("李明", mobile="13800001111")
    with FakeWeCom() as fake:
        [[delivery]] = asyncio.run(send(robot(fake), message(mentions=[wang, li])))
        markdown_call, text_call = fake.calls(WEBHOOK)
    assert delivery.ok
    assert markdown_call.body["markdown"]["content"].endswith("\n<@wangfang>")
    assert "mentioned_list" not in markdown_call.body["markdown"]
    assert text_call.body["msgtype"] == "text"
    assert text_call.body["text"]["mentioned_mobile_list"] == ["13800001111"]


def test_limiter_holds_the_21st_message_until_the_minute_is_over(clock):
    with FakeWeCom(robot_per_minute=None) as fake:
        results = asyncio.run(send(robot(fake, clock), *[message(key=f"m{i}") for i in range(21)]))
        assert len(fake.calls(WEBHOOK)) == 21
    assert all(d.ok for [d] in results)
    assert clock.sleeps == [pytest.approx(60.0)]


def test_limiter_refuses_instead_of_waiting_longer_than_max_wait(clock):
    with FakeWeCom(robot_per_minute=None) as fake:
        results = asyncio.run(send(robot(fake, clock, max_wait=0), *[message(key=f"m{i}") for i in range(21)]))
        assert len(fake.calls(WEBHOOK)) == 20
    *sent, [last] = results
    assert all(d.ok for [d] in sent)
    assert not last.ok and last.retryable and "限流" in last.error
    assert clock.sleeps == []


def test_limiter_window_slides(clock):
    with FakeWeCom(robot_per_minute=None) as fake:
        channel = robot(fake, clock, max_wait=0)

        async def scenario():
            first = await channel.send_many([message(key=f"a{i}") for i in range(20)])
            clock.advance(30)
            blocked = await channel.send(message(key="b"))
            clock.advance(30)
            allowed = await channel.send(message(key="c"))
            await channel.aclose()
            return first, blocked, allowed

        first, [blocked], [allowed] = asyncio.run(scenario())
    assert all(d.ok for [d] in first)
    assert not blocked.ok and blocked.retryable
    assert allowed.ok


def test_server_rate_limit_45009_is_retryable_and_backs_off_a_minute(clock):
    with FakeWeCom() as fake:
        fake.script(WEBHOOK, {"errcode": 45009, "errmsg": "api freq out of limit"})
        channel = robot(fake, clock, max_wait=0)

        async def scenario():
            [limited] = await channel.send(message(key="x"))
            [held_back] = await channel.send(message(key="x"))
            clock.advance(60)
            [later] = await channel.send(message(key="x"))
            await channel.aclose()
            return limited, held_back, later

        limited, held_back, later = asyncio.run(scenario())
        calls = len(fake.calls(WEBHOOK))
    assert not limited.ok and limited.retryable and "45009" in limited.error
    assert not held_back.ok and held_back.retryable
    assert later.ok
    assert calls == 2, "nothing is sent while backing off"


def test_the_fakes_own_limit_of_20_per_minute_answers_45009_without_the_local_limiter():
    with FakeWeCom(robot_per_minute=20) as fake:
        channel = robot(fake, per_minute=20)
        channel.limiter.limit = 1000  # switch the local limiter off to provoke the server
        results = asyncio.run(send(channel, *[message(key=f"m{i}") for i in range(21)]))
    [last] = results[-1]
    assert not last.ok and last.retryable and "45009" in last.error


def test_invalid_key_93000_is_permanent_and_the_key_never_shows(caplog):
    wrong = "wrong-key-9876543210"
    caplog.set_level(logging.DEBUG)
    with FakeWeCom() as fake:
        [[delivery]] = asyncio.run(send(robot(fake, key=wrong), message()))
    assert not delivery.ok and not delivery.retryable and "93000" in delivery.error
    assert wrong not in delivery.error
    assert wrong not in caplog.text


@pytest.mark.parametrize("errcode,retryable", [(93004, False), (93008, False), (-1, True), (40058, False)])
def test_errcodes_are_classified(errcode, retryable):
    with FakeWeCom() as fake:
        fake.script(WEBHOOK, {"errcode": errcode, "errmsg": "scripted"})
        [[delivery]] = asyncio.run(send(robot(fake), message()))
    assert not delivery.ok and delivery.retryable is retryable and str(errcode) in delivery.error


def test_http_5xx_is_retryable_and_404_is_permanent():
    with FakeWeCom() as fake:
        fake.script(WEBHOOK, (502, "<html>bad gateway</html>"))
        [[bad_gateway]] = asyncio.run(send(robot(fake), message()))
        wrong_root = WeComRobotChannel(key=Secret("K", KEY), base_url=fake.base_url + "/nope", trust_env=False)
        [[not_found]] = asyncio.run(send(wrong_root, message()))
    assert not bad_gateway.ok and bad_gateway.retryable and "502" in bad_gateway.error
    assert not not_found.ok and not not_found.retryable and "404" in not_found.error


def test_unreachable_server_is_retryable_and_the_key_does_not_leak():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    channel = WeComRobotChannel(key=Secret("K", KEY), base_url=f"http://127.0.0.1:{port}", trust_env=False,
                                timeout=2.0)
    [[delivery]] = asyncio.run(send(channel, message()))
    assert not delivery.ok and delivery.retryable
    assert KEY not in delivery.error


def test_a_retry_after_a_failed_part_does_not_repeat_the_parts_already_in_the_group(clock):
    content = long_markdown(120)
    with FakeWeCom(robot_per_minute=None) as fake:
        fake.script(WEBHOOK, {"errcode": 0, "errmsg": "ok"}, {"errcode": -1, "errmsg": "system busy"})
        channel = robot(fake, clock)

        async def scenario():
            first = await channel.send(message(markdown=content))
            second = await channel.send(message(markdown=content))
            await channel.aclose()
            return first, second

        [first], [second] = asyncio.run(scenario())
        parts = [c.body["markdown"]["content"] for c in fake.calls(WEBHOOK)]
    assert not first.ok and first.retryable and "第 2/" in first.error
    assert second.ok
    # part 1 once, part 2 twice (failed, then resent), the rest once
    assert parts[1] == parts[2]
    assert len(parts) == len(set(parts)) + 1
    assert parts.count(parts[0]) == 1


def test_repr_does_not_show_the_key():
    channel = WeComRobotChannel(key=Secret("CCAL_WECOM_ROBOT_KEY", KEY))
    assert KEY not in repr(channel)
