"""The channel contract: send never raises, errors are scrubbed."""

from __future__ import annotations

import asyncio

from notifiers.base import Channel, Delivery, Message, Recipient
from notifiers.secrets import Scrubber


class Broken(Channel):
    name = "broken"

    async def _send(self, message):
        raise RuntimeError("boom while using key=abc and password top-secret-value")


class Echo(Channel):
    name = "echo"

    async def _send(self, message):
        return [Delivery.success(r) for r in message.recipients]


WANG, LI = Recipient("王老师"), Recipient("李老师")
MSG = Message("k", "主题", "正文", None, None, (WANG, LI))


def test_a_bug_in_a_channel_becomes_failed_deliveries_not_an_exception(caplog):
    deliveries = asyncio.run(Broken(Scrubber(["top-secret-value"])).send(MSG))
    assert [d.recipient for d in deliveries] == [WANG, LI]
    assert all(not d.ok and not d.retryable for d in deliveries)
    assert "RuntimeError" in deliveries[0].error
    assert "top-secret-value" not in deliveries[0].error and "key=abc" not in deliveries[0].error
    assert "top-secret-value" not in caplog.text


def test_default_send_many_keeps_message_order():
    msgs = [Message(f"k{i}", "主题", "正文", None, None, (Recipient(f"人{i}"),)) for i in range(3)]
    results = asyncio.run(Echo().send_many(msgs))
    assert [r[0].recipient.name for r in results] == ["人0", "人1", "人2"]
