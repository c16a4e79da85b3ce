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


@pytest.fixture
def tmp_config(tmp_path):
    """A Config from tmp_path/config.toml: SQLite file tmp_path/ccal.db, data in tmp_path/data."""
    from scheduler.config import load_config

    path = tmp_path / "config.toml"
    path.write_text('[general]\ndata_dir = "data"\n\n[database]\nurl = "sqlite:///ccal.db"\n',
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
