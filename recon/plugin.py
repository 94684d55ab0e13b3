"""The one plugin that wires recon into Litestar: routes, DI, errors and lifespan.

The command line is not Litestar's: `recon` (recon.cli.main) is the one entry point.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Router
from litestar.config.app import AppConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.handlers import HTTPRouteHandler
from litestar.plugins import InitPluginProtocol
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig
from sqlalchemy.ext.asyncio import AsyncSession

from recon.auth.guards import require_api_key
from recon.cases.controllers import (
    get_cases,
    get_one_case,
    post_approve_case,
    post_reject_case,
    post_reopen_case,
    post_resolve_case,
    post_resolve_cases,
)
from recon.clock import Clock, utcnow
from recon.days.controllers import get_days, post_close_day, post_reopen_day
from recon.db.reads import QuickReads
from recon.db.session import create_engine, create_read_sessionmaker, create_sessionmaker
from recon.dossiers.controllers import post_dossier_batch, put_dossier, state_settings
from recon.ledger.controllers import get_ledger
from recon.payments.controllers import get_payment, post_payment_query
from recon.runs.controllers import get_one_run, get_runs
from recon.settings import Settings
from recon.system.controllers import healthz, metrics, readyz
from recon.system.docs import openapi_config
from recon.system.errors import API_ERRORS, EXCEPTION_HANDLERS, error_responses
from recon.web import TEMPLATES_DIR
from recon.web.actions import ACTION_HANDLERS
from recon.web.audit import audit_page_view
from recon.web.auth import web_router
from recon.web.case_page import case_page
from recon.web.controllers import ledger_download, ledger_page, web_root
from recon.web.format import register_filters
from recon.web.login import login, login_page, logout
from recon.web.queue import queue_page_view
from recon.web.runs import runs_page

# 10,000 dossiers of generous size; Litestar's default of 10 MB is too tight for that
MAX_BODY_BYTES = 64 * 1024 * 1024


# Methods whose handlers only read: their sessions never wait for SQLite's write lock.
READ_METHODS = frozenset({"GET", "HEAD"})


async def provide_db_session(
    state: State, request: Request[Any, Any, Any]
) -> AsyncGenerator[AsyncSession, None]:
    reads = request.method in READ_METHODS
    async with (state.read_sessionmaker if reads else state.sessionmaker)() as session:
        yield session


def document_api_errors(handler: HTTPRouteHandler) -> None:
    """Every error an API route can answer, in the error shape, in its OpenAPI (where the
    route says nothing more precise itself). Applied to every API route, so a new route is
    documented (and fuzzed against its documentation, tests/system/test_fuzz.py) at once."""
    handler.responses = {**error_responses(*API_ERRORS), **(handler.responses or {})}


class ReconPlugin(InitPluginProtocol):
    def __init__(
        self, settings: Settings, *, clock: Clock = utcnow, scheduler: bool = False
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.scheduler = scheduler

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        api_handlers = [
            put_dossier,
            post_dossier_batch,
            get_cases,
            get_one_case,
            post_resolve_case,
            post_resolve_cases,
            post_approve_case,
            post_reject_case,
            post_reopen_case,
            get_runs,
            get_one_run,
            get_ledger,
            get_days,
            post_close_day,
            post_reopen_day,
            get_payment,
            post_payment_query,
        ]
        for handler in api_handlers:
            document_api_errors(handler)
        api = Router(
            path="/api/v1",
            guards=[require_api_key],
            route_handlers=api_handlers,
            security=[{"apiKey": []}],
            tags=["api"],
        )
        # every web form carries a CSRF token (recon.web.csrf); the pages need a session
        # (recon.web.auth), the login and logout routes do not
        web = web_router(
            [
                *(web_root, ledger_page, ledger_download, runs_page),
                *(queue_page_view, case_page, audit_page_view, *ACTION_HANDLERS),
            ]
        )
        web_login = web_router([login_page, login, logout], signed_in=False)
        app_config.route_handlers.extend([healthz, readyz, metrics, api, web, web_login])
        app_config.template_config = TemplateConfig(
            directory=TEMPLATES_DIR, engine=JinjaTemplateEngine, engine_callback=register_filters
        )
        app_config.dependencies.update(
            {
                "db_session": Provide(provide_db_session),
                "settings": Provide(state_settings, sync_to_thread=False),
                "clock": Provide(self._clock, sync_to_thread=False),
            }
        )
        app_config.exception_handlers.update(EXCEPTION_HANDLERS)
        app_config.lifespan.append(self._database)
        if self.scheduler:
            app_config.lifespan.append(self._scheduling)
        app_config.request_max_body_size = MAX_BODY_BYTES
        app_config.openapi_config = openapi_config()
        app_config.state.settings = self.settings
        app_config.state.clock = self.clock  # for the guards, which take no dependencies
        return app_config

    def _clock(self) -> Clock:
        """The clock handlers read the time from (`clock: NamedDependency[Clock]`)."""
        return self.clock

    @asynccontextmanager
    async def _database(self, app: Litestar) -> AsyncIterator[None]:
        engine = create_engine(self.settings.database_url)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.read_sessionmaker = create_read_sessionmaker(engine)
        app.state.quick_reads = quick = QuickReads(engine)
        try:
            yield
        finally:
            quick.dispose()
            await engine.dispose()

    @asynccontextmanager
    async def _scheduling(self, app: Litestar) -> AsyncIterator[None]:
        """The embedded scheduler (`recon serve` without `--no-scheduler`): its runs use their
        own sessions of the app's engine; stopping the app abandons a run in progress whole."""
        from recon.schedule.scheduler import scheduling
        from recon.schedule.work import NightlyWork

        work = NightlyWork(
            sessionmaker=app.state.sessionmaker, settings=self.settings, clock=self.clock
        )
        async with scheduling(work, self.settings):
            yield
