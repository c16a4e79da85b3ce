"""Alembic environment for ccal, run in code by scheduler.db (no alembic.ini needed).

`scheduler.db.upgrade` passes an open connection in `config.attributes["connection"]`. When
run from the alembic command line instead (developers generating a revision), the database URL
comes from the `sqlalchemy.url` option (`alembic -x` is not used).
"""

from alembic import context
from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

import scheduler.models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def _render_item(type_, obj, autogen_context):
    """Autogenerate plain sa.String for SQLModel's AutoString: revisions need no sqlmodel."""
    if type_ == "type" and isinstance(obj, AutoString):
        length = obj.impl.length
        return f"sa.String(length={length})" if length else "sa.String()"
    return False


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,      # SQLite cannot ALTER most things: rebuild the table
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
        conn.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
