"""The department's side: login, overview, review queue (审核), waivers and meeting dates.

Viewers read everything staff can read and change nothing; every change needs the
propaganda role (`Visitor.writer`). Every action is appended to the audit log.
"""

from __future__ import annotations

import re
from datetime import date

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scheduler import reviews
from scheduler.app import UserInputError
from scheduler.materialise import anchor_keys
from scheduler.models import UNIT_KINDS, Occurrence, Person
from scheduler.submissions import record_event, waive
from scheduler.web import accounts
from scheduler.web.app import check_csrf, flash, message_page, redirect, render, visitor, web_of
from scheduler.web.views import CELL_WORDS, matrix

PER_PAGE = 50


def routes() -> list[Route]:
    return [
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/staff", staff_home),
        Route("/staff/review", review_queue),
        Route("/staff/review/{submission_id:int}", review_decide, methods=["POST"]),
        Route("/o/{occurrence_id:int}/waive", waive_form, methods=["POST"]),
        Route("/staff/meeting", meeting_form, methods=["POST"]),
        Route("/staff/people/{person_id:int}/rotate", rotate_link, methods=["POST"]),
    ]


def _need_staff(request: Request):
    v = visitor(request)
    if not v.staff:
        if v.kind == "anonymous":
            return None, redirect("/login")
        return None, message_page(request, "无权访问", "此页面仅供党委宣传部工作人员使用。", 403)
    return v, None


def _need_writer(request: Request):
    v = visitor(request)
    if not v.writer:
        text = ("只读账号不能修改记录。" if v.staff else "此操作仅供党委宣传部工作人员使用。")
        return None, message_page(request, "无权操作", text, 403)
    return v, None


async def _writer_form(request: Request, max_fields: int = 10):
    """A change's preamble: the writer check, then the posted form with its CSRF token checked.
    Returns (visitor, form, refusal); a refusal is the page to return instead."""
    v, refused = _need_writer(request)
    if refused:
        return None, None, refused
    form = await request.form(max_files=0, max_fields=max_fields)
    check_csrf(request, form)
    return v, form, None


# --------------------------------------------------------------------------- login

async def login(request: Request) -> Response:
    web = web_of(request)
    if request.method == "GET":
        return render(request, "login.html", title="工作人员登录", error=None, name="")
    form = await request.form(max_files=0, max_fields=10)
    check_csrf(request, form)
    name = str(form.get("name") or "").strip()[:100]
    password = str(form.get("password") or "")
    now = web.now()
    with web.app.session() as session:
        if accounts.throttled(session, name, now):
            return render(request, "login.html", status_code=429, title="工作人员登录", name=name,
                          error="登录失败次数过多，请 15 分钟后再试。")
        user = accounts.authenticate(session, name, password, now)
    if user is None:
        return render(request, "login.html", status_code=400, title="工作人员登录", name=name,
                      error="用户名或密码错误。")
    request.session.clear()
    request.session["s"] = user.id
    return redirect("/staff")


async def logout(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=5)
    check_csrf(request, form)
    request.session.clear()
    return redirect("/login")


# --------------------------------------------------------------------------- overview

async def staff_home(request: Request) -> Response:
    v, refused = _need_staff(request)
    if refused:
        return refused
    web = web_of(request)
    today = web.app.today()
    q = request.query_params
    try:
        year = int(q.get("year", today.year))
        page = max(int(q.get("page", 1)), 1)
    except ValueError:
        raise HTTPException(400, "参数格式有误") from None
    kind = q.get("kind") or None
    text = (q.get("q") or "").strip()[:50]
    with web.app.session() as session:
        m = matrix(web.app, session, today, kind=kind, query=text, page=page, per_page=PER_PAGE)
        pending = len(reviews.pending(web.app, session))
    pages = max((m.total + PER_PAGE - 1) // PER_PAGE, 1)
    return render(request, "staff.html", title="总览", m=m, total=m.total, page=page, pages=pages,
                  year=year, kind=kind or "", q=text, kinds=UNIT_KINDS, words=CELL_WORDS,
                  pending=pending, anchors=sorted(anchor_keys(web.app)), today=today)


# --------------------------------------------------------------------------- review

async def review_queue(request: Request) -> Response:
    v, refused = _need_staff(request)
    if refused:
        return refused
    web = web_of(request)
    with web.app.session() as session:
        rows = reviews.pending(web.app, session)
    return render(request, "review.html", title="审核", rows=rows)


async def review_decide(request: Request) -> Response:
    v, form, refused = await _writer_form(request)
    if refused:
        return refused
    web = web_of(request)
    decision = {"accept": reviews.ACCEPTED, "return": reviews.RETURNED}.get(str(form.get("decision")))
    if decision is None:
        raise HTTPException(400, "请选择通过或退回")
    sid = request.path_params["submission_id"]
    reason = str(form.get("reason") or "")[:2000]
    try:
        row = reviews.review(web.app, sid, decision, reason, by=v.name, now=web.now())
    except UserInputError as e:
        raise HTTPException(400, str(e)) from None
    with web.app.session() as session:
        reviews.audit(session, v.actor, "return" if decision == reviews.RETURNED else "accept",
                      f"submission:{sid}", reason.strip(), at=web.now())
    flash(request, f"提交记录 {sid} 已{'退回' if row.decision == reviews.RETURNED else '审核通过'}。")
    back = str(form.get("back") or "")
    # Only back to an occurrence page: never an address from the form (no open redirect).
    return redirect(back if re.fullmatch(r"/o/\d+", back) else "/staff/review")


# --------------------------------------------------------------------------- records

async def waive_form(request: Request) -> Response:
    v, form, refused = await _writer_form(request)
    if refused:
        return refused
    web = web_of(request)
    with web.app.session() as session:
        occ = session.get(Occurrence, request.path_params["occurrence_id"])
    if occ is None:
        raise HTTPException(404, "没有这个事项")
    try:
        w, _ = waive(web.app, occ.obligation_key, occ.unit_code, occ.period, str(form.get("reason") or ""),
                     recorded_by=v.recorded_by)
    except UserInputError as e:
        raise HTTPException(400, str(e)) from None
    with web.app.session() as session:
        reviews.audit(session, v.actor, "waive", f"occurrence:{occ.id}", w.reason, at=web.now())
    flash(request, "已豁免。")
    return redirect(f"/o/{occ.id}")


async def meeting_form(request: Request) -> Response:
    v, form, refused = await _writer_form(request)
    if refused:
        return refused
    web = web_of(request)
    keys = sorted(anchor_keys(web.app))
    key = str(form.get("key") or (keys[0] if keys else ""))
    if key not in keys:
        raise HTTPException(400, "没有这个会议锚点事项")
    try:
        on = date.fromisoformat(str(form.get("date") or ""))
    except ValueError:
        raise HTTPException(400, "会议日期格式有误，应为 年-月-日") from None
    quarter = str(form.get("quarter") or "").strip()
    try:
        r = record_event(web.app, key, web.app.propaganda_unit, on, period=quarter, title="")
    except UserInputError as e:
        raise HTTPException(400, str(e)) from None
    with web.app.session() as session:
        reviews.audit(session, v.actor, "meeting", f"event:{r.event.id}", f"{key} {quarter} {on}", at=web.now())
    flash(request, f"已登记 {quarter} 会议日期 {on.isoformat()}；相关报告的截止日期已随之确定。")
    return redirect("/staff")


async def rotate_link(request: Request) -> Response:
    """Revoke a person's link at once (a lost phone, a forwarded message); the next message
    carries the new one. Same as `ccal link rotate`."""
    v, form, refused = await _writer_form(request, max_fields=5)
    if refused:
        return refused
    web = web_of(request)
    person_id = request.path_params["person_id"]
    now = web.now()
    with web.app.session() as session:
        person = session.get(Person, person_id)
        if person is None:
            raise HTTPException(404, "没有这个人员")
        revoked, _ = web.links.rotate(session, person.id, now)
        reviews.audit(session, v.actor, "link_rotate", f"person:{person.id}", f"revoked {revoked}", at=now)
    flash(request, f"已停用 {person.name} 的个人链接（{revoked} 个）；新链接将随下一条提醒消息发送。")
    back = str(form.get("back") or "")
    return redirect(back if re.fullmatch(r"/u/[A-Za-z0-9_-]+", back) else "/staff")
