"""Building channels from the raw [notify] table."""

from __future__ import annotations

import asyncio
import tomllib
from datetime import date
from pathlib import Path

import pytest

from notifiers.base import Message, Recipient
from notifiers.email import EmailChannel
from notifiers.local_outbox import LocalOutbox
from notifiers.rendering import Digest, DigestGroup, DigestItem, render_digest
from notifiers.settings import NotifyConfigError, build_channels, template_environment
from notifiers.wecom_app import WeComAppChannel
from notifiers.wecom_robot import WeComRobotChannel
from tests.fakes import FakeSMTP


def notify_table(toml: str) -> dict:
    return tomllib.loads(toml).get("notify", {})


def build(toml: str, tmp_path: Path, environ=None):
    return build_channels(notify_table(toml), config_path=tmp_path / "ccal.toml", data_dir=tmp_path / "data",
                          environ=environ or {})


def test_nothing_configured_means_local_outboxes_for_every_route(tmp_path):
    channels = build("", tmp_path)
    assert set(channels) == {"email", "wecom_robot", "wecom_app"}
    assert isinstance(channels["email"], LocalOutbox) and channels["email"].kind == "email"
    assert channels["wecom_robot"].kind == "wecom" and channels["wecom_app"] is channels["wecom_robot"]
    assert channels["email"].directory == tmp_path / "data" / "outbox"


def test_local_dir_is_relative_to_the_config_file(tmp_path):
    channels = build('[notify.local]\ndir = "sent"\n', tmp_path)
    assert channels["email"].directory == tmp_path / "sent"


def test_email_with_password_from_the_environment(tmp_path):
    channels = build("""
[notify.email]
host = "smtp.example.edu.cn"
username = "ccal"
from_addr = "ccal@example.edu.cn"
""", tmp_path, {"CCAL_SMTP_PASSWORD": "env-password-123"})
    email = channels["email"]
    assert set(channels) == {"email"}, "a configured channel replaces the local outbox"
    assert isinstance(email, EmailChannel)
    assert (email.port, email.security, email.concurrency) == (587, "starttls", 4)
    assert "env-password-123" not in repr(email)


def test_email_password_from_a_secret_file_really_logs_in(tmp_path):
    (tmp_path / "secrets.env").write_text("SMTP_PW=file-password-456\n", encoding="utf-8")
    with FakeSMTP(users={"ccal": "file-password-456"}) as smtp:
        channels = build(f"""
[notify]
secret_file = "secrets.env"
[notify.email]
host = "{smtp.host}"
port = {smtp.port}
security = "none"
username = "ccal"
password_env = "SMTP_PW"
from_addr = "ccal@example.edu.cn"
local_hostname = "ccal.test"
""", tmp_path)
        msg = Message("k", "主题", "正文", None, None, (Recipient("王老师", email="wang@example.edu.cn"),))
        [delivery] = asyncio.run(channels["email"].send(msg))
        assert delivery.ok, delivery.error
        assert len(smtp.messages) == 1


def test_literal_password_is_refused_naming_file_and_field(tmp_path):
    with pytest.raises(NotifyConfigError) as err:
        build('[notify.email]\nhost = "h"\nfrom_addr = "a@b.cn"\npassword = "hunter2-pass"\n', tmp_path)
    assert str(tmp_path / "ccal.toml") in str(err.value)
    assert "[notify.email] password: 密钥不能写在配置文件里" in str(err.value)
    assert err.value.dotted == "notify.email.password"
    assert "hunter2-pass" not in str(err.value)


def test_webhook_url_with_key_in_base_url_is_refused(tmp_path):
    toml = '[notify.wecom_robot]\nbase_url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-secret"\n'
    with pytest.raises(NotifyConfigError) as err:
        build(toml, tmp_path, {"CCAL_WECOM_ROBOT_KEY": "k"})
    assert "[notify.wecom_robot] base_url: 只填接口根地址" in str(err.value) and "abc-secret" not in str(err.value)


def test_missing_secret_names_the_variable(tmp_path):
    with pytest.raises(NotifyConfigError) as err:
        build("[notify.wecom_robot]\n", tmp_path)
    assert "[notify.wecom_robot] key_env: 密钥 CCAL_WECOM_ROBOT_KEY 在环境变量中没有设置" in str(err.value)


@pytest.mark.parametrize("toml,field,message", [
    ('[notify.email]\nhost = "h"\nfrom_addr = "a@b.cn"\nsecurity = "ssl"\n', "[notify.email] security",
     "应为以下之一：'starttls'、"),
    ('[notify.email]\nhost = "h"\nfrom_addr = "not-an-address"\n', "[notify.email] from_addr",
     "应为电子邮件地址，例如 name@example.edu.cn"),
    ('[notify.email]\nfrom_addr = "a@b.cn"\n', "[notify.email] host", "必须填写"),
    ('[notify.email]\nhost = "h"\nfrom_addr = "a@b.cn"\nport = 70000\n', "[notify.email] port",
     "应在 1 到 65535 之间"),
    ('[notify.email]\nhost = "h"\nfrom_addr = "a@b.cn"\nconcurency = 2\n', "[notify.email] concurency",
     "未知设置（可用：cafile、concurrency、"),
    ('[notify.email]\nhost = "h"\nfrom_addr = "a@b.cn"\npassword_env = "X"\n', "[notify.email] password_env",
     "需要同时填写 username"),
    ('[notify.wecom_robot]\nper_minute = 30\n', "[notify.wecom_robot] per_minute", "应在 1 到 20 之间"),
    ('[notify.wecom_app]\ncorp_id = "ww1"\n', "[notify.wecom_app] agent_id", "必须填写"),
    ('[notify.emial]\nhost = "h"\n', "[notify] emial",
     "未知设置（可用：email、local、secret_file、wecom_app、wecom_robot）"),
    ('[notify]\nsecret_file = "missing.env"\n', "[notify] secret_file", "无法读取密钥文件（"),
])
def test_bad_settings_name_the_field(tmp_path, toml, field, message):
    environ = {"CCAL_WECOM_ROBOT_KEY": "k", "CCAL_WECOM_APP_SECRET": "s"}
    with pytest.raises(NotifyConfigError) as err:
        build(toml, tmp_path, environ)
    assert f"{field}: " in str(err.value) and message in str(err.value), str(err.value)


def test_wecom_channels_are_built_and_no_local_outbox_is_added(tmp_path):
    channels = build("""
[notify.wecom_robot]
base_url = "http://127.0.0.1:9"
[notify.wecom_app]
corp_id = "ww0123"
agent_id = 1000002
""", tmp_path, {"CCAL_WECOM_ROBOT_KEY": "robot-key-1", "CCAL_WECOM_APP_SECRET": "app-secret-1"})
    assert set(channels) == {"wecom_robot", "wecom_app"}
    assert isinstance(channels["wecom_robot"], WeComRobotChannel)
    assert channels["wecom_robot"].base_url == "http://127.0.0.1:9"
    app = channels["wecom_app"]
    assert isinstance(app, WeComAppChannel) and app.agent_id == 1000002
    assert app.base_url == "https://qyapi.weixin.qq.com"


def test_user_templates_directory_overrides_single_templates(tmp_path):
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "digest.subject.txt").write_text("【本校提醒】{{ total }} 项\n", encoding="utf-8")
    env = template_environment({"dir": "tpl"}, config_path=tmp_path / "ccal.toml")
    digest = Digest("王老师", date(2026, 6, 10),
                    (DigestGroup("经管系党支部", (DigestItem("k", "半年书面汇报", "2026-H1", date(2026, 6, 15)),)),))
    rendered = render_digest(digest, env)
    assert rendered.subject == "【本校提醒】1 项"
    assert "王老师：您好！" in rendered.text  # the rest still comes from the bundled templates


def test_missing_templates_directory_is_an_error(tmp_path):
    with pytest.raises(NotifyConfigError, match=r"\[templates\] dir: 找不到目录："):
        template_environment({"dir": "nope"}, config_path=tmp_path / "ccal.toml")


def test_no_templates_table_means_the_bundled_templates(tmp_path):
    env = template_environment(None, config_path=None)
    digest = Digest("王老师", date(2026, 6, 10),
                    (DigestGroup("经管系党支部", (DigestItem("k", "半年书面汇报", "2026-H1", date(2026, 6, 15)),)),))
    assert render_digest(digest, env).subject.startswith("【意识形态工作提醒】")


def test_reply_to_is_the_propaganda_office_and_optional(tmp_path):
    channels = build('[notify.email]\nhost = "h"\nfrom_addr = "ccal@example.edu.cn"\n'
                     'reply_to = "xcb@example.edu.cn"\n', tmp_path)
    assert channels["email"].reply_to == "xcb@example.edu.cn"
    assert build('[notify.email]\nhost = "h"\nfrom_addr = "a@b.cn"\n', tmp_path)["email"].reply_to is None
    local = build('[notify.local]\nreply_to = "xcb@example.edu.cn"\n', tmp_path)
    assert local["email"].reply_to == "xcb@example.edu.cn"


def test_channels_run_on_the_clock_they_are_given(tmp_path):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    at = datetime(2026, 3, 11, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    local = build_channels({}, config_path=None, data_dir=tmp_path, environ={}, clock=lambda: at)
    assert local["email"].clock() == at and local["wecom_app"].clock() == at
    email = build_channels({"email": {"host": "h", "from_addr": "a@b.cn"}}, config_path=None,
                           data_dir=tmp_path, environ={}, clock=lambda: at)["email"]
    assert email.clock() == at


def test_errors_carry_the_line_when_given_a_line_lookup(tmp_path):
    lines = {"notify.email.prot": 12, "templates.dir": 20}
    with pytest.raises(NotifyConfigError) as err:
        build_channels({"email": {"host": "h", "from_addr": "a@b.cn", "prot": 1}},
                       config_path=tmp_path / "ccal.toml", data_dir=tmp_path, environ={},
                       line_of=lines.get)
    assert str(err.value).startswith(f"{tmp_path / 'ccal.toml'}:12: [notify.email] prot: 未知设置（可用：")
    with pytest.raises(NotifyConfigError) as err:
        template_environment({"dir": "nope"}, config_path=tmp_path / "ccal.toml", line_of=lines.get)
    assert err.value.line == 20
