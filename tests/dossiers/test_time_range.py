"""Times at the ends of the calendar: a dossier time whose UTC or local (UTC+7) reading falls
outside the years 0001–9999 is a fault named by field (API) or by row and column (files), never
an internal error; nothing is stored. The last representable moments are kept as given."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from recon.db.models import Dossier
from recon.db.session import open_database
from recon.domain import as_utc, business_day_of
from recon.rows import parse_moment
from recon.settings import Settings
from tests.dossiers.test_import_cli import HEADER, counts, write
from tests.helpers import make_key

# (submitted_at as sent, why it has no place on the calendar)
OUT_OF_RANGE = [
    "0001-01-01T00:00:00",  # local time: seven hours earlier in UTC is year 0
    "0001-01-01T03:00:00+07:00",
    "9999-12-31T23:59:59-07:00",  # UTC is year 10000
    "9999-12-31T23:59:59+00:00",  # UTC fits, Hanoi's date is 10000-01-01
    "9999-12-31T20:00:00-12:00",
]
LAST_MOMENT = "9999-12-31T23:59:59+07:00"


def dossier(code: str, submitted_at: str, **extra: Any) -> dict[str, Any]:
    return {
        "dossier_code": code,
        "procedure_code": "1.001612",
        "fee_amount": 1500,
        "state": "received",
        "submitted_at": submitted_at,
        **extra,
    }


async def stored(settings: Settings) -> int:
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(Dossier))).scalar_one())


@pytest.fixture
async def writer(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {await make_key(settings, 'dossiers:write')}"}


@pytest.mark.parametrize("text", OUT_OF_RANGE)
def test_a_time_without_a_place_on_the_calendar_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="out of range"):
        parse_moment(text)
    with pytest.raises(ValueError, match="years 0001 to 9999"):
        as_utc(datetime.fromisoformat(text))


def test_the_last_moments_of_the_calendar_convert_and_have_a_business_day() -> None:
    last = parse_moment(LAST_MOMENT)
    assert last == datetime(9999, 12, 31, 16, 59, 59, tzinfo=UTC)
    assert business_day_of(last).isoformat() == "9999-12-31"
    first = parse_moment("0001-01-01T00:00:00+00:00")
    assert business_day_of(first).isoformat() == "0001-01-01"
    assert parse_moment("9999-12-31T23:59:59") == last  # local time, no offset


@pytest.mark.parametrize("text", OUT_OF_RANGE)
async def test_put_names_submitted_at_and_stores_nothing(
    client: AsyncTestClient[Any], writer: dict[str, str], settings: Settings, text: str
) -> None:
    response = await client.put(
        "/api/v1/dossiers/H1-0001", json=dossier("H1-0001", text), headers=writer
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert [e["field"] for e in body["errors"]] == ["submitted_at"]
    assert "out of range" in body["errors"][0]["reason"]
    assert await stored(settings) == 0


async def test_put_names_claimed_paid_at_out_of_range(
    client: AsyncTestClient[Any], writer: dict[str, str], settings: Settings
) -> None:
    body = dossier(
        "H1-0002",
        "2025-11-24T09:00:00+07:00",
        claimed_paid_channel="momo",
        claimed_paid_at="0001-01-01T00:00:00",
    )
    response = await client.put("/api/v1/dossiers/H1-0002", json=body, headers=writer)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["claimed_paid_at"]
    assert await stored(settings) == 0


@pytest.mark.parametrize(
    ("given", "stored_as"),
    [(LAST_MOMENT, "9999-12-31T16:59:59Z"), ("0001-01-01T00:00:00+00:00", "0001-01-01T00:00:00Z")],
)
async def test_the_first_and_last_moments_of_the_calendar_are_stored_as_given(
    client: AsyncTestClient[Any], writer: dict[str, str], given: str, stored_as: str
) -> None:
    response = await client.put(
        "/api/v1/dossiers/H1-0003", json=dossier("H1-0003", given), headers=writer
    )
    assert response.status_code == 201, response.text
    assert response.json()["submitted_at"] == stored_as


async def test_a_batch_names_the_row_and_field_and_stores_nothing(
    client: AsyncTestClient[Any], writer: dict[str, str], settings: Settings
) -> None:
    batch = {
        "dossiers": [
            dossier("H2-0001", "2025-11-24T09:00:00+07:00"),
            dossier("H2-0002", "0001-01-01T00:00:00"),
            dossier("H2-0003", "9999-12-31T23:59:59-07:00"),
        ]
    }
    response = await client.post("/api/v1/dossiers:batch", json=batch, headers=writer)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [(e["row"], e["field"]) for e in errors] == [(2, "submitted_at"), (3, "submitted_at")]
    assert await stored(settings) == 0


def test_a_csv_import_names_row_and_column_exit_2_nothing_stored(
    run_cli: Callable[..., Any], settings: Settings, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        HEADER,
        "H3-0001,1.001612,Chứng thực,An,1.500,received,2025-11-24T09:30:00+07:00,",
        "H3-0002,1.001612,Chứng thực,Bình,1.500,received,0001-01-01T00:00:00,",
        "H3-0003,1.001612,Chứng thực,Châu,1.500,received,9999-12-31T23:59:59-07:00,",
    )
    result = run_cli("dossiers", "import", str(path), "--json")
    assert result.code == 2, result
    report = json.loads(result.out)
    assert [(r["row"], r["column"]) for r in report["rejected"]] == [
        (3, "submitted_at"),
        (4, "submitted_at"),
    ]
    assert (report["inserted"], report["updated"]) == (0, 0)
    assert counts(settings)[0] == 0


def test_a_json_import_names_row_and_field_exit_2_nothing_stored(
    run_cli: Callable[..., Any], settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "dossiers.json"
    rows = [
        dossier("H4-0001", "2025-11-24T09:30:00+07:00"),
        dossier("H4-0002", "0001-01-01T00:00:00"),
    ]
    path.write_text(json.dumps(rows), encoding="utf-8")
    result = run_cli("dossiers", "import", str(path), "--json")
    assert result.code == 2, result
    report = json.loads(result.out)
    assert [(r["row"], r["column"]) for r in report["rejected"]] == [(2, "submitted_at")]
    assert "internal error" not in result.err
    assert counts(settings)[0] == 0
