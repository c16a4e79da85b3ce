import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from scheduler.config import load_config
from scheduler.db import (DatabaseError, current_revision, head_revision, make_engine, open_db,
                          session_scope, upgrade)
from scheduler.models import Occurrence, Submission, Unit

TABLES = {"unit", "person", "role_assignment", "occurrence", "submission", "evidence", "waiver",
          "event", "alembic_version"}


def config_at(tmp_path, db_path):
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{db_path}"\n', encoding="utf-8")
    return load_config(path)


def test_fresh_sqlite_file_gets_the_schema_and_its_directory(tmp_path):
    db_file = tmp_path / "new" / "dir" / "ccal.db"
    engine = open_db(config_at(tmp_path, db_file))
    assert db_file.is_file()
    assert TABLES <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() \
            == [head_revision()]
    engine.dispose()


def test_default_config_database_lives_in_the_data_dir(tmp_path):
    engine = open_db(load_config(None))           # CCAL_HOME is tmp_path/ccal-home
    assert (tmp_path / "ccal-home" / "ccal.db").is_file()
    engine.dispose()


def test_schema_matches_the_models():
    # A model change without a migration revision would show up here.
    engine = make_engine("sqlite://")
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                SQLModel.metadata)
    assert diff == []


def test_open_db_twice_keeps_data_and_revision(tmp_config):
    engine = open_db(tmp_config)
    with session_scope(engine) as s:
        s.add(Unit(code="XCB", name="党委宣传部", kind="office"))
    engine.dispose()
    engine = open_db(tmp_config)
    assert current_revision(engine) == head_revision()
    with Session(engine) as s:
        assert s.exec(select(Unit.name)).all() == ["党委宣传部"]
    engine.dispose()


@pytest.mark.empty_db
def test_database_at_the_initial_revision_is_upgraded_to_head(tmp_config):
    engine = make_engine(tmp_config.database.url)
    upgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    with engine.begin() as conn:       # plain SQL: the models may have moved on since 0001
        conn.execute(text("INSERT INTO unit (code, name, kind, created_at) "
                          "VALUES ('XCB', '党委宣传部', 'office', '2026-01-05 09:00:00')"))
    engine.dispose()
    engine = open_db(tmp_config)
    assert current_revision(engine) == head_revision()
    assert set(SQLModel.metadata.tables) <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT code, name FROM unit")).all() == [("XCB", "党委宣传部")]
    engine.dispose()


def test_database_newer_than_the_program_is_refused(engine, tmp_config):
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
    with pytest.raises(DatabaseError, match="newer than this version of ccal"):
        open_db(tmp_config)


@pytest.mark.sqlite_only
def test_sqlite_connections_enforce_foreign_keys_and_use_wal(engine):
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() > 0
    with pytest.raises(IntegrityError):
        with session_scope(engine) as s:
            s.add(Unit(code="JG1", name="机关第一党支部", kind="branch", parent_code="NOPE"))


def test_unit_kind_is_checked_by_the_database(session):
    session.add(Unit(code="KS", name="科室", kind="section"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_one_occurrence_per_unit_obligation_and_period(session):
    session.add(Unit(code="JDX", name="机电工程系党支部", kind="dept_branch"))
    session.flush()      # no relationship() between the models: flush parents first
    kw = dict(unit_code="JDX", obligation_key="jincheng-2020.1.2", period="2026-H1",
              opens=dt.date(2026, 1, 1), due=dt.date(2026, 6, 15))
    session.add(Occurrence(**kw))
    session.flush()
    session.add(Occurrence(**kw))
    with pytest.raises(IntegrityError):
        session.flush()


def test_local_times_round_trip_naive(engine):
    submitted = dt.datetime(2026, 6, 15, 23, 59, 30)
    with session_scope(engine) as s:
        s.add(Unit(code="JDX", name="机电工程系党支部", kind="dept_branch"))
        s.flush()
        occ = Occurrence(unit_code="JDX", obligation_key="jincheng-2020.1.2", period="2026-H1",
                         opens=dt.date(2026, 1, 1), due=dt.date(2026, 6, 15))
        s.add(occ)
        s.flush()
        s.add(Submission(occurrence_id=occ.id, submitted_at=submitted,
                         recorded_at=dt.datetime(2026, 6, 16, 9, 0), recorded_by="李文静"))
    with Session(engine) as s:
        sub = s.exec(select(Submission)).one()
        assert sub.submitted_at == submitted and sub.submitted_at.tzinfo is None
        assert (sub.late, sub.withdrawn, sub.corrects_id) == (False, False, None)


def test_session_scope_commits_or_rolls_back(engine):
    with session_scope(engine) as s:
        s.add(Unit(code="DW", name="院党委", kind="committee"))
    with pytest.raises(RuntimeError):
        with session_scope(engine) as s:
            s.add(Unit(code="XCB", name="党委宣传部", kind="office", parent_code="DW"))
            s.flush()
            raise RuntimeError("boom")
    with session_scope(engine) as s:
        unit = s.get(Unit, "DW")
        assert s.exec(select(Unit.code)).all() == ["DW"]
    assert unit.name == "院党委"          # still readable after the scope closed


REBUILD_UNIT = '''
import sqlalchemy as sa
from alembic import op
revision = "9001"
down_revision = {head!r}
branch_labels = None
depends_on = None
def upgrade():
    with op.batch_alter_table("unit", recreate="always") as batch:   # copy and replace the table
        batch.add_column(sa.Column("short_name", sa.String(20), nullable=True))
'''


@pytest.mark.sqlite_only   # SQLite's batch migrations rebuild tables; PostgreSQL alters in place
def test_upgrade_rebuilding_a_referenced_table_keeps_rows_and_foreign_keys(
        tmp_path, tmp_config, monkeypatch):
    import shutil

    import scheduler.db as db

    engine = open_db(tmp_config)
    with session_scope(engine) as s:
        s.add(Unit(code="JDX", name="机电工程系党支部", kind="dept_branch"))
        s.flush()
        s.add(Occurrence(unit_code="JDX", obligation_key="jincheng-2020.1.2", period="2026-H1",
                         opens=dt.date(2026, 1, 1), due=dt.date(2026, 6, 15)))
    migrations = tmp_path / "migrations"
    shutil.copytree(db.MIGRATIONS_DIR, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    (migrations / "versions" / "9001_rebuild_unit.py").write_text(
        REBUILD_UNIT.format(head=head_revision()), encoding="utf-8")
    monkeypatch.setattr(db, "MIGRATIONS_DIR", migrations)

    upgrade(engine)
    assert current_revision(engine) == "9001"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT unit_code, due FROM occurrence")).all() == [("JDX", "2026-06-15")]
        assert conn.execute(text("SELECT short_name FROM unit")).all() == [(None,)]
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()
