"""Storing statement lines: each `(channel, channel_txn_id)` once, forever (DESIGN 2.4, 8).

A line seen again with the same status is a duplicate; with a status that moved forward
(pending → success/failed/reversed, success → reversed) it is updated and the change recorded;
with an older status it is a duplicate too. Bulk writes go through Core executemany.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.bulk import insert_tuples
from recon.db.models import (
    LineStatusChange,
    StatementLineRow,
    table,
)
from recon.db.sets import chunks
from recon.db.types import sqlite_text
from recon.domain import StatementLine
from recon.matching.normalize import ref_key

INSERT_BATCH = 5_000
LOOKUP_BATCH = 5_000  # well under both databases' cap on bound parameters
# where each status may move to; anything else seen again is a duplicate
FORWARD = {
    "pending": {"success", "failed", "reversed"},
    "success": {"reversed"},
    "failed": set(),
    "reversed": set(),
}


class StoreCounts(msgspec.Struct, kw_only=True):
    lines: int = 0
    inserted: int = 0
    updated: int = 0
    duplicates: int = 0


_LINES = table(StatementLineRow)
# The columns a new line is inserted with, in the order `_values` makes them (`matched` keeps
# its server default: false).
_COLUMNS = (
    "channel", "channel_txn_id", "order_ref", "order_ref_key", "dossier_hint", "amount", "fee",
    "kind", "refund_of", "status", "paid_at", "business_day", "description", "payer", "raw",
    "fetch_id", "first_seen_at", "updated_at",
)  # fmt: skip


def _values(
    line: StatementLine, fetch_id: int | None, now: Any, *, as_text: bool = False
) -> tuple[Any, ...]:
    """One line's values for `_COLUMNS`; `as_text` gives times and days as SQLite stores them."""
    paid_at: Any = sqlite_text(line.paid_at) if as_text else line.paid_at
    day: Any = line.business_day.isoformat() if as_text else line.business_day
    return (
        line.channel,
        line.channel_txn_id,
        line.order_ref,
        ref_key(line.order_ref) if line.order_ref else None,
        line.dossier_hint,
        line.amount,
        line.fee,
        line.kind,
        line.refund_of,
        line.status,
        paid_at,
        day,
        line.description,
        line.payer,
        _JSON.encode(line.raw).decode(),
        fetch_id,
        now,
        now,
    )


def _as_row(values: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(_COLUMNS, values, strict=True))


_JSON = msgspec.json.Encoder()


class LineStore:
    """Stores one delivery (a pull or a file) batch by batch, inside the caller's transaction.

    Each `(channel, channel_txn_id)` is one line: new ones are inserted, stored ones move their
    status forward (the change recorded) or are duplicates. A line that comes again later in
    the same delivery replaces what this delivery stored for it and is counted once. Nothing is
    committed here: a delivery that fails part-way is rolled back whole by the caller.
    """

    def __init__(
        self,
        db_session: AsyncSession,
        *,
        fetch_id: int | None,
        now: datetime,
        keys_unique: bool = False,
    ) -> None:
        """`keys_unique`: the caller guarantees each key at most once in the whole delivery (a
        statement file, whose parser refuses a `channel_txn_id` twice), so no map of the keys
        already handled is kept: at a million lines it was the largest thing in memory."""
        self._session = db_session
        self._fetch_id = fetch_id
        self._now = now
        self._keys_unique = keys_unique
        # key -> status this delivery left it in, and whether this delivery inserted it
        self._seen: dict[tuple[str, str], tuple[str, bool]] = {}
        self._updated: set[tuple[str, str]] = set()
        self._lines = 0  # distinct keys handled
        self._inserted = 0
        self._channels_stored: dict[str, bool] = {}  # had the channel any line before?

    @property
    def counts(self) -> StoreCounts:
        return StoreCounts(
            lines=self._lines,
            inserted=self._inserted,
            updated=len(self._updated),
            duplicates=self._lines - self._inserted - len(self._updated),
        )

    async def add(self, lines: Sequence[StatementLine]) -> None:
        latest: dict[tuple[str, str], StatementLine] = {}
        for line in lines:  # the same line twice in one batch is one line: keep the later
            latest[(line.channel, line.channel_txn_id)] = line
        seen = self._seen
        if self._keys_unique:
            again: dict[tuple[str, str], StatementLine] = {}
            fresh = list(latest)
        else:
            again = {key: line for key, line in latest.items() if key in seen}
            fresh = [key for key in latest if key not in seen]
        stored = await _stored_statuses(self._session, await self._not_first(fresh))
        new: list[StatementLine] = []
        moved: list[tuple[int, str, StatementLine]] = []
        remember = not self._keys_unique
        for key in fresh:
            line, found = latest[key], stored.get(key)
            if found is None:
                new.append(line)
                if remember:
                    seen[key] = (line.status, True)
                continue
            if line.status in FORWARD[found[1]]:
                moved.append((found[0], found[1], line))
                self._updated.add(key)
                if remember:
                    seen[key] = (line.status, False)
            elif remember:
                seen[key] = (found[1], False)
        self._lines += len(fresh)
        self._inserted += len(new)
        await self._insert(new)
        await self._move(moved)
        await self._again(again)

    async def _not_first(self, keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The keys worth looking up: none of a channel that had no line when this delivery
        began (a first import of a big file looks nothing up)."""
        for channel in {channel for channel, _ in keys} - self._channels_stored.keys():
            found = await self._session.execute(
                select(StatementLineRow.id).where(StatementLineRow.channel == channel).limit(1)
            )
            self._channels_stored[channel] = found.first() is not None
        return [key for key in keys if self._channels_stored[key[0]]]

    async def _insert(self, lines: Sequence[StatementLine]) -> None:
        if self._session.get_bind().dialect.name == "sqlite":
            await self._insert_sqlite(lines)
            return
        for batch in chunks(lines, INSERT_BATCH):  # never all the row dicts at once
            await self._session.execute(
                insert(table(StatementLineRow)),
                [_as_row(_values(line, self._fetch_id, self._now)) for line in batch],
            )

    async def _insert_sqlite(self, lines: Sequence[StatementLine]) -> None:
        """The bulk path of every pull: plain tuples to the driver, times made text once.
        (Building the next statement's values while SQLite writes one was measured slower:
        the two threads contend for the GIL.)"""
        now = sqlite_text(self._now)
        rows = (_values(line, self._fetch_id, now, as_text=True) for line in lines)
        await insert_tuples(await self._session.connection(), _LINES, _COLUMNS, rows)

    async def _move(self, moved: list[tuple[int, str, StatementLine]]) -> None:
        """Stored lines whose status moved forward: update them and record the change."""
        if not moved:
            return
        await self._session.execute(
            update(StatementLineRow),
            [
                {
                    "id": line_id,
                    "status": line.status,
                    "raw": _JSON.encode(line.raw).decode(),
                    "fetch_id": self._fetch_id,
                    "updated_at": self._now,
                }
                for line_id, _, line in moved
            ],
            execution_options={"synchronize_session": False},
        )
        await self._session.execute(
            insert(LineStatusChange),
            [
                {
                    "line_id": line_id,
                    "changed_at": self._now,
                    "status_before": before,
                    "status_after": line.status,
                    "fetch_id": self._fetch_id,
                }
                for line_id, before, line in moved
            ],
        )

    async def _again(self, again: dict[tuple[str, str], StatementLine]) -> None:
        """A line this delivery already handled, delivered once more (rare: a page repeated).

        One this delivery inserted is replaced whole, as if only the later one had come; a
        stored one moves forward from where this delivery left it.
        """
        for key, line in again.items():
            status, inserted = self._seen[key]
            where = (
                StatementLineRow.channel == key[0],
                StatementLineRow.channel_txn_id == key[1],
            )
            if inserted:
                values = _as_row(_values(line, self._fetch_id, self._now))
                await self._session.execute(update(StatementLineRow).where(*where).values(values))
                self._seen[key] = (line.status, True)
            elif line.status in FORWARD[status]:
                line_id = (
                    await self._session.execute(select(StatementLineRow.id).where(*where))
                ).scalar_one()
                await self._move([(line_id, status, line)])
                self._updated.add(key)
                self._seen[key] = (line.status, False)


async def store_lines(
    db_session: AsyncSession,
    lines: Sequence[StatementLine],
    *,
    fetch_id: int | None,
    now: datetime,
) -> StoreCounts:
    """Store one whole delivery (see `LineStore`); the caller commits."""
    store = LineStore(db_session, fetch_id=fetch_id, now=now)
    await store.add(lines)
    return store.counts


async def _stored_statuses(
    db_session: AsyncSession, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, str]]:
    by_channel: dict[str, list[str]] = {}
    for channel, txn_id in keys:
        by_channel.setdefault(channel, []).append(txn_id)
    found: dict[tuple[str, str], tuple[int, str]] = {}
    for channel, txn_ids in by_channel.items():
        for chunk in chunks(txn_ids, LOOKUP_BATCH):
            result = await db_session.execute(
                select(
                    StatementLineRow.channel_txn_id, StatementLineRow.id, StatementLineRow.status
                ).where(
                    StatementLineRow.channel == channel,
                    StatementLineRow.channel_txn_id.in_(chunk),
                )
            )
            for txn_id, line_id, status in result:
                found[(channel, txn_id)] = (line_id, status)
    return found
