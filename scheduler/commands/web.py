"""`ccal user add`, `ccal link show|rotate`, `ccal web`, and the demo's web access (listed in
cli.COMMANDS). Parse, call, print; the rules live in scheduler/."""

from __future__ import annotations

import secrets
import sys

import click

from cli import config_option, get_app


@click.group()
def user() -> None:
    """网页工作人员账号。"""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["propaganda", "viewer"]), required=True,
              help="propaganda：可审核、代为提交；viewer：只读")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码")
@config_option
def user_add(name: str, role: str, password_stdin: bool) -> None:
    """创建工作人员账号（密码在提示中输入，或 --password-stdin）。"""
    from scheduler.web.accounts import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")
    u = add_user(get_app(), name, role, password)
    click.echo(f"已创建工作人员账号 {u.name}（{'宣传部，可审核' if u.role == 'propaganda' else '只读'}）")


@click.group()
def link() -> None:
    """个人链接（每人一个，打开本人负责的单位）。"""


@link.command("show")
@click.argument("person")
@config_option
def link_show(person: str) -> None:
    """显示某人当前的个人链接（没有则新建）。"""
    app = get_app()
    with app.session() as session:
        url, p = _url(app, session, person)
    click.echo(f"{p.name} 的个人链接：{url}")


@link.command("rotate")
@click.argument("person")
@config_option
def link_rotate(person: str) -> None:
    """立即停用某人的个人链接并生成新链接。"""
    from scheduler.links import Links, find_person
    from scheduler.reviews import audit

    app = get_app()
    now = app.now()
    with app.session() as session:
        p = find_person(session, person)
        revoked, url = Links(app).rotate(session, p.id, now)
        audit(session, "cli", "link_rotate", f"person:{p.id}", f"revoked {revoked}", at=now)
    click.echo(f"已停用 {p.name} 的 {revoked} 个链接。新链接（之后的提醒消息会自动使用）：{url}")


@click.command("web")
@click.option("--host", default=None, help="监听地址（默认 [web] listen）")
@click.option("--port", type=int, default=None, help="端口（默认 [web] listen）")
@config_option
def web_cmd(host: str | None, port: int | None) -> None:
    """只运行网页服务（多进程部署时每个进程一个）。"""
    import logging

    from scheduler.web.server import run_web
    logging.basicConfig(level=logging.INFO)
    run_web(get_app(), host=host, port=port)


def _url(app, session, person: str):
    from scheduler.links import Links, find_person
    p = find_person(session, person)
    return Links(app).url_for(session, p.id, app.now()), p


DEMO_STAFF = "xcb"
DEMO_SECRETARY = "lvgang@example.edu.cn"      # 吕刚, secretary of 建筑工程系党支部 (the demo's laggard)


def demo_access(app) -> list[str]:
    """Lines `ccal init --demo` prints: one staff login (password made and shown once) and one
    secretary link."""
    from scheduler.app import UserInputError
    from scheduler.web.accounts import add_user
    from scheduler.web.settings import web_settings

    lines = []
    password = secrets.token_urlsafe(12)
    try:
        add_user(app, DEMO_STAFF, "propaganda", password)
        lines.append(f"网页工作人员登录：{web_settings(app.config).base_url}/login 用户名 {DEMO_STAFF} "
                     f"密码 {password}（只显示这一次）")
    except UserInputError:
        lines.append(f"网页工作人员账号 {DEMO_STAFF} 已存在（密码见第一次 ccal init --demo 的输出）")
    with app.session() as session:
        url, p = _url(app, session, DEMO_SECRETARY)
    lines.append(f"书记个人链接（{p.name}，建筑工程系党支部）：{url}")
    return lines
