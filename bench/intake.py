"""Dossier intake benchmark: `recon dossiers import FILE` against a bare sqlite3 floor.

    .venv/bin/python bench/intake.py [--rows 100000] [--repeat 3]

Generates N dossiers deterministically into a CSV in a temporary directory, then for each repeat:

* real: a fresh migrated SQLite database and `import_dossier_file` (the CLI's own path: read,
  parse, validate, compare with stored, Core executemany, commit), timed inside a freshly
  spawned interpreter, which also reports the import's peak RSS growth (the peak during the
  import minus the RSS before it, `bench.rss.PeakRss`), so neither the generator's nor the
  floor's memory mixes in;
* re-import (first `--reimports` repeats, default 1): the same file again into that filled
  database, every row a duplicate, timed in the same child, for information;
* floor: a fresh migrated SQLite database with the same pragmas, the same rows already as
  Python tuples (built before the clock starts), inserted with bare `sqlite3` executemany into
  `dossiers`, `dossier_payment_refs` and `dossier_history` in one transaction, timed. After the
  first repeat both databases are compared table by table (wall-clock columns aside).

Prints medians, rows/s, the ratio real/floor and peak RSS as a table, then one JSON line.
The goal (docs/performance.md): the real import within 5x of the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import itertools
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any

# run as a script from anywhere: make the repository importable
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect  # noqa: E402

from bench.rss import PeakRss  # noqa: E402
from recon.db.migrate import upgrade  # noqa: E402
from recon.db.types import UTCDateTime  # noqa: E402
from recon.dossiers.imports import import_dossier_file  # noqa: E402
from recon.dossiers.schemas import ImportSummary  # noqa: E402
from recon.matching.normalize import code_key, ref_key  # noqa: E402
from recon.settings import load_settings  # noqa: E402

GOAL_RATIO = 5.0
SEED = 20251124
ICT = timezone(timedelta(hours=7))
CSV_NAME = "dossiers.csv"
HEADER = (
    "dossier_code",
    "procedure_code",
    "procedure_name",
    "applicant",
    "fee_amount",
    "state",
    "submitted_at",
    "payment_refs",
)

# (procedure code, name, fee per unit in VND, most units per dossier)
PROCEDURES = (
    ("1.001193", "Đăng ký khai sinh", 0, 1),
    ("1.000894", "Đăng ký kết hôn", 0, 1),
    ("1.000656", "Đăng ký khai tử", 0, 1),
    ("2.000635", "Cấp bản sao trích lục hộ tịch", 8_000, 3),
    ("1.004873", "Xác nhận tình trạng hôn nhân", 15_000, 1),
    ("1.001612", "Chứng thực bản sao từ bản chính", 2_000, 10),
    ("2.001035", "Chứng thực chữ ký", 10_000, 2),
    ("2.000884", "Chứng thực bản sao điện tử từ bản chính", 1_500, 6),
    ("2.001019", "Chứng thực hợp đồng, giao dịch liên quan đến tài sản là động sản", 50_000, 1),
    ("2.000720", "Đăng ký hộ kinh doanh", 100_000, 1),
    ("1.009994", "Cấp giấy phép xây dựng nhà ở riêng lẻ", 75_000, 1),
    ("1.011620", "Cấp giấy chứng nhận quyền sử dụng đất lần đầu", 1_250_000, 1),
)
FAMILY = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
)
MIDDLE = ("Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quốc", "Kim", "Thu", "Xuân", "Gia")
GIVEN = (
    "An",
    "Bình",
    "Châu",
    "Dũng",
    "Giang",
    "Hà",
    "Hải",
    "Hạnh",
    "Hùng",
    "Hương",
    "Khánh",
    "Lan",
    "Linh",
    "Long",
    "Mai",
    "Nam",
    "Phúc",
    "Quân",
    "Quỳnh",
    "Sơn",
    "Tâm",
    "Thảo",
    "Trang",
    "Tuấn",
    "Việt",
    "Yến",
)
STATES = ("completed", "processing", "received", "cancelled", "rejected")
STATE_WEIGHTS = (50, 20, 15, 8, 7)
REF_PREFIXES = ("MM", "VNP", "DVC")


@dataclass(frozen=True, slots=True)
class Generated:
    code: str
    procedure_code: str
    procedure_name: str
    applicant: str
    fee: int
    fee_text: str
    state: str
    submitted_at: datetime  # aware, +07:00
    refs: tuple[str, ...]


def generate(rows: int, seed: int = SEED) -> list[Generated]:
    """Deterministic dossiers spread over one year, as a ward's one-stop office files them.

    About half carry one or two payment refs (only dossiers with a fee are paid); fees are
    written grouped (`75.000`, `1.250.000`) or as plain digits, times in ISO with +07:00.
    """
    rng = random.Random(seed)
    first_day = date(2025, 1, 1)
    days = [first_day + timedelta(days=n) for n in range(365)]
    code_day = [f"{d:%d%m%y}" for d in days]  # strftime once per day, not per row
    ref_day = [f"{d:%y%m%d}" for d in days]
    state_cum = list(itertools.accumulate(STATE_WEIGHTS))
    out: list[Generated] = []
    for i in range(rows):
        n = i * 365 // rows
        day = days[n]
        minute = rng.randrange(7 * 60 + 30, 17 * 60)
        submitted = datetime(
            day.year, day.month, day.day, minute // 60, minute % 60, rng.randrange(60), tzinfo=ICT
        )
        procedure_code, procedure_name, unit_fee, units = rng.choice(PROCEDURES)
        fee = unit_fee * rng.randint(1, units)
        # officers type amounts both ways: 75.000 and 75000
        fee_text = f"{fee:,}".replace(",", ".") if rng.random() < 0.6 else str(fee)
        applicant = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
        seq = i + 1
        code = f"H17.25-{code_day[n]}-{seq:06d}"
        refs: tuple[str, ...] = ()
        if fee and rng.random() < 0.65:
            ref = f"{rng.choice(REF_PREFIXES)}{ref_day[n]}{seq:06d}"
            # a retried payment leaves a second order id on the dossier
            refs = (ref, f"{ref}R1") if rng.random() < 0.3 else (ref,)
        state = rng.choices(STATES, cum_weights=state_cum)[0]
        out.append(
            Generated(
                code,
                procedure_code,
                procedure_name,
                applicant,
                fee,
                fee_text,
                state,
                submitted,
                refs,
            )
        )
    return out


def write_csv(dossiers: list[Generated], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        for d in dossiers:
            writer.writerow(
                (
                    d.code,
                    d.procedure_code,
                    d.procedure_name,
                    d.applicant,
                    d.fee_text,
                    d.state,
                    d.submitted_at.isoformat(),
                    "|".join(d.refs),
                )
            )


# --- the floor -----------------------------------------------------------------------------

DOSSIER_SQL = (
    "INSERT INTO dossiers (id, dossier_code, code_key, procedure_code, procedure_name, applicant,"
    " fee_amount, state, submitted_at, claimed_paid_channel, claimed_paid_at, claimed_paid_day,"
    " claimed_channel_txn_id, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
REF_SQL = "INSERT INTO dossier_payment_refs (dossier_id, ref, ref_key) VALUES (?, ?, ?)"
HISTORY_SQL = (
    "INSERT INTO dossier_history (dossier_id, changed_at, source, actor, change, fee_before,"
    " fee_after, state_before, state_after, changed_fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def floor_tuples(
    dossiers: list[Generated], now: datetime
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The rows the import stores, pre-parsed: ids 1..N as a fresh database hands them out.

    Keys and stored time text come from recon's own functions and column type, so the floor
    writes byte for byte what the import writes (checked after the first repeat).
    """
    dialect = sqlite_dialect()
    to_text = UTCDateTime().dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
    stamp = to_text(now)
    actor = f"cli:{CSV_NAME}"
    dossier_rows: list[tuple[object, ...]] = []
    ref_rows: list[tuple[object, ...]] = []
    history_rows: list[tuple[object, ...]] = []
    for dossier_id, d in enumerate(dossiers, start=1):
        dossier_rows.append(
            (
                dossier_id,
                d.code,
                code_key(d.code),
                d.procedure_code,
                d.procedure_name,
                d.applicant,
                d.fee,
                d.state,
                to_text(d.submitted_at),
                None,
                None,
                None,
                None,
                stamp,
                stamp,
            )
        )
        ref_rows.extend((dossier_id, ref, ref_key(ref)) for ref in d.refs)
        history_rows.append(
            (dossier_id, stamp, "import", actor, "created", None, d.fee, None, d.state, "")
        )
    return dossier_rows, ref_rows, history_rows


def floor_insert(
    db_path: Path,
    dossier_rows: list[tuple[object, ...]],
    ref_rows: list[tuple[object, ...]],
    history_rows: list[tuple[object, ...]],
) -> None:
    """Bare sqlite3: recon's pragmas, one BEGIN IMMEDIATE ... COMMIT, three executemany."""
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=10)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(DOSSIER_SQL, dossier_rows)
        conn.executemany(REF_SQL, ref_rows)
        conn.executemany(HISTORY_SQL, history_rows)
        conn.execute("COMMIT")
    finally:
        conn.close()  # the last connection checkpoints the WAL, as the engine's dispose does


# --- the real import -----------------------------------------------------------------------


def fresh_database(path: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    asyncio.run(upgrade(load_settings({"RECON_DATABASE_URL": url}).database_url))
    return url


def _timed_import(url: str, csv_path: Path) -> tuple[float, ImportSummary]:
    settings = load_settings({"RECON_DATABASE_URL": url})
    started = time.perf_counter()
    summary = asyncio.run(import_dossier_file(settings, csv_path))
    return time.perf_counter() - started, summary


def import_child(url: str, csv_path: str, reimport: bool) -> dict[str, object]:
    """In a fresh spawned interpreter, as the CLI runs: one timed import, its peak RSS growth
    (the peak during it minus the RSS before it; see `bench.rss.PeakRss`), then optionally the
    re-import."""
    meter = PeakRss()
    baseline = meter.start()
    elapsed, summary = _timed_import(url, Path(csv_path))
    result: dict[str, object] = {
        "elapsed": elapsed,
        "summary": msgspec.to_builtins(summary),
        "rss_baseline": baseline,
        "rss_peak": meter.peak(),
    }
    if reimport:
        elapsed, summary = _timed_import(url, Path(csv_path))
        result["reimport_elapsed"] = elapsed
        result["reimport_summary"] = msgspec.to_builtins(summary)
    return result


def run_import_child(url: str, csv_path: Path, *, reimport: bool) -> dict[str, Any]:
    # the spawned child imports this module, and with it recon, before the baseline is read
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(import_child, url, str(csv_path), reimport).result()


def _check(summary: dict[str, Any], rows: int, field: str) -> None:
    if summary["rejected"] or summary[field] != rows:
        rejected = summary["rejected"][:3]
        raise SystemExit(f"expected {rows} {field}, got {summary}; rejected e.g. {rejected}")


# --- checks --------------------------------------------------------------------------------

CHECKED = {
    "dossiers": "dossier_code, code_key, procedure_code, procedure_name, applicant, fee_amount,"
    " state, submitted_at, claimed_paid_channel, claimed_paid_at, claimed_paid_day,"
    " claimed_channel_txn_id",
    "dossier_payment_refs": "dossier_id, ref, ref_key",
    "dossier_history": "dossier_id, source, actor, change, fee_before, fee_after, state_before,"
    " state_after, changed_fields",
}


def table_digests(db_path: Path) -> dict[str, tuple[int, str]]:
    """Row count and a digest of each table, wall-clock columns left out."""
    digests = {}
    with sqlite3.connect(db_path) as conn:
        for table, columns in CHECKED.items():
            digest = hashlib.sha256()
            count = 0
            for row in conn.execute(f"SELECT {columns} FROM {table} ORDER BY id"):
                digest.update(repr(row).encode())
                count += 1
            digests[table] = (count, digest.hexdigest())
    conn.close()
    return digests


# --- driver --------------------------------------------------------------------------------


def mib(n: float) -> float:
    return n / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--reimports",
        type=int,
        default=1,
        help="how many repeats also time the duplicate re-import (default 1)",
    )
    args = parser.parse_args()
    rows, repeat = args.rows, max(1, args.repeat)

    real_times: list[float] = []
    floor_times: list[float] = []
    reimport_times: list[float] = []
    rss_growth: list[int] = []
    rss_peak: list[int] = []
    with tempfile.TemporaryDirectory(prefix="recon-bench-") as tmp:
        work = Path(tmp)
        csv_path = work / CSV_NAME
        started = time.perf_counter()
        dossiers = generate(rows)
        write_csv(dossiers, csv_path)
        floor_rows = floor_tuples(dossiers, datetime.now(UTC))
        n_refs = len(floor_rows[1])
        del dossiers
        _log(
            f"generated {rows:,} dossiers ({n_refs:,} payment refs, "
            f"{mib(csv_path.stat().st_size):.1f} MiB CSV) in {time.perf_counter() - started:.1f}s"
        )

        for i in range(repeat):
            real_db, floor_db = work / f"real-{i}.db", work / f"floor-{i}.db"
            result = run_import_child(
                fresh_database(real_db), csv_path, reimport=i < args.reimports
            )
            _check(result["summary"], rows, "inserted")
            real_times.append(result["elapsed"])
            rss_growth.append(result["rss_peak"] - result["rss_baseline"])
            rss_peak.append(result["rss_peak"])
            if "reimport_elapsed" in result:
                _check(result["reimport_summary"], rows, "duplicates")
                reimport_times.append(result["reimport_elapsed"])

            fresh_database(floor_db)
            started = time.perf_counter()
            floor_insert(floor_db, *floor_rows)
            floor_times.append(time.perf_counter() - started)

            if i == 0:  # the floor stores exactly what the import stores
                real_digests, floor_digests = table_digests(real_db), table_digests(floor_db)
                if real_digests != floor_digests:
                    raise SystemExit(f"floor differs: {real_digests} != {floor_digests}")
            _log(
                f"repeat {i + 1}/{repeat}: real {real_times[-1]:.2f}s, floor {floor_times[-1]:.2f}s"
                + (f", re-import {reimport_times[-1]:.2f}s" if i < args.reimports else "")
            )
            for db in (real_db, floor_db):
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{db}{suffix}").unlink(missing_ok=True)

    real = statistics.median(real_times)
    floor = statistics.median(floor_times)
    reimport = statistics.median(reimport_times) if reimport_times else None
    ratio = real / floor
    figures = {
        "bench": "intake",
        "rows": rows,
        "payment_refs": n_refs,
        "repeat": repeat,
        "real_s": round(real, 3),
        "real_rows_per_s": round(rows / real),
        "floor_s": round(floor, 3),
        "floor_rows_per_s": round(rows / floor),
        "ratio": round(ratio, 2),
        "goal_ratio": GOAL_RATIO,
        "goal_met": ratio <= GOAL_RATIO,
        "reimport_s": round(reimport, 3) if reimport is not None else None,
        "reimport_rows_per_s": round(rows / reimport) if reimport is not None else None,
        "peak_rss_growth_mib": round(mib(max(rss_growth)), 1),
        "peak_rss_mib": round(mib(max(rss_peak)), 1),
        "real_runs_s": [round(t, 3) for t in real_times],
        "floor_runs_s": [round(t, 3) for t in floor_times],
        "reimport_runs_s": [round(t, 3) for t in reimport_times],
        "rss_growth_runs_mib": [round(mib(g), 1) for g in rss_growth],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }

    lines = [
        ("", "median", "rows/s", "runs (s)"),
        ("real import", f"{real:.2f}s", f"{rows / real:,.0f}", _runs(real_times)),
        ("floor (sqlite3)", f"{floor:.2f}s", f"{rows / floor:,.0f}", _runs(floor_times)),
    ]
    if reimport is not None:
        lines.append(
            (
                "re-import (dups)",
                f"{reimport:.2f}s",
                f"{rows / reimport:,.0f}",
                _runs(reimport_times),
            )
        )
    widths = [max(len(line[c]) for line in lines) for c in range(4)]
    print(
        f"Dossier intake: {rows:,} dossiers, {n_refs:,} payment refs, median of {repeat} "
        f"(Python {figures['python']}, SQLite {figures['sqlite']}, {figures['cpus']} CPUs)"
    )
    for line in lines:
        print(
            "  ".join(
                cell.ljust(w) if c == 0 else cell.rjust(w)
                for c, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    verdict = "met" if ratio <= GOAL_RATIO else "MISSED"
    print(f"ratio real/floor: {ratio:.2f}x (goal <= {GOAL_RATIO:g}x: {verdict})")
    print(
        f"peak RSS growth of the real import: {mib(max(rss_growth)):.1f} MiB "
        f"(process peak {mib(max(rss_peak)):.1f} MiB; fresh spawned process per import)"
    )
    print(json.dumps(figures, ensure_ascii=False))


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _runs(times: list[float]) -> str:
    return " ".join(f"{t:.2f}" for t in times)


if __name__ == "__main__":
    main()
