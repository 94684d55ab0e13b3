"""Judging a few lines and dossiers at once, outside a run (DESIGN 4: a `linked` resolution,
or its undoing, re-judges the dossier at once).

The engine is given what a run would give it for these: the lines re-resolved (the case's
lines, the refunds that follow them, and the lines of the live cases about a line of every
dossier judged, as a run re-resolves every such line), every other line of the dossiers judged
fixed to its stored match, and the channel-days that are in. Its matches and cases are written
as a run writes them (`persist`), with no run id: the events are the engine's (actor null).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.models import Case, CaseLine
from recon.db.sets import dialect_of
from recon.matching.engine import run_engine
from recon.matching.resolve import DossierIndex, resolve_all
from recon.matching.types import Dossier as EngineDossier
from recon.matching.types import EngineInput
from recon.runs import candidates, links, loader
from recon.runs.persist import CaseCounts, cases_in_scope, write_cases, write_matches
from recon.vocab import LINE_CASE_TYPES, LIVE_CASE_STATUSES


async def rejudge(
    session: AsyncSession,
    *,
    line_ids: Collection[int],
    dossier_ids: Collection[int],
    file_fed: Sequence[str],
    now: datetime,
) -> CaseCounts:
    """Re-resolve `line_ids` (links as stored now) and judge them, the dossiers they go to and
    went to, and `dossier_ids`; write what changed. The caller commits."""
    dialect = dialect_of(session)
    linked = await links.links(session)
    rows = await loader.lines_by_id(session, line_ids, dialect)
    known = {row[0].id for row in rows}
    rows += await loader.refunds_of(session, [row[0] for row in rows], known, dialect)
    known = {row[0].id for row in rows}
    given = dict((await candidates.candidates(session, [row[0] for row in rows], dialect)).by_id)

    judged = set(dossier_ids) | {row[2] for row in rows if row[2] is not None}
    judged |= {linked[i] for i in known if i in linked}
    await _load_missing(session, given, judged, dialect)
    # where the lines go now: those dossiers' live cases about a line are judged too
    open_lines = links.with_links([row[0] for row in rows], linked)
    owners = resolve_all(open_lines, DossierIndex(given.values())).values()
    judged |= {r.dossier_id for r in owners if r.dossier_id is not None}
    more = await _live_case_lines(session, judged, known)
    if more:
        extra = await loader.lines_by_id(session, more, dialect)
        rows += extra
        known |= more
        found = await candidates.candidates(session, [row[0] for row in extra], dialect)
        given.update(found.by_id)
    await _load_missing(session, given, judged, dialect)

    stored = {row[0].id: match for row in rows if (match := loader.stored_match(row))}
    lines = links.with_links([row[0] for row in rows], linked)
    lines += await loader.lines_of_dossiers(session, given.keys(), known, dialect)
    lines += await loader.claimed_lines(session, given.values(), {x.id for x in lines}, dialect)
    output = run_engine(
        EngineInput(
            dossiers=tuple(given[k] for k in sorted(given)),
            lines=tuple(lines),
            pulled=await loader.pulled_channel_days(session, file_fed, None),
            judge_dossier_ids=frozenset(judged),
            judge_line_ids=frozenset(known),
            judge_owners=True,
        )
    )
    await write_matches(session, output.resolutions, stored, run_id=None, now=now)
    existing = await cases_in_scope(
        session,
        dossier_ids=output.nets.keys(),
        line_ids=known,
        identities=[case.identity for case in output.cases],
        channel_days=[],
    )
    return await write_cases(session, output.cases, existing, run_id=None, now=now)


async def _load_missing(
    session: AsyncSession, given: dict[int, EngineDossier], judged: set[int], dialect: str
) -> None:
    missing = judged - given.keys()
    if missing:
        given.update(await candidates.by_id(session, missing, dialect))


async def _live_case_lines(
    session: AsyncSession, dossier_ids: Collection[int], known: set[int]
) -> set[int]:
    """The lines of the live cases about a line of these dossiers, but those in `known`."""
    if not dossier_ids:
        return set()
    query = (
        select(CaseLine.line_id)
        .join(Case, Case.id == CaseLine.case_id)
        .where(
            Case.status.in_(LIVE_CASE_STATUSES),
            Case.type.in_(LINE_CASE_TYPES),
            Case.dossier_id.in_(sorted(dossier_ids)),  # a few: those of one action
        )
    )
    return set((await session.execute(query)).scalars()) - known
