"""Running the web: alone (`ccal web`) or in one process with the reminder daemon (`ccal serve`)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING

import uvicorn

from scheduler.web.app import create_app
from scheduler.web.settings import web_settings

if TYPE_CHECKING:
    from scheduler.app import App

log = logging.getLogger(__name__)


def _server(app: "App", host: str | None = None, port: int | None = None) -> uvicorn.Server:
    settings = web_settings(app.config)
    config = uvicorn.Config(create_app(app, settings=settings), host=host or settings.host,
                            port=port or settings.port, lifespan="off", log_level="info",
                            proxy_headers=True, server_header=False)
    log.info("web: listening on %s:%s, links built from %s", config.host, config.port, settings.base_url)
    return uvicorn.Server(config)


def run_web(app: "App", *, host: str | None = None, port: int | None = None) -> None:
    """`ccal web`: only the web server (until SIGTERM/SIGINT)."""
    _server(app, host, port).run()


def run_all(app: "App", *, start: datetime | None = None, clock=None, web: bool = True) -> None:
    """`ccal serve`: the reminder daemon and the web server in one process and one event loop.
    When either stops (a signal, or a failure), the other is stopped too. `clock`: the service
    clock (the caller's, e.g. for log times under --now); default the offset clock from `start`."""
    from scheduler.service import Service, offset_clock

    if clock is None and start is not None:
        clock = offset_clock(app, start)
    if clock is not None:
        app.now = clock            # the pages agree with the daemon's trial clock
    service = Service(app, clock=clock)
    if not web:
        asyncio.run(service.serve())
        return
    server = _server(app)

    async def main() -> None:
        stop = asyncio.Event()
        daemon = asyncio.create_task(service.serve(stop), name="daemon")
        await asyncio.sleep(0)     # the daemon installs its signal handlers first
        pages = asyncio.create_task(server.serve(), name="web")
        done, pending = await asyncio.wait({daemon, pages}, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        server.should_exit = True
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            task.result()          # a failure is raised, not swallowed

    asyncio.run(main())
