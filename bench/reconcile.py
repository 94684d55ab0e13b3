"""Reconciliation benchmark: a month of one file-fed channel through the real CLI, against a
bare sqlite3 floor.

    .venv/bin/python bench/reconcile.py [--dossiers 1000000] [--lines 1000000] [--days 30]
        [--database sqlite|postgresql|both] [--skip-floor] [--skip-storage-floor] [--keep DIR]
        [--profile DIR]

Generates deterministically (seeded), in a temporary directory:

* `dossiers.csv`: N dossiers submitted over the month (codes like `H17.25-011125-00042`, ward
  procedures and fees written grouped or plain, about half with one or two payment refs, a few
  claiming a payment on the channel);
* `statements.csv`: M lines of the file-fed channel `bulk` in the canonical columns, spread
  over D consecutive business days. About 98% pay one dossier its fee by `order_ref` = a payment
  ref (rule 1) or the dossier code (rule 2), a few of those in two same-day halves; about 2%
  make cases: underpaid, overpaid, paid twice, paid then partly refunded, paid on a cancelled
  dossier, unknown reference, refund of nothing, two codes in the text, stuck pending. Each
  planted scenario opens exactly one case, so the expected sum of `cases_opened` is known.

Then, per database, each step as a separate process through the real CLI (`.venv/bin/recon`,
with `RECON_CONFIG` naming a TOML with `[channels.bulk] adapter = "file"` and
`RECON_DATABASE_URL` a fresh SQLite file or the PostgreSQL database `--postgres-url`, whose
schema `public` is dropped and recreated first and, unless `--keep`, again at the end):
`recon db upgrade`, `recon dossiers import`, `recon statements import --channel bulk`, then
`recon reconcile --date D --channel bulk --no-pull --json` for each day in order. On PostgreSQL
the bench runs `ANALYZE` after the imports, untimed, as autovacuum would (the test server runs
with autovacuum off). Each CLI process is started by a small wrapper interpreter that reads its
wall time, CPU time and peak RSS (`ru_maxrss`) with `wait4`, so the bench's own memory never
counts. The runs' statuses must all be `succeeded`, and the sums of `cases_opened` and `matched`
must equal what was planted (the bench exits 1 otherwise, after printing its figures).

The floor (SQLite only, same run): bare `sqlite3` with recon's pragmas loads the same two files
(csv module, executemany, one transaction each), builds the indexes, resolves every line by
payment ref or dossier code in one SQL join and writes one result row per line.

The storage floor (SQLite only, after the real run, for information: it has no goal, it is the
cost of recon's writes alone): bare `sqlite3`, same pragmas, in a fresh database with recon's
own schema (copied from `sqlite_master`), writes back the very rows recon stored, read from
recon's database before each clock starts: the dossiers with their payment refs and history,
then the fetch and the lines (as unmatched), each phase one transaction of 500-row INSERTs
with the tables' secondary indexes built after the load as recon's bulk loads do; then, one
transaction per business day, that day's matches and the UPDATE that marks its lines matched
(a run's cases, events and own row are left out). Printed beside it: recon's step over the
phase that writes the same rows, and the start-up of a reconcile process (median of
`python -c "import recon.runs.cli"`), which each of the D runs pays. `--skip-floor` skips it
too.

Prints seconds per step, lines/s and peak RSS as a table, then one JSON line.
Goals (docs/performance.md), on SQLite: the whole (every step above) within 60 s and within 3x
the floor, and no step above 1 GiB of peak RSS.

`--profile DIR` runs every child under cProfile (`DIR/<database>-<step>.prof`): the times are
then inflated, so the goals are not judged.
"""

from __future__ import annotations

import argparse
import csv
import functools
import itertools
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RECON = ROOT / ".venv" / "bin" / "recon"
PYTHON = ROOT / ".venv" / "bin" / "python"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"

SEED = 20251201
FIRST_DAY = date(2025, 11, 1)
CHANNEL = "bulk"
CASE_SHARE = 0.02  # of the lines, in scenarios that each open one case
CLAIM_SHARE = 0.001  # of the lines: dossiers claiming a payment the statement never shows
GOAL_WHOLE_S = 60.0
GOAL_RATIO = 3.0
GOAL_RSS = 2**30
CONFIG_TOML = f'ward_name = "UBND phường Bench"\n[channels.{CHANNEL}]\nadapter = "file"\n'

DOSSIER_HEADER = (
    "dossier_code",
    "procedure_code",
    "procedure_name",
    "applicant",
    "fee_amount",
    "state",
    "submitted_at",
    "payment_refs",
    "claimed_paid_channel",
    "claimed_paid_at",
)
LINE_HEADER = (
    "channel_txn_id",
    "order_ref",
    "amount",
    "fee",
    "kind",
    "status",
    "paid_at",
    "description",
    "payer",
)
# (procedure code, name, fee per unit in VND, most units per dossier, weight)
PROCEDURES = (
    ("1.000894", "Đăng ký kết hôn", 0, 1, 2),
    ("2.000635", "Cấp bản sao trích lục hộ tịch", 8_000, 3, 14),
    ("1.004873", "Xác nhận tình trạng hôn nhân", 15_000, 1, 10),
    ("1.001612", "Chứng thực bản sao từ bản chính", 2_000, 10, 25),
    ("2.001035", "Chứng thực chữ ký", 10_000, 2, 15),
    ("2.000884", "Chứng thực bản sao điện tử từ bản chính", 1_500, 6, 10),
    ("2.001019", "Chứng thực hợp đồng, giao dịch liên quan đến tài sản là động sản", 50_000, 1, 8),
    ("2.000720", "Đăng ký hộ kinh doanh", 100_000, 1, 7),
    ("1.009994", "Cấp giấy phép xây dựng nhà ở riêng lẻ", 75_000, 1, 5),
    ("1.011620", "Cấp giấy chứng nhận quyền sử dụng đất lần đầu", 1_250_000, 1, 4),
)
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi")
MIDDLE = ("Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quốc", "Kim", "Thu", "Xuân")
GIVEN = ("An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hùng", "Lan", "Linh", "Mai")
STATES = ("completed", "processing", "received", "cancelled", "rejected")
STATE_WEIGHTS = (55, 25, 15, 3, 2)
CLOSED = frozenset({3, 4})  # indexes of cancelled, rejected
REF_PREFIXES = ("MM", "VNP", "DVC")

# planted scenarios: (name, lines per instance, share of the case lines); one case each
SCENARIOS = (
    ("underpaid", 1, 0.20),
    ("overpaid", 1, 0.15),
    ("duplicate", 2, 0.10),
    ("unmatched_payment", 1, 0.15),
    ("unmatched_refund", 1, 0.05),
    ("partial_refund", 2, 0.10),
    ("closed_dossier", 1, 0.10),
    ("pending", 1, 0.10),
    ("ambiguous", 1, 0.05),
)
UNRESOLVED = ("unmatched_payment", "unmatched_refund", "ambiguous")


# --- generation ----------------------------------------------------------------------------


@dataclass
class Plan:
    """What was generated, and what the runs must find."""

    dossiers: int = 0
    with_refs: int = 0
    lines: int = 0
    lines_per_day: list[int] = field(default_factory=list)
    clean_lines: int = 0
    installment_dossiers: int = 0
    scenarios: dict[str, int] = field(default_factory=dict)
    claims: int = 0

    @property
    def expected_cases(self) -> int:
        return sum(self.scenarios.values()) + self.claims

    @property
    def expected_matched(self) -> int:
        # every line resolves to a dossier except the unresolved scenarios' (one line each)
        return self.lines - sum(self.scenarios.get(name, 0) for name in UNRESOLVED)


def day_of(index: int) -> date:
    return FIRST_DAY + timedelta(days=index)


def _clock(rng: random.Random, first_hour: int, last_hour: int) -> str:
    seconds = rng.randrange(first_hour * 3600, last_hour * 3600)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def generate(work: Path, n_dossiers: int, n_lines: int, days: int) -> Plan:
    """Write dossiers.csv and statements.csv; return the plan the runs are checked against."""
    rng = random.Random(SEED)
    plan = Plan(dossiers=n_dossiers)
    n_case_lines = round(n_lines * CASE_SHARE)
    n_claims = round(n_lines * CLAIM_SHARE)
    claim_rate = min(1.0, n_claims / max(1, n_dossiers) * 1.05)

    # dossiers: written as generated; what the lines need is kept
    codes: list[str] = []
    fees: list[int] = []
    refs: list[str | None] = []
    day_index = bytearray()
    payable: list[int] = []  # fee >= 2000, open state, no claim
    closed: list[int] = []  # fee > 0, cancelled or rejected
    procedure_cum = _cumulative([p[4] for p in PROCEDURES])
    state_cum = _cumulative(STATE_WEIGHTS)
    sequence = [0] * days
    with (work / "dossiers.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(DOSSIER_HEADER)
        for i in range(n_dossiers):
            n = i * days // n_dossiers
            sequence[n] += 1
            day = day_of(n)
            code = f"H17.25-{day:%d%m%y}-{sequence[n]:05d}"
            proc_code, proc_name, unit_fee, units, _ = rng.choices(
                PROCEDURES, cum_weights=procedure_cum
            )[0]
            fee = unit_fee * rng.randint(1, units)
            fee_text = f"{fee:,}".replace(",", ".") if rng.random() < 0.5 else str(fee)
            state = rng.choices(range(len(STATES)), cum_weights=state_cum)[0]
            applicant = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
            dossier_refs: tuple[str, ...] = ()
            if fee and rng.random() < 0.5:
                ref = f"{rng.choice(REF_PREFIXES)}{day:%y%m%d}{sequence[n]:05d}"
                dossier_refs = (ref, f"{ref}R1") if rng.random() < 0.2 else (ref,)
                plan.with_refs += 1
            claim = (
                fee >= 2000
                and state not in CLOSED
                and n <= days - 2
                and rng.random() < claim_rate
                and plan.claims < n_claims
            )
            submitted = f"{day.isoformat()}T{_clock(rng, 7, 17)}+07:00"
            writer.writerow(
                (
                    code,
                    proc_code,
                    proc_name,
                    applicant,
                    fee_text,
                    STATES[state],
                    submitted,
                    "|".join(dossier_refs),
                    CHANNEL if claim else "",
                    f"{day.isoformat()}T{_clock(rng, 8, 20)}+07:00" if claim else "",
                )
            )
            codes.append(code)
            fees.append(fee)
            refs.append(dossier_refs[0] if dossier_refs else None)
            day_index.append(n)
            if claim:
                plan.claims += 1
            elif fee >= 2000 and state not in CLOSED:
                payable.append(i)
            elif fee > 0 and state in CLOSED:
                closed.append(i)

    # lines: (day index, order_ref, amount, kind, status, description)
    rng.shuffle(payable)
    rng.shuffle(closed)
    taken = 0

    def take(pool: list[int]) -> int:
        nonlocal taken
        if pool is payable:
            taken += 1
            return pool[taken - 1]
        return pool.pop()

    def pay_day(i: int, last: int) -> int:
        return min(last, day_index[i] + rng.choices((0, 1, 2), (60, 30, 10))[0])

    def order_ref(i: int) -> str:
        return refs[i] or codes[i]

    def text(i: int) -> str:
        return f"Thanh toán lệ phí hồ sơ {codes[i]}"

    lines: list[tuple[int, str, int, str, str, str]] = []
    unknown = 0
    for name, per, share in SCENARIOS:
        count = round(n_case_lines * share / per)
        if name in ("underpaid", "overpaid", "duplicate", "partial_refund", "pending"):
            count = min(count, (len(payable) - taken) // 2)
        elif name == "closed_dossier":
            count = min(count, len(closed))
        plan.scenarios[name] = count
        for _ in range(count):
            if name == "underpaid":
                i = take(payable)
                lines.append(
                    (
                        pay_day(i, days - 1),
                        order_ref(i),
                        fees[i] - fees[i] // 4,
                        "payment",
                        "success",
                        text(i),
                    )
                )
            elif name == "overpaid":
                i = take(payable)
                lines.append(
                    (
                        pay_day(i, days - 1),
                        order_ref(i),
                        fees[i] + 10_000,
                        "payment",
                        "success",
                        text(i),
                    )
                )
            elif name == "duplicate":
                i = take(payable)
                first = pay_day(i, days - 1)
                second = min(days - 1, first + rng.randint(0, 1))
                lines.append((first, order_ref(i), fees[i], "payment", "success", text(i)))
                lines.append((second, codes[i], fees[i], "payment", "success", text(i)))
            elif name == "partial_refund":
                i = take(payable)
                paid = pay_day(i, days - 1)
                refunded = min(days - 1, paid + rng.randint(0, 2))
                lines.append((paid, order_ref(i), fees[i], "payment", "success", text(i)))
                lines.append(
                    (
                        refunded,
                        order_ref(i),
                        fees[i] // 2,
                        "refund",
                        "success",
                        "Hoàn tiền một phần",
                    )
                )
            elif name == "closed_dossier":
                i = take(closed)
                lines.append(
                    (pay_day(i, days - 1), order_ref(i), fees[i], "payment", "success", text(i))
                )
            elif name == "pending":
                i = take(payable)  # the case opens when the next day is reconciled
                lines.append(
                    (pay_day(i, days - 2), order_ref(i), fees[i], "payment", "pending", text(i))
                )
            elif name in ("unmatched_payment", "unmatched_refund"):
                unknown += 1
                payment = name == "unmatched_payment"
                lines.append(
                    (
                        rng.randrange(days),
                        f"{'ZP' if payment else 'ZR'}{unknown:09d}",
                        rng.randrange(10, 500) * 1000,
                        "payment" if payment else "refund",
                        "success",
                        "Chuyển khoản không rõ nội dung" if payment else "Hoàn tiền",
                    )
                )
            else:  # ambiguous: no order_ref, two dossier codes in the text (rule 3)
                a, b = rng.sample(range(n_dossiers), 2)
                lines.append(
                    (
                        rng.randrange(days),
                        "",
                        rng.randrange(10, 500) * 1000,
                        "payment",
                        "success",
                        f"Nộp phí hồ sơ {codes[a].lower()} và {codes[b].replace('-', ' ')}",
                    )
                )
    clean = max(0, n_lines - len(lines))
    remaining = payable[taken:]
    singles = min(clean, len(remaining))
    halves = clean - singles  # more lines than dossiers to pay: some pay in two same-day halves
    if halves > singles:
        raise SystemExit(
            f"{n_lines:,} lines need more payable dossiers than {n_dossiers:,} give: "
            "raise --dossiers"
        )
    chosen = sorted(remaining[:singles])
    split = set(rng.sample(chosen, halves)) if halves else set()
    for i in chosen:
        day = pay_day(i, days - 1)
        if i in split:
            half = fees[i] // 2
            lines.append((day, order_ref(i), half, "payment", "success", text(i)))
            lines.append((day, order_ref(i), fees[i] - half, "payment", "success", text(i)))
        else:
            lines.append((day, order_ref(i), fees[i], "payment", "success", text(i)))
    plan.clean_lines = clean
    plan.installment_dossiers = halves
    plan.lines = len(lines)

    lines.sort(key=lambda line: line[0])  # stable: within a day, in the order planted
    plan.lines_per_day = [0] * days
    with (work / "statements.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(LINE_HEADER)
        for n, ref, amount, kind, status, description in lines:
            plan.lines_per_day[n] += 1
            day = day_of(n)
            writer.writerow(
                (
                    f"BK{day:%y%m%d}{plan.lines_per_day[n]:07d}",
                    ref,
                    amount,
                    amount // 100 if kind == "payment" else 0,
                    kind,
                    status,
                    f"{day.isoformat()}T{_clock(rng, 6, 22)}+07:00",
                    description,
                    f"09{rng.randrange(10**8):08d}",
                )
            )
    return plan


def _cumulative(weights: Any) -> list[int]:
    total, out = 0, []
    for w in weights:
        total += w
        out.append(total)
    return out


# --- running the CLI -----------------------------------------------------------------------


@dataclass
class Step:
    name: str
    seconds: float
    cpu: float
    rss: int  # bytes
    stdout: str


# A small interpreter between the bench and each CLI process: a child forked straight from the
# bench would start with the bench's own RSS (generator, floor) in its ru_maxrss. The wrapper is
# small when it forks, so wait4 gives the CLI process's own peak RSS and CPU time.
WRAPPER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
elapsed = time.perf_counter() - started
with open(sys.argv[1], "w") as f:
    json.dump({"exit": os.waitstatus_to_exitcode(status), "seconds": elapsed,
               "cpu": usage.ru_utime + usage.ru_stime, "maxrss": usage.ru_maxrss}, f)
"""


def run_child(
    args: list[str], env: dict[str, str], work: Path, name: str, profile: Path | None
) -> Step:
    """One CLI process, timed by the wrapper, with its own peak RSS and CPU time."""
    command = [str(RECON), *args]
    if profile is not None:
        command = [str(PYTHON), "-m", "cProfile", "-o", str(profile / f"{name}.prof"), *command]
    out_path, err_path, usage_path = work / "child.out", work / "child.err", work / "child.json"
    usage_path.unlink(missing_ok=True)
    with out_path.open("wb") as out, err_path.open("wb") as err:
        subprocess.run(
            [sys.executable, "-S", "-c", WRAPPER, str(usage_path), *command],
            stdout=out,
            stderr=err,
            env=env,
            cwd=work,
            check=False,
        )
    stdout = out_path.read_text(encoding="utf-8")
    usage = json.loads(usage_path.read_text(encoding="utf-8")) if usage_path.exists() else {}
    if usage.get("exit") != 0:
        stderr = err_path.read_text(encoding="utf-8", errors="replace")
        raise SystemExit(
            f"{name}: `recon {' '.join(args)}` exited {usage.get('exit')}\n{stderr[-2000:]}\n"
            f"{stdout[-2000:]}"
        )
    rss = usage["maxrss"] * (1 if sys.platform == "darwin" else 1024)
    return Step(name, usage["seconds"], usage["cpu"], rss, stdout)


def compile_bytecode() -> None:
    """Compile recon's modules once, untimed, as an installed recon has them (pip compiles what
    it installs). The CLI children run with PYTHONDONTWRITEBYTECODE, as this machine's shell
    does: without this each of them would compile recon's modules again (~0.1 s a process)."""
    packages = [str(ROOT / name) for name in ("recon", "adapters")]
    subprocess.run([str(PYTHON), "-m", "compileall", "-q", *packages], check=True)


def reset_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(
        url.replace("postgresql+asyncpg://", "postgresql://"), autocommit=True
    ) as c:
        c.execute("DROP SCHEMA IF EXISTS public CASCADE")
        c.execute("CREATE SCHEMA public")


def analyze_postgres(url: str) -> None:
    """What autovacuum does after a bulk load, untimed: the test server runs with autovacuum
    off, and without statistics PostgreSQL plans the runs' lookups as scans of whole tables."""
    import psycopg

    with psycopg.connect(
        url.replace("postgresql+asyncpg://", "postgresql://"), autocommit=True
    ) as c:
        c.execute("ANALYZE")


def run_real(
    database: str,
    url: str,
    work: Path,
    plan: Plan,
    days: int,
    profile: Path | None,
) -> dict[str, Any]:
    env = {
        **os.environ,
        "RECON_CONFIG": str(work / "recon.toml"),
        "RECON_DATABASE_URL": url,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    prof = None
    if profile is not None:
        prof = profile
        prof.mkdir(parents=True, exist_ok=True)
    steps: dict[str, Step] = {}

    def step(key: str, args: list[str]) -> Step:
        found = run_child(args, env, work, f"{database}-{key}", prof)
        steps[key] = found
        _log(f"  {database} {key}: {found.seconds:.2f}s, peak RSS {mib(found.rss):.0f} MiB")
        return found

    step("upgrade", ["db", "upgrade", "--json"])
    imported = json.loads(step("dossiers", ["dossiers", "import", "dossiers.csv", "--json"]).stdout)
    if imported["inserted"] != plan.dossiers or imported["rejected"]:
        raise SystemExit(f"dossier import: {str(imported)[:500]}")
    stated = json.loads(
        step(
            "statements", ["statements", "import", "--channel", CHANNEL, "statements.csv", "--json"]
        ).stdout
    )
    if stated["inserted"] != plan.lines or stated["rejected"]:
        raise SystemExit(f"statement import: {str(stated)[:500]}")
    if database == "postgresql":
        analyze_postgres(url)
    runs: list[dict[str, Any]] = []
    for n in range(days):
        day = day_of(n).isoformat()
        found = step(
            f"reconcile-{day}",
            ["reconcile", "--date", day, "--channel", CHANNEL, "--no-pull", "--json"],
        )
        runs.append(json.loads(found.stdout))
    return {"steps": steps, "runs": runs}


def summarise_real(result: dict[str, Any], plan: Plan, days: int) -> dict[str, Any]:
    steps: dict[str, Step] = result["steps"]
    runs: list[dict[str, Any]] = result["runs"]
    day_steps = [steps[f"reconcile-{day_of(n).isoformat()}"] for n in range(days)]
    day_times = [s.seconds for s in day_steps]
    whole = sum(s.seconds for s in steps.values())
    statuses = sorted({r["status"] for r in runs})
    opened = sum(r["cases_opened"] for r in runs)
    closed = sum(r["cases_closed"] for r in runs)
    matched = sum(r["matched"] for r in runs)
    return {
        "upgrade_s": round(steps["upgrade"].seconds, 3),
        "dossiers_import_s": round(steps["dossiers"].seconds, 3),
        "dossiers_per_s": round(plan.dossiers / steps["dossiers"].seconds),
        "statements_import_s": round(steps["statements"].seconds, 3),
        "statement_lines_per_s": round(plan.lines / steps["statements"].seconds),
        "reconcile_total_s": round(sum(day_times), 3),
        "reconcile_lines_per_s": round(plan.lines / sum(day_times)),
        "reconcile_day_min_s": round(min(day_times), 3),
        "reconcile_day_median_s": round(statistics.median(day_times), 3),
        "reconcile_day_max_s": round(max(day_times), 3),
        "whole_s": round(whole, 3),
        "whole_lines_per_s": round(plan.lines / whole),
        "cpu_s": round(sum(s.cpu for s in steps.values()), 3),
        "peak_rss_mib": {
            "upgrade": round(mib(steps["upgrade"].rss), 1),
            "dossiers_import": round(mib(steps["dossiers"].rss), 1),
            "statements_import": round(mib(steps["statements"].rss), 1),
            "reconcile_max": round(mib(max(s.rss for s in day_steps)), 1),
        },
        "peak_rss_max_mib": round(mib(max(s.rss for s in steps.values())), 1),
        "statuses": statuses,
        "cases_opened": opened,
        "cases_closed": closed,
        "cases_open_last_day": runs[-1]["cases_open"] if runs else None,
        "matched": matched,
        "per_day": [
            {
                "date": r["date"],
                "lines": plan.lines_per_day[n],
                "s": round(s.seconds, 3),
                "cpu_s": round(s.cpu, 3),
                "rss_mib": round(mib(s.rss), 1),
                "matched": r["matched"],
                "cases_opened": r["cases_opened"],
                "cases_closed": r["cases_closed"],
            }
            for n, (r, s) in enumerate(zip(runs, day_steps, strict=True))
        ],
    }


# --- the floor -----------------------------------------------------------------------------

FLOOR_SCHEMA = """
CREATE TABLE dossiers (
    id INTEGER PRIMARY KEY, dossier_code TEXT NOT NULL, code_key TEXT NOT NULL,
    procedure_code TEXT, procedure_name TEXT, applicant TEXT, fee_amount INTEGER NOT NULL,
    state TEXT NOT NULL, submitted_at TEXT NOT NULL, claimed_paid_channel TEXT,
    claimed_paid_at TEXT);
CREATE TABLE payment_refs (dossier_id INTEGER NOT NULL, ref TEXT NOT NULL, ref_key TEXT NOT NULL);
CREATE TABLE lines (
    id INTEGER PRIMARY KEY, channel_txn_id TEXT NOT NULL, order_ref TEXT, order_ref_key TEXT,
    amount INTEGER NOT NULL, fee INTEGER NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
    paid_at TEXT NOT NULL, description TEXT, payer TEXT);
CREATE TABLE results (
    line_id INTEGER PRIMARY KEY, dossier_id INTEGER, rule TEXT, fee_amount INTEGER,
    amount INTEGER NOT NULL);
"""
FLOOR_INDEXES = (
    "CREATE UNIQUE INDEX ix_dossiers_code_key ON dossiers (code_key)",
    "CREATE UNIQUE INDEX ix_payment_refs_ref_key ON payment_refs (ref_key)",
    "CREATE INDEX ix_payment_refs_dossier ON payment_refs (dossier_id)",
    "CREATE UNIQUE INDEX ix_lines_txn ON lines (channel_txn_id)",
    "CREATE INDEX ix_lines_order_ref_key ON lines (order_ref_key)",
)
FLOOR_JOIN = """
INSERT INTO results (line_id, dossier_id, rule, fee_amount, amount)
SELECT l.id,
       COALESCE(r.dossier_id, d.id),
       CASE WHEN r.dossier_id IS NOT NULL THEN 'payment_ref'
            WHEN d.id IS NOT NULL THEN 'dossier_code' END,
       COALESCE(rd.fee_amount, d.fee_amount),
       l.amount
FROM lines l
LEFT JOIN payment_refs r ON r.ref_key = l.order_ref_key
LEFT JOIN dossiers rd ON rd.id = r.dossier_id
LEFT JOIN dossiers d ON r.dossier_id IS NULL AND d.code_key = l.order_ref_key
"""


def run_floor(work: Path) -> dict[str, float | int]:
    """Bare sqlite3 with recon's pragmas; each phase timed, connection close included."""
    db_path = work / "floor.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=10)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(FLOOR_SCHEMA)
    times: dict[str, float | int] = {}

    mark = time.perf_counter()
    refs: list[tuple[int, str, str]] = []

    def dossier_rows() -> Any:
        with (work / "dossiers.csv").open(encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            next(reader)
            for dossier_id, row in enumerate(reader, start=1):
                code, pcode, pname, applicant, fee, state, submitted, refs_cell, channel, at = row
                for ref in refs_cell.split("|") if refs_cell else ():
                    refs.append((dossier_id, ref, ref.strip().upper()))
                yield (
                    dossier_id,
                    code,
                    code.strip().upper(),
                    pcode,
                    pname,
                    applicant,
                    int(fee.replace(".", "")),
                    state,
                    submitted,
                    channel or None,
                    at or None,
                )

    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO dossiers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", dossier_rows()
    )
    conn.executemany("INSERT INTO payment_refs VALUES (?, ?, ?)", refs)
    conn.execute("COMMIT")
    times["load_dossiers_s"] = time.perf_counter() - mark

    mark = time.perf_counter()

    def line_rows() -> Any:
        with (work / "statements.csv").open(encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            next(reader)
            for line_id, row in enumerate(reader, start=1):
                txn, ref, amount, fee, kind, status, paid_at, description, payer = row
                yield (
                    line_id,
                    txn,
                    ref or None,
                    ref.strip().upper() or None,
                    int(amount),
                    int(fee),
                    kind,
                    status,
                    paid_at,
                    description,
                    payer,
                )

    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", line_rows())
    conn.execute("COMMIT")
    times["load_lines_s"] = time.perf_counter() - mark

    mark = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    for statement in FLOOR_INDEXES:
        conn.execute(statement)
    conn.execute("COMMIT")
    times["index_s"] = time.perf_counter() - mark

    mark = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(FLOOR_JOIN)
    conn.execute("COMMIT")
    conn.close()
    times["join_s"] = time.perf_counter() - mark
    times["total_s"] = time.perf_counter() - started

    check = sqlite3.connect(db_path)
    times["result_rows"] = check.execute("SELECT count(*) FROM results").fetchone()[0]
    times["resolved"] = check.execute(
        "SELECT count(*) FROM results WHERE dossier_id IS NOT NULL"
    ).fetchone()[0]
    check.close()
    return times


# --- the storage floor ---------------------------------------------------------------------

# recon's bulk loads (recon.db.bulk.BulkLoad) drop these tables' secondary indexes and build
# them again before the load commits; the storage floor holds them back the same way
STORAGE_BULK_TABLES = ("dossiers", "dossier_payment_refs", "dossier_history", "statement_lines")
STORAGE_PHASES = (
    ("dossiers", ("dossiers", "dossier_payment_refs", "dossier_history")),
    ("statements", ("channel_fetches", "statement_lines")),
)
# rows read as they are but for these columns: a line is stored unmatched, the runs mark it
STORAGE_REPLACED = {"statement_lines": {"matched": "0 AS matched"}}
# matches.run_id refers to runs: their rows are copied before any clock (a run's own row is
# among the writes the storage floor leaves out, with cases and events)
STORAGE_UNTIMED = ("runs",)
STORAGE_ROWS_PER_INSERT = 500  # recon.db.bulk.SQLITE_ROWS_PER_INSERT
MARK_MATCHED = "UPDATE statement_lines SET matched = 1 WHERE id IN (SELECT value FROM json_each(?))"
STARTUP_RUNS = 5


@dataclass
class TableRows:
    """One table's rows as recon stored them, flattened a statement's worth (500 rows) at a
    time, so the clock sees the INSERTs alone."""

    table: str
    columns: tuple[str, ...]
    parts: list[tuple[int, tuple[Any, ...]]] = field(default_factory=list)  # (rows, values)
    rows: int = 0

    def add(self, rows: list[tuple[Any, ...]]) -> None:
        for start in range(0, len(rows), STORAGE_ROWS_PER_INSERT):
            part = rows[start : start + STORAGE_ROWS_PER_INSERT]
            self.parts.append((len(part), tuple(itertools.chain.from_iterable(part))))
            self.rows += len(part)


@dataclass
class RunDay:
    """The matches of one business day's lines, and those lines' ids as one JSON array."""

    day: str
    matches: TableRows
    line_ids: str


def _columns_of(conn: sqlite3.Connection, table: str) -> tuple[str, ...]:
    return tuple(str(row[1]) for row in conn.execute(f'PRAGMA table_info("{table}")'))


def _read_rows(source: sqlite3.Connection, table: str) -> TableRows:
    """All columns of every row, ordered by id, in their stored form."""
    columns = _columns_of(source, table)
    replaced = STORAGE_REPLACED.get(table, {})
    select = ", ".join(replaced.get(column, f'"{column}"') for column in columns)
    cursor = source.execute(f'SELECT {select} FROM "{table}" ORDER BY id')
    found = TableRows(table, columns)
    while chunk := cursor.fetchmany(STORAGE_ROWS_PER_INSERT):
        found.add(chunk)
    return found


def _read_run_days(source: sqlite3.Connection) -> list[RunDay]:
    """Every match, ordered by id, grouped by the business day of the line it holds."""
    columns = _columns_of(source, "matches")
    line_at = columns.index("line_id")
    select = ", ".join(f'm."{column}"' for column in columns)
    by_day: dict[str, list[tuple[Any, ...]]] = {}
    for row in source.execute(
        f"SELECT {select}, l.business_day FROM matches m"
        " JOIN statement_lines l ON l.id = m.line_id ORDER BY m.id"
    ):
        by_day.setdefault(str(row[-1]), []).append(row[:-1])
    days: list[RunDay] = []
    for day in sorted(by_day):
        rows = by_day.pop(day)
        matches = TableRows("matches", columns)
        matches.add(rows)
        days.append(RunDay(day, matches, json.dumps([row[line_at] for row in rows])))
    return days


@functools.cache
def _multirow_insert(table: str, columns: tuple[str, ...], rows: int) -> str:
    names = ", ".join(f'"{column}"' for column in columns)
    values = ", ".join(["(" + ", ".join("?" * len(columns)) + ")"] * rows)
    return f'INSERT INTO "{table}" ({names}) VALUES {values}'


def _insert_rows(conn: sqlite3.Connection, found: TableRows) -> None:
    for rows, values in found.parts:
        conn.execute(_multirow_insert(found.table, found.columns, rows), values)


def _count(conn: sqlite3.Connection, table: str, where: str = "") -> int:
    return int(conn.execute(f'SELECT count(*) FROM "{table}" {where}').fetchone()[0])


def _copy_schema(source: sqlite3.Connection, conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """recon's schema from the source's sqlite_master: tables first, then indexes and triggers,
    but for the secondary indexes of the bulk-loaded tables, returned as (table, CREATE …) in
    their stored order to be built after the load."""
    objects = source.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master"
        " WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid"
    ).fetchall()
    held: list[tuple[str, str]] = []
    conn.execute("BEGIN IMMEDIATE")
    for kind, _, _, sql in objects:
        if kind == "table":
            conn.execute(sql)
    for kind, _, owner, sql in objects:
        if kind == "index" and owner in STORAGE_BULK_TABLES:
            held.append((str(owner), str(sql)))
        elif kind != "table":
            conn.execute(sql)
    conn.execute("COMMIT")
    return held


def _load_phase(
    source: sqlite3.Connection,
    conn: sqlite3.Connection,
    tables: tuple[str, ...],
    held: list[tuple[str, str]],
) -> tuple[float, float, dict[str, int]]:
    """The tables' rows read back (untimed), then inserted and their held-back indexes built in
    one transaction: (seconds, CPU seconds, rows read per table)."""
    found = [_read_rows(source, table) for table in tables]
    wall, cpu = time.perf_counter(), time.process_time()
    conn.execute("BEGIN IMMEDIATE")
    for rows in found:
        _insert_rows(conn, rows)
    for owner, sql in held:
        if owner in tables:
            conn.execute(sql)
    conn.execute("COMMIT")
    return (
        time.perf_counter() - wall,
        time.process_time() - cpu,
        {rows.table: rows.rows for rows in found},
    )


def _runs_phase(
    source: sqlite3.Connection, conn: sqlite3.Connection
) -> tuple[float, float, list[float], int, int]:
    """Each day's matches inserted and its lines marked matched, one transaction a day:
    (seconds, CPU seconds, seconds per day, matches read, lines marked)."""
    days = _read_run_days(source)
    per_day: list[float] = []
    marked = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for day in days:
        mark = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        _insert_rows(conn, day.matches)
        marked += conn.execute(MARK_MATCHED, (day.line_ids,)).rowcount
        conn.execute("COMMIT")
        per_day.append(time.perf_counter() - mark)
    seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    return seconds, cpu_seconds, per_day, sum(day.matches.rows for day in days), marked


def run_storage_floor(work: Path, source_path: Path) -> dict[str, Any]:
    """Bare sqlite3 with recon's pragmas writing the rows recon stored in `source_path`, read
    back before each phase's clock starts, into a fresh copy of recon's schema; connection
    close included in the total."""
    db_path = work / "storage-floor.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    source = sqlite3.connect(f"{source_path.resolve().as_uri()}?mode=ro", uri=True)
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=10)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    held = _copy_schema(source, conn)
    conn.execute("BEGIN IMMEDIATE")
    for table in STORAGE_UNTIMED:
        _insert_rows(conn, _read_rows(source, table))
    conn.execute("COMMIT")

    figures: dict[str, Any] = {}
    read: dict[str, int] = {}
    for phase, tables in STORAGE_PHASES:
        _log(f"storage floor: {phase}")
        seconds, cpu, rows = _load_phase(source, conn, tables, held)
        figures[f"{phase}_s"], figures[f"{phase}_cpu_s"] = seconds, cpu
        figures[f"{phase}_indexes"] = sum(owner in tables for owner, _ in held)
        read.update(rows)
    _log("storage floor: runs")
    seconds, cpu, per_day, read["matches"], marked = _runs_phase(source, conn)
    figures["runs_s"], figures["runs_cpu_s"] = seconds, cpu
    figures["runs_days"] = len(per_day)
    figures["runs_day_median_s"] = statistics.median(per_day) if per_day else 0.0
    mark = time.perf_counter()
    conn.close()
    figures["close_s"] = time.perf_counter() - mark
    figures["total_s"] = sum(figures[f"{phase}_s"] for phase in ("dossiers", "statements", "runs"))
    figures["total_s"] += figures["close_s"]

    check = sqlite3.connect(db_path)
    figures["rows_read"] = read
    figures["rows_written"] = {table: _count(check, table) for table in read}
    figures["lines_marked"] = marked
    figures["lines_matched"] = _count(check, "statement_lines", "WHERE matched")
    check.close()
    source.close()
    return figures


def measure_startup(work: Path, url: str) -> list[float]:
    """Wall seconds of `python -c "import recon.runs.cli"`, STARTUP_RUNS times, in the
    environment of the reconcile runs: what each run pays before it does anything."""
    env = {
        **os.environ,
        "RECON_CONFIG": str(work / "recon.toml"),
        "RECON_DATABASE_URL": url,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    times: list[float] = []
    for _ in range(STARTUP_RUNS):
        started = time.perf_counter()
        subprocess.run([str(PYTHON), "-c", "import recon.runs.cli"], env=env, cwd=work, check=True)
        times.append(time.perf_counter() - started)
    return times


# --- driver --------------------------------------------------------------------------------


def mib(n: float) -> float:
    return n / 2**20


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(
                cell.ljust(w) if c == 0 else cell.rjust(w)
                for c, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )


def print_real(database: str, s: dict[str, Any], plan: Plan, days: int) -> None:
    rss = s["peak_rss_mib"]
    print(f"\n{database}: {plan.dossiers:,} dossiers, {plan.lines:,} lines over {days} days")
    _table(
        [
            ("step", "seconds", "rows/s", "peak RSS MiB"),
            ("recon db upgrade", f"{s['upgrade_s']:.2f}", "", f"{rss['upgrade']:.0f}"),
            (
                "recon dossiers import",
                f"{s['dossiers_import_s']:.2f}",
                f"{s['dossiers_per_s']:,}",
                f"{rss['dossiers_import']:.0f}",
            ),
            (
                "recon statements import",
                f"{s['statements_import_s']:.2f}",
                f"{s['statement_lines_per_s']:,}",
                f"{rss['statements_import']:.0f}",
            ),
            (
                f"recon reconcile x{days} (total)",
                f"{s['reconcile_total_s']:.2f}",
                f"{s['reconcile_lines_per_s']:,}",
                f"{rss['reconcile_max']:.0f}",
            ),
            (
                "whole",
                f"{s['whole_s']:.2f}",
                f"{s['whole_lines_per_s']:,}",
                f"{s['peak_rss_max_mib']:.0f}",
            ),
        ]
    )
    print(
        f"reconcile per day: min {s['reconcile_day_min_s']:.2f}s, median "
        f"{s['reconcile_day_median_s']:.2f}s, max {s['reconcile_day_max_s']:.2f}s "
        f"(~{plan.lines // days:,} lines a day); CPU of all steps {s['cpu_s']:.1f}s"
    )
    print(
        f"runs: statuses {s['statuses']}, cases opened {s['cases_opened']:,} (planted "
        f"{plan.expected_cases:,}), closed {s['cases_closed']:,}, matched {s['matched']:,} "
        f"(expected {plan.expected_matched:,})"
    )


def print_storage_floor(f: dict[str, Any], s: dict[str, Any], days: int) -> None:
    rows = f["rows_written"]
    ratio = f["recon_over_floor"]
    dossier_rows = sum(rows[t] for t in STORAGE_PHASES[0][1])
    line_rows = sum(rows[t] for t in STORAGE_PHASES[1][1])
    print("\nstorage floor (bare sqlite3 writing the rows recon stored, in recon's schema)")
    _table(
        [
            ("phase", "seconds", "CPU s", "rows", "recon s", "recon/floor"),
            (
                f"dossiers: 3 tables, then {f['dossiers_indexes']} indexes",
                f"{f['dossiers_s']:.2f}",
                f"{f['dossiers_cpu_s']:.2f}",
                f"{dossier_rows:,}",
                f"{s['dossiers_import_s']:.2f}",
                f"{ratio['dossiers_import']:.1f}x",
            ),
            (
                f"statements: fetch + lines, then {f['statements_indexes']} indexes",
                f"{f['statements_s']:.2f}",
                f"{f['statements_cpu_s']:.2f}",
                f"{line_rows:,}",
                f"{s['statements_import_s']:.2f}",
                f"{ratio['statements_import']:.1f}x",
            ),
            (
                f"runs x{f['runs_days']}: matches + matched flags (total)",
                f"{f['runs_s']:.2f}",
                f"{f['runs_cpu_s']:.2f}",
                f"{rows['matches']:,}",
                f"{s['reconcile_total_s']:.2f}",
                f"{ratio['reconcile']:.1f}x",
            ),
            (
                "runs per day (median)",
                f"{f['runs_day_median_s']:.3f}",
                "",
                "",
                f"{s['reconcile_day_median_s']:.2f}",
                f"{ratio['reconcile_day_median']:.1f}x",
            ),
            ("total (close included)", f"{f['total_s']:.2f}", "", "", "", ""),
            (
                "start-up (import recon.runs.cli) median s",
                f"{f['startup_median_s']:.3f}",
                "",
                "",
                "",
                "",
            ),
            (f"start-up x{days}", f"{f['startup_x_runs_s']:.2f}", "", "", "", ""),
        ]
    )
    written = ", ".join(
        f"{table} {rows[table]:,}/{f['rows_read'][table]:,}" for table in f["rows_read"]
    )
    print(
        f"storage floor rows written/read: {written}; lines marked matched "
        f"{f['lines_matched']:,} ({f['lines_marked']:,} by the updates, {rows['matches']:,} "
        "matches)"
    )


def _recon_over_storage(s: dict[str, Any], f: dict[str, Any]) -> dict[str, float]:
    """recon's real step time over the storage floor phase that writes the same rows."""

    def over(real: float, floor: float) -> float:
        return round(real / floor, 2) if floor > 0 else float("inf")

    return {
        "dossiers_import": over(s["dossiers_import_s"], f["dossiers_s"]),
        "statements_import": over(s["statements_import_s"], f["statements_s"]),
        "reconcile": over(s["reconcile_total_s"], f["runs_s"]),
        "reconcile_day_median": over(s["reconcile_day_median_s"], f["runs_day_median_s"]),
    }


def _storage_checks(f: dict[str, Any]) -> list[str]:
    failed = [
        f"storage floor: {table}: {f['rows_written'][table]} rows written, {read} read"
        for table, read in f["rows_read"].items()
        if f["rows_written"][table] != read
    ]
    if not f["lines_marked"] == f["lines_matched"] == f["rows_read"]["matches"]:
        failed.append(
            f"storage floor: {f['lines_marked']} lines marked by the updates, "
            f"{f['lines_matched']} matched, {f['rows_read']['matches']} matches"
        )
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--dossiers", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--skip-floor", action="store_true", help="no floor, no storage floor")
    parser.add_argument("--skip-storage-floor", action="store_true")
    parser.add_argument("--keep", type=Path, help="work in DIR and keep the files and databases")
    parser.add_argument("--profile", type=Path, help="run every child under cProfile into DIR")
    args = parser.parse_args()
    days = args.days
    if days < 2:
        raise SystemExit("--days must be at least 2")
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="recon-bench-") as tmp:
        work = args.keep.resolve() if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        (work / "recon.toml").write_text(CONFIG_TOML, encoding="utf-8")
        started = time.perf_counter()
        plan = generate(work, args.dossiers, args.lines, days)
        sizes = {
            name: mib((work / name).stat().st_size) for name in ("dossiers.csv", "statements.csv")
        }
        _log(
            f"generated {plan.dossiers:,} dossiers ({plan.with_refs:,} with refs, "
            f"{plan.claims:,} claims, {sizes['dossiers.csv']:.1f} MiB) and {plan.lines:,} lines "
            f"({plan.lines - plan.clean_lines:,} in {sum(plan.scenarios.values()):,} planted "
            f"cases, {plan.installment_dossiers:,} dossiers paid in halves, "
            f"{sizes['statements.csv']:.1f} MiB) in {time.perf_counter() - started:.1f}s"
        )

        floor: dict[str, float | int] | None = None
        if not args.skip_floor:
            floor = run_floor(work)
            _log(f"floor: {floor['total_s']:.2f}s")

        results: dict[str, dict[str, Any]] = {}
        failures: list[str] = []
        sqlite_path = work / "recon.db"
        compile_bytecode()
        for database in databases:
            if database == "sqlite":
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
                url = f"sqlite:///{sqlite_path}"
            else:
                url = args.postgres_url
                reset_postgres(url)
            _log(f"{database}: running the CLI")
            try:
                real = run_real(database, url, work, plan, days, args.profile)
            finally:
                if database == "postgresql" and not args.keep:
                    reset_postgres(url)
            summary = summarise_real(real, plan, days)
            results[database] = summary
            if summary["statuses"] != ["succeeded"]:
                failures.append(f"{database}: run statuses {summary['statuses']}")
            if summary["cases_opened"] != plan.expected_cases:
                failures.append(
                    f"{database}: {summary['cases_opened']} cases opened, "
                    f"{plan.expected_cases} planted"
                )
            if summary["matched"] != plan.expected_matched:
                failures.append(
                    f"{database}: {summary['matched']} lines matched, "
                    f"{plan.expected_matched} expected"
                )

        # after the real run, in the same work directory: recon's database is still there
        storage: dict[str, Any] | None = None
        if args.skip_floor or args.skip_storage_floor:
            flag = "--skip-floor" if args.skip_floor else "--skip-storage-floor"
            _log(f"storage floor: skipped ({flag})")
        elif "sqlite" not in results:
            _log("storage floor: skipped (it needs the real run on SQLite)")
        else:
            storage = run_storage_floor(work, sqlite_path)
            startup = measure_startup(work, f"sqlite:///{sqlite_path}")
            storage["startup_runs_s"] = [round(x, 3) for x in startup]
            storage["startup_median_s"] = statistics.median(startup)
            storage["startup_x_runs_s"] = days * storage["startup_median_s"]
            storage["recon_over_floor"] = _recon_over_storage(results["sqlite"], storage)
            _log(f"storage floor: {storage['total_s']:.2f}s")
            failures.extend(_storage_checks(storage))
    load_after = os.getloadavg()

    print(
        f"Reconciliation: {plan.dossiers:,} dossiers, {plan.lines:,} statement lines of one "
        f"file-fed channel over {days} days (Python {platform.python_version()}, SQLite "
        f"{sqlite3.sqlite_version}, {os.cpu_count()} CPUs, load {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after)"
    )
    planted = ", ".join(f"{k} {v:,}" for k, v in plan.scenarios.items())
    print(f"planted cases: {planted}, missing_in_statement {plan.claims:,}")
    for database, summary in results.items():
        print_real(database, summary, plan, days)
    goals: dict[str, Any] = {}
    if floor is not None:
        print("\nfloor (bare sqlite3, csv module, executemany, one SQL join)")
        _table(
            [
                ("phase", "seconds"),
                ("load dossiers.csv", f"{floor['load_dossiers_s']:.2f}"),
                ("load statements.csv", f"{floor['load_lines_s']:.2f}"),
                ("indexes", f"{floor['index_s']:.2f}"),
                ("join + write results", f"{floor['join_s']:.2f}"),
                ("total", f"{floor['total_s']:.2f}"),
            ]
        )
        print(f"floor resolved {floor['resolved']:,} of {floor['result_rows']:,} lines")
    if storage is not None:
        print_storage_floor(storage, results["sqlite"], days)
    if "sqlite" in results and args.profile is None:
        whole = results["sqlite"]["whole_s"]
        rss = results["sqlite"]["peak_rss_max_mib"] * 2**20
        goals = {
            "whole_s": whole,
            "whole_met": whole <= GOAL_WHOLE_S,
            "peak_rss_met": rss <= GOAL_RSS,
        }
        if floor is not None:
            ratio = whole / float(floor["total_s"])
            goals["ratio"] = round(ratio, 2)
            goals["ratio_met"] = ratio <= GOAL_RATIO
        print("\ngoals on SQLite:")
        print(f"  whole {whole:.1f}s <= {GOAL_WHOLE_S:.0f}s: {_verdict(goals['whole_met'])}")
        if "ratio" in goals:
            verdict = _verdict(goals["ratio_met"])
            print(f"  whole/floor {goals['ratio']:.2f}x <= {GOAL_RATIO:g}x: {verdict}")
        print(
            f"  peak RSS {mib(rss):.0f} MiB <= {mib(GOAL_RSS):.0f} MiB: "
            f"{_verdict(goals['peak_rss_met'])}"
        )
    for failure in failures:
        print(f"CHECK FAILED: {failure}")

    figures = {
        "bench": "reconcile",
        "dossiers": plan.dossiers,
        "dossiers_with_refs": plan.with_refs,
        "lines": plan.lines,
        "days": days,
        "lines_per_day": plan.lines_per_day,
        "planted": {**plan.scenarios, "missing_in_statement": plan.claims},
        "expected_cases": plan.expected_cases,
        "expected_matched": plan.expected_matched,
        "csv_mib": {k: round(v, 1) for k, v in sizes.items()},
        "real": results,
        "floor": {k: round(v, 3) if isinstance(v, float) else v for k, v in (floor or {}).items()},
        "storage_floor": {
            k: round(v, 3) if isinstance(v, float) else v for k, v in (storage or {}).items()
        },
        "goals": goals,
        "checks_failed": failures,
        "profiled": args.profile is not None,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }
    print(json.dumps(figures, ensure_ascii=False))
    if failures:
        sys.exit(1)


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


if __name__ == "__main__":
    main()
