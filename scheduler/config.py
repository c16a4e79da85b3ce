"""ccal configuration: one TOML file, every setting optional.

Resolution: an explicit path (``--config``) > env ``CCAL_CONFIG`` > ``./ccal.toml`` >
``$XDG_CONFIG_HOME/ccal/ccal.toml`` (default ``~/.config/ccal/ccal.toml``) >
``/etc/ccal/ccal.toml`` > no file at all (pure defaults, so ccal runs with no configuration). Env ``CCAL_DATABASE_URL`` overrides ``[database] url`` so several
databases can be used side by side; env ``CCAL_HOME`` is the default data directory.

The tables mirror the TOML file: ``config.general.timezone``, ``config.packs.enabled``, ...
``[reminders]``, ``[notify]``, ``[service]`` and ``[templates]`` belong to the reminder-service
modules and are kept as raw mappings; they report their own errors with ``config.error()``.
Every setting is documented in ``config.example.toml``.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from obligations import schedules

ENV_CONFIG = "CCAL_CONFIG"
ENV_DATABASE_URL = "CCAL_DATABASE_URL"
ENV_HOME = "CCAL_HOME"
# sqlite:///relative/or/absolute/path (no query string, no user/host): see _Builder.database.
_PLAIN_SQLITE = re.compile(r"^(?P<scheme>sqlite(\+[A-Za-z0-9_]+)?):///(?P<path>[^?#]*)$")

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_PACKS = ("jincheng-2020", "henan-2023", "school-template", "shanghai-2023")
DEFAULT_PROPAGANDA_UNIT = "XCB"
# Tables owned by the reminder service: kept raw here, checked by their own modules.
RAW_TABLES = ("reminders", "notify", "service", "templates", "web")


class ConfigError(ValueError):
    """A configuration problem; str() names the file, the line and the dotted field."""

    def __init__(self, message: str, *, file: str | Path | None = None,
                 line: int | None = None, field: str | None = None):
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file or ""
        if self.file and self.line:
            where += f":{self.line}"
        parts = [where] if where else []
        if self.field:
            parts.append(f"字段 {self.field}")
        parts.append(self.message)
        return ": ".join(parts)


@dataclass(frozen=True, order=True)
class MonthDay:
    """A day of the year without a year ("09-01"), for institution dates that repeat."""
    month: int
    day: int

    @classmethod
    def parse(cls, text: str) -> "MonthDay":
        m = re.fullmatch(r"(\d{2})-(\d{2})", text)
        if not m:
            raise ValueError('应为 MM-DD 格式（例如 "09-01"）')
        month, day = int(m.group(1)), int(m.group(2))
        if (month, day) == (2, 29):
            # Would not exist in three years out of four.
            raise ValueError("02-29 不能用作每年的日期（平年没有 2 月 29 日）")
        try:
            date(2001, month, day)
        except ValueError:
            raise ValueError("一年中没有这一天") from None
        return cls(month, day)

    def in_year(self, year: int) -> date:
        return date(year, self.month, self.day)

    def __str__(self) -> str:
        return f"{self.month:02d}-{self.day:02d}"


@dataclass(frozen=True)
class GeneralSettings:
    timezone: str
    data_dir: Path

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class DatabaseSettings:
    url: str


@dataclass(frozen=True)
class CalendarSettings:
    holiday_dir: Path


@dataclass(frozen=True)
class Term:
    """An explicit semester of the institution (label like "2026-autumn")."""
    label: str
    start: date
    end: date


@dataclass(frozen=True)
class SemesterSettings:
    autumn_start: MonthDay = MonthDay.parse(schedules.SemesterDefaults.autumn_start)
    autumn_end: MonthDay = MonthDay.parse(schedules.SemesterDefaults.autumn_end)  # following year
    spring_start: MonthDay = MonthDay.parse(schedules.SemesterDefaults.spring_start)
    spring_end: MonthDay = MonthDay.parse(schedules.SemesterDefaults.spring_end)
    terms: tuple[Term, ...] = ()


@dataclass(frozen=True)
class SeasonSettings:
    """A yearly risk-screening window (henan-2023 clause 17)."""
    key: str
    name: str
    start: MonthDay
    end: MonthDay


# The core owns the default dates (obligations.schedules); config only lets users replace them.
DEFAULT_SEASONS = tuple(
    SeasonSettings(s.key, s.name, MonthDay.parse(s.start), MonthDay.parse(s.end))
    for s in schedules.DEFAULT_SEASONS
)


@dataclass(frozen=True)
class PackSettings:
    enabled: tuple[str, ...] = DEFAULT_PACKS
    extra_dirs: tuple[Path, ...] = ()
    # False: the file does not set [packs] enabled; `enabled` is then the library default and
    # the command line decides (scheduler/pack_choice.py: a college chooses its rules).
    chosen: bool = False


@dataclass(frozen=True)
class OrganisationSettings:
    file: Path | None = None
    propaganda_unit: str = DEFAULT_PROPAGANDA_UNIT


@dataclass(frozen=True)
class EvidenceSettings:
    dir: Path


@dataclass(frozen=True)
class Config:
    general: GeneralSettings
    database: DatabaseSettings
    calendar: CalendarSettings
    semesters: SemesterSettings
    seasons: tuple[SeasonSettings, ...]
    packs: PackSettings
    organisation: OrganisationSettings
    evidence: EvidenceSettings
    reminders: dict = field(default_factory=dict)
    notify: dict = field(default_factory=dict)
    service: dict = field(default_factory=dict)
    templates: dict = field(default_factory=dict)
    web: dict = field(default_factory=dict)      # [web]: scheduler/web/settings.py
    path: Path | None = None
    # dotted key -> line in the file, for error messages of the modules reading raw tables
    key_lines: Mapping[str, int] = field(default_factory=dict, repr=False, compare=False)

    def error(self, dotted_field: str, message: str) -> ConfigError:
        """A ConfigError for `dotted_field` (e.g. "notify.email.port") with file and line."""
        return ConfigError(message, file=self.path, line=self.line_of(dotted_field),
                           field=dotted_field)

    def line_of(self, dotted_field: str) -> int | None:
        """The line of `dotted_field` in the file, else of its closest enclosing table that
        is written there; None without a file. Modules that report their own errors
        (notifiers.settings) take this function to add the line."""
        return _line_of(self.key_lines, dotted_field)

    def season(self, key: str) -> SeasonSettings | None:
        return next((s for s in self.seasons if s.key == key), None)

    def schedule_context(self):
        """The institution dates the schedules need, as an `obligations.schedules.Context`."""
        s = self.semesters
        return schedules.Context(
            semesters=tuple(schedules.Semester(t.label, t.start, t.end) for t in s.terms),
            semester_defaults=schedules.SemesterDefaults(
                autumn_start=str(s.autumn_start), autumn_end=str(s.autumn_end),
                spring_start=str(s.spring_start), spring_end=str(s.spring_end),
            ),
            seasons=tuple(schedules.Season(x.key, x.name, str(x.start), str(x.end)) for x in self.seasons),
        )


def check_pack_settings(config: Config) -> None:
    """`[packs]` names bundled packs that exist and directories that exist; otherwise a
    ConfigError at the line of `enabled` / `extra_dirs` (the pack loader alone would name
    the pack directory, not the config line that asked for it)."""
    from obligations.packs import bundled_pack_dir, bundled_pack_names

    for name in config.packs.enabled:
        if (bundled_pack_dir() / f"{name}.toml").is_file():
            continue
        known = bundled_pack_names()
        if name not in known:
            raise config.error("packs.enabled", f"未知的内置规则包 {_show(name)}"
                                                f"（内置规则包：{'、'.join(known) or '无'}）")
    for d in config.packs.extra_dirs:
        if not Path(d).is_dir():
            raise config.error("packs.extra_dirs", f"找不到规则包目录：{d}")


# --------------------------------------------------------------------------- loading

SYSTEM_CONFIG = Path("/etc/ccal/ccal.toml")


def config_candidates() -> list[Path]:
    """The files looked for when neither --config nor CCAL_CONFIG names one, in order."""
    xdg = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return [Path("ccal.toml"), Path(xdg).expanduser() / "ccal" / "ccal.toml", SYSTEM_CONFIG]


def resolve_config_path(path: Path | str | None) -> Path | None:
    """--config, else env CCAL_CONFIG, else the first of config_candidates() that exists."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(ENV_CONFIG)
    if env:
        return Path(env).expanduser()
    return next((p.absolute() for p in config_candidates() if p.is_file()), None)


def load_config(path: Path | str | None = None) -> Config:
    """Load the configuration: explicit `path`, else env CCAL_CONFIG, else the first file of
    config_candidates(), else pure defaults."""
    cfg_path = resolve_config_path(path)
    data: dict[str, Any] = {}
    lines: dict[str, int] = {}
    if cfg_path is not None:
        data, lines = _read_toml(cfg_path)
    return _Builder(cfg_path, data, lines).build()


def _read_toml(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("找不到配置文件", file=path) from None
    except IsADirectoryError:
        raise ConfigError("这是一个目录，不是配置文件", file=path) from None
    except OSError as e:
        raise ConfigError(f"无法读取配置文件：{e.strerror}", file=path) from None
    try:
        text = raw.decode("utf-8-sig")     # Windows editors add a BOM
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise ConfigError("不是 UTF-8 文本（请将文件另存为 UTF-8 编码）", file=path, line=line) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = re.search(r"\(at line (\d+), column \d+\)$", msg)
        line = int(m.group(1)) if m else None
        if m is None and msg.endswith("(at end of document)"):
            line = text.count("\n") + 1
        msg = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)$", "", msg)
        raise ConfigError(f"TOML 语法错误：{msg}", file=path, line=line) from None
    return data, _key_lines(text)


# A header line ([a.b] or [[a.b]]) or a key line (a.b = ...); quoted keys kept simple.
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')"
                  r"(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*=")


def _split_key(key: str) -> list[str]:
    parts = re.findall(r"\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+", key)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def _bracket_depth(fragment: str) -> int:
    """Open minus closed brackets outside strings and comments (multi-line arrays)."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'', "", fragment).split("#", 1)[0]
    return bare.count("[") + bare.count("{") - bare.count("]") - bare.count("}")


def _key_lines(text: str) -> dict[str, int]:
    """Best-effort map of dotted keys to their line (array tables as "a.b[1]", 1-based)."""
    lines: dict[str, int] = {}
    counts: dict[str, int] = {}
    table = ""
    in_multiline: str | None = None     # inside a multi-line string
    depth = 0                           # inside a multi-line array or inline table
    for no, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        if depth > 0:
            depth += _bracket_depth(line)
            continue
        k = _KEY.match(line)
        m = None if k else _HEADER.match(line)
        if m:
            name = ".".join(_split_key(m.group(2)))
            if m.group(1) == "[[":
                counts[name] = counts.get(name, 0) + 1
                name = f"{name}[{counts[name]}]"
            table = name
            lines.setdefault(table, no)
        elif k:
            dotted = ".".join(_split_key(k.group(1)))
            lines.setdefault(f"{table}.{dotted}" if table else dotted, no)
            rest = line[k.end():]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_multiline = quote
            if not in_multiline:
                depth = max(_bracket_depth(rest), 0)
    return lines


def _line_of(lines: Mapping[str, int], dotted: str) -> int | None:
    """Line of the key, else of the closest enclosing table that has one."""
    probe = dotted
    while probe:
        if probe in lines:
            return lines[probe]
        if "." not in probe and "[" not in probe:
            return None
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut]
    return None


def _show(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return "一个表" if isinstance(value, dict) else "一个列表"
    return str(value)


class _Builder:
    """Validates the parsed TOML, table by table, into Config."""

    def __init__(self, path: Path | None, data: dict[str, Any], lines: dict[str, int]):
        self.path = path
        self.data = data
        self.lines = lines
        self.base = path.parent.resolve() if path is not None else Path.cwd()

    # -- errors and typed getters
    def fail(self, dotted: str, message: str) -> ConfigError:
        return ConfigError(message, file=self.path, line=_line_of(self.lines, dotted),
                           field=dotted)

    def table(self, name: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise self.fail(name, f"应为表 [{name}]，实际为 {_show(value)}")
        for key in value:
            if key not in allowed:
                raise self.fail(f"{name}.{key}", f"未知设置（可用：{'、'.join(allowed)}）")
        return value

    def string(self, tbl: dict, name: str, dotted: str, default: str | None) -> str | None:
        if name not in tbl:
            return default
        value = tbl[name]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(dotted, f"应为非空字符串，实际为 {_show(value)}")
        return value.strip()

    def path_value(self, tbl: dict, name: str, dotted: str) -> Path | None:
        value = self.string(tbl, name, dotted, None)
        if value is None:
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base / p

    def month_day(self, tbl: dict, name: str, dotted: str, default: MonthDay) -> MonthDay:
        if name not in tbl:
            return default
        value = tbl[name]
        if not isinstance(value, str):
            raise self.fail(dotted, f'应为 MM-DD 格式（带引号的字符串，例如 "09-01"），实际为 {_show(value)}')
        try:
            return MonthDay.parse(value.strip())
        except ValueError as e:
            raise self.fail(dotted, f"{e}，实际为 {_show(value)}") from None

    def a_date(self, tbl: dict, name: str, dotted: str) -> date:
        if name not in tbl:
            raise self.fail(dotted, "缺少（应为日期，例如 2026-09-01）")
        value = tbl[name]
        if isinstance(value, date) and not hasattr(value, "hour"):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise self.fail(dotted, f"应为日期（例如 2026-09-01），实际为 {_show(value)}")

    # -- tables
    def build(self) -> Config:
        known = ("general", "database", "calendar", "semesters", "seasons", "packs",
                 "organisation", "evidence") + RAW_TABLES
        for key in self.data:
            if key not in known:
                raise self.fail(key, f"未知的表或设置（可用的表：{'、'.join(known)}）")

        general = self.general()
        data_dir = general.data_dir
        raw = {}
        for name in RAW_TABLES:
            value = self.data.get(name, {})
            if not isinstance(value, dict):
                raise self.fail(name, f"应为表 [{name}]，实际为 {_show(value)}")
            raw[name] = value
        return Config(
            general=general,
            database=self.database(data_dir),
            calendar=CalendarSettings(
                self.path_value(self.table("calendar", ("holiday_dir",)), "holiday_dir",
                                "calendar.holiday_dir") or data_dir / "holidays"),
            semesters=self.semesters(),
            seasons=self.seasons(),
            packs=self.packs(),
            organisation=self.organisation(),
            evidence=EvidenceSettings(
                self.path_value(self.table("evidence", ("dir",)), "dir", "evidence.dir")
                or data_dir / "evidence"),
            path=self.path,
            key_lines=dict(self.lines),
            **raw,
        )

    def general(self) -> GeneralSettings:
        tbl = self.table("general", ("timezone", "data_dir"))
        tz = self.string(tbl, "timezone", "general.timezone", DEFAULT_TIMEZONE)
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail("general.timezone",
                            f'未知时区 {_show(tz)}（请使用 IANA 名称，例如 "Asia/Shanghai"）') from None
        data_dir = self.path_value(tbl, "data_dir", "general.data_dir")
        if data_dir is None:
            home = os.environ.get(ENV_HOME)
            data_dir = Path(home).expanduser() if home else Path("~/.local/share/ccal").expanduser()
            data_dir = data_dir.absolute()
        return GeneralSettings(timezone=tz, data_dir=data_dir)

    def database(self, data_dir: Path) -> DatabaseSettings:
        tbl = self.table("database", ("url",))
        env_url = os.environ.get(ENV_DATABASE_URL)
        if env_url:
            source, url, base = f"环境变量 {ENV_DATABASE_URL}", env_url.strip(), Path.cwd()
        else:
            source, url, base = None, self.string(tbl, "url", "database.url", None), self.base
        if url is None:
            return DatabaseSettings(f"sqlite:///{data_dir / 'ccal.db'}")
        # A plain SQLite file URL is resolved here without SQLAlchemy (importing it costs a
        # second: `ccal workdays` and the like never touch the database).
        plain = _PLAIN_SQLITE.match(url)
        if plain and plain["path"] and plain["path"] != ":memory:" and not plain["path"].startswith("file:") \
                and "%" not in plain["path"]:
            p = Path(plain["path"]).expanduser()
            return DatabaseSettings(f"{plain['scheme']}:///{p if p.is_absolute() else base / p}")
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError):
            # The value is not echoed: database URLs may carry a password.
            if source:
                raise ConfigError("不是有效的 SQLAlchemy 数据库地址", file=source) from None
            raise self.fail("database.url", "不是有效的 SQLAlchemy 数据库地址"
                            "（例如 sqlite:///ccal.db 或 postgresql://user@host/ccal）") from None
        if parsed.get_backend_name() == "sqlite":
            db = parsed.database
            if db and db != ":memory:" and not db.startswith("file:"):
                p = Path(db).expanduser()
                if not p.is_absolute():
                    p = base / p    # relative to the config file, like every other path in it
                url = parsed.set(database=str(p)).render_as_string(hide_password=False)
        return DatabaseSettings(url)

    def semesters(self) -> SemesterSettings:
        tbl = self.table("semesters", ("autumn_start", "autumn_end", "spring_start",
                                       "spring_end", "term"))
        d = SemesterSettings()
        values = {name: self.month_day(tbl, name, f"semesters.{name}", getattr(d, name))
                  for name in ("autumn_start", "autumn_end", "spring_start", "spring_end")}
        if values["spring_end"] < values["spring_start"]:
            raise self.fail("semesters.spring_end",
                            f"春季学期的结束日期（{values['spring_end']}）早于开始日期"
                            f"（{values['spring_start']}）")
        terms_raw = tbl.get("term", [])
        if not isinstance(terms_raw, list):
            raise self.fail("semesters.term", "应为 [[semesters.term]] 条目")
        terms: list[Term] = []
        for i, t in enumerate(terms_raw, start=1):
            where = f"semesters.term[{i}]"
            if not isinstance(t, dict):
                raise self.fail(where, f"应为表，实际为 {_show(t)}")
            for key in t:
                if key not in ("label", "start", "end"):
                    raise self.fail(f"{where}.{key}", "未知设置（可用：label、start、end）")
            label = t.get("label")
            m = re.fullmatch(r"(\d{4})-(autumn|spring)", label) if isinstance(label, str) else None
            if not m:
                raise self.fail(f"{where}.label",
                                f'应为 "YYYY-autumn" 或 "YYYY-spring"（例如 "2026-autumn"），实际为 {_show(label)}')
            start = self.a_date(t, "start", f"{where}.start")
            end = self.a_date(t, "end", f"{where}.end")
            if start.year != int(m.group(1)):
                raise self.fail(f"{where}.start",
                                f"{label} 必须在 {m.group(1)} 年开始，实际为 {start.isoformat()}")
            if end < start:
                raise self.fail(f"{where}.end", f"结束日期（{end}）早于开始日期（{start}）")
            for other in terms:
                if other.label == label:
                    raise self.fail(f"{where}.label", f"学期 {label} 重复列出")
                if start <= other.end and other.start <= end:
                    raise self.fail(f"{where}.start", f"{label} 与 {other.label} 的日期重叠")
            terms.append(Term(label, start, end))
        return SemesterSettings(**values, terms=tuple(sorted(terms, key=lambda x: x.start)))

    def seasons(self) -> tuple[SeasonSettings, ...]:
        tbl = self.data.get("seasons", {})
        if not isinstance(tbl, dict):
            raise self.fail("seasons", f"应为表 [seasons]，实际为 {_show(tbl)}")
        defaults = {s.key: s for s in DEFAULT_SEASONS}
        result = dict(defaults)
        for key, value in tbl.items():
            where = f"seasons.{key}"
            if not re.fullmatch(r"[a-z][a-z0-9_]*", key):
                raise self.fail(where, "时段代号（[seasons.代号] 中的代号）只能用小写英文字母、数字和下划线，并以字母开头（例如 kaixue）")
            if not isinstance(value, dict):
                raise self.fail(where, f"应为表 [{where}]，实际为 {_show(value)}")
            for k in value:
                if k not in ("name", "start", "end"):
                    raise self.fail(f"{where}.{k}", "未知设置（可用：name、start、end）")
            base = defaults.get(key)
            if base is None and not {"name", "start", "end"} <= value.keys():
                raise self.fail(where, "新增时段须同时填写 name、start 和 end")
            result[key] = SeasonSettings(
                key=key,
                name=self.string(value, "name", f"{where}.name", base.name if base else None),
                start=self.month_day(value, "start", f"{where}.start", base.start if base else None),
                end=self.month_day(value, "end", f"{where}.end", base.end if base else None),
            )
        return tuple(result.values())

    def packs(self) -> PackSettings:
        tbl = self.table("packs", ("enabled", "extra_dirs"))
        enabled = tbl.get("enabled", list(DEFAULT_PACKS))
        if not isinstance(enabled, list) or not all(isinstance(x, str) and x.strip() for x in enabled):
            raise self.fail("packs.enabled", f"应为规则包名称列表（例如 [\"henan-2023\"]），实际为 {_show(enabled)}")
        dup = next((x for i, x in enumerate(enabled) if x in enabled[:i]), None)
        if dup:
            raise self.fail("packs.enabled", f"规则包 {_show(dup)} 重复列出")
        dirs = tbl.get("extra_dirs", [])
        if not isinstance(dirs, list) or not all(isinstance(x, str) and x.strip() for x in dirs):
            raise self.fail("packs.extra_dirs", f"应为目录列表，实际为 {_show(dirs)}")
        resolved = []
        for d in dirs:
            p = Path(d.strip()).expanduser()
            resolved.append(p if p.is_absolute() else self.base / p)
        return PackSettings(tuple(x.strip() for x in enabled), tuple(resolved), chosen="enabled" in tbl)

    def organisation(self) -> OrganisationSettings:
        tbl = self.table("organisation", ("file", "propaganda_unit"))
        return OrganisationSettings(
            file=self.path_value(tbl, "file", "organisation.file"),
            propaganda_unit=self.string(tbl, "propaganda_unit", "organisation.propaganda_unit",
                                        DEFAULT_PROPAGANDA_UNIT),
        )
