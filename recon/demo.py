"""`recon demo`: a database with a demo ward in it, ready to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from recon.db.migrate import upgrade
from recon.db.models import Dossier
from recon.db.session import open_database
from recon.dossiers.imports import import_dossier_file
from recon.settings import Settings

DEMO_DOSSIERS = Path(__file__).resolve().parent.parent / "fixtures" / "data" / "demo_dossiers.csv"


async def load_demo(settings: Settings) -> dict[str, Any]:
    """Migrate, then load the demo dossiers into an empty database; never touch a filled one."""
    await upgrade(settings.database_url)
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as session:
        count = (await session.execute(select(func.count()).select_from(Dossier))).scalar_one()
    if count:
        return {
            "loaded": False,
            "dossiers": count,
            "message": f"database already holds {count} dossiers; demo data not loaded",
        }
    summary = await import_dossier_file(settings, DEMO_DOSSIERS, source="demo")
    return {
        "loaded": True,
        "dossiers": summary.inserted,
        "message": f"demo ward loaded: {summary.inserted} dossiers",
    }
