"""Small helpers shared by tests."""

from __future__ import annotations

from datetime import UTC, datetime

from recon.auth.service import create_api_key
from recon.db.session import open_database
from recon.settings import Settings


async def make_key(settings: Settings, *scopes: str, name: str = "test") -> str:
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as session:
        new = await create_api_key(
            db_session=session, name=name, scopes=list(scopes), now=datetime.now(UTC)
        )
    return new.key
