"""The application factory: the only place the app is assembled."""

from __future__ import annotations

from litestar import Litestar

from recon.plugin import ReconPlugin
from recon.settings import Settings, load_settings


def create_app(settings: Settings | None = None) -> Litestar:
    return Litestar(plugins=[ReconPlugin(settings or load_settings())], logging_config=None)
