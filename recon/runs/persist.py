"""Writing what the engine decided: matches, and cases that keep their id while they hold.

A live case whose identity still holds keeps its id, state and history (amounts updated); a
live case that no longer holds is closed with the reason; a resolved case is left as the person
left it; a new identity opens a new case. Every change is an event in the append-only log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime

import msgspec
from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.chunks import chunks
from recon.db.models import (
    LIVE_CASE_STATUSES,
    Case,
    CaseEvent,
    CaseLine,
    Match,
    StatementLineRow,
    table,
)
from recon.matching.types import CaseOut, Resolution

ENGINE = "engine"


class CaseCounts(msgspec.Struct, kw_only=True):
    opened: int = 0
    closed: int = 0
    updated: int = 0


async def write_matches(
    session: AsyncSession,
    resolutions: Sequence[Resolution],
    stored: dict[int, Match],
    *,
    run_id: int,
    now: datetime,
) -> None:
    """Insert, change or remove each line's match; an unchanged match is left alone. Each
    line's `matched` bit, which the ledger sums by, follows its match in the same transaction."""
    new, gone = [], []
    linked: list[int] = []  # lines that gain a match
    unlinked: list[int] = []  # lines that lose theirs
    for resolution in resolutions:
        current = stored.get(resolution.line_id)
        fields = msgspec.json.encode(resolution.fields).decode()
        if resolution.dossier_id is None or resolution.rule is None:
            if current is not None:
                gone.append(current.id)
                unlinked.append(resolution.line_id)
            continue
        if current is None:
            linked.append(resolution.line_id)
            new.append(
                {
                    "line_id": resolution.line_id,
                    "dossier_id": resolution.dossier_id,
                    "rule": resolution.rule,
                    "fields": fields,
                    "run_id": run_id,
                    "matched_at": now,
                }
            )
        elif (current.dossier_id, current.rule, current.fields) != (
            resolution.dossier_id,
            resolution.rule,
            fields,
        ):
            current.dossier_id = resolution.dossier_id
            current.rule = resolution.rule
            current.fields = fields
            current.run_id = run_id
            current.matched_at = now
    for part in chunks(gone):
        await session.execute(delete(Match).where(Match.id.in_(part)))
    await _set_matched(session, unlinked, matched=False)
    if new:
        await session.execute(insert(table(Match)), new)
        await _set_matched(session, linked, matched=True)
    await session.flush()


async def _set_matched(session: AsyncSession, line_ids: Sequence[int], *, matched: bool) -> None:
    # through the Core table: the ORM would look for each chunk's lines in the session
    lines = table(StatementLineRow)
    for part in chunks(line_ids):
        await session.execute(update(lines).where(lines.c.id.in_(part)).values(matched=matched))


async def cases_in_scope(
    session: AsyncSession,
    *,
    dossier_ids: Iterable[int],
    line_ids: Iterable[int],
    identities: Iterable[str],
    channel_days: Iterable[tuple[str, date]],
) -> list[Case]:
    """Every case not closed whose subject the run judged."""
    found: dict[int, Case] = {}
    not_closed = Case.status != "closed"
    for part in chunks(sorted(set(dossier_ids))):
        query = select(Case).where(not_closed, Case.dossier_id.in_(part))
        found.update((c.id, c) for c in (await session.execute(query)).scalars())
    for part in chunks(sorted(set(line_ids))):
        about = select(CaseLine.case_id).where(CaseLine.line_id.in_(part))
        query = select(Case).where(not_closed, Case.id.in_(about), Case.dossier_id.is_(None))
        found.update((c.id, c) for c in (await session.execute(query)).scalars())
    for names in chunks(sorted(set(identities))):
        query = select(Case).where(not_closed, Case.identity.in_(names))
        found.update((c.id, c) for c in (await session.execute(query)).scalars())
    days = [
        Case.identity == f"CONTROL_TOTAL_MISMATCH:{channel}:{day.isoformat()}"
        for channel, day in channel_days
    ]
    if days:
        query = select(Case).where(not_closed, or_(*days))
        found.update((c.id, c) for c in (await session.execute(query)).scalars())
    return [found[k] for k in sorted(found)]


def _event(
    case_id: int,
    action: str,
    before: str | None,
    after: str,
    run_id: int,
    now: datetime,
    changes: Mapping[str, object] | None = None,
    note: str = "",
) -> dict[str, object]:
    return {
        "case_id": case_id,
        "at": now,
        "actor": ENGINE,
        "action": action,
        "status_before": before,
        "status_after": after,
        "changes": msgspec.json.encode(changes or {}).decode(),
        "note": note,
        "run_id": run_id,
    }


async def write_cases(
    session: AsyncSession,
    decided: Sequence[CaseOut],
    existing: Sequence[Case],
    *,
    run_id: int,
    now: datetime,
) -> CaseCounts:
    stored_lines = await case_line_ids(session, [case.id for case in existing])
    counts = CaseCounts()
    by_identity = {case.identity: case for case in existing}
    events: list[dict[str, object]] = []
    line_links: list[dict[str, int]] = []
    stale_links: list[int] = []
    for out in decided:
        case = by_identity.pop(out.identity, None)
        if case is None:
            case = Case(
                type=out.type,
                status="open",
                identity=out.identity,
                business_day=out.day,
                channel=out.channel,
                dossier_id=out.dossier_id,
                expected_amount=out.expected,
                actual_amount=out.actual,
                rule=out.rule,
                explanation=out.explanation,
                opened_run_id=run_id,
                updated_run_id=run_id,
                created_at=now,
                updated_at=now,
            )
            session.add(case)
            await session.flush()
            counts.opened += 1
            events.append(
                _event(case.id, "opened", None, "open", run_id, now, note=out.explanation)
            )
            line_links.extend({"case_id": case.id, "line_id": i} for i in out.line_ids)
            continue
        if case.status not in LIVE_CASE_STATUSES:
            continue  # resolved: left as the person left it
        changes: dict[str, tuple[object, object]] = _changes(case, out)
        if stored_lines.get(case.id, ()) != out.line_ids:
            changes["line_ids"] = (stored_lines.get(case.id, ()), out.line_ids)
        if changes:
            for field, (_, after) in changes.items():
                if field != "line_ids":
                    setattr(case, field, after)
            case.updated_run_id = run_id
            case.updated_at = now
            counts.updated += 1
            events.append(
                _event(case.id, "updated", case.status, case.status, run_id, now, changes)
            )
            if "line_ids" in changes:
                stale_links.append(case.id)
                line_links.extend({"case_id": case.id, "line_id": i} for i in out.line_ids)
    for case in by_identity.values():
        if case.status not in LIVE_CASE_STATUSES:
            continue
        reason = "Không còn sai lệch: lần đối soát này không còn thấy trường hợp này."
        events.append(_event(case.id, "closed", case.status, "closed", run_id, now, note=reason))
        case.status = "closed"
        case.close_reason = reason
        case.updated_run_id = run_id
        case.updated_at = now
        counts.closed += 1
    for part in chunks(stale_links):
        await session.execute(delete(CaseLine).where(CaseLine.case_id.in_(part)))
    if line_links:
        await session.execute(insert(table(CaseLine)), line_links)
    if events:
        await session.execute(insert(table(CaseEvent)), events)
    await session.flush()
    return counts


def _changes(case: Case, out: CaseOut) -> dict[str, tuple[object, object]]:
    fields = {
        "business_day": (case.business_day, out.day),
        "channel": (case.channel, out.channel),
        "dossier_id": (case.dossier_id, out.dossier_id),
        "expected_amount": (case.expected_amount, out.expected),
        "actual_amount": (case.actual_amount, out.actual),
        "rule": (case.rule, out.rule),
        "explanation": (case.explanation, out.explanation),
    }
    return {k: v for k, v in fields.items() if v[0] != v[1]}


async def case_line_ids(
    session: AsyncSession, case_ids: Sequence[int]
) -> dict[int, tuple[int, ...]]:
    found: dict[int, list[int]] = {}
    for part in chunks(list(case_ids)):
        query = select(CaseLine.case_id, CaseLine.line_id).where(CaseLine.case_id.in_(part))
        for case_id, line_id in await session.execute(query):
            found.setdefault(case_id, []).append(line_id)
    return {k: tuple(sorted(v)) for k, v in found.items()}
