"""The application factory: the only place the app is assembled."""

from __future__ import annotations

from litestar import Litestar

from recon.clock import Clock, utcnow
from recon.plugin import ReconPlugin
from recon.settings import Settings, load_settings
from recon.system.observability import request_id_middleware


def create_app(
    settings: Settings | None = None, *, clock: Clock = utcnow, scheduler: bool = False
) -> Litestar:
    """The app; `clock` is the time its handlers see (a test may give its own). With
    `scheduler`, the app's lifespan runs the nightly scheduler (`recon serve` does)."""
    plugin = ReconPlugin(settings or load_settings(), clock=clock, scheduler=scheduler)
    app = Litestar(plugins=[plugin], logging_config=None)
    # the request id, the access line and the request counter for every request, a route's or
    # not: Litestar's own middleware runs only once a route matched (no 404, no 405)
    app.asgi_handler = request_id_middleware(app.asgi_handler)
    return app
