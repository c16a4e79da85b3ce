"""Every store test here runs on SQLite and on PostgreSQL: the store fixtures (tmp_config,
engine, session, tracking_app, reminder_config, open_college) take their URL from `db_url`,
parametrised here. A test marked `sqlite_only` checks something only SQLite has (WAL, pragmas); one marked
`empty_db` gets a PostgreSQL database without the schema (it runs the migrations itself)."""

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: the test checks SQLite behaviour; not run on PostgreSQL")
    config.addinivalue_line("markers", "empty_db: the test needs a database without the schema (migrations)")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    if request.param == "sqlite":
        yield "sqlite:///ccal.db"
        return
    if request.node.get_closest_marker("sqlite_only"):
        pytest.skip("SQLite only")
    empty = request.node.get_closest_marker("empty_db") is not None
    cluster = request.getfixturevalue("pg_cluster")
    yield cluster.fresh_database(empty=empty)
    cluster.drop_databases()
