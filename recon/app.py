"""The application factory: the only place the app is assembled."""

from __future__ import annotations

from litestar import Litestar

from recon.clock import Clock, utcnow
from recon.plugin import ReconPlugin
from recon.settings import Settings, load_settings


def create_app(settings: Settings | None = None, *, clock: Clock = utcnow) -> Litestar:
    """The app; `clock` is the time its handlers see (a test may give its own)."""
    plugin = ReconPlugin(settings or load_settings(), clock=clock)
    return Litestar(plugins=[plugin], logging_config=None)
