"""Shared fixtures: one fixture per concept, small and generic.

Project imports happen inside the fixtures so that a broken module fails only the tests that
use it, not the collection of the whole suite.
"""

import pytest


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test reads the developer's config, database or data directory."""
    monkeypatch.delenv("CCAL_CONFIG", raising=False)
    monkeypatch.delenv("CCAL_DATABASE_URL", raising=False)
    monkeypatch.setenv("CCAL_HOME", str(tmp_path / "ccal-home"))
    # Config discovery (./ccal.toml, ~/.config/ccal, /etc/ccal) finds nothing of the machine's.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    from scheduler import config
    monkeypatch.setattr(config, "SYSTEM_CONFIG", tmp_path / "etc-ccal" / "ccal.toml")


@pytest.fixture(autouse=True)
def _official_holiday_data_ends_2026(monkeypatch):
    """The tests' expectations for 2027 are the provisional ones. chinesecalendar gains each
    new year when the State Council publishes it; a release with 2027 data must not turn
    those expectations wrong, so the official data is held at 2004-2026 here."""
    from obligations import workdays

    monkeypatch.setattr(workdays, "OFFICIAL_YEARS", range(workdays.OFFICIAL_YEARS.start, 2027))


@pytest.fixture(scope="session")
def seeds_dir():
    """The seed documents' directory: skips without it, fails under CI=true (tests/seeds.py)."""
    from tests.seeds import require_seeds_dir

    return require_seeds_dir()


@pytest.fixture
def db_url():
    """The database URL the store fixtures write into their configs. SQLite here (a file
    ccal.db next to the config); tests/scheduler/conftest.py runs its tests on PostgreSQL too."""
    return "sqlite:///ccal.db"


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL cluster for the session (tests/pgcluster.py). Skipped when the
    binaries or psycopg are missing, except in CI (CI=true), where that is a failure."""
    import os

    from tests.pgcluster import Cluster, find_bindir

    bindir = find_bindir()
    try:
        import psycopg  # noqa: F401
    except ImportError:
        bindir = None
    if bindir is None:
        message = "PostgreSQL binaries (initdb, pg_ctl) or psycopg not found"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + ": .ci/run installs them")
        pytest.skip(message)
    cluster = Cluster(bindir).start()
    try:
        cluster.make_template()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def tmp_config(tmp_path, db_url):
    """A Config from tmp_path/config.toml: the database `db_url` (SQLite file tmp_path/ccal.db
    by default), data in tmp_path/data."""
    from scheduler.config import load_config

    path = tmp_path / "config.toml"
    path.write_text(f'[general]\ndata_dir = "data"\n\n[database]\nurl = "{db_url}"\n',
                    encoding="utf-8")
    return load_config(path)


@pytest.fixture
def engine(tmp_config):
    """The tmp_config database, schema at the latest revision."""
    from scheduler.db import open_db

    engine = open_db(tmp_config)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    """A session on the tmp_config database (the test commits if it needs to)."""
    from sqlmodel import Session

    with Session(engine) as s:
        yield s


# A small pack for the tracking tests (materialise, submissions, queries): one obligation per
# behaviour they check, so the tests do not move when the bundled packs are revised.
TRACKING_PACK = '''
name = "tpack"
title = "测试规则包"
source = "002_e020950e72e664f2.txt"

[[obligation]]
key = "tpack.report"
clause = "1.2"
title = "向党委宣传部书面汇报意识形态工作（半年）"
applies_to = ["branch", "dept_branch"]
citation = { clause = "考核评分体系 1.2", quote = "支部每半年末15日前向党委宣传部书面汇报1次意识形态工作情况" }
schedule = { kind = "half_yearly" }
deadline = { rule = "day_in_last_month", day = 15 }

[[obligation]]
key = "tpack.study"
clause = "3.1"
title = "支部集体学习（每年至少3次）"
applies_to = ["branch", "dept_branch"]
times = 3
default = true
citation = { clause = "考核评分体系 3.1", quote = "建设学习型党支部" }
schedule = { kind = "yearly" }
deadline = { rule = "period_end" }

[[obligation]]
key = "tpack.festival"
clause = "9"
title = "春节后报送值班情况"
applies_to = ["office"]
default = true
citation = { clause = "考核评分体系 4.6", quote = "安全教育" }
schedule = { kind = "yearly" }
deadline = { rule = "fixed", month = 2, day = 7, roll = "next_workday" }

[[obligation]]
key = "tpack.lecture"
clause = "4.2"
title = "讲座论坛报批"
applies_to = ["office", "dept_branch"]
citation = { clause = "考核评分体系 4.2", quote = "严格履行审批手续" }
schedule = { kind = "event" }
deadline = { rule = "workdays_before_event", workdays = 20 }

[[obligation]]
key = "tpack.teach"
clause = "2"
title = "党委书记每学期讲授思政课"
applies_to = ["committee"]
citation = { clause = "第2条", quote = "每学期" }
schedule = { kind = "semester" }
deadline = { rule = "period_end" }

[[obligation]]
key = "tpack.meeting"
clause = "M"
title = "季度联席会议"
applies_to = ["propaganda"]
responsible = "propaganda"
default = true
citation = { clause = "考核评分体系 1.5", quote = "每季度" }
schedule = { kind = "quarterly" }
deadline = { rule = "period_end" }

[[obligation]]
key = "tpack.meeting.report"
clause = "M.1"
title = "联席会议前提交意识形态报告"
applies_to = ["office", "dept_branch"]
anchor = "tpack.meeting"
citation = { clause = "考核评分体系 1.5", quote = "每季度" }
schedule = { kind = "quarterly" }
deadline = { rule = "before_anchor", days = 1 }
'''

TRACKING_UNITS = (
    ("DW", "党委", "committee"), ("XCB", "党委宣传部", "office"), ("JWC", "教务处", "office"),
    ("JDX", "机电工程系党支部", "dept_branch"), ("LTX", "离退休教职工党支部", "branch"),
)


@pytest.fixture
def tracking_app(tmp_path, db_url):
    """An App on a fresh SQLite database with only the pack `tpack` (TRACKING_PACK) and five
    units: DW committee, XCB propaganda office, JWC office, JDX dept_branch, LTX branch."""
    from scheduler.app import open_app
    from scheduler.models import Unit

    (tmp_path / "packs").mkdir()
    (tmp_path / "packs" / "tpack.toml").write_text(TRACKING_PACK, encoding="utf-8")
    cfg = tmp_path / "ccal.toml"
    cfg.write_text(f'[general]\ndata_dir = "data"\n[database]\nurl = "{db_url}"\n'
                   '[packs]\nenabled = []\nextra_dirs = ["packs"]\n', encoding="utf-8")
    app = open_app(cfg)
    with app.session() as s:
        s.add_all(Unit(code=c, name=n, kind=k) for c, n, k in TRACKING_UNITS)
    yield app
    app.engine.dispose()


# The reminder-service tests (outbox, planner, dispatcher, service, crash): a small organisation
# and one-obligation packs whose stages fall on known days of March 2026.
REMINDER_OBLIGATIONS = {
    # One window a year, 11-20 March 2026 (a short window: announced the day it opens).
    "spring": '''
[[obligation]]
key = "rpack.spring"
clause = "1"
title = "报送春季意识形态工作研判报告"
applies_to = ["branch"]
evidence = ["研判报告"]
citation = { clause = "1", quote = "每年春季研判" }
schedule = { kind = "yearly" }
deadline = { rule = "fixed", month = 3, day = 20, opens = "03-11" }
''',
    # Count-based: at least 3 studies a quarter.
    "study": '''
[[obligation]]
key = "rpack.study"
clause = "2"
title = "支部集体学习（每季度至少3次）"
applies_to = ["branch"]
times = 3
citation = { clause = "2", quote = "每季度至少3次" }
schedule = { kind = "quarterly" }
deadline = { rule = "period_end" }
''',
    # Event-relative: approval 20 working days before a recorded lecture.
    "lecture": '''
[[obligation]]
key = "rpack.lecture"
clause = "3"
title = "讲座论坛报批"
applies_to = ["branch"]
citation = { clause = "3", quote = "严格履行审批手续" }
schedule = { kind = "event" }
deadline = { rule = "workdays_before_event", workdays = 20 }
''',
}

# B1 and B3 share a secretary (许芳): her reminders come grouped by unit. B2 has an explicit
# supervisor (赵敏); B1 and B3 fall back to the parent unit's secretary (王建国, DW). The
# propaganda department XCB has a propaganda contact (孙宣), who hears of every escalation.
REMINDER_ORG = """\
code,name,kind,parent,secretary,email,wecom_userid,mobile,supervisor,supervisor_email,propaganda,propaganda_email
DW,测试学院党委,党委,,王建国,wang@example.edu.cn,WangJianGuo,,,,,
XCB,党委宣传部,处室,DW,李文静,li@example.edu.cn,LiWenJing,,,,孙宣,sun@example.edu.cn
B1,第一党支部,党支部,DW,许芳,xu@example.edu.cn,XuFang,,,,,
B2,第二党支部,党支部,DW,吕刚,lv@example.edu.cn,,,赵敏,zhao@example.edu.cn,,
B3,第三党支部,党支部,DW,许芳,xu@example.edu.cn,XuFang,,,,,
"""


@pytest.fixture
def reminder_config(tmp_path, db_url):
    """Factory: write tmp_path/ccal.toml with the pack `rpack` made of the named
    REMINDER_OBLIGATIONS, import the organisation (REMINDER_ORG unless given) and return the
    config path. `extra` is appended to the TOML (e.g. a [notify.email] table)."""
    from scheduler.app import open_app
    from scheduler.org import import_org

    def make(*obligations: str, extra: str = "", org: str = REMINDER_ORG):
        packs = tmp_path / "packs"
        packs.mkdir(exist_ok=True)
        pack = 'name = "rpack"\ntitle = "提醒测试规则包"\nsource = "test.txt"\n'
        pack += "".join(REMINDER_OBLIGATIONS[name] for name in obligations)
        (packs / "rpack.toml").write_text(pack, encoding="utf-8")
        (tmp_path / "org.csv").write_text(org, encoding="utf-8")
        cfg = tmp_path / "ccal.toml"
        cfg.write_text(f'[general]\ndata_dir = "data"\n[database]\nurl = "{db_url}"\n'
                       '[packs]\nenabled = []\nextra_dirs = ["packs"]\n' + extra,
                       encoding="utf-8")
        app = open_app(cfg)
        with app.session() as s:
            import_org(s, tmp_path / "org.csv")
        app.engine.dispose()
        return cfg

    return make


@pytest.fixture
def open_college(tmp_path, request, db_url):
    """open_college(org_csv, packs, extra_pack=None) -> App: a fresh SQLite database in its own
    directory with the organisation imported, the named bundled packs and, optionally, one
    extra pack of the test's own."""
    from scheduler.app import open_app
    from scheduler.org import import_org

    apps = []

    def make(org_csv: str, packs=("jincheng-2020", "henan-2023"), extra_pack: str | None = None):
        d = tmp_path / f"college{len(apps)}"
        (d / "packs").mkdir(parents=True)
        (d / "org.csv").write_text(org_csv, encoding="utf-8")
        if extra_pack:
            (d / "packs" / "extra.toml").write_text(extra_pack, encoding="utf-8")
        enabled = ", ".join(f'"{p}"' for p in packs)
        url = db_url   # SQLite: a file in the college's own directory
        if apps and not url.startswith("sqlite"):
            url = request.getfixturevalue("pg_cluster").fresh_database()
        (d / "ccal.toml").write_text(f'[general]\ndata_dir = "data"\n[database]\nurl = "{url}"\n'
                                     f'[packs]\nenabled = [{enabled}]\nextra_dirs = ["packs"]\n',
                                     encoding="utf-8")
        app = open_app(d / "ccal.toml")
        with app.session() as s:
            import_org(s, d / "org.csv")
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.engine.dispose()


@pytest.fixture(scope="module")
def demo_college(tmp_path_factory):
    """The demo college (`ccal init --demo`, history up to 2026-01-01), prepared once per test
    module; tests that change it take a copy (tests/cli_college.py `copy_college`)."""
    from tests.cli_college import prepare_demo

    return prepare_demo(tmp_path_factory.mktemp("demo"))
