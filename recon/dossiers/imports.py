"""`recon dossiers import FILE`: the CLI's own session, all or nothing, read in batches."""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

from recon.clitools import collector_paused
from recon.clock import utcnow
from recon.db.session import open_session, refresh_statistics
from recon.dossiers.intake import DossierIntake
from recon.dossiers.parsing import BATCH, record_batches
from recon.rows import FileRejected, ImportSummary, open_input_file, summary_of_errors
from recon.settings import Settings


async def import_dossier_file(
    settings: Settings, path: Path, *, source: str = "import", batch_size: int = BATCH
) -> ImportSummary:
    with open_input_file(path) as stream:
        return await _import(settings, path.name, stream, source=source, batch_size=batch_size)


async def import_dossier_bytes(
    settings: Settings, name: str, data: bytes, *, source: str = "import"
) -> ImportSummary:
    return await _import(settings, name, io.BytesIO(data), source=source, batch_size=BATCH)


async def _import(
    settings: Settings, name: str, stream: BinaryIO, *, source: str, batch_size: int
) -> ImportSummary:
    """Each batch is validated and written as it is read, inside one transaction: a bad row
    anywhere rolls back every batch before it (`DossierIntake.finish`)."""
    batches = record_batches(name, stream, channels=settings.channels, size=batch_size)
    async with open_session(settings.database_url) as session:
        intake = DossierIntake(
            session, source=source, actor=f"cli:{name}", now=utcnow(), bulk_load=True
        )
        try:
            with collector_paused():
                for rows, errors in batches:
                    await intake.add(rows, errors)
        except FileRejected as exc:
            await session.rollback()
            return summary_of_errors(0, exc.errors)
        outcome = await intake.finish()
        await refresh_statistics(session)
    return outcome.summary
