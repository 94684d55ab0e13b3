"""`recon dossiers import FILE` (DESIGN 2.5)."""

from __future__ import annotations

from pathlib import Path

import click

from recon.clitools import (
    input_file,
    json_option,
    print_import_summary,
    refuse_rejected_import,
    run,
    settings_of,
)


@click.group()
def dossiers() -> None:
    """Dossiers that fees are owed on."""


@dossiers.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@json_option
@click.pass_context
def dossiers_import(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Import dossiers from CSV or JSON, all or nothing (DESIGN 2.5)."""
    from recon.dossiers.imports import import_dossier_file

    summary = run(import_dossier_file(settings_of(ctx), input_file(file)))
    print_import_summary(summary, as_json=as_json)
    refuse_rejected_import(file, summary)
