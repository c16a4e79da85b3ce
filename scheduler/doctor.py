"""`ccal doctor`: what ccal is using and whether it is ready, checked without changing anything.

Each check is a `Check(topic, ok, detail)`: ok True (fine), False (must be fixed; the detail
says how), None (information) or "warn" (to do soon: next year's holidays are published by the
State Council late in the year, so their absence is a reminder, not a failure). Nothing is created: a missing database is reported, not made.
Channel settings are described in words (server, sender, directory); secrets are never shown,
only whether the variable or file that holds them is set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scheduler.config import Config


@dataclass(frozen=True)
class Check:
    topic: str
    ok: bool | None | str      # True, False, None (information) or "warn"
    detail: str


def _database(config: "Config") -> list[Check]:
    from sqlalchemy.engine import make_url

    from scheduler.db import current_revision, head_revision, make_engine

    url = make_url(config.database.url)
    sqlite = url.get_backend_name() == "sqlite"
    where = url.database if sqlite else url.render_as_string(hide_password=True)
    if sqlite and url.database and url.database != ":memory:" and not Path(url.database).exists():
        return [Check("数据库", False, f"{where} 不存在：请运行 ccal init")]
    engine = make_engine(config.database.url)
    try:
        current = current_revision(engine)
    except Exception as e:      # unreachable server, locked or broken file
        return [Check("数据库", False, f"{where} 无法打开：{type(e).__name__}")]
    finally:
        engine.dispose()
    head = head_revision()
    if current is None:
        return [Check("数据库", False, f"{where} 尚未初始化：请运行 ccal init")]
    if current != head:
        return [Check("数据库", False, f"{where} 版本 {current}，最新 {head}：运行 ccal init 升级")]
    return [Check("数据库", True, f"{where}（版本 {current}，为最新）")]


def _packs(config: "Config") -> list[Check]:
    from obligations.packs import bundled_pack_dir, load_packs
    from scheduler.pack_choice import tracked_packs

    enabled = config.packs.enabled if config.packs.chosen else tracked_packs(config)
    how = "配置文件 [packs] enabled" if config.packs.chosen else "未在配置中选择；沿用数据库已跟踪的规则包"
    try:
        packs = load_packs(enabled, config.packs.extra_dirs)
    except ValueError as e:
        return [Check("规则包", False, str(e))]
    if not packs:
        return [Check("规则包", False, "未启用任何规则包：ccal init --packs 规则包名（ccal packs list 列出可选）")]
    bundled = bundled_pack_dir().resolve()
    names = "，".join(f"{p.name}（{'内置' if p.path.resolve().parent == bundled else p.path.resolve().parent}）"
                     for p in packs)
    return [Check("规则包", True, f"{names}；{how}")]


def _holidays(config: "Config", today: date) -> list[Check]:
    from obligations.workdays import WorkdayCalendar

    cal = WorkdayCalendar.from_dir(config.calendar.holiday_dir)
    checks = []
    for year in (today.year, today.year + 1):
        source = cal.year_source(year)
        if source == "provisional":
            checks.append(Check(f"节假日 {year}", False if year == today.year else "warn",
                                f"无 {year} 年官方节假日安排，日期按暂定计算：国务院公布后用 ccal holidays import 导入"))
        else:
            word = "管理员导入" if source == "user" else "官方数据（chinesecalendar）"
            checks.append(Check(f"节假日 {year}", True, word))
    return checks


def _channels(config: "Config", environ) -> list[Check]:
    from notifiers.settings import build_channels
    from scheduler.channel_words import describe_channel

    try:
        channels = build_channels(config.notify, config_path=config.path, data_dir=config.general.data_dir,
                                  environ=environ, line_of=config.line_of)
    except ValueError as e:     # NotifyConfigError, a missing secret: the message names no secret
        return [Check("提醒通道", False, str(e))]
    seen: dict[int, str] = {}
    checks = []
    for route, channel in channels.items():
        if id(channel) in seen:
            checks.append(Check(f"通道 {route}", None, f"与 {seen[id(channel)]} 相同"))
            continue
        seen[id(channel)] = route
        local = getattr(channel, "name", "") == "local"
        checks.append(Check(f"通道 {route}", None if local else True, describe_channel(channel, chinese=True)))
    return checks


def _reminder_settings(config: "Config") -> list[Check]:
    """The [reminders], [service] and [templates] checks `ccal tick` makes before it runs, so
    that doctor never passes a config the service refuses (each error names its line)."""
    from notifiers.settings import template_environment
    from scheduler.service import sending_window, service_settings

    try:
        service_settings(config)
        sending_window(config)
        template_environment(config.templates, config_path=config.path, line_of=config.line_of)
    except ValueError as e:     # ConfigError, NotifyConfigError: file, line and field
        return [Check("提醒设置", False, str(e))]
    return []


def diagnose(config: "Config", today: date, environ=None) -> list[Check]:
    """Every check, in the order `ccal doctor` prints them."""
    from scheduler.config import config_candidates

    environ = os.environ if environ is None else environ
    if config.path is not None:
        where = Check("配置文件", True, str(config.path))
    else:
        where = Check("配置文件", None, "未找到，使用默认设置（查找顺序：--config、CCAL_CONFIG、"
                      + "、".join(str(p) for p in config_candidates()) + "）")
    checks = [where]
    checks += _database(config)
    checks.append(Check("数据目录", None, str(config.general.data_dir)))
    checks.append(Check("证明材料目录", None, str(config.evidence.dir)))
    checks.append(Check("节假日数据目录", None, str(config.calendar.holiday_dir)))
    checks += _packs(config)
    checks += _holidays(config, today)
    checks += _reminder_settings(config)
    checks += _channels(config, environ)
    return checks
