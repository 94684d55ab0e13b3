"""`recon cases list` (DESIGN 6)."""

from __future__ import annotations

from datetime import date

import click

from recon.cases.schemas import CaseSummary
from recon.cases.service import check_filter, list_cases
from recon.clitools import json_option, parse_day, print_json, run, settings_of
from recon.db.session import open_database
from recon.settings import Settings


@click.group()
def cases() -> None:
    """The mismatch queue."""


@cases.command("list")
@click.option(
    "--status", default="open", help="open (live: open and reopened), resolved, closed, all"
)
@click.option("--date", "day", default=None, help="Business day, YYYY-MM-DD.")
@click.option("--type", "case_type", default=None)
@click.option("--channel", default=None)
@json_option
@click.pass_context
def cases_list(
    ctx: click.Context,
    status: str,
    day: str | None,
    case_type: str | None,
    channel: str | None,
    as_json: bool,
) -> None:
    """List cases (live ones by default)."""
    found = run(
        list_cases_once(
            settings_of(ctx),
            status=status,
            day=None if day is None else parse_day(day),
            case_type=case_type,
            channel=channel,
        )
    )
    if as_json:
        print_json(found)
        return
    for case in found:
        expected = "-" if case.expected_amount is None else case.expected_amount
        amounts = f"{expected} / {case.actual_amount}"
        click.echo(
            f"{case.id:>6}  {case.date}  {case.type:<26} {case.status:<9} "
            f"{case.channel or '-':<8} {case.dossier_code or '-':<22} {amounts}"
        )


async def list_cases_once(
    settings: Settings,
    *,
    status: str,
    day: date | None,
    case_type: str | None,
    channel: str | None,
) -> list[CaseSummary]:
    wanted = check_filter(
        status=status,
        day=day,
        case_type=case_type,
        channel=channel,
        channels=settings.channel_names(),
    )
    database = open_database(settings.database_url, read_only=True)
    async with database as sessionmaker, sessionmaker() as session:
        return (await list_cases(session, wanted)).cases
