"""Setting up: the database (`init`), the organisation, rule packs, holiday data, working-day
arithmetic and `materialise`."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

from cli import (
    DATE,
    DATETIME,
    UNIT,
    CcalError,
    config_option,
    emit,
    format_option,
    get_app,
    out,
)
from scheduler.tables import HOLIDAYS_FOOTNOTE, Column, render_table

# --------------------------------------------------------------------------- init / org

@click.command()
@click.option("--demo", is_flag=True,
              help="载入示例学院、本年度事项和去年以来的示例记录（使用全部内置规则包）")
@click.option("--packs", "pack_names", multiple=True,
              help="本校执行的规则包（逗号分隔或多次；写入配置文件 [packs] enabled；ccal packs list 列出可选）")
@click.option("--now", type=DATETIME, default=None,
              help="示例记录截至此时（默认现在）")
@config_option
@click.pass_context
def init(ctx: click.Context, demo: bool, pack_names: tuple[str, ...], now: datetime | None) -> None:
    """创建或升级数据库。--packs 选择本校执行的规则包，--demo 载入示例学院（全部内置规则包）。"""
    from cli import State
    from obligations.packs import bundled_pack_names, load_packs
    from scheduler.app import open_app
    from scheduler.config import load_config
    from scheduler.db import current_revision
    from scheduler.pack_choice import NO_PACK_MESSAGE, record_choice, tracked_packs, with_packs

    names = tuple(dict.fromkeys(n.strip() for x in pack_names for n in x.split(",") if n.strip()))
    if demo and names:
        raise click.UsageError("--demo 使用全部内置规则包，不能与 --packs 同用")
    state = ctx.ensure_object(State)
    config = load_config(state.config_path)
    if names:
        load_packs(names)                  # an unknown name is refused before anything is written
        path = record_choice(config, names)
        click.echo(f"规则包：{', '.join(names)}（已写入 {path} 的 [packs] enabled）")
        config = load_config(path if config.path is None else config.path)
    elif not config.packs.chosen:
        # An upgrade keeps what the database tracks, as every other command does (pack_choice).
        config = with_packs(config, tuple(bundled_pack_names()) if demo else tracked_packs(config))
    app = open_app(config=config)
    state.adopt(app)
    click.echo(f"数据库已就绪（版本 {current_revision(app.engine)}）")
    now = now or app.now()
    year = now.year
    if demo:
        from scheduler.demo import load_demo
        with app.session() as session:
            result = load_demo(session, now=now)
        click.echo(f"示例学院：{result.summary()}")
    elif app.config.organisation.file is not None:
        from scheduler.org import import_org
        with app.session() as session:
            result = import_org(session, app.config.organisation.file, now=now)
        click.echo(f"组织架构 {app.config.organisation.file}：{result.summary()}")
    if not app.packs:
        click.echo(NO_PACK_MESSAGE)
        return
    if not demo and app.config.organisation.file is None:
        return
    from scheduler.tracking import track
    counts = track(app, now.date(), force=True)      # the tracked years (scheduler/tracking.py)
    click.echo(f"{year} 年事项：新增 {counts.created}，更新 {counts.updated}")
    if demo:
        from scheduler.demo import load_history
        history = load_history(app, now)
        click.echo(f"示例记录（截至 {now:%Y-%m-%d %H:%M}）：{history.summary()}")
        from scheduler.commands.web import demo_access
        for line in demo_access(app):
            click.echo(line)


@click.group()
def org() -> None:
    """组织架构（单位、人员、职务）。"""


@org.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--partial", is_flag=True,
              help="导入正确的行，跳过有误的行（退出码仍为 1）")
@config_option
def org_import(file: str, partial: bool) -> None:
    """从 CSV 导入单位与人员。不加 --partial 时，只要有一行有误就不导入任何数据。"""
    from scheduler.org import OrgImportError, import_org

    app = get_app(packs=False)
    try:
        with app.session() as session:
            result = import_org(session, file, partial=partial, now=app.now())
    except OrgImportError as e:
        for err in e.errors:
            click.echo(str(err), err=True)
        raise CcalError(f"{len(e.errors)} 处错误，未导入任何数据") from None
    click.echo(result.summary())
    if result.new_units and app.packs:   # new units get the tracked years' occurrences
        from scheduler.tracking import track   # (scheduler/tracking.py)
        track(app, app.today(), units=result.new_units)
    if result.errors:
        for err in result.errors:
            click.echo(str(err), err=True)
        raise CcalError(f"{len({e.line for e in result.errors})} 行有误，已跳过")


@org.command("list")
@format_option()
@config_option
def org_list(fmt: str) -> None:
    """单位、类型与人员（书记、负责人、分管领导、宣传委员）。"""
    from scheduler.models import ROLES
    from scheduler.records import org_rows

    rows = org_rows(get_app(packs=False))

    def names(role):
        return lambda r: "、".join(p["name"] for p in r[role])

    cols = [Column("unit", "单位代码"), Column("unit_name", "单位"), Column("kind_text", "类型"),
            Column("parent", "上级"), *(Column(role, word, show=names(role)) for role, word in ROLES.items())]
    if fmt == "csv":
        rows = [{**r, **{role: "、".join(p["name"] for p in r[role]) for role in ROLES}} for r in rows]
    emit(rows, cols, fmt, csv_keys=["unit", "unit_name", "kind", "kind_text", "parent", *ROLES])


# --------------------------------------------------------------------------- packs

@click.group()
def packs() -> None:
    """规则包。"""


@packs.command("check")
@click.argument("directory", type=click.Path(file_okay=False))
@config_option
def packs_check(directory: str) -> None:
    """校验 DIRECTORY 中的全部规则包，列出每一处错误。"""
    from obligations.packs import check_dir

    errors = check_dir(Path(directory))
    if errors:
        for e in errors:
            click.echo(str(e), err=True)
        raise CcalError(f"{directory}：发现 {len(errors)} 个错误")
    n = len(list(Path(directory).glob("*.toml")))
    click.echo(f"OK：{directory} 中 {n} 个规则包均有效")


@packs.command("list")
@format_option()
@config_option
def packs_list(fmt: str) -> None:
    """规则包：已启用的及其来源（内置或扩展目录），以及未启用的内置规则包。"""
    from obligations.packs import bundled_pack_dir, bundled_pack_names, load_packs

    app = get_app(packs=False)
    bundled = bundled_pack_dir().resolve()

    def origin(path):
        return "bundled" if path.resolve().parent == bundled else str(path.resolve().parent)

    rows = [{"pack": p.name, "title": p.title, "obligations": len(p.obligations), "enabled": True,
             "origin": origin(p.path), "path": str(p.path)} for p in app.packs]
    enabled = {p.name for p in app.packs}
    for n in bundled_pack_names():      # not enabled: still say what it is, for choosing
        if n in enabled:
            continue
        try:
            (p,) = load_packs([n])
            title, count, path = p.title, len(p.obligations), str(p.path)
        except ValueError:
            title, count, path = "", None, ""
        rows.append({"pack": n, "title": title, "obligations": count, "enabled": False,
                     "origin": "bundled", "path": path})
    cols = [Column("pack", "规则包"), Column("title", "名称"),
            Column("obligations", "事项数", align="right"),
            Column("enabled", "启用", show=lambda r: "是" if r["enabled"] else "否"),
            Column("origin", "来源", show=lambda r: "内置" if r["origin"] == "bundled" else f"扩展目录 {r['origin']}")]
    notes = [] if enabled else ["尚未选择规则包：ccal init --packs 规则包名（或配置文件 [packs] enabled）"]
    emit(rows, cols, fmt, notes, csv_keys=["pack", "title", "obligations", "enabled", "origin", "path"])


# --------------------------------------------------------------------------- working days

@click.group()
def workdays() -> None:
    """工作日计算（按国务院节假日安排）。"""


@workdays.command("deadline")
@click.argument("event_date", type=DATE)
@click.option("--before", "n", type=click.IntRange(min=0), required=True,
              help="活动前第 N 个工作日（活动当天不计）")
@format_option(("table", "json"))
@config_option
def workdays_deadline(event_date: date, n: int, fmt: str) -> None:
    """活动日 EVENT_DATE 前第 N 个工作日的截止日期。"""
    from scheduler.tables import render_json

    cal = get_app(packs=False).calendar
    d = cal.workdays_before(event_date, n)
    if fmt == "json":
        out(render_json([{"event": event_date, "deadline": d.date, "counted": d.counted,
                           "provisional": d.provisional}]))
        return
    mark = "*" if d.provisional else ""
    click.echo(f"截止日期 {d.date.isoformat()}{mark}（活动 {event_date.isoformat()} 前第 {d.counted} 个工作日，"
               f"活动当天不计，截止当天计入）")
    if d.provisional:
        click.echo(HOLIDAYS_FOOTNOTE)


@workdays.command("count")
@click.argument("a", type=DATE)
@click.argument("b", type=DATE)
@config_option
def workdays_count(a: date, b: date) -> None:
    """A 到 B（含两端）的工作日数。"""
    cal = get_app(packs=False).calendar
    n = cal.count(a, b)
    provisional = cal.spans_provisional(a, b) if b >= a else False
    click.echo(f"{n}{'*' if provisional else ''}")
    if provisional:
        click.echo(HOLIDAYS_FOOTNOTE, err=True)


# --------------------------------------------------------------------------- holidays

@click.group()
def holidays() -> None:
    """节假日数据。"""


@holidays.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@config_option
def holidays_import(file: str) -> None:
    """校验并导入某年的国务院节假日安排。"""
    from obligations.holiday_files import install_holiday_file
    from scheduler.materialise import materialise

    app = get_app(packs=False)
    years = install_holiday_file(Path(file), app.holiday_dir)
    app.reload_calendar()
    click.echo(f"已安装 {', '.join(map(str, years))} 年节假日数据到 {app.holiday_dir}（文件编码 {years.encoding}）")
    # Windows of periods starting the year before can reach into an installed year.
    affected = range(min(years) - 1, max(years) + 1)
    counts = materialise(app, affected, create=False)
    click.echo(f"已更新 {counts.updated} 项截止日期")


@holidays.command("show")
@click.argument("year", type=click.IntRange(1900, 2200))
@format_option(("table", "json"))
@config_option
def holidays_show(year: int, fmt: str) -> None:
    """某年的放假与调休安排及数据来源。"""
    from scheduler.queries import year_holidays
    from scheduler.tables import render_json

    data = year_holidays(get_app(packs=False).calendar, year)
    if fmt == "json":
        out(render_json([data]))
        return
    words = {"user": "管理员导入 user", "official": "官方数据 official", "provisional": "暂定 provisional"}
    click.echo(f"{year} 年数据来源：{words.get(data['source'], data['source'])}")
    cols = [Column("date", "日期"), Column("weekday", "星期"), Column("name", "名称")]
    weekday = "一二三四五六日"
    for title, key in (("放假", "holidays"), ("调休上班", "workdays")):
        click.echo(f"\n{title}：")
        rows = [{**r, "weekday": "周" + weekday[r["date"].weekday()]} for r in data[key]]
        out(render_table(rows, cols))
    if data["source"] == "provisional":
        click.echo("\n* 暂定：按全国年节及纪念日放假办法推算，未含调休；国务院公布后请用 ccal holidays import 导入")


# --------------------------------------------------------------------------- materialise

@click.command("materialise")
@click.argument("years", type=click.IntRange(1900, 2200), nargs=-1, required=True)
@click.option("--unit", type=UNIT, help="只处理该单位")
@config_option
def materialise_cmd(years: tuple[int, ...], unit: str | None) -> None:
    """生成或更新 YEARS 各年度的事项（可重复运行）；这些年度的事项会被提醒。"""
    from scheduler.tracking import materialise_years

    app = get_app()
    units = None
    if unit:
        with app.session() as session:
            units = [app.unit(session, unit).code]
    c = materialise_years(app, years, units)
    click.echo(f"新增 {c.created}，更新 {c.updated}，不变 {c.unchanged}")



@click.command()
@click.option("--as-of", "as_of", type=DATE, default=None, help="按哪一天检查（默认今天）")
@config_option
@click.pass_context
def doctor(ctx: click.Context, as_of: date | None) -> None:
    """检查在用的配置文件、数据库、数据目录和规则包，数据库版本，今明两年节假日数据，各提醒通道设置（不显示密钥）。有问题时退出码为 1（明年节假日尚未导入只提示注意）。"""
    from datetime import datetime as _datetime

    from cli import State
    from scheduler.config import load_config
    from scheduler.doctor import diagnose

    config = load_config(ctx.ensure_object(State).config_path)
    checks = diagnose(config, as_of or _datetime.now(config.general.tz).date())
    marks = {True: "正常", False: "问题", None: "信息", "warn": "注意"}
    for c in checks:
        click.echo(f"[{marks[c.ok]}] {c.topic}：{c.detail}")
    problems = [c for c in checks if c.ok is False]
    if problems:
        raise CcalError(f"发现 {len(problems)} 个问题")
    click.echo("检查完毕，未发现问题")
