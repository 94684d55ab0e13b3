"""Dossier intake: idempotent, all-or-nothing upserts keyed by the dossier code (DESIGN 2.5).

One path serves the PUT, the batch and the file import (`DossierIntake`): rows come in batches,
each is checked (faults, the same code or ref twice in the intake, collisions with stored
dossiers), compared with what is stored and written inside the caller's one transaction
(`recon.dossiers.writes`). Once any row is bad nothing more is written, the rest is only checked
so that every fault is reported, and `finish` rolls the whole intake back; otherwise it commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.bulk import BulkLoad
from recon.db.models import Dossier, DossierHistory, DossierPaymentRef, table
from recon.db.sets import chunks
from recon.dossiers.schemas import DossierRecord
from recon.dossiers.writes import (
    COMPARED,
    INSERT_BATCH,
    LOOKUP_BATCH,
    insert_new,
    insert_new_sqlite,
    insert_refs,
    update_changed,
)
from recon.matching.normalize import ref_key
from recon.rows import ImportSummary, RowError, summary_of_errors


class UpsertOutcome(msgspec.Struct, kw_only=True):
    summary: ImportSummary
    # code_key -> "created" | "updated" | "unchanged", for the rows that were accepted
    actions: dict[str, str] = msgspec.field(default_factory=dict)

    # the rows were fine but collide with stored dossiers (HTTP 409 rather than 422)
    conflict: bool = False

    @property
    def rejected(self) -> bool:
        return bool(self.summary.rejected)


async def upsert_dossiers(
    *,
    db_session: AsyncSession,
    rows: Sequence[tuple[int | None, DossierRecord]],
    errors: Sequence[RowError] = (),
    source: str,
    actor: str,
    now: datetime,
) -> UpsertOutcome:
    """Store every row or none, in one batch. `errors` are faults already found while parsing."""
    intake = DossierIntake(db_session, source=source, actor=actor, now=now, keep_actions=True)
    await intake.add(rows, errors)
    return await intake.finish()


class _Stored(msgspec.Struct):
    dossiers: dict[str, dict[str, Any]]  # code_key -> column values
    refs: dict[int, tuple[str, ...]]  # dossier id -> its refs as stored
    ref_owner: dict[str, tuple[str, str]]  # ref_key -> (owner's code_key, code), refs named


_NOTHING_STORED = _Stored({}, {}, {})
_BULK_TABLES = tuple(table(m).name for m in (Dossier, DossierPaymentRef, DossierHistory))


class DossierIntake:
    """One intake (a PUT, an API batch, a file), fed batch by batch inside one transaction.

    Between batches it keeps only what the checks across batches need: the first row of each
    code key and of each ref key in the intake, the faults, and the rare refs that wait for
    their stored owner to appear later in the intake and give them up.
    """

    def __init__(
        self,
        db_session: AsyncSession,
        *,
        source: str,
        actor: str,
        now: datetime,
        keep_actions: bool = False,
        bulk_load: bool = False,
    ) -> None:
        self._session = db_session
        self._source = source
        self._actor = actor
        self._now = now
        self._received = 0
        self._inserted = 0
        self._updated = 0
        self._errors: list[RowError] = []  # faults of rows, in the file or in the intake
        self._conflicts: list[RowError] = []  # good rows that collide with stored dossiers
        self._row_of_code: dict[str, int | None] = {}
        self._row_of_ref: dict[str, int | None] = {}
        # a ref a stored dossier holds, taken by a row: (row, ref, owner's code_key and code);
        # fine if the owner comes later in the intake (and so gives it up), a conflict if not
        self._waiting: list[tuple[int | None, str, str, str]] = []
        self._waiting_refs: list[tuple[int, DossierRecord]] = []  # stored in `finish`
        self._actions: dict[str, str] | None = {} if keep_actions else None
        self._started = False
        self._empty = False  # nothing was stored when the intake began: nothing to look up
        self._next_id = 1  # SQLite: the id the next new dossier gets
        # a big intake into empty tables (the file import) drops their indexes until `finish`
        self._bulk_load = bulk_load
        self._bulk: BulkLoad | None = None

    @property
    def failed(self) -> bool:
        return bool(self._errors or self._conflicts)

    async def add(
        self,
        rows: Sequence[tuple[int | None, DossierRecord]],
        errors: Sequence[RowError] = (),
    ) -> None:
        """One batch: its good rows and the faults parsing found in the others."""
        if not self._started:
            await self._start()
        self._received += len(rows) + len({e.row for e in errors if e.row is not None})
        self._errors.extend(errors)
        firsts = self._firsts_in_intake(rows)
        stored = _NOTHING_STORED if self._empty else await self._load_stored(firsts)
        held = self._check_stored(firsts, stored)
        if not self.failed:
            await self._write(firsts, stored, held)

    async def finish(self) -> UpsertOutcome:
        """Commit, or roll back and report every fault, when the intake has any."""
        for row, ref, owner_key, owner_code in self._waiting:
            if owner_key not in self._row_of_code:
                self._conflicts.append(
                    RowError(
                        row,
                        "payment_refs",
                        f"payment ref {ref!r} already belongs to dossier {owner_code!r}",
                    )
                )
        if self.failed:
            await self._session.rollback()
            return UpsertOutcome(
                summary=summary_of_errors(self._received, self._errors + self._conflicts),
                conflict=not self._errors,
            )
        # their owners have given them up by now
        await insert_refs(self._session, self._waiting_refs)
        if self._bulk is not None:
            await self._bulk.finish()
        await self._session.commit()
        summary = ImportSummary(
            received=self._received,
            inserted=self._inserted,
            updated=self._updated,
            duplicates=self._received - self._inserted - self._updated,
        )
        return UpsertOutcome(summary=summary, actions=self._actions or {})

    async def _start(self) -> None:
        self._started = True
        top = (await self._session.execute(select(func.max(Dossier.id)))).scalar_one()
        self._empty = top is None
        self._next_id = (top or 0) + 1
        if self._empty and self._bulk_load:
            self._bulk = await BulkLoad.begin(self._session, _BULK_TABLES)

    def _firsts_in_intake(
        self, rows: Sequence[tuple[int | None, DossierRecord]]
    ) -> list[tuple[int | None, DossierRecord]]:
        """The rows whose code is new to the intake; a code or a ref of another row that came
        before is a fault."""
        firsts: list[tuple[int | None, DossierRecord]] = []
        row_of_code = self._row_of_code
        row_of_ref = self._row_of_ref
        for row, record in rows:
            key = record.code_key
            if key in row_of_code:
                self._errors.append(
                    RowError(
                        row,
                        "dossier_code",
                        f"{record.dossier_code!r} is also on row {row_of_code[key]}",
                    )
                )
                continue
            row_of_code[key] = row
            firsts.append((row, record))
            for ref in record.payment_refs:
                found = ref_key(ref)
                if found in row_of_ref:
                    self._errors.append(
                        RowError(
                            row,
                            "payment_refs",
                            f"payment ref {ref!r} is also on row {row_of_ref[found]}",
                        )
                    )
                else:
                    row_of_ref[found] = row
        return firsts

    async def _load_stored(self, rows: Sequence[tuple[int | None, DossierRecord]]) -> _Stored:
        keys = [r.code_key for _, r in rows]
        refs_named = sorted({ref_key(ref) for _, r in rows for ref in r.payment_refs})
        dossiers: dict[str, dict[str, Any]] = {}
        for chunk in chunks(keys, LOOKUP_BATCH):
            result = await self._session.execute(
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
        for id_chunk in chunks(ids, LOOKUP_BATCH):
            result = await self._session.execute(
                select(DossierPaymentRef.dossier_id, DossierPaymentRef.ref)
                .where(DossierPaymentRef.dossier_id.in_(id_chunk))
                .order_by(DossierPaymentRef.id)
            )
            for dossier_id, ref in result:
                refs.setdefault(dossier_id, []).append(ref)
        ref_owner: dict[str, tuple[str, str]] = {}
        for ref_chunk in chunks(refs_named, LOOKUP_BATCH):
            result = await self._session.execute(
                select(DossierPaymentRef.ref_key, Dossier.code_key, Dossier.dossier_code)
                .join(Dossier, Dossier.id == DossierPaymentRef.dossier_id)
                .where(DossierPaymentRef.ref_key.in_(ref_chunk))
            )
            ref_owner.update({key: (owner, code) for key, owner, code in result})
        return _Stored(dossiers, {k: tuple(v) for k, v in refs.items()}, ref_owner)

    def _check_stored(
        self, rows: Sequence[tuple[int | None, DossierRecord]], stored: _Stored
    ) -> set[str]:
        """Collisions with stored dossiers; returns the code keys of the rows that take a ref
        from a stored dossier not (yet) seen in the intake: their refs wait for `finish`."""
        held: set[str] = set()
        if not stored.dossiers and not stored.ref_owner:
            return held
        for row, record in rows:
            current = stored.dossiers.get(record.code_key)
            if current and current["dossier_code"].upper() != record.dossier_code.upper():
                self._conflicts.append(
                    RowError(
                        row,
                        "dossier_code",
                        f"{record.dossier_code!r} normalises like the stored dossier "
                        f"{current['dossier_code']!r}: two such codes cannot both exist",
                    )
                )
            for ref in record.payment_refs:
                owner = stored.ref_owner.get(ref_key(ref))
                # a dossier of this intake gives up its old refs, so only outsiders conflict
                if owner is not None and owner[0] not in self._row_of_code:
                    self._waiting.append((row, ref, *owner))
                    held.add(record.code_key)
        return held

    async def _write(
        self,
        rows: Sequence[tuple[int | None, DossierRecord]],
        stored: _Stored,
        held: set[str],
    ) -> None:
        new: list[DossierRecord] = []
        changed: list[tuple[DossierRecord, dict[str, Any]]] = []
        actions = self._actions
        for _, record in rows:
            current = stored.dossiers.get(record.code_key)
            if current is None:
                new.append(record)
                action = "created"
            elif _same(record, current, stored.refs.get(current["id"], ())):
                action = "unchanged"
            else:
                changed.append((record, current))
                action = "updated"
            if actions is not None:
                actions[record.code_key] = action
        self._inserted += len(new)
        self._updated += len(changed)
        # changed dossiers first: a ref one of them gives up may be taken by a new one
        self._waiting_refs.extend(
            await update_changed(
                self._session,
                changed,
                stored.refs,
                held=held,
                now=self._now,
                source=self._source,
                actor=self._actor,
            )
        )
        for batch in chunks(new, INSERT_BATCH):
            if self._session.get_bind().dialect.name == "sqlite":
                first_id = self._next_id
                self._next_id += len(batch)
                waiting = await insert_new_sqlite(
                    self._session,
                    batch,
                    first_id=first_id,
                    held=held,
                    now=self._now,
                    source=self._source,
                    actor=self._actor,
                )
            else:
                waiting = await insert_new(
                    self._session,
                    batch,
                    held=held,
                    now=self._now,
                    source=self._source,
                    actor=self._actor,
                )
            self._waiting_refs.extend(waiting)


def _same(record: DossierRecord, current: dict[str, Any], refs: tuple[str, ...]) -> bool:
    return all(getattr(record, c) == current[c] for c in COMPARED) and record.payment_refs == refs
