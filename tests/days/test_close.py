"""Closing a business day ("chốt sổ") and reopening it, on the command line and over HTTP, on
SQLite and PostgreSQL (DESIGN 4)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from recon.settings import Settings
from tests.helpers import make_key
from tests.ledger.test_ledger import D1, D2, LINES, MOMO_D1, ledger, row, ward, write

__all__ = ["ward"]


@pytest.fixture
async def auth(settings: Settings) -> dict[str, str]:
    key = await make_key(settings, "ledger:read", "days:write")
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def people(run_cli: Callable[..., Any]) -> None:
    for name, role in (("ketoan", "accountant"), ("duyet", "approver"), ("xem", "viewer")):
        assert (
            run_cli(
                "users", "create", "--username", name, "--role", role, stdin="mat khau dai du\n"
            ).code
            == 0
        )


def live_ids(run_cli: Callable[..., Any], day: str) -> list[int]:
    return [c["id"] for c in json.loads(run_cli("cases", "list", "--date", day, "--json").out)]


def test_closing_a_day_with_live_cases_needs_them_named(
    run_cli: Callable[..., Any], ward: None, people: None
) -> None:
    ids = live_ids(run_cli, D1)
    assert len(ids) == 3
    refused = run_cli("days", "close", "--date", D1, "--user", "ketoan", "--note", "ok")
    assert refused.code == 4
    assert all(f"#{i}" in refused.err for i in ids)
    note = "Chốt sổ; còn " + ", ".join(f"#{i}" for i in ids) + " chuyển ngày sau"
    closed = run_cli("days", "close", "--date", D1, "--user", "ketoan", "--note", note, "--json")
    assert closed.code == 0, closed
    assert json.loads(closed.out)["live_cases"] == ids


def test_a_day_without_live_cases_closes_with_a_note(
    run_cli: Callable[..., Any], ward: None, people: None
) -> None:
    assert live_ids(run_cli, D2) == []
    assert (
        run_cli("days", "close", "--date", D2, "--user", "ketoan", "--note", "Khớp hết").code == 0
    )
    again = run_cli("days", "close", "--date", D2, "--user", "ketoan", "--note", "Khớp hết")
    assert again.code == 4
    assert "already closed" in again.err


def test_a_closed_days_figures_are_frozen_and_it_is_not_re_run(
    run_cli: Callable[..., Any], ward: None, people: None, tmp_path: Path
) -> None:
    note = " ".join(f"#{i}" for i in live_ids(run_cli, D1))
    assert run_cli("days", "close", "--date", D1, "--user", "ketoan", "--note", note).code == 0
    # A pays the rest on D2: its UNDERPAID (dated D1) closes, but D1's frozen figures keep it
    assert (
        run_cli(
            "statements",
            "import",
            "--channel",
            "momo",
            write(
                tmp_path,
                "more.csv",
                LINES,
                f"M5,MMA,2.000,0,payment,success,{D2}T08:00:00+07:00,Bo sung,",
            ),
        ).code
        == 0
    )
    assert run_cli("reconcile", "--date", D2, "--no-pull").code == 0
    assert "UNDERPAID" not in {
        c["type"] for c in json.loads(run_cli("cases", "list", "--json").out)
    }
    frozen = ledger(run_cli, "--from", D1, "--to", D1)
    assert row(frozen, D1, "momo") == MOMO_D1
    assert all(r["closed"] for r in frozen["rows"])
    refused = run_cli("reconcile", "--date", D1, "--no-pull")
    assert refused.code == 4
    late = write(
        tmp_path, "late.csv", LINES, f"M9,X,1.000,0,payment,success,{D1}T13:00:00+07:00,Muon,"
    )
    assert run_cli("statements", "import", "--channel", "momo", late).code == 4


def test_reopening_needs_an_approver_and_is_audited(
    run_cli: Callable[..., Any], ward: None, people: None
) -> None:
    assert (
        run_cli("days", "close", "--date", D2, "--user", "ketoan", "--note", "Khớp hết").code == 0
    )
    by_accountant = run_cli("days", "reopen", "--date", D2, "--user", "ketoan", "--note", "sửa")
    assert by_accountant.code == 4
    assert "approver" in by_accountant.err
    assert run_cli("days", "close", "--date", D1, "--user", "xem", "--note", "x").code == 4
    assert (
        run_cli("days", "reopen", "--date", D2, "--user", "duyet", "--note", "Bổ sung sao kê").code
        == 0
    )
    assert run_cli("reconcile", "--date", D2, "--no-pull").code == 0
    events = json.loads(run_cli("days", "list", "--events", "--json").out)
    assert [(e["date"], e["action"], e["user"]) for e in events] == [
        (D2, "close", "ketoan"),
        (D2, "reopen", "duyet"),
    ]
    days = json.loads(run_cli("days", "list", "--json").out)
    assert [(d["date"], d["status"]) for d in days] == [(D2, "open")]


async def test_days_close_and_reopen_over_http(
    client: AsyncTestClient[Any],
    auth: dict[str, str],
    ward: None,
    people: None,
    run_cli: Callable[..., Any],
) -> None:
    closed = await client.post(
        f"/api/v1/days/{D2}/close", json={"user": "ketoan", "note": "Khớp hết"}, headers=auth
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    listed = (await client.get("/api/v1/days", headers=auth)).json()
    assert [(d["date"], d["status"], d["closed_by"]) for d in listed] == [(D2, "closed", "ketoan")]
    refused = await client.post(
        f"/api/v1/days/{D2}/reopen", json={"user": "ketoan", "note": "x"}, headers=auth
    )
    assert refused.status_code == 403
    reopened = await client.post(
        f"/api/v1/days/{D2}/reopen", json={"user": "duyet", "note": "Bổ sung"}, headers=auth
    )
    assert reopened.status_code == 200
    conflict = await client.post(
        f"/api/v1/days/{D1}/close", json={"user": "ketoan", "note": "ok"}, headers=auth
    )
    assert conflict.status_code == 409
