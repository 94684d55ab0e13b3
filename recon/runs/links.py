"""The lines people linked to a dossier (DESIGN 4, `linked`): a run, and a link's own
re-judging, hand them to the engine carrying that dossier, which they go to ahead of rules 1–3.

A link is its case: resolved `linked`, the dossier in `cases.linked_dossier_id`. Reopening the
case ends it. There are few (one per such case), so every run reads them all.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.models import Case, CaseLine
from recon.matching.types import Line as EngineLine


async def links(session: AsyncSession) -> dict[int, int]:
    """Every line a person linked to a dossier (its case resolved `linked`, DESIGN 4): line id
    -> dossier id. Few: one per such case, however many lines there are."""
    query = (
        select(CaseLine.line_id, Case.linked_dossier_id)
        .join(Case, Case.id == CaseLine.case_id)
        .where(
            Case.status == "resolved",
            Case.resolution == "linked",
            Case.linked_dossier_id.is_not(None),
        )
    )
    return {row[0]: row[1] for row in (await session.execute(query)).all() if row[1] is not None}


def with_links(lines: Iterable[EngineLine], linked: dict[int, int]) -> list[EngineLine]:
    """The lines, each one a person linked carrying its dossier, ahead of rules 1-3."""
    return [
        msgspec.structs.replace(line, linked_to=linked[line.id]) if line.id in linked else line
        for line in lines
    ]
