"""The email channel against a real SMTP server on loopback (tests/fakes/smtp.py)."""

from __future__ import annotations

import asyncio
import socket
from datetime import datetime
from email import message_from_bytes, policy

import pytest

from notifiers.base import Message, Recipient
from notifiers.email import SHANGHAI, EmailChannel, build_message, message_bytes
from notifiers.secrets import Secret
from tests.fakes import FakeSMTP

WANG = Recipient("王老师", email="wang@example.edu.cn")
LI = Recipient("李书记", email="li@example.edu.cn")
PASSWORD = "s3cret-smtp-pass"
FIXED = datetime(2026, 6, 10, 8, 30, tzinfo=SHANGHAI)


def message(key="jc/2026-H1/1.2", recipients=(WANG,), **kw) -> Message:
    fields = dict(
        key=key,
        subject="【意识形态工作提醒】向党委宣传部书面汇报（6月15日截止）",
        text="王老师：您好！\n请于6月15日前报送半年书面汇报。\n党委宣传部",
        html="<p>王老师：您好！</p><p>请于6月15日前报送半年书面汇报。</p>",
        markdown=None,
        recipients=tuple(recipients),
    )
    fields.update(kw)
    return Message(**fields)


def channel(smtp: FakeSMTP, **kw) -> EmailChannel:
    options = dict(host=smtp.host, port=smtp.port, security="none", from_addr="ccal@example.edu.cn",
                   from_name="党委宣传部", local_hostname="ccal.test", timeout=5.0, clock=lambda: FIXED)
    options.update(kw)
    return EmailChannel(**options)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_chinese_subject_and_names_arrive_encoded_and_decode_back():
    with FakeSMTP() as smtp:
        [delivery] = asyncio.run(channel(smtp).send(message()))
        assert delivery.ok and delivery.recipient == WANG
        [mail] = smtp.messages
    raw_headers = mail.raw.split(b"\r\n\r\n", 1)[0]
    assert raw_headers.isascii(), "headers must be RFC 2047 encoded words, not raw UTF-8"
    msg = mail.message
    assert msg["Subject"] == "【意识形态工作提醒】向党委宣传部书面汇报（6月15日截止）"
    assert msg["From"].addresses[0].display_name == "党委宣传部"
    assert msg["From"].addresses[0].addr_spec == "ccal@example.edu.cn"
    assert msg["To"].addresses[0].display_name == "王老师"
    assert msg["Date"].datetime == FIXED
    assert msg["Message-ID"].startswith("<ccal.") and msg["Message-ID"].endswith("@example.edu.cn>")
    assert mail.mail_from == "ccal@example.edu.cn"
    assert mail.rcpt_tos == ("wang@example.edu.cn",)


def test_body_is_multipart_alternative_with_chinese_text_and_html():
    with FakeSMTP() as smtp:
        asyncio.run(channel(smtp).send(message()))
        msg = smtp.messages[0].message
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert "请于6月15日前报送半年书面汇报。" in plain.get_content()
    assert "<p>请于6月15日前报送半年书面汇报。</p>" in html.get_content()


def test_same_outbox_key_gives_same_message_id():
    with FakeSMTP() as smtp:
        ch = channel(smtp)
        asyncio.run(ch.send(message(key="a")))
        asyncio.run(ch.send(message(key="a")))
        asyncio.run(ch.send(message(key="b")))
        ids = [m.message["Message-ID"] for m in smtp.messages]
    assert ids[0] == ids[1] != ids[2]


def test_login_with_the_right_password_delivers():
    with FakeSMTP(users={"ccal": PASSWORD}) as smtp:
        ch = channel(smtp, username="ccal", password=Secret("CCAL_SMTP_PASSWORD", PASSWORD))
        [delivery] = asyncio.run(ch.send(message()))
        assert delivery.ok
        assert len(smtp.messages) == 1 and smtp.auth_failures == 0


def test_failed_login_is_permanent_for_the_whole_batch_and_hides_the_password(caplog):
    with FakeSMTP(users={"ccal": "the-real-password"}) as smtp:
        ch = channel(smtp, username="ccal", password=Secret("CCAL_SMTP_PASSWORD", PASSWORD))
        results = asyncio.run(ch.send_many([message(key=f"k{i}") for i in range(5)]))
        assert smtp.messages == []
        assert smtp.connections == 1, "a failed login must not be retried for every message"
    for [d] in results:
        assert not d.ok and not d.retryable
        assert "535" in d.error and "登录失败" in d.error
        assert PASSWORD not in d.error
    assert PASSWORD not in caplog.text


def test_temporary_4xx_is_retryable_and_the_retry_is_accepted():
    with FakeSMTP(tempfail_first=1) as smtp:
        ch = channel(smtp)
        [first] = asyncio.run(ch.send(message()))
        [second] = asyncio.run(ch.send(message()))
        assert len(smtp.messages) == 1
    assert not first.ok and first.retryable and "451" in first.error
    assert second.ok


def test_refused_recipient_fails_alone_and_the_others_get_the_mail():
    with FakeSMTP(reject_rcpts={"li@example.edu.cn"}) as smtp:
        wang, li = asyncio.run(channel(smtp).send(message(recipients=(WANG, LI))))
        [mail] = smtp.messages
    assert wang.ok and wang.recipient == WANG
    assert not li.ok and not li.retryable and "550" in li.error and li.recipient == LI
    assert mail.rcpt_tos == ("wang@example.edu.cn",)


def test_every_recipient_refused_gives_per_recipient_failures():
    with FakeSMTP(reject_rcpts={"wang@example.edu.cn", "li@example.edu.cn"}) as smtp:
        results = asyncio.run(channel(smtp).send(message(recipients=(WANG, LI))))
        assert smtp.messages == []
    assert [(d.recipient, d.ok, d.retryable) for d in results] == [(WANG, False, False), (LI, False, False)]
    assert all("550" in d.error for d in results)


def test_recipient_without_address_is_a_permanent_failure_and_does_not_block_others():
    nobody = Recipient("赵老师")
    with FakeSMTP() as smtp:
        zhao, wang = asyncio.run(channel(smtp).send(message(recipients=(nobody, WANG))))
        assert smtp.messages[0].rcpt_tos == ("wang@example.edu.cn",)
    assert not zhao.ok and not zhao.retryable and "邮箱" in zhao.error
    assert wang.ok


def test_malformed_address_fails_alone_with_a_clear_reason():
    bad = Recipient("赵老师", email="zhao.example.edu.cn")
    odd = Recipient("钱老师", email="钱@example.edu.cn")
    with FakeSMTP() as smtp:
        b, o, w = asyncio.run(channel(smtp).send(message(recipients=(bad, odd, WANG))))
        assert smtp.messages[0].rcpt_tos == ("wang@example.edu.cn",)
    for d in (b, o):
        assert not d.ok and not d.retryable and "格式不正确" in d.error
    assert w.ok


def test_a_newline_in_a_name_cannot_inject_a_header():
    sneaky = Recipient("王老师\nBcc: evil@example.com", email="wang@example.edu.cn")
    with FakeSMTP() as smtp:
        [delivery] = asyncio.run(channel(smtp).send(message(recipients=(sneaky,))))
        mail = smtp.messages[0]
    assert delivery.ok
    assert mail.message["Bcc"] is None and mail.rcpt_tos == ("wang@example.edu.cn",)


def test_a_batch_of_50_uses_at_most_concurrency_connections():
    messages = [message(key=f"batch-{i}") for i in range(50)]
    with FakeSMTP() as smtp:
        results = asyncio.run(channel(smtp, concurrency=4).send_many(messages))
        keys = sorted(m.message["X-Ccal-Key"] for m in smtp.messages)
        connections = smtp.connections
    assert all(d.ok for r in results for d in r)
    assert keys == sorted(m.key for m in messages)
    assert 1 <= connections <= 4


def test_a_dropped_connection_is_reopened_and_nothing_is_lost():
    # The server closes every connection after 3 messages.
    with FakeSMTP(drop_after=3) as smtp:
        results = asyncio.run(channel(smtp, concurrency=1).send_many([message(key=f"d{i}") for i in range(7)]))
        assert len(smtp.messages) == 7
        assert smtp.connections == 3
    assert all(d.ok for r in results for d in r)


def test_server_down_is_retryable():
    ch = EmailChannel(host="127.0.0.1", port=free_port(), security="none", from_addr="ccal@example.edu.cn",
                      local_hostname="ccal.test", timeout=2.0)
    results = asyncio.run(ch.send_many([message(key="x"), message(key="y")]))
    for [d] in results:
        assert not d.ok and d.retryable and "127.0.0.1" in d.error


def test_starttls_with_login(test_cert):
    with FakeSMTP(tls="starttls", cert=test_cert, users={"ccal": PASSWORD}) as smtp:
        ch = channel(smtp, security="starttls", cafile=test_cert.certfile, username="ccal",
                     password=Secret("CCAL_SMTP_PASSWORD", PASSWORD))
        [delivery] = asyncio.run(ch.send(message()))
        assert delivery.ok, delivery.error
        assert smtp.messages[0].message["Subject"].startswith("【意识形态工作提醒】")


def test_implicit_tls(test_cert):
    with FakeSMTP(tls="implicit", cert=test_cert) as smtp:
        [delivery] = asyncio.run(channel(smtp, security="tls", cafile=test_cert.certfile).send(message()))
        assert delivery.ok, delivery.error
        assert len(smtp.messages) == 1


def test_untrusted_certificate_is_a_permanent_failure(test_cert):
    with FakeSMTP(tls="implicit", cert=test_cert) as smtp:
        [delivery] = asyncio.run(channel(smtp, security="tls").send(message()))
        assert smtp.messages == []
    assert not delivery.ok and not delivery.retryable
    assert "证书" in delivery.error


def test_plain_channel_refused_by_a_starttls_only_server_is_permanent(test_cert):
    with FakeSMTP(tls="starttls", cert=test_cert) as smtp:
        [delivery] = asyncio.run(channel(smtp, security="none").send(message()))
        assert smtp.messages == []
    assert not delivery.ok and not delivery.retryable and "530" in delivery.error


def test_channel_repr_does_not_show_the_password():
    ch = EmailChannel(host="smtp.example.edu.cn", from_addr="ccal@example.edu.cn", username="ccal",
                      password=Secret("CCAL_SMTP_PASSWORD", PASSWORD))
    assert PASSWORD not in repr(ch) and PASSWORD not in repr(vars(ch))


@pytest.mark.parametrize("security,port", [("starttls", 587), ("tls", 465), ("none", 25)])
def test_default_port_follows_security(security, port):
    assert EmailChannel(host="h", from_addr="a@b.cn", security=security).port == port


# --------------------------------------------------------------------------- the message bytes

def built(msg: Message, **kw) -> bytes:
    options = dict(from_addr="ccal@example.edu.cn", from_name="党委宣传部", recipients=msg.recipients,
                   date=FIXED)
    options.update(kw)
    return message_bytes(build_message(msg, **options))


def parsed(raw: bytes):
    return message_from_bytes(raw, policy=policy.default)


def test_long_chinese_subject_is_folded_into_short_lines_that_decode_back():
    # RFC 5322 2.1.1: lines of at most 78 characters (the standard library's SMTP policy).
    subject = "【意识形态工作提醒】" + "向党委宣传部书面汇报意识形态工作情况，" * 6 + "6月15日截止"
    raw = built(message(subject=subject))
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    assert head.isascii()
    assert parsed(raw)["Subject"] == subject


def test_ascii_names_with_specials_are_quoted_and_come_back_intact():
    odd = Recipient('Li, "Wen" (IT)', email="li@example.edu.cn")
    to = parsed(built(message(recipients=(odd, WANG))))["To"].addresses
    assert [(a.display_name, a.addr_spec) for a in to] == [('Li, "Wen" (IT)', "li@example.edu.cn"),
                                                            ("王老师", "wang@example.edu.cn")]


def test_text_that_looks_like_an_encoded_word_is_encoded_not_interpreted():
    raw = built(message(subject="=?utf-8?b?5Lmm?= is not a word"))
    assert parsed(raw)["Subject"] == "=?utf-8?b?5Lmm?= is not a word"


def test_bodies_are_utf8_base64_with_crlf_lines_and_a_unique_boundary():
    text = "第一行\n第二行\r\n.以点开头的一行\n" + "很长的一行" * 40
    raw = built(message(text=text))
    msg = parsed(raw)
    plain = msg.get_body(("plain",))
    assert plain["Content-Transfer-Encoding"] == "base64"
    assert plain.get_content_charset() == "utf-8"
    assert plain.get_content().splitlines() == text.splitlines()
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")        # CRLF only, as SMTP requires
    boundary = msg.get_boundary()
    assert raw.count(boundary.encode()) == 4             # header, two parts, the end


def test_a_message_without_html_is_plain_text():
    msg = parsed(built(message(html=None)))
    assert msg.get_content_type() == "text/plain"
    assert "请于6月15日前报送半年书面汇报。" in msg.get_content()


def test_the_channel_sends_exactly_the_bytes_the_local_outbox_would_write():
    # build_message + message_bytes is what the local outbox writes as .eml. Same message,
    # same date: the same bytes, boundary included (it is derived from the outbox key).
    with FakeSMTP() as smtp:
        asyncio.run(channel(smtp).send(message()))
        sent = smtp.messages[0].raw
    assert sent.rstrip(b"\r\n") == built(message()).rstrip(b"\r\n")


def test_headers_mark_an_automatic_message_with_the_office_to_reply_to():
    with FakeSMTP() as smtp:
        asyncio.run(channel(smtp, reply_to="xcb@example.edu.cn").send(message()))
        msg = smtp.messages[0].message
    assert msg["Auto-Submitted"] == "auto-generated"
    [reply] = msg["Reply-To"].addresses
    assert (reply.display_name, reply.addr_spec) == ("党委宣传部", "xcb@example.edu.cn")
    assert msg["From"].addresses[0].display_name == "党委宣传部"


def test_without_reply_to_there_is_no_reply_to_header():
    assert parsed(built(message()))["Reply-To"] is None


def test_a_resend_keeps_its_message_id_and_bytes_at_a_later_date():
    first = parsed(built(message()))
    later = parsed(built(message(), date=datetime(2026, 6, 11, 9, 0, tzinfo=SHANGHAI)))
    assert first["Message-ID"] == later["Message-ID"]
    assert first.get_boundary() == later.get_boundary()
    assert first["Date"] != later["Date"]


def test_the_message_is_built_by_the_standard_library():
    # No hand-rolled MIME code is left: the builder returns an EmailMessage (policy SMTP).
    from email.message import EmailMessage
    from email.policy import SMTP

    mail = build_message(message(), from_addr="ccal@example.edu.cn", from_name="党委宣传部",
                         recipients=(WANG,), date=FIXED)
    assert isinstance(mail, EmailMessage) and mail.policy == SMTP


def test_an_address_the_parser_rejects_outright_fails_alone():
    broken = Recipient("孙老师", email="sun@example..edu.cn")
    with FakeSMTP() as smtp:
        s, w = asyncio.run(channel(smtp).send(message(recipients=(broken, WANG))))
        assert smtp.messages[0].rcpt_tos == ("wang@example.edu.cn",)
    assert not s.ok and not s.retryable and "格式不正确" in s.error
    assert w.ok


# --------------------------------------------------------------------------- results as they go

def test_each_result_is_reported_before_its_connection_carries_the_next_message():
    reported: list[int] = []
    arrived_when_reported: list[int] = []

    with FakeSMTP() as smtp:
        def on_result(i, deliveries):
            assert all(d.ok for d in deliveries)
            reported.append(i)
            arrived_when_reported.append(len(smtp.messages))

        messages = [message(key=f"s{i}") for i in range(6)]
        results = asyncio.run(channel(smtp, concurrency=1).send_many(messages, on_result=on_result))
        assert smtp.connections == 1
        keys = [m.message["X-Ccal-Key"] for m in smtp.messages]
    assert reported == list(range(6))
    # When message i is reported, exactly i + 1 messages have arrived: the next one was not
    # started before the caller had recorded this one.
    assert arrived_when_reported == [1, 2, 3, 4, 5, 6]
    assert keys == [f"s{i}" for i in range(6)]
    assert all(d.ok for r in results for d in r)


def test_unaddressable_messages_are_reported_too():
    nobody = message(key="n", recipients=(Recipient("赵老师"),))
    seen = {}
    with FakeSMTP() as smtp:
        asyncio.run(channel(smtp).send_many([nobody, message(key="w")],
                                            on_result=lambda i, d: seen.setdefault(i, d)))
    assert sorted(seen) == [0, 1]
    assert not seen[0][0].ok and "邮箱" in seen[0][0].error and seen[1][0].ok


def test_a_callback_returning_false_stops_the_batch_after_the_message_in_hand():
    with FakeSMTP() as smtp:
        results = asyncio.run(channel(smtp, concurrency=1).send_many(
            [message(key=f"k{i}") for i in range(5)], on_result=lambda i, d: i < 1))
        assert len(smtp.messages) == 2
    assert [bool(r) for r in results] == [True, True, False, False, False]


def test_a_failing_callback_stops_the_batch_and_is_raised():
    def on_result(i, deliveries):
        raise RuntimeError("database is locked")

    with FakeSMTP() as smtp:
        with pytest.raises(RuntimeError, match="database is locked"):
            asyncio.run(channel(smtp, concurrency=2).send_many(
                [message(key=f"k{i}") for i in range(6)], on_result=on_result))
        # Each connection finished the message it had started, and no other.
        assert 1 <= len(smtp.messages) <= 2


def test_after_a_refused_message_the_same_connection_carries_the_next_one():
    with FakeSMTP(reject_rcpts={"li@example.edu.cn"}, tempfail_first=1) as smtp:
        batch = [message(key="a", recipients=(WANG,)),      # 451 at the end of DATA
                 message(key="b", recipients=(LI,)),        # its only recipient refused: 550
                 message(key="c", recipients=(LI, WANG))]   # one refused, one delivered
        [[a], [b], [c_li, c_wang]] = asyncio.run(channel(smtp, concurrency=1).send_many(batch))
        assert smtp.connections == 1
        assert [m.message["X-Ccal-Key"] for m in smtp.messages] == ["c"]
        assert smtp.messages[0].rcpt_tos == ("wang@example.edu.cn",)
    assert not a.ok and a.retryable and "451" in a.error
    assert not b.ok and not b.retryable and "550" in b.error
    assert not c_li.ok and not c_li.retryable and c_wang.ok
