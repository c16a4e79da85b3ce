"""Fixtures of the web tests: a college on a real SQLite file, its clock fixed, two secretaries
with personal links, two staff accounts, and clients for every kind of visitor."""

from dataclasses import dataclass, field
from datetime import datetime

import pytest

NOW = datetime(2026, 3, 16, 10, 0)     # a Monday inside the spring window (11-20 March)
PASSWORD = "correct horse 1"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@dataclass
class College:
    app: object
    web: object
    links: dict = field(default_factory=dict)     # "A" / "B" -> personal link URL
    people: dict = field(default_factory=dict)    # "A" / "B" -> person id

    def occurrence(self, unit: str, key: str, period: str) -> int:
        from sqlmodel import select
        from scheduler.models import Occurrence
        with self.app.session() as s:
            return s.exec(select(Occurrence.id).where(
                Occurrence.unit_code == unit, Occurrence.obligation_key == key,
                Occurrence.period == period)).one()

    def client(self, who: str = "anonymous"):
        """A TestClient signed in as anonymous | A | B | viewer | propaganda."""
        from starlette.testclient import TestClient
        c = TestClient(self.web, base_url="http://127.0.0.1:8080", follow_redirects=False)
        if who in ("A", "B"):
            r = c.get(self.links[who].replace("http://127.0.0.1:8080", ""))
            assert r.status_code == 303, r.text
        elif who in ("viewer", "propaganda"):
            login(c, who)
        return c


def csrf_of(client, path: str = "/login") -> str:
    import re
    page = client.get(path).text
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    assert m, page
    return m.group(1)


def login(client, name: str, password: str = PASSWORD):
    token = csrf_of(client, "/login")
    return client.post("/login", data={"csrf": token, "name": name, "password": password})


def fix_clock(app, now: datetime) -> None:
    app.now = lambda: now     # App.today() reads self.now() too


@pytest.fixture
def college(reminder_config, monkeypatch):
    """Pack rpack (spring report + 3 studies a quarter); B1 and B3 of 许芳 (secretary A), B2 of
    吕刚 (secretary B); staff `propaganda` and `viewer`; the clock at NOW."""
    from sqlmodel import select

    from scheduler.app import open_app
    from scheduler.links import Links
    from scheduler.materialise import materialise
    from scheduler.models import Person
    from scheduler.web.accounts import add_user
    from scheduler.web.app import create_app

    monkeypatch.setenv("CCAL_WEB_SECRET", "test-secret-for-the-web-0123456789")
    app = open_app(reminder_config("spring", "study"))
    fix_clock(app, NOW)
    materialise(app, [2026])
    add_user(app, "propaganda", "propaganda", PASSWORD)
    add_user(app, "viewer", "viewer", PASSWORD)
    c = College(app, create_app(app))
    links = Links(app)
    with app.session() as s:
        for who, name in (("A", "许芳"), ("B", "吕刚")):
            pid = s.exec(select(Person.id).where(Person.name == name)).one()
            c.people[who] = pid
            c.links[who] = links.url_for(s, pid, NOW)
    yield c
    app.engine.dispose()
