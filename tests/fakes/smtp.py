"""A real SMTP server on 127.0.0.1 (aiosmtpd in its own thread) for tests.

It records what it receives (envelope + parsed message), counts connections,
and can be told to: require a login, answer 451 to the first N messages,
refuse some recipients with 550, close each connection after K messages,
or speak TLS (STARTTLS or implicit) with a self-signed certificate.

    with FakeSMTP(users={"ccal": "s3cret"}) as smtp:
        ... EmailChannel(host=smtp.host, port=smtp.port, security="none", ...)
        smtp.messages[0].message["Subject"]
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import ssl
import subprocess
import threading
import warnings
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

HOST = "127.0.0.1"

# aiosmtpd warns (rightly, for real servers) about AUTH without TLS and about its
# own deprecated login_data on every connection; on loopback that is just noise.
logging.getLogger("mail.log").setLevel(logging.ERROR)


class HeaderRecorder:
    """An aiosmtpd handler that accepts every message after `delay` seconds (a server writing
    its queue file) and appends to `keys`, per message received, the value of the one header
    named, or a tuple of the values of several. Used with `serving` by the kill -9 tests and
    bench/faults.py."""

    def __init__(self, *headers: str, delay: float = 0.004) -> None:
        self.headers, self.delay = headers, delay
        self.keys: list = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        values = tuple(msg[h] for h in self.headers)
        with self.lock:
            self.keys.append(values[0] if len(values) == 1 else values)
        return "250 2.0.0 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.keys)


@contextmanager
def serving(handler) -> Iterator[int]:
    """`handler` (an aiosmtpd handler object: tests that record deliveries their own way, e.g.
    tests/scheduler/test_crash.py) behind a real SMTP server on a free loopback port; yields
    the port and stops the server on the way out."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    server = Controller(handler, hostname=HOST, port=port, ready_timeout=5)
    server.start()
    try:
        yield port
    finally:
        server.stop()


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage  # parsed with policy.default: headers come back decoded


@dataclass(frozen=True)
class TestCert:
    certfile: Path  # also the CA file a client must trust
    keyfile: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.certfile, self.keyfile)
        return ctx


def make_self_signed_cert(directory: Path) -> TestCert:
    """A throwaway certificate for 127.0.0.1, made with the openssl command line
    (the `cryptography` package is not a dependency). Raises RuntimeError when
    openssl is unavailable so callers can skip."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl command not found")
    cert, key = directory / "cert.pem", directory / "key.pem"
    result = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"openssl failed: {result.stderr.strip()}")
    return TestCert(cert, key)


class _Handler:
    def __init__(self, fake: FakeSMTP) -> None:
        self.fake = fake

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.fake.reject_rcpts:
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        fake = self.fake
        with fake._lock:
            if fake._tempfails_left > 0:
                fake._tempfails_left -= 1
                fake.tempfailed += 1
                return "451 4.3.0 Temporary failure, try again later"
            raw = envelope.original_content or envelope.content
            fake.messages.append(ReceivedMail(
                mail_from=envelope.mail_from,
                rcpt_tos=tuple(envelope.rcpt_tos),
                raw=raw,
                message=message_from_bytes(raw, policy=policy.default),
            ))
        if fake.drop_after is not None:
            session.ccal_sent = getattr(session, "ccal_sent", 0) + 1
            if session.ccal_sent >= fake.drop_after:
                # Close right after the 250 below has been written: the client
                # finds a dead connection when it starts the next message.
                server.loop.call_soon(server.transport.close)
        return "250 2.0.0 Message accepted"


class _Controller(Controller):
    """Controller on a free port (port 0), counting connections."""

    def __init__(self, fake: FakeSMTP, **kwargs) -> None:
        super().__init__(_Handler(fake), hostname=HOST, port=0, **kwargs)
        self.fake = fake

    def factory(self) -> SMTP:
        with self.fake._lock:
            self.fake.connections += 1
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return super().factory()

    def _create_server(self):
        create = super()._create_server()

        async def bind_then_remember_port():
            server = await create
            self.port = server.sockets[0].getsockname()[1]
            return server

        return bind_then_remember_port()


class FakeSMTP:
    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        tempfail_first: int = 0,
        reject_rcpts: Collection[str] = (),
        drop_after: int | None = None,
        tls: str = "none",  # "none" | "starttls" | "implicit"
        cert: TestCert | None = None,
    ) -> None:
        if tls != "none" and cert is None:
            raise ValueError("TLS needs a cert (make_self_signed_cert)")
        self.users = dict(users or {})
        self.reject_rcpts = {a.lower() for a in reject_rcpts}
        self.drop_after = drop_after
        self.tls = tls
        self.messages: list[ReceivedMail] = []
        self.connections = 0
        self.tempfailed = 0
        self.auth_failures = 0
        self._tempfails_left = tempfail_first
        self._lock = threading.Lock()
        kwargs: dict = {"enable_SMTPUTF8": False, "ready_timeout": 5.0}
        if self.users:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=tls != "none")
        if tls == "starttls":
            kwargs.update(tls_context=cert.server_context(), require_starttls=True)
        elif tls == "implicit":
            kwargs.update(ssl_context=cert.server_context())
        self._controller = _Controller(self, **kwargs)

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        return self._controller.port

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and self.users.get(auth_data.login.decode()) == auth_data.password.decode())
        if not ok:
            with self._lock:
                self.auth_failures += 1
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    def start(self) -> FakeSMTP:
        self._controller.start()
        with self._lock:
            self.connections = 0  # the controller's own readiness probe does not count
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> FakeSMTP:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
