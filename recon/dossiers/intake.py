"""Dossier intake: idempotent, all-or-nothing upserts keyed by the dossier code (DESIGN 2.5).

One path serves the PUT, the batch and the file import (`DossierIntake`): rows come in batches,
each is checked (faults, the same code or ref twice in the intake, collisions with stored
dossiers), compared with what is stored and written inside the caller's one transaction. Once
any row is bad nothing more is written, the rest is only checked so that every fault is
reported, and `finish` rolls the whole intake back; otherwise it commits. On SQLite new dossiers
go to the driver as plain tuples (ids handed out here, times made text once); elsewhere through
Core executemany.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Date, delete, func, insert, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.bulk import BulkLoad, insert_tuples
from recon.db.chunks import chunks
from recon.db.models import Dossier, DossierHistory, DossierPaymentRef, table
from recon.db.types import sqlite_text
from recon.domain import business_day_of
from recon.dossiers.schemas import DossierRecord, ImportSummary, RejectedRow
from recon.matching.normalize import ref_key
from recon.rows import RowError

INSERT_BATCH = 5_000  # rows per Core executemany; well under the databases' parameter caps
LOOKUP_BATCH = 5_000  # keys per IN (...): SQLite allows 32,766 parameters, asyncpg 32,767
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
_SQLITE = sqlite.dialect()
# SQLite's stored text for days: the column type's own conversion (times: `sqlite_text`)
_DAY_TEXT = Date().dialect_impl(_SQLITE).bind_processor(_SQLITE)


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
        await self._insert_refs(self._waiting_refs)
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
        await self._update_changed(changed, stored, held)
        for batch in chunks(new, INSERT_BATCH):
            if self._session.get_bind().dialect.name == "sqlite":
                await self._insert_new_sqlite(batch, held)
            else:
                await self._insert_new(batch, held)

    async def _insert_new_sqlite(self, new: Sequence[DossierRecord], held: set[str]) -> None:
        """Plain tuples to the driver: ids handed out here (the transaction holds SQLite's write
        lock from its first statement), times turned into text once."""
        assert _DAY_TEXT is not None
        day_text = _DAY_TEXT
        now = sqlite_text(self._now)
        first = self._next_id
        self._next_id += len(new)
        dossiers = []
        history = []
        for dossier_id, r in enumerate(new, start=first):
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
                    None if claimed_at is None else day_text(business_day_of(claimed_at)),
                    now,
                    now,
                )
            )
            history.append(
                (
                    dossier_id,
                    now,
                    self._source,
                    self._actor,
                    "created",
                    None,
                    r.fee_amount,
                    None,
                    r.state,
                    "",
                )
            )
        pairs = list(enumerate(new, start=first))
        if held:
            self._waiting_refs.extend(pair for pair in pairs if pair[1].code_key in held)
            pairs = [pair for pair in pairs if pair[1].code_key not in held]
        refs = [
            (dossier_id, ref, ref_key(ref)) for dossier_id, r in pairs for ref in r.payment_refs
        ]
        connection = await self._session.connection()
        await insert_tuples(connection, table(Dossier), _DOSSIER_COLUMNS, dossiers)
        await insert_tuples(connection, table(DossierPaymentRef), _REF_COLUMNS, refs)
        await insert_tuples(connection, table(DossierHistory), _HISTORY_COLUMNS, history)

    async def _insert_new(self, new: Sequence[DossierRecord], held: set[str]) -> None:
        await self._session.execute(
            insert(table(Dossier)),
            [
                {**_values(r, self._now), "dossier_code": r.dossier_code, "created_at": self._now}
                for r in new
            ],
        )
        # reading the ids back by key is several times faster than INSERT … RETURNING on aiosqlite
        found = await self._session.execute(
            select(Dossier.code_key, Dossier.id).where(
                Dossier.code_key.in_([r.code_key for r in new])
            )
        )
        id_of = dict(found.all())
        pairs = [(id_of[r.code_key], r) for r in new]
        await self._insert_refs(pair for pair in pairs if pair[1].code_key not in held)
        self._waiting_refs.extend(pair for pair in pairs if pair[1].code_key in held)
        await self._session.execute(
            insert(table(DossierHistory)),
            [
                {
                    "dossier_id": dossier_id,
                    "changed_at": self._now,
                    "source": self._source,
                    "actor": self._actor,
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

    async def _insert_refs(self, pairs: Iterable[tuple[int, DossierRecord]]) -> None:
        values = [
            {"dossier_id": dossier_id, "ref": ref, "ref_key": ref_key(ref)}
            for dossier_id, record in pairs
            for ref in record.payment_refs
        ]
        for batch in chunks(values, INSERT_BATCH):
            await self._session.execute(insert(table(DossierPaymentRef)), batch)

    async def _update_changed(
        self,
        changed: list[tuple[DossierRecord, dict[str, Any]]],
        stored: _Stored,
        held: set[str],
    ) -> None:
        if not changed:
            return
        await self._session.execute(
            update(Dossier),
            [{"id": current["id"], **_values(record, self._now)} for record, current in changed],
            execution_options={"synchronize_session": False},
        )
        ref_changes = [
            (current["id"], record)
            for record, current in changed
            if record.payment_refs != stored.refs.get(current["id"], ())
        ]
        for id_chunk in chunks([dossier_id for dossier_id, _ in ref_changes], LOOKUP_BATCH):
            await self._session.execute(
                delete(DossierPaymentRef).where(DossierPaymentRef.dossier_id.in_(id_chunk))
            )
        await self._insert_refs(pair for pair in ref_changes if pair[1].code_key not in held)
        self._waiting_refs.extend(pair for pair in ref_changes if pair[1].code_key in held)
        history = []
        for record, current in changed:
            fields = [c for c in COMPARED if getattr(record, c) != current[c]]
            if record.payment_refs != stored.refs.get(current["id"], ()):
                fields.append("payment_refs")
            history.append(
                {
                    "dossier_id": current["id"],
                    "changed_at": self._now,
                    "source": self._source,
                    "actor": self._actor,
                    "change": "updated",
                    "fee_before": current["fee_amount"],
                    "fee_after": record.fee_amount,
                    "state_before": current["state"],
                    "state_after": record.state,
                    "changed_fields": ",".join(fields),
                }
            )
        await self._session.execute(insert(table(DossierHistory)), history)


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
