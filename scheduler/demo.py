"""The demo college: a fictional vocational college (丹河职业技术学院) to try ccal on.

18 units: the Party committee, four branches, three of them made of offices (机关第一党支部
holds 党政办公室, 组织部 and 宣传部 (XCB)), eight offices and five teaching-department branches;
fictional people with example.edu.cn addresses. Loading it twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
from importlib.resources import as_file, files

from sqlmodel import Session

from scheduler.org import ImportResult, import_org

DEMO_ORG = "org.csv"


def load_demo(session: Session, now: dt.datetime | None = None) -> ImportResult:
    """Import the demo college into the session (flushed, not committed)."""
    with as_file(files("scheduler").joinpath("demo", DEMO_ORG)) as path:
        return import_org(session, path, now=now)
