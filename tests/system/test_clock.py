"""The app's handlers read the time from the one clock, which a test can give (recon.clock)."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar.testing import AsyncTestClient

from recon.app import create_app
from recon.clock import utcnow
from recon.settings import Settings
from tests.helpers import make_key

FIXED = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_the_clock_is_aware_utc() -> None:
    assert utcnow().tzinfo is UTC


async def test_a_dossier_stored_over_http_is_stamped_by_the_apps_clock(settings: Settings) -> None:
    key = await make_key(settings, "dossiers:write")
    body = {
        "procedure_code": "1.001612",
        "fee_amount": 1500,
        "state": "received",
        "submitted_at": "2025-11-24T09:30:00+07:00",
    }
    async with AsyncTestClient(app=create_app(settings, clock=lambda: FIXED)) as client:
        created = await client.put(
            "/api/v1/dossiers/H17.25-300102-0001",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
        )
    assert created.status_code == 201, created.text
    stamped = created.json()
    assert datetime.fromisoformat(stamped["created_at"]) == FIXED
    assert datetime.fromisoformat(stamped["updated_at"]) == FIXED
