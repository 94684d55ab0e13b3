"""Running the ASGI server (uvicorn) for `recon serve` and `recon demo`."""

from __future__ import annotations

import click
import msgspec
import uvicorn

from recon.app import create_app
from recon.settings import Settings
from recon.system.observability import configure_logging


def serve_app(settings: Settings, *, host: str, port: int, as_json: bool = False) -> None:
    configure_logging()
    url = f"http://{host}:{port}/"
    if as_json:
        click.echo(msgspec.json.encode({"url": url}).decode())
    else:
        click.echo(f"recon is serving at {url}  (API under {url}api/v1, OpenAPI at {url}schema)")
    config = uvicorn.Config(
        create_app(settings), host=host, port=port, log_level="warning", access_log=False
    )
    uvicorn.Server(config).run()
