"""Email over SMTP (aiosmtplib): STARTTLS, implicit TLS or plain, optional login.

A batch shares connections: at most `concurrency` connections, each sending
its messages one after another, reconnecting once when the server dropped the
connection, and reporting each result (`on_result`) before it takes the next
message, so the outbox can commit it. Replies are classified the SMTP way: 4xx,
connection errors and timeouts are worth retrying, 5xx (bad mailbox, failed
login) are not.

Messages are assembled directly as bytes (`build_mime`): the `email` package's
EmailMessage costs milliseconds per message to build and as much again to
flatten, which made it the bottleneck of a large dispatch; the bytes go to the
server as they are (MAIL, RCPT, DATA).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import ssl
import uuid
from binascii import b2a_base64
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.utils import format_datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import aiosmtplib

from notifiers.base import Channel, Delivery, Message, OnResult, Recipient
from notifiers.secrets import Scrubber, Secret

log = logging.getLogger(__name__)

Security = Literal["starttls", "tls", "none"]
SECURITY_CHOICES: tuple[str, ...] = ("starttls", "tls", "none")
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
SHANGHAI = ZoneInfo("Asia/Shanghai")

NO_EMAIL = "收件人没有登记邮箱地址"
BAD_EMAIL = "收件人邮箱地址格式不正确"

# A plain dot-atom address (RFC 5322 3.4.1) with a host-name domain: always valid, so the slow
# header parser is only asked about the rest (quoted local parts, literals, typos).
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def address_problem(r: Recipient) -> str | None:
    """Why mail cannot be addressed to `r`, or None. Non-ASCII addresses are refused
    too: they would need SMTPUTF8, which many campus servers lack."""
    if not r.email:
        return NO_EMAIL
    if _PLAIN_ADDRESS.fullmatch(r.email):
        return None
    try:
        parsed = Address(addr_spec=r.email)
    except (ValueError, IndexError, HeaderParseError):
        return BAD_EMAIL
    if not parsed.username or not parsed.domain or not r.email.isascii():
        return BAD_EMAIL
    return None


def addressable(recipients: Sequence[Recipient]) -> list[Recipient]:
    return [r for r in recipients if address_problem(r) is None]


def undeliverable(r: Recipient) -> Delivery:
    return Delivery.failure(r, f"{address_problem(r)}：{r.email}" if r.email else NO_EMAIL, retryable=False)


def shanghai_now() -> datetime:
    return datetime.now(SHANGHAI)


def message_id(key: str, from_addr: str) -> str:
    """A Message-ID derived from the outbox key, so a resent message (after an
    ambiguous failure) carries the same id and mail clients can drop the duplicate."""
    domain = from_addr.rpartition("@")[2] or "localhost"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<ccal.{digest}@{domain}>"


# --------------------------------------------------------------------------- MIME

# RFC 2047 2: a line holding an encoded word is at most 76 characters. 36 UTF-8 bytes make
# 48 base64 characters, a 60-character word: it fits after "Subject: " on the first line.
_LINE_MAX = 76
_WORD_BYTES = 36
_CRLF = b"\r\n"


@dataclass(frozen=True)
class MimeMessage:
    """A built message: exactly the bytes that go on the wire (or into an .eml file)."""

    data: bytes

    def as_bytes(self) -> bytes:
        return self.data


def _encoded_words(text: str) -> list[str]:
    """`text` as RFC 2047 "B" encoded words in UTF-8, each holding whole characters."""
    data = text.encode("utf-8")
    words, start = [], 0
    while start < len(data):
        end = min(start + _WORD_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # not inside a UTF-8 sequence
            end -= 1
        words.append(f"=?utf-8?b?{b2a_base64(data[start:end], newline=False).decode('ascii')}?=")
        start = end
    return words


def _plain(text: str) -> bool:
    """Can `text` stand in a header as it is: printable ASCII that no reader could take
    for an encoded word, in words short enough to fold."""
    return (text.isascii() and text.isprintable() and "=?" not in text
            and all(len(w) <= 200 for w in text.split(" ")))


def _unstructured(value: str) -> list[str]:
    """Header tokens of a free-text value (Subject). Whitespace is collapsed to single
    spaces first: a newline in a header would be an injection."""
    value = " ".join(value.split())
    if not value:
        return []
    return value.split(" ") if _plain(value) else _encoded_words(value)


_SPECIALS = re.compile(r'[][\\()<>@,:;".]')


def _mailbox(name: str | None, addr: str) -> list[str]:
    """Header tokens of `name <addr>` (RFC 5322 name-addr); just `addr` without a name."""
    name = " ".join((name or "").split())  # one line: a newline would be header injection
    if not name:
        return [addr]
    if not _plain(name):
        return [*_encoded_words(name), f"<{addr}>"]
    if _SPECIALS.search(name):
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return [f'"{escaped}"', f"<{addr}>"]
    return [*name.split(" "), f"<{addr}>"]


def _header(name: str, tokens: Sequence[str]) -> bytes:
    """`name: token token ...`, folded (CRLF + space) before a token that would make the
    line longer than 76 characters."""
    lines: list[str] = []
    line = f"{name}:"
    for i, token in enumerate(tokens):
        if i and len(line) + 1 + len(token) > _LINE_MAX:
            lines.append(line)
            line = ""
        line += " " + token
    lines.append(line)
    return "\r\n".join(lines).encode("ascii") + _CRLF


def _base64_body(text: str) -> bytes:
    """UTF-8 text in canonical form (CRLF line ends, ending with one) as base64 lines of 76
    characters (RFC 2045 6.8)."""
    data = _CRLF.join(text.encode("utf-8").splitlines()) + _CRLF
    chunks = [b2a_base64(data[i:i + 57]) for i in range(0, len(data), 57)]
    return b"".join(chunks).replace(b"\n", _CRLF)


def _text_part(text: str, subtype: str) -> bytes:
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n").encode("ascii") + _base64_body(text)


def build_mime(
    message: Message,
    *,
    from_addr: str,
    from_name: str | None,
    recipients: Sequence[Recipient],
    date: datetime,
) -> MimeMessage:
    """The MIME message: multipart/alternative text + HTML (text only without HTML),
    UTF-8 bodies in base64, headers ASCII with RFC 2047 encoded words so Chinese names
    and subjects survive any server. Shared with the local outbox so its `.eml` files
    are what would be sent; `recipients` without a usable address are left out of To."""
    to: list[str] = []
    for r in addressable(recipients):
        if to:
            to[-1] += ","
        to += _mailbox(r.name, r.email)
    head = b"".join((
        _header("From", _mailbox(from_name, from_addr)),
        _header("To", to),
        _header("Subject", _unstructured(message.subject)),
        _header("Date", [format_datetime(date)]),
        _header("Message-ID", [message_id(message.key, from_addr)]),
        _header("X-Ccal-Key", _unstructured(message.key)),
        b"MIME-Version: 1.0\r\n",
    ))
    if not message.html:
        return MimeMessage(head + _text_part(message.text, "plain"))
    # Base64 lines never contain "-" or ".", so a boundary with both cannot occur in a part.
    boundary = f"=-ccal.{uuid.uuid4().hex}"
    delimiter = f"--{boundary}\r\n".encode("ascii")
    return MimeMessage(b"".join((
        head,
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n'.encode("ascii"),
        delimiter, _text_part(message.text, "plain"),
        delimiter, _text_part(message.html, "html"),
        f"--{boundary}--\r\n".encode("ascii"),
    )))


# --------------------------------------------------------------------------- the channel

@dataclass
class _BatchState:
    # Set when a connection cannot be opened: the rest of the batch fails the same
    # way instead of knocking on a closed door once per message. (error, retryable, channel_fault)
    fatal: tuple[str, bool, bool] | None = None
    # Set once the first connection attempt is over; the other workers only
    # connect after it, so a wrong password costs one login, not `concurrency`.
    first_attempt_done: asyncio.Event = field(default_factory=asyncio.Event)
    # The caller asked to stop (on_result returned False) or its callback failed:
    # no worker starts another message.
    stopped: bool = False
    callback_error: BaseException | None = None


class EmailChannel(Channel):
    name = "email"

    def __init__(
        self,
        *,
        host: str,
        from_addr: str,
        from_name: str | None = "党委宣传部",
        port: int | None = None,
        security: Security = "starttls",
        username: str | None = None,
        password: Secret | None = None,
        concurrency: int = 4,
        timeout: float = 30.0,
        cafile: Path | None = None,
        validate_certs: bool = True,
        local_hostname: str | None = None,
        clock: Callable[[], datetime] = shanghai_now,
        scrubber: Scrubber | None = None,
    ) -> None:
        if security not in SECURITY_CHOICES:
            raise ValueError(f"security must be one of {', '.join(SECURITY_CHOICES)}")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        super().__init__(scrubber or Scrubber([password] if password else []))
        if password is not None:
            self.scrubber.add(password)
        self.host = host
        self.port = port or DEFAULT_PORTS[security]
        self.security = security
        self.username = username
        self._password = password
        self.from_addr = from_addr
        self.from_name = from_name
        self.concurrency = concurrency
        self.timeout = timeout
        self.cafile = cafile
        self.validate_certs = validate_certs
        self.local_hostname = local_hostname
        self.clock = clock

    def __repr__(self) -> str:
        return (f"EmailChannel(host={self.host!r}, port={self.port}, security={self.security!r}, "
                f"username={self.username!r}, from_addr={self.from_addr!r})")

    async def _send(self, message: Message) -> list[Delivery]:
        return (await self.send_many([message]))[0]

    async def send_many(self, messages: Sequence[Message],
                        on_result: OnResult | None = None) -> list[list[Delivery]]:
        """Send a batch over at most `concurrency` connections. `on_result(i, deliveries)` is
        called as soon as message `i` is done, before its connection carries another one; if it
        returns False, no further message is started (those get an empty result). An exception
        from `on_result` stops the batch the same way and is raised once the connections are
        closed: the caller could not record a result, so nothing more may go out."""
        results: list[list[Delivery]] = [[] for _ in messages]
        state = _BatchState()
        queue: deque[int] = deque()
        for i, m in enumerate(messages):
            if addressable(m.recipients):
                queue.append(i)
            elif not state.stopped:
                results[i] = [undeliverable(r) for r in m.recipients] or [
                    Delivery.failure(None, "消息没有收件人", retryable=False)]
                self._report(state, on_result, i, results[i])
        if queue and not state.stopped:
            workers = min(self.concurrency, len(queue))
            await asyncio.gather(*(self._worker(messages, queue, results, state, on_result,
                                                first=n == 0) for n in range(workers)))
        if state.callback_error is not None:
            raise state.callback_error
        return results

    @staticmethod
    def _report(state: _BatchState, on_result: OnResult | None, i: int,
                deliveries: list[Delivery]) -> None:
        if on_result is None:
            return
        try:
            if on_result(i, deliveries) is False:
                state.stopped = True
        except Exception as exc:
            state.stopped = True
            state.callback_error = state.callback_error or exc

    async def _worker(self, messages, queue: deque[int], results, state: _BatchState,
                      on_result: OnResult | None, *, first: bool) -> None:
        smtp: aiosmtplib.SMTP | None = None
        if not first:
            await state.first_attempt_done.wait()
        try:
            while queue and not state.stopped:
                i = queue.popleft()
                message = messages[i]
                try:
                    smtp, results[i] = await self._deliver(smtp, message, state)
                except Exception as exc:  # never let one message kill the worker
                    results[i] = self._unexpected(message, exc)
                self._report(state, on_result, i, results[i])
        finally:
            state.first_attempt_done.set()  # never leave the other workers waiting
            if smtp is not None:
                await self._close(smtp)

    async def _deliver(self, smtp, message: Message, state: _BatchState):
        for attempt in (1, 2):
            if state.fatal is not None:
                return smtp, self._fail_addressed(message, *state.fatal)
            if smtp is None or not smtp.is_connected:
                if smtp is not None:
                    await self._close(smtp)
                try:
                    smtp = await self._connect()
                except Exception as exc:
                    state.fatal = self._classify(exc)
                    log.warning("smtp %s:%s: cannot connect: %s", self.host, self.port, state.fatal[0])
                    return None, self._fail_addressed(message, *state.fatal)
                finally:
                    state.first_attempt_done.set()
            try:
                return smtp, await self._transmit(smtp, message)
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError) as exc:
                # The server dropped an idle or exhausted connection: reconnect once.
                await self._close(smtp)
                smtp = None
                if attempt == 2:
                    return None, self._fail_addressed(message, *self._classify(exc))
            except (aiosmtplib.SMTPTimeoutError, asyncio.TimeoutError, OSError) as exc:
                # Connection state unknown after a timeout: do not reuse it.
                await self._close(smtp)
                return None, self._fail_addressed(message, *self._classify(exc))
            except aiosmtplib.SMTPRecipientsRefused as exc:
                refused = {e.recipient.lower(): e for e in exc.recipients}
                return smtp, self._per_recipient(message, refused)
            except aiosmtplib.SMTPException as exc:
                return smtp, self._fail_addressed(message, *self._classify(exc))
        raise AssertionError("unreachable")

    async def _transmit(self, smtp: aiosmtplib.SMTP, message: Message) -> list[Delivery]:
        addressed = addressable(message.recipients)
        data = build_mime(message, from_addr=self.from_addr, from_name=self.from_name,
                          recipients=addressed, date=self.clock()).data
        envelope = list(dict.fromkeys(r.email for r in addressed))
        refused = await self._envelope_and_data(smtp, envelope, data)
        return self._per_recipient(message, {addr.lower(): resp for addr, resp in refused.items()})

    async def _envelope_and_data(self, smtp: aiosmtplib.SMTP, envelope: list[str],
                                 data: bytes) -> dict[str, aiosmtplib.SMTPRecipientRefused]:
        """MAIL, RCPT for each address, DATA: what `SMTP.sendmail` does, without its extra
        passes over the message (a line-ending rewrite of the whole text only to declare
        SIZE, which is optional, and two more parses of every address); on a large batch
        they cost a tenth of the client's time. Returns the refused recipients; raises
        SMTPRecipientsRefused when every one was refused."""
        refused: dict[str, aiosmtplib.SMTPRecipientRefused] = {}
        try:
            await smtp.mail(self.from_addr)
            for addr in envelope:
                try:
                    await smtp.rcpt(addr)
                except aiosmtplib.SMTPRecipientRefused as exc:
                    refused[addr] = exc
            if len(refused) == len(envelope):
                raise aiosmtplib.SMTPRecipientsRefused(list(refused.values()))
            await smtp.data(data)
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
            # Leave the connection ready for the next message.
            try:
                await smtp.rset()
            except (ConnectionError, aiosmtplib.SMTPException):
                pass
            raise
        return refused

    def _per_recipient(self, message: Message, refused: dict) -> list[Delivery]:
        out = []
        for r in message.recipients:
            if address_problem(r) is not None:
                out.append(undeliverable(r))
                continue
            reply = refused.get(r.email.lower())
            if reply is None:
                out.append(Delivery.success(r))
            else:
                out.append(Delivery.failure(
                    r, self.scrubber.scrub(f"收件人被拒绝：SMTP {reply.code} {reply.message}"),
                    retryable=_retryable_code(reply.code)))
        return out

    def _fail_addressed(self, message: Message, error: str, retryable: bool,
                        channel_fault: bool = False) -> list[Delivery]:
        return [Delivery.failure(r, error, retryable=retryable, channel_fault=channel_fault)
                if address_problem(r) is None else undeliverable(r) for r in message.recipients]

    async def _connect(self) -> aiosmtplib.SMTP:
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            use_tls=self.security == "tls",
            start_tls=self.security == "starttls",
            tls_context=self._tls_context() if self.security != "none" else None,
            timeout=self.timeout,
            local_hostname=self.local_hostname,
        )
        await smtp.connect()
        try:
            if self.username:
                await smtp.login(self.username, self._password.reveal() if self._password else "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _tls_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.cafile) if self.cafile else None)
        if not self.validate_certs:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    async def _close(self, smtp: aiosmtplib.SMTP) -> None:
        if smtp.is_connected:
            try:
                await asyncio.wait_for(smtp.quit(), timeout=min(self.timeout, 5.0))
            except Exception:
                pass
        smtp.close()

    def _classify(self, exc: BaseException) -> tuple[str, bool, bool]:
        """(scrubbed error text, retryable, channel_fault). Channel faults are the server's or
        the configuration's, not the message's: a failed login (535/530/534), a sender the
        server refuses, 421 "service not available", a refused or silent connection, a
        timeout, an untrusted certificate. A refused mailbox (550/553, per recipient) is not."""
        fault = False
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            text, retryable, fault = f"SMTP 登录失败：{exc.code} {exc.message}", _retryable_code(exc.code), True
        elif isinstance(exc, aiosmtplib.SMTPSenderRefused):
            text, retryable, fault = f"SMTP 发件人被拒绝：{exc.code} {exc.message}", _retryable_code(exc.code), True
        elif isinstance(exc, aiosmtplib.SMTPResponseException):
            text, retryable = f"SMTP {exc.code} {exc.message}", _retryable_code(exc.code)
            fault = exc.code in (421, 454, 530, 534, 535)
        elif (cert_error := _cause(exc, ssl.SSLCertVerificationError)) is not None:
            # A configuration problem (untrusted or mismatched certificate): set `cafile`.
            text, retryable, fault = f"SMTP 服务器证书校验失败：{cert_error.verify_message}", False, True
        elif isinstance(exc, (aiosmtplib.SMTPTimeoutError, asyncio.TimeoutError, TimeoutError)):
            text, retryable, fault = f"SMTP 超时：{exc}", True, True
        elif isinstance(exc, aiosmtplib.SMTPNotSupported):
            text, retryable, fault = f"SMTP 服务器不支持所需功能：{exc}", False, True
        elif isinstance(exc, (ConnectionError, OSError, aiosmtplib.SMTPServerDisconnected)):
            text, retryable, fault = f"SMTP 连接失败（{self.host}:{self.port}）：{exc}", True, True
        else:
            text, retryable = f"SMTP 错误 {type(exc).__name__}: {exc}", False
        return self.scrubber.scrub(text), retryable, fault


def _cause(exc: BaseException, kind: type[BaseException]):
    """`exc` or the first exception of `kind` in its cause/context chain."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _retryable_code(code: int) -> bool:
    # 4xx: transient by definition (RFC 5321 4.2.1); 5xx: permanent; anything odd: retry.
    return not (500 <= code < 600)
