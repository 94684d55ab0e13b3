"""Candidate dossiers for a run: every dossier rules 1–3 could pick for the lines it re-resolves,
and the dossiers it judges besides (DESIGN 4), each read with its payment refs as one JSON
document decoded into the engine's `Dossier`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta

import msgspec
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.models import Case, Dossier, DossierPaymentRef, Match, table
from recon.db.sets import as_text, fetch_json, json_list, json_object, nested, one_of
from recon.matching.normalize import code_key, normalise_text, ref_key
from recon.matching.resolve import MIN_SEARCHED_CODE, DossierIndex
from recon.matching.types import Dossier as EngineDossier
from recon.matching.types import Line as EngineLine
from recon.vocab import LIVE_CASE_STATUSES

_DOSSIERS = table(Dossier)
_REFS = table(DossierPaymentRef)
_DOSSIER_LIST = msgspec.json.Decoder(list[EngineDossier])


async def candidates(
    session: AsyncSession, lines: Sequence[EngineLine], dialect: str
) -> DossierIndex:
    """Every dossier any of rules 1–3 could pick for these lines, indexed for them."""
    ref_keys = {ref_key(line.order_ref) for line in lines if line.order_ref}
    code_keys = {
        code_key(text) for line in lines for text in (line.order_ref, line.hint) if text
    } - {""}
    # two plain lookups: an OR of the two makes SQLite merge row sets, twice the time
    found = await _where(session, one_of(_DOSSIERS.c.code_key, code_keys, dialect), dialect)
    found.update(
        await _where(session, one_of(_REFS.c.ref_key, ref_keys, dialect), dialect, via_refs=True)
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
            index.add((await _where(session, condition, dialect)).values())
    return index


async def code_lengths(session: AsyncSession) -> list[int]:
    """The lengths of normalised codes that rule 3 searches for."""
    query = select(func.length(_DOSSIERS.c.code_key)).distinct()
    return sorted(n for n in (await session.execute(query)).scalars() if n >= MIN_SEARCHED_CODE)


async def by_id(
    session: AsyncSession, ids: Collection[int], dialect: str
) -> dict[int, EngineDossier]:
    return await _where(session, one_of(_DOSSIERS.c.id, ids, dialect), dialect)


async def _where(
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


async def to_judge(session: AsyncSession, day: date, since: datetime | None) -> set[int]:
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
