"""What every `recon` command shares: one event loop call, settings read once, JSON output,
dates checked by us (one line, not a usage dump), the import report, a session of its own, and
the cyclic collector paused around bulk work."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click
import msgspec

from recon.errors import BadInput
from recon.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

json_option = click.option("--json", "as_json", is_flag=True, help="Machine output on stdout.")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def settings_of(ctx: click.Context) -> Settings:
    root = ctx.find_root()
    if root.obj is None:
        root.obj = load_settings()
    settings: Settings = root.obj
    return settings


def print_json(value: Any) -> None:
    click.echo(msgspec.json.encode(value).decode())


def now() -> datetime:
    return datetime.now(UTC)


def parse_day(text: str, option: str = "--date") -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"{option}: {text!r} is not a date YYYY-MM-DD") from None


def with_session(
    ctx: click.Context,
    work: Callable[[AsyncSession], Coroutine[Any, Any, T]],
    *,
    read_only: bool = False,
) -> T:
    """Commands open their own session; they never borrow a request's. A command that only
    reads says so, and then never waits for SQLite's write lock."""
    from recon.db.session import open_database

    async def go() -> T:
        async with (
            open_database(settings_of(ctx).database_url, read_only=read_only) as sessionmaker,
            sessionmaker() as session,
        ):
            return await work(session)

    return run(go())


def print_import_summary(summary: Any, *, as_json: bool) -> None:
    if as_json:
        print_json(summary)
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


@contextmanager
def collector_paused() -> Iterator[None]:
    """Around work that makes a great many short-lived objects (a bulk import, a run): the
    cyclic garbage collector is paused. Its passes walked each batch's objects (and everything
    alive before) again and again, for nothing: a 200,000-row import leaves about 200 objects
    in cycles. Reference counting frees the rest as usual (docs/performance.md)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
