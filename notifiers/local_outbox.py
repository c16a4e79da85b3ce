"""The local outbox: the embedded default channel when neither SMTP nor WeCom is
configured. Nothing leaves the machine; each message becomes a file, so a new
user can open the directory and see exactly what would have been sent.

One instance writes one form, chosen by `kind`:
- `kind="email"`: `<stamp>-<slug>.eml`, the full MIME message built by the
  email channel's own builder and flattened as `send_message` flattens it, so the
  file holds the bytes that would be sent (open it in any mail client). Like the email
  channel, a recipient without an email address is a permanent failure.
- `kind="wecom"`: `<stamp>-<slug>.md`, a short header (subject, recipients,
  mentions, key) and the WeCom markdown body (or the text when there is none).
`notifiers.settings.build_channels` puts an email-kind outbox on the `email`
route and one wecom-kind outbox on both WeCom routes, with the service's clock:
file names (`<stamp>`) and Date headers are the service's time (a tick's `--now`,
`serve --now`), not the wall clock. Files and the directory are owner-only
(0600/0700): messages carry names, phone numbers and addresses.
"""

from __future__ import annotations

import asyncio
import os
import re
import unicodedata
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Literal

from notifiers.base import Channel, Delivery, Message, Recipient
from notifiers.email import (address_problem, addressable, build_message, message_bytes, shanghai_now,
                             undeliverable)

Kind = Literal["email", "wecom"]


def private_dir(directory: Path) -> None:
    """Create `directory` (and missing parents) readable by the owner only (0700)."""
    missing = [p for p in (directory, *directory.parents) if not p.exists()]
    directory.mkdir(parents=True, exist_ok=True)
    for p in missing:
        os.chmod(p, 0o700)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SLUG_MAX = 80


def slugify(key: str) -> str:
    """A file-name-safe ASCII slug of an outbox key ('a/b c' -> 'a-b-c')."""
    ascii_key = unicodedata.normalize("NFKD", key).encode("ascii", "ignore").decode("ascii")
    slug = _UNSAFE.sub("-", ascii_key).strip("-.")[:_SLUG_MAX].rstrip("-.")
    return slug or "message"


class LocalOutbox(Channel):
    name = "local"

    def __init__(
        self,
        directory: Path,
        *,
        kind: Kind,
        from_addr: str = "ccal@localhost",
        from_name: str | None = "党委宣传部",
        reply_to: str | None = None,
        clock: Callable[[], datetime] = shanghai_now,
    ) -> None:
        super().__init__()
        if kind not in ("email", "wecom"):
            raise ValueError('kind must be "email" or "wecom"')
        self.directory = Path(directory)
        self.kind = kind
        self.from_addr = from_addr
        self.from_name = from_name
        self.reply_to = reply_to
        self.clock = clock

    def __repr__(self) -> str:
        return f"LocalOutbox({str(self.directory)!r}, kind={self.kind!r})"

    async def _send(self, message: Message) -> list[Delivery]:
        now = self.clock()
        if self.kind == "email":
            addressed = addressable(message.recipients)
            if not addressed:
                return [undeliverable(r) for r in message.recipients]
            mail = build_message(message, from_addr=self.from_addr, from_name=self.from_name,
                                 recipients=addressed, date=now, reply_to=self.reply_to)
            payload, suffix = message_bytes(mail), ".eml"
        else:
            payload, suffix = self._markdown_file(message, now).encode("utf-8"), ".md"
        try:
            await asyncio.to_thread(self._write_new, now, message.key, suffix, payload)
        except OSError as exc:
            error = f"无法写入本地发件箱 {self.directory}：{exc.strerror or exc}"
            return [Delivery.failure(r, error, retryable=True) for r in message.recipients] or [
                Delivery.failure(None, error, retryable=True)]
        if not message.recipients:
            return [Delivery.success(None)]
        return [Delivery.success(r) if (self.kind == "wecom" or address_problem(r) is None)
                else undeliverable(r) for r in message.recipients]

    def _write_new(self, now: datetime, key: str, suffix: str, payload: bytes) -> Path:
        private_dir(self.directory)
        stem = f"{now:%Y%m%d-%H%M%S}-{slugify(key)}"
        for n in range(1, 10_000):
            path = self.directory / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
            try:
                # O_EXCL: never overwrite an earlier message; 0600: the owner only.
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
            return path
        raise FileExistsError(f"too many files named {stem}*{suffix}")

    @staticmethod
    def _markdown_file(message: Message, now: datetime) -> str:
        def who(r: Recipient) -> str:
            ids = [x for x in (r.wecom_userid, r.mobile) if x]
            return f"{r.name}（{'，'.join(ids)}）" if ids else r.name

        lines = [
            "<!-- ccal 本地发件箱：此消息未实际发送 -->",
            f"主题：{message.subject}",
            f"收件人：{'、'.join(who(r) for r in message.recipients) or '（群消息）'}",
        ]
        if message.mentions:
            lines.append(f"提醒（@）：{'、'.join(who(r) for r in message.mentions)}")
        lines += [f"编号：{message.key}", f"时间：{now.isoformat(timespec='seconds')}", "", "---", ""]
        return "\n".join(lines) + (message.markdown or message.text) + "\n"
