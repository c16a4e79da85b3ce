"""Email over SMTP (aiosmtplib): STARTTLS, implicit TLS or plain, optional login.

A batch shares connections: at most `concurrency` connections, each sending
its messages one after another, reconnecting once when the server dropped the
connection, and reporting each result (`on_result`) before it takes the next
message, so the outbox can commit it. Replies are classified the SMTP way: 4xx,
connection errors and timeouts are worth retrying, 5xx (bad mailbox, failed
login) are not.

Messages are built by the standard library (`build_message`: an `EmailMessage`
with policy SMTP) and sent with aiosmtplib's `send_message`. A hand-made MIME
encoder was faster by a millisecond or two per message, but a real mail server
takes tens of milliseconds per message anyway (docs/service.md, Benchmark), and
the standard library's header encoding is the one every client reads.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import ssl
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.errors import HeaderParseError
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import aiosmtplib
from aiosmtplib.email import flatten_message

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

AUTO_SUBMITTED = "auto-generated"   # RFC 3834: no vacation or out-of-office replies, please


def _one_line(text: str | None) -> str:
    """Whitespace collapsed to single spaces: a newline in a header would be an injection
    (the email package refuses it; a name or subject must not make a message unsendable)."""
    return " ".join((text or "").split())


def _boundary(key: str) -> str:
    """The MIME boundary, derived from the outbox key so that building the same message twice
    gives the same bytes (the local outbox writes exactly what would be sent). Base64 lines
    never contain "-" or ".", so a boundary with both cannot occur in a part."""
    return f"=-ccal.{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}"


def build_message(
    message: Message,
    *,
    from_addr: str,
    from_name: str | None,
    recipients: Sequence[Recipient],
    date: datetime,
    reply_to: str | None = None,
) -> EmailMessage:
    """The email as an `email.message.EmailMessage` (policy SMTP): multipart/alternative
    text + HTML (text only without HTML), UTF-8 bodies in base64, headers RFC 2047-encoded by
    the standard library. `Auto-Submitted: auto-generated` marks it as sent by a program;
    `Reply-To` (the propaganda office) when configured; Message-ID and boundary derived from
    the outbox key, so a resend is recognisably the same message. `recipients` without a
    usable address are left out of To. Shared with the local outbox."""
    mail = EmailMessage(policy=SMTP_POLICY)
    mail["From"] = Address(display_name=_one_line(from_name), addr_spec=from_addr)
    mail["To"] = [Address(display_name=_one_line(r.name), addr_spec=r.email)
                  for r in addressable(recipients)]
    if reply_to:
        mail["Reply-To"] = Address(display_name=_one_line(from_name), addr_spec=reply_to)
    subject = _one_line(message.subject)
    if "=?" in subject:
        # Text that merely looks like an RFC 2047 encoded word would be decoded by readers
        # (and by the email package itself): send the whole subject encoded instead.
        mail.set_raw("Subject", Header(subject, "utf-8", header_name="Subject").encode(linesep="\r\n"))
    else:
        mail["Subject"] = subject
    mail["Date"] = date
    mail["Message-ID"] = message_id(message.key, from_addr)
    mail["Auto-Submitted"] = AUTO_SUBMITTED
    mail["X-Ccal-Key"] = _one_line(message.key)
    mail.set_content(message.text, charset="utf-8", cte="base64")
    if message.html:
        mail.add_alternative(message.html, subtype="html", charset="utf-8", cte="base64")
        mail.set_boundary(_boundary(message.key))
    return mail


def message_bytes(mail: EmailMessage) -> bytes:
    """The bytes `aiosmtplib.SMTP.send_message` puts on the wire for `mail` (the same
    flattening, policy SMTP, CRLF line ends); what the local outbox writes as `.eml`."""
    return flatten_message(mail, utf8=False, cte_type="7bit")


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
        reply_to: str | None = None,
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
        self.reply_to = reply_to
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

    def build(self, message: Message) -> EmailMessage:
        """The email this channel sends for `message`, dated by the channel's clock."""
        return build_message(message, from_addr=self.from_addr, from_name=self.from_name,
                             recipients=message.recipients, date=self.clock(),
                             reply_to=self.reply_to)

    async def _transmit(self, smtp: aiosmtplib.SMTP, message: Message) -> list[Delivery]:
        """MAIL, RCPT for each address, DATA (`send_message`; it sends RSET after an error,
        leaving the connection ready for the next message). Raises SMTPRecipientsRefused
        when every recipient was refused."""
        envelope = list(dict.fromkeys(r.email for r in addressable(message.recipients)))
        refused, _ = await smtp.send_message(self.build(message), sender=self.from_addr,
                                             recipients=envelope)
        return self._per_recipient(message, {addr.lower(): resp for addr, resp in refused.items()})

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
