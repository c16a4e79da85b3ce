"""Engine, schema upgrades and sessions.

`open_db(config)` is what the program calls on start: it creates the data directory for a SQLite
file and brings the schema to the latest Alembic revision (run in code: users need no
alembic.ini). SQLite connections get foreign keys, WAL and a busy timeout, because the daemon
and the command line share one file.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator
from urllib.parse import quote

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlmodel import Session, create_engine

if TYPE_CHECKING:
    from scheduler.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000


class DatabaseError(RuntimeError):
    """The database cannot be used by this version of ccal."""


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite connections get foreign keys on, WAL and a busy timeout."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        cur.execute("PRAGMA journal_mode=WAL")   # readers do not block the writer
    # WAL + NORMAL: no fsync per commit. Durable against a crash of the process (kill -9); a
    # power cut may roll back the last commits (docs/service.md: messages resent, none lost).
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """Alembic configuration built in code, pointing at scheduler/migrations."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The schema revision stored in the database (None: no schema yet)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic upgrades up to `revision` on `engine`'s database."""
    script = ScriptDirectory.from_config(alembic_config())
    current = current_revision(engine)
    if current is not None and current not in {s.revision for s in script.walk_revisions()}:
        raise DatabaseError(
            f"the database schema (revision {current}) is newer than this version of ccal; "
            "upgrade ccal")
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            # Batch migrations rebuild tables; foreign keys are checked once at the end instead.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        try:
            command.upgrade(alembic_config(conn), revision)
            conn.commit()
            if sqlite:
                bad = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if bad:
                    raise DatabaseError(f"schema upgrade left broken references: {bad[:5]}")
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")


def open_db(config: "Config", *, create: bool = True) -> Engine:
    """Engine for the configured database, its schema brought to the latest revision.

    create=False (every ccal command except `init`): a missing database, or one without a
    schema, is refused with DatabaseError naming it and the fix, instead of being created
    empty (an empty database answers every query with "nothing due").

    A new SQLite file is created owner-only (0600, in a 0700 directory when that is new too;
    SQLite gives its -wal and -shm files the database file's mode). A database this process
    cannot write (a read-only file or directory, another user's file) is opened read-only:
    read commands work, nothing is upgraded, and a schema that needs upgrading is refused
    with a clear message. A current schema is never touched: opening writes nothing."""
    url = make_url(config.database.url)
    path = _sqlite_path(url)
    if path is not None:
        if not create and not path.exists():
            raise DatabaseError(f"数据库不存在：{path}。请先运行 ccal init 创建数据库"
                                f"（或 ccal init --demo 载入示例学院）")
        if path.exists() and not _writable(path):
            return _open_readonly(path)
        _create_private(path)
    engine = make_engine(config.database.url)
    current = current_revision(engine)
    if current is None and not create:
        engine.dispose()
        where = path if path is not None else url.render_as_string(hide_password=True)
        raise DatabaseError(f"数据库尚未初始化：{where}。请先运行 ccal init")
    if current != head_revision():
        upgrade(engine)
    return engine


def _sqlite_path(url) -> Path | None:
    """The file of a plain SQLite URL (None: another database, in memory, or a file: URI)."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:" \
            or url.database.startswith("file:"):
        return None
    return Path(url.database)


def _writable(path: Path) -> bool:
    """Can this process write the database: the file, and its directory (for -wal/-shm)."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)


def _create_private(path: Path) -> None:
    """Create the directory (0700 for the parts that are new) and an empty database file
    (0600) unless it exists; SQLite treats an empty file as a new database."""
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    for p in missing:
        os.chmod(p, 0o700)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def _open_readonly(path: Path) -> Engine:
    """A read-only engine on a database this process cannot write."""
    uri = "file:" + quote(str(path.resolve()))

    def connect() -> sqlite3.Connection:
        # mode=ro needs the -shm file (WAL) to exist or to be creatable; when the directory is
        # read-only and no other process holds the database open, only immutable=1 can read it.
        for query in ("mode=ro", "immutable=1"):
            conn = sqlite3.connect(f"{uri}?{query}", uri=True, check_same_thread=False)
            try:
                conn.execute("select count(*) from sqlite_master").fetchone()
                return conn
            except sqlite3.OperationalError:
                conn.close()
        raise sqlite3.OperationalError(f"cannot open {path} read-only")

    engine = create_engine("sqlite://", creator=connect)
    event.listen(engine, "connect", _readonly_pragmas)
    try:
        current = current_revision(engine)
    except Exception as exc:
        engine.dispose()
        raise DatabaseError(f"数据库 {path} 只读且无法打开：{exc}") from None
    if current != head_revision():
        engine.dispose()
        raise DatabaseError(f"数据库 {path} 是只读的，但它的结构需要升级（版本 {current}）；"
                            "请以有写权限的用户运行一次 ccal init "
                            f"(the database is read-only and its schema needs an upgrade)")
    return engine


def _readonly_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA query_only=ON")
    cur.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error. Objects stay readable after
    the block (expire_on_commit=False)."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
