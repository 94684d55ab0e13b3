"""`recon cases list` (DESIGN 6)."""

from __future__ import annotations

import click

from recon.cases.service import check_filter, list_cases
from recon.clitools import json_option, print_json, settings_of, with_session
from recon.dates import parse_date


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
    settings = settings_of(ctx)
    wanted = check_filter(
        status=status,
        day=None if day is None else parse_date(day, "--date"),
        case_type=case_type,
        channel=channel,
        channels=settings.channel_names(),
    )
    page = with_session(ctx, lambda s: list_cases(db_session=s, wanted=wanted), read_only=True)
    found = page.cases
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
