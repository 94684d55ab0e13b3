"""`recon reconcile --date D | --from D --to D [--channel C] [--no-pull]` and `recon runs list`
(DESIGN 6).

A run's JSON is printed whatever its outcome, a refusal included: a day that is closed, or
whose lease another run holds, prints the run it would have been (`run_id` null, `status`
"refused", the reason, every channel `skipped`, counts 0) and exits 4 with the reason on stderr.
A range prints a JSON list of runs, oldest first, and exits with the status of the worst run:
refused (4) is worse than failed (1), failed worse than partial (3), partial worse than 0.
"""

from __future__ import annotations

import gc
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import click

from recon.clitools import (
    background_priority,
    collector_paused,
    error_line,
    json_option,
    print_json,
    run,
    settings_of,
    with_session,
)
from recon.dates import parse_date
from recon.db.session import open_database
from recon.errors import BadInput, Conflict
from recon.runs.batch import Outcome, reconcile_days
from recon.runs.schemas import RefusedRun, RunView
from recon.runs.service import list_runs
from recon.settings import Settings

EXIT_STATUS = {"succeeded": 0, "partial": 3, "failed": 1, "refused": 4}
WORST_FIRST = ("refused", "failed", "partial", "succeeded")
MAX_RANGE_DAYS = 366


@click.command()
@click.option("--date", "day", default=None, help="Business day, YYYY-MM-DD.")
@click.option("--from", "start", default=None, help="First business day of a range.")
@click.option("--to", "end", default=None, help="Last business day of a range.")
@click.option("--channel", default=None, help="Only this channel (default: every channel).")
@click.option("--no-pull", is_flag=True, help="Match what is stored; pull nothing.")
@json_option
@click.pass_context
def reconcile(
    ctx: click.Context,
    day: str | None,
    start: str | None,
    end: str | None,
    channel: str | None,
    no_pull: bool,
    as_json: bool,
) -> None:
    """A run: pull, store, match and judge one business day, or each day of a range."""
    settings = settings_of(ctx)
    days = _days(day, start, end)
    background_priority()
    # A run holds a day's lines, dossiers and cases (hundreds of thousands of small objects)
    # until it ends; the cyclic collector would walk them again and again, a fifth of the
    # engine's time. Paused, it collects once between the days of a range, so a long range
    # does not pile up each run's few cycles.
    with collector_paused():
        outcomes = run(_reconcile(settings, days, channel, pull=not no_pull))
    if day is not None:
        _report_one(ctx, outcomes[0], as_json)
        return
    if as_json:
        print_json(outcomes)
    else:
        for outcome in outcomes:
            _echo(outcome)
    worst = min((o.status for o in outcomes), key=WORST_FIRST.index)
    if worst != "succeeded":
        broken = [o for o in outcomes if o.status == worst]
        error_line(f"{len(broken)} of {len(outcomes)} runs {worst}: {_failure(broken[0])}")
    ctx.exit(EXIT_STATUS[worst])


def _days(day: str | None, first: str | None, last: str | None) -> list[date]:
    if day is not None:
        if first is not None or last is not None:
            raise BadInput("give --date, or --from and --to, not both")
        return [parse_date(day, "--date")]
    if first is None or last is None:
        raise BadInput("give --date D, or a range with --from D --to D")
    start, end = parse_date(first, "--from"), parse_date(last, "--to")
    if start > end:
        raise BadInput(f"--from {start} is after --to {end}")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise BadInput(f"a range is at most {MAX_RANGE_DAYS} days; split {start}..{end}")
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _report_one(ctx: click.Context, outcome: Outcome, as_json: bool) -> None:
    if as_json:
        print_json(outcome)
    else:
        _echo(outcome)
    if isinstance(outcome, RefusedRun):
        raise Conflict(outcome.reason)  # main() prints the one error line on stderr, exit 4
    if outcome.status != "succeeded":
        error_line(_failure(outcome))
    ctx.exit(EXIT_STATUS[outcome.status])


def _echo(outcome: Outcome) -> None:
    if isinstance(outcome, RefusedRun):
        click.echo(f"run of {outcome.date}: refused; {outcome.reason}")
        return
    click.echo(
        f"run {outcome.run_id} of {outcome.date}: {outcome.status}; matched {outcome.matched}, "
        f"cases opened {outcome.cases_opened}, closed {outcome.cases_closed}, "
        f"open on the day {outcome.cases_open}"
    )
    for name, part in outcome.channels.items():
        error = f" — {part['error']}" if part["error"] else ""
        click.echo(f"  {name}: {part['status']}, {part['lines']} lines{error}")


def _failure(outcome: Outcome) -> str:
    """Why a run did not succeed: the refusal, or which channels failed and why."""
    if isinstance(outcome, RefusedRun):
        return f"run of {outcome.date} refused: {outcome.reason}"
    failed = [
        part["error"] or f"{name}: failed"
        for name, part in outcome.channels.items()
        if part["status"] == "failed"
    ]
    if outcome.error:
        failed.append(outcome.error)
    return f"run {outcome.run_id} of {outcome.date} {outcome.status}: {'; '.join(failed)}"


async def _reconcile(
    settings: Settings, days: list[date], channel: str | None, *, pull: bool
) -> list[Outcome]:
    # the runs make their HTTP client when they have a channel to pull, and only then
    async with open_database(settings.database_url) as sessionmaker:
        return await reconcile_days(
            sessionmaker=sessionmaker,
            settings=settings,
            plan=[(day, "manual") for day in days],
            channel=channel,
            pull=pull,
            after_each=gc.collect,
        )


@click.group()
def runs() -> None:
    """Runs, newest first."""


@runs.command("list")
@click.option("--date", "day", default=None, help="Only the runs of this business day.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@json_option
@click.pass_context
def runs_list(ctx: click.Context, day: str | None, limit: int, as_json: bool) -> None:
    """Runs, newest first: when, why (trigger), and each channel's status and error."""
    when = None if day is None else parse_date(day, "--date")
    found = with_session(
        ctx, lambda s: list_runs(db_session=s, day=when, limit=limit), read_only=True
    )
    views = [RunView.of(r) for r in found]
    if as_json:
        print_json(views)
        return
    tz = ZoneInfo(settings_of(ctx).timezone)  # the JSON says UTC; people read local time
    for view in views:
        started = f"{view.started_at.astimezone(tz):%Y-%m-%d %H:%M:%S}"
        finished = f"{view.finished_at.astimezone(tz):%H:%M:%S}" if view.finished_at else "-"
        click.echo(
            f"{view.run_id:>6}  {view.date}  {view.status:<10} {view.trigger:<9} "
            f"{started} → {finished}"
        )
        for name, part in view.channels.items():
            error = f" — {part.get('error')}" if part.get("error") else ""
            click.echo(f"        {name}: {part.get('status')}{error}")
        if view.error:
            click.echo(f"        error: {view.error}")
