"""The personal calendar feed: `webcal://<host>/ics/<token>.ics`, always current (unlike a
one-off `ccal calendar --format ics` export). Calendar apps keep no cookies, so the feed URL
carries the person's link token; it opens the same units as the link, and stops with it.
Each due date has an alarm the day before (09:00 local). The events come from
`scheduler.queries.calendar` and `scheduler.ics.calendar_ics` (the CLI export's own code)."""

from __future__ import annotations

from datetime import timedelta

from icalendar import Alarm, Calendar
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scheduler import queries
from scheduler.ics import calendar_ics
from scheduler.web.app import message_page, web_of
from scheduler.web.views import person_units

PAST_DAYS, FUTURE_DAYS = 92, 366


def routes() -> list[Route]:
    return [Route("/ics/{token}.ics", feed)]


def feed_url(base_url: str, token: str) -> str:
    host = base_url.split("://", 1)[1]
    return f"webcal://{host}/ics/{token}.ics"


async def feed(request: Request) -> Response:
    web = web_of(request)
    now = web.now()
    with web.app.session() as session:
        check = web.links.check(session, request.path_params["token"], now)
        if check.person_id is None:
            return message_page(request, "链接不可用", check.problem or "链接无效。", 403)
        units = person_units(session, check.person_id)
    today = now.date()
    records = []
    for u in units:
        records += queries.calendar(web.app, today - timedelta(days=PAST_DAYS),
                                    today + timedelta(days=FUTURE_DAYS), today, unit=u.code)
    body = calendar_ics(records, now.replace(tzinfo=web.app.config.general.tz))
    cal = Calendar.from_ical(body)
    for event in cal.walk("VEVENT"):
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"明天截止：{event.get('summary')}")
        alarm.add("trigger", timedelta(hours=-15))     # 09:00 the day before an all-day event
        event.add_component(alarm)
    return Response(cal.to_ical(), media_type="text/calendar; charset=utf-8",
                    headers={"Cache-Control": "private, no-store"})
