"""Inputs that must be refused whole (issue 15, part 4), on SQLite and PostgreSQL.

- A statement file of 100,000 rows with one bad row: rejected with its row, column and
  reason, and the database exactly as before (the rows of every table counted before and
  after). (That a good file lands whole is tests/statements' business; 100,000 rows of it
  would cost this suite half a minute on PostgreSQL.)
- A configuration whose channel secret is unset: `recon serve` and `recon reconcile` refuse to
  start with one line naming the variable (exit 2), and write nothing.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult
from tests.faults.conservation import (
    ROOT,
    row_counts,
    sync_engine,
)

pytestmark = pytest.mark.e2e

ROWS = 100_000
BAD_ROW = 73_412  # as a spreadsheet numbers it: the header is row 1
HEADER = "channel_txn_id,order_ref,amount,fee,kind,status,paid_at,description,payer\n"


def statement(path: Path, bad_amount: str) -> None:
    """A canonical vnpay file of ROWS lines on one day, `bad_amount` on BAD_ROW."""
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for n in range(1, ROWS + 1):
            amount = 1_000 + n % 97 * 1_000
            text = str(amount)
            if n + 1 == BAD_ROW:
                text = bad_amount
            second = n % 86_400
            paid = f"2025-11-24T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
            out.write(
                f"VNP{n:08d},VNP-REF-{n:08d},{text},0,payment,success,{paid}+07:00,"
                f"Thanh toan le phi {n},\n"
            )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_a_100000_row_file_with_one_bad_row_is_refused_whole(
    run_cli: Callable[..., CliResult], database_url: str, tmp_path: Path
) -> None:
    engine = sync_engine(database_url)
    before = row_counts(engine)
    bad = tmp_path / "vnpay-bad.csv"
    statement(bad, bad_amount="12.5")
    refused = run_cli("statements", "import", "--channel", "vnpay", str(bad), "--json")
    assert refused.code == 2, refused
    summary = json.loads(refused.out)
    assert (summary["received"], summary["inserted"], summary["updated"]) == (ROWS, 0, 0)
    [rejected] = summary["rejected"]
    assert (rejected["row"], rejected["column"]) == (BAD_ROW, "amount"), rejected
    assert rejected["reason"]
    assert len(refused.err.strip().splitlines()) == 1, refused.err
    assert row_counts(engine) == before  # exactly as before: not a fetch record more

    engine.dispose()


@pytest.mark.parametrize(
    "command", [("serve", "--port", "0"), ("reconcile", "--date", "2025-11-24")]
)
def test_a_missing_channel_secret_refuses_to_start_in_one_line_naming_it(
    environ: dict[str, str], database_url: str, command: tuple[str, ...]
) -> None:
    engine = sync_engine(database_url)
    before = row_counts(engine)
    env = {**os.environ, **environ, "PYTHONPATH": str(ROOT)}
    del env["RECON_PORTAL_SECRET"]
    if command[0] == "serve":
        command = (*command, "--port", str(free_port()))
    done = subprocess.run(
        [sys.executable, "-m", "recon.cli", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    [line] = done.stderr.strip().splitlines()
    assert "RECON_PORTAL_SECRET" in line, line
    assert "Traceback" not in done.stderr
    assert row_counts(engine) == before
    engine.dispose()
