"""The secretary's side: the personal link, 我的事项, one occurrence and its submit form, files.

Staff use the same occurrence and unit pages (a unit's year is the view its secretary has);
what a visitor may do there is decided by `Visitor.may_read` / `may_submit`.
"""

from __future__ import annotations

import tempfile
from datetime import date, datetime, time
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from scheduler import reviews
from scheduler.app import UserInputError
from scheduler.evidence import EvidenceError, evidence_path
from scheduler.models import Evidence, Occurrence, Submission
from scheduler.submissions import submit
from scheduler.web import uploads
from scheduler.web.app import (
    check_csrf, flash, message_page, redirect, render, visitor, web_of,
)
from scheduler.web.views import occurrence_view, person_units, unit_people, unit_year_view

MAX_FILES = 10


def routes() -> list[Route]:
    return [
        Route("/l/{token}", open_link),
        Route("/l/{token}/o/{occurrence_id:int}", open_link),
        Route("/me", me),
        Route("/u/{code}", unit_page),
        Route("/o/{occurrence_id:int}", occurrence_page),
        Route("/o/{occurrence_id:int}/submit", submit_form, methods=["POST"]),
        Route("/files/{evidence_id:int}", download),
    ]


async def home(request: Request) -> Response:
    v = visitor(request)
    return redirect("/staff" if v.staff else "/me")


# --------------------------------------------------------------------------- the personal link

async def open_link(request: Request) -> Response:
    """A used link becomes a session cookie, then a redirect: the token leaves the address bar."""
    web = web_of(request)
    token = request.path_params["token"]
    now = web.now()
    with web.app.session() as session:
        check = web.links.check(session, token, now)
        if check.person_id is None:
            reviews.audit(session, "anonymous", "link_refused", "", check.problem or "", at=now)
            return message_page(request, "链接不可用", check.problem or "链接无效。", 403)
        link_id = web.links.link_id(session, token)
        reviews.audit(session, f"person:{check.person_id}", "link_open", f"link:{link_id}", at=now)
    request.session.clear()
    request.session.update({"p": check.person_id, "l": link_id})
    request.scope.pop("ccal.visitor", None)
    target = request.path_params.get("occurrence_id")
    return redirect(f"/o/{target}" if target is not None else "/me")


# --------------------------------------------------------------------------- pages

def _year(request: Request, today: date) -> int:
    try:
        year = int(request.query_params.get("year", today.year))
    except ValueError:
        raise HTTPException(400, "年份格式有误") from None
    if not 2000 <= year <= 2100:
        raise HTTPException(400, "年份超出范围")
    return year


async def me(request: Request) -> Response:
    v = visitor(request)
    if v.staff:
        return redirect("/staff")
    if v.kind != "person":
        # Group-chat messages link here: no token in them, so ask for the person's own link.
        return render(request, "need_link.html", title="请使用个人链接")
    web = web_of(request)
    today = web.app.today()
    year = _year(request, today)
    from scheduler.web.feed import feed_url
    with web.app.session() as session:
        units = person_units(session, v.person_id)
        views = [unit_year_view(web.app, session, u.code, year, today) for u in units]
        supervised = [unit_year_view(web.app, session, code, year, today) for code in v.supervised]
        webcal = feed_url(web.settings.base_url, web.links.token_for(session, v.person_id, web.now()))
    return render(request, "me.html", title="我的事项", views=views, year=year, today=today, webcal=webcal,
                  supervised=supervised)


async def unit_page(request: Request) -> Response:
    v = visitor(request)
    code = request.path_params["code"]
    if not v.may_read(code):
        return _refuse(request, v)
    web = web_of(request)
    today = web.app.today()
    year = _year(request, today)
    with web.app.session() as session:
        try:
            web.app.unit(session, code)
        except UserInputError:
            raise HTTPException(404, "没有这个单位") from None
        view = unit_year_view(web.app, session, code, year, today)
        people = unit_people(session, code) if v.staff else []
    return render(request, "unit.html", title=view.name, view=view, year=year, today=today, people=people)


def _refuse(request: Request, v) -> Response:
    if v.kind == "anonymous":
        return message_page(request, "请先登录或使用个人链接",
                            "请点击提醒消息中的个人链接打开本页；党委宣传部工作人员请先登录。", 403)
    return message_page(request, "无权访问", "您无权查看该单位的事项。", 403)


def _occurrence(request: Request, session) -> Occurrence:
    occ = session.get(Occurrence, request.path_params["occurrence_id"])
    if occ is None or occ.obligation_key not in web_of(request).app.obligations:
        raise HTTPException(404, "没有这个事项")
    return occ


async def occurrence_page(request: Request, *, error: str | None = None, status_code: int = 200,
                          form: dict | None = None) -> Response:
    v = visitor(request)
    web = web_of(request)
    today = web.app.today()
    with web.app.session() as session:
        occ = _occurrence(request, session)
        if not v.may_read(occ.unit_code):
            return _refuse(request, v)
        view = occurrence_view(web.app, session, occ, today)
    return render(request, "occurrence.html", status_code=status_code, title=view.title, o=view,
                  today=today, error=error, form=form or {}, accept=uploads.ACCEPT,
                  kinds=uploads.KINDS_TEXT, max_mb=web.settings.max_upload_mb,
                  may_submit=v.may_submit(occ.unit_code) and not view.waived)


# --------------------------------------------------------------------------- submitting

async def submit_form(request: Request) -> Response:
    v = visitor(request)
    web = web_of(request)
    with web.app.session() as session:
        occ = _occurrence(request, session)
    if not v.may_submit(occ.unit_code):
        return _refuse(request, v)
    form = await request.form(max_files=MAX_FILES + 1, max_fields=20)
    check_csrf(request, form)
    note = str(form.get("note") or "").strip()[:2000]
    kept = {"note": note, "done_on": str(form.get("done_on") or "")}
    files = uploads.uploaded(form)
    today = web.app.today()

    def again(message: str, code: int = 400) -> Response:
        return _again(request, message, code, kept)

    try:
        done_on = date.fromisoformat(kept["done_on"]) if kept["done_on"] else today
    except ValueError:
        return await again("完成日期格式有误，应为 年-月-日，例如 2026-06-15")
    try:
        reviews.check_done_date(occ, done_on, today)
    except UserInputError as e:
        return await again(str(e))
    if not files and not v.staff:
        return await again(f"请选择要上传的材料（{uploads.KINDS_TEXT}）")
    if len(files) > MAX_FILES:
        return await again(f"一次最多上传 {MAX_FILES} 个文件")
    now = web.now()
    with tempfile.TemporaryDirectory(prefix="ccal-upload-") as tmp:
        try:
            paths, names = await uploads.spool(files, Path(tmp))
        except uploads.UploadRefused as e:
            return await again(str(e), 415)
        at = now if done_on == today else datetime.combine(done_on, time(0, 0))
        try:
            record = submit(web.app, occ.obligation_key, occ.unit_code, occ.period, at=at,
                            evidence=paths, names=names, note=note, recorded_by=v.recorded_by)
        except (UserInputError, EvidenceError) as e:
            return await again(str(e))
    with web.app.session() as session:
        reviews.audit(session, v.actor, "submit", f"occurrence:{occ.id}",
                      f"submission {record.submission.id}; files: {', '.join(names) or '无'}", at=now)
    flash(request, "已提交，等待党委宣传部审核。" + ("" if v.kind == "person" else "（代为提交）"))
    return redirect(f"/o/{occ.id}")


async def _again(request: Request, message: str, code: int, kept: dict) -> Response:
    return await occurrence_page(request, error=message, status_code=code, form=kept)


# --------------------------------------------------------------------------- files

async def download(request: Request) -> Response:
    """A stored file: PDF and images inline (nosniff), everything else as an attachment."""
    v = visitor(request)
    web = web_of(request)
    with web.app.session() as session:
        ev = session.get(Evidence, request.path_params["evidence_id"])
        sub = session.get(Submission, ev.submission_id) if ev else None
        occ = session.get(Occurrence, sub.occurrence_id) if sub else None
        if occ is None:
            raise HTTPException(404, "没有这个文件")
        if not v.may_read(occ.unit_code):
            return _refuse(request, v)
        reviews.audit(session, v.actor, "download", f"evidence:{ev.id}", at=web.now())
    try:
        path = evidence_path(ev.stored_path, web.app.config.evidence.dir)
    except EvidenceError:
        raise HTTPException(404, "文件不在材料库中") from None
    ext = uploads.extension(ev.original_name) or uploads.extension(path.name)
    inline = ext in uploads.INLINE and uploads.extension(path.name) == ext
    return FileResponse(path, media_type=uploads.content_type(ext) if inline else "application/octet-stream",
                        filename=ev.original_name,
                        content_disposition_type="inline" if inline else "attachment",
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})
