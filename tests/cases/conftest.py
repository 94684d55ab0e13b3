"""The cases' tests share a reconciled ward with a queue worth working, the people who work it,
and a write-off threshold low enough for the ward's amounts (5,000 VND)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from recon.db.models import User
from recon.db.session import open_database
from recon.settings import Settings
from tests.runs.test_reconcile import D1, DOSSIERS, LINES, cases, reconcile, write

THRESHOLD = 5_000
# one more dossier than tests/runs/test_reconcile's ward, unpaid: a line linked to it pays it
EXTRA = "H17.25-241125-0005"
PEOPLE = {
    "ketoan": "accountant",
    "ketoan2": "accountant",
    "duyet": "approver",
    "duyet2": "approver",
    "xem": "viewer",
    "quantri": "admin",
    "nghiviec": "accountant",  # disabled below
}
# the queue after the run of D1, by what each case is about
UNDERPAID = "UNDERPAID:H17.25-241125-0002"  # 10,000 of 20,000: 10,000 at stake
OVERPAID = "OVERPAID:H17.25-241125-0003"  # 8,000 on an exempt dossier: 8,000 at stake
CLOSED_DOSSIER = "PAYMENT_ON_CLOSED_DOSSIER:H17.25-241125-0004"  # 3,000 at stake
UNMATCHED = "UNMATCHED_PAYMENT:V3"  # 5,000 with no owner: 5,000 at stake


@pytest.fixture
def environ(environ: dict[str, str]) -> dict[str, str]:
    config = Path(environ["RECON_CONFIG"])
    text = config.read_text("utf-8") + f"[thresholds]\nwrite_off_approval = {THRESHOLD}\n"
    config.write_text(text, "utf-8")
    return environ


def run_sql(settings: Settings, statement: Any) -> None:
    async def go() -> None:
        async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
            await s.execute(statement)
            await s.commit()

    asyncio.run(go())


def make_people(run_cli: Callable[..., Any], settings: Settings) -> None:
    for name, role in PEOPLE.items():
        made = run_cli(
            "users", "create", "--username", name, "--role", role, stdin="mat khau dai du\n"
        )
        assert made.code == 0, made
    gone = update(User).where(User.username == "nghiviec").values(disabled_at=datetime.now(UTC))
    run_sql(settings, gone)


def make_queue(run_cli: Callable[..., Any], tmp_path: Path) -> dict[str, int]:
    """The ward of tests/runs/test_reconcile and one more dossier, unpaid, reconciled on D1:
    its four cases' ids by what they are about."""
    dossiers = write(
        tmp_path,
        "d.csv",
        DOSSIERS,
        "H17.25-241125-0001,1.001612,Chứng thực,Nguyễn Văn An,15.000,received,2025-11-24T08:00:00+07:00,MMA",
        "H17.25-241125-0002,1.004873,Xác nhận hôn nhân,Trần Thị Bình,20.000,processing,2025-11-24T08:10:00+07:00,",
        "H17.25-241125-0003,1.001193,Đăng ký khai sinh,Lê Minh Châu,0,completed,2025-11-24T08:20:00+07:00,",
        "H17.25-241125-0004,2.000635,Trích lục,Phạm Thu Hà,8.000,cancelled,2025-11-24T08:30:00+07:00,",
        f"{EXTRA},1.001612,Chứng thực,Võ Văn Em,5.000,received,2025-11-24T08:40:00+07:00,",
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
    reconcile(run_cli, D1, "--channel", "vnpay")
    found = {key: case["id"] for key, case in cases(run_cli).items()}
    assert set(found) == {UNDERPAID, OVERPAID, CLOSED_DOSSIER, UNMATCHED}
    return found


@pytest.fixture
def people(run_cli: Callable[..., Any], settings: Settings) -> dict[str, str]:
    make_people(run_cli, settings)
    return PEOPLE


@pytest.fixture
def queue(run_cli: Callable[..., Any], people: dict[str, str], tmp_path: Path) -> dict[str, int]:
    return make_queue(run_cli, tmp_path)


def show(run_cli: Callable[..., Any], case_id: int) -> dict[str, Any]:
    result = run_cli("cases", "show", str(case_id), "--json")
    assert result.code == 0, result
    case: dict[str, Any] = json.loads(result.out)
    return case
