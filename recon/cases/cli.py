"""`recon cases list|show|resolve|approve|reject|reopen` (DESIGN 6)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import click

from recon.cases.schemas import CaseDetail
from recon.cases.service import check_filter, get_case, get_case_list, list_cases
from recon.cases.workflow import approve, reject, reopen, resolve
from recon.clitools import json_option, parse_id, print_json, settings_of, with_session
from recon.clock import utcnow
from recon.dates import parse_date
from recon.vocab import CASE_RESOLUTIONS

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


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


# --- one case, and acting on cases (DESIGN 4, "Workflow, precisely") ----------------------


def _print_case(case: CaseDetail) -> None:
    expected = "-" if case.expected_amount is None else case.expected_amount
    state = case.status if case.resolution is None else f"{case.status} ({case.resolution})"
    if case.pending_resolution is not None:
        state += f", {case.pending_resolution} awaiting an approver (asked by {case.pending_by})"
    click.echo(f"#{case.id} {case.type} {case.date} {case.channel or '-'}: {state}")
    click.echo(
        f"  {case.dossier_code or case.linked_dossier_code or '-'}  {expected} / "
        f"{case.actual_amount}  {', '.join(case.channel_txn_ids) or '-'}"
    )
    click.echo(f"  {case.explanation}")
    for event in case.history:
        who = event.actor or "engine"
        what = " ".join(x for x in (event.resolution, event.dossier_code) if x)
        moved = f"{event.from_status or '-'} -> {event.to_status}"
        click.echo(
            f"  {event.at:%Y-%m-%d %H:%M} {who:<12} {event.action:<8} {moved} {what}"
            f" {event.note}".rstrip()
        )


def _show(cases_after: list[CaseDetail], as_json: bool, *, many: bool = False) -> None:
    if as_json:
        print_json(cases_after if many else cases_after[0])
        return
    for case in cases_after:
        _print_case(case)


def _acted(
    ctx: click.Context, act: Callable[[AsyncSession], Awaitable[list[int]]]
) -> list[CaseDetail]:
    """Act in one session, then read the cases back in full."""

    async def go(session: AsyncSession) -> list[CaseDetail]:
        ids = await act(session)
        return (await get_case_list(db_session=session, case_ids=ids)).cases

    return with_session(ctx, go)


user_option = click.option("--user", "username", required=True, help="The account acting.")
note_option = click.option("--note", required=True, help="Why (required, not empty).")


@cases.command("show")
@click.argument("case_id", metavar="ID")
@json_option
@click.pass_context
def cases_show(ctx: click.Context, case_id: str, as_json: bool) -> None:
    """One case in full: lines, dossier, history."""
    wanted = parse_id(case_id, "ID")
    found = with_session(ctx, lambda s: get_case(db_session=s, case_id=wanted), read_only=True)
    _show([found], as_json)


@cases.command("resolve")
@click.argument("case_ids", metavar="ID [ID...]", nargs=-1, required=True)
@click.option("--resolution", required=True, help=", ".join(CASE_RESOLUTIONS))
@user_option
@note_option
@click.option("--dossier", "dossier_code", default=None, help="With `linked`: the dossier code.")
@json_option
@click.pass_context
def cases_resolve(
    ctx: click.Context,
    case_ids: tuple[str, ...],
    resolution: str,
    username: str,
    note: str,
    dossier_code: str | None,
    as_json: bool,
) -> None:
    """Resolve one or several live cases alike: all or none."""
    ids = [parse_id(text, "ID") for text in case_ids]
    settings = settings_of(ctx)
    found = _acted(
        ctx,
        lambda s: resolve(
            db_session=s,
            case_ids=ids,
            resolution=resolution,
            username=username,
            note=note,
            dossier_code=dossier_code,
            settings=settings,
            now=utcnow(),
            via="cli",
        ),
    )
    _show(found, as_json, many=len(found) > 1)


def _one(
    act: Callable[..., Awaitable[int]], **given: Any
) -> Callable[[AsyncSession], Awaitable[list[int]]]:
    async def go(session: AsyncSession) -> list[int]:
        return [await act(db_session=session, now=utcnow(), via="cli", **given)]

    return go


@cases.command("approve")
@click.argument("case_id", metavar="ID")
@user_option
@note_option
@json_option
@click.pass_context
def cases_approve(
    ctx: click.Context, case_id: str, username: str, note: str, as_json: bool
) -> None:
    """Approve a write-off awaiting an approver (never one's own request)."""
    wanted = parse_id(case_id, "ID")
    _show(_acted(ctx, _one(approve, case_id=wanted, username=username, note=note)), as_json)


@cases.command("reject")
@click.argument("case_id", metavar="ID")
@user_option
@note_option
@json_option
@click.pass_context
def cases_reject(ctx: click.Context, case_id: str, username: str, note: str, as_json: bool) -> None:
    """Turn down a write-off awaiting an approver: the case stays live."""
    wanted = parse_id(case_id, "ID")
    _show(_acted(ctx, _one(reject, case_id=wanted, username=username, note=note)), as_json)


@cases.command("reopen")
@click.argument("case_id", metavar="ID")
@user_option
@note_option
@json_option
@click.pass_context
def cases_reopen(ctx: click.Context, case_id: str, username: str, note: str, as_json: bool) -> None:
    """Reopen a resolved case (a link is undone)."""
    wanted = parse_id(case_id, "ID")
    settings = settings_of(ctx)
    act = _one(reopen, case_id=wanted, username=username, note=note, settings=settings)
    _show(_acted(ctx, act), as_json)
