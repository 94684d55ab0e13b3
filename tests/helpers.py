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


def one_error_line(err: str) -> str:
    """The one error line a failing command writes on stderr (DESIGN 6), without its prefix."""
    assert err.count("\n") == 1, err
    assert err.startswith("recon: error: "), err
    return err.removeprefix("recon: error: ").rstrip("\n")
