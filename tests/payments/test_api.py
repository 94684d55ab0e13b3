"""`GET /api/v1/payments/{dossier_code}` and `POST /api/v1/payments:query` (DESIGN 6 and 8):
every status end to end through imports and runs, the batch's limits and unknown codes, keys
and scopes, ETag and 304. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from recon.auth.service import revoke_api_key
from recon.db.models import ApiKey, Case, Dossier
from recon.db.session import open_database
from recon.runs.service import reconcile_day
from recon.settings import Settings
from recon.statements.imports import import_file
from tests.conftest import CHANNEL_SECRETS, CHANNELS_TOML
from tests.helpers import make_key

D1, D2 = "2025-11-24", "2025-11-25"
DOSSIERS = (
    "dossier_code,procedure_code,procedure_name,applicant,fee_amount,state,submitted_at,"
    "payment_refs"
)
LINES = "channel_txn_id,order_ref,amount,fee,kind,status,paid_at,description,payer"
PAYMENT_FIELDS = {
    "dossier_code",
    "status",
    "fee_amount",
    "paid_amount",
    "channel",
    "transactions",
    "reconciled",
    "last_reconciled_at",
}


def code(n: int) -> str:
    return f"H17.25-241125-{n:04d}"


@pytest.fixture
def environ(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The usual channels and a second file channel, for a payment split over two."""
    config = tmp_path / "recon.toml"
    config.write_text(CHANNELS_TOML + '[channels.zalopay]\nadapter = "file"\n', "utf-8")
    return {"RECON_DATABASE_URL": database_url, "RECON_CONFIG": str(config), **CHANNEL_SECRETS}


def write(tmp_path: Path, name: str, header: str, *rows: str) -> str:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return str(path)


def at(day: str, hh: int) -> str:
    return f"{day}T{hh:02d}:00:00+07:00"


@pytest.fixture
def ward(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    """Dossiers 1..9, a day of lines on two file channels, reconciled."""
    dossiers = write(
        tmp_path,
        "d.csv",
        DOSSIERS,
        f"{code(1)},1.001,Chứng thực,An,15000,received,{at(D1, 8)},REF1",  # paid
        f"{code(2)},1.002,Kết hôn,Bình,20000,processing,{at(D1, 8)},REF2",  # paid in part
        f"{code(3)},1.003,Khai sinh,Châu,0,completed,{at(D1, 8)},",  # exempt
        f"{code(4)},1.004,Trích lục,Hà,8000,cancelled,{at(D1, 8)},",  # cancelled, nothing
        f"{code(5)},1.005,Chứng thực,Dũng,0,received,{at(D1, 8)},REF5",  # exempt, paid, refunded
        f"{code(6)},1.006,Chứng thực,Em,20000,received,{at(D1, 8)},REF6A|REF6B",  # split
        f"{code(7)},1.007,Chứng thực,Giang,30000,received,{at(D1, 8)},REF7",  # paid on D2
        f"{code(8)},1.008,Chứng thực,Hoa,10000,received,{at(D1, 8)},REF8",  # exempt? no: overpaid
        f"{code(9)},1.009,Chứng thực,Khánh,12000,received,{at(D1, 8)},REF9",  # refunded in full
    )
    assert run_cli("dossiers", "import", dossiers).code == 0
    vnpay = write(
        tmp_path,
        "vnpay.csv",
        LINES,
        f"V1,REF1,15000,0,payment,success,{at(D1, 9)},Thanh toan,0912345678",
        f"V2,REF2,5000,0,payment,success,{at(D1, 9)},Thanh toan,",
        f"V2F,REF2,20000,0,payment,failed,{at(D1, 8)},Thanh toan,",
        f"V5,REF5,10000,0,payment,success,{at(D1, 9)},Thanh toan,",
        f"V5R,REF5,10000,0,refund,success,{at(D1, 11)},Hoan tien,",
        f"V6,REF6A,8000,0,payment,success,{at(D1, 9)},Thanh toan,",
        f"V8,REF8,25000,0,payment,success,{at(D1, 9)},Thanh toan,",
        f"V9,REF9,12000,0,payment,success,{at(D1, 9)},Thanh toan,",
        f"V9R,REF9,12000,0,refund,success,{at(D1, 12)},Hoan tien,",
    )
    assert run_cli("statements", "import", "--channel", "vnpay", vnpay).code == 0
    zalopay = write(
        tmp_path, "zalo.csv", LINES, f"Z6,REF6B,12000,0,payment,success,{at(D1, 10)},Phi,"
    )
    assert run_cli("statements", "import", "--channel", "zalopay", zalopay).code == 0
    result = run_cli("reconcile", "--date", D1, "--no-pull", "--json")
    assert result.code == 0, result


async def import_lines(settings: Settings, tmp_path: Path, *rows: str) -> None:
    """A statement file of the vnpay channel, imported as `recon statements import` does."""
    summary = await import_file(settings, "vnpay", Path(write(tmp_path, "more.csv", LINES, *rows)))
    assert summary.rejected == []


@pytest.fixture
async def reader(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {await make_key(settings, 'payments:read')}"}


async def get(client: AsyncTestClient[Any], headers: dict[str, str], n: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/payments/{code(n)}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == PAYMENT_FIELDS
    return body


async def resolve_cases(settings: Settings, n: int) -> None:
    """What the accountant's resolve will do (issue 14); here, straight in the database."""
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
        dossier_id = (
            await s.execute(select(Dossier.id).where(Dossier.dossier_code == code(n)))
        ).scalar_one()
        await s.execute(
            update(Case)
            .where(Case.dossier_id == dossier_id)
            .values(status="resolved", resolution="accepted")
        )
        await s.commit()


async def test_paid_reconciled_with_every_field(
    client: AsyncTestClient[Any], reader: dict[str, str], ward: None
) -> None:
    body = await get(client, reader, 1)
    assert body["status"] == "PAID"
    assert (body["fee_amount"], body["paid_amount"], body["channel"]) == (15000, 15000, "vnpay")
    assert body["reconciled"] is True
    assert body["last_reconciled_at"] is not None
    assert body["transactions"] == [
        {
            "channel": "vnpay",
            "channel_txn_id": "V1",
            "kind": "payment",
            "status": "success",
            "amount": 15000,
            "paid_at": "2025-11-24T02:00:00Z",
        }
    ]
    assert "0912345678" not in json.dumps(body)  # the payer is never exposed
    assert "payer" not in body["transactions"][0]


async def test_a_live_case_disputes_until_it_is_resolved(
    client: AsyncTestClient[Any], reader: dict[str, str], ward: None, settings: Settings
) -> None:
    body = await get(client, reader, 2)  # 5,000 of 20,000: an UNDERPAID case is live
    assert body["status"] == "DISPUTED"
    # every line of the dossier, whatever its status, oldest first
    assert [(t["channel_txn_id"], t["status"]) for t in body["transactions"]] == [
        ("V2F", "failed"),
        ("V2", "success"),
    ]
    await resolve_cases(settings, 2)
    assert (await get(client, reader, 2))["status"] == "PARTIALLY_PAID"


async def test_the_edges_of_design_8(
    client: AsyncTestClient[Any], reader: dict[str, str], ward: None, settings: Settings
) -> None:
    assert (await get(client, reader, 3))["status"] == "EXEMPT"
    assert (await get(client, reader, 4))["status"] == "UNPAID"  # cancelled, nothing net
    refunded = await get(client, reader, 5)  # exempt, paid and refunded
    assert (refunded["status"], refunded["paid_amount"]) == ("REFUNDED", 0)
    split = await get(client, reader, 6)  # 8,000 by vnpay and 12,000 by zalopay
    assert (split["status"], split["paid_amount"], split["channel"]) == ("PAID", 20000, "zalopay")
    assert (await get(client, reader, 9))["status"] == "REFUNDED"
    assert (await get(client, reader, 8))["status"] == "DISPUTED"  # OVERPAID case live
    await resolve_cases(settings, 8)
    assert (await get(client, reader, 8))["status"] == "OVERPAID"


async def test_a_payment_a_pull_stored_is_pending_before_any_run(
    client: AsyncTestClient[Any],
    reader: dict[str, str],
    ward: None,
    settings: Settings,
    tmp_path: Path,
) -> None:
    before = await get(client, reader, 7)
    assert (before["status"], before["transactions"]) == ("UNPAID", [])
    await import_lines(settings, tmp_path, f"V7,REF7,30000,0,payment,success,{at(D2, 9)},Phi,")
    seen = await get(client, reader, 7)
    assert (seen["status"], seen["paid_amount"], seen["reconciled"]) == ("PENDING", 30000, False)
    assert seen["last_reconciled_at"] is None
    assert [t["channel_txn_id"] for t in seen["transactions"]] == ["V7"]
    async with open_database(settings.database_url) as sessionmaker:
        run = await reconcile_day(
            sessionmaker=sessionmaker, settings=settings, day=date(2025, 11, 25), pull=False
        )
    assert run.status == "succeeded"
    judged = await get(client, reader, 7)
    assert (judged["status"], judged["reconciled"]) == ("PAID", True)


async def test_codes_compare_as_dossier_codes_do_and_unknown_is_404(
    client: AsyncTestClient[Any], reader: dict[str, str], ward: None
) -> None:
    loose = await client.get("/api/v1/payments/  h17.25-241125-0001 ", headers=reader)
    assert loose.status_code == 200
    assert loose.json()["dossier_code"] == code(1)  # as stored
    missing = await client.get("/api/v1/payments/H17.25-000000-9999", headers=reader)
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["field"] == "dossier_code"


async def test_the_batch_answers_every_code_once_in_order(
    client: AsyncTestClient[Any], reader: dict[str, str], ward: None
) -> None:
    asked = [code(6), "nope", code(1), code(1).lower(), code(4), "nope"]
    response = await client.post(
        "/api/v1/payments:query", json={"dossier_codes": asked}, headers=reader
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [p["dossier_code"] for p in body["payments"]] == [code(6), code(1), code(4)]
    assert [p["status"] for p in body["payments"]] == ["PAID", "PAID", "UNPAID"]
    assert body["unknown"] == ["nope"]
    for payment in body["payments"]:  # the same object as the single GET
        assert payment == await get(client, reader, int(payment["dossier_code"][-4:]))


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"dossier_codes": []}, 422, "dossier_codes"),
        ({"dossier_codes": [f"X{n}" for n in range(1001)]}, 422, "dossier_codes"),
        ({"dossier_codes": "H17"}, 400, "dossier_codes"),
        ({"dossier_codes": [1, 2]}, 400, "dossier_codes"),
        ({"dossier_codes": ["A"], "extra": 1}, 400, "dossier_codes"),
        ({}, 400, "dossier_codes"),
    ],
    ids=["empty", "1001", "not a list", "not strings", "unknown field", "missing"],
)
async def test_the_batch_limits(
    client: AsyncTestClient[Any],
    reader: dict[str, str],
    body: dict[str, Any],
    status: int,
    field: str,
) -> None:
    response = await client.post("/api/v1/payments:query", json=body, headers=reader)
    assert response.status_code == status, response.text
    error = response.json()
    assert error["status"] == status
    assert error["errors"][0]["field"] == field


async def test_a_thousand_codes_are_one_answer(
    client: AsyncTestClient[Any], reader: dict[str, str], ward: None
) -> None:
    asked = [code(1)] + [f"UNKNOWN-{n}" for n in range(999)]
    response = await client.post(
        "/api/v1/payments:query", json={"dossier_codes": asked}, headers=reader
    )
    assert response.status_code == 200
    assert len(response.json()["payments"]) == 1
    assert len(response.json()["unknown"]) == 999


async def test_keys_and_scopes(
    client: AsyncTestClient[Any], settings: Settings, ward: None
) -> None:
    path = f"/api/v1/payments/{code(1)}"
    assert (await client.get(path)).status_code == 401
    other = await make_key(settings, "cases:read")
    forbidden = await client.get(path, headers={"Authorization": f"Bearer {other}"})
    assert forbidden.status_code == 403
    assert forbidden.json()["errors"][0]["field"] == "Authorization"
    key = await make_key(settings, "payments:read", name="revoked")
    assert (await client.get(path, headers={"Authorization": f"Bearer {key}"})).status_code == 200
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as session:
        row_id = (
            await session.execute(select(ApiKey.id).where(ApiKey.key_id == key.split("_")[1]))
        ).scalar_one()
        await revoke_api_key(db_session=session, key_id=row_id, now=datetime.now(UTC))
    # refused within 5 seconds (a cache of verified keys may keep it a moment: README)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while (await client.get(path, headers={"Authorization": f"Bearer {key}"})).status_code != 401:
        assert loop.time() < deadline, "a revoked key was still let in after 5 s"
        await asyncio.sleep(0.2)


async def test_etag_and_304(
    client: AsyncTestClient[Any],
    reader: dict[str, str],
    ward: None,
    settings: Settings,
    tmp_path: Path,
) -> None:
    path = f"/api/v1/payments/{code(7)}"
    first = await client.get(path, headers=reader)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"
    assert etag.startswith('"')
    again = await client.get(path, headers={**reader, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    weak = await client.get(path, headers={**reader, "If-None-Match": f'"x", W/{etag}'})
    assert weak.status_code == 304
    # a payment arrives: every field may change, so the ETag does
    await import_lines(settings, tmp_path, f"V7,REF7,30000,0,payment,success,{at(D2, 9)},Phi,")
    changed = await client.get(path, headers={**reader, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["status"] == "PENDING"


async def test_a_fixed_number_of_queries_whatever_the_lines_and_codes(
    settings: Settings, ward: None, tmp_path: Path
) -> None:
    from sqlalchemy import event

    from recon.payments.service import payments

    rows = [f"M{n},REF7,100,0,payment,success,{at(D2, 9)},Phi," for n in range(60)]
    await import_lines(settings, tmp_path, *rows)
    async with open_database(settings.database_url) as sessionmaker:
        statements: list[str] = []

        def count(*args: Any) -> None:
            statements.append(args[2])

        engine = sessionmaker.kw["bind"].sync_engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            for asked in ([code(1)], [code(7)], [code(n) for n in range(1, 10)]):
                statements.clear()
                async with sessionmaker() as session:
                    found, _ = await payments(db_session=session, codes=asked)
                assert len(found) == len(asked)
                data = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]
                assert len(data) <= 4, data  # dossiers, lines, days (+ the latest of any day)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        async with sessionmaker() as session:
            (seven,), _ = await payments(db_session=session, codes=[code(7)])
        assert len(seven.transactions) == 60
        assert seven.status == "PENDING"


async def test_the_routes_quick_reads_answer_as_a_session_does(
    settings: Settings, ward: None, tmp_path: Path
) -> None:
    """On SQLite the routes read through their own sqlite3 connection (recon/db/reads.py):
    every payment, reconciled or pending, must come out as the session's reading gives it."""
    from recon.db.reads import QuickReads
    from recon.payments.service import payments, read_payments

    await import_lines(settings, tmp_path, f"P9,REF7,30000,0,payment,success,{at(D2, 9)},Phi,")
    asked = [code(n) for n in range(1, 10)] + ["H17.25-000000-9999"]
    async with open_database(settings.database_url) as sessionmaker:
        async with sessionmaker() as session:
            expected = await payments(db_session=session, codes=asked)
        reads = QuickReads(sessionmaker.kw["bind"])
        try:
            got = await reads.run(read_payments, asked)
        finally:
            reads.dispose()
    assert got == expected
    assert {p.status for p in got[0]} >= {"PAID", "PENDING"}
    assert got[1] == ["H17.25-000000-9999"]
