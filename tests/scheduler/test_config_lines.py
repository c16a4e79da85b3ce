"""Every configuration error names its line (issue 10, item 9): the tables read by the reminder
service ([notify], [reminders], [service], [templates]) as well as the core ones. Each case is
the real config file, read the way `ccal tick` reads it."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli import main
from scheduler.app import open_app
from scheduler.config import ConfigError
from scheduler.service import Service

# The reminder_config fixture writes 7 lines before `extra`: extra starts on line 8.
EMAIL = '[notify.email]\nhost = "smtp.example.edu.cn"\nfrom_addr = "ccal@example.edu.cn"\n'
CASES = [
    # (extra TOML, line, what the message must name)
    (EMAIL + 'prot = 587\n', 11, "[notify.email] prot: 未知设置（可用：cafile、concurrency、"),
    (EMAIL + 'port = "abc"\n', 11, "[notify.email] port: 应为整数"),
    (EMAIL + 'port = 70000\n', 11, "[notify.email] port: 应在 1 到 65535 之间"),
    (EMAIL + 'security = "ssl"\n', 11, "[notify.email] security: 应为以下之一："),
    (EMAIL + 'reply_to = "not an address"\n', 11, "[notify.email] reply_to: 应为电子邮件地址"),
    (EMAIL + 'cafile = "missing.pem"\n', 11, "[notify.email] cafile: 找不到文件："),
    ('[notify.email]\nfrom_addr = "ccal@example.edu.cn"\n', 8, "[notify.email] host: 必须填写"),
    ('[notify.emial]\nhost = "h"\n', 8, "[notify] emial: 未知设置（可用：email、local、secret_file、wecom_app、wecom_robot）"),
    ('[notify]\nsecret_file = "missing.env"\n', 9, "[notify] secret_file: "),
    ('[notify.email]\nhost = "h"\nfrom_addr = "a@b.cn"\npassword = "x-literal-x"\n', 11,
     "[notify.email] password: 密钥不能写在配置文件里"),
    ('[notify.wecom_robot]\nper_minute = 30\n', 9, "[notify.wecom_robot] per_minute: 应在 1 到 20 之间"),
    ('[notify.wecom_app]\ncorp_id = "ww1"\n', 8, "[notify.wecom_app] agent_id: 必须填写"),
    ('[notify.local]\ndir = 3\n', 9, "[notify.local] dir: 应为非空字符串"),
    ('[reminders]\nbefore_dayz = [3]\n', 9, "字段 reminders.before_dayz: 未知设置项（可用："),
    ('[reminders]\nbefore_days = "3"\n', 9, "字段 reminders.before_days: 必须是不小于 1 的整数列表"),
    ('[reminders]\nwindow_start = "25:00"\n', 9, '字段 reminders.window_start: 应为 "HH:MM" 格式的时间'),
    ('[reminders]\nwindow_start = "10:00"\nwindow_end = "09:00"\n', 10,
     "字段 reminders.window_end: 应晚于 window_start（10:00），实际为 09:00"),
    ('[service]\nbatch_size = 0\n', 9, "字段 service.batch_size: 应为 1 到"),
    ('[service]\nbatchsize = 10\n', 9, "字段 service.batchsize: 未知设置（可用："),
    ('[templates]\ndir = "nope"\n', 9, "[templates] dir: 找不到目录："),
    ('[templates]\ndri = "nope"\n', 9, "[templates] dri: 未知设置（可用：dir）"),
]


@pytest.mark.parametrize("extra,line,text", CASES, ids=[c[2] for c in CASES])
def test_every_reminder_service_setting_error_names_file_and_line(reminder_config, extra, line, text):
    cfg = reminder_config("spring", extra=extra)
    app = open_app(cfg)
    try:
        with pytest.raises(ValueError) as err:
            Service(app, environ={"CCAL_WECOM_ROBOT_KEY": "k", "CCAL_WECOM_APP_SECRET": "s"})
    finally:
        app.engine.dispose()
    message = str(err.value)
    assert message.startswith(f"{cfg}:{line}: "), message
    assert text in message
    assert "x-literal-x" not in message


def test_tick_prints_the_line_of_a_misspelt_setting(reminder_config):
    cfg = reminder_config("spring", extra=EMAIL + "prot = 587\n")
    result = CliRunner().invoke(main, ["--config", str(cfg), "tick", "--now", "2026-03-11 10:00"])
    assert result.exit_code == 1
    assert f"{cfg}:11: [notify.email] prot: 未知设置（可用：" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("text,line,field", [
    ('[general]\ntimezone = "Mars/Olympus"\n', 2, "general.timezone"),
    ('[general]\nzone = "x"\n', 2, "general.zone"),
    ('[database]\nurl = "nonsense"\n', 2, "database.url"),
    ('[packs]\nenabled = "school-template"\n', 2, "packs.enabled"),
    ('[packs]\nenabled = ["a", "a"]\n', 2, "packs.enabled"),
    ('[packs]\nextra_dirs = [1]\n', 2, "packs.extra_dirs"),
    ('[organisation]\npropaganda_unit = ""\n', 2, "organisation.propaganda_unit"),
    ('[evidence]\ndir = 5\n', 2, "evidence.dir"),
    ('[calendar]\nholiday_dir = []\n', 2, "calendar.holiday_dir"),
    ('[semesters]\nspring_start = "07-01"\nspring_end = "03-01"\n', 3, "semesters.spring_end"),
    ('[seasons]\nkaixue = { name = "开学季", start = "9/1", end = "09-30" }\n', 2, "seasons.kaixue.start"),
    ('[seasons]\nnew = { name = "新季" }\n', 2, "seasons.new"),
    ('reminders = 3\n', 1, "reminders"),
    ('[[semesters.term]]\nlabel = "2026-autumn"\nstart = 2026-09-07\nend = 2026-01-22\n', 4,
     "semesters.term[1].end"),
])
def test_every_core_config_error_names_its_line(tmp_path, text, line, field):
    from scheduler.config import load_config

    path = tmp_path / "ccal.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert (err.value.line, err.value.field) == (line, field)
    assert str(err.value).startswith(f"{path}:{line}: 字段 {field}: ")


@pytest.mark.parametrize("text,line,field,message", [
    ('[general]\ndata_dir = "data"\n\n[packs]\nenabled = ["nopack"]\n', 5, "packs.enabled",
     '未知的内置规则包 "nopack"（内置规则包：'),
    ('[packs]\nenabled = []\nextra_dirs = ["missing-packs"]\n', 3, "packs.extra_dirs",
     "找不到规则包目录："),
])
def test_packs_the_config_asks_for_name_the_config_line(tmp_path, text, line, field, message):
    path = tmp_path / "ccal.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        open_app(path)
    assert str(err.value).startswith(f"{path}:{line}: 字段 {field}: {message}")


def test_a_missing_secret_names_the_line_of_its_table(reminder_config):
    cfg = reminder_config("spring", extra='[notify.wecom_robot]\nper_minute = 10\n')
    app = open_app(cfg)
    try:
        with pytest.raises(ValueError) as err:
            Service(app, environ={})
    finally:
        app.engine.dispose()
    assert str(err.value).startswith(f"{cfg}:8: [notify.wecom_robot] key_env: 密钥 CCAL_WECOM_ROBOT_KEY 在环境变量中没有设置")
