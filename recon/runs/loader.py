"""What a run of day D hands the engine (DESIGN 4, "Re-running is idempotent").

Lines judged now: the day's lines, D−1's pending lines, and the lines of every live case about
a line. Dossiers judged now: those lines' dossiers (new and previous), claims on D and D−1, and
dossiers changed since the last run. Every line of a judged dossier comes along, fixed to its
stored match, so its net is whole. Candidate dossiers for rules 1–3 are found in SQL.

A day is a dozen set-based queries whatever its size: each set of keys travels as one
parameter (`one_of`), lines come back with their stored match in the same row, and only what
the engine reads is fetched (never a line's raw payload), as one JSON document per query that
msgspec decodes straight into the engine's Structs.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, Select, and_, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.models import Case, CaseLine, ChannelDay, ChannelFetch, Match, StatementLineRow, table
from recon.db.sets import (
    as_text,
    dialect_of,
    fetch_json,
    json_array,
    json_list,
    json_object,
    one_of,
)
from recon.matching.normalize import ref_key
from recon.matching.types import ControlMismatch, EngineInput
from recon.matching.types import Dossier as EngineDossier
from recon.matching.types import Line as EngineLine
from recon.runs import candidates, links
from recon.vocab import LINE_CASE_TYPES, LIVE_CASE_STATUSES

_LINES = table(StatementLineRow)
_MATCHES = table(Match)
_WITH_MATCH = _LINES.outerjoin(_MATCHES, _MATCHES.c.line_id == _LINES.c.id)
# what the engine reads of a line, under its field names
_LINE_FIELDS = {
    "id": _LINES.c.id,
    "channel": _LINES.c.channel,
    "txn_id": _LINES.c.channel_txn_id,
    "amount": _LINES.c.amount,
    "kind": _LINES.c.kind,
    "status": _LINES.c.status,
    "paid_at": _LINES.c.paid_at,
    "day": _LINES.c.business_day,
    "order_ref": _LINES.c.order_ref,
    "hint": _LINES.c.dossier_hint,
    "refund_of": _LINES.c.refund_of,
    "text": _LINES.c.description,
    "fee": _LINES.c.fee,
}
# a line, then its stored match (id, dossier, rule, fields) or nulls
StoredLine = tuple[EngineLine, int | None, int | None, str | None, str | None]
_STORED_LINES = msgspec.json.Decoder(list[StoredLine])
# a line, then the dossier its stored match names (none for a line a claim names unmatched)
_OWNED_LINES = msgspec.json.Decoder(list[tuple[EngineLine, int | None]])


class StoredMatch(msgspec.Struct, frozen=True, kw_only=True):
    """A line's match as stored: what `write_matches` compares the engine's resolution with."""

    id: int
    dossier_id: int
    rule: str
    fields: str


class Loaded(msgspec.Struct, kw_only=True):
    """The engine's input for one run, and what persisting its output needs."""

    engine_input: EngineInput
    stored: dict[int, StoredMatch]  # line id -> match, for every line the engine re-resolves
    judged_line_ids: frozenset[int]
    day_line_ids: frozenset[int]  # the judged lines of day D itself
    # the run's channels whose day D's latest fetch did not fail: only theirs may a run find
    # free of a control-total mismatch (a fetch that failed otherwise says nothing of totals)
    statements_in: frozenset[str]


def stored_match(row: StoredLine) -> StoredMatch | None:
    _, match_id, dossier_id, rule, fields = row
    if match_id is None or dossier_id is None or rule is None or fields is None:
        return None
    return StoredMatch(id=match_id, dossier_id=dossier_id, rule=rule, fields=fields)


def _stored_lines(dialect: str) -> ColumnElement[Any]:
    """The JSON of each line with its stored match, aggregated."""
    row = json_array(
        [
            json_object(_LINE_FIELDS, dialect),
            _MATCHES.c.id,
            _MATCHES.c.dossier_id,
            _MATCHES.c.rule,
            _MATCHES.c.fields,
        ],
        dialect,
    )
    return as_text(json_list(row, dialect), dialect)


async def load(
    session: AsyncSession,
    *,
    day: date,
    channels: Sequence[str],
    file_fed: Sequence[str],
    since: datetime | None,
    waiting: frozenset[str] = frozenset(),
) -> Loaded:
    """Everything the run of `day` over `channels` judges, as the engine's input; `waiting`
    are the channels whose statement this run could not get."""
    dialect = dialect_of(session)
    judged_rows = await lines_to_judge(session, day, channels, dialect)
    known = {row[0].id for row in judged_rows}
    context = await refunded_payments(session, judged_rows, known, dialect)
    open_rows = judged_rows + context
    # a line a person linked goes to its dossier ahead of rules 1-3 (recon.runs.links)
    linked = await links.links(session)
    open_lines = links.with_links([row[0] for row in open_rows], linked)
    stored: dict[int, StoredMatch] = {}
    for row in open_rows:
        match = stored_match(row)
        if match is not None:
            stored[row[0].id] = match

    index = await candidates.candidates(session, open_lines, dialect)
    given = dict(index.by_id)
    # judged besides the dossiers the open lines resolve to (the engine finds those): the
    # dossiers they were matched to before, claims, and dossiers changed since the last run
    judged = {m.dossier_id for m in stored.values()}
    judged |= {linked[line.id] for line in open_lines if line.id in linked}
    judged |= await candidates.to_judge(session, day, since)
    missing = judged - given.keys()
    if missing:
        given.update(await candidates.by_id(session, missing, dialect))

    # every stored line of every dossier the engine may judge: the candidates hold the ones
    # the open lines resolve to
    open_ids = {line.id for line in open_lines}
    lines = open_lines + await lines_of_dossiers(session, given.keys(), open_ids, dialect)
    seen = {line.id for line in lines}
    lines += await claimed_lines(session, given.values(), seen, dialect)
    engine_input = EngineInput(
        dossiers=tuple(given[k] for k in sorted(given)),
        lines=tuple(lines),
        pulled=await pulled_channel_days(session, file_fed, day),
        mismatches=tuple(await control_mismatches(session, day, channels)),
        judge_dossier_ids=frozenset(judged),
        judge_line_ids=frozenset(known),
        judge_owners=True,
        waiting=waiting,
    )
    return Loaded(
        engine_input=engine_input,
        stored=stored,
        judged_line_ids=frozenset(known),
        day_line_ids=frozenset(row[0].id for row in judged_rows if row[0].day == day),
        statements_in=await statements_in(session, day, channels),
    )


async def lines_to_judge(
    session: AsyncSession, day: date, channels: Sequence[str], dialect: str
) -> list[StoredLine]:
    """The day's lines, D−1's pending lines and the lines of live cases about a line, each
    with its stored match."""
    live_line_cases = (
        select(CaseLine.line_id)
        .join(Case, Case.id == CaseLine.case_id)
        .where(Case.status.in_(LIVE_CASE_STATUSES), Case.type.in_(LINE_CASE_TYPES))
    )
    # the day's lines straight from their index, then the few others by id: one OR (or one
    # IN of them all) is read by PostgreSQL as a scan of every line and every match
    on_day = and_(_LINES.c.business_day == day, _LINES.c.channel.in_(channels))
    others = union(
        select(_LINES.c.id).where(
            _LINES.c.business_day == day - timedelta(days=1), _LINES.c.status == "pending"
        ),
        live_line_cases,
    )
    found = await fetch_json(session, _stored_lines_where(on_day, dialect), _STORED_LINES)
    seen = {row[0].id for row in found}
    more = _stored_lines_where(_LINES.c.id.in_(others), dialect)
    found += [
        row for row in await fetch_json(session, more, _STORED_LINES) if row[0].id not in seen
    ]
    return found


def _stored_lines_where(condition: ColumnElement[bool], dialect: str) -> Select[Any]:
    return select(_stored_lines(dialect)).select_from(_WITH_MATCH).where(condition)


async def lines_by_id(
    session: AsyncSession, line_ids: Collection[int], dialect: str
) -> list[StoredLine]:
    """These lines, each with its stored match."""
    query = _stored_lines_where(one_of(_LINES.c.id, line_ids, dialect), dialect)
    return await fetch_json(session, query, _STORED_LINES)


async def refunded_payments(
    session: AsyncSession, rows: Sequence[StoredLine], known: set[int], dialect: str
) -> list[StoredLine]:
    """The payments the refunds among `rows` net against, wherever they were stored."""
    by_txn: set[tuple[str, str]] = set()
    by_ref: set[tuple[str, str]] = set()
    for row in rows:
        line = row[0]
        if line.kind != "refund":
            continue
        if line.refund_of:
            by_txn.add((line.channel, line.refund_of))
        elif line.order_ref and ref_key(line.order_ref):
            by_ref.add((line.channel, ref_key(line.order_ref)))
    if not by_txn and not by_ref:
        return []
    conditions: list[ColumnElement[bool]] = []
    if by_txn:
        conditions.append(
            and_(
                one_of(_LINES.c.channel, {c for c, _ in by_txn}, dialect),
                one_of(_LINES.c.channel_txn_id, {t for _, t in by_txn}, dialect),
            )
        )
    if by_ref:
        conditions.append(
            and_(
                one_of(_LINES.c.order_ref_key, {k for _, k in by_ref}, dialect),
                _LINES.c.kind == "payment",
            )
        )
    query = _stored_lines_where(or_(*conditions), dialect)
    found: list[StoredLine] = []
    for row in await fetch_json(session, query, _STORED_LINES):
        line = row[0]
        if line.id in known:
            continue
        named_by_ref = line.kind == "payment" and bool(line.order_ref)
        if (line.channel, line.txn_id) in by_txn or (
            named_by_ref and (line.channel, ref_key(line.order_ref or "")) in by_ref
        ):
            found.append(row)
    return found


async def refunds_of(
    session: AsyncSession, payments: Sequence[EngineLine], known: set[int], dialect: str
) -> list[StoredLine]:
    """The refunds that net against these payments (by `refund_of`, else by order ref), but
    those in `known`: where a payment goes, its refunds follow."""
    paid = [line for line in payments if line.kind == "payment"]
    if not paid:
        return []
    txns = {(line.channel, line.txn_id) for line in paid}
    refs = {
        (line.channel, key) for line in paid if line.order_ref and (key := ref_key(line.order_ref))
    }
    conditions = [one_of(_LINES.c.refund_of, {t for _, t in txns}, dialect)]
    if refs:
        conditions.append(one_of(_LINES.c.order_ref_key, {k for _, k in refs}, dialect))
    query = _stored_lines_where(and_(_LINES.c.kind == "refund", or_(*conditions)), dialect)
    found: list[StoredLine] = []
    for row in await fetch_json(session, query, _STORED_LINES):
        refund = row[0]
        if refund.id in known:
            continue
        if refund.refund_of:
            nets = (refund.channel, refund.refund_of) in txns
        else:
            nets = (refund.channel, ref_key(refund.order_ref or "")) in refs
        if nets:
            found.append(row)
    return found


def _owned_lines(dialect: str) -> ColumnElement[Any]:
    """The JSON of each line with the dossier its stored match names, aggregated."""
    row = json_array([json_object(_LINE_FIELDS, dialect), _MATCHES.c.dossier_id], dialect)
    return as_text(json_list(row, dialect), dialect)


def _fixed(rows: Sequence[tuple[EngineLine, int | None]], skip: set[int]) -> list[EngineLine]:
    return [
        msgspec.structs.replace(line, fixed_dossier_id=owner, fixed=True)
        for line, owner in rows
        if line.id not in skip
    ]


async def lines_of_dossiers(
    session: AsyncSession, dossier_ids: Collection[int], skip: set[int], dialect: str
) -> list[EngineLine]:
    """Every stored line of these dossiers but those in `skip`, fixed to its match."""
    query = (
        select(_owned_lines(dialect))
        .select_from(_MATCHES.join(_LINES, _LINES.c.id == _MATCHES.c.line_id))
        .where(one_of(_MATCHES.c.dossier_id, dossier_ids, dialect))
    )
    rows: list[tuple[EngineLine, int | None]] = await fetch_json(session, query, _OWNED_LINES)
    return _fixed(rows, skip)


async def claimed_lines(
    session: AsyncSession, given: Iterable[EngineDossier], skip: set[int], dialect: str
) -> list[EngineLine]:
    """Lines a claim names by transaction id, wherever they resolved, fixed to their match."""
    wanted = {
        (d.claim_channel, d.claim_txn_id) for d in given if d.claim_channel and d.claim_txn_id
    }
    if not wanted:
        return []
    query = (
        select(_owned_lines(dialect))
        .select_from(_WITH_MATCH)
        .where(
            one_of(_LINES.c.channel, {c for c, _ in wanted}, dialect),
            one_of(_LINES.c.channel_txn_id, {t for _, t in wanted}, dialect),
        )
    )
    rows = await fetch_json(session, query, _OWNED_LINES)
    return _fixed(
        [(line, owner) for line, owner in rows if (line.channel, line.txn_id) in wanted], skip
    )


async def pulled_channel_days(
    session: AsyncSession, file_fed: Sequence[str], reconciling: date | None
) -> frozenset[tuple[str, date]]:
    """Channel-days whose statement is in: pulled successfully once (a later failed pull takes
    nothing back), or (file-fed) reconciled or being so now (`reconciling`; None outside a
    run)."""
    rows = await session.execute(
        select(
            ChannelDay.channel,
            ChannelDay.business_day,
            ChannelDay.pulled_at,
            ChannelDay.reconciled_at,
        )
    )
    pulled = {
        (channel, day)
        for channel, day, pulled_at, reconciled in rows
        if (channel in file_fed and reconciled is not None)
        or (channel not in file_fed and pulled_at is not None)
    }
    if reconciling is not None:
        pulled.update((channel, reconciling) for channel in file_fed)
    return frozenset(pulled)


async def statements_in(
    session: AsyncSession, day: date, channels: Sequence[str]
) -> frozenset[str]:
    """The channels whose day D's latest fetch did not fail (or that have none)."""
    failed = select(ChannelDay.channel).where(
        ChannelDay.business_day == day, ChannelDay.fetch_status == "failed"
    )
    return frozenset(channels) - set((await session.execute(failed)).scalars())


async def control_mismatches(
    session: AsyncSession, day: date, channels: Sequence[str]
) -> list[ControlMismatch]:
    """Channel-days of D whose latest pull failed on the channel's own control totals."""
    query = (
        select(ChannelFetch)
        .join(ChannelDay, ChannelDay.last_fetch_id == ChannelFetch.id)
        .where(
            ChannelDay.business_day == day,
            ChannelDay.channel.in_(channels),
            ChannelDay.fetch_status == "failed",
            ChannelFetch.control_count.is_not(None),
        )
    )
    return [
        ControlMismatch(
            channel=fetch.channel,
            day=day,
            expected_count=fetch.control_count,
            expected_amount=fetch.control_amount,
            received_count=fetch.received_count,
            received_amount=fetch.received_amount,
        )
        for fetch in (await session.execute(query)).scalars()
    ]
