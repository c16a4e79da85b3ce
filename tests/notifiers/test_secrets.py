"""Secrets come from the environment or a secret file, and never show in text."""

from __future__ import annotations

import pytest

from notifiers.secrets import (Scrubber, Secret, SecretError, SecretStore, check_no_literal_secrets,
                               load_secret_file)


def test_scrubber_masks_known_values_and_credentials_in_urls():
    s = Scrubber([Secret("K", "robot-key-0123456789")])
    text = ("POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=robot-key-0123456789 failed; "
            "gettoken?corpid=ww1&corpsecret=abc123xyz and message/send?access_token=TOKEN42&debug=1")
    out = s.scrub(text)
    assert "robot-key-0123456789" not in out
    assert "abc123xyz" not in out and "TOKEN42" not in out
    assert "corpid=ww1" in out and "debug=1" in out


def test_short_secret_is_masked_only_as_a_whole_word():
    s = Scrubber(["500"])
    assert s.scrub("HTTP 5000 and 500 errors") == "HTTP 5000 and *** errors"


def test_secret_does_not_print_itself():
    secret = Secret("CCAL_SMTP_PASSWORD", "hunter2-very-secret")
    assert "hunter2" not in repr(secret) and "hunter2" not in str(secret) and "hunter2" not in f"{secret}"
    assert secret.reveal() == "hunter2-very-secret"


def test_env_style_secret_file(tmp_path):
    path = tmp_path / "secrets.env"
    path.write_text('# ccal secrets\nexport CCAL_SMTP_PASSWORD="p@ss word"\n\nCCAL_WECOM_ROBOT_KEY=abc-123\n',
                    encoding="utf-8")
    assert load_secret_file(path) == {"CCAL_SMTP_PASSWORD": "p@ss word", "CCAL_WECOM_ROBOT_KEY": "abc-123"}


def test_toml_secret_file(tmp_path):
    path = tmp_path / "secrets.toml"
    path.write_text('CCAL_WECOM_APP_SECRET = "s3cr3t"\n', encoding="utf-8")
    assert load_secret_file(path) == {"CCAL_WECOM_APP_SECRET": "s3cr3t"}


def test_bad_secret_file_line_is_named_without_its_value(tmp_path):
    path = tmp_path / "secrets.env"
    path.write_text("GOOD=1\nthis line has the-secret-value but no equals\n", encoding="utf-8")
    with pytest.raises(SecretError) as err:
        load_secret_file(path)
    assert err.value.line == 2 and str(path) in str(err.value) and ":2:" in str(err.value)
    assert str(err.value).endswith("secret_file: 应为 NAME=value 格式")
    assert "the-secret-value" not in str(err.value)


def test_non_string_toml_value_is_refused(tmp_path):
    path = tmp_path / "secrets.toml"
    path.write_text("CCAL_SMTP_PASSWORD = 12345\n", encoding="utf-8")
    with pytest.raises(SecretError, match="CCAL_SMTP_PASSWORD: 应为字符串"):
        load_secret_file(path)


def test_environment_wins_over_the_secret_file():
    store = SecretStore({"CCAL_SMTP_PASSWORD": "from-env"}, {"CCAL_SMTP_PASSWORD": "from-file", "OTHER": "x"})
    assert store.get("CCAL_SMTP_PASSWORD", field="f", config_path=None).reveal() == "from-env"
    assert store.get("OTHER", field="f", config_path=None).reveal() == "x"


def test_missing_secret_names_the_variable_and_field():
    with pytest.raises(SecretError) as err:
        SecretStore({}).get("CCAL_SMTP_PASSWORD", field="[notify.email] password_env", config_path="/etc/ccal.toml")
    message = str(err.value)
    assert "/etc/ccal.toml" in message and "[notify.email] password_env" in message
    assert "[notify.email] password_env: 密钥 CCAL_SMTP_PASSWORD 在环境变量中没有设置" in message


def test_literal_password_in_config_is_refused_without_echoing_it():
    with pytest.raises(SecretError) as err:
        check_no_literal_secrets({"host": "smtp", "password": "plaintext-pass"}, "notify.email", "ccal.toml")
    assert "ccal.toml" in str(err.value) and "[notify.email] password" in str(err.value)
    assert "密钥不能写在配置文件里；请设置 password_env = " in str(err.value)
    assert "plaintext-pass" not in str(err.value)
