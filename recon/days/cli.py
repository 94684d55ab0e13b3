"""`recon days close`, `recon days reopen`, `recon days list` (DESIGN 6)."""

from __future__ import annotations

import click

from recon.clitools import json_option, print_json, settings_of, with_session
from recon.clock import utcnow
from recon.dates import parse_date
from recon.days.schemas import DayOut
from recon.days.service import close_day, day_events, list_days, reopen_day


def _print_day(day: DayOut, as_json: bool) -> None:
    if as_json:
        print_json(day)
    else:
        who = f" by {day.closed_by}" if day.closed_by else ""
        click.echo(f"{day.date.isoformat()} {day.status}{who}: {day.note}")


@click.group()
def days() -> None:
    """Closing business days ("chốt sổ")."""


@days.command("close")
@click.option("--date", "day", required=True)
@click.option("--user", "username", required=True, help="Who closes (an accountant).")
@click.option("--note", required=True, help="Sign-off; name each live case as #id.")
@json_option
@click.pass_context
def days_close(ctx: click.Context, day: str, username: str, note: str, as_json: bool) -> None:
    """Close a business day for every channel; its ledger figures are frozen."""
    when = parse_date(day, "--date")
    channels = settings_of(ctx).channel_names()
    closed = with_session(
        ctx,
        lambda s: close_day(
            db_session=s, day=when, username=username, note=note, channels=channels, now=utcnow()
        ),
    )
    _print_day(closed, as_json)


@days.command("reopen")
@click.option("--date", "day", required=True)
@click.option("--user", "username", required=True, help="Who reopens (an approver).")
@click.option("--note", required=True)
@json_option
@click.pass_context
def days_reopen(ctx: click.Context, day: str, username: str, note: str, as_json: bool) -> None:
    """Reopen a closed business day (an approver's act)."""
    when = parse_date(day, "--date")
    reopened = with_session(
        ctx,
        lambda s: reopen_day(db_session=s, day=when, username=username, note=note, now=utcnow()),
    )
    _print_day(reopened, as_json)


@days.command("list")
@click.option("--events", is_flag=True, help="The audit log of closes and reopens instead.")
@json_option
@click.pass_context
def days_list(ctx: click.Context, events: bool, as_json: bool) -> None:
    """Days that were ever closed, and their state."""
    if events:
        found = with_session(ctx, lambda s: day_events(db_session=s), read_only=True)
        if as_json:
            print_json(found)
            return
        for event in found:
            when = f"{event.at:%Y-%m-%d %H:%M}"
            click.echo(f"{event.date} {event.action:<7} {event.user:<16} {when} {event.note}")
        return
    listed = with_session(ctx, lambda s: list_days(db_session=s), read_only=True)
    if as_json:
        print_json(listed)
        return
    for day in listed:
        _print_day(day, False)
