"""WeCom group robot (群机器人): `POST {base_url}/cgi-bin/webhook/send?key=KEY`.

Messages go out as `markdown`, at most 4096 UTF-8 bytes each, so long digests
are split at line boundaries. The robot's markdown supports mentions only as
`<@userid>` inside the content; `mentioned_mobile_list` exists only for `text`
messages, so people known only by mobile number are mentioned in one short
follow-up text message. The API allows 20 messages a minute per robot: a local
sliding-window limiter keeps under it, and errcode 45009 (limit hit anyway)
reports the message as a channel fault with `retry_after` = 60 s at once (the service marks
the channel rate-limited until then and leaves the rest for a later pass; no waiting inside
the pass). Parts already delivered are reported in `Delivery.progress`, kept on the outbox row,
so a retry resumes at the failed part even in another process.
"""

from __future__ import annotations

import asyncio
import logging


from notifiers.base import Channel, Delivery, Message
from notifiers.ratelimit import Clock, SlidingWindowLimiter, Sleep
from notifiers.secrets import Scrubber, Secret
from notifiers.wecom import (CHANNEL_ERRCODES, DEFAULT_BASE_URL, RATE_LIMITED, RETRYABLE_ERRCODES,
                             WeComCallError, WeComHttpClient, call, mask_credentials_in_http_logs,
                             parts_hash, resume_at, retry_after_of, split_numbered, utf8_len)

log = logging.getLogger(__name__)

MARKDOWN_LIMIT = 4096  # bytes of markdown.content
WEBHOOK_PATH = "/cgi-bin/webhook/send"
# 93000 invalid webhook url / key; 93004 and 93008: the robot is disabled or gone
# from its group. None of them heals by retrying.
PERMANENT_ERRCODES = frozenset({93000, 93004, 93008})
MOBILE_MENTION_TEXT = "请以上消息涉及的同志及时查看。"


class WeComRobotChannel(WeComHttpClient, Channel):
    name = "wecom_robot"

    def __init__(
        self,
        *,
        key: Secret,
        base_url: str = DEFAULT_BASE_URL,
        per_minute: int = 20,
        max_wait: float = 60.0,
        timeout: float = 10.0,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        trust_env: bool = True,
        scrubber: Scrubber | None = None,
    ) -> None:
        super().__init__(scrubber)
        mask_credentials_in_http_logs()
        self.scrubber.add(key)
        self._key = key
        self.base_url = base_url.rstrip("/")
        self.max_wait = max_wait
        self.timeout = timeout
        self.trust_env = trust_env
        kwargs = {k: v for k, v in (("clock", clock), ("sleep", sleep)) if v is not None}
        self.limiter = SlidingWindowLimiter(per_minute, 60.0, **kwargs)
        # Parts already delivered per (key, content hash): a retry after a failed
        # second part does not repeat the first one in the group.
        self._progress: dict[tuple[str, str], int] = {}
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"WeComRobotChannel(base_url={self.base_url!r})"

    def payloads(self, message: Message) -> list[dict]:
        """The request bodies for one message, in sending order."""
        content = message.markdown or message.text
        userids = list(dict.fromkeys(r.wecom_userid for r in message.mentions if r.wecom_userid))
        mobiles = list(dict.fromkeys(r.mobile for r in message.mentions
                                     if r.mobile and not r.wecom_userid))
        mention_line = " ".join(f"<@{u}>" for u in userids)
        reserve = utf8_len(mention_line) + 1 if mention_line else 0
        parts = split_numbered(content, MARKDOWN_LIMIT - reserve)
        if mention_line:
            parts[-1] = f"{parts[-1]}\n{mention_line}"
        bodies = [{"msgtype": "markdown", "markdown": {"content": p}} for p in parts]
        if mobiles:
            bodies.append({"msgtype": "text",
                           "text": {"content": MOBILE_MENTION_TEXT, "mentioned_mobile_list": mobiles}})
        return bodies

    async def _send(self, message: Message) -> list[Delivery]:
        # One message at a time per robot: parts of two messages must not interleave.
        async with self._lock:
            return [await self._send_parts(message)]

    async def _send_parts(self, message: Message) -> Delivery:
        bodies = self.payloads(message)
        fingerprint = parts_hash(bodies)
        progress_key = (message.key, fingerprint)
        n = len(bodies)
        start = max(self._progress.get(progress_key, 0), resume_at(message.progress, fingerprint))
        for index in range(start, n):
            where = f"第 {index + 1}/{n} 条：" if n > 1 else ""
            progress = f"{index}:{fingerprint}" if n > 1 else None
            if not await self.limiter.acquire(self.max_wait):
                return Delivery.failure(None, f"{where}本地限流：每个机器人每分钟最多 "
                                        f"{self.limiter.limit} 条，稍后重试", retryable=True,
                                        channel_fault=True,
                                        retry_after=max(self.limiter.wait_needed(), 1.0),
                                        progress=progress)
            try:
                reply = await call(self.client, "POST", WEBHOOK_PATH, params={"key": self._key.reveal()},
                                   body=bodies[index], scrubber=self.scrubber)
            except WeComCallError as exc:
                return self._failed(message, where + exc.error, exc.retryable, progress,
                                    exc.channel_fault, exc.retry_after)
            if reply.errcode != 0:
                if reply.errcode == RATE_LIMITED:
                    # Not waited out here: the service pauses the channel (retry_after).
                    self.limiter.block_for(retry_after_of(reply.errcode) or 60.0)
                retryable = reply.errcode in RETRYABLE_ERRCODES
                if reply.errcode in PERMANENT_ERRCODES:
                    retryable = False
                return self._failed(message, where + reply.error_text(self.scrubber), retryable,
                                    progress, reply.errcode in CHANNEL_ERRCODES,
                                    retry_after_of(reply.errcode))
            self._progress[progress_key] = index + 1
        self._progress.pop(progress_key, None)
        return Delivery.success(None)

    def _failed(self, message: Message, error: str, retryable: bool, progress: str | None = None,
                channel_fault: bool = False, retry_after: float | None = None) -> Delivery:
        log.debug("wecom robot: message %s: %s", message.key, error)
        return Delivery.failure(None, error, retryable=retryable, channel_fault=channel_fault,
                                retry_after=retry_after, progress=progress)
