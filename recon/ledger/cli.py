"""`recon ledger --from D --to D [--channel C] [--format json|csv|xlsx] [--output FILE]`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from recon.clitools import settings_of, with_session
from recon.dates import parse_date
from recon.errors import BadInput
from recon.ledger.exports import FORMATS, render_ledger
from recon.ledger.service import build_ledger, check_range, ledger_channels


@click.command()
@click.option("--from", "start", required=True, help="First business day, YYYY-MM-DD.")
@click.option("--to", "end", required=True, help="Last business day (inclusive).")
@click.option("--channel", default=None)
@click.option("--format", "fmt", default="json", help="json (default), csv or xlsx")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True, help="The same as --format json.")
@click.pass_context
def ledger(
    ctx: click.Context,
    start: str,
    end: str,
    channel: str | None,
    fmt: str,
    output: Path | None,
    as_json: bool,
) -> None:
    """The daily ledger over an inclusive range (DESIGN 5)."""
    fmt = "json" if as_json else fmt.strip().lower()
    if fmt not in FORMATS:
        raise BadInput(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    settings = settings_of(ctx)
    channels = ledger_channels(settings, channel)
    first, last = parse_date(start, "--from"), parse_date(end, "--to")
    check_range(first, last, names=("--from", "--to"))  # in the CLI's words
    ledger_ = with_session(
        ctx,
        lambda s: build_ledger(db_session=s, start=first, end=last, channels=channels),
        read_only=True,
    )
    data = render_ledger(ledger_, fmt, ward_name=settings.ward_name)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        output.write_bytes(data)
