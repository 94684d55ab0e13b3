"""The `recon` command: parse, call a service, print (JSON with --json). Errors are one line.

Each domain keeps its commands beside its service (`recon/<domain>/cli.py`); this module holds
the group, the service commands (serve, db, demo) and the one entry point that turns every
failure into one line on stderr and an exit status of DESIGN 6.
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path

import click

from recon.clitools import error_line, json_option, print_json, run, settings_of
from recon.errors import BadInput

# Each domain's commands, imported only when named: a process runs one command, and `recon
# reconcile` (30 processes a month) must not pay for the spreadsheet writer, the channel
# adapters or the web stack it never uses. `recon --help` imports them all.
DOMAIN_COMMANDS = {
    "apikeys": "recon.auth.cli:apikeys",
    "cases": "recon.cases.cli:cases",
    "days": "recon.days.cli:days",
    "dossiers": "recon.dossiers.cli:dossiers",
    "ledger": "recon.ledger.cli:ledger",
    "reconcile": "recon.runs.cli:reconcile",
    "runs": "recon.runs.cli:runs",
    "scheduler": "recon.schedule.cli:scheduler",
    "statements": "recon.statements.cli:statements",
    "users": "recon.auth.cli:users",
}


class LazyGroup(click.Group):
    """A group whose domain commands are imported when asked for (click's documented way)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *DOMAIN_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in DOMAIN_COMMANDS:
            return domain_command(cmd_name)
        return super().get_command(ctx, cmd_name)


def domain_command(name: str) -> click.Command:
    module, attribute = DOMAIN_COMMANDS[name].split(":")
    command = getattr(importlib.import_module(module), attribute)
    assert isinstance(command, click.Command)
    return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def recon_group() -> None:
    """recon: reconcile a ward's fee payments with the channels' statements."""


# --- service ------------------------------------------------------------------------------


@recon_group.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-scheduler", is_flag=True, help="Serve without the embedded scheduler.")
@json_option
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, no_scheduler: bool, as_json: bool) -> None:
    """Serve the API and web UI."""
    from recon.server import bind_listener, serve_app

    settings = settings_of(ctx)
    with bind_listener(host, port) as listener:
        serve_app(
            settings, listener, host=host, port=port, as_json=as_json, scheduler=not no_scheduler
        )


@recon_group.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@json_option
def db_upgrade(as_json: bool) -> None:
    """Migrate the database to the newest schema."""
    from recon.db.migrate import head_revision, upgrade
    from recon.settings import database_url

    # the database URL only: migrating needs no channel secret and no RECON_CONFIG
    run(upgrade(database_url()))
    result = {"status": "ok", "schema": head_revision()}
    print_json(result) if as_json else click.echo(f"database at schema {result['schema']}")


@db.command("backup")
@click.argument("output", metavar="FILE", type=click.Path(path_type=Path))
@json_option
def db_backup(output: Path, as_json: bool) -> None:
    """Copy the SQLite database to FILE, online (PostgreSQL: pg_dump -Fc)."""
    from recon.db.backup import backup_database
    from recon.settings import database_url

    done = backup_database(database_url(), output)  # like `db upgrade`: the URL alone
    if as_json:
        print_json(done)
    else:
        click.echo(
            f"backed up {done.database} to {done.backup} ({done.bytes} bytes, schema {done.schema})"
        )


@recon_group.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--load-only",
    is_flag=True,
    help="Load from the channels of RECON_CONFIG (simulators already running) and exit: "
    "no simulator started, nothing served.",
)
@click.option(
    "--days",
    type=click.IntRange(1, 366),
    default=30,
    show_default=True,
    help="How many days to load, ending yesterday.",
)
@json_option
@click.pass_context
def demo(
    ctx: click.Context, host: str, port: int, load_only: bool, days: int, as_json: bool
) -> None:
    """Start the channel simulators, load and reconcile a demo ward, then serve."""
    from recon.demo import demo_range, demo_settings, load_demo, start_simulators
    from recon.server import bind_listener, serve_app

    settings = settings_of(ctx)
    if load_only:
        if not settings.channels:
            raise BadInput("recon demo --load-only: RECON_CONFIG names no channel to load from")
        summary = run(load_demo(settings, *demo_range(days=days)))
        print_json(summary) if as_json else click.echo(summary["message"])
        return
    # the port first: a port in use must start no simulator and rewrite no var/demo.toml
    with bind_listener(host, port) as listener:
        start, end = demo_range(days=days)
        sims = start_simulators(start, end)
        try:
            settings = demo_settings(settings, sims, Path("var"))
            summary = run(load_demo(settings, start, end))
            if as_json:
                print_json(summary)
            else:
                click.echo(summary["message"])
                click.echo(f"channel simulators at {', '.join(sims.urls.values())}")
            serve_app(settings, listener, host=host, port=port, as_json=as_json)
        finally:
            sims.stop()


def main(argv: list[str] | None = None) -> int:
    """Entry point: every failure is one line on stderr and an exit status of DESIGN 6."""
    from sqlalchemy.exc import DBAPIError, IntegrityError

    from recon.db.errors import domain_error
    from recon.errors import ReconError

    quiet_library_logs()
    try:
        status = recon_group.main(args=argv, prog_name="recon", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        error_line("aborted", prefix="recon: ")
        return 1
    except click.ClickException as exc:
        error_line(exc.format_message())
        return 2
    except ReconError as exc:
        error_line(exc.detail)
        return exc.exit_code
    except IntegrityError as exc:  # a broken constraint: a Conflict, as over HTTP
        conflict = domain_error(exc)
        error_line(conflict.detail)
        return conflict.exit_code
    except DBAPIError as exc:
        reason = str(exc.orig).strip() if exc.orig else type(exc).__name__
        hint = " (is the schema at head? `recon db upgrade`)" if _schema_smell(reason) else ""
        error_line(f"database: {reason}{hint}")
        return 1
    except OSError as exc:
        error_line(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return 1
    except Exception as exc:  # a bug: still one line, never a traceback on the operator's screen
        error_line(f"{type(exc).__name__}: {exc}", prefix="recon: internal error: ")
        return 1
    return status if isinstance(status, int) else 0


def quiet_library_logs() -> None:
    """A command's failure is its one error line (and its output); what the service and the
    adapters log on the way (each retry of a channel, a pull that failed) must not add lines
    to stderr through logging's last-resort handler. `serve` and `demo` log as servers do."""
    for name in ("recon", "adapters"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())


def _schema_smell(reason: str) -> bool:
    lowered = reason.lower()
    return any(s in lowered for s in ("no such table", "no such column", "undefined"))


if __name__ == "__main__":
    sys.exit(main())
