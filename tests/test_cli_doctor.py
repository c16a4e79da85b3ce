"""`ccal doctor` and `ccal notify test PERSON`."""

import pytest

from tests.cli_college import CONFIG, copy_college, run
from tests.fakes.smtp import FakeSMTP
from tests.test_cli import holiday_file_2027


@pytest.fixture
def cfg(demo_college, tmp_path):
    return copy_college(demo_college, tmp_path)


def test_doctor_names_what_is_used_and_finds_next_years_holidays_missing(cfg, tmp_path):
    result = run(cfg, "doctor", "--as-of", "2026-06-20")
    out = result.stdout
    assert f"配置文件：{cfg}" in out
    assert f"{tmp_path / 'ccal.db'}（版本" in out and "为最新" in out
    assert f"数据目录：{tmp_path / 'data'}" in out
    assert "jincheng-2020（内置）" in out and "school-template（内置）" in out
    assert "[正常] 节假日 2026" in out and "[注意] 节假日 2027" in out and "ccal holidays import" in out
    assert "本地发件箱" in out
    assert result.exit_code == 0            # next year's holidays are published late in the year
    assert run(cfg, "holidays", "import", holiday_file_2027(tmp_path / "2027.toml")).exit_code == 0
    healthy = run(cfg, "doctor", "--as-of", "2026-06-20")
    assert healthy.exit_code == 0 and "[正常] 节假日 2027：管理员导入" in healthy.stdout
    # In 2027 itself a missing year is a problem: every working-day date is provisional.
    late = run(cfg, "doctor", "--as-of", "2028-01-05")
    assert late.exit_code == 1 and "[问题] 节假日 2028" in late.stdout and "1 个问题" in late.stderr


def test_doctor_reports_a_missing_database_without_creating_it(tmp_path):
    (tmp_path / "ccal.toml").write_text(CONFIG, encoding="utf-8")
    result = run(tmp_path / "ccal.toml", "doctor", "--as-of", "2026-06-20")
    assert result.exit_code == 1
    assert f"{tmp_path / 'ccal.db'} 不存在：请运行 ccal init" in result.stdout
    assert not (tmp_path / "ccal.db").exists()


def test_doctor_describes_the_email_channel_without_its_password(cfg):
    cfg.write_text(CONFIG + '\n[notify.email]\nhost = "smtp.example.edu.cn"\nport = 465\nsecurity = "tls"\n'
                   'from_addr = "ccal@example.edu.cn"\nusername = "ccal"\npassword_env = "CCAL_SMTP_PASSWORD"\n',
                   encoding="utf-8")
    result = run(cfg, "doctor", "--as-of", "2026-06-20", env={"CCAL_SMTP_PASSWORD": "s3cret-Passw0rd"})
    assert "smtp.example.edu.cn:465（tls），发件人 ccal@example.edu.cn" in result.stdout
    assert "s3cret-Passw0rd" not in result.output


def test_notify_test_sends_one_real_message(reminder_config):
    with FakeSMTP() as smtp:
        cfg = reminder_config("spring", extra=(f'[notify.email]\nhost = "127.0.0.1"\nport = {smtp.port}\n'
                                               'security = "none"\nfrom_addr = "ccal@example.edu.cn"\n'))
        result = run(cfg, "notify", "test", "许芳")
        assert result.exit_code == 0, result.output
        assert "测试消息已发给 许芳" in result.stdout and "127.0.0.1" in result.stdout
        assert [list(m.rcpt_tos) for m in smtp.messages] == [["xu@example.edu.cn"]]
        assert "测试" in smtp.messages[0].message["Subject"]
    unknown = run(cfg, "notify", "test", "无此人")
    assert unknown.exit_code == 1 and "未找到人员 无此人" in unknown.stderr


@pytest.mark.parametrize("extra,line,text", [
    ('[notify.email]\nhost = "h"\nfrom_addr = "a@b.cn"\nprot = 25\n', 10, "[notify.email] prot"),
    ('[reminders]\nbefore_dayz = [1]\n', 8, "reminders.before_dayz"),
    ('[service]\nbatch_size = 0\n', 8, "service.batch_size"),
    ('[templates]\ndir = "nope"\n', 8, "[templates] dir"),
])
def test_doctor_finds_the_setting_errors_tick_refuses_and_names_their_line(cfg, extra, line, text):
    # audit7: doctor gave "未发现问题" for [reminders]/[service]/[templates] errors that make
    # `ccal tick` refuse to run, and named no line for a [notify] error.
    cfg.write_text(CONFIG + "\n" + extra, encoding="utf-8")
    result = run(cfg, "doctor", "--as-of", "2026-06-20")
    assert result.exit_code == 1, result.stdout
    problem = next(l for l in result.stdout.splitlines() if l.startswith("[问题]"))
    assert f"{cfg}:{line}: " in problem and text in problem
    tick = run(cfg, "tick", "--now", "2026-06-20 10:00")
    assert tick.exit_code == 1 and f"{cfg}:{line}: " in tick.stderr
