"""The reminder service: `tick`, `serve` and the outbox."""

from __future__ import annotations

import logging
from datetime import datetime

import click

from cli import DATETIME, CcalError, config_option, emit, format_option, get_app
from scheduler.tables import Column

# --------------------------------------------------------------------------- reminder service

OUTBOX_STATE_WORDS = {"planned": "待发送", "sending": "发送中", "sent": "已发送",
                      "failed": "失败待重试", "dead": "已放弃", "cancelled": "已取消"}


@click.command()
@click.option("--now", type=DATETIME, default=None,
              help="按此时间运行（默认现在，配置的时区）")
@click.option("--quiet", "-q", is_flag=True, help="只输出警告和错误（适用于 cron）")
@config_option
def tick(now: datetime | None, quiet: bool) -> None:
    """运行一次提醒服务的全部工作（生成事项、计分、计划提醒、发送）后退出，适用于 cron。"""
    from scheduler.service import run_tick

    say = (lambda *a, **k: None) if quiet else click.echo    # the report; warnings always go to stderr
    app = get_app()
    r = run_tick(app, now or app.now())
    say(f"时间 {r.now:%Y-%m-%d %H:%M}")
    if r.recovered:
        say(f"中断后恢复：{r.recovered} 条消息将重新发送"
            + (f"（其中 {r.ambiguous} 条发送中断，可能重复，Message-ID 相同）" if r.ambiguous else ""))
    if r.planning_skipped:
        say(f"规划：另一进程正在规划（{r.planning_skipped}），本次只发送")
    say(f"事项：新增 {r.materialised.created}，更新 {r.materialised.updated}")
    say(f"考核：扣分新增 {r.score.findings} 项，撤销 {r.score.withdrawn} 项；自动记分 {r.score.posted} 条")
    for why in r.score.skipped:
        click.echo(f"未能记录扣分：{why}", err=True)
    say(f"提醒：新计划 {r.plan.entries} 项，新消息 {r.plan.created} 条，"
        f"更新 {r.plan.updated} 条，取消 {r.plan.cancelled} 条；扣分通知 {r.plan.deductions} 条")
    if r.dispatch is None:
        say(f"发送：不在发送时段，下一发送时段 {r.next_window:%Y-%m-%d %H:%M}")
    else:
        say(f"发送：成功 {r.dispatch.sent}，失败待重试 {r.dispatch.failed}，"
            f"已放弃 {r.dispatch.dead}")
        if r.dispatch.failed or r.dispatch.dead:
            click.echo(f"警告：本次发送失败待重试 {r.dispatch.failed} 条，已放弃 {r.dispatch.dead} 条"
                       "（ccal outbox --status failed / --status dead 查看）", err=True)
        for route, why in sorted(r.dispatch.stopped.items()):
            click.echo(f"通道 {route} 本轮停止发送：{why}", err=True)
        for route, until in sorted(r.dispatch.paused.items()):
            say(f"通道 {route} 暂停至 {until:%Y-%m-%d %H:%M:%S}（上次故障后等待重试）")
    if r.notices:
        say(f"投递异常通知：{r.notices} 条")
    say("发件箱：" + "，".join(f"{OUTBOX_STATE_WORDS[k]} {v}" for k, v in r.outbox.items()))
    if r.plan.unaddressed:
        click.echo(f"无人可提醒（未登记书记或联系方式）：{len(r.plan.unaddressed)} 项："
                   + "，".join(r.plan.unaddressed[:10])
                   + ("……" if len(r.plan.unaddressed) > 10 else ""), err=True)


@click.command()
@click.option("--now", type=DATETIME, default=None,
              help="试运行：假定启动时时钟读数为此时间，之后正常走时")
@click.option("--verbose", "-v", is_flag=True, help="也记录空闲的发送轮次（DEBUG）")
@config_option
def serve(now: datetime | None, verbose: bool) -> None:
    """运行提醒服务（守护进程），收到 SIGTERM/SIGINT 后停止。"""
    import sys

    from scheduler.service import offset_clock, run_service

    app = get_app()
    tz = app.config.general.tz
    # Under --now, log times follow the service clock, like everything the service does.
    clock = offset_clock(app, now) if now is not None else None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ServiceClockFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", tz, clock))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    run_service(app, start=now, clock=clock)


class ServiceClockFormatter(logging.Formatter):
    """Log times in the configured zone (Asia/Shanghai), not the server's, read from the
    service clock when there is one (serve --now)."""

    def __init__(self, fmt: str, tz, clock=None):
        super().__init__(fmt)
        self.tz, self.clock = tz, clock

    def formatTime(self, record, datefmt=None):  # noqa: N802 (logging's name)
        at = self.clock().replace(tzinfo=self.tz) if self.clock is not None \
            else datetime.fromtimestamp(record.created, self.tz)
        return at.strftime("%Y-%m-%d %H:%M:%S%z")


@click.group("outbox", invoke_without_command=True)
@click.option("--status", type=click.Choice(list(OUTBOX_STATE_WORDS)), default=None,
              help="只看该状态")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True,
              help="最多显示条数（最新的在前）")
@format_option()
@config_option
@click.pass_context
def outbox_cmd(ctx: click.Context, status: str | None, limit: int, fmt: str) -> None:
    """发件箱：列出提醒消息；ccal outbox retry 重新排队。"""
    if ctx.invoked_subcommand is not None:
        return
    from scheduler.delivery_health import health
    from scheduler.outbox import listing

    app = get_app(packs=False)
    with app.session() as session:
        rows = listing(session, status, limit)
        trouble = health(session, app.now()).lines()
    if fmt == "table" and trouble:   # the same summary as the daily 投递异常 notice
        click.echo("投递异常：\n" + "\n".join(f"  {line}" for line in trouble) + "\n")
    cols = [Column("id", "编号", align="right"),
            Column("status", "状态", show=lambda r: OUTBOX_STATE_WORDS[r["status"]]),
            Column("channel", "通道"), Column("recipient", "收件人"), Column("address", "地址"),
            Column("window", "发送日"), Column("items", "事项", align="right"),
            Column("attempts", "尝试", align="right"), Column("title", "主题"),
            Column("last_error", "最近错误")]
    keys = ["id", "key", "status", "channel", "stage", "window", "recipient", "address", "title",
            "items", "attempts", "send_at", "next_attempt_at", "sent_at", "last_error"]
    emit(rows, cols, fmt, csv_keys=keys, words={"status": OUTBOX_STATE_WORDS}, title="发件箱")


@outbox_cmd.command("retry")
@click.argument("row_id", type=int, required=False)
@click.option("--dead", is_flag=True, help="所有已放弃的消息")
@config_option
def outbox_retry(row_id: int | None, dead: bool) -> None:
    """重新排队：ROW_ID 一条失败或已放弃的消息，或 --dead 全部已放弃的消息。"""
    from scheduler.outbox import retry, retry_dead

    if (row_id is None) == (not dead):
        raise click.UsageError("请给出消息编号 ID 或 --dead（二者选一）give ID or --dead")
    app = get_app(packs=False)
    with app.session() as session:
        if dead:
            n = retry_dead(session, app.now())
            click.echo(f"已重新排队 {n} 条已放弃的消息，将在下一发送时段发送")
        else:
            row = retry(session, row_id, app.now())
            click.echo(f"消息 {row.id} 已重新排队，将在下一发送时段发送")


@click.group()
def notify() -> None:
    """提醒通道。"""


@notify.command("test")
@click.argument("person")
@config_option
def notify_test(person: str) -> None:
    """向 PERSON 发送一条真实的测试消息，经其提醒所用的通道。

    PERSON：姓名、邮箱、企业微信账号或手机号。"""
    from scheduler.notify_test import send_test

    app = get_app(packs=False)
    who, results = send_test(app, person, app.now())
    failed = 0
    for r in results:
        if r.ok:
            click.echo(f"已发送 {r.route}：{r.channel}")
        else:
            failed += 1
            click.echo(f"发送失败 {r.route}：{r.channel}：{r.error}", err=True)
    if failed:
        raise CcalError(f"{who.name}：{failed} 个通道发送失败")
    click.echo(f"测试消息已发给 {who.name}")
