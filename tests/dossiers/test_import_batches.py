"""A dossier file is read and stored in batches, yet imports whole or not at all (DESIGN 2.5),
on SQLite and PostgreSQL. The batches here hold 3 rows, so every file spans several."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from recon.db.models import Dossier, DossierHistory, DossierPaymentRef
from recon.db.session import open_database
from recon.dossiers.imports import import_dossier_file
from recon.dossiers.service import dossier_history, get_dossier
from recon.rows import ImportSummary
from recon.settings import Settings

HEADER = "dossier_code,procedure_code,procedure_name,applicant,fee_amount,state,submitted_at,payment_refs"
BATCH = 3


def row(n: int, *, fee: str = "15.000", refs: str | None = None, code: str | None = None) -> str:
    code = code or f"H17.25-241125-{n:04d}"
    refs = f"MM{n:04d}" if refs is None else refs
    return f"{code},1.004873,Xác nhận tình trạng hôn nhân,Trần Thị Bình,{fee},received,2025-11-24T10:00:00+07:00,{refs}"


async def load(settings: Settings, tmp_path: Path, *lines: str) -> ImportSummary:
    path = tmp_path / "dossiers.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return await import_dossier_file(settings, path, batch_size=BATCH)


async def counts(settings: Settings) -> tuple[int, int, int]:
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
        return (
            (await s.execute(select(func.count()).select_from(Dossier))).scalar_one(),
            (await s.execute(select(func.count()).select_from(DossierPaymentRef))).scalar_one(),
            (await s.execute(select(func.count()).select_from(DossierHistory))).scalar_one(),
        )


async def test_a_file_of_many_batches_stores_every_row_once(
    settings: Settings, tmp_path: Path
) -> None:
    lines = [row(n) for n in range(1, 11)]
    first = await load(settings, tmp_path, *lines)
    assert (first.received, first.inserted, first.rejected) == (10, 10, [])
    again = await load(settings, tmp_path, *lines)
    assert (again.received, again.inserted, again.updated, again.duplicates) == (10, 0, 0, 10)
    assert await counts(settings) == (10, 10, 10)
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
        stored = await get_dossier(db_session=s, code="H17.25-241125-0007")
    assert (stored.fee_amount, stored.payment_refs) == (15000, ["MM0007"])


async def test_a_bad_row_after_the_first_batch_leaves_the_tables_as_they_were(
    settings: Settings, tmp_path: Path
) -> None:
    assert (await load(settings, tmp_path, row(1))).inserted == 1
    before = await counts(settings)
    changed = row(1, fee="30.000")
    lines = [changed, *(row(n) for n in range(2, 9)), row(9, fee="1.5")]
    summary = await load(settings, tmp_path, *lines)
    assert (summary.received, summary.inserted, summary.updated) == (9, 0, 0)
    assert [(r.row, r.column) for r in summary.rejected] == [(10, "fee_amount")]
    assert await counts(settings) == before
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
        assert (await get_dossier(db_session=s, code="H17.25-241125-0001")).fee_amount == 15000
        history = await dossier_history(db_session=s, code="H17.25-241125-0001")
    assert [h["change"] for h in history] == ["created"]


async def test_every_bad_row_of_every_batch_is_reported(settings: Settings, tmp_path: Path) -> None:
    lines = [row(n) for n in range(1, 12)]
    lines[0] = row(1, fee="-1")
    lines[4] = lines[4].replace("received", "lost")
    lines[10] = row(11, fee="abc")
    summary = await load(settings, tmp_path, *lines)
    assert summary.received == 11
    assert [(r.row, r.column) for r in summary.rejected] == [
        (2, "fee_amount"),
        (6, "state"),
        (12, "fee_amount"),
    ]
    assert await counts(settings) == (0, 0, 0)


async def test_a_code_or_a_ref_in_two_batches_rejects_the_file(
    settings: Settings, tmp_path: Path
) -> None:
    lines = [row(n) for n in range(1, 9)]
    lines.append(row(9, code="h17.25 241125.0002", refs=""))  # normalises like row 3's code
    lines.append(row(10, refs="mm0004"))  # row 5's ref, in another letter case
    summary = await load(settings, tmp_path, *lines)
    assert [(r.row, r.column, r.reason) for r in summary.rejected] == [
        (10, "dossier_code", "'h17.25 241125.0002' is also on row 3"),
        (11, "payment_refs", "payment ref 'mm0004' is also on row 5"),
    ]
    assert await counts(settings) == (0, 0, 0)


async def test_a_ref_moves_to_an_earlier_row_when_its_stored_owner_comes_later(
    settings: Settings, tmp_path: Path
) -> None:
    assert (await load(settings, tmp_path, row(9, refs="MM0009|OLD9"))).inserted == 1
    # row 2 takes OLD9 from dossier 9, which gives it up on row 10, two batches later
    lines = [row(1, refs="OLD9"), *(row(n) for n in range(2, 9)), row(9, refs="MM0009")]
    summary = await load(settings, tmp_path, *lines)
    assert (summary.inserted, summary.updated, summary.rejected) == (8, 1, [])
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
        assert (await get_dossier(db_session=s, code=row(1)[:18])).payment_refs == ["OLD9"]
        assert (await get_dossier(db_session=s, code=row(9)[:18])).payment_refs == ["MM0009"]
    again = await load(settings, tmp_path, *lines)
    assert (again.inserted, again.updated, again.duplicates) == (0, 0, 9)


async def test_a_ref_of_a_stored_dossier_missing_from_the_file_is_refused(
    settings: Settings, tmp_path: Path
) -> None:
    assert (await load(settings, tmp_path, row(9, refs="MM0009|OLD9"))).inserted == 1
    lines = [row(1, refs="OLD9"), *(row(n) for n in range(2, 9))]
    summary = await load(settings, tmp_path, *lines)
    assert [(r.row, r.column) for r in summary.rejected] == [(2, "payment_refs")]
    assert "already belongs to dossier 'H17.25-241125-0009'" in summary.rejected[0].reason
    assert await counts(settings) == (1, 2, 1)


async def test_a_new_dossier_takes_the_ref_a_changed_one_of_the_same_batch_gives_up(
    settings: Settings, tmp_path: Path
) -> None:
    assert (await load(settings, tmp_path, row(2, refs="R1"))).inserted == 1
    summary = await load(settings, tmp_path, row(1, refs="R1"), row(2, refs="R9"))
    assert (summary.inserted, summary.updated, summary.rejected) == (1, 1, [])
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
        assert (await get_dossier(db_session=s, code=row(1)[:18])).payment_refs == ["R1"]
        assert (await get_dossier(db_session=s, code=row(2)[:18])).payment_refs == ["R9"]
