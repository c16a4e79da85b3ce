"""Reusable loopback servers for tests: a real SMTP server (aiosmtpd) and a
WeCom API stand-in (robot webhook + application messages)."""

from tests.fakes.smtp import FakeSMTP, ReceivedMail, TestCert, make_self_signed_cert
from tests.fakes.wecom import FakeWeCom, RecordedRequest

__all__ = ["FakeSMTP", "ReceivedMail", "TestCert", "make_self_signed_cert", "FakeWeCom", "RecordedRequest"]
