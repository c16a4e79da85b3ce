"""Everything a command needs, opened once: config, database, packs, calendar, clock.

`open_app(config_path)` reads the configuration and the packs eagerly (so a bad config or
pack is reported before anything else happens) and opens the database and the holiday
calendar lazily: `ccal workdays count` needs neither a database nor a migration run.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from obligations.packs import Obligation, Pack, load_packs
from obligations.schedules import Context
from obligations.workdays import WorkdayCalendar
from scheduler.config import Config, check_pack_settings, load_config

if TYPE_CHECKING:       # the database libraries load when the database is first used
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from scheduler.models import Unit


class UserInputError(ValueError):
    """Input a clerk can fix (unknown unit, key or period, bad date...): shown without a
    traceback, exit code 1."""


@dataclass(eq=False)
class App:
    config: Config
    packs: list[Pack]
    obligations: dict[str, Obligation] = field(init=False)
    # False: the database must already exist and have a schema (every command but `ccal init`).
    create_database: bool = field(default=True, kw_only=True)

    def __post_init__(self) -> None:
        self.obligations = {ob.key: ob for p in self.packs for ob in p.obligations}

    # -- lazily opened resources
    @cached_property
    def engine(self) -> Engine:
        from scheduler.db import open_db
        return open_db(self.config, create=self.create_database)

    @cached_property
    def calendar(self) -> WorkdayCalendar:
        return WorkdayCalendar.from_dir(self.holiday_dir)

    @cached_property
    def context(self) -> Context:
        return self.config.schedule_context()

    def reload_calendar(self) -> WorkdayCalendar:
        """Re-read the holiday directory (after `ccal holidays import`)."""
        self.__dict__.pop("calendar", None)
        return self.calendar

    def session(self):
        """A committing session scope on the app's database."""
        from scheduler.db import session_scope
        return session_scope(self.engine)

    # -- settings
    @property
    def holiday_dir(self) -> Path:
        return self.config.calendar.holiday_dir

    @property
    def propaganda_unit(self) -> str:
        """Code of the unit meant by `applies_to = ["propaganda"]`."""
        return self.config.organisation.propaganda_unit

    # -- clock (the only place commands read it; every query takes an explicit as_of)
    def now(self) -> datetime:
        """Naive wall-clock time in the configured zone, as stored in the database."""
        return datetime.now(self.config.general.tz).replace(tzinfo=None, microsecond=0)

    def today(self) -> date:
        return self.now().date()

    # -- lookups with clerk-readable errors
    def obligation(self, key: str) -> Obligation:
        try:
            return self.obligations[key]
        except KeyError:
            similar = difflib.get_close_matches(key, list(self.obligations), n=5, cutoff=0.6)
            hint = "；相近的编号：" + ", ".join(similar) if similar else "（ccal obligations 列出全部编号）"
            raise UserInputError(f"未知事项编号：{key}{hint}") from None

    def unit(self, session: Session, code: str) -> Unit:
        from sqlmodel import func, select

        from scheduler.models import Unit
        unit = session.get(Unit, code)
        if unit is None:
            # Codes match regardless of case (jdx = JDX) unless two codes differ only by case.
            matches = session.exec(select(Unit).where(func.upper(Unit.code) == code.strip().upper())).all()
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise UserInputError(f"单位代码 {code} 不区分大小写时有多个匹配："
                                     f"{', '.join(u.code for u in matches)}；请按原样输入")
            known = session.exec(select(Unit.code).order_by(Unit.code).limit(20)).all()
            hint = f"（已有单位：{', '.join(known)}）" if known else "（数据库中还没有单位，请先 ccal org import 或 ccal init --demo）"
            raise UserInputError(f"未知单位代码：{code}{hint}")
        return unit


def open_app(config_path: Path | str | None = None, *, config: Config | None = None) -> App:
    """The app for `config_path` (None: env CCAL_CONFIG, else defaults). Raises ConfigError,
    PackError or HolidayFileError with file/line/field for bad input."""
    cfg = config if config is not None else load_config(config_path)
    check_pack_settings(cfg)   # a missing pack or directory names its config line
    packs = load_packs(cfg.packs.enabled, cfg.packs.extra_dirs)
    return App(cfg, packs)
