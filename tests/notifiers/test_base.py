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


def test_default_send_many_reports_each_result_before_sending_the_next():
    sent_before_report = []

    class Counting(Echo):
        sent = 0

        async def _send(self, message):
            self.sent += 1
            return await super()._send(message)

    channel = Counting()
    msgs = [Message(f"k{i}", "主题", "正文", None, None, (Recipient(f"人{i}"),)) for i in range(3)]
    results = asyncio.run(channel.send_many(
        msgs, on_result=lambda i, d: sent_before_report.append((i, channel.sent, d[0].recipient.name))))
    assert sent_before_report == [(0, 1, "人0"), (1, 2, "人1"), (2, 3, "人2")]
    assert [r[0].ok for r in results] == [True, True, True]


def test_default_send_many_stops_when_the_callback_returns_false():
    msgs = [Message(f"k{i}", "主题", "正文", None, None, (Recipient(f"人{i}"),)) for i in range(4)]
    results = asyncio.run(Echo().send_many(msgs, on_result=lambda i, d: i != 1))
    assert [len(r) for r in results] == [1, 1, 0, 0]
