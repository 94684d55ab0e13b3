"""`recon dossiers import FILE`: the CLI's own session, all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from recon.db.session import open_database, refresh_statistics
from recon.dossiers.parsing import records_from_file
from recon.dossiers.schemas import ImportSummary
from recon.dossiers.service import summary_of_errors, upsert_dossiers
from recon.rows import FileRejected, read_input_file
from recon.settings import Settings


async def import_dossier_file(
    settings: Settings, path: Path, *, source: str = "import"
) -> ImportSummary:
    data = await read_input_file(path)
    return await import_dossier_bytes(settings, path.name, data, source=source)


async def import_dossier_bytes(
    settings: Settings, name: str, data: bytes, *, source: str = "import"
) -> ImportSummary:
    try:
        rows, errors = records_from_file(name, data, channels=settings.channels)
    except FileRejected as exc:
        return summary_of_errors(0, exc.errors)
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as session:
        outcome = await upsert_dossiers(
            db_session=session,
            rows=rows,
            errors=errors,
            source=source,
            actor=f"cli:{name}",
            now=datetime.now(UTC),
        )
        await refresh_statistics(session)
    return outcome.summary
