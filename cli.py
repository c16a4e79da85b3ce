"""`ccal`: the command line. Parses arguments, calls `scheduler`/`obligations`, prints.

This module holds the root group, the option types every command shares and a lazy registry
of the commands; the commands themselves live in `scheduler/commands/` (one module per
concept). `ccal --help`, `ccal --version` and shell completion read the static table
`COMMANDS` and import no command module, so they load no database or network library; a
command's module is imported only when the command runs or its own help is asked for, and
each command imports the heavy libraries it uses inside its function.

Every command takes `--config FILE` (env CCAL_CONFIG), before or after the command name;
env CCAL_DATABASE_URL overrides the database URL. User errors (bad config, pack, CSV, unknown
unit...) are printed to stderr without a traceback, exit status 1; usage errors exit 2.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from datetime import date, datetime
from typing import NamedTuple

import click

from scheduler.commands import i18n
from scheduler.formats import FORMATS

i18n.install()      # click's own strings ("Usage:", "Missing option"...) in Chinese

# Errors a clerk can fix, shown as a message, never as a traceback: (module, attribute).
# Looked up in sys.modules when an error is raised: an exception class whose module was never
# imported cannot have been raised, and importing it here would load the database libraries.
USER_ERROR_CLASSES: tuple[tuple[str, str], ...] = (
    ("scheduler.config", "ConfigError"),
    ("obligations.packs", "PackError"),
    ("obligations.holiday_files", "HolidayFileError"),
    ("scheduler.org", "OrgImportError"),
    ("scheduler.db", "DatabaseError"),
    ("scheduler.evidence", "EvidenceError"),
    ("scheduler.app", "UserInputError"),
    ("scheduler.service", "SERVICE_USER_ERRORS"),
)


def _user_errors() -> tuple[type[Exception], ...]:
    found: list[type[Exception]] = []
    for module, name in USER_ERROR_CLASSES:
        mod = sys.modules.get(module)
        value = getattr(mod, name, None) if mod is not None else None
        if isinstance(value, tuple):
            found.extend(value)
        elif value is not None:
            found.append(value)
    return tuple(found)


class CcalError(click.ClickException):
    def show(self, file=None) -> None:
        click.echo(f"错误：{self.format_message()}", err=True)


def _translate(e: Exception) -> CcalError | None:
    """The clean message for an error a user can act on, or None (a bug: let it through)."""
    if isinstance(e, _user_errors()):
        return CcalError(str(e))
    if isinstance(e, OSError):   # unreadable file, full disk...: the message names the file
        return CcalError(f"{e.filename or ''}: {e.strerror or e}".lstrip(": "))
    exc = sys.modules.get("sqlalchemy.exc")
    if exc is not None and isinstance(e, exc.OperationalError):
        # The driver's message (no URL, so no password): locked or unreachable database.
        return CcalError(f"数据库不可用：{e.orig}")
    return None


class CcalGroup(click.Group):
    """Turns user errors raised anywhere below into a clean message and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.exceptions.ClickException:
            raise
        except Exception as e:
            clean = _translate(e)
            if clean is None:
                raise
            raise clean from None


# --------------------------------------------------------------------------- the command table

class Entry(NamedTuple):
    module: str      # scheduler.commands.<module>
    attr: str        # the click command or group in it
    help: str        # one line for `ccal --help` (Chinese)
    section: str     # heading in `ccal --help`


SECTIONS = ("日常工作", "记录", "报表", "管理")

COMMANDS: dict[str, Entry] = {
    # daily work
    "overdue": Entry("tracking", "overdue", "已逾期事项", "日常工作"),
    "upcoming": Entry("tracking", "upcoming", "即将到期事项", "日常工作"),
    "status": Entry("tracking", "status", "单位年度完成情况", "日常工作"),
    "submit": Entry("records", "submit", "登记完成情况", "日常工作"),
    "calendar": Entry("tracking", "calendar_cmd", "日程（可导出 iCalendar）", "日常工作"),
    # records
    "submission": Entry("records", "submission", "提交记录（一览、撤回）", "记录"),
    "waive": Entry("records", "waive", "豁免某期事项", "记录"),
    "waiver": Entry("records", "waiver", "豁免记录（一览、撤销）", "记录"),
    "event": Entry("records", "event", "活动与会议（登记、一览）", "记录"),
    "meeting": Entry("records", "meeting", "季度联席会议日期", "记录"),
    "lecture": Entry("lectures", "lecture", "讲座、报告会、研讨会、论坛（一会一报、审批）", "记录"),
    "order": Entry("orders", "order_cmd", "督办单（限期整改）", "记录"),
    "finding": Entry("score", "finding", "检查发现的问题（登记、一览、更正）", "记录"),
    # reports
    "score": Entry("score", "score", "年度考核得分与排名", "报表"),
    "obligations": Entry("tracking", "obligations", "事项目录及依据", "报表"),
    "outbox": Entry("service", "outbox_cmd", "发件箱：提醒消息", "报表"),
    # administration
    "init": Entry("admin", "init", "创建或升级数据库", "管理"),
    "org": Entry("admin", "org", "组织架构（导入、一览）", "管理"),
    "packs": Entry("admin", "packs", "规则包", "管理"),
    "holidays": Entry("admin", "holidays", "节假日数据", "管理"),
    "workdays": Entry("admin", "workdays", "工作日计算", "管理"),
    "materialise": Entry("admin", "materialise_cmd", "生成各年度事项", "管理"),
    "tick": Entry("service", "tick", "运行一次提醒服务后退出（适用于 cron）", "管理"),
    "serve": Entry("service", "serve", "运行提醒服务和网页服务（守护进程）", "管理"),
    "notify": Entry("service", "notify", "提醒通道：发送测试消息", "管理"),
    "doctor": Entry("admin", "doctor", "检查配置、数据库、规则包、节假日数据和提醒通道", "管理"),
    "web": Entry("web", "web_cmd", "只运行网页服务", "管理"),
    "user": Entry("web", "user", "网页工作人员账号", "管理"),
    "link": Entry("web", "link", "个人链接（显示、停用并重发）", "管理"),
}


OPTIONS_METAVAR = "[选项]"
SUBCOMMAND_METAVAR = "命令 [参数]..."


def _chinese_usage(command: click.Command) -> None:
    """The usage line in Chinese too: 用法： ccal submit [选项] KEY."""
    command.options_metavar = OPTIONS_METAVAR
    if isinstance(command, click.Group):
        command.subcommand_metavar = SUBCOMMAND_METAVAR
        for sub in command.commands.values():
            _chinese_usage(sub)


class LazyGroup(CcalGroup):
    """The root group: lists commands from `COMMANDS`, imports a command's module on use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        entry = COMMANDS.get(name)
        if entry is None:
            return None
        module = importlib.import_module(f"scheduler.commands.{entry.module}")
        command = getattr(module, entry.attr)
        _chinese_usage(command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        for section in SECTIONS:
            rows = [(name, e.help) for name, e in COMMANDS.items() if e.section == section]
            if rows:
                with formatter.section(section):
                    formatter.write_dl(rows)

    def shell_complete(self, ctx: click.Context, incomplete: str):
        from click.shell_completion import CompletionItem

        items = [CompletionItem(name, help=e.help) for name, e in COMMANDS.items() if name.startswith(incomplete)]
        return items + click.Command.shell_complete(self, ctx, incomplete)


# --------------------------------------------------------------------------- parameter types

class DateType(click.ParamType):
    name = "DATE"

    def convert(self, value, param, ctx):
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            self.fail(f"{value!r} 不是日期，格式为 YYYY-MM-DD（例如 2026-06-15）", param, ctx)


class DateTimeType(click.ParamType):
    name = "DATETIME"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        text = value.strip().replace(" ", "T", 1)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{value!r} 不是日期时间，格式为 YYYY-MM-DD 或 'YYYY-MM-DD HH:MM'", param, ctx)
        if parsed.tzinfo is not None:
            self.fail("请写本地时间（配置的时区），不要带时区后缀", param, ctx)
        return parsed


class PeriodType(click.ParamType):
    """A period label, also as clerks write it: 2026年6月, 2026年第二季度, 2026上半年, 2026秋季..."""
    name = "PERIOD"

    def convert(self, value, param, ctx):
        from obligations.period_labels import parse_period_label
        return parse_period_label(value)


class UnitType(click.ParamType):
    """A unit code in any case (jdx = JDX): converted to the code as stored. An unknown code is
    passed on unchanged, for the command's own error (which lists the known codes)."""
    name = "UNIT"

    def convert(self, value, param, ctx):
        app = get_app(packs=False)
        with app.session() as session:
            try:
                return app.unit(session, value).code
            except ValueError:      # UserInputError: unknown or ambiguous
                return value

    def shell_complete(self, ctx, param, incomplete):
        from click.shell_completion import CompletionItem
        try:
            app = ctx.ensure_object(State).app(packs=False)
            from sqlmodel import select

            from scheduler.models import Unit
            with app.session() as session:
                rows = session.exec(select(Unit.code, Unit.name).order_by(Unit.code)).all()
        except Exception:   # no config or database yet: nothing to offer
            return []
        return [CompletionItem(code, help=name) for code, name in rows
                if code.upper().startswith(incomplete.upper())]


class KeyType(click.ParamType):
    """An obligation key; completion offers the keys of the enabled packs."""
    name = "KEY"

    def convert(self, value, param, ctx):
        return value.strip() if isinstance(value, str) else value

    def shell_complete(self, ctx, param, incomplete):
        from click.shell_completion import CompletionItem
        try:
            obligations = ctx.ensure_object(State).app().obligations
        except Exception:
            return []
        return [CompletionItem(k, help=ob.title) for k, ob in obligations.items() if k.startswith(incomplete)]


DATE = DateType()
DATETIME = DateTimeType()
PERIOD = PeriodType()
UNIT = UnitType()
KEY = KeyType()


# --------------------------------------------------------------------------- shared options

class State:
    def __init__(self) -> None:
        self.config_path: str | None = None
        self._app = None

    def app(self, *, create_database: bool = False, packs: bool = True):
        """The app; `packs`: the command needs rules, so no chosen pack is an error."""
        if self._app is None:
            from scheduler.app import open_app
            from scheduler.config import load_config
            from scheduler.pack_choice import existing_engine, tracked_packs, with_packs

            config = load_config(self.config_path)
            engine = None
            if not config.packs.chosen:
                # No choice in the config: the packs the database tracks (the demo, an older
                # database), else none. `ccal init` decides for itself.
                engine = None if create_database else existing_engine(config)
                config = with_packs(config, tracked_packs(config, engine) if engine else ())
            self._app = open_app(config=config)
            if engine is not None:
                self._app.engine = engine     # opened once, as the app would open it
        # Only `ccal init` creates the database; every other command refuses a missing one.
        self._app.create_database = create_database
        if packs and not create_database and not self._app.packs:
            from scheduler.pack_choice import NO_PACK_MESSAGE
            self._app.engine          # a missing database is said first
            raise CcalError(NO_PACK_MESSAGE)
        return self._app

    def adopt(self, app) -> None:
        """Use `app` (built by `ccal init`, which decides the packs itself) from now on."""
        self.close()
        self._app = app

    def close(self) -> None:
        # Release the database file (SQLite WAL) as soon as the command is done.
        if self._app is not None and "engine" in self._app.__dict__:
            self._app.engine.dispose()


def _set_config(ctx: click.Context, _param, value):
    if value is not None:
        ctx.ensure_object(State).config_path = value
    return value


_CONFIG_HELP = "配置文件（或环境变量 CCAL_CONFIG）"


def config_option(f: Callable) -> Callable:
    """--config after the subcommand too: `ccal overdue --config X`."""
    # Eager: read before the other options, whose conversion (UNIT) may open the app.
    return click.option("--config", type=click.Path(dir_okay=False), expose_value=False, is_eager=True,
                        callback=_set_config, help=_CONFIG_HELP)(f)


LIST_FORMATS = FORMATS + ("xlsx",)


def format_option(choices=None):
    """--format. Without `choices` (a list or query): table, json, csv or xlsx, and --output
    FILE (needed for xlsx); such commands print with `emit`."""
    if choices is not None:
        return click.option("--format", "fmt", type=click.Choice(choices), default="table",
                            show_default=True, help="输出格式")

    def decorate(f: Callable) -> Callable:
        f = click.option("--output", "-o", type=click.Path(dir_okay=False), expose_value=False,
                         callback=_set_output, help="写入文件（xlsx 必须）")(f)
        return click.option("--format", "fmt", type=click.Choice(LIST_FORMATS), default="table", show_default=True,
                            help="输出格式：table 终端表格，json 英文键（脚本用），csv/xlsx 中文表头（Excel 用）")(f)
    return decorate


def _set_output(ctx: click.Context, _param, value):
    ctx.meta["ccal.output"] = value
    return value


def emit(rows, columns, fmt: str, footnotes=(), *, csv_keys=None, words=None, title: str = "ccal") -> int:
    """Print (or with --output write) a query result in `fmt`; xlsx needs --output. `rows` may
    be a stream (printed as JSON as it comes); `footnotes` a list, or a function of the rows.
    Returns the number of rows."""
    from pathlib import Path

    from scheduler.tables import render, spreadsheet_keys

    output = click.get_current_context().meta.get("ccal.output")
    if fmt == "json" and not output:   # printed piece by piece: a large answer is never one string
        from itertools import islice

        from scheduler.tables import json_chunks
        counted = _Counted(rows)
        pieces = json_chunks(counted)
        while batch := "".join(islice(pieces, 500)):
            out(batch)
        return counted.n
    rows = list(rows)
    footnotes = list(footnotes(rows) if callable(footnotes) else footnotes)
    if fmt == "xlsx":
        if not output:
            raise click.UsageError("xlsx 格式请用 --output 指定文件名，例如 --output 结果.xlsx")
        from scheduler.xlsx_tables import write_table_xlsx
        write_table_xlsx(rows, spreadsheet_keys(rows, columns, csv_keys), Path(output), title=title, words=words,
                         notes=footnotes)
    else:
        text = render(rows, columns, fmt, footnotes, csv_keys, words, width=None if output else -1)
        if not output:
            out(text)
            return len(rows)
        Path(output).write_text(text, encoding="utf-8")
    click.echo(f"已写入 {output}（{len(rows)} 行）", err=True)
    return len(rows)


class _Counted:
    """An iterable that counts what was read from it."""

    def __init__(self, rows) -> None:
        self.rows, self.n = rows, 0

    def __iter__(self):
        for r in self.rows:
            self.n += 1
            yield r


def as_of_option(f: Callable) -> Callable:
    return click.option("--as-of", type=DATE, default=None,
                        help="按哪一天计算（默认今天，配置的时区）")(f)


SCORECARD_OPTION = click.option("--scorecard", "card_name",
                                help="评分体系所在规则包（启用多个时）")
BY_OPTION = click.option("--by", help="记录人（默认当前登录名）")


def get_app(*, create_database: bool = False, packs: bool = True):
    """The App of the running command (config and packs read on first use). Its database is
    opened on first use and must exist unless `create_database` (ccal init). `packs=False`:
    the command works without rules (lists, working days, the outbox...)."""
    return click.get_current_context().ensure_object(State).app(create_database=create_database, packs=packs)


def as_of_day(app, value: date | None) -> date:
    return value if value is not None else app.today()


def out(text: str) -> None:
    click.echo(text, nl=False)


def recorder(by: str | None) -> str:
    """Who records a manual entry: --by, else the login name."""
    if by:
        return by.strip()
    import getpass
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]},
             options_metavar=OPTIONS_METAVAR, subcommand_metavar=SUBCOMMAND_METAVAR)
@click.option("--config", type=click.Path(dir_okay=False), envvar="CCAL_CONFIG", expose_value=False,
              is_eager=True, callback=_set_config, help=_CONFIG_HELP)
@click.version_option(package_name="compliance-calendar", prog_name="ccal")
@click.pass_context
def main(ctx: click.Context) -> None:
    """ccal：意识形态工作责任制合规日历与提醒。"""
    ctx.call_on_close(ctx.ensure_object(State).close)


if __name__ == "__main__":
    # `python -m cli` runs this file as __main__; the command modules import `cli`, so run
    # that module's group (one State class, one registry), not a second copy of it.
    import cli as _cli
    _cli.main()
