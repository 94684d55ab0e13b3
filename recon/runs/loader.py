"""What a run of day D hands the engine (DESIGN 4, "Re-running is idempotent").

Lines judged now: the day's lines, D−1's pending lines, and the lines of every live case about
a line. Dossiers judged now: those lines' dossiers (new and previous), claims on D and D−1, and
dossiers changed since the last run. Every line of a judged dossier comes along, fixed to its
stored match, so its net is whole. Candidate dossiers for rules 1–3 are found in SQL.

A day is a few set-based queries whatever its size: each list of keys travels as one parameter
(`one_of`), lines come back with their stored match in the same row, and only the columns the
engine reads are fetched (never a line's raw payload), as tuples rather than ORM objects.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, Select, and_, func, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.models import (
    LIVE_CASE_STATUSES,
    Case,
    CaseLine,
    ChannelDay,
    ChannelFetch,
    Dossier,
    DossierPaymentRef,
    Match,
    StatementLineRow,
    table,
)
from recon.matching.normalize import code_key, normalise_text, ref_key
from recon.matching.resolve import MIN_SEARCHED_CODE, DossierIndex
from recon.matching.types import ControlMismatch, EngineInput
from recon.matching.types import Dossier as EngineDossier
from recon.matching.types import Line as EngineLine
from recon.runs.sets import (
    as_text,
    dialect_of,
    fetch_json,
    json_array,
    json_list,
    json_object,
    nested,
    one_of,
)

LINE_CASE_TYPES = (
    "UNMATCHED_PAYMENT",
    "AMBIGUOUS_REFERENCE",
    "UNMATCHED_REFUND",
    "STATUS_CONFLICT",
)

_LINES = table(StatementLineRow)
_MATCHES = table(Match)
_DOSSIERS = table(Dossier)
_REFS = table(DossierPaymentRef)
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
_DOSSIER_LIST = msgspec.json.Decoder(list[EngineDossier])


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


def _stored_match(row: StoredLine) -> StoredMatch | None:
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
) -> Loaded:
    """Everything the run of `day` over `channels` judges, as the engine's input."""
    dialect = dialect_of(session)
    judged_rows = await lines_to_judge(session, day, channels, dialect)
    known = {row[0].id for row in judged_rows}
    context = await refunded_payments(session, judged_rows, known, dialect)
    open_rows = judged_rows + context
    open_lines = [row[0] for row in open_rows]
    stored: dict[int, StoredMatch] = {}
    for row in open_rows:
        match = _stored_match(row)
        if match is not None:
            stored[row[0].id] = match

    index = await candidate_dossiers(session, open_lines, dialect)
    dossiers = dict(index.by_id)
    # judged besides the dossiers the open lines resolve to (the engine finds those): the
    # dossiers they were matched to before, claims, and dossiers changed since the last run
    judged = {m.dossier_id for m in stored.values()}
    judged |= await dossiers_to_judge(session, day, since)
    missing = judged - dossiers.keys()
    if missing:
        dossiers.update(await load_dossiers(session, missing, dialect))

    # every stored line of every dossier the engine may judge: the candidates hold the ones
    # the open lines resolve to
    open_ids = {line.id for line in open_lines}
    lines = open_lines + await lines_of_dossiers(session, dossiers.keys(), open_ids, dialect)
    seen = {line.id for line in lines}
    lines += await claimed_lines(session, dossiers.values(), seen, dialect)
    engine_input = EngineInput(
        dossiers=tuple(dossiers[k] for k in sorted(dossiers)),
        lines=tuple(lines),
        pulled=await pulled_channel_days(session, file_fed, day),
        mismatches=tuple(await control_mismatches(session, day, channels)),
        judge_dossier_ids=frozenset(judged),
        judge_line_ids=frozenset(known),
        judge_owners=True,
    )
    return Loaded(
        engine_input=engine_input,
        stored=stored,
        judged_line_ids=frozenset(known),
        day_line_ids=frozenset(row[0].id for row in judged_rows if row[0].day == day),
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
        named_by_ref = line.kind == "payment" and line.order_ref is not None
        if (line.channel, line.txn_id) in by_txn or (
            named_by_ref and (line.channel, ref_key(line.order_ref or "")) in by_ref
        ):
            found.append(row)
    return found


async def candidate_dossiers(
    session: AsyncSession, lines: Sequence[EngineLine], dialect: str
) -> DossierIndex:
    """Every dossier any of rules 1–3 could pick for these lines, indexed for them."""
    ref_keys = {ref_key(line.order_ref) for line in lines if line.order_ref}
    code_keys = {
        code_key(text) for line in lines for text in (line.order_ref, line.hint) if text
    } - {""}
    # two plain lookups: an OR of the two makes SQLite merge row sets, twice the time
    found = await _dossiers_where(
        session, one_of(_DOSSIERS.c.code_key, code_keys, dialect), dialect
    )
    found.update(
        await _dossiers_where(
            session, one_of(_REFS.c.ref_key, ref_keys, dialect), dialect, via_refs=True
        )
    )
    # rule 3 only for the payments rules 1 and 2 leave open: their texts' substrings of the
    # lengths codes have
    index = DossierIndex(found.values())
    texts = [
        normalise_text(" ".join(t for t in (line.order_ref, line.text) if t))
        for line in lines
        if line.kind == "payment" and not index.names_exactly(line)
    ]
    if texts:
        lengths = await code_lengths(session)
        pieces = {
            text[i : i + n] for text in texts for n in lengths for i in range(len(text) - n + 1)
        }
        if pieces:
            condition = one_of(_DOSSIERS.c.code_key, pieces, dialect)
            index.add((await _dossiers_where(session, condition, dialect)).values())
    return index


async def code_lengths(session: AsyncSession) -> list[int]:
    """The lengths of normalised codes that rule 3 searches for."""
    query = select(func.length(_DOSSIERS.c.code_key)).distinct()
    return sorted(n for n in (await session.execute(query)).scalars() if n >= MIN_SEARCHED_CODE)


async def load_dossiers(
    session: AsyncSession, ids: Collection[int], dialect: str
) -> dict[int, EngineDossier]:
    return await _dossiers_where(session, one_of(_DOSSIERS.c.id, ids, dialect), dialect)


async def _dossiers_where(
    session: AsyncSession, condition: ColumnElement[bool], dialect: str, via_refs: bool = False
) -> dict[int, EngineDossier]:
    """The dossiers meeting `condition` (on a dossier's payment refs if `via_refs`), each with
    all its payment refs, by id."""
    own = _REFS.alias("own_refs")  # the outer query may read dossier_payment_refs too
    refs = (
        select(json_list(own.c.ref_key, dialect, order_by=own.c.id))
        .where(own.c.dossier_id == _DOSSIERS.c.id)
        .correlate(_DOSSIERS)
    )
    fields = {
        "id": _DOSSIERS.c.id,
        "code": _DOSSIERS.c.dossier_code,
        "code_key": _DOSSIERS.c.code_key,
        "fee": _DOSSIERS.c.fee_amount,
        "state": _DOSSIERS.c.state,
        "ref_keys": nested(refs, dialect),
        "claim_channel": _DOSSIERS.c.claimed_paid_channel,
        "claim_day": _DOSSIERS.c.claimed_paid_day,
        "claim_txn_id": _DOSSIERS.c.claimed_channel_txn_id,
    }
    query = select(as_text(json_list(json_object(fields, dialect), dialect), dialect))
    if via_refs:
        query = query.select_from(_REFS.join(_DOSSIERS, _DOSSIERS.c.id == _REFS.c.dossier_id))
    else:
        query = query.select_from(_DOSSIERS)
    dossiers = await fetch_json(session, query.where(condition), _DOSSIER_LIST)
    return {dossier.id: dossier for dossier in dossiers}


async def dossiers_to_judge(session: AsyncSession, day: date, since: datetime | None) -> set[int]:
    """Claims on D and D−1, and dossiers changed since the last run that have anything to judge."""
    claims = select(Dossier.id).where(Dossier.claimed_paid_day.in_([day, day - timedelta(days=1)]))
    ids = set((await session.execute(claims)).scalars())
    live_cases = select(Case.dossier_id).where(
        Case.status.in_(LIVE_CASE_STATUSES), Case.dossier_id.is_not(None)
    )
    if since is None:
        # no run before: every dossier changed, and those with anything to judge are found
        # through their claims, matches and cases (never by reading every dossier)
        for query in (
            select(Dossier.id).where(Dossier.claimed_paid_day.is_not(None)),
            select(Match.dossier_id).distinct(),
            live_cases,
        ):
            ids.update(i for i in (await session.execute(query)).scalars() if i is not None)
        return ids
    has_something = or_(
        Dossier.claimed_paid_channel.is_not(None),
        Dossier.id.in_(select(Match.dossier_id)),
        Dossier.id.in_(live_cases),
    )
    changed = select(Dossier.id).where(Dossier.updated_at > since, has_something)
    ids.update((await session.execute(changed)).scalars())
    return ids


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
    session: AsyncSession, dossiers: Iterable[EngineDossier], skip: set[int], dialect: str
) -> list[EngineLine]:
    """Lines a claim names by transaction id, wherever they resolved, fixed to their match."""
    wanted = {
        (d.claim_channel, d.claim_txn_id) for d in dossiers if d.claim_channel and d.claim_txn_id
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
    session: AsyncSession, file_fed: Sequence[str], reconciling: date
) -> frozenset[tuple[str, date]]:
    """Channel-days whose statement is in: pulled, or (file-fed) reconciled or being so now."""
    rows = await session.execute(
        select(
            ChannelDay.channel,
            ChannelDay.business_day,
            ChannelDay.fetch_status,
            ChannelDay.reconciled_at,
        )
    )
    pulled = {
        (channel, day)
        for channel, day, status, reconciled in rows
        if (channel in file_fed and reconciled is not None)
        or (channel not in file_fed and status == "succeeded")
    }
    pulled.update((channel, reconciling) for channel in file_fed)
    return frozenset(pulled)


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
