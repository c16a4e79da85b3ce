"""What the WeCom robot and application channels share: the JSON call, the
errcode convention (errors come back as HTTP 200 with a non-zero `errcode`)
and splitting long content at line boundaries under a UTF-8 byte limit."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import httpx

from notifiers.secrets import Scrubber

DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"

# Server-side trouble worth retrying: -1 system busy, 45009 api frequency limit,
# 45033 too many concurrent calls.
RETRYABLE_ERRCODES = frozenset({-1, 45009, 45033})
RATE_LIMITED = 45009
RATE_LIMIT_PAUSE = 60.0  # seconds: WeCom counts its limits per minute
# Trouble that belongs to the channel, not to one message (Delivery.channel_fault): the service
# pauses the channel and keeps the rows retryable. -1 busy; 40001 bad secret; 40013 bad corpid;
# 40014/42001 token trouble that a refetch did not cure; 40056 bad agentid; 45009/45033 limits;
# 48002 API forbidden for the app; 60020 server IP not in the trusted list; 93000/93004/93008
# robot key invalid or robot disabled.
CHANNEL_ERRCODES = frozenset({-1, 40001, 40013, 40014, 42001, 40056, 45009, 45033, 48002, 60020,
                              93000, 93004, 93008})


def retry_after_of(errcode: int | None) -> float | None:
    return RATE_LIMIT_PAUSE if errcode in (RATE_LIMITED, 45033) else None


class _CredentialLogFilter(logging.Filter):
    """httpx logs every request URL at INFO, and WeCom puts the robot key, the
    corp secret and the access token in the query string: mask them there."""

    _scrubber = Scrubber()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(self._scrubber.scrub(str(a)) if isinstance(a, (str, httpx.URL)) else a
                                for a in args)
        elif isinstance(record.msg, str):
            record.msg = self._scrubber.scrub(record.msg)
        return True


_LOG_FILTER = _CredentialLogFilter()


def mask_credentials_in_http_logs() -> None:
    """Idempotent; called by every WeCom channel on creation."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if _LOG_FILTER not in logger.filters:
            logger.addFilter(_LOG_FILTER)


class WeComHttpClient:
    """The lazily opened HTTP client of a WeCom channel (one per channel, reused across
    messages, closed by `aclose`). Expects `base_url`, `timeout` and `trust_env`."""

    base_url: str
    timeout: float
    trust_env: bool
    _client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout,
                                             trust_env=self.trust_env)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class WeComCallError(Exception):
    """A failed call; `error` is already scrubbed of secrets."""

    def __init__(self, error: str, *, retryable: bool, errcode: int | None = None,
                 channel_fault: bool | None = None, retry_after: float | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.retryable = retryable
        self.errcode = errcode
        self.channel_fault = errcode in CHANNEL_ERRCODES if channel_fault is None else channel_fault
        self.retry_after = retry_after if retry_after is not None else retry_after_of(errcode)


@dataclass(frozen=True)
class WeComReply:
    errcode: int
    errmsg: str
    data: dict

    def error_text(self, scrubber: Scrubber, what: str = "") -> str:
        prefix = f"{what}：" if what else ""
        return scrubber.scrub(f"{prefix}企业微信错误 {self.errcode}：{self.errmsg}")


async def call(client: httpx.AsyncClient, method: str, path: str, *, params: dict,
               body: dict | None, scrubber: Scrubber) -> WeComReply:
    """One API call. Transport problems raise `WeComCallError`; an answered
    request returns the reply, whatever its errcode, for the caller to judge."""
    content = None
    headers = {}
    if body is not None:
        # Explicit UTF-8 JSON: the content limits are counted in UTF-8 bytes.
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers["Content-Type"] = "application/json; charset=utf-8"
    try:
        response = await client.request(method, path, params=params, content=content, headers=headers)
    except httpx.TimeoutException as exc:
        raise WeComCallError(scrubber.scrub(f"企业微信接口超时（{type(exc).__name__}）"), retryable=True,
                             channel_fault=True) from None
    except httpx.HTTPError as exc:
        raise WeComCallError(scrubber.scrub(f"企业微信接口连接失败：{type(exc).__name__}: {exc}"),
                             retryable=True, channel_fault=True) from None
    status = response.status_code
    if status >= 500 or status == 429:
        raise WeComCallError(f"企业微信接口 HTTP {status}", retryable=True, channel_fault=True,
                             retry_after=RATE_LIMIT_PAUSE if status == 429 else None)
    if status >= 400:
        # Wrong base_url or path: retrying will not help until the config is fixed.
        raise WeComCallError(f"企业微信接口 HTTP {status}（请检查 base_url 配置）", retryable=False,
                             channel_fault=True)
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("errcode", 0), int):
        # Typically a proxy's HTML error page.
        raise WeComCallError(f"企业微信接口返回了无法识别的内容（HTTP {status}）", retryable=True,
                             channel_fault=True)
    return WeComReply(errcode=data.get("errcode", 0), errmsg=str(data.get("errmsg", "")), data=data)


def parts_hash(parts: list) -> str:
    """A short fingerprint of a message's parts: delivered-part progress applies only to the
    same content (a message re-rendered since starts again)."""
    import hashlib
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:16]


def resume_at(progress: str | None, fingerprint: str) -> int:
    """Parts already delivered according to `progress` ("k:fingerprint"), 0 if it is for other content."""
    if progress:
        done, _, of = progress.partition(":")
        if of == fingerprint and done.isdigit():
            return int(done)
    return 0


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def split_utf8(content: str, limit: int) -> list[str]:
    """Split `content` into parts of at most `limit` UTF-8 bytes, breaking between
    lines (a single over-long line is broken between characters). Joining the
    parts with newlines gives `content` back when only line breaks were used."""
    if limit < 4:
        raise ValueError("limit too small")
    if utf8_len(content) <= limit:
        return [content]
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for line in content.split("\n"):
        line_size = utf8_len(line)
        if line_size > limit:
            if current:
                parts.append("\n".join(current))
                current, size = [], 0
            pieces = _split_long_line(line, limit)
            parts.extend(pieces[:-1])
            current, size = [pieces[-1]], utf8_len(pieces[-1])
            continue
        needed = line_size + (1 if current else 0)
        if current and size + needed > limit:
            parts.append("\n".join(current))
            current, size = [line], line_size
        else:
            current.append(line)
            size += needed
    if current:
        parts.append("\n".join(current))
    return parts


def _split_long_line(line: str, limit: int) -> list[str]:
    pieces: list[str] = []
    piece: list[str] = []
    size = 0
    for ch in line:
        n = utf8_len(ch)
        if size + n > limit:
            pieces.append("".join(piece))
            piece, size = [], 0
        piece.append(ch)
        size += n
    pieces.append("".join(piece))
    return pieces


def split_numbered(content: str, limit: int) -> list[str]:
    """`split_utf8` plus a "（第 k/n 部分）" marker on every part when there is more
    than one, so readers know a message continues."""
    parts = split_utf8(content, limit)
    if len(parts) == 1:
        return parts
    reserve = utf8_len("\n（第 999/999 部分）")
    parts = split_utf8(content, limit - reserve)
    n = len(parts)
    return [f"{p}\n（第 {k}/{n} 部分）" for k, p in enumerate(parts, start=1)]
