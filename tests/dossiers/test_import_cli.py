"""`recon dossiers import FILE`: all or nothing, idempotent, history kept (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from recon.db.models import Dossier, DossierHistory, DossierPaymentRef
from recon.db.session import open_database
from recon.dossiers.service import dossier_history, get_dossier
from recon.settings import Settings

HEADER = "dossier_code,procedure_code,procedure_name,applicant,fee_amount,state,submitted_at,payment_refs"
ROWS = [
    "H17.25-241125-0042,1.001612,Chứng thực bản sao,Nguyễn Văn An,1.500,received,2025-11-24T09:30:00+07:00,MM1",
    "H17.25-241125-0043,1.004873,Xác nhận tình trạng hôn nhân,Trần Thị Bình,15.000,processing,2025-11-24T10:00:00+07:00,",
    "H17.25-241125-0044,1.001193,Đăng ký khai sinh,Lê Minh Châu,0,completed,2025-11-24T11:00:00+07:00,MM3|MM4",
]


def write(tmp_path: Path, *lines: str, name: str = "dossiers.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def counts(settings: Settings) -> tuple[int, int, int]:
    async def count() -> tuple[int, int, int]:
        async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
            return (
                (await s.execute(select(func.count()).select_from(Dossier))).scalar_one(),
                (await s.execute(select(func.count()).select_from(DossierPaymentRef))).scalar_one(),
                (await s.execute(select(func.count()).select_from(DossierHistory))).scalar_one(),
            )

    return asyncio.run(count())


def read(settings: Settings, work: Callable[..., Any], **kwargs: Any) -> Any:
    async def go() -> Any:
        async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
            return await work(db_session=s, **kwargs)

    return asyncio.run(go())


def test_import_stores_every_row_and_prints_the_summary(
    run_cli: Callable[..., Any], settings: Settings, tmp_path: Path
) -> None:
    result = run_cli("dossiers", "import", str(write(tmp_path, HEADER, *ROWS)), "--json")
    assert result.code == 0, result
    assert json.loads(result.out) == {
        "received": 3,
        "inserted": 3,
        "updated": 0,
        "duplicates": 0,
        "rejected": [],
    }
    assert counts(settings) == (3, 3, 3)
    stored = read(settings, get_dossier, code="h17.25-241125-0044 ")
    assert stored.payment_refs == ["MM3", "MM4"]
    assert stored.fee_amount == 0


def test_a_second_import_of_the_same_file_changes_nothing(
    run_cli: Callable[..., Any], settings: Settings, tmp_path: Path
) -> None:
    path = write(tmp_path, HEADER, *ROWS)
    assert run_cli("dossiers", "import", str(path), "--json").code == 0
    result = run_cli("dossiers", "import", str(path), "--json")
    assert result.code == 0
    assert json.loads(result.out) == {
        "received": 3,
        "inserted": 0,
        "updated": 0,
        "duplicates": 3,
        "rejected": [],
    }
    assert counts(settings) == (3, 3, 3)


def test_one_bad_row_leaves_the_tables_as_they_were(
    run_cli: Callable[..., Any], settings: Settings, tmp_path: Path
) -> None:
    assert run_cli("dossiers", "import", str(write(tmp_path, HEADER, ROWS[0]))).code == 0
    before = counts(settings)
    changed = ROWS[0].replace("1.500", "2.000")
    bad = ROWS[2].replace(",0,", ",1.5,")
    result = run_cli(
        "dossiers", "import", str(write(tmp_path, HEADER, changed, ROWS[1], bad)), "--json"
    )
    assert result.code == 2
    summary = json.loads(result.out)
    assert summary["inserted"] == 0
    assert summary["updated"] == 0
    assert summary["received"] == 3
    assert summary["rejected"] == [
        {"row": 4, "column": "fee_amount", "reason": summary["rejected"][0]["reason"]}
    ]
    assert counts(settings) == before
    assert read(settings, get_dossier, code=ROWS[0].split(",")[0]).fee_amount == 1500


def test_a_code_twice_in_one_file_rejects_the_file(
    run_cli: Callable[..., Any], settings: Settings, tmp_path: Path
) -> None:
    twin = ROWS[1].replace("H17.25-241125-0043", "h17.25 241125.0042")
    result = run_cli("dossiers", "import", str(write(tmp_path, HEADER, ROWS[0], twin)), "--json")
    assert result.code == 2
    [rejected] = json.loads(result.out)["rejected"]
    assert rejected["row"] == 3
    assert rejected["column"] == "dossier_code"
    assert "row 2" in rejected["reason"]
    assert counts(settings) == (0, 0, 0)


def test_a_code_that_normalises_like_a_stored_one_is_refused(
    run_cli: Callable[..., Any], settings: Settings, tmp_path: Path
) -> None:
    assert run_cli("dossiers", "import", str(write(tmp_path, HEADER, ROWS[0]))).code == 0
    lookalike = ROWS[0].replace("H17.25-241125-0042", "H1725241125 0042").replace("MM1", "")
    result = run_cli("dossiers", "import", str(write(tmp_path, HEADER, lookalike)), "--json")
    assert result.code == 2
    [rejected] = json.loads(result.out)["rejected"]
    assert rejected["column"] == "dossier_code"
    assert "normalises like" in rejected["reason"]


def test_a_payment_ref_of_another_dossier_is_refused(
    run_cli: Callable[..., Any], settings: Settings, tmp_path: Path
) -> None:
    assert run_cli("dossiers", "import", str(write(tmp_path, HEADER, ROWS[0]))).code == 0
    thief = ROWS[1].replace(
        ",processing,2025-11-24T10:00:00+07:00,", ",processing,2025-11-24T10:00:00+07:00,mm1"
    )
    result = run_cli("dossiers", "import", str(write(tmp_path, HEADER, thief)), "--json")
    assert result.code == 2
    [rejected] = json.loads(result.out)["rejected"]
    assert rejected["column"] == "payment_refs"
    assert "H17.25-241125-0042" in rejected["reason"]


def test_a_changed_fee_or_state_is_updated_and_kept_in_history(
    run_cli: Callable[..., Any], settings: Settings, tmp_path: Path
) -> None:
    assert run_cli("dossiers", "import", str(write(tmp_path, HEADER, *ROWS))).code == 0
    changed = ROWS[0].replace("1.500", "3.000").replace("received", "cancelled")
    renamed = ROWS[1].replace("Trần Thị Bình", "Trần Thị Bích")
    result = run_cli(
        "dossiers", "import", str(write(tmp_path, HEADER, changed, renamed, ROWS[2])), "--json"
    )
    assert json.loads(result.out) == {
        "received": 3,
        "inserted": 0,
        "updated": 2,
        "duplicates": 1,
        "rejected": [],
    }
    history = read(settings, dossier_history, code="H17.25-241125-0042")
    assert [
        (h["change"], h["fee_before"], h["fee_after"], h["state_before"], h["state_after"])
        for h in history
    ] == [
        ("created", None, 1500, None, "received"),
        ("updated", 1500, 3000, "received", "cancelled"),
    ]
    assert history[1]["changed_fields"] == ["fee_amount", "state"]


def test_refs_can_be_replaced(
    run_cli: Callable[..., Any], settings: Settings, tmp_path: Path
) -> None:
    assert run_cli("dossiers", "import", str(write(tmp_path, HEADER, ROWS[2]))).code == 0
    assert (
        run_cli(
            "dossiers",
            "import",
            str(write(tmp_path, HEADER, ROWS[2].replace("MM3|MM4", "MM4|MM5"))),
        ).code
        == 0
    )
    assert read(settings, get_dossier, code="H17.25-241125-0044").payment_refs == ["MM4", "MM5"]


def test_json_files_import_too(
    run_cli: Callable[..., Any], settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "dossiers.json"
    path.write_text(
        json.dumps(
            [
                {
                    "dossier_code": "H17.25-241125-0050",
                    "procedure_code": "2.000635",
                    "procedure_name": "Cấp bản sao trích lục hộ tịch",
                    "applicant": "Phạm Thu Hà",
                    "fee_amount": 8000,
                    "state": "received",
                    "submitted_at": "2025-11-24T08:00:00+07:00",
                    "payment_refs": ["VNP1"],
                    "claimed_paid_channel": "portal",
                    "claimed_paid_at": "2025-11-24T08:05:00+07:00",
                }
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    result = run_cli("dossiers", "import", str(path), "--json")
    assert result.code == 0, result
    stored = read(settings, get_dossier, code="H17.25-241125-0050")
    assert stored.claimed_paid_channel == "portal"


def test_the_readable_report_names_row_column_and_reason(
    run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    result = run_cli(
        "dossiers", "import", str(write(tmp_path, HEADER, ROWS[0].replace("received", "lost")))
    )
    assert result.code == 2
    assert "nothing was stored" in result.out
    assert "     2  state" in result.out
    assert "'lost' is not one of" in result.out


def test_a_missing_column_is_a_file_level_rejection(
    run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    header = HEADER.replace(",applicant", "")
    result = run_cli(
        "dossiers",
        "import",
        str(write(tmp_path, header, "H1,P,n,1,received,2025-01-01,")),
        "--json",
    )
    assert result.code == 2
    assert json.loads(result.out)["rejected"] == [
        {"row": None, "column": "applicant", "reason": "missing column"}
    ]


@pytest.mark.parametrize("name", ["missing.csv", "."])
def test_an_unreadable_path_is_one_line_and_exit_2(
    run_cli: Callable[..., Any], tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("dossiers", "import", name)
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert result.err.startswith("recon: error:")
    assert "Traceback" not in result.err
