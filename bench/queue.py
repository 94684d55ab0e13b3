"""The accountant's pages under a big queue: server time of the queue, case and audit pages.

    .venv/bin/python bench/queue.py [--cases 10000] [--dossiers 30000] [--repeat 60]

Goals (docs/performance.md), on SQLite: the queue page within 300 ms (p95) with 10,000 live
cases, a case page within 100 ms (p95).

Untimed: a fresh migrated SQLite file filled through Core inserts: `--dossiers` dossiers (fees
from the few amounts a ward charges, so a payment's amount is shared by thousands: the
candidate lookups must stay bounded), `--cases` live cases spread evenly over the ten types, 60
days and four channels, plus a fifth as many resolved and closed ones, each with its line
(where its type has one: a dossier's payment matched to it, or an owner-less payment, refund or
pending line), its dossier (the dossier types) and the engine's "opened" event; one dossier
history row each; an accountant and an approver. `ANALYZE` as a run leaves it.

Then the app in this process (Litestar's `AsyncTestClient`, no network: the time is the
server's, from the request entering the app to its last byte), signed in through the login
form, and for each page `--repeat` requests after 3 untimed ones, one at a time: the queue by
default (newest first, page 1), filtered (type, channel, a date range and an amount range),
searched (free text over explanations, transaction ids and dossier codes), page 50 sorted by
amount, the approver's pending tab; case pages of random owner-less payments (with their ranked
candidates) and of random dossier cases; the audit page's first page and a person's filter.
Printed: p50, p95 and max per page, the goals' verdicts, one JSON line.
"""

from __future__ import annotations

import sys
from pathlib import Path

# the repo first instead of bench/, where this very file would shadow the standard library's queue
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import asyncio
import random
import re
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, insert, text

from bench import harness as h
from recon.auth.service import hash_password
from recon.db.models import (
    Case,
    CaseEvent,
    CaseLine,
    Dossier,
    DossierHistory,
    Match,
    StatementLineRow,
    User,
    table,
)
from recon.matching.normalize import code_key
from recon.vocab import CASE_TYPES

GOAL_QUEUE_MS, GOAL_CASE_MS = 300.0, 100.0
FIRST_DAY, DAYS = date(2025, 9, 1), 60
CHANNELS = ("momo", "portal", "bank", "vnpay")
FEES = (15_000, 20_000, 30_000, 50_000, 100_000, 200_000)
PASSWORD = "mật khẩu bench rất dài"
NAMES = ("Nguyễn Văn An", "Trần Thị Bình", "Lê Minh Châu", "Phạm Thu Hà", "Đỗ Văn Em")
NOW = datetime(2025, 11, 1, tzinfo=UTC)
TOKEN = re.compile(r'name="_csrf_token" value="([^"]*)"')
DOSSIER_TYPES = {"UNDERPAID", "OVERPAID", "DUPLICATE_PAYMENT", "PAYMENT_ON_CLOSED_DOSSIER"}
LINE_TYPES = {"UNMATCHED_PAYMENT", "AMBIGUOUS_REFERENCE", "UNMATCHED_REFUND", "STATUS_CONFLICT"}


def recon_toml() -> str:
    channels = "".join(f'[channels.{c}]\nadapter = "file"\n' for c in CHANNELS)
    return 'ward_name = "UBND phường Bench"\n' + channels


# --- the data ----------------------------------------------------------------------------------


def moment(rng: random.Random, day: date) -> datetime:
    start = datetime(day.year, day.month, day.day, 1, tzinfo=UTC)
    return start + timedelta(seconds=rng.randrange(12 * 3600))


def dossier_rows(count: int, rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for n in range(count):
        code = f"H17.25-{n // 1000:06d}-{n % 1000:04d}"
        day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
        closed = n % 17 == 0
        rows.append(
            {
                "id": n + 1,
                "dossier_code": code,
                "code_key": code_key(code),
                "procedure_code": "1.001612",
                "procedure_name": "Chứng thực bản sao",
                "applicant": NAMES[n % len(NAMES)],
                "fee_amount": FEES[n % len(FEES)],
                "state": "cancelled" if closed else "received",
                "submitted_at": moment(rng, day),
                "created_at": NOW,
                "updated_at": NOW,
            }
        )
    return rows


def line_row(
    n: int, case_type: str, day: date, channel: str, amount: int, rng: random.Random
) -> dict[str, Any]:
    kind = "refund" if case_type == "UNMATCHED_REFUND" else "payment"
    status = "pending" if case_type == "STATUS_CONFLICT" else "success"
    text_ = f"Chuyen tien le phi {NAMES[n % len(NAMES)]} {n}"
    if case_type == "AMBIGUOUS_REFERENCE":
        text_ = f"HS H17.25-{n % 30:06d}-0001 va H17.25-{n % 30:06d}-0002"
    return {
        "id": n + 1,
        "channel": channel,
        "channel_txn_id": f"T{n:08d}",
        "amount": amount,
        "fee": 0,
        "kind": kind,
        "status": status,
        "paid_at": moment(rng, day),
        "business_day": day,
        "description": text_,
        "raw": f'{{"txn": "T{n:08d}", "amount": {amount}, "note": "{text_}"}}',
        "first_seen_at": NOW,
        "updated_at": NOW,
        "matched": case_type in DOSSIER_TYPES,
    }


def fill(url: str, cases: int, dossiers: int, seed: int = 14) -> dict[str, int]:
    """The bench's database; how many rows of each it holds."""
    rng = random.Random(seed)
    engine = create_engine(url.replace("+aiosqlite", ""))
    dossier_list = dossier_rows(dossiers, rng)
    lines, case_rows, case_lines, events, matches, history = [], [], [], [], [], []
    total = cases + cases // 5
    for n in range(total):
        case_type = CASE_TYPES[n % len(CASE_TYPES)]
        live = n < cases
        status = "open" if live else ("resolved" if n % 2 else "closed")
        day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
        channel = CHANNELS[n % len(CHANNELS)]
        fee = FEES[n % len(FEES)]
        dossier = (
            dossier_list[n % dossiers]
            if case_type in DOSSIER_TYPES | {"MISSING_IN_STATEMENT"}
            else None
        )
        expected = (
            dossier["fee_amount"]
            if dossier
            else (fee if case_type == "CONTROL_TOTAL_MISMATCH" else None)
        )
        actual = {
            "UNDERPAID": (expected or 0) // 2,
            "OVERPAID": (expected or 0) * 2,
            "DUPLICATE_PAYMENT": (expected or 0) * 2,
            "MISSING_IN_STATEMENT": 0,
            "CONTROL_TOTAL_MISMATCH": fee - 1_000,
        }.get(case_type, fee)
        case_id = n + 1
        case_rows.append(
            {
                "id": case_id,
                "type": case_type,
                "status": status,
                "identity": f"{case_type}:{n}",
                "business_day": day,
                "channel": channel,
                "dossier_id": dossier["id"] if dossier else None,
                "expected_amount": expected,
                "actual_amount": actual,
                "rule": "bench",
                "explanation": f"Vụ việc thử {case_type} số {n} qua {channel}",
                "resolution": "accepted" if status == "resolved" else None,
                "close_reason": "không còn sai lệch" if status == "closed" else None,
                "created_at": NOW,
                "updated_at": NOW,
            }
        )
        if case_type in DOSSIER_TYPES | LINE_TYPES:
            line = line_row(n, case_type, day, channel, actual or fee, rng)
            lines.append(line)
            case_lines.append({"case_id": case_id, "line_id": line["id"]})
            if dossier is not None:
                matches.append(
                    {
                        "line_id": line["id"],
                        "dossier_id": dossier["id"],
                        "rule": "payment_ref",
                        "fields": "{}",
                        "matched_at": NOW,
                    }
                )
        events.append(
            {
                "case_id": case_id,
                "at": NOW,
                "actor": None,
                "action": "opened",
                "from_status": None,
                "to_status": "open",
                "changes": "{}",
                "note": "",
            }
        )
    for d in dossier_list:
        history.append(
            {
                "dossier_id": d["id"],
                "changed_at": NOW,
                "source": "import",
                "actor": "bench",
                "change": "created",
                "fee_after": d["fee_amount"],
                "state_after": d["state"],
            }
        )
    users = [
        {
            "username": name,
            "role": role,
            "password_hash": hash_password(PASSWORD),
            "created_at": NOW,
        }
        for name, role in (("ketoan", "accountant"), ("duyet", "approver"))
    ]
    with engine.begin() as conn:
        for model, rows in (
            (Dossier, dossier_list),
            (DossierHistory, history),
            (StatementLineRow, lines),
            (Match, matches),
            (Case, case_rows),
            (CaseLine, case_lines),
            (CaseEvent, events),
            (User, users),
        ):
            for start in range(0, len(rows), 5_000):
                conn.execute(insert(table(model)), rows[start : start + 5_000])
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return {
        "dossiers": len(dossier_list),
        "lines": len(lines),
        "cases": len(case_rows),
        "live": cases,
    }


# --- the measurement -----------------------------------------------------------------------------


async def sign_in(client: Any, username: str) -> None:
    form = await client.get("/dang-nhap")
    token = TOKEN.search(form.text)
    data = {
        "username": username,
        "password": PASSWORD,
        "next": "/",
        "_csrf_token": token.group(1) if token else "",
    }
    answer = await client.post("/dang-nhap", data=data, follow_redirects=False)
    if answer.status_code != 303:
        raise SystemExit(f"signing in as {username} failed: {answer.status_code}")


async def timed(get: Callable[[str], Awaitable[Any]], paths: list[str], repeat: int) -> list[float]:
    for path in paths[:3]:
        await get(path)
    found = []
    for n in range(repeat):
        path = paths[n % len(paths)]
        started = time.perf_counter()
        response = await get(path)
        found.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code}\n{response.text[:2000]}")
    return found


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def measure(
    settings: Any, repeat: int, cases: int, rng: random.Random
) -> dict[str, list[float]]:
    from litestar.testing import AsyncTestClient

    from recon.app import create_app

    ownerless = [
        n + 1 for n in range(cases) if CASE_TYPES[n % len(CASE_TYPES)] == "UNMATCHED_PAYMENT"
    ]
    dossier_cases = [n + 1 for n in range(cases) if CASE_TYPES[n % len(CASE_TYPES)] == "UNDERPAID"]
    pages = {
        "queue, default": ["/hang-doi"],
        "queue, filtered": [
            "/hang-doi?loai=UNMATCHED_PAYMENT&kenh=bank&tu=01/09/2025&den=15/10/2025&tien_tu=20000&tien_den=100000"
        ],
        "queue, text search": [
            "/hang-doi?tim=T0000123",
            "/hang-doi?tim=H17.25-000004",
            "/hang-doi?tim=vnpay",
        ],
        "queue, page 50 by amount": ["/hang-doi?sap=tien&trang=50"],
        "case, owner-less payment": [
            f"/hang-doi/{i}" for i in rng.sample(ownerless, min(40, len(ownerless)))
        ],
        "case, dossier case": [
            f"/hang-doi/{i}" for i in rng.sample(dossier_cases, min(40, len(dossier_cases)))
        ],
        "audit, first page": ["/nhat-ky"],
    }
    found: dict[str, list[float]] = {}
    async with AsyncTestClient(app=create_app(settings)) as client:
        await sign_in(client, "ketoan")
        first = await client.get("/hang-doi")
        shown = re.search(r"([\d.]+) vụ việc · trang", first.text)
        if not shown or int(shown.group(1).replace(".", "")) != cases:
            raise SystemExit(
                f"the queue shows {shown.group(1) if shown else None} cases, not {cases}"
            )
        for name, paths in pages.items():
            found[name] = await timed(client.get, paths, repeat)
            p50, p95 = percentile(found[name], 50), percentile(found[name], 95)
            h.log(f"{name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    async with AsyncTestClient(app=create_app(settings)) as client:
        await sign_in(client, "duyet")
        found["queue, pending tab (approver)"] = await timed(
            client.get, ["/hang-doi?tab=cho-duyet"], repeat
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--dossiers", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=60)
    args = parser.parse_args()
    from recon.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="recon-bench-queue-") as tmp:
        work = Path(tmp)
        (work / "recon.toml").write_text(recon_toml(), encoding="utf-8")
        url = h.fresh_sqlite(work / "queue.db")
        started = time.perf_counter()
        sizes = fill(url, args.cases, args.dossiers)
        h.log(f"filled {sizes} in {time.perf_counter() - started:.1f}s")
        settings = load_settings(
            {"RECON_DATABASE_URL": url, "RECON_CONFIG": str(work / "recon.toml")}
        )
        found = asyncio.run(measure(settings, args.repeat, args.cases, random.Random(5)))
    rows: list[tuple[str, ...]] = [("page", "requests", "p50 ms", "p95 ms", "max ms")]
    figures: dict[str, Any] = {
        "bench": "queue",
        "database": "sqlite",
        **sizes,
        "repeat": args.repeat,
    }
    for name, times in found.items():
        p50, p95 = percentile(times, 50), percentile(times, 95)
        rows.append((name, str(len(times)), f"{p50:.1f}", f"{p95:.1f}", f"{max(times):.1f}"))
        key = re.sub(r"[^a-z0-9]+", "_", name).strip("_")
        figures[f"{key}_p50_ms"], figures[f"{key}_p95_ms"] = round(p50, 2), round(p95, 2)
    queue_p95 = max(percentile(t, 95) for n, t in found.items() if n.startswith("queue"))
    case_p95 = max(percentile(t, 95) for n, t in found.items() if n.startswith("case"))
    queue_met, case_met = queue_p95 <= GOAL_QUEUE_MS, case_p95 <= GOAL_CASE_MS
    notes = [
        f"goal: queue p95 <= {GOAL_QUEUE_MS:g} ms: {queue_p95:.1f} ms ({h.verdict(queue_met)})",
        f"goal: case page p95 <= {GOAL_CASE_MS:g} ms: {case_p95:.1f} ms ({h.verdict(case_met)})",
    ]
    figures["goals_met"] = queue_met and case_met
    h.report(
        f"Queue pages on SQLite, {args.cases:,} live cases, {args.dossiers:,} dossiers",
        rows,
        notes,
        figures,
    )


if __name__ == "__main__":
    main()
