"""Operations: /healthz for a load balancer or Healthchecks, /metrics for Prometheus."""

from __future__ import annotations

import hmac
import os

from sqlalchemy import text
from sqlmodel import col, func, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scheduler import outbox as outbox_states
from scheduler.models import Outbox
from scheduler.web.app import message_page, visitor, web_of


def routes() -> list[Route]:
    return [Route("/healthz", healthz), Route("/metrics", metrics)]


async def healthz(request: Request) -> Response:
    """200 with the database reachable and the oldest due-but-unsent outbox row; 503 without a
    database."""
    web = web_of(request)
    now = web.now()
    try:
        with web.app.session() as session:
            session.exec(text("SELECT 1"))
            oldest = session.exec(select(func.min(Outbox.next_attempt_at)).where(
                col(Outbox.status).in_(outbox_states.UNSENT), col(Outbox.next_attempt_at) <= now)).one()
    except Exception as e:  # noqa: BLE001 (any database failure is "unhealthy")
        return JSONResponse({"status": "error", "database": f"unreachable: {type(e).__name__}"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok", "now": now.isoformat(),
                         "oldest_due_unsent": oldest.isoformat() if oldest else None})


async def metrics(request: Request) -> Response:
    """Prometheus text: staff only, or `Authorization: Bearer <token>` where the token is the
    environment variable named by `[web] metrics_token_env` (default CCAL_METRICS_TOKEN)."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST

    web = web_of(request)
    token = os.environ.get(web.settings.metrics_token_env, "")
    sent = request.headers.get("authorization", "")
    bearer = sent[7:] if sent.lower().startswith("bearer ") else ""
    if not (visitor(request).staff or (token and bearer and hmac.compare_digest(token, bearer))):
        return message_page(request, "无权访问", "指标仅供工作人员或持有令牌的监控系统读取。", 403)
    registry = CollectorRegistry()
    rows = Gauge("ccal_outbox_messages", "Outbox rows by state and channel", ["state", "channel"],
                 registry=registry)
    returns = Gauge("ccal_open_returns", "Returned submissions whose occurrence is not submitted again",
                    registry=registry)
    with web.app.session() as session:
        for status, channel, n in session.exec(select(Outbox.status, Outbox.channel, func.count(Outbox.id))
                                               .group_by(Outbox.status, Outbox.channel)).all():
            rows.labels(status, channel).set(n)
        from scheduler.reviews import open_returns
        returns.set(open_returns(web.app, session, web.app.today()))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
