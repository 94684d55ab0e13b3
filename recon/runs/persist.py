"""Writing what the engine decided: matches, and cases that keep their id while they hold.

A live case whose identity still holds keeps its id, state and history (amounts updated); a
live case that no longer holds is closed with the reason; a resolved case is left as the person
left it; a new identity opens a new case. Every change is an event in the append-only log.

Everything is written a statement per kind of change, not a statement per row: Core
executemany for inserts and updates (new cases come back with their ids through RETURNING),
and keys bound as one parameter (`one_of`) for deletes and lookups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import msgspec
from sqlalchemy import bindparam, delete, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.models import Case, CaseEvent, CaseLine, Match, StatementLineRow, table
from recon.db.sets import dialect_of, one_of, rows_of
from recon.matching.types import CaseOut, Resolution
from recon.runs.loader import StoredMatch
from recon.vocab import LIVE_CASE_STATUSES

CLOSE_REASON = "Không còn sai lệch: lần đối soát này không còn thấy trường hợp này."

_NEW_MATCH = ("line_id", "dossier_id", "rule", "fields")
_CASES = table(Case)
_CASE_LINES = table(CaseLine)
_MATCHES = table(Match)
# what judging a case compares, in `StoredCase`'s order
_CASE_COLUMNS = (
    _CASES.c.id,
    _CASES.c.status,
    _CASES.c.identity,
    _CASES.c.business_day,
    _CASES.c.channel,
    _CASES.c.dossier_id,
    _CASES.c.expected_amount,
    _CASES.c.actual_amount,
    _CASES.c.rule,
    _CASES.c.explanation,
)


_CASE_FIELDS = tuple(column.name for column in _CASE_COLUMNS)


class CaseCounts(msgspec.Struct, kw_only=True):
    opened: int = 0
    closed: int = 0
    updated: int = 0


class StoredCase(msgspec.Struct, frozen=True, kw_only=True):
    """A case not closed, as stored: the fields the engine decides, its id and status."""

    id: int
    status: str
    identity: str
    business_day: date
    channel: str | None
    dossier_id: int | None
    expected_amount: int | None
    actual_amount: int | None
    rule: str
    explanation: str


async def write_matches(
    session: AsyncSession,
    resolutions: Sequence[Resolution],
    stored: Mapping[int, StoredMatch],
    *,
    run_id: int | None,
    now: datetime,
) -> None:
    """Insert, change or remove each line's match; an unchanged match is left alone. Each
    line's `matched` bit, which the ledger sums by, follows its match in the same transaction."""
    new: list[tuple[int, int, str, str]] = []
    changed: list[dict[str, Any]] = []
    gone: list[int] = []
    unlinked: list[int] = []  # lines that lose their match
    encode = msgspec.json.encode
    for resolution in resolutions:
        current = stored.get(resolution.line_id)
        if resolution.dossier_id is None or resolution.rule is None:
            if current is not None:
                gone.append(current.id)
                unlinked.append(resolution.line_id)
            continue
        fields = encode(resolution.fields).decode()
        if current is None:
            new.append((resolution.line_id, resolution.dossier_id, resolution.rule, fields))
        elif (current.dossier_id, current.rule, current.fields) != (
            resolution.dossier_id,
            resolution.rule,
            fields,
        ):
            changed.append(
                {
                    "match_id": current.id,
                    "dossier_id": resolution.dossier_id,
                    "rule": resolution.rule,
                    "fields": fields,
                    "run_id": run_id,
                    "matched_at": now,
                }
            )
    dialect = dialect_of(session)
    if gone:
        await session.execute(delete(_MATCHES).where(one_of(_MATCHES.c.id, gone, dialect)))
    await _set_matched(session, unlinked, matched=False)
    if changed:
        await session.execute(
            update(_MATCHES).where(_MATCHES.c.id == bindparam("match_id")), changed
        )
    if new:
        # one statement for the day's new matches: the rows go as one parameter
        given = rows_of({name: _MATCHES.c[name].type for name in _NEW_MATCH}, new, dialect)
        rows = given.subquery()
        query = select(
            *(rows.c[name] for name in _NEW_MATCH),
            literal(run_id, _MATCHES.c.run_id.type),
            literal(now, _MATCHES.c.matched_at.type),
        )
        await session.execute(
            insert(_MATCHES).from_select([*_NEW_MATCH, "run_id", "matched_at"], query)
        )
        await _set_matched(session, [row[0] for row in new], matched=True)


async def _set_matched(session: AsyncSession, line_ids: Sequence[int], *, matched: bool) -> None:
    # through the Core table: the ORM would look for the lines in the session
    if not line_ids:
        return
    lines = table(StatementLineRow)
    await session.execute(
        update(lines)
        .where(one_of(lines.c.id, line_ids, dialect_of(session)))
        .values(matched=matched)
    )


async def cases_in_scope(
    session: AsyncSession,
    *,
    dossier_ids: Iterable[int],
    line_ids: Iterable[int],
    identities: Iterable[str],
    channel_days: Iterable[tuple[str, date]],
) -> list[StoredCase]:
    """Every case not closed whose subject the run judged, by id."""
    dialect = dialect_of(session)
    names = set(identities)
    names.update(
        f"CONTROL_TOTAL_MISMATCH:{channel}:{day.isoformat()}" for channel, day in channel_days
    )
    not_closed = _CASES.c.status != "closed"
    found: dict[int, StoredCase] = {}
    for query in (
        select(*_CASE_COLUMNS).where(not_closed, one_of(_CASES.c.dossier_id, dossier_ids, dialect)),
        select(*_CASE_COLUMNS).where(not_closed, one_of(_CASES.c.identity, names, dialect)),
    ):
        for row in (await session.execute(query)).all():
            found[row[0]] = StoredCase(**row._asdict())
    # cases about a line and no dossier: the few not closed, kept if one of their lines was
    # judged (rather than looking up every judged line among every case's lines)
    judged_lines = set(line_ids)
    owner_less = (
        select(*_CASE_COLUMNS, _CASE_LINES.c.line_id)
        .select_from(_CASES.join(_CASE_LINES, _CASE_LINES.c.case_id == _CASES.c.id))
        .where(not_closed, _CASES.c.dossier_id.is_(None))
    )
    for *fields, line_id in (await session.execute(owner_less)).all():
        if line_id in judged_lines and fields[0] not in found:
            found[fields[0]] = StoredCase(**dict(zip(_CASE_FIELDS, fields, strict=True)))
    return [found[k] for k in sorted(found)]


def _event(
    case_id: int,
    action: str,
    before: str | None,
    after: str,
    run_id: int | None,
    now: datetime,
    changes: Mapping[str, object] | None = None,
    note: str = "",
) -> dict[str, object]:
    return {
        "case_id": case_id,
        "at": now,
        "actor": None,  # the engine (DESIGN 4)
        "action": action,
        "from_status": before,
        "to_status": after,
        "resolution": None,
        "dossier_code": None,
        "changes": msgspec.json.encode(changes or {}).decode(),
        "note": note,
        "run_id": run_id,
    }


async def write_cases(
    session: AsyncSession,
    decided: Sequence[CaseOut],
    existing: Sequence[StoredCase],
    *,
    run_id: int | None,
    now: datetime,
) -> CaseCounts:
    stored_lines = await case_line_ids(session, [case.id for case in existing])
    counts = CaseCounts()
    by_identity = {case.identity: case for case in existing}
    opened = await _open_cases(
        session, [out for out in decided if out.identity not in by_identity], run_id, now
    )
    events: list[dict[str, object]] = []
    line_links: list[dict[str, int]] = []
    stale_links: list[int] = []
    updates: list[dict[str, Any]] = []
    for out in decided:
        case = by_identity.pop(out.identity, None)
        if case is None:
            case_id = opened[out.identity]
            counts.opened += 1
            events.append(
                _event(case_id, "opened", None, "open", run_id, now, note=out.explanation)
            )
            line_links.extend({"case_id": case_id, "line_id": i} for i in out.line_ids)
            continue
        if case.status not in LIVE_CASE_STATUSES:
            continue  # resolved: left as the person left it
        changes: dict[str, tuple[object, object]] = _changes(case, out)
        if stored_lines.get(case.id, ()) != out.line_ids:
            changes["line_ids"] = (stored_lines.get(case.id, ()), out.line_ids)
        if changes:
            updates.append({"case_id": case.id, **_decided_fields(out), **_touched(run_id, now)})
            counts.updated += 1
            events.append(
                _event(case.id, "updated", case.status, case.status, run_id, now, changes)
            )
            if "line_ids" in changes:
                stale_links.append(case.id)
                line_links.extend({"case_id": case.id, "line_id": i} for i in out.line_ids)
    closes: list[dict[str, Any]] = []
    for case in by_identity.values():
        if case.status not in LIVE_CASE_STATUSES:
            continue
        events.append(
            _event(case.id, "closed", case.status, "closed", run_id, now, note=CLOSE_REASON)
        )
        closes.append(
            {
                "case_id": case.id,
                "status": "closed",
                "close_reason": CLOSE_REASON,
                # a write-off awaiting approval is moot once the case no longer holds
                "pending_resolution": None,
                "pending_by": None,
                "pending_at": None,
                **_touched(run_id, now),
            }
        )
        counts.closed += 1
    by_id = _CASES.c.id == bindparam("case_id")
    for rows in (updates, closes):
        if rows:
            await session.execute(update(_CASES).where(by_id), rows)
    if stale_links:
        await session.execute(
            delete(_CASE_LINES).where(
                one_of(_CASE_LINES.c.case_id, stale_links, dialect_of(session))
            )
        )
    if line_links:
        await session.execute(insert(_CASE_LINES), line_links)
    if events:
        await session.execute(insert(table(CaseEvent)), events)
    return counts


async def _open_cases(
    session: AsyncSession, fresh: Sequence[CaseOut], run_id: int | None, now: datetime
) -> dict[str, int]:
    """Insert the new cases in the engine's order; their ids by identity."""
    if not fresh:
        return {}
    rows = [
        {
            "type": out.type,
            "status": "open",
            "identity": out.identity,
            **_decided_fields(out),
            "opened_run_id": run_id,
            "created_at": now,
            **_touched(run_id, now),
        }
        for out in fresh
    ]
    # RETURNING in batches, matched back by identity (SQLite would give up batching to keep
    # the parameters' order); ids still follow the engine's order, one VALUES row after another
    result = await session.execute(insert(_CASES).returning(_CASES.c.identity, _CASES.c.id), rows)
    return {row[0]: row[1] for row in result}


def _decided_fields(out: CaseOut) -> dict[str, Any]:
    return {
        "business_day": out.day,
        "channel": out.channel,
        "dossier_id": out.dossier_id,
        "expected_amount": out.expected,
        "actual_amount": out.actual,
        "rule": out.rule,
        "explanation": out.explanation,
    }


def _touched(run_id: int | None, now: datetime) -> dict[str, Any]:
    return {"updated_run_id": run_id, "updated_at": now}


def _changes(case: StoredCase, out: CaseOut) -> dict[str, tuple[object, object]]:
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
    if not case_ids:
        return {}
    query = select(_CASE_LINES.c.case_id, _CASE_LINES.c.line_id).where(
        one_of(_CASE_LINES.c.case_id, case_ids, dialect_of(session))
    )
    for case_id, line_id in (await session.execute(query)).all():
        found.setdefault(case_id, []).append(line_id)
    return {k: tuple(sorted(v)) for k, v in found.items()}
