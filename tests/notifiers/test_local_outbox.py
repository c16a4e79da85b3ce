"""The local outbox writes what would have been sent, one file per message."""

from __future__ import annotations

import asyncio
from datetime import datetime
from email import message_from_bytes, policy

import pytest

from notifiers.base import Message, Recipient
from notifiers.email import SHANGHAI
from notifiers.local_outbox import LocalOutbox, slugify

NOW = datetime(2026, 6, 10, 8, 30, 5, tzinfo=SHANGHAI)
WANG = Recipient("王老师", email="wang@example.edu.cn", wecom_userid="wangfang")


def message(key="2026-H1/经管系支部/jincheng-2020.1.2", recipients=(WANG,), markdown="**提醒**\n> 6月15日截止"):
    return Message(key=key, subject="【意识形态工作提醒】半年书面汇报", text="王老师：您好！\n请按时报送。",
                   html="<p>王老师：您好！</p>", markdown=markdown, recipients=tuple(recipients))


def outbox(tmp_path, kind):
    return LocalOutbox(tmp_path / "outbox", kind=kind, from_addr="ccal@example.edu.cn", clock=lambda: NOW)


def test_email_kind_writes_the_full_mime_message_as_eml(tmp_path):
    [delivery] = asyncio.run(outbox(tmp_path, "email").send(message()))
    [path] = (tmp_path / "outbox").iterdir()
    assert delivery.ok and delivery.recipient == WANG
    assert path.name == "20260610-083005-2026-H1-jincheng-2020.1.2.eml"
    msg = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert msg["Subject"] == "【意识形态工作提醒】半年书面汇报"
    assert msg["From"].addresses[0].display_name == "党委宣传部"
    assert msg["To"].addresses[0].addr_spec == "wang@example.edu.cn"
    assert "请按时报送。" in msg.get_body(("plain",)).get_content()
    assert "<p>王老师：您好！</p>" in msg.get_body(("html",)).get_content()


def test_wecom_kind_writes_markdown_with_a_header(tmp_path):
    mention = Recipient("李明", mobile="13800001111")
    msg = Message(key="robot/1", subject="提醒", text="纯文本", html=None, markdown="**提醒**\n> 6月15日截止",
                  recipients=(WANG,), mentions=(mention,))
    [delivery] = asyncio.run(outbox(tmp_path, "wecom").send(msg))
    [path] = (tmp_path / "outbox").iterdir()
    text = path.read_text(encoding="utf-8")
    assert delivery.ok and path.suffix == ".md"
    assert "未实际发送" in text
    assert "收件人：王老师（wangfang）" in text
    assert "提醒（@）：李明（13800001111）" in text
    assert text.endswith("**提醒**\n> 6月15日截止\n")


def test_wecom_kind_falls_back_to_text_without_markdown(tmp_path):
    asyncio.run(outbox(tmp_path, "wecom").send(message(markdown=None)))
    [path] = (tmp_path / "outbox").iterdir()
    assert path.read_text(encoding="utf-8").endswith("王老师：您好！\n请按时报送。\n")


def test_never_overwrites_an_earlier_file(tmp_path):
    box = outbox(tmp_path, "wecom")
    asyncio.run(box.send(message(markdown="第一封")))
    asyncio.run(box.send(message(markdown="第二封")))
    paths = sorted((tmp_path / "outbox").iterdir())
    assert [p.name for p in paths] == ["20260610-083005-2026-H1-jincheng-2020.1.2-2.md",
                                       "20260610-083005-2026-H1-jincheng-2020.1.2.md"]
    assert paths[1].read_text(encoding="utf-8").endswith("第一封\n")
    assert paths[0].read_text(encoding="utf-8").endswith("第二封\n")


def test_email_kind_fails_recipients_without_an_address_like_the_email_channel(tmp_path):
    zhao = Recipient("赵老师", wecom_userid="zhao")
    zhao_d, wang_d = asyncio.run(outbox(tmp_path, "email").send(message(recipients=(zhao, WANG))))
    assert not zhao_d.ok and not zhao_d.retryable and "邮箱" in zhao_d.error
    assert wang_d.ok
    assert len(list((tmp_path / "outbox").iterdir())) == 1


def test_unwritable_directory_is_a_retryable_failure(tmp_path):
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the directory should be")
    [delivery] = asyncio.run(outbox(tmp_path, "wecom").send(message()))
    assert not delivery.ok and delivery.retryable and "本地发件箱" in delivery.error


@pytest.mark.parametrize("key,slug", [
    ("2026-Q2/unit 3/jc*1.5", "2026-Q2-unit-3-jc-1.5"),
    ("../../etc/passwd", "etc-passwd"),
    ("经管系", "message"),
    ("a" * 200, "a" * 80),
])
def test_slug_is_safe_for_file_names(key, slug):
    assert slugify(key) == slug


def test_kind_is_checked(tmp_path):
    with pytest.raises(ValueError):
        LocalOutbox(tmp_path, kind="sms")


def test_files_and_the_directory_are_private_to_the_owner(tmp_path):
    # Messages carry names, phone numbers and addresses (issue 7, "Personal data stays private").
    asyncio.run(outbox(tmp_path, "email").send(message()))
    asyncio.run(outbox(tmp_path, "wecom").send(message()))
    directory = tmp_path / "outbox"
    assert directory.stat().st_mode & 0o777 == 0o700
    files = list(directory.iterdir())
    assert len(files) == 2 and all(f.stat().st_mode & 0o777 == 0o600 for f in files)


def test_the_eml_file_is_exactly_what_the_email_channel_would_send(tmp_path):
    from notifiers.email import EmailChannel, message_bytes

    box = LocalOutbox(tmp_path / "outbox", kind="email", from_addr="ccal@example.edu.cn",
                      reply_to="xcb@example.edu.cn", clock=lambda: NOW)
    asyncio.run(box.send(message()))
    [path] = (tmp_path / "outbox").iterdir()
    channel = EmailChannel(host="smtp.invalid", from_addr="ccal@example.edu.cn",
                           reply_to="xcb@example.edu.cn", clock=lambda: NOW)
    assert path.read_bytes() == message_bytes(channel.build(message()))
    msg = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert msg["Auto-Submitted"] == "auto-generated" and msg["Date"].datetime == NOW
