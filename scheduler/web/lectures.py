"""Lectures (一会一报) on the web: the application form with its approval deadline, one
lecture's page, and the department's approval queue.

Everything goes through `scheduler.lectures` (register, decide, view, listing) and the pure
`obligations.lectures` / `obligations.occurrences` rules; nothing here computes a deadline of
its own. The form works without JavaScript: 计算截止日期 sends it back to the page (GET) with
the deadline for the date and categories filled in; 提交申请 records it (POST).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from sqlmodel import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from obligations import lectures as rules
from obligations.occurrences import slot_for_event
from scheduler import lectures, reviews
from scheduler.app import UserInputError
from scheduler.evidence import EvidenceError
from scheduler.models import Lecture, Unit
from scheduler.web import uploads
from scheduler.web.app import check_csrf, flash, message_page, redirect, render, visitor, web_of
from scheduler.web.views import citation, person_units


def routes() -> list[Route]:
    return [
        Route("/lectures/new", new_lecture, methods=["GET", "POST"]),
        Route("/lectures/{lecture_id:int}", lecture_page),
        Route("/staff/lectures", approval_queue),
        Route("/staff/lectures/{lecture_id:int}/decide", decide, methods=["POST"]),
    ]


@dataclass(frozen=True)
class Deadline:
    needs_approval: bool
    title: str = ""
    due: date | None = None
    provisional: bool = False
    late: bool = False
    citation: str = ""


def deadline_for(app, unit: Unit, day: date, sensitive: bool, today: date) -> Deadline:
    """The approval deadline a lecture of `unit` on `day` would get: the strictest lecture
    obligation's slot (the same rule `scheduler.lectures.register` records)."""
    needed = rules.requirements(app.obligations.values(), unit.kind, sensitive)
    if not needed:
        return Deadline(False)
    ob = needed[0]
    slot = slot_for_event(ob, "E0", day, app.calendar)
    return Deadline(True, ob.title, slot.due, slot.provisional, today > slot.due, citation(app, ob))


def _units(request: Request, session) -> list[Unit]:
    v = visitor(request)
    if v.kind == "person":
        return person_units(session, v.person_id)
    if v.writer:                       # on behalf of a unit that still brings paper
        return list(session.exec(select(Unit).order_by(Unit.code)).all())
    return []


def _fields(source) -> dict:
    return {
        "unit": str(source.get("unit") or ""), "title": str(source.get("title") or "").strip()[:500],
        "speaker": str(source.get("speaker") or "").strip()[:200],
        "place": str(source.get("place") or "").strip()[:200],
        "date": str(source.get("date") or ""), "time": str(source.get("time") or ""),
        "categories": [c for c in source.getlist("categories") if c in rules.CATEGORIES_BY_KEY],
        "note": str(source.get("note") or "").strip()[:2000],
    }


def _parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


async def new_lecture(request: Request) -> Response:
    v = visitor(request)
    if not (v.kind == "person" or v.writer):
        if v.kind == "anonymous":
            return message_page(request, "请先登录或使用个人链接",
                                "请点击提醒消息中的个人链接打开本页；党委宣传部工作人员请先登录。", 403)
        return message_page(request, "无权操作", "只读账号不能登记讲座。", 403)
    web = web_of(request)
    today = web.app.today()
    if request.method == "POST":
        form = await request.form(max_files=11, max_fields=40)
        check_csrf(request, form)
        fields = _fields(form)
        files = uploads.uploaded(form)
    else:
        fields = _fields(request.query_params)
        form, files = None, []
    with web.app.session() as session:
        units = _units(request, session)
        codes = {u.code for u in units}
        if not units:
            return message_page(request, "没有可登记的单位", "您目前没有负责的单位。", 403)
        if fields["unit"] and fields["unit"] not in codes:
            return message_page(request, "无权操作", "您不能为该单位登记讲座。", 403)
        unit = next((u for u in units if u.code == fields["unit"]), units[0])
    day = _parse_day(fields["date"])
    deadline = (deadline_for(web.app, unit, day, bool(fields["categories"]), today)
                if day is not None else None)
    error = None
    if request.method == "POST":
        try:
            return await _register(request, v, web, unit, fields, day, files)
        except (UserInputError, EvidenceError, uploads.UploadRefused) as e:
            error = str(e)
    return render(request, "lecture_new.html", status_code=400 if error else 200, title="讲座、报告会报审",
                  units=units, unit=unit, f=fields, deadline=deadline, error=error, today=today,
                  categories=rules.SENSITIVE_CATEGORIES, accept=uploads.ACCEPT, kinds=uploads.KINDS_TEXT)


async def _register(request, v, web, unit, fields, day, files) -> Response:
    if day is None:
        raise UserInputError("请填写举办日期（年-月-日）")
    if not fields["title"]:
        raise UserInputError("请填写讲座名称")
    known = bool(fields["time"])
    try:
        at = time.fromisoformat(fields["time"]) if known else time(0, 0)
    except ValueError:
        raise UserInputError("举办时间格式有误，应为 时:分，例如 14:30") from None
    with tempfile.TemporaryDirectory(prefix="ccal-upload-") as tmp:
        paths, names = await uploads.spool(files, Path(tmp))
        shown = lectures.register(web.app, unit.code, title=fields["title"], starts=datetime.combine(day, at),
                                  time_known=known, speaker=fields["speaker"], place=fields["place"],
                                  categories=fields["categories"], evidence=paths, names=names,
                                  note=fields["note"], recorded_by=v.recorded_by)
    with web.app.session() as session:
        reviews.audit(session, v.actor, "lecture_register", f"lecture:{shown['id']}", shown["title"],
                      at=web.now())
    words = "已提交报审申请" if shown["obligation"] else "已报备"
    if shown["late"]:
        words += f"。注意：已超过报批截止日期（{shown['deadline']}），属逾期报批"
    flash(request, words + "。")
    return redirect(f"/lectures/{shown['id']}")


async def lecture_page(request: Request) -> Response:
    v = visitor(request)
    web = web_of(request)
    lecture_id = request.path_params["lecture_id"]
    with web.app.session() as session:
        lec = session.get(Lecture, lecture_id)
        if lec is None:
            raise HTTPException(404, "没有这个讲座")
        if not v.may_read(lec.unit_code):
            return message_page(request, "无权访问", "您无权查看该讲座。", 403)
    return render(request, "lecture.html", title="讲座报审", l=lectures.show(web.app, lecture_id),
                  history=lectures.history(web.app, lecture_id), words=rules.STATUS_WORDS)


async def approval_queue(request: Request) -> Response:
    v = visitor(request)
    if not v.staff:
        if v.kind == "anonymous":
            return redirect("/login")
        return message_page(request, "无权访问", "此页面仅供党委宣传部工作人员使用。", 403)
    web = web_of(request)
    rows = [r for r in lectures.listing(web.app) if r["status"] in ("pending", "planned", "rejected")
            or (r["violation"] and r["date"] >= web.app.today().replace(month=1, day=1))]
    return render(request, "lecture_queue.html", title="讲座审批", rows=rows)


async def decide(request: Request) -> Response:
    v = visitor(request)
    if not v.writer:
        return message_page(request, "无权操作", "只读账号不能审批。" if v.staff else "此操作仅供党委宣传部工作人员使用。", 403)
    web = web_of(request)
    form = await request.form(max_files=0, max_fields=10)
    check_csrf(request, form)
    approve = {"approve": True, "reject": False}.get(str(form.get("decision")))
    if approve is None:
        raise HTTPException(400, "请选择批准或不予批准")
    lecture_id = request.path_params["lecture_id"]
    try:
        shown = lectures.decide(web.app, lecture_id, approve, note=str(form.get("note") or "")[:2000],
                                recorded_by=v.recorded_by)
    except UserInputError as e:
        raise HTTPException(400, str(e)) from None
    with web.app.session() as session:
        reviews.audit(session, v.actor, "lecture_approve" if approve else "lecture_reject",
                      f"lecture:{lecture_id}", at=web.now())
    flash(request, f"讲座 {lecture_id} {shown['status_text']}。")
    return redirect("/staff/lectures")
