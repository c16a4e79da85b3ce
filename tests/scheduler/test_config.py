import dataclasses
import re
from datetime import date
from pathlib import Path

import pytest

from scheduler.config import ConfigError, MonthDay, load_config

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as e:
        load_config(path)
    return str(e.value)


# ---------------------------------------------------------------- defaults and resolution

def test_no_file_gives_defaults_under_ccal_home(tmp_path):
    home = tmp_path / "ccal-home"          # set by the autouse fixture
    c = load_config(None)
    assert c.path is None
    assert c.general.timezone == "Asia/Shanghai"
    assert c.general.tz.key == "Asia/Shanghai"
    assert c.general.data_dir == home
    assert c.database.url == f"sqlite:///{home}/ccal.db"
    assert c.calendar.holiday_dir == home / "holidays"
    assert c.evidence.dir == home / "evidence"
    assert c.packs.enabled == ("jincheng-2020", "henan-2023", "school-template", "shanghai-2023")
    assert c.packs.extra_dirs == ()
    assert c.organisation.file is None
    assert c.organisation.propaganda_unit == "XCB"
    assert (c.semesters.autumn_start, c.semesters.autumn_end) == (MonthDay(9, 1), MonthDay(1, 20))
    assert (c.semesters.spring_start, c.semesters.spring_end) == (MonthDay(2, 25), MonthDay(7, 10))
    assert [(s.key, s.name, str(s.start), str(s.end)) for s in c.seasons] == [
        ("kaixue", "开学季", "09-01", "09-30"),
        ("zhaosheng", "招生季", "06-10", "08-31"),
        ("biye", "毕业季", "05-20", "06-30"),
    ]
    assert (c.reminders, c.notify, c.service, c.templates) == ({}, {}, {}, {})


def test_without_ccal_home_data_lives_in_local_share(monkeypatch, tmp_path):
    monkeypatch.delenv("CCAL_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_config(None).general.data_dir == tmp_path / ".local/share/ccal"


def test_env_ccal_config_is_used_when_no_path_given(monkeypatch, tmp_path):
    path = write(tmp_path, '[organisation]\npropaganda_unit = "ENV"\n')
    monkeypatch.setenv("CCAL_CONFIG", str(path))
    c = load_config(None)
    assert c.organisation.propaganda_unit == "ENV"
    assert c.path == path


def test_explicit_path_beats_env_ccal_config(monkeypatch, tmp_path):
    monkeypatch.setenv("CCAL_CONFIG", str(write(tmp_path, '[organisation]\npropaganda_unit = "ENV"\n', "env.toml")))
    explicit = write(tmp_path, '[organisation]\npropaganda_unit = "ARG"\n')
    assert load_config(explicit).organisation.propaganda_unit == "ARG"


def test_env_database_url_overrides_the_file(monkeypatch, tmp_path):
    path = write(tmp_path, '[database]\nurl = "sqlite:///file.db"\n')
    monkeypatch.setenv("CCAL_DATABASE_URL", f"sqlite:///{tmp_path}/other.db")
    assert load_config(path).database.url == f"sqlite:///{tmp_path}/other.db"


def test_relative_paths_are_relative_to_the_config_file(monkeypatch, tmp_path):
    conf_dir = tmp_path / "etc"
    conf_dir.mkdir()
    monkeypatch.chdir(tmp_path)           # not the config's directory
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = write(conf_dir, """
[general]
data_dir = "state"
[database]
url = "sqlite:///db/ccal.db"
[calendar]
holiday_dir = "~/holidays"
[packs]
extra_dirs = ["mypacks", "/abs/packs"]
[organisation]
file = "org.csv"
""")
    c = load_config(path)
    assert c.general.data_dir == conf_dir / "state"
    assert c.database.url == f"sqlite:///{conf_dir}/db/ccal.db"
    assert c.calendar.holiday_dir == tmp_path / "home" / "holidays"
    assert c.evidence.dir == conf_dir / "state" / "evidence"      # default follows data_dir
    assert c.packs.extra_dirs == (conf_dir / "mypacks", Path("/abs/packs"))
    assert c.organisation.file == conf_dir / "org.csv"


def test_example_config_loads_and_documents_the_real_defaults():
    example = load_config(REPO / "config.example.toml")
    assert dataclasses.replace(example, path=None) == load_config(None)


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes('[organisation]\npropaganda_unit = "宣传"\n'.encode("utf-8-sig"))
    assert load_config(path).organisation.propaganda_unit == "宣传"


# ---------------------------------------------------------------- institution dates

def test_semesters_seasons_and_terms_feed_the_schedule_context(tmp_path):
    path = write(tmp_path, """
[semesters]
spring_start = "03-01"

[[semesters.term]]
label = "2026-autumn"
start = 2026-09-07
end = 2027-01-22

[seasons.kaixue]
start = "08-25"

[seasons.junxun]
name = "军训季"
start = "09-01"
end = "09-20"
""")
    c = load_config(path)
    ctx = c.schedule_context()
    autumn = ctx.semester(2026, "autumn")
    assert (autumn.start, autumn.end) == (date(2026, 9, 7), date(2027, 1, 22))
    spring = ctx.semester(2027, "spring")                      # from the month-day rule
    assert (spring.start, spring.end) == (date(2027, 3, 1), date(2027, 7, 10))
    kaixue = ctx.season("kaixue")
    assert (kaixue.name, kaixue.period(2026).start, kaixue.period(2026).end) == \
        ("开学季", date(2026, 8, 25), date(2026, 9, 30))           # name and end stay default
    assert ctx.season("junxun").period(2026).label == "2026-junxun"
    assert ctx.season("biye").period(2026).start == date(2026, 5, 20)


def test_terms_may_be_quoted_strings(tmp_path):
    path = write(tmp_path, '[[semesters.term]]\nlabel = "2027-spring"\nstart = "2027-02-27"\nend = "2027-07-09"\n')
    assert load_config(path).semesters.terms[0].start == date(2027, 2, 27)


# ---------------------------------------------------------------- errors name file, line, field

def test_bad_month_day_names_file_line_and_field(tmp_path):
    path = write(tmp_path, '# institution dates\n\n[semesters]\nautumn_start = "9/1"\n')
    assert error_of(path) == f'{path}:4: 字段 semesters.autumn_start: 应为 MM-DD 格式（例如 "09-01"），实际为 "9/1"'


def test_impossible_day_is_refused(tmp_path):
    path = write(tmp_path, '[seasons.biye]\nend = "06-31"\n')
    assert error_of(path) == f'{path}:2: 字段 seasons.biye.end: 一年中没有这一天，实际为 "06-31"'


def test_toml_syntax_error_carries_the_line(tmp_path):
    path = write(tmp_path, '[general]\ntimezone = "Asia/Shanghai"\ndata_dir = /srv/ccal\n')
    msg = error_of(path)
    assert msg.startswith(f"{path}:3: TOML 语法错误：")


@pytest.mark.parametrize("text, line, field", [
    ('[general]\ntimezone = "Asia/Shanghai"\n\n[calender]\nholiday_dir = "h"\n', 4, "calender"),
    ('[general]\ntimezone = "Asia/Shanghai"\ndatadir = "x"\n', 3, "general.datadir"),
    ('[[semesters.term]]\nlabel = "2026-autumn"\nstart = 2026-09-01\nend = 2027-01-20\nweeks = 20\n',
     5, "semesters.term[1].weeks"),
])
def test_unknown_tables_and_keys_are_errors(tmp_path, text, line, field):
    path = write(tmp_path, text)
    assert error_of(path).startswith(f"{path}:{line}: 字段 {field}: 未知")


def test_unknown_timezone(tmp_path):
    path = write(tmp_path, '[general]\ntimezone = "Beijing"\n')
    assert error_of(path).startswith(f'{path}:2: 字段 general.timezone: 未知时区 "Beijing"（请使用 IANA 名称，例如 "Asia/Shanghai"）')


def test_wrong_type_is_named(tmp_path):
    path = write(tmp_path, '[packs]\nenabled = "jincheng-2020"\n')
    assert error_of(path) == (f'{path}:2: 字段 packs.enabled: 应为规则包名称列表（例如 ["henan-2023"]），'
                              f'实际为 "jincheng-2020"')


@pytest.mark.parametrize("term, line, message", [
    ('label = "2026-fall"\nstart = 2026-09-01\nend = 2027-01-20', 7, '字段 semesters.term[2].label: 应为 "YYYY-autumn" 或 "YYYY-spring"'),
    ('label = "2026-autumn"\nstart = 2025-09-01\nend = 2026-01-20', 8, "字段 semesters.term[2].start: 2026-autumn 必须在 2026 年开始，实际为 2025-09-01"),
    ('label = "2026-autumn"\nstart = 2026-09-01\nend = 2026-08-01', 9, "字段 semesters.term[2].end: 结束日期（2026-08-01）早于开始日期（2026-09-01）"),
    ('label = "2026-autumn"\nstart = 2026-07-01\nend = 2026-12-01', 8, "字段 semesters.term[2].start: 2026-autumn 与 2026-spring 的日期重叠"),
])
def test_bad_terms_name_the_term(tmp_path, term, line, message):
    path = write(tmp_path, '[[semesters.term]]\nlabel = "2026-spring"\nstart = 2026-02-25\n'
                           f'end = 2026-07-10\n\n[[semesters.term]]\n{term}\n')
    assert error_of(path).startswith(f"{path}:{line}: {message}")


def test_a_new_season_needs_all_its_fields(tmp_path):
    path = write(tmp_path, '[seasons.junxun]\nstart = "09-01"\n')
    assert error_of(path) == f"{path}:1: 字段 seasons.junxun: 新增时段须同时填写 name、start 和 end"


def test_season_keys_are_lower_case_ascii_and_feb_29_is_refused(tmp_path):
    path = write(tmp_path, '[seasons.KaiXue]\nname = "开学季"\n')
    assert error_of(path).startswith(f"{path}:1: 字段 seasons.KaiXue: 时段代号（[seasons.代号] 中的代号）"
                                     "只能用小写英文字母")
    path = write(tmp_path, '[seasons.biye]\nstart = "02-29"\n')
    assert error_of(path) == f'{path}:2: 字段 seasons.biye.start: 02-29 不能用作每年的日期（平年没有 2 月 29 日），实际为 "02-29"'


def test_missing_explicit_file_is_an_error(tmp_path):
    assert error_of(tmp_path / "nope.toml") == f"{tmp_path / 'nope.toml'}: 找不到配置文件"


def test_bad_database_url_does_not_echo_the_secret(tmp_path, monkeypatch):
    path = write(tmp_path, '[database]\nurl = "postgresql://ccal:s3cret@db:notaport/ccal"\n')
    msg = error_of(path)
    assert msg.startswith(f"{path}:2: 字段 database.url: 不是有效的 SQLAlchemy 数据库地址")
    assert "s3cret" not in msg
    monkeypatch.setenv("CCAL_DATABASE_URL", "postgresql://ccal:s3cret@db:notaport/ccal")
    with pytest.raises(ConfigError) as e:
        load_config(None)
    assert str(e.value).startswith("环境变量 CCAL_DATABASE_URL: 不是有效的 SQLAlchemy 数据库地址") and "s3cret" not in str(e.value)


# ---------------------------------------------------------------- raw tables for the reminder service

def test_reminder_service_tables_are_kept_raw_with_their_lines(tmp_path):
    path = write(tmp_path, """
[reminders]
stages = [-7, -1, 0, 3]

[notify.email]
host = "smtp.example.edu.cn"
port = "twenty-five"

[service]
tick = "07:30"

[templates]
dir = "tpl"
""")
    c = load_config(path)
    assert c.reminders == {"stages": [-7, -1, 0, 3]}
    assert c.notify == {"email": {"host": "smtp.example.edu.cn", "port": "twenty-five"}}
    assert c.service == {"tick": "07:30"}
    assert c.templates == {"dir": "tpl"}
    err = c.error("notify.email.port", "应为整数")
    assert str(err) == f"{path}:7: 字段 notify.email.port: 应为整数"
    # a key that is absent falls back to its table's line
    assert c.error("notify.email.user", "missing").line == 5


def test_multiline_arrays_do_not_confuse_line_finding(tmp_path):
    path = write(tmp_path, """[reminders]
stages = [
  [-7, -1],
  [0],
]
[general]
timezone = "Nowhere/City"
""")
    assert error_of(path).startswith(f"{path}:7: 字段 general.timezone: 未知时区")


def test_every_reminder_service_setting_in_the_example_is_accepted(tmp_path):
    """config.example.toml documents the reminder-service tables with every key commented
    out at its default: uncommented, each must be a setting its reader accepts."""
    from obligations.reminders import ReminderPolicy
    from obligations.sending_windows import SendingWindow
    from notifiers.settings import build_channels
    from scheduler.service import service_settings

    src = (REPO / "config.example.toml").read_text(encoding="utf-8")
    start = src.index("# The reminder service")
    settings = [re.sub(r"^# (?=\[|[a-z_]+ = )", "", line) for line in src[start:].splitlines()]
    # Paths to files this machine does not have.
    settings = [line for line in settings if not line.startswith(("secret_file =", "cafile ="))]
    path = tmp_path / "full.toml"
    path.write_text(src[:start] + "\n".join(settings) + "\n", encoding="utf-8")

    config = load_config(path)
    assert ReminderPolicy.from_mapping(config.reminders, allow_window_keys=True).stop_after_days == 90
    assert SendingWindow.from_mapping(config.reminders, where="example").workdays_only is True
    assert service_settings(config).routes == ("email", "wecom_app", "wecom_robot")
    environ = {"CCAL_SMTP_PASSWORD": "pw", "CCAL_WECOM_ROBOT_KEY": "k", "CCAL_WECOM_APP_SECRET": "s"}
    channels = build_channels(config.notify, config_path=path, data_dir=tmp_path, environ=environ)
    assert set(channels) == {"email", "wecom_robot", "wecom_app"}
    from scheduler.web.settings import web_settings
    web = web_settings(config)
    assert (web.port, web.base_url, web.link_days, web.max_upload_mb) == (8080, "https://ccal.example.edu.cn", 365, 20)
    assert web.secure_cookies
