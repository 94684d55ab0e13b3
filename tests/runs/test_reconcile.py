"""`recon reconcile`: a run end to end through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from recon.db.models import (
    CaseEvent,
    ChannelDay,
    LedgerDay,
    Match,
    RunLease,
    StatementLineRow,
)
from recon.db.session import open_database
from recon.settings import Settings

D1, D2 = "2025-11-24", "2025-11-25"
DOSSIERS = "dossier_code,procedure_code,procedure_name,applicant,fee_amount,state,submitted_at,payment_refs"
LINES = "channel_txn_id,order_ref,amount,fee,kind,status,paid_at,description,payer"


def write(tmp_path: Path, name: str, header: str, *rows: str) -> str:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return str(path)


def cases(run_cli: Callable[..., Any], *args: str) -> dict[str, dict[str, Any]]:
    result = run_cli("cases", "list", "--json", *args)
    assert result.code == 0, result
    return {
        f"{c['type']}:{c['dossier_code'] or ','.join(c['channel_txn_ids'])}": c
        for c in json.loads(result.out)
    }


def reconcile(run_cli: Callable[..., Any], day: str, *extra: str) -> dict[str, Any]:
    result = run_cli("reconcile", "--date", day, "--no-pull", "--json", *extra)
    assert result.code == 0, result
    run: dict[str, Any] = json.loads(result.out)
    return run


def query(settings: Settings, statement: Any) -> Any:
    async def go() -> Any:
        async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
            result = (await s.execute(statement)).all()
            await s.commit()
            return result

    return asyncio.run(go())


@pytest.fixture
def ward(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    dossiers = write(
        tmp_path,
        "d.csv",
        DOSSIERS,
        "H17.25-241125-0001,1.001612,Chứng thực,Nguyễn Văn An,15.000,received,2025-11-24T08:00:00+07:00,MMA",
        "H17.25-241125-0002,1.004873,Xác nhận hôn nhân,Trần Thị Bình,20.000,processing,2025-11-24T08:10:00+07:00,",
        "H17.25-241125-0003,1.001193,Đăng ký khai sinh,Lê Minh Châu,0,completed,2025-11-24T08:20:00+07:00,",
        "H17.25-241125-0004,2.000635,Trích lục,Phạm Thu Hà,8.000,cancelled,2025-11-24T08:30:00+07:00,",
    )
    assert run_cli("dossiers", "import", dossiers).code == 0
    lines = write(
        tmp_path,
        "s1.csv",
        LINES,
        f"V1,MMA,15.000,0,payment,success,{D1}T09:00:00+07:00,Thanh toan,",
        f"V2,X-2,10.000,0,payment,success,{D1}T09:30:00+07:00,Phi ho so H17.25-241125-0002,",
        f"V3,ZZZ,5.000,0,payment,success,{D1}T10:00:00+07:00,Chuyen tien,",
        f"V4,,8.000,0,payment,success,{D1}T11:00:00+07:00,HS H1725241125 0003,",
        f"V5,,3.000,0,payment,success,{D1}T23:59:59+07:00,HS H17.25-241125-0004,",
        f"V6,,7.000,0,payment,failed,{D1}T12:00:00+07:00,HS H17.25-241125-0002,",
    )
    assert run_cli("statements", "import", "--channel", "vnpay", lines).code == 0


def test_a_run_matches_the_day_and_files_every_disagreement(
    run_cli: Callable[..., Any], settings: Settings, ward: None
) -> None:
    run = reconcile(run_cli, D1, "--channel", "vnpay")
    assert run["status"] == "succeeded"
    assert run["date"] == D1
    assert run["channels"] == {
        "vnpay": {
            "status": "skipped",
            "lines": 0,
            "inserted": 0,
            "duplicates": 0,
            "updated": 0,
            "error": None,
        }
    }
    assert run["matched"] == 5  # V1, V2, V4, V5 and the failed V6 all resolve
    found = cases(run_cli)
    assert set(found) == {
        "UNDERPAID:H17.25-241125-0002",
        "UNMATCHED_PAYMENT:V3",
        "OVERPAID:H17.25-241125-0003",
        "PAYMENT_ON_CLOSED_DOSSIER:H17.25-241125-0004",
    }
    assert run["cases_opened"] == 4
    assert run["cases_open"] == 4
    underpaid = found["UNDERPAID:H17.25-241125-0002"]
    assert (underpaid["expected_amount"], underpaid["actual_amount"]) == (20_000, 10_000)
    assert underpaid["channel_txn_ids"] == ["V2"]
    assert underpaid["date"] == D1
    assert "thiếu" in underpaid["explanation"]
    assert found["PAYMENT_ON_CLOSED_DOSSIER:H17.25-241125-0004"]["date"] == D1  # 23:59:59 local


def test_a_re_run_with_nothing_new_changes_nothing(
    run_cli: Callable[..., Any], settings: Settings, ward: None
) -> None:
    reconcile(run_cli, D1, "--channel", "vnpay")
    before = cases(run_cli, "--status", "all")
    matches = query(
        settings, select(Match.id, Match.line_id, Match.dossier_id, Match.rule).order_by(Match.id)
    )
    events = query(settings, select(func.count()).select_from(CaseEvent))
    again = reconcile(run_cli, D1, "--channel", "vnpay")
    assert (again["cases_opened"], again["cases_closed"]) == (0, 0)
    assert cases(run_cli, "--status", "all") == before
    assert (
        query(
            settings,
            select(Match.id, Match.line_id, Match.dossier_id, Match.rule).order_by(Match.id),
        )
        == matches
    )
    assert query(settings, select(func.count()).select_from(CaseEvent)) == events


def test_the_second_half_paid_the_next_day_closes_the_underpaid(
    run_cli: Callable[..., Any], settings: Settings, ward: None, tmp_path: Path
) -> None:
    reconcile(run_cli, D1, "--channel", "vnpay")
    underpaid_id = cases(run_cli)["UNDERPAID:H17.25-241125-0002"]["id"]
    more = write(
        tmp_path,
        "s2.csv",
        LINES,
        f"W1,,10.000,0,payment,success,{D2}T08:00:00+07:00,H17.25-241125-0002,",
    )
    assert run_cli("statements", "import", "--channel", "vnpay", more).code == 0
    run = reconcile(run_cli, D2, "--channel", "vnpay")
    assert run["cases_closed"] == 1
    assert "UNDERPAID:H17.25-241125-0002" not in cases(run_cli)
    closed = {
        c["id"]: c for c in json.loads(run_cli("cases", "list", "--status", "closed", "--json").out)
    }
    assert underpaid_id in closed


def test_a_dossier_arriving_after_its_payment_turns_the_unmatched_case_into_a_match(
    run_cli: Callable[..., Any], settings: Settings, ward: None, tmp_path: Path
) -> None:
    reconcile(run_cli, D1, "--channel", "vnpay")
    assert "UNMATCHED_PAYMENT:V3" in cases(run_cli)
    late = write(
        tmp_path,
        "late.csv",
        DOSSIERS,
        "H17.25-251125-0009,2.001035,Chứng thực chữ ký,Võ Thị Yến,5.000,received,2025-11-25T08:00:00+07:00,ZZZ",
    )
    assert run_cli("dossiers", "import", late).code == 0
    run = reconcile(run_cli, D2, "--channel", "vnpay")
    assert run["cases_closed"] == 1
    assert "UNMATCHED_PAYMENT:V3" not in cases(run_cli)


def matched_lines(settings: Settings) -> dict[str, bool]:
    """Each line's stored `matched` bit, checked against whether a match holds the line."""
    line = StatementLineRow
    rows = query(
        settings,
        select(line.channel_txn_id, line.matched, Match.id.is_not(None))
        .outerjoin(Match, Match.line_id == line.id)
        .order_by(line.channel_txn_id),
    )
    assert [(txn, bit) for txn, bit, _ in rows] == [(txn, has) for txn, _, has in rows]
    return {txn: bit for txn, bit, _ in rows}


def test_each_line_carries_whether_it_matched_through_runs_that_link_and_unlink_it(
    run_cli: Callable[..., Any], settings: Settings, ward: None, tmp_path: Path
) -> None:
    assert not any(matched_lines(settings).values())  # stored, not yet reconciled
    reconcile(run_cli, D1, "--channel", "vnpay")
    expected = {"V1": True, "V2": True, "V3": False, "V4": True, "V5": True, "V6": True}
    assert matched_lines(settings) == expected
    # dossier 0001 loses the payment ref V1 was matched by, and a new dossier claims V3's
    changed = write(
        tmp_path,
        "changed.csv",
        DOSSIERS,
        "H17.25-241125-0001,1.001612,Chứng thực,Nguyễn Văn An,15.000,received,2025-11-24T08:00:00+07:00,",
        "H17.25-251125-0009,2.001035,Chứng thực chữ ký,Võ Thị Yến,5.000,received,2025-11-25T08:00:00+07:00,ZZZ",
    )
    assert run_cli("dossiers", "import", changed).code == 0
    reconcile(run_cli, D1, "--channel", "vnpay")
    assert matched_lines(settings) == {**expected, "V1": False, "V3": True}


def test_a_run_holding_the_day_refuses_a_second_one(
    run_cli: Callable[..., Any], settings: Settings, ward: None
) -> None:
    now = datetime.now(UTC)
    query(
        settings,
        insert(RunLease)
        .values(
            business_day=date(2025, 11, 24),
            holder="other:1",
            acquired_at=now,
            expires_at=now + timedelta(minutes=5),
        )
        .returning(RunLease.business_day),
    )
    refused = run_cli("reconcile", "--date", D1, "--no-pull", "--channel", "vnpay")
    assert refused.code == 4
    assert "being reconciled by other:1" in refused.err
    assert refused.err.count("\n") == 1


def test_an_expired_lease_is_taken_over(
    run_cli: Callable[..., Any], settings: Settings, ward: None
) -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    query(
        settings,
        insert(RunLease)
        .values(
            business_day=date(2025, 11, 24), holder="crashed:1", acquired_at=past, expires_at=past
        )
        .returning(RunLease.business_day),
    )
    assert reconcile(run_cli, D1, "--channel", "vnpay")["status"] == "succeeded"
    assert query(settings, select(RunLease)) == []


def test_a_closed_day_is_not_re_run(
    run_cli: Callable[..., Any], settings: Settings, ward: None
) -> None:
    query(
        settings,
        insert(LedgerDay)
        .values(business_day=date(2025, 11, 24), status="closed", note="")
        .returning(LedgerDay.business_day),
    )
    refused = run_cli("reconcile", "--date", D1, "--no-pull")
    assert refused.code == 4
    assert "closed" in refused.err


def test_a_file_fed_channel_day_counts_as_pulled_once_reconciled(
    run_cli: Callable[..., Any], settings: Settings, ward: None
) -> None:
    reconcile(run_cli, D1, "--channel", "vnpay")
    rows = query(
        settings, select(ChannelDay.channel, ChannelDay.business_day, ChannelDay.reconciled_at)
    )
    assert [(c, d) for c, d, r in rows if r is not None] == [("vnpay", date(2025, 11, 24))]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--date", "2025-13-01"), 2, "--date: '2025-13-01' is not a date"),
        (("--date", D1, "--channel", "paypal"), 2, "unknown channel 'paypal'"),
    ],
)
def test_bad_run_requests(
    run_cli: Callable[..., Any], args: tuple[str, ...], code: int, message: str
) -> None:
    result = run_cli("reconcile", "--no-pull", *args)
    assert result.code == code
    assert message in result.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--status", "pending"), "--status: 'pending' is not one of"),
        (("--type", "LATE"), "--type: 'LATE' is not a case type"),
        (("--channel", "paypal"), "unknown channel 'paypal'"),
    ],
)
def test_bad_case_filters(run_cli: Callable[..., Any], args: tuple[str, ...], message: str) -> None:
    result = run_cli("cases", "list", *args)
    assert result.code == 2
    assert message in result.err


def test_case_filters(run_cli: Callable[..., Any], ward: None) -> None:
    reconcile(run_cli, D1, "--channel", "vnpay")
    assert set(cases(run_cli, "--type", "overpaid")) == {"OVERPAID:H17.25-241125-0003"}
    assert len(cases(run_cli, "--date", D1, "--channel", "vnpay")) == 4
    assert cases(run_cli, "--date", D2) == {}
    assert cases(run_cli, "--status", "resolved") == {}


def test_a_run_that_breaks_stores_nothing_is_marked_failed_and_frees_the_day(
    run_cli: Callable[..., Any], settings: Settings, ward: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import recon.runs.service as service
    from recon.db.models import Run

    def broken(_: object) -> None:
        raise RuntimeError("engine exploded")

    engine = service.run_engine
    monkeypatch.setattr(service, "run_engine", broken)
    result = run_cli("reconcile", "--date", D1, "--no-pull", "--channel", "vnpay", "--json")
    assert result.code == 1
    printed = json.loads(result.out)  # a run's JSON is printed whatever its outcome
    assert (printed["status"], printed["error"]) == ("failed", "RuntimeError: engine exploded")
    assert result.err == (
        f"recon: error: run {printed['run_id']} of {D1} failed: RuntimeError: engine exploded\n"
    )
    assert query(settings, select(Match.id)) == []
    assert query(settings, select(RunLease)) == []
    [(status, error)] = query(settings, select(Run.status, Run.error))
    assert status == "failed"
    assert "engine exploded" in error
    monkeypatch.setattr(service, "run_engine", engine)
    assert reconcile(run_cli, D1, "--channel", "vnpay")["status"] == "succeeded"
