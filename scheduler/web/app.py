"""The Starlette application: `create_app(app)` (docs/web.md).

Who is visiting is read from a signed session cookie (itsdangerous, via Starlette's
SessionMiddleware): a person who opened their personal link, or a staff member who logged in.
Pages parse, call the workflow functions of `scheduler` and render; they hold no rules.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from notifiers.rendering import cn_date, period_name
from scheduler.links import Links
from scheduler.models import Person, StaffUser
from scheduler.reviews import WEB_PERSON_MARK, web_recorded_by, web_submitter
from scheduler.web.settings import WebSettings, web_secret, web_settings

if TYPE_CHECKING:
    from scheduler.app import App

HERE = Path(__file__).parent
SESSION_COOKIE = "ccal_session"
SESSION_DAYS = 14


@dataclass
class Web:
    """Everything a request handler needs, built once per application."""
    app: "App"
    settings: WebSettings
    links: Links
    templates: jinja2.Environment

    def now(self) -> datetime:
        return self.app.now()


@dataclass(frozen=True)
class Visitor:
    kind: str                         # anonymous | person | staff
    person_id: int | None = None
    name: str = ""
    units: tuple[str, ...] = ()       # a person's own units (read and submit)
    role: str = ""                    # staff: propaganda | viewer
    supervised: tuple[str, ...] = ()  # units a person hears of as supervisor (read only)

    @property
    def actor(self) -> str:
        if self.kind == "person":
            return f"person:{self.person_id}"
        if self.kind == "staff":
            return f"staff:{self.name}"
        return "anonymous"

    @property
    def staff(self) -> bool:
        return self.kind == "staff"

    @property
    def writer(self) -> bool:
        """Staff who may record (the propaganda role); viewers only read."""
        return self.kind == "staff" and self.role == "propaganda"

    def may_read(self, unit: str) -> bool:
        return self.staff or (self.kind == "person" and (unit in self.units or unit in self.supervised))

    def may_submit(self, unit: str) -> bool:
        return self.writer or (self.kind == "person" and unit in self.units)

    @property
    def recorded_by(self) -> str:
        """What the record says about who did it."""
        if self.kind == "person":
            return web_recorded_by(self.name, self.person_id)     # the review queue reads it
        return f"{self.name}（网页，宣传部）" if self.staff else ""


def web_of(request: Request) -> Web:
    return request.app.state.web


def visitor(request: Request) -> Visitor:
    """The visitor of this request; sessions of a revoked or expired link end at once."""
    cached = request.scope.get("ccal.visitor")
    if cached is not None:
        return cached
    web = web_of(request)
    s = request.session
    v = Visitor("anonymous")
    if "p" in s:
        from scheduler.web.views import person_units, supervised_units
        with web.app.session() as session:
            person = session.get(Person, s["p"])
            if person is not None and web.links.valid_link_id(session, s.get("l", -1), web.now()):
                v = Visitor("person", person.id, person.name,
                            tuple(u.code for u in person_units(session, person.id)),
                            supervised=tuple(u.code for u in supervised_units(session, person.id)))
            else:
                s.clear()
    elif "s" in s:
        with web.app.session() as session:
            user = session.get(StaffUser, s["s"])
            if user is not None:
                v = Visitor("staff", name=user.name, role=user.role)
            else:
                s.clear()
    request.scope["ccal.visitor"] = v
    return v


# --------------------------------------------------------------------------- rendering

def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, form) -> None:
    sent = form.get("csrf") or ""
    want = request.session.get("csrf") or ""
    if not want or not isinstance(sent, str) or not hmac.compare_digest(sent, want):
        raise HTTPException(403, "页面已过期或来源不明（安全校验失败），请返回刷新页面后重试。")


def flash(request: Request, text: str) -> None:
    request.session["flash"] = text


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    web = web_of(request)
    v = visitor(request)
    message = request.session.pop("flash", None)
    html = web.templates.get_template(template).render(
        request=request, v=v, csrf=csrf_token(request), flash=message, base_url=web.settings.base_url,
        **context)
    return HTMLResponse(html, status_code=status_code)


def message_page(request: Request, title: str, text: str, status_code: int) -> HTMLResponse:
    return render(request, "message.html", status_code=status_code, title=title, text=text)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True,                      # every page is HTML: a unit named <script> is text
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(cn_date=cn_date, period_name=period_name, recorder=recorder)
    return env


def recorder(recorded_by: str) -> str:
    """Who recorded it, for a clerk: "许芳（网页，人员4）" reads "许芳（网页提交）"."""
    if web_submitter(recorded_by) is not None:
        return recorded_by[:recorded_by.rindex(WEB_PERSON_MARK)] + "（网页提交）"
    return recorded_by or "命令行登记"


# --------------------------------------------------------------------------- errors and limits

TITLES = {400: "输入有误", 403: "无权访问", 404: "页面不存在", 405: "不支持的操作", 413: "上传文件过大",
          429: "操作过于频繁"}


async def http_error(request: Request, exc: HTTPException) -> Response:
    detail = exc.detail if isinstance(exc.detail, str) and exc.status_code in (400, 403, 413, 429) else None
    if exc.status_code == 404 and isinstance(exc.detail, str) and exc.detail != "Not Found":
        detail = exc.detail
    text = detail or {404: "您要找的页面不存在。", 405: "不支持该操作。"}.get(exc.status_code, "请求无法处理。")
    return message_page(request, TITLES.get(exc.status_code, "出错了"), text, exc.status_code)


class BodyLimit:
    """Refuse request bodies over the upload limit with 413 (a Chinese page), whether the size is
    announced (Content-Length) or not (counted while reading)."""

    def __init__(self, app, limit: int, mb: int) -> None:
        self.app, self.limit, self.mb = app, limit, mb

    def message(self) -> str:
        return f"上传文件过大：每次提交的文件合计不能超过 {self.mb} MB。请压缩或分次提交。"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self.too_large(scope, receive, send)
            return
        seen = 0

        async def counted():
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, self.message())
            return msg

        await self.app(scope, counted, send)

    async def too_large(self, scope, receive, send) -> None:
        html = ("<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                f"<title>上传文件过大</title></head><body><h1>上传文件过大</h1><p>{self.message()}</p>"
                "<p><a href=\"javascript:history.back()\">返回</a></p></body></html>")
        # The body is not read: the connection is closed after the answer.
        response = HTMLResponse(html, status_code=413, headers={"Connection": "close"})
        await response(scope, receive, send)


class SecurityHeaders:
    """nosniff everywhere; pages frame nothing and load nothing from elsewhere."""

    HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
               (b"referrer-policy", b"no-referrer"),
               (b"content-security-policy",
                b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                b"frame-ancestors 'none'; form-action 'self'")]

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(msg):
            if msg["type"] == "http.response.start":
                present = {k.lower() for k, _ in msg.get("headers", [])}
                msg["headers"] = list(msg.get("headers", [])) + [
                    (k, v) for k, v in self.HEADERS if k not in present]
            await send(msg)

        await self.app(scope, receive, send_with_headers)


# --------------------------------------------------------------------------- the application

def create_app(app: "App", *, settings: WebSettings | None = None, secret: bytes | None = None) -> Starlette:
    """The web application for `app` (settings: `[web]`; secret: CCAL_WEB_SECRET / secret file)."""
    from scheduler.web import feed, lectures, ops, secretary, staff

    settings = settings or web_settings(app.config)
    secret = secret or web_secret(app.config)
    web = Web(app=app, settings=settings, links=Links(app, settings=settings, secret=secret),
              templates=templates())
    routes = [
        Route("/", secretary.home),
        *secretary.routes(), *staff.routes(), *lectures.routes(), *feed.routes(), *ops.routes(),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(BodyLimit, limit=settings.max_upload_bytes + 256 * 1024, mb=settings.max_upload_mb),
        # The cookie is HttpOnly (always), SameSite=Lax, Secure when base_url is https.
        Middleware(SessionMiddleware, secret_key=hmac.new(secret, b"ccal-session", "sha256").hexdigest(),
                   session_cookie=SESSION_COOKIE, max_age=SESSION_DAYS * 86400, same_site="lax",
                   https_only=settings.secure_cookies),
    ]
    web_app = Starlette(routes=routes, middleware=middleware,
                        exception_handlers={HTTPException: http_error})
    web_app.state.web = web
    return web_app
