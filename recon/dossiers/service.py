"""Dossier intake: idempotent, all-or-nothing upserts keyed by the dossier code (DESIGN 2.5).

One path serves the PUT, the batch and the file import: validate everything, compare with what is
stored, and write only when no row is bad. Bulk writes go through Core executemany.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.chunks import chunks
from recon.db.models import Dossier, DossierHistory, DossierPaymentRef, table
from recon.domain import business_day_of
from recon.dossiers.schemas import DossierOut, DossierRecord, ImportSummary, RejectedRow
from recon.errors import NotFound
from recon.matching.normalize import code_key, ref_key
from recon.rows import RowError

INSERT_BATCH = 5_000  # rows per executemany; well under the databases' parameter caps
# the code's first spelling is kept: a later call may write it in another letter case
COMPARED = (
    "procedure_code",
    "procedure_name",
    "applicant",
    "fee_amount",
    "state",
    "submitted_at",
    "claimed_paid_channel",
    "claimed_paid_at",
    "claimed_channel_txn_id",
)


class UpsertOutcome(msgspec.Struct, kw_only=True):
    summary: ImportSummary
    # code_key -> "created" | "updated" | "unchanged", for the rows that were accepted
    actions: dict[str, str] = msgspec.field(default_factory=dict)

    # the rows were fine but collide with stored dossiers (HTTP 409 rather than 422)
    conflict: bool = False

    @property
    def rejected(self) -> bool:
        return bool(self.summary.rejected)


def summary_of_errors(received: int, errors: Iterable[RowError]) -> ImportSummary:
    rejected = [RejectedRow(row=e.row, column=e.column, reason=e.reason) for e in errors]
    rejected.sort(key=lambda r: (r.row is not None, r.row or 0, r.column or ""))
    return ImportSummary(received=received, rejected=rejected)


async def upsert_dossiers(
    *,
    db_session: AsyncSession,
    rows: Sequence[tuple[int | None, DossierRecord]],
    errors: Sequence[RowError] = (),
    source: str,
    actor: str,
    now: datetime,
) -> UpsertOutcome:
    """Store every row or none. `errors` are faults already found while parsing."""
    all_errors = list(errors) + _duplicates_within(rows)
    stored = await _load_stored(db_session, [record for _, record in rows])
    conflicts = _conflicts_with_stored(rows, stored)
    received = len(rows) + len({e.row for e in errors if e.row is not None})
    if all_errors or conflicts:
        await db_session.rollback()
        return UpsertOutcome(
            summary=summary_of_errors(received, all_errors + conflicts),
            conflict=not all_errors,
        )

    new: list[DossierRecord] = []
    changed: list[tuple[DossierRecord, dict[str, Any]]] = []
    actions: dict[str, str] = {}
    for _, record in rows:
        current = stored.dossiers.get(record.code_key)
        if current is None:
            new.append(record)
            actions[record.code_key] = "created"
        elif _same(record, current, stored.refs.get(current["id"], ())):
            actions[record.code_key] = "unchanged"
        else:
            changed.append((record, current))
            actions[record.code_key] = "updated"
    await _insert_new(db_session, new, source=source, actor=actor, now=now)
    await _update_changed(db_session, changed, stored, source=source, actor=actor, now=now)
    await db_session.commit()
    summary = ImportSummary(
        received=received,
        inserted=len(new),
        updated=len(changed),
        duplicates=len(rows) - len(new) - len(changed),
    )
    return UpsertOutcome(summary=summary, actions=actions)


class _Stored(msgspec.Struct):
    dossiers: dict[str, dict[str, Any]]  # code_key -> column values
    refs: dict[int, tuple[str, ...]]  # dossier id -> its refs as stored
    ref_owner: dict[str, tuple[int, str]]  # ref_key -> (dossier id, code), refs of the batch


async def _load_stored(db_session: AsyncSession, records: list[DossierRecord]) -> _Stored:
    keys = [r.code_key for r in records]
    refs_named = sorted({ref_key(ref) for r in records for ref in r.payment_refs})
    dossiers: dict[str, dict[str, Any]] = {}
    for chunk in chunks(keys):
        result = await db_session.execute(
            select(
                Dossier.id,
                Dossier.code_key,
                Dossier.dossier_code,
                *(getattr(Dossier, c) for c in COMPARED),
            ).where(Dossier.code_key.in_(chunk))
        )
        for found in result.mappings():
            dossiers[found["code_key"]] = dict(found)
    refs: dict[int, list[str]] = {}
    ids = [d["id"] for d in dossiers.values()]
    for id_chunk in chunks(ids):
        result = await db_session.execute(
            select(DossierPaymentRef.dossier_id, DossierPaymentRef.ref)
            .where(DossierPaymentRef.dossier_id.in_(id_chunk))
            .order_by(DossierPaymentRef.id)
        )
        for dossier_id, ref in result:
            refs.setdefault(dossier_id, []).append(ref)
    ref_owner: dict[str, tuple[int, str]] = {}
    for ref_chunk in chunks(refs_named):
        result = await db_session.execute(
            select(DossierPaymentRef.ref_key, Dossier.id, Dossier.dossier_code)
            .join(Dossier, Dossier.id == DossierPaymentRef.dossier_id)
            .where(DossierPaymentRef.ref_key.in_(ref_chunk))
        )
        ref_owner.update({key: (owner, code) for key, owner, code in result})
    return _Stored(dossiers, {k: tuple(v) for k, v in refs.items()}, ref_owner)


def _duplicates_within(rows: Sequence[tuple[int | None, DossierRecord]]) -> list[RowError]:
    errors: list[RowError] = []
    first_row_of_code: dict[str, int | None] = {}
    first_row_of_ref: dict[str, tuple[int | None, str]] = {}
    for row, record in rows:
        if record.code_key in first_row_of_code:
            errors.append(
                RowError(
                    row,
                    "dossier_code",
                    f"{record.dossier_code!r} is also on row {first_row_of_code[record.code_key]}",
                )
            )
            continue
        first_row_of_code[record.code_key] = row
        for ref in record.payment_refs:
            other = first_row_of_ref.get(ref_key(ref))
            if other is not None and other[1] != record.code_key:
                errors.append(
                    RowError(row, "payment_refs", f"payment ref {ref!r} is also on row {other[0]}")
                )
            first_row_of_ref.setdefault(ref_key(ref), (row, record.code_key))
    return errors


def _conflicts_with_stored(
    rows: Sequence[tuple[int | None, DossierRecord]], stored: _Stored
) -> list[RowError]:
    errors: list[RowError] = []
    in_batch = {stored.dossiers[r.code_key]["id"] for _, r in rows if r.code_key in stored.dossiers}
    for row, record in rows:
        current = stored.dossiers.get(record.code_key)
        if current and current["dossier_code"].upper() != record.dossier_code.upper():
            errors.append(
                RowError(
                    row,
                    "dossier_code",
                    f"{record.dossier_code!r} normalises like the stored dossier "
                    f"{current['dossier_code']!r}: two such codes cannot both exist",
                )
            )
        own_id = current["id"] if current else None
        for ref in record.payment_refs:
            owner_id, owner_code = stored.ref_owner.get(ref_key(ref), (None, ""))
            # a dossier of this batch gives up its old refs, so only outsiders conflict
            if owner_id is not None and owner_id != own_id and owner_id not in in_batch:
                errors.append(
                    RowError(
                        row,
                        "payment_refs",
                        f"payment ref {ref!r} already belongs to dossier {owner_code!r}",
                    )
                )
    return errors


def _same(record: DossierRecord, current: dict[str, Any], refs: tuple[str, ...]) -> bool:
    return all(getattr(record, c) == current[c] for c in COMPARED) and record.payment_refs == refs


def _values(record: DossierRecord, now: datetime) -> dict[str, Any]:
    values = {c: getattr(record, c) for c in COMPARED}
    values["code_key"] = record.code_key
    values["claimed_paid_day"] = (
        business_day_of(record.claimed_paid_at) if record.claimed_paid_at else None
    )
    values["updated_at"] = now
    return values


async def _insert_new(
    db_session: AsyncSession,
    new: list[DossierRecord],
    *,
    source: str,
    actor: str,
    now: datetime,
) -> None:
    # a batch at a time: a million-row import never holds a million parameter dicts at once
    for batch in chunks(new, INSERT_BATCH):
        await db_session.execute(
            insert(table(Dossier)),
            [{**_values(r, now), "dossier_code": r.dossier_code, "created_at": now} for r in batch],
        )
        # reading the ids back by key is several times faster than INSERT … RETURNING on aiosqlite
        found = await db_session.execute(
            select(Dossier.code_key, Dossier.id).where(
                Dossier.code_key.in_([r.code_key for r in batch])
            )
        )
        id_of = dict(found.all())
        ids = [id_of[r.code_key] for r in batch]
        await _insert_refs(db_session, zip(ids, batch, strict=True))
        await db_session.execute(
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
                for dossier_id, r in zip(ids, batch, strict=True)
            ],
        )


async def _insert_refs(
    db_session: AsyncSession, pairs: Iterable[tuple[int, DossierRecord]]
) -> None:
    values = [
        {"dossier_id": dossier_id, "ref": ref, "ref_key": ref_key(ref)}
        for dossier_id, record in pairs
        for ref in record.payment_refs
    ]
    if values:
        await db_session.execute(insert(table(DossierPaymentRef)), values)


async def _update_changed(
    db_session: AsyncSession,
    changed: list[tuple[DossierRecord, dict[str, Any]]],
    stored: _Stored,
    *,
    source: str,
    actor: str,
    now: datetime,
) -> None:
    if not changed:
        return
    await db_session.execute(
        update(Dossier),
        [{"id": current["id"], **_values(record, now)} for record, current in changed],
        execution_options={"synchronize_session": False},
    )
    ref_changes = [
        (current["id"], record)
        for record, current in changed
        if record.payment_refs != stored.refs.get(current["id"], ())
    ]
    for id_chunk in chunks([dossier_id for dossier_id, _ in ref_changes]):
        await db_session.execute(
            delete(DossierPaymentRef).where(DossierPaymentRef.dossier_id.in_(id_chunk))
        )
    await _insert_refs(db_session, ref_changes)
    history = []
    for record, current in changed:
        fields = [c for c in COMPARED if getattr(record, c) != current[c]]
        if record.payment_refs != stored.refs.get(current["id"], ()):
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
    await db_session.execute(insert(table(DossierHistory)), history)


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
    return DossierOut(
        dossier_code=dossier.dossier_code,
        procedure_code=dossier.procedure_code,
        procedure_name=dossier.procedure_name,
        applicant=dossier.applicant,
        fee_amount=dossier.fee_amount,
        state=dossier.state,
        submitted_at=dossier.submitted_at,
        payment_refs=list(refs),
        claimed_paid_channel=dossier.claimed_paid_channel,
        claimed_paid_at=dossier.claimed_paid_at,
        claimed_channel_txn_id=dossier.claimed_channel_txn_id,
        created_at=dossier.created_at,
        updated_at=dossier.updated_at,
    )


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
