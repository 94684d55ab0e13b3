"""`recon statements import --channel C FILE`: a statement file stored whole, or not at all.

The file is read a batch of lines at a time and each batch is stored as it comes, inside one
transaction (DESIGN 2.4). A bad row anywhere, or a line on a closed business day, rolls back
every batch stored before it, and the fetch record with them. The fetch record's business day
(the file's one day, or null) is known only at the end, and written then. Into an empty table
(SQLite) the lines go without the table's indexes, which are rebuilt before the commit
(`recon.db.bulk`).
"""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.files import BATCH, statement_batches
from recon.clitools import collector_paused
from recon.clock import Clock, utcnow
from recon.db.bulk import BulkLoad
from recon.db.models import StatementLineRow, table
from recon.db.session import open_database, refresh_statistics
from recon.errors import Conflict
from recon.rows import FileRejected, ImportSummary, open_input_file, summary_of_errors
from recon.settings import FileChannel, Settings
from recon.statements.channels import channel_config
from recon.statements.fetches import finish_fetch, record_fetch, refuse_closed_days
from recon.statements.service import LineStore, StoreCounts
from recon.system.metrics import count_lines


async def import_file(
    settings: Settings, channel: str, path: Path, *, batch_size: int = BATCH
) -> ImportSummary:
    """`recon statements import --channel C FILE`."""
    channel_config(settings, channel)
    with open_input_file(path) as stream:
        async with open_database(settings.database_url) as sessionmaker:
            return await _import(
                sessionmaker, settings, channel, path.name, stream, utcnow, batch_size
            )


async def import_statement_bytes(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    channel: str,
    name: str,
    data: bytes,
    clock: Clock = utcnow,
    batch_size: int = BATCH,
) -> ImportSummary:
    """A statement file already in memory (see `import_file`)."""
    return await _import(sessionmaker, settings, channel, name, io.BytesIO(data), clock, batch_size)


async def _import(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    channel: str,
    name: str,
    stream: BinaryIO,
    clock: Clock,
    batch_size: int,
) -> ImportSummary:
    config = channel_config(settings, channel)
    mapping = config.mapping if isinstance(config, FileChannel) else None
    started = clock()
    batches = statement_batches(name, stream, channel=channel, mapping=mapping, size=batch_size)
    received = 0
    days: set[date] = set()
    closed = False  # a line on a closed day: the file is refused, read on only for bad rows
    fetch_id: int | None = None
    store: LineStore | None = None
    bulk: BulkLoad | None = None  # an empty table: its indexes are rebuilt at the end
    async with sessionmaker() as session:
        try:
            with collector_paused():
                for lines in batches:
                    received += len(lines)
                    new_days = {line.business_day for line in lines} - days
                    days |= new_days
                    if new_days and not closed:
                        closed = await _any_closed(session, new_days)
                    if closed:
                        continue
                    if store is None:
                        bulk = await BulkLoad.begin(session, [table(StatementLineRow).name])
                        fetch_id = await _start_fetch(session, channel, name, started, clock)
                        store = LineStore(session, fetch_id=fetch_id, now=clock(), keys_unique=True)
                    await store.add(lines)
        except FileRejected as exc:
            await session.rollback()
            return summary_of_errors(exc.rows_read or 0, exc.errors)
        if closed:
            await session.rollback()
            await refuse_closed_days(session, days)  # the Conflict naming every closed day
        if fetch_id is None:  # a file of no lines is still a fetch
            fetch_id = await _start_fetch(session, channel, name, started, clock)
        counts = store.counts if store is not None else StoreCounts()
        await finish_fetch(
            session,
            fetch_id,
            counts,
            clock(),
            business_day=next(iter(days)) if len(days) == 1 else None,
        )
        if bulk is not None:
            await bulk.finish()
        await session.commit()
        count_lines(
            channel,
            "import",
            inserted=counts.inserted,
            updated=counts.updated,
            duplicates=counts.duplicates,
        )
        await refresh_statistics(session)
    return ImportSummary(
        received=received,
        inserted=counts.inserted,
        updated=counts.updated,
        duplicates=counts.duplicates,
    )


async def _any_closed(session: AsyncSession, days: set[date]) -> bool:
    try:
        await refuse_closed_days(session, days)
    except Conflict:
        return True
    return False


async def _start_fetch(
    session: AsyncSession,
    channel: str,
    name: str,
    started: datetime,
    clock: Clock,
) -> int:
    return await record_fetch(
        session,
        channel=channel,
        business_day=None,
        source="import",
        status="running",
        started_at=started,
        finished_at=clock(),
        file_name=name[:300],
    )
