"""`recon dossiers import FILE` (DESIGN 2.5)."""

from __future__ import annotations

from pathlib import Path

import click

from recon.clitools import json_option, print_import_summary, run, settings_of


@click.group()
def dossiers() -> None:
    """Dossiers that fees are owed on."""


@dossiers.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@click.pass_context
def dossiers_import(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Import dossiers from CSV or JSON, all or nothing (DESIGN 2.5)."""
    from recon.dossiers.imports import import_dossier_file

    summary = run(import_dossier_file(settings_of(ctx), file))
    print_import_summary(summary, as_json=as_json)
    if summary.rejected:
        ctx.exit(2)
