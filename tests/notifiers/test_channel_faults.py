"""Which failures belong to the channel (Delivery.channel_fault) and which to the recipient:
the service pauses a channel for the first and kills a row only for the second (issue 10)."""

import asyncio
import socket

from notifiers.base import Message, Recipient
from notifiers.email import EmailChannel
from notifiers.secrets import Secret
from notifiers.wecom_app import WeComAppChannel
from notifiers.wecom_robot import WeComRobotChannel
from tests.fakes import FakeSMTP, FakeWeCom

XU = Recipient("许芳", email="xu@example.edu.cn", wecom_userid="XuFang")


def message(recipients=(XU,), markdown="**提醒**") -> Message:
    return Message(key="digest:2026-03-16/digest/x/1", subject="提醒", text="请报送",
                   html=None, markdown=markdown, recipients=recipients)


def email(port, **kw):
    return EmailChannel(host="127.0.0.1", port=port, security="none",
                        from_addr="ccal@example.edu.cn", timeout=2, **kw)


def send(channel, m=None):
    async def go():
        try:
            return await channel.send(m or message())
        finally:
            await channel.aclose()
    return asyncio.run(go())


def test_a_failed_smtp_login_is_the_channels_fault():
    with FakeSMTP(users={"ccal": "right"}) as smtp:
        [d] = send(email(smtp.port, username="ccal", password=Secret("P", "wrong")))
    assert not d.ok and d.channel_fault and "535" in d.error and "wrong" not in d.error


def test_a_refused_connection_is_the_channels_fault():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    [d] = send(email(port))
    assert not d.ok and d.channel_fault and d.retryable


def test_a_refused_mailbox_is_the_recipients_fault():
    with FakeSMTP(reject_rcpts={XU.email}) as smtp:
        [d] = send(email(smtp.port))
    assert not d.ok and not d.channel_fault and not d.retryable and "550" in d.error


def app(fake, secret):
    return WeComAppChannel(corp_id=fake.corp_id, secret=Secret("S", secret), agent_id=fake.agent_id,
                           base_url=fake.base_url, trust_env=False)


def test_a_wrong_corp_secret_is_the_channels_fault_and_an_unknown_user_is_not():
    with FakeWeCom(users=["someone"]) as fake:
        [bad_secret] = send(app(fake, "wrong"))
        [unknown] = send(app(fake, fake.corp_secret))
    assert bad_secret.channel_fault and "40001" in bad_secret.error and "wrong" not in bad_secret.error
    assert not unknown.ok and not unknown.channel_fault and not unknown.retryable


def test_robot_rate_limit_asks_to_wait_a_minute_and_a_bad_key_is_the_channels_fault():
    with FakeWeCom() as fake:
        fake.script("/cgi-bin/webhook/send", {"errcode": 45009, "errmsg": "api freq out of limit"})
        robot = WeComRobotChannel(key=Secret("K", "robot-key-0123456789"), base_url=fake.base_url,
                                  trust_env=False, max_wait=0)
        [limited] = send(robot)
        bad = WeComRobotChannel(key=Secret("K", "not-the-key-000000"), base_url=fake.base_url,
                                trust_env=False)
        [revoked] = send(bad)
    assert limited.channel_fault and limited.retry_after == 60 and limited.retryable
    assert revoked.channel_fault and "93000" in revoked.error
