"""`recon reconcile --date D [--channel C] [--no-pull]` (DESIGN 6).

A run's JSON is printed whatever its outcome, a refusal included: a day that is closed, or
whose lease another run holds, prints the run it would have been (`run_id` null, `status`
"refused", the reason, every channel `skipped`, counts 0) and exits 4 with the reason on stderr.
"""

from __future__ import annotations

from datetime import date

import click

from recon.clitools import (
    collector_paused,
    error_line,
    json_option,
    print_json,
    run,
    settings_of,
)
from recon.dates import parse_date
from recon.db.session import open_database
from recon.errors import Conflict
from recon.runs.schemas import RunResult
from recon.runs.service import reconcile_day
from recon.schemas import Out
from recon.settings import Settings
from recon.statements.channels import channel_config
from recon.statements.schemas import ChannelOutcome

EXIT_STATUS = {"succeeded": 0, "partial": 3, "failed": 1, "refused": 4}


class RefusedRun(Out):
    """The JSON of a run refused before it began (a closed day, a held lease): no run."""

    run_id: None = None
    date: str
    status: str = "refused"
    reason: str
    channels: dict[str, dict[str, object]]
    matched: int = 0
    cases_opened: int = 0
    cases_closed: int = 0
    cases_open: int = 0


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
    settings, when = settings_of(ctx), parse_date(day, "--date")
    try:
        with collector_paused():
            result = run(reconcile_once(settings, when, channel, pull=not no_pull))
    except Conflict as refusal:
        refused = refused_run(settings, when, channel, refusal.detail)
        if as_json:
            print_json(refused)
        else:
            click.echo(f"run of {refused.date}: refused; {refused.reason}")
        raise  # main() prints the one error line on stderr and exits 4
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
    if result.status != "succeeded":
        error_line(run_failure(result))
    ctx.exit(EXIT_STATUS[result.status])


def run_failure(result: RunResult) -> str:
    """The error line of a run that did not succeed: which channels failed, and why."""
    failed = [
        part["error"] or f"{name}: failed"
        for name, part in result.channels.items()
        if part["status"] == "failed"
    ]
    return f"run {result.run_id} of {result.date} {result.status}: {'; '.join(failed)}"


def refused_run(settings: Settings, day: date, channel: str | None, reason: str) -> RefusedRun:
    channels = [channel] if channel else settings.channel_names()
    skipped = ChannelOutcome(status="skipped").as_json()
    return RefusedRun(
        date=day.isoformat(), reason=reason, channels={name: dict(skipped) for name in channels}
    )


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
