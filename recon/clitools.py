"""What every `recon` command shares: one event loop call, settings read once, JSON output,
dates checked by us (one line, not a usage dump), the import report, a session of its own, and
the cyclic collector paused around bulk work."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import stat
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import msgspec

from recon.errors import BadInput
from recon.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

json_option = click.option("--json", "as_json", is_flag=True, help="Machine output on stdout.")

MAX_ID = 2**63 - 1  # BIGINT: no row has an id outside 1..MAX_ID


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


def error_line(message: str, *, prefix: str = "recon: error: ") -> None:
    """The one line on stderr, whatever the message holds (a value with a newline, a driver's
    detail spread over lines)."""
    parts = (part.strip() for part in message.splitlines())
    click.echo(prefix + " ".join(part for part in parts if part), err=True)


def parse_id(text: str, name: str) -> int:
    """A row's id: a whole number the database can hold, checked here (a larger one overflowed
    the SQLite driver: an internal error rather than "no such row")."""
    digits = text.strip()
    if digits.isascii() and digits.isdigit() and 1 <= int(digits) <= MAX_ID:
        return int(digits)
    raise BadInput(f"{name}: {text!r} is not an id (a whole number from 1 to {MAX_ID})")


def input_file(path: Path) -> Path:
    """A file to import: it must be a regular file. A directory or a missing one is bad input,
    and so is a FIFO or a device, which would be waited on, perhaps forever."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise BadInput(f"no such file: {path}") from None
    except OSError as exc:
        raise BadInput(f"{path}: {(exc.strerror or str(exc)).lower()}") from None
    if stat.S_ISDIR(mode):
        raise BadInput(f"{path} is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise BadInput(f"{path} is not a regular file")
    return path


def with_session(
    ctx: click.Context,
    work: Callable[[AsyncSession], Coroutine[Any, Any, T]],
    *,
    read_only: bool = False,
) -> T:
    """Commands open their own session; they never borrow a request's. A command that only
    reads says so, and then never waits for SQLite's write lock."""
    from recon.db.session import open_session

    async def go() -> T:
        async with open_session(settings_of(ctx).database_url, read_only=read_only) as session:
            return await work(session)

    return run(go())


READABLE_REJECTIONS = 1000  # the table's rows; --json gives them all


def print_import_summary(summary: Any, *, as_json: bool) -> None:
    if as_json:
        print_json(summary)
        return
    lines = [
        f"received {summary.received}, inserted {summary.inserted}, updated {summary.updated}, "
        f"duplicates {summary.duplicates}, rejected rows "
        f"{len({r.row for r in summary.rejected})}"
    ]
    if summary.rejected:
        lines += ["nothing was stored. Rejected:", f"{'row':>6}  {'column':<24}  reason"]
        for r in summary.rejected[:READABLE_REJECTIONS]:
            row = "-" if r.row is None else str(r.row)
            lines.append(f"{row:>6}  {r.column or '-':<24}  {r.reason}")
        if len(summary.rejected) > READABLE_REJECTIONS:
            more = len(summary.rejected) - READABLE_REJECTIONS
            lines.append(f"… and {more} more (all of them with --json)")
    click.echo("\n".join(lines))  # one write: a file can have a great many rejections


def refuse_rejected_import(path: Path, summary: Any) -> None:
    """An import with rejected rows stored nothing: after the report on stdout, the one error
    line on stderr and exit 2."""
    if not summary.rejected:
        return
    rows = {r.row for r in summary.rejected} - {None}
    if rows:
        what = f"{len(rows)} row{'s' if len(rows) > 1 else ''} rejected"
    else:
        what = summary.rejected[0].reason
    raise BadInput(f"{path.name}: {what}; nothing was stored")


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


# A run and the scheduler's runs give way to the API on the machine they share: a desk waits on
# the API's answer, while a night's run may take a few seconds longer (CPU weight ~10x less).
BATCH_NICENESS = 10


def background_priority() -> int:
    """Lower this process's CPU priority to `BATCH_NICENESS` unless it is lower already (an
    operator's own `nice` stands); the niceness it then has."""
    current = os.nice(0)
    if current < BATCH_NICENESS:
        # a sandbox may forbid it: the run then goes on at its priority
        with contextlib.suppress(OSError):
            current = os.nice(BATCH_NICENESS - current)
    return current
