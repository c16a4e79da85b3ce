"""The WeCom application message channel against the loopback WeCom fake."""

from __future__ import annotations

import asyncio
import logging

import pytest

from notifiers.base import Message, Recipient
from notifiers.secrets import Secret
from notifiers.wecom_app import WeComAppChannel
from tests.fakes import FakeWeCom

SECRET = "corp-secret-abcdef123456"
SEND = "/cgi-bin/message/send"
TOKEN = "/cgi-bin/gettoken"
WANG = Recipient("王芳", wecom_userid="wangfang")
LI = Recipient("李明", wecom_userid="liming")


def message(*recipients, markdown="**【意识形态工作提醒】**\n> 半年书面汇报 6月15日截止", key="app/1") -> Message:
    return Message(key=key, subject="提醒", text="纯文本提醒", html=None, markdown=markdown,
                   recipients=tuple(recipients))


def app(fake: FakeWeCom, clock=None, secret=SECRET, **kw) -> WeComAppChannel:
    if clock is not None:
        kw["clock"] = clock
    return WeComAppChannel(corp_id=fake.corp_id, secret=Secret("CCAL_WECOM_APP_SECRET", secret),
                           agent_id=fake.agent_id, base_url=fake.base_url, trust_env=False, **kw)


def run(channel: WeComAppChannel, *messages: Message):
    async def go():
        try:
            return [await channel.send(m) for m in messages]
        finally:
            await channel.aclose()
    return asyncio.run(go())


def test_markdown_to_several_members_in_one_call():
    with FakeWeCom(users={"wangfang", "liming"}) as fake:
        [[wang, li]] = run(app(fake), message(WANG, LI))
        [call] = fake.calls(SEND)
    assert wang.ok and li.ok and (wang.recipient, li.recipient) == (WANG, LI)
    assert call.body["touser"] == "wangfang|liming"
    assert call.body["msgtype"] == "markdown"
    assert call.body["agentid"] == fake.agent_id
    assert call.body["markdown"]["content"].startswith("**【意识形态工作提醒】**")
    assert call.body["enable_duplicate_check"] == 1


def test_text_message_when_there_is_no_markdown():
    with FakeWeCom(users={"wangfang"}) as fake:
        run(app(fake), message(WANG, markdown=None))
        [call] = fake.calls(SEND)
    assert call.body["msgtype"] == "text" and call.body["text"]["content"] == "纯文本提醒"


def test_token_is_fetched_once_and_reused(clock):
    with FakeWeCom(users={"wangfang"}) as fake:
        results = run(app(fake, clock), message(WANG, key="a"), message(WANG, key="b"), message(WANG, key="c"))
        assert len(fake.calls(TOKEN)) == 1
        assert len({c.query["access_token"] for c in fake.calls(SEND)}) == 1
    assert all(d.ok for [d] in results)


def test_token_is_refetched_shortly_before_it_expires(clock):
    with FakeWeCom(users={"wangfang"}, expires_in=7200) as fake:
        channel = app(fake, clock)

        async def scenario():
            await channel.send(message(WANG))
            clock.advance(7200 - 300 - 1)  # still inside the 5-minute margin
            await channel.send(message(WANG))
            clock.advance(2)  # now within 5 minutes of expiry
            await channel.send(message(WANG))
            await channel.aclose()

        asyncio.run(scenario())
        assert len(fake.calls(TOKEN)) == 2


def test_expired_token_42001_is_refreshed_and_the_send_retried_once():
    with FakeWeCom(users={"wangfang"}) as fake:
        channel = app(fake)

        async def scenario():
            first = await channel.send(message(WANG))
            fake.expire_tokens()  # WeCom may invalidate a token before expires_in
            second = await channel.send(message(WANG))
            await channel.aclose()
            return first, second

        [first], [second] = asyncio.run(scenario())
        sends = fake.calls(SEND)
        assert len(fake.calls(TOKEN)) == 2
    assert first.ok and second.ok
    assert len(sends) == 3  # ok, 42001, ok with the new token
    assert sends[1].query["access_token"] != sends[2].query["access_token"]


def test_invalid_token_40014_is_refreshed_too():
    with FakeWeCom(users={"wangfang"}) as fake:
        fake.script(SEND, {"errcode": 40014, "errmsg": "invalid access_token"})
        [[delivery]] = run(app(fake), message(WANG))
        assert len(fake.calls(TOKEN)) == 2 and len(fake.calls(SEND)) == 2
    assert delivery.ok


def test_a_token_error_after_the_refresh_is_not_retried_again():
    with FakeWeCom(users={"wangfang"}) as fake:
        fake.script(SEND, {"errcode": 42001, "errmsg": "expired"}, {"errcode": 42001, "errmsg": "expired"})
        [[delivery]] = run(app(fake), message(WANG))
        assert len(fake.calls(SEND)) == 2
    assert not delivery.ok and delivery.retryable and "42001" in delivery.error


def test_invaliduser_fails_only_those_members_matched_case_insensitively():
    zhao = Recipient("赵强", wecom_userid="ZhaoQiang")  # unknown to WeCom
    wang = Recipient("王芳", wecom_userid="WangFang")  # WeCom answers in lower case
    with FakeWeCom(users={"wangfang"}) as fake:
        [[z, w]] = run(app(fake), message(zhao, wang))
    assert not z.ok and not z.retryable and "invaliduser" in z.error
    assert w.ok


def test_unlicenseduser_fails_individually():
    with FakeWeCom(users={"wangfang", "liming"}, unlicensed={"liming"}) as fake:
        [[wang, li]] = run(app(fake), message(WANG, LI))
    assert wang.ok
    assert not li.ok and not li.retryable and "unlicenseduser" in li.error


def test_nobody_valid_81013_is_permanent_for_all():
    with FakeWeCom(users=set()) as fake:
        [[wang, li]] = run(app(fake), message(WANG, LI))
    for d in (wang, li):
        assert not d.ok and not d.retryable and "81013" in d.error


@pytest.mark.parametrize("errcode,retryable", [(60020, False), (45009, True), (-1, True), (40056, False)])
def test_errcodes_are_classified(errcode, retryable):
    with FakeWeCom(users={"wangfang"}) as fake:
        fake.script(SEND, {"errcode": errcode, "errmsg": "scripted"})
        [[delivery]] = run(app(fake), message(WANG))
    assert not delivery.ok and delivery.retryable is retryable and str(errcode) in delivery.error


def test_member_without_userid_fails_permanently_and_the_others_are_sent():
    nobody = Recipient("周老师", email="zhou@example.edu.cn")
    with FakeWeCom(users={"wangfang"}) as fake:
        [[z, w]] = run(app(fake), message(nobody, WANG))
        [call] = fake.calls(SEND)
    assert not z.ok and not z.retryable and "wecom_userid" in z.error
    assert w.ok and call.body["touser"] == "wangfang"


def test_more_than_1000_members_go_in_batches_of_1000():
    people = [Recipient(f"成员{i}", wecom_userid=f"user{i}") for i in range(2500)]
    with FakeWeCom(users={f"user{i}" for i in range(2500)}) as fake:
        [deliveries] = run(app(fake), message(*people))
        sizes = [len(c.body["touser"].split("|")) for c in fake.calls(SEND)]
    assert sizes == [1000, 1000, 500]
    assert all(d.ok for d in deliveries) and len(deliveries) == 2500


def test_markdown_over_2048_bytes_is_split_and_invalid_members_are_not_sent_the_rest():
    content = "\n".join(f"> {i:02d}. 经济管理系党支部：专题研究意识形态工作，请及时报送会议记录" for i in range(60))
    zhao = Recipient("赵强", wecom_userid="zhaoqiang")
    with FakeWeCom(users={"wangfang"}) as fake:
        [[w, z]] = run(app(fake), message(WANG, zhao, markdown=content))
        calls = fake.calls(SEND)
    assert w.ok and not z.ok
    assert len(calls) >= 3
    assert all(len(c.body["markdown"]["content"].encode()) <= 2048 for c in calls)
    assert calls[0].body["touser"] == "wangfang|zhaoqiang"
    assert all(c.body["touser"] == "wangfang" for c in calls[1:])


def test_wrong_secret_is_permanent_and_neither_secret_nor_token_leaks(caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-secret-0000111122"
    with FakeWeCom(users={"wangfang"}) as fake:
        [[bad_secret]] = run(app(fake, secret=wrong), message(WANG))
    assert not bad_secret.ok and not bad_secret.retryable and "40001" in bad_secret.error
    assert wrong not in bad_secret.error and wrong not in caplog.text

    with FakeWeCom(users={"wangfang"}) as fake:
        # a server that echoes the access token back in its error message
        fake.script(SEND, lambda req: {"errcode": 60020, "errmsg": "not allow to access from your ip, "
                                                                   f"token {req.query['access_token']}"})
        channel = app(fake)
        [[blocked]] = run(channel, message(WANG))
        token = fake.calls(SEND)[0].query["access_token"]
    assert not blocked.ok and not blocked.retryable
    assert token not in blocked.error and "60020" in blocked.error
    assert token not in caplog.text and SECRET not in caplog.text


def test_token_is_cached_for_concurrent_sends():
    with FakeWeCom(users={"wangfang"}) as fake:
        channel = app(fake)

        async def scenario():
            results = await asyncio.gather(*(channel.send(message(WANG, key=f"k{i}")) for i in range(5)))
            await channel.aclose()
            return results

        results = asyncio.run(scenario())
        assert len(fake.calls(TOKEN)) == 1
    assert all(d.ok for [d] in results)


def test_repr_does_not_show_the_secret():
    channel = WeComAppChannel(corp_id="ww1", secret=Secret("S", SECRET), agent_id=1)
    assert SECRET not in repr(channel)
