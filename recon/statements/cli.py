"""`recon statements pull` and `recon statements import` (DESIGN 2.4, 6)."""

from __future__ import annotations

from pathlib import Path

import click

from recon.clitools import (
    error_line,
    input_file,
    json_option,
    print_import_summary,
    print_json,
    refuse_rejected_import,
    run,
    settings_of,
)
from recon.dates import parse_date


@click.group()
def statements() -> None:
    """Channels' statements: pull them or import them from files."""


@statements.command("pull")
@click.option("--channel", required=True)
@click.option("--date", "day", required=True, help="Business day, YYYY-MM-DD.")
@json_option
@click.pass_context
def statements_pull(ctx: click.Context, channel: str, day: str, as_json: bool) -> None:
    """Pull and store one channel-day (no matching)."""
    from recon.statements.pull import pull_once

    result = run(pull_once(settings_of(ctx), channel, parse_date(day, "--date")))
    if as_json:
        print_json(result)
    else:
        for name, part in result["channels"].items():
            click.echo(
                f"{name} {result['date']}: {part['status']}, {part['lines']} lines, "
                f"{part['inserted']} new, {part['updated']} updated, "
                f"{part['duplicates']} duplicates"
                + (f" — {part['error']}" if part["error"] else "")
            )
    if result["status"] == "failed":
        errors = [part["error"] for part in result["channels"].values() if part["error"]]
        error_line(f"pull of {channel} {result['date']} failed: {'; '.join(errors)}")
        ctx.exit(1)


@statements.command("import")
@click.option("--channel", required=True)
@click.argument("file", type=click.Path(path_type=Path))
@json_option
@click.pass_context
def statements_import(ctx: click.Context, channel: str, file: Path, as_json: bool) -> None:
    """Import a statement file (CSV or XLSX), all or nothing (DESIGN 2.4)."""
    from recon.statements.imports import import_file

    summary = run(import_file(settings_of(ctx), channel, input_file(file)))
    print_import_summary(summary, as_json=as_json)
    refuse_rejected_import(file, summary)
