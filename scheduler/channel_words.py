"""A channel described in words, for the daemon's start-up line and `ccal doctor`: where
messages go, never a secret (no password, robot key or corp secret: the channels do not keep
them in these attributes)."""

from __future__ import annotations

from typing import Any


def describe_channel(channel: Any, *, chinese: bool = False) -> str:
    name = getattr(channel, "name", type(channel).__name__)
    g = lambda attr: getattr(channel, attr, None)  # noqa: E731
    if name == "email":
        if chinese:
            return f"邮件：SMTP 服务器 {g('host')}:{g('port')}（{g('security')}），发件人 {g('from_addr')}"
        return f"email via SMTP {g('host')}:{g('port')} ({g('security')}) from {g('from_addr')}"
    if name == "local":
        kind = g("kind")
        if chinese:
            return f"本地发件箱（{'邮件' if kind == 'email' else '企业微信'}，不实际发送）：写入 {g('directory')}"
        return f"local outbox ({kind}, nothing is sent) writing to {g('directory')}"
    if name == "wecom_robot":
        return f"企业微信群机器人：{g('base_url')}" if chinese else f"WeCom group robot at {g('base_url')}"
    if name == "wecom_app":
        if chinese:
            return f"企业微信应用消息：企业 {g('corp_id')}，应用 {g('agent_id')}，接口 {g('base_url')}"
        return f"WeCom application messages (corp {g('corp_id')}, agent {g('agent_id')}) at {g('base_url')}"
    return name


def describe_routes(channels: dict[str, Any]) -> str:
    """'email: email via SMTP ...; wecom_robot: ...' for a log line; one channel serving two
    routes (the local outbox) is named once per route."""
    return "; ".join(f"{route}: {describe_channel(ch)}" for route, ch in channels.items())
