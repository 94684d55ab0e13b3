"""`recon statements import --channel C FILE`: whole or nothing, once per line (DESIGN 2.4)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from recon.db.models import ChannelFetch, StatementLineRow
from recon.db.session import open_database
from recon.settings import Settings

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "data" / "statements"
HEADER = "channel_txn_id,order_ref,amount,fee,kind,status,paid_at,description,payer"


def lines(settings: Settings) -> list[StatementLineRow]:
    async def get() -> list[StatementLineRow]:
        async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
            return list(
                (await s.execute(select(StatementLineRow).order_by(StatementLineRow.id))).scalars()
            )

    return asyncio.run(get())


def fetch_count(settings: Settings) -> int:
    async def get() -> int:
        async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
            return int(
                (await s.execute(select(func.count()).select_from(ChannelFetch))).scalar_one()
            )

    return asyncio.run(get())


def test_a_canonical_file_imports_and_a_second_import_is_all_duplicates(
    run_cli: Callable[..., Any], settings: Settings
) -> None:
    path = SAMPLES / "canonical_sample.csv"
    first = run_cli("statements", "import", "--channel", "momo", str(path), "--json")
    assert first.code == 0, first
    summary = json.loads(first.out)
    assert summary["inserted"] == summary["received"] > 0
    assert summary["rejected"] == []
    stored = lines(settings)
    assert len(stored) == summary["inserted"]
    assert {line.channel for line in stored} == {"momo"}
    payers = [line.payer for line in stored if line.payer]
    assert payers
    assert all(re.fullmatch(r"\*+\d{3}", payer) for payer in payers)
    again = json.loads(
        run_cli("statements", "import", "--channel", "momo", str(path), "--json").out
    )
    assert (again["inserted"], again["updated"], again["duplicates"]) == (0, 0, summary["received"])
    assert fetch_count(settings) == 2


def test_the_vnpay_channel_reads_its_native_export(
    run_cli: Callable[..., Any], settings: Settings, tmp_path: Path
) -> None:
    config = Path(settings.config_path or "")
    config.write_text(config.read_text(encoding="utf-8") + 'mapping = "vnpay"\n', encoding="utf-8")
    result = run_cli(
        "statements", "import", "--channel", "vnpay", str(SAMPLES / "vnpay_sample.csv"), "--json"
    )
    assert result.code == 0, result
    stored = lines(settings)
    assert stored
    assert stored[0].amount == 8000  # vnp_Amount is VND × 100
    assert stored[0].order_ref == "H1725251125010601"


def test_a_file_with_a_bad_row_stores_nothing(
    run_cli: Callable[..., Any], settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "\n".join(
            [
                HEADER,
                "T1,MM1,15.000,0,payment,success,2025-11-24T10:00:00+07:00,ok,",
                "T2,MM2,0,0,payment,success,2025-11-24T10:00:00+07:00,zero,",
                "T3,MM3,15.000,0,gift,success,2025-11-24T10:00:00+07:00,kind,",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    result = run_cli("statements", "import", "--channel", "momo", str(path), "--json")
    assert result.code == 2
    summary = json.loads(result.out)
    assert (summary["received"], summary["inserted"], summary["updated"]) == (3, 0, 0)
    assert [(r["row"], r["column"]) for r in summary["rejected"]] == [(3, "amount"), (4, "kind")]
    assert lines(settings) == []
    assert fetch_count(settings) == 0


def test_a_changed_status_is_an_update(
    run_cli: Callable[..., Any], settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "s.csv"
    row = "T1,MM1,15.000,0,payment,{},2025-11-24T10:00:00+07:00,x,"
    path.write_text(f"{HEADER}\n{row.format('PENDING')}\n", encoding="utf-8")
    assert run_cli("statements", "import", "--channel", "momo", str(path)).code == 0
    path.write_text(f"{HEADER}\n{row.format('success')}\n", encoding="utf-8")
    result = json.loads(
        run_cli("statements", "import", "--channel", "momo", str(path), "--json").out
    )
    assert (result["inserted"], result["updated"], result["duplicates"]) == (0, 1, 0)
    assert lines(settings)[0].status == "success"


def test_an_unknown_channel_or_missing_file_is_one_line_exit_2(
    run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    unknown = run_cli(
        "statements", "import", "--channel", "zalopay", str(SAMPLES / "canonical_sample.csv")
    )
    assert unknown.code == 2
    assert "unknown channel 'zalopay'" in unknown.err
    missing = run_cli("statements", "import", "--channel", "momo", str(tmp_path / "none.csv"))
    assert missing.code == 2
    assert "no such file" in missing.err


def test_a_paid_at_without_a_place_on_the_calendar_is_a_row_error(
    run_cli: Callable[..., Any], settings: Settings, tmp_path: Path
) -> None:
    """Local 0001-01-01 00:00 is year 0 in UTC; 9999-12-31 23:59 at UTC-7 is year 10000: each
    names its row and column (exit 2, nothing stored), never an internal error."""
    path = tmp_path / "ends.csv"
    path.write_text(
        "\n".join(
            [
                HEADER,
                "T1,MM1,15.000,0,payment,success,2025-11-24T10:00:00+07:00,ok,",
                "T2,MM2,15.000,0,payment,success,0001-01-01T00:00:00,year 0 in UTC,",
                "T3,MM3,15.000,0,payment,success,9999-12-31T23:59:59-07:00,year 10000,",
                "T4,MM4,15.000,0,payment,success,9999-12-31T23:00:00Z,10000 in Hanoi,",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    result = run_cli("statements", "import", "--channel", "momo", str(path), "--json")
    assert result.code == 2, result
    assert "internal error" not in result.err
    summary = json.loads(result.out)
    assert [(r["row"], r["column"]) for r in summary["rejected"]] == [
        (3, "paid_at"),
        (4, "paid_at"),
        (5, "paid_at"),
    ]
    assert all("out of range" in r["reason"] for r in summary["rejected"])
    assert lines(settings) == []
    assert fetch_count(settings) == 0


def test_the_last_moment_of_the_calendar_is_a_line_of_9999_12_31(
    run_cli: Callable[..., Any], settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "last.csv"
    row = "T1,MM1,15.000,0,payment,success,9999-12-31T23:59:59+07:00,last,"
    path.write_text(f"{HEADER}\n{row}\n", encoding="utf-8")
    result = run_cli("statements", "import", "--channel", "momo", str(path), "--json")
    assert result.code == 0, result
    (line,) = lines(settings)
    assert line.business_day.isoformat() == "9999-12-31"
