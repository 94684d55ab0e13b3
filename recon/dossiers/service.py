"""Reading dossiers back: one dossier with its refs and claims, and its history.

Writing them (the PUT, the batch, the file import) is `recon.dossiers.intake`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.models import Dossier, DossierHistory, DossierPaymentRef
from recon.dossiers.schemas import DossierOut
from recon.errors import NotFound
from recon.matching.normalize import code_key


async def get_dossier(*, db_session: AsyncSession, code: str) -> DossierOut:
    dossier = (
        await db_session.execute(select(Dossier).where(Dossier.code_key == code_key(code)))
    ).scalar_one_or_none()
    if dossier is None or dossier.dossier_code.upper() != code.strip().upper():
        raise NotFound(f"no dossier with code {code.strip()!r}")
    refs = (
        await db_session.execute(
            select(DossierPaymentRef.ref)
            .where(DossierPaymentRef.dossier_id == dossier.id)
            .order_by(DossierPaymentRef.id)
        )
    ).scalars()
    return DossierOut.from_row(dossier, payment_refs=list(refs))


async def dossier_history(*, db_session: AsyncSession, code: str) -> list[dict[str, Any]]:
    """The dossier's history, oldest first (for tests, the API and the UI)."""
    rows = await db_session.execute(
        select(DossierHistory)
        .join(Dossier, Dossier.id == DossierHistory.dossier_id)
        .where(Dossier.code_key == code_key(code))
        .order_by(DossierHistory.id)
    )
    return [
        {
            "changed_at": h.changed_at,
            "source": h.source,
            "actor": h.actor,
            "change": h.change,
            "fee_before": h.fee_before,
            "fee_after": h.fee_after,
            "state_before": h.state_before,
            "state_after": h.state_after,
            "changed_fields": h.changed_fields.split(",") if h.changed_fields else [],
        }
        for h in rows.scalars()
    ]
