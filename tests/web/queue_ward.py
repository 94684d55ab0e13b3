"""What the queue, case and audit page tests share: the test ward reconciled on day 1 with a
dossier that the unmatched payment belongs to, a low write-off threshold, the four roles'
accounts, clients signed in as each, and synthetic cases written straight to the tables.

After `reconcile D1 --channel vnpay` the live cases are: UNDERPAID H17.25-241125-0002 (20.000
expected, 10.000 paid), UNMATCHED_PAYMENT V3 (5.000, "Chuyen tien"), OVERPAID
H17.25-241125-0003 (0 expected, 8.000 paid) and PAYMENT_ON_CLOSED_DOSSIER H17.25-241125-0004
(3.000 on a cancelled dossier). H17.25-241125-0005 (fee 5.000, unpaid) is V3's owner.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import insert, select

from recon.app import create_app
from recon.db.models import Case, CaseEvent, table
from recon.db.session import open_database
from recon.settings import Settings
from tests.conftest import CHANNEL_SECRETS, CHANNELS_TOML
from tests.runs.test_reconcile import D1, DOSSIERS, reconcile, ward, write
from tests.web.signin import csrf_of, sign_in

__all__ = ["ward"]

PASSWORD = "mật khẩu rất dài"
THRESHOLD = 5_000  # a write-off above 5.000 ₫ needs an approver
OWNER = "H17.25-241125-0005"
ACCOUNTS = {"ketoan": "accountant", "duyet": "approver", "duyet2": "approver", "xem": "viewer"}


@pytest.fixture
def environ(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The four channels, and a write-off threshold of 5.000 ₫."""
    config = tmp_path / "recon.toml"
    config.write_text(
        CHANNELS_TOML + f"[thresholds]\nwrite_off_approval = {THRESHOLD}\n", encoding="utf-8"
    )
    return {"RECON_DATABASE_URL": database_url, "RECON_CONFIG": str(config), **CHANNEL_SECRETS}


@pytest.fixture
def accounts(run_cli: Callable[..., Any]) -> dict[str, str]:
    for username, role in ACCOUNTS.items():
        args = ("users", "create", "--username", username, "--role", role)
        assert run_cli(*args, stdin=PASSWORD + "\n").code == 0
    return ACCOUNTS


@pytest.fixture
def reconciled(run_cli: Callable[..., Any], ward: None, tmp_path: Path) -> None:
    owner = write(
        tmp_path,
        "owner.csv",
        DOSSIERS,
        f"{OWNER},1.001612,Chứng thực bản sao,Đỗ Văn Em,5.000,received,{D1}T08:40:00+07:00,",
    )
    assert run_cli("dossiers", "import", owner).code == 0
    reconcile(run_cli, D1, "--channel", "vnpay")


async def signed_in(settings: Settings, username: str) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=create_app(settings)) as client:
        response = await sign_in(client, username, PASSWORD)
        assert response.status_code == 303, response.text
        yield client


@pytest.fixture
async def accountant(
    settings: Settings, accounts: dict[str, str]
) -> AsyncIterator[AsyncTestClient[Any]]:
    async for client in signed_in(settings, "ketoan"):
        yield client


@pytest.fixture
async def approver(
    settings: Settings, accounts: dict[str, str]
) -> AsyncIterator[AsyncTestClient[Any]]:
    async for client in signed_in(settings, "duyet"):
        yield client


@pytest.fixture
async def viewer(
    settings: Settings, accounts: dict[str, str]
) -> AsyncIterator[AsyncTestClient[Any]]:
    async for client in signed_in(settings, "xem"):
        yield client


async def case_ids(settings: Settings) -> dict[str, int]:
    """`{type: id}` of the cases (one of each type in the reconciled ward)."""
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as session:
        rows = await session.execute(select(Case.type, Case.id))
        return {str(row[0]): int(row[1]) for row in rows}


async def case_row(settings: Settings, case_id: int) -> Any:
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as session:
        return (await session.execute(select(Case).where(Case.id == case_id))).scalar_one()


async def post_form(
    client: AsyncTestClient[Any], page: str, action: str, data: dict[str, Any]
) -> Any:
    """POST a form as the page at `page` would, with that page's CSRF token."""
    shown = await client.get(page)
    assert shown.status_code == 200, shown.text
    return await client.post(
        action, data={**data, "_csrf_token": csrf_of(shown.text)}, follow_redirects=False
    )


async def add_cases(settings: Settings, count: int, *, first_day: date = date(2025, 10, 1)) -> None:
    """`count` live UNMATCHED_REFUND cases of growing amounts (1.000 ₫ apart), one a day
    cycling over 30 days on momo, each with an engine event: enough to page."""
    now = datetime(2025, 11, 1, tzinfo=UTC)
    rows = [
        {
            "type": "UNMATCHED_REFUND",
            "status": "open",
            "identity": f"seed:{n}",
            "business_day": first_day + timedelta(days=n % 30),
            "channel": "momo",
            "dossier_id": None,
            "expected_amount": None,
            "actual_amount": 1_000 * (n + 1),
            "rule": "refund",
            "explanation": f"Khoản hoàn tiền thử số {n}",
            "created_at": now,
            "updated_at": now,
        }
        for n in range(count)
    ]
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as session:
        await session.execute(insert(table(Case)), rows)
        query = select(Case.id).where(Case.identity.like("seed:%")).order_by(Case.id)
        events = [
            {
                "case_id": case_id,
                "at": now,
                "actor": None,
                "action": "opened",
                "from_status": None,
                "to_status": "open",
                "changes": "{}",
                "note": "",
            }
            for case_id in (await session.execute(query)).scalars()
        ]
        await session.execute(insert(table(CaseEvent)), events)
        await session.commit()
