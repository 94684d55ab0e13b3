"""The `recon` command: parse, call a service, print (JSON with --json). Errors are one line."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
import msgspec

from recon.errors import BadInput
from recon.settings import Settings, load_settings

T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _settings(ctx: click.Context) -> Settings:
    if ctx.obj is None:
        ctx.obj = load_settings()
    settings: Settings = ctx.obj
    return settings


def _print_json(value: Any) -> None:
    click.echo(msgspec.json.encode(value).decode())


json_option = click.option("--json", "as_json", is_flag=True, help="Machine output on stdout.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    from recon.server import serve_app

    serve_app(_settings(ctx), host=host, port=port, as_json=as_json)


@recon_group.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@json_option
@click.pass_context
def db_upgrade(ctx: click.Context, as_json: bool) -> None:
    """Migrate the database to the newest schema."""
    from recon.db.migrate import head_revision, upgrade

    _run(upgrade(_settings(ctx).database_url))
    result = {"status": "ok", "schema": head_revision()}
    _print_json(result) if as_json else click.echo(f"database at schema {result['schema']}")


@recon_group.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@json_option
@click.pass_context
def demo(ctx: click.Context, host: str, port: int, as_json: bool) -> None:
    """Start the channel simulators, load and reconcile a demo ward, then serve."""
    from recon.demo import demo_range, demo_settings, load_demo, start_simulators
    from recon.server import serve_app

    settings = _settings(ctx)
    start, end = demo_range()
    sims = start_simulators(start, end)
    try:
        settings = demo_settings(settings, sims, Path("var"))
        summary = _run(load_demo(settings, start, end))
        if as_json:
            _print_json(summary)
        else:
            click.echo(summary["message"])
            click.echo(f"channel simulators at {', '.join(sims.urls.values())}")
        serve_app(settings, host=host, port=port, as_json=as_json)
    finally:
        sims.stop()


# --- dossiers -----------------------------------------------------------------------------


@recon_group.group()
def dossiers() -> None:
    """Dossiers that fees are owed on."""


@dossiers.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@click.pass_context
def dossiers_import(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Import dossiers from CSV or JSON, all or nothing (DESIGN 2.5)."""
    from recon.dossiers.imports import import_dossier_file

    summary = _run(import_dossier_file(_settings(ctx), file))
    print_import_summary(summary, as_json=as_json)
    if summary.rejected:
        ctx.exit(2)


def print_import_summary(summary: Any, *, as_json: bool) -> None:
    if as_json:
        _print_json(summary)
        return
    click.echo(
        f"received {summary.received}, inserted {summary.inserted}, updated {summary.updated}, "
        f"duplicates {summary.duplicates}, rejected rows "
        f"{len({r.row for r in summary.rejected})}"
    )
    if summary.rejected:
        click.echo("nothing was stored. Rejected:")
        click.echo(f"{'row':>6}  {'column':<24}  reason")
        for r in summary.rejected:
            row = "-" if r.row is None else str(r.row)
            click.echo(f"{row:>6}  {r.column or '-':<24}  {r.reason}")


# --- statements ---------------------------------------------------------------------------


def parse_day(text: str, option: str = "--date") -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"{option}: {text!r} is not a date YYYY-MM-DD") from None


@recon_group.group()
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

    result = _run(pull_once(_settings(ctx), channel, parse_day(day)))
    if as_json:
        _print_json(result)
    else:
        for name, part in result["channels"].items():
            click.echo(
                f"{name} {result['date']}: {part['status']}, {part['lines']} lines, "
                f"{part['inserted']} new, {part['updated']} updated, "
                f"{part['duplicates']} duplicates"
                + (f" — {part['error']}" if part["error"] else "")
            )
    if result["status"] == "failed":
        ctx.exit(1)


@statements.command("import")
@click.option("--channel", required=True)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@click.pass_context
def statements_import(ctx: click.Context, channel: str, file: Path, as_json: bool) -> None:
    """Import a statement file (CSV or XLSX), all or nothing (DESIGN 2.4)."""
    from recon.statements.pull import import_file

    summary = _run(import_file(_settings(ctx), channel, file))
    print_import_summary(summary, as_json=as_json)
    if summary.rejected:
        ctx.exit(2)


# --- runs and cases -----------------------------------------------------------------------


@recon_group.command()
@click.option("--date", "day", required=True, help="Business day, YYYY-MM-DD.")
@click.option("--channel", default=None, help="Only this channel (default: every channel).")
@click.option("--no-pull", is_flag=True, help="Match what is stored; pull nothing.")
@json_option
@click.pass_context
def reconcile(
    ctx: click.Context, day: str, channel: str | None, no_pull: bool, as_json: bool
) -> None:
    """A run: pull, store, match and judge one business day."""
    from recon.runs.commands import reconcile_once

    result = _run(reconcile_once(_settings(ctx), parse_day(day), channel, pull=not no_pull))
    if as_json:
        _print_json(result)
    else:
        click.echo(
            f"run {result.run_id} of {result.date}: {result.status}; matched {result.matched}, "
            f"cases opened {result.cases_opened}, closed {result.cases_closed}, "
            f"open on the day {result.cases_open}"
        )
        for name, part in result.channels.items():
            error = f" — {part['error']}" if part["error"] else ""
            click.echo(f"  {name}: {part['status']}, {part['lines']} lines{error}")
    ctx.exit({"succeeded": 0, "partial": 3, "failed": 1}[result.status])


@recon_group.group()
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
    from recon.cases.commands import list_cases_once

    found = _run(
        list_cases_once(
            _settings(ctx),
            status=status,
            day=parse_day(day) if day else None,
            case_type=case_type,
            channel=channel,
        )
    )
    if as_json:
        _print_json(found)
        return
    for case in found:
        expected = "-" if case.expected_amount is None else case.expected_amount
        amounts = f"{expected} / {case.actual_amount}"
        click.echo(
            f"{case.id:>6}  {case.date}  {case.type:<26} {case.status:<9} "
            f"{case.channel or '-':<8} {case.dossier_code or '-':<22} {amounts}"
        )


# --- access -------------------------------------------------------------------------------


@recon_group.group()
def apikeys() -> None:
    """API keys for the services that call recon."""


@apikeys.command("create")
@click.option("--name", required=True)
@click.option("--scope", "scopes", multiple=True, help="Repeat for several scopes.")
@json_option
@click.pass_context
def apikeys_create(ctx: click.Context, name: str, scopes: tuple[str, ...], as_json: bool) -> None:
    """Create a key; it is printed once and never again."""
    from recon.auth import service

    key = _with_session(
        ctx,
        lambda s: service.create_api_key(db_session=s, name=name, scopes=list(scopes), now=_now()),
    )
    if as_json:
        _print_json(key)
    else:
        click.echo(f"API key {key.id} ({key.name}; {' '.join(key.scopes)}). Shown once:")
        click.echo(key.key)


@apikeys.command("list")
@json_option
@click.pass_context
def apikeys_list(ctx: click.Context, as_json: bool) -> None:
    """List keys (never their secrets)."""
    from recon.auth import service

    keys = _with_session(ctx, lambda s: service.list_api_keys(db_session=s))
    if as_json:
        _print_json(keys)
        return
    for k in keys:
        state = "revoked" if k.revoked_at else "active"
        click.echo(f"{k.id:>4}  {k.name:<24} {state:<8} {' '.join(k.scopes)}")


@apikeys.command("revoke")
@click.argument("key_id", type=int)
@json_option
@click.pass_context
def apikeys_revoke(ctx: click.Context, key_id: int, as_json: bool) -> None:
    """Revoke a key by its id."""
    from recon.auth import service

    key = _with_session(
        ctx, lambda s: service.revoke_api_key(db_session=s, key_id=key_id, now=_now())
    )
    _print_json(key) if as_json else click.echo(f"API key {key.id} ({key.name}) revoked")


@recon_group.group()
def users() -> None:
    """Accounts for the people who use the web UI and close days."""


@users.command("create")
@click.option("--username", required=True)
@click.option("--role", required=True, help="accountant, approver, viewer or admin")
@json_option
@click.pass_context
def users_create(ctx: click.Context, username: str, role: str, as_json: bool) -> None:
    """Create an account; the password is read from stdin."""
    from recon.auth import service

    password = sys.stdin.readline().rstrip("\r\n")
    user = _with_session(
        ctx,
        lambda s: service.create_user(
            db_session=s, username=username, role=role, password=password, now=_now()
        ),
    )
    _print_json(user) if as_json else click.echo(f"user {user.username} ({user.role}) created")


# --- plumbing -----------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _with_session(ctx: click.Context, work: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
    from recon.db.session import open_database

    async def run() -> T:
        async with open_database(_settings(ctx).database_url) as sessionmaker, sessionmaker() as s:
            return await work(s)

    return _run(run())


def main(argv: list[str] | None = None) -> int:
    """Entry point: every failure is one line on stderr and an exit status of DESIGN 6."""
    from sqlalchemy.exc import DBAPIError

    from recon.errors import ReconError

    try:
        status = recon_group.main(args=argv, prog_name="recon", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("recon: aborted", err=True)
        return 1
    except click.ClickException as exc:
        click.echo(f"recon: error: {exc.format_message()}", err=True)
        return 2
    except ReconError as exc:
        click.echo(f"recon: error: {exc.detail}", err=True)
        return exc.exit_code
    except DBAPIError as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
        click.echo(
            f"recon: error: database: {reason} (is the schema at head? `recon db upgrade`)",
            err=True,
        )
        return 1
    except OSError as exc:
        click.echo(
            f"recon: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True
        )
        return 1
    return status if isinstance(status, int) else 0


if __name__ == "__main__":
    sys.exit(main())
