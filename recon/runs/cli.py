"""`recon reconcile --date D [--channel C] [--no-pull]` (DESIGN 6)."""

from __future__ import annotations

from datetime import date

import click

from recon.clitools import (
    collector_paused,
    json_option,
    parse_day,
    print_json,
    run,
    settings_of,
)
from recon.db.session import open_database
from recon.runs.service import RunResult, reconcile_day
from recon.settings import Settings
from recon.statements.channels import channel_config


@click.command()
@click.option("--date", "day", required=True, help="Business day, YYYY-MM-DD.")
@click.option("--channel", default=None, help="Only this channel (default: every channel).")
@click.option("--no-pull", is_flag=True, help="Match what is stored; pull nothing.")
@json_option
@click.pass_context
def reconcile(
    ctx: click.Context, day: str, channel: str | None, no_pull: bool, as_json: bool
) -> None:
    """A run: pull, store, match and judge one business day."""
    # A run holds a day's lines, dossiers and cases (hundreds of thousands of small objects)
    # until it ends; the cyclic collector would walk them again and again, a fifth of the
    # engine's time. This process ends with the run and frees them all at once.
    with collector_paused():
        result = run(reconcile_once(settings_of(ctx), parse_day(day), channel, pull=not no_pull))
    if as_json:
        print_json(result)
    else:
        click.echo(
            f"run {result.run_id} of {result.date}: {result.status}; matched {result.matched}, "
            f"cases opened {result.cases_opened}, closed {result.cases_closed}, "
            f"open on the day {result.cases_open}"
        )
        for name, part in result.channels.items():
            error = f" — {part['error']}" if part["error"] else ""
            click.echo(f"  {name}: {part['status']}, {part['lines']} lines{error}")
    ctx.exit({"succeeded": 0, "partial": 3, "failed": 1}[result.status])


async def reconcile_once(
    settings: Settings, day: date, channel: str | None, *, pull: bool
) -> RunResult:
    if channel is not None:
        channel_config(settings, channel)
    # the run makes its own HTTP client when it has a channel to pull, and only then
    async with open_database(settings.database_url) as sessionmaker:
        return await reconcile_day(
            sessionmaker=sessionmaker, settings=settings, day=day, channel=channel, pull=pull
        )
