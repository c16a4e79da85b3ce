"""WeCom application message (应用消息) to individual members.

`GET /cgi-bin/gettoken?corpid=&corpsecret=` gives an `access_token` valid for
`expires_in` seconds; it is cached until `token_margin` seconds before that and
fetched again, and a send answered with an invalid/expired token
(40001/40014/42001 — WeCom may revoke tokens early) refetches it and retries
once. `POST /cgi-bin/message/send?access_token=` takes up to 1000 userids
joined by `|`. Members the API lists in `invaliduser`/`unlicenseduser` fail
individually (permanently) while the others are delivered; WeCom lower-cases
the userids it returns, so they are matched case-insensitively.

Token, secret, IP and rate-limit trouble are channel faults (`Delivery.channel_fault`,
`retry_after` for 45009). The parts of a long message already delivered are reported in
`Delivery.progress` (kept on the outbox row), so a retry resumes at the failed part instead of
relying on WeCom's duplicate check, which lapses after `duplicate_check_interval`.
"""

from __future__ import annotations

import asyncio
import logging
import time


from notifiers.base import Channel, Delivery, Message, Recipient
from notifiers.ratelimit import Clock
from notifiers.secrets import Scrubber, Secret
from notifiers.wecom import (WeComHttpClient, DEFAULT_BASE_URL, RETRYABLE_ERRCODES, WeComCallError, call,
                             mask_credentials_in_http_logs, parts_hash, resume_at, split_numbered)

log = logging.getLogger(__name__)

CONTENT_LIMIT = 2048  # bytes of text.content / markdown.content for application messages
MAX_USERS_PER_CALL = 1000
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})  # invalid secret/credential, invalid token, expired
ALL_INVALID = 81013  # every recipient invalid or outside the app's visibility
IP_NOT_ALLOWED = 60020
NO_USERID = "收件人没有登记企业微信账号（wecom_userid）"
INVALID_USER = "企业微信账号无效或不在应用可见范围内（invaliduser）"
UNLICENSED_USER = "该成员没有企业微信接口许可（unlicenseduser）"


class WeComAppChannel(WeComHttpClient, Channel):
    name = "wecom_app"

    def __init__(
        self,
        *,
        corp_id: str,
        secret: Secret,
        agent_id: int,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        token_margin: float = 300.0,
        duplicate_check_interval: int | None = 1800,
        clock: Clock = time.monotonic,
        trust_env: bool = True,
        scrubber: Scrubber | None = None,
    ) -> None:
        super().__init__(scrubber)
        mask_credentials_in_http_logs()
        self.scrubber.add(secret)
        self.corp_id = corp_id
        self._secret = secret
        self.agent_id = agent_id
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.token_margin = token_margin
        self.duplicate_check_interval = duplicate_check_interval
        self.clock = clock
        self.trust_env = trust_env
        self._token: str | None = None
        self._token_valid_until = float("-inf")
        self._token_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"WeComAppChannel(base_url={self.base_url!r}, corp_id={self.corp_id!r}, agent_id={self.agent_id})"

    # -- token -------------------------------------------------------------

    async def access_token(self, *, refresh: bool = False, stale: str | None = None) -> str:
        """The cached token, fetched when missing, near expiry or `refresh`ed.
        `stale` is the token a caller saw rejected: when another task already
        replaced it, that newer token is used instead of fetching again."""
        async with self._token_lock:
            fresh = self._token is not None and self.clock() < self._token_valid_until
            if fresh and not (refresh and self._token == stale):
                return self._token
            reply = await call(self.client, "GET", "/cgi-bin/gettoken",
                               params={"corpid": self.corp_id, "corpsecret": self._secret.reveal()},
                               body=None, scrubber=self.scrubber)
            token = reply.data.get("access_token")
            if reply.errcode != 0 or not isinstance(token, str) or not token:
                raise WeComCallError(reply.error_text(self.scrubber, "获取 access_token 失败"),
                                     retryable=reply.errcode in RETRYABLE_ERRCODES, errcode=reply.errcode)
            expires_in = reply.data.get("expires_in", 7200)
            if not isinstance(expires_in, (int, float)):
                expires_in = 7200
            self.scrubber.add(token)
            self._token = token
            self._token_valid_until = self.clock() + max(float(expires_in) - self.token_margin, 0.0)
            return token

    # -- sending -----------------------------------------------------------

    def _body(self, userids: list[str], content: str, msgtype: str) -> dict:
        body = {"touser": "|".join(userids), "msgtype": msgtype, "agentid": self.agent_id,
                msgtype: {"content": content}}
        if self.duplicate_check_interval:
            # WeCom drops an identical request within the interval: a retried part
            # that did arrive the first time is not shown twice.
            body["enable_duplicate_check"] = 1
            body["duplicate_check_interval"] = self.duplicate_check_interval
        return body

    async def _post(self, body: dict) -> dict:
        token = await self.access_token()
        for attempt in (1, 2):
            reply = await call(self.client, "POST", "/cgi-bin/message/send", params={"access_token": token},
                               body=body, scrubber=self.scrubber)
            if reply.errcode == 0:
                return reply.data
            if reply.errcode in TOKEN_ERRCODES and attempt == 1:
                token = await self.access_token(refresh=True, stale=token)
                continue
            retryable = reply.errcode in RETRYABLE_ERRCODES or reply.errcode in TOKEN_ERRCODES
            if reply.errcode in (ALL_INVALID, IP_NOT_ALLOWED):
                retryable = False
            raise WeComCallError(reply.error_text(self.scrubber), retryable=retryable, errcode=reply.errcode)
        raise AssertionError("unreachable")

    async def _send(self, message: Message) -> list[Delivery]:
        msgtype, content = ("markdown", message.markdown) if message.markdown else ("text", message.text)
        parts = split_numbered(content, CONTENT_LIMIT)
        # WeCom userids are case-insensitive: one call per person, first spelling wins.
        by_lower: dict[str, str] = {}
        for r in message.recipients:
            if r.wecom_userid:
                by_lower.setdefault(r.wecom_userid.lower(), r.wecom_userid)
        userids = list(by_lower.values())
        # Progress across parts is kept for a message to one call's worth of people (every
        # outbox row: one person); a larger one starts again at part 1.
        fingerprint = parts_hash(parts)
        single = len(userids) <= MAX_USERS_PER_CALL and len(parts) > 1
        first = resume_at(message.progress, fingerprint) if single else 0
        failed: dict[str, tuple] = {}  # lower-cased userid -> (error, retryable, fault, after, progress)
        for start in range(0, len(userids), MAX_USERS_PER_CALL):
            targets = userids[start:start + MAX_USERS_PER_CALL]
            for index, part in enumerate(parts):
                if not targets:
                    break
                if index < first:
                    continue
                try:
                    data = await self._post(self._body(targets, part, msgtype))
                except WeComCallError as exc:
                    log.debug("wecom app: message %s: %s", message.key, exc.error)
                    progress = f"{index}:{fingerprint}" if single else None
                    for t in targets:
                        failed[t.lower()] = (exc.error, exc.retryable, exc.channel_fault,
                                             exc.retry_after, progress)
                    break
                invalid = _userid_set(data.get("invaliduser"))
                unlicensed = _userid_set(data.get("unlicenseduser"))
                for t in targets:
                    if t.lower() in invalid:
                        failed[t.lower()] = (INVALID_USER, False, False, None, None)
                    elif t.lower() in unlicensed:
                        failed[t.lower()] = (UNLICENSED_USER, False, False, None, None)
                targets = [t for t in targets if t.lower() not in failed]
        return [self._delivery(r, failed) for r in message.recipients]

    @staticmethod
    def _delivery(r: Recipient, failed: dict[str, tuple]) -> Delivery:
        if not r.wecom_userid:
            return Delivery.failure(r, NO_USERID, retryable=False)
        problem = failed.get(r.wecom_userid.lower())
        if problem is None:
            return Delivery.success(r)
        error, retryable, fault, after, progress = problem
        return Delivery.failure(r, error, retryable=retryable, channel_fault=fault,
                                retry_after=after, progress=progress)


def _userid_set(value) -> set[str]:
    if not isinstance(value, str) or not value:
        return set()
    return {u.strip().lower() for u in value.split("|") if u.strip()}
