"""`recon scheduler`: the scheduler alone, the process an operator runs beside API replicas
(DESIGN 6). It stops cleanly on SIGTERM or Ctrl-C: a run in progress is abandoned whole."""

from __future__ import annotations

import asyncio
import logging
import signal

import click

from recon.clitools import background_priority, json_option, print_json, settings_of
from recon.db.session import open_database
from recon.settings import Settings


@click.command()
@json_option
@click.pass_context
def scheduler(ctx: click.Context, as_json: bool) -> None:
    """Run the nightly reconciliation, its catch-up and its retries, until stopped."""
    from recon.system.logs import channel_secrets, configure_logging

    settings = settings_of(ctx)
    configure_logging(secrets=channel_secrets(settings.secrets))
    background_priority()
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
