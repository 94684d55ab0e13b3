"""`recon scheduler`: the scheduler alone, the process an operator runs beside API replicas
(DESIGN 6). It stops cleanly on SIGTERM or Ctrl-C: a run in progress is abandoned whole."""

from __future__ import annotations

import asyncio
import logging
import signal

import click

from recon.clitools import background_priority, json_option, print_json, settings_of
from recon.db.session import open_database
from recon.errors import SettingsError
from recon.settings import Settings


@click.command()
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve this process's /metrics (its runs, lines pulled) on this port; off by default.",
)
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Its address.")
@json_option
@click.pass_context
def scheduler(
    ctx: click.Context, metrics_port: int | None, metrics_host: str, as_json: bool
) -> None:
    """Run the nightly reconciliation, its catch-up and its retries, until stopped."""
    from recon.system.logs import channel_secrets, configure_logging

    settings = settings_of(ctx)
    configure_logging(secrets=channel_secrets(settings.secrets))
    background_priority()
    if metrics_port is not None:
        # the runs and lines of this process are counted here, not in any `recon serve`
        # (which only counts what it did itself): Prometheus scrapes both
        from prometheus_client import start_http_server

        from recon.system.metrics import REGISTRY

        try:
            start_http_server(metrics_port, addr=metrics_host, registry=REGISTRY)
        except OSError as exc:
            raise SettingsError(
                f"cannot serve metrics on {metrics_host}:{metrics_port}: {exc.strerror or exc}"
            ) from None
    asyncio.run(_serve(settings))
    if as_json:
        print_json({"status": "stopped"})


async def _serve(settings: Settings) -> None:
    from recon.schedule.scheduler import scheduling
    from recon.schedule.work import NightlyWork

    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    async with open_database(settings.database_url) as sessionmaker:
        work = NightlyWork(sessionmaker=sessionmaker, settings=settings)
        async with scheduling(work, settings):
            await stopped.wait()
        logging.getLogger("recon.schedule").info("stopping on signal")
