"""Writing an intake's new and changed dossiers: their rows, payment refs and history.

`recon.dossiers.intake` decides what is new, changed or unchanged; these functions write it in
the caller's transaction. On SQLite new dossiers go to the driver as plain tuples (ids handed
out by the intake, times made text once); elsewhere through Core executemany. A ref whose
dossier's code key is in `held` is not written: it is returned, for the intake to write in
`finish` once its stored owner has given it up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.bulk import insert_tuples
from recon.db.models import Dossier, DossierHistory, DossierPaymentRef, table
from recon.db.sets import chunks
from recon.db.types import sqlite_text
from recon.domain import business_day_of
from recon.dossiers.schemas import DossierRecord
from recon.matching.normalize import ref_key

INSERT_BATCH = 5_000  # rows per Core executemany; well under the databases' parameter caps
LOOKUP_BATCH = 5_000  # keys per IN (...): SQLite allows 32,766 parameters, asyncpg 32,767
# the code's first spelling is kept: a later call may write it in another letter case
UNCOMPARED = ("dossier_code", "code_key", "payment_refs")  # the key, and refs kept apart
COMPARED = tuple(name for name in DossierRecord.__struct_fields__ if name not in UNCOMPARED)
_DOSSIER_COLUMNS = (
    "id",
    "dossier_code",
    "code_key",
    *COMPARED,
    "claimed_paid_day",
    "created_at",
    "updated_at",
)
_HISTORY_COLUMNS = (
    "dossier_id",
    "changed_at",
    "source",
    "actor",
    "change",
    "fee_before",
    "fee_after",
    "state_before",
    "state_after",
    "changed_fields",
)
_REF_COLUMNS = ("dossier_id", "ref", "ref_key")


def _split_held(
    pairs: Iterable[tuple[int, DossierRecord]], held: set[str]
) -> tuple[list[tuple[int, DossierRecord]], list[tuple[int, DossierRecord]]]:
    """(pairs whose refs are written now, pairs whose refs wait for `finish`)."""
    ready: list[tuple[int, DossierRecord]] = []
    waiting: list[tuple[int, DossierRecord]] = []
    for pair in pairs:
        (waiting if pair[1].code_key in held else ready).append(pair)
    return ready, waiting


async def insert_new_sqlite(
    session: AsyncSession,
    new: Sequence[DossierRecord],
    *,
    first_id: int,
    held: set[str],
    now: datetime,
    source: str,
    actor: str,
) -> list[tuple[int, DossierRecord]]:
    """Plain tuples to the driver, ids from `first_id` on (the transaction holds SQLite's write
    lock from its first statement), times turned into text once. Returns the held pairs."""
    now_text = sqlite_text(now)
    dossiers = []
    history = []
    for dossier_id, r in enumerate(new, start=first_id):
        claimed_at = r.claimed_paid_at
        dossiers.append(
            (
                dossier_id,
                r.dossier_code,
                r.code_key,
                r.procedure_code,
                r.procedure_name,
                r.applicant,
                r.fee_amount,
                r.state,
                sqlite_text(r.submitted_at),
                r.claimed_paid_channel,
                None if claimed_at is None else sqlite_text(claimed_at),
                r.claimed_channel_txn_id,
                # days as SQLite stores them (ISO text), like the statement lines' days
                None if claimed_at is None else business_day_of(claimed_at).isoformat(),
                now_text,
                now_text,
            )
        )
        history.append(
            (
                dossier_id,
                now_text,
                source,
                actor,
                "created",
                None,
                r.fee_amount,
                None,
                r.state,
                "",
            )
        )
    ready, waiting = _split_held(enumerate(new, start=first_id), held)
    refs = [(dossier_id, ref, ref_key(ref)) for dossier_id, r in ready for ref in r.payment_refs]
    connection = await session.connection()
    await insert_tuples(connection, table(Dossier), _DOSSIER_COLUMNS, dossiers)
    await insert_tuples(connection, table(DossierPaymentRef), _REF_COLUMNS, refs)
    await insert_tuples(connection, table(DossierHistory), _HISTORY_COLUMNS, history)
    return waiting


async def insert_new(
    session: AsyncSession,
    new: Sequence[DossierRecord],
    *,
    held: set[str],
    now: datetime,
    source: str,
    actor: str,
) -> list[tuple[int, DossierRecord]]:
    """New dossiers through Core executemany; returns the held pairs."""
    await session.execute(
        insert(table(Dossier)),
        [{**_values(r, now), "dossier_code": r.dossier_code, "created_at": now} for r in new],
    )
    # reading the ids back by key is several times faster than INSERT … RETURNING on aiosqlite
    found = await session.execute(
        select(Dossier.code_key, Dossier.id).where(Dossier.code_key.in_([r.code_key for r in new]))
    )
    id_of = dict(found.all())
    pairs = [(id_of[r.code_key], r) for r in new]
    ready, waiting = _split_held(pairs, held)
    await insert_refs(session, ready)
    await session.execute(
        insert(table(DossierHistory)),
        [
            {
                "dossier_id": dossier_id,
                "changed_at": now,
                "source": source,
                "actor": actor,
                "change": "created",
                "fee_before": None,
                "fee_after": r.fee_amount,
                "state_before": None,
                "state_after": r.state,
                "changed_fields": "",
            }
            for dossier_id, r in pairs
        ],
    )
    return waiting


async def insert_refs(session: AsyncSession, pairs: Iterable[tuple[int, DossierRecord]]) -> None:
    values = [
        {"dossier_id": dossier_id, "ref": ref, "ref_key": ref_key(ref)}
        for dossier_id, record in pairs
        for ref in record.payment_refs
    ]
    for batch in chunks(values, INSERT_BATCH):
        await session.execute(insert(table(DossierPaymentRef)), batch)


async def update_changed(
    session: AsyncSession,
    changed: list[tuple[DossierRecord, dict[str, Any]]],
    stored_refs: Mapping[int, tuple[str, ...]],
    *,
    held: set[str],
    now: datetime,
    source: str,
    actor: str,
) -> list[tuple[int, DossierRecord]]:
    """Changed dossiers (each with its stored values), their refs and history; returns the
    held pairs. `stored_refs`: each stored dossier's refs by its id."""
    if not changed:
        return []
    await session.execute(
        update(Dossier),
        [{"id": current["id"], **_values(record, now)} for record, current in changed],
        execution_options={"synchronize_session": False},
    )
    ref_changes = [
        (current["id"], record)
        for record, current in changed
        if record.payment_refs != stored_refs.get(current["id"], ())
    ]
    for id_chunk in chunks([dossier_id for dossier_id, _ in ref_changes], LOOKUP_BATCH):
        await session.execute(
            delete(DossierPaymentRef).where(DossierPaymentRef.dossier_id.in_(id_chunk))
        )
    ready, waiting = _split_held(ref_changes, held)
    await insert_refs(session, ready)
    history = []
    for record, current in changed:
        fields = [c for c in COMPARED if getattr(record, c) != current[c]]
        if record.payment_refs != stored_refs.get(current["id"], ()):
            fields.append("payment_refs")
        history.append(
            {
                "dossier_id": current["id"],
                "changed_at": now,
                "source": source,
                "actor": actor,
                "change": "updated",
                "fee_before": current["fee_amount"],
                "fee_after": record.fee_amount,
                "state_before": current["state"],
                "state_after": record.state,
                "changed_fields": ",".join(fields),
            }
        )
    await session.execute(insert(table(DossierHistory)), history)
    return waiting


def _values(record: DossierRecord, now: datetime) -> dict[str, Any]:
    values = {c: getattr(record, c) for c in COMPARED}
    values["code_key"] = record.code_key
    values["claimed_paid_day"] = (
        business_day_of(record.claimed_paid_at) if record.claimed_paid_at else None
    )
    values["updated_at"] = now
    return values
