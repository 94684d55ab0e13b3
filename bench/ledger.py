"""Ledger benchmark: `build_ledger` over a whole year of a 1,000,000-line SQLite database.

    .venv/bin/python bench/ledger.py [--lines 1000000] [--repeat 5] [--channels 4]
                                     [--closed-days 31] [--what-if] [--profile] [--keep DB]

Builds once, untimed (the time it took is printed), a migrated SQLite database in a temporary
directory: N statement lines over the 365 days of 2025 and C channels (weekdays busy, weekends
and Tết quiet; momo > portal > bank > vnpay). About 91% are successful payments, 6.5% failed,
pending or reversed payments, 2.5% refunds, and one settlement closes each channel-day. 95% of
the successful payments have a `matches` row and a dossier of their own, most successful refunds
a `refund` match to the dossier they refund. Unmatched and anomalous lines have cases, live
(open, reopened) mostly in the last weeks of the year, closed or resolved before that. Runs,
fetches and an accountant are there for the foreign keys. All of it goes in with bare `sqlite3`
executemany in recon's stored formats (times through `UTCDateTime`'s own bind processor, dates
ISO, keys through `recon.matching.normalize`). Then the first `--closed-days` days (default
January) are closed through recon's own `close_day`, which stores their snapshots.

Then, in a freshly spawned interpreter (so neither the generator's memory nor its imports mix
in), for each repeat and each of four variants, what `recon ledger --from 2025-01-01 --to
2025-12-31` does: `open_database`, a session, `build_ledger` for all channels, dispose, and then
nothing (build), or `render_ledger` to json, csv or xlsx. Each run is timed (wall and CPU) and
its peak RSS growth measured. One more, untimed run records the SQL that recon sends and how
long each statement takes through the driver; the main aggregate is then run again with bare
`sqlite3` (the floor), also with its covering index ruled out, and its `EXPLAIN QUERY PLAN` is
printed. The ledger's totals are checked against a bare SQL count that joins `matches`, and each
line's `matched` bit against the `matches` rows.

`--what-if` then times, with bare `sqlite3` on the same database, the aggregate as it was before
migration 0003: whether a line matched taken from a join to `matches` rather than from the
line's own bit (its result checked against recon's). `--profile` prints a cProfile of one build
and the three exports. `--keep DB` builds the database there and keeps it, or reuses it.

Prints medians, the SQL/Python split, the plan and peak RSS as a table, then one JSON line.
The goal (docs/performance.md): the ledger over a year of 1,000,000 lines within 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import itertools
import json
import os
import platform
import pstats
import random
import re
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any

# run as a script from anywhere: make the repository importable
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from bench.rss import PeakRss  # noqa: E402
from recon.days.service import close_day, live_case_ids  # noqa: E402
from recon.db.migrate import upgrade  # noqa: E402
from recon.db.session import open_database, refresh_statistics  # noqa: E402
from recon.db.types import UTCDateTime  # noqa: E402
from recon.ledger.exports import render_ledger  # noqa: E402
from recon.ledger.service import build_ledger  # noqa: E402
from recon.matching.normalize import code_key, ref_key  # noqa: E402
from recon.settings import load_settings  # noqa: E402

GOAL_S = 2.0
SEED = 20251231
YEAR = 2025
FIRST_DAY = date(YEAR, 1, 1)
LAST_DAY = date(YEAR, 12, 31)
ICT = timezone(timedelta(hours=7))
WARD_NAME = "UBND phường Hòa An"
CLOSER = "ketoan"
VARIANTS = ("build", "json", "csv", "xlsx")

# channel name, share of the lines, fee per mille of a successful payment
CHANNELS = (("momo", 35, 11), ("portal", 30, 8), ("bank", 20, 0), ("vnpay", 15, 10))
EXTRA_CHANNEL = (10, 9)  # kenh5, kenh6, ... beyond the four
# (kind, status, probability) of a line that is not the day's settlement
OUTCOMES = (
    ("payment", "success", 0.910),
    ("payment", "failed", 0.045),
    ("payment", "pending", 0.015),
    ("payment", "reversed", 0.005),
    ("refund", "success", 0.020),
    ("refund", "failed", 0.003),
    ("refund", "pending", 0.002),
)
MATCHED_SHARE = 0.95  # of the successful payments
REFUND_MATCHED_SHARE = 0.95  # of the successful refunds of a matched payment
# anomalies among matched payments: (case type, probability)
ANOMALIES = (("UNDERPAID", 0.004), ("OVERPAID", 0.003), ("PAYMENT_ON_CLOSED_DOSSIER", 0.001))
CONTROL_MISMATCH_SHARE = 0.01  # of the channel-days
RECENT_DAYS = 45  # cases of the last weeks are mostly still live
# (procedure code, name, fee per unit, most units)
PROCEDURES = (
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
PROCEDURE_WEIGHTS = (18, 10, 30, 12, 14, 5, 4, 4, 3)
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi")
MIDDLE = ("Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quốc", "Kim", "Thu", "Xuân")
GIVEN = ("An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hùng", "Lan", "Linh", "Mai")

# --- stored formats, from recon's own column types -------------------------------------------

_DIALECT = sqlite_dialect()
_to_text = UTCDateTime().dialect_impl(_DIALECT).bind_processor(_DIALECT)
assert _to_text is not None


def stamp(moment: datetime) -> str:
    """A time as recon stores it on SQLite: fixed-width UTC ISO text."""
    return _to_text(moment)  # type: ignore[misc]


# --- the generated year --------------------------------------------------------------------

LINE_SQL = (
    "INSERT INTO statement_lines (id, channel, channel_txn_id, order_ref, order_ref_key,"
    " dossier_hint, amount, fee, kind, refund_of, status, paid_at, business_day, description,"
    " payer, raw, fetch_id, first_seen_at, updated_at, matched)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
DOSSIER_SQL = (
    "INSERT INTO dossiers (id, dossier_code, code_key, procedure_code, procedure_name, applicant,"
    " fee_amount, state, submitted_at, claimed_paid_channel, claimed_paid_at, claimed_paid_day,"
    " claimed_channel_txn_id, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, ?, ?)"
)
MATCH_SQL = (
    "INSERT INTO matches (line_id, dossier_id, rule, fields, run_id, matched_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
CASE_SQL = (
    "INSERT INTO cases (id, type, status, identity, business_day, channel, dossier_id,"
    " expected_amount, actual_amount, rule, explanation, resolution, linked_dossier_id,"
    " close_reason, opened_run_id, updated_run_id, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)"
)
CASE_LINE_SQL = "INSERT INTO case_lines (case_id, line_id) VALUES (?, ?)"
FETCH_SQL = (
    "INSERT INTO channel_fetches (id, channel, business_day, source, status, started_at,"
    " finished_at, lines, inserted, updated, duplicates, control_count, control_amount,"
    " received_count, received_amount, error, file_name, run_id)"
    " VALUES (?, ?, ?, 'pull', 'succeeded', ?, ?, ?, ?, 0, 0, ?, ?, ?, ?, NULL, NULL, ?)"
)
RUN_SQL = (
    "INSERT INTO runs (id, business_day, channel, status, trigger, started_at, finished_at,"
    " matched, cases_opened, cases_closed, cases_open, result, error)"
    " VALUES (?, ?, NULL, 'succeeded', 'scheduler', ?, ?, 0, 0, 0, 0, '{}', NULL)"
)
USER_SQL = (
    "INSERT INTO users (id, username, role, password_hash, created_at, disabled_at)"
    " VALUES (1, ?, 'accountant', '!', ?, NULL)"
)


def channel_names(count: int) -> list[str]:
    names = [name for name, _, _ in CHANNELS[:count]]
    names += [f"kenh{n}" for n in range(len(CHANNELS) + 1, count + 1)]
    return sorted(names)  # as `Settings.channel_names` lists them


def channel_share(name: str) -> tuple[int, int]:
    for known, share, fee in CHANNELS:
        if known == name:
            return share, fee
    return EXTRA_CHANNEL


def day_weight(day: date) -> float:
    """Weekdays busy, Saturday mornings some, Sundays little, Tết (25/1–2/2/2025) almost none."""
    if date(2025, 1, 25) <= day <= date(2025, 2, 2):
        return 0.1
    return (1.0, 1.0, 1.0, 1.0, 1.0, 0.45, 0.15)[day.weekday()]


def allocate(total: int, weights: list[float]) -> list[int]:
    """`total` split in proportion to `weights`, largest remainders first: sums exactly."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


@dataclass
class Ids:
    line: int = 0
    dossier: int = 0
    case: int = 0
    fetch: int = 0


@dataclass
class DayRows:
    lines: list[tuple[Any, ...]] = field(default_factory=list)
    dossiers: list[tuple[Any, ...]] = field(default_factory=list)
    matches: list[tuple[Any, ...]] = field(default_factory=list)
    cases: list[tuple[Any, ...]] = field(default_factory=list)
    case_lines: list[tuple[Any, ...]] = field(default_factory=list)
    fetches: list[tuple[Any, ...]] = field(default_factory=list)


def case_status(rng: random.Random, day: date) -> tuple[str, str | None, str | None]:
    """(status, resolution, close reason): live mostly in the last weeks of the year."""
    recent = (LAST_DAY - day).days < RECENT_DAYS
    r = rng.random()
    live_open, live_reopened, resolved = (0.80, 0.05, 0.10) if recent else (0.03, 0.01, 0.06)
    if r < live_open:
        return "open", None, None
    if r < live_open + live_reopened:
        return "reopened", None, None
    if r < live_open + live_reopened + resolved:
        return "resolved", rng.choice(("linked", "accepted", "written_off")), None
    return "closed", "accepted", "resolved and no longer found by the run"


class YearGenerator:
    """The lines of each channel-day and what hangs off them, deterministic for a seed."""

    def __init__(self, lines: int, channels: list[str], seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        self.channels = channels
        self.days = [FIRST_DAY + timedelta(days=n) for n in range((LAST_DAY - FIRST_DAY).days + 1)]
        cells = [(d, c) for d in self.days for c in channels]
        weights = [day_weight(d) * channel_share(c)[0] for d, c in cells]
        self.counts = dict(zip(cells, allocate(lines, weights), strict=True))
        self.ids = Ids()
        self.outcome_cum = list(itertools.accumulate(p for _, _, p in OUTCOMES))
        self.procedure_cum = list(itertools.accumulate(PROCEDURE_WEIGHTS))

    def run_id(self, day: date) -> int:
        return (day - FIRST_DAY).days + 1

    def run_rows(self) -> list[tuple[Any, ...]]:
        out = []
        for day in self.days:
            started = datetime(day.year, day.month, day.day, 1, 30, tzinfo=ICT) + timedelta(days=1)
            out.append(
                (self.run_id(day), day.isoformat(), stamp(started), stamp(started + timedelta(60)))
            )
        return out

    def day_rows(self, day: date) -> DayRows:
        rows = DayRows()
        for channel in self.channels:
            count = self.counts[(day, channel)]
            if count:
                self._channel_day(rows, day, channel, count)
        return rows

    def _case(
        self,
        rows: DayRows,
        day: date,
        channel: str,
        kind: str,
        identity: str,
        *,
        dossier_id: int | None,
        expected: int | None,
        actual: int | None,
        rule: str,
        explanation: str,
        when: str,
        line_id: int | None,
    ) -> None:
        self.ids.case += 1
        status, resolution, reason = case_status(self.rng, day)
        run = self.run_id(day)
        rows.cases.append(
            (
                self.ids.case,
                kind,
                status,
                identity,
                day.isoformat(),
                channel,
                dossier_id,
                expected,
                actual,
                rule,
                explanation,
                resolution,
                reason,
                run,
                run,
                when,
                when,
            )
        )
        if line_id is not None:
            rows.case_lines.append((self.ids.case, line_id))

    def _channel_day(self, rows: DayRows, day: date, channel: str, count: int) -> None:
        rng, ids = self.rng, self.ids
        fee_per_mille = channel_share(channel)[1]
        iso, ymd, ddmmyy = day.isoformat(), f"{day:%y%m%d}", f"{day:%d%m%y}"
        local_midnight = datetime(day.year, day.month, day.day, tzinfo=ICT)
        fetched = stamp(local_midnight + timedelta(days=1, hours=1, minutes=30))
        run = self.run_id(day)
        ids.fetch += 1
        fetch_id = ids.fetch
        settle = count >= 10  # the channel's transfer to the ward closes a busy day
        paid: list[tuple[str, int, int | None]] = []  # (txn id, amount, dossier id)
        received_amount = net = 0
        step = 10 * 3600 // count  # office hours 07:00-17:00, local
        for i in range(count):
            ids.line += 1
            line_id = ids.line
            seconds = 7 * 3600 + i * step + rng.randrange(max(step, 1))
            moment = local_midnight + timedelta(seconds=seconds)
            paid_at = stamp(moment)
            txn = f"{channel[:2].upper()}{ymd}{i:07d}"
            order_ref = dossier_hint = refund_of = payer = None
            original: tuple[str, int, int | None] | None = None
            if settle and i == count - 1:
                kind, status, amount, fee = "settlement", "success", max(net, 1), 0
                description = f"TAT TOAN {channel.upper()} NGAY {iso}"
                raw = {"id": txn, "amount": amount, "when": iso, "type": "settlement"}
            else:
                kind, status, _ = OUTCOMES[self._outcome()]
                pcode, pname, unit, units = PROCEDURES[self._procedure()]
                amount = unit * rng.randint(1, units)
                fee = amount * fee_per_mille // 1000 if status == "success" else 0
                dossier_id: int | None = None
                code = f"H17.25-{ddmmyy}-{ids.dossier + 1:06d}"
                if kind == "refund":
                    original = rng.choice(paid) if paid else None
                    refund_of = original[0] if original else f"X{ymd}{i:07d}"
                    if original:
                        amount = original[1]
                    description = f"Hoan tien giao dich {refund_of}"
                else:
                    # whether a rule will resolve the payment to a dossier of its own
                    matched = status == "success" and rng.random() < MATCHED_SHARE
                    if channel != "bank":
                        order_ref = f"{channel[:2].upper()}{ymd}{i:06d}"
                    if matched and channel == "portal":
                        dossier_hint = code
                    # an unmatched payment names no dossier the ward knows
                    description = f"Thanh toan phi ho so {code}" if matched else "Nop phi HS"
                    payer = f"09{i % 10}****{i % 1000:03d}"
                raw = {
                    "transId": txn,
                    "orderId": order_ref,
                    "amount": amount,
                    "fee": fee,
                    "transType": kind,
                    "refundOf": refund_of,
                    "result": status,
                    "responseTime": paid_at,
                    "orderInfo": description,
                    "payerPhone": payer,
                    "payType": "qr",
                    "extraData": "",
                }
                if kind == "payment" and status == "success":
                    received_amount += amount
                    net += amount - fee
                    if matched:
                        ids.dossier += 1
                        dossier_id = ids.dossier
                        self._dossier(rows, dossier_id, code, pcode, pname, amount, moment, day)
                        rule = (
                            "payment_ref" if order_ref and rng.random() < 0.85 else "dossier_code"
                        )
                        rows.matches.append(
                            (
                                line_id,
                                dossier_id,
                                rule,
                                f'{{"{rule}":"{order_ref or code}"}}',
                                run,
                                fetched,
                            )
                        )
                        self._anomaly(
                            rows, day, channel, dossier_id, code, amount, line_id, fetched
                        )
                    else:
                        self._case(
                            rows,
                            day,
                            channel,
                            "UNMATCHED_PAYMENT",
                            f"UNMATCHED_PAYMENT:{channel}:{txn}",
                            dossier_id=None,
                            expected=None,
                            actual=amount,
                            rule="no rule resolved the line to a dossier",
                            explanation=f"Khoản thu {amount:,} đ ({channel} {txn}) không rõ hồ sơ",
                            when=fetched,
                            line_id=line_id,
                        )
                    paid.append((txn, amount, dossier_id))
                elif kind == "refund" and status == "success":
                    net -= amount
                    original_dossier = original[2] if original else None
                    if original_dossier is not None and rng.random() < REFUND_MATCHED_SHARE:
                        rows.matches.append(
                            (
                                line_id,
                                original_dossier,
                                "refund",
                                f'{{"refund_of":"{refund_of}"}}',
                                run,
                                fetched,
                            )
                        )
                    else:
                        self._case(
                            rows,
                            day,
                            channel,
                            "UNMATCHED_REFUND",
                            f"UNMATCHED_REFUND:{channel}:{txn}",
                            dossier_id=original_dossier,
                            expected=None,
                            actual=amount,
                            rule="no payment to net the refund against",
                            explanation=f"Hoàn {amount:,} đ ({channel} {txn}) không khớp",
                            when=fetched,
                            line_id=line_id,
                        )
            rows.lines.append(
                (
                    line_id,
                    channel,
                    txn,
                    order_ref,
                    ref_key(order_ref) if order_ref else None,
                    dossier_hint,
                    amount,
                    fee,
                    kind,
                    refund_of,
                    status,
                    paid_at,
                    iso,
                    description,
                    payer,
                    msgspec.json.encode(raw).decode(),
                    fetch_id,
                    fetched,
                    fetched,
                    # the bit a run sets with the match (recon.runs.persist)
                    bool(rows.matches) and rows.matches[-1][0] == line_id,
                )
            )
        rows.fetches.append(
            (
                fetch_id,
                channel,
                iso,
                fetched,
                fetched,
                count,
                count,
                count,
                received_amount,
                count,
                received_amount,
                run,
            )
        )
        if rng.random() < CONTROL_MISMATCH_SHARE:
            self._case(
                rows,
                day,
                channel,
                "CONTROL_TOTAL_MISMATCH",
                f"CONTROL_TOTAL_MISMATCH:{channel}:{iso}",
                dossier_id=None,
                expected=count + 1,
                actual=count,
                rule="statement disagrees with its own control totals",
                explanation=f"Sao kê {channel} ngày {iso} lệch tổng kiểm soát",
                when=fetched,
                line_id=None,
            )

    def _outcome(self) -> int:
        r = self.rng.random()
        for n, c in enumerate(self.outcome_cum):
            if r < c:
                return n
        return len(OUTCOMES) - 1

    def _anomaly_kind(self) -> str | None:
        r = self.rng.random()
        for kind, p in ANOMALIES:
            if r < p:
                return kind
            r -= p
        return None

    def _procedure(self) -> int:
        r = self.rng.random() * self.procedure_cum[-1]
        for n, c in enumerate(self.procedure_cum):
            if r < c:
                return n
        return len(PROCEDURES) - 1

    def _dossier(
        self,
        rows: DayRows,
        dossier_id: int,
        code: str,
        pcode: str,
        pname: str,
        fee: int,
        paid: datetime,
        day: date,
    ) -> None:
        rng = self.rng
        applicant = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
        submitted = stamp(paid - timedelta(minutes=5 + rng.randrange(120)))
        rows.dossiers.append(
            [
                dossier_id,
                code,
                code_key(code),
                pcode,
                pname,
                applicant,
                fee,
                "completed",
                submitted,
                submitted,
                submitted,
            ]
        )

    def _anomaly(
        self,
        rows: DayRows,
        day: date,
        channel: str,
        dossier_id: int,
        code: str,
        amount: int,
        line_id: int,
        when: str,
    ) -> None:
        kind = self._anomaly_kind()
        if kind is None:
            return
        dossier = rows.dossiers[-1]
        if kind == "UNDERPAID":
            dossier[6] = amount + 5_000
            rule = "0 < net < fee"
        elif kind == "OVERPAID":
            dossier[6] = amount // 2
            rule = "net > fee"
        else:
            dossier[7] = "cancelled"
            rule = "payment on a cancelled or rejected dossier"
        self._case(
            rows,
            day,
            channel,
            kind,
            f"{kind}:d{dossier_id}",
            dossier_id=dossier_id,
            expected=dossier[6],
            actual=amount,
            rule=rule,
            explanation=f"Hồ sơ {code}: phí {dossier[6]:,} đ, đã thu {amount:,} đ",
            when=when,
            line_id=line_id,
        )


def database_url(path: Path) -> str:
    """The URL recon's settings make of `sqlite:///PATH` (the async driver's)."""
    return load_settings({"RECON_DATABASE_URL": f"sqlite:///{path}"}).database_url


def build_database(path: Path, lines: int, channels: list[str]) -> dict[str, int]:
    """A migrated database holding the generated year, inserted with bare sqlite3."""
    asyncio.run(upgrade(database_url(path)))
    year = YearGenerator(lines, channels)
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    try:
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(USER_SQL, (CLOSER, stamp(datetime(YEAR - 1, 12, 1, tzinfo=UTC))))
        conn.executemany(RUN_SQL, year.run_rows())
        conn.execute("COMMIT")
        for day in year.days:  # a transaction a day keeps the WAL small
            rows = year.day_rows(day)
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(FETCH_SQL, rows.fetches)
            conn.executemany(LINE_SQL, rows.lines)
            conn.executemany(DOSSIER_SQL, rows.dossiers)
            conn.executemany(MATCH_SQL, rows.matches)
            conn.executemany(CASE_SQL, rows.cases)
            conn.executemany(CASE_LINE_SQL, rows.case_lines)
            conn.execute("COMMIT")
    finally:
        conn.close()  # the last connection checkpoints the WAL
    return table_counts(path)


def table_counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        counts = {
            name: conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            for name in ("statement_lines", "dossiers", "matches", "cases", "ledger_days")
        }
        counts["live_cases"] = conn.execute(
            "SELECT count(*) FROM cases WHERE status IN ('open', 'reopened')"
        ).fetchone()[0]
        # each line's `matched` bit must say whether a match holds it, as a run keeps it
        counts["bit_disagrees"] = conn.execute(
            "SELECT count(*) FROM statement_lines"
            " WHERE matched <> (id IN (SELECT line_id FROM matches))"
        ).fetchone()[0]
    finally:
        conn.close()
    return counts


async def close_days(url: str, days: list[date], channels: list[str]) -> int:
    """Each day closed through recon's own `close_day`, its live cases named in the note."""
    live_named = 0
    async with open_database(url) as sessionmaker:
        for day in days:
            async with sessionmaker() as session:
                live = await live_case_ids(session, day)
                live_named += len(live)
                note = "Chốt sổ sau đối soát" + "".join(f" #{case_id}" for case_id in live)
                now = datetime(day.year, day.month, day.day, 10, tzinfo=ICT) + timedelta(days=3)
                await close_day(
                    session, day=day, username=CLOSER, note=note, channels=channels, now=now
                )
        # what every recon run and import does after its writes: fresh planner statistics
        async with sessionmaker() as session:
            await refresh_statistics(session)
    return live_named


# --- the timed child -------------------------------------------------------------------------


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _ledger(url: str, channels: list[str]) -> Any:
    """`recon ledger --from … --to …`: open the database, build, dispose."""
    async with open_database(url) as sessionmaker, sessionmaker() as session:
        return await build_ledger(session, FIRST_DAY, LAST_DAY, channels)


def _one_run(url: str, channels: list[str], variant: str, rss: PeakRss) -> dict[str, Any]:
    """One timed run. The CPU of the build is split by thread: this (the main) thread runs
    recon and SQLAlchemy; SQLite runs in the aiosqlite connection's own thread."""
    rss.start()
    cpu, main_thread = _cpu_self(), time.thread_time()
    started = time.perf_counter()
    ledger = asyncio.run(_ledger(url, channels))
    built = time.perf_counter()
    build_cpu, python_cpu = _cpu_self() - cpu, time.thread_time() - main_thread
    size = 0
    if variant != "build":
        size = len(render_ledger(ledger, variant, ward_name=WARD_NAME))
    done = time.perf_counter()
    return {
        "total": done - started,
        "build": built - started,
        "render": done - built,
        "cpu": _cpu_self() - cpu,
        "build_cpu": build_cpu,
        "python_cpu": python_cpu,
        "sqlite_cpu": build_cpu - python_cpu,
        "rss_growth": rss.peak() - rss.baseline,
        "rss_baseline": rss.baseline,
        "bytes": size,
        "ledger": ledger,
    }


def _traced_run(url: str, channels: list[str]) -> list[dict[str, Any]]:
    """One build with every statement recon sends, its parameters and its time in the driver
    (execute plus the fetch, which the aiosqlite adapter does inside `execute`)."""
    statements: list[dict[str, Any]] = []

    def before(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        elapsed = time.perf_counter() - conn.info.pop("bench_started")
        statements.append({"sql": sql, "params": list(params or ()), "s": elapsed})

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    try:
        asyncio.run(_ledger(url, channels))
    finally:
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "after_cursor_execute", after)
    return statements


def _profile(url: str, channels: list[str]) -> str:
    """cProfile of one build and the three exports, top functions by internal time."""
    profiler = cProfile.Profile()
    profiler.enable()
    ledger = asyncio.run(_ledger(url, channels))
    for fmt in ("json", "csv", "xlsx"):
        render_ledger(ledger, fmt, ward_name=WARD_NAME)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    return out.getvalue()


def ledger_child(
    url: str, channels: list[str], repeat: int, profile: bool, variants: tuple[str, ...]
) -> dict[str, Any]:
    """In a freshly spawned interpreter: the timed runs, then one traced run."""
    rss = PeakRss()
    runs: dict[str, list[dict[str, Any]]] = {variant: [] for variant in variants}
    ledger = None
    for _ in range(repeat):
        for variant in variants:
            result = _one_run(url, channels, variant, rss)
            ledger = result.pop("ledger")
            runs[variant].append(result)
    assert ledger is not None
    return {
        "runs": runs,
        "rows": len(ledger.rows),
        "closed_rows": sum(row.closed for row in ledger.rows),
        "totals": msgspec.to_builtins(ledger.totals),
        "statements": _traced_run(url, channels),
        "profile": _profile(url, channels) if profile else "",
    }


def run_child(
    url: str,
    channels: list[str],
    repeat: int,
    *,
    profile: bool = False,
    variants: tuple[str, ...] = VARIANTS,
) -> dict[str, Any]:
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(ledger_child, url, channels, repeat, profile, variants).result()


# --- the floor and the plan ------------------------------------------------------------------


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def floor_times(path: Path, sql: str, params: list[Any], repeat: int) -> dict[str, list[float]]:
    """The statement alone through bare sqlite3 on a fresh connection: execute and fetchall,
    wall and CPU (of this thread, which is the one SQLite runs in here)."""
    times: dict[str, list[float]] = {"wall": [], "cpu": []}
    for _ in range(repeat):
        conn = sqlite3.connect(path)
        try:
            cpu, started = time.thread_time(), time.perf_counter()
            conn.execute(sql, [_plain(p) for p in params]).fetchall()
            times["wall"].append(time.perf_counter() - started)
            times["cpu"].append(time.thread_time() - cpu)
        finally:
            conn.close()
    return times


def floor_text(times: dict[str, list[float]]) -> str:
    return (
        f"{statistics.median(times['wall']):.2f}s, CPU {statistics.median(times['cpu']):.2f}s "
        f"(runs {_runs(times['wall'])})"
    )


def query_plan(path: Path, sql: str, params: list[Any]) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        plan = conn.execute(f"EXPLAIN QUERY PLAN {sql}", [_plain(p) for p in params]).fetchall()
    finally:
        conn.close()
    depth: dict[int, int] = {0: 0}
    out = []
    for node, parent, _, detail in plan:
        depth[node] = depth.get(parent, 0) + 1
        out.append("  " * (depth[node] - 1) + str(detail))
    return out


def not_indexed(sql: str) -> str:
    """The same statement with its covering index ruled out: a table scan."""
    return sql.replace("FROM statement_lines ", "FROM statement_lines NOT INDEXED ", 1)


def expected_totals(path: Path, channels: list[str]) -> dict[str, Any]:
    """The year's totals for all channels, straight from the tables."""
    marks = ", ".join("?" for _ in channels)
    conn = sqlite3.connect(path)
    try:
        pc, pa, rc, ra, fees, mc, ma = conn.execute(
            "SELECT sum(kind = 'payment'), sum(CASE WHEN kind = 'payment' THEN amount END),"
            " sum(kind = 'refund'), sum(CASE WHEN kind = 'refund' THEN amount END), sum(fee),"
            " sum(kind = 'payment' AND m.id IS NOT NULL),"
            " sum(CASE WHEN kind = 'payment' AND m.id IS NOT NULL THEN amount END)"
            " FROM statement_lines l LEFT JOIN matches m ON m.line_id = l.id"
            f" WHERE status = 'success' AND kind IN ('payment', 'refund') AND channel IN ({marks})"
            " AND business_day BETWEEN ? AND ?",
            [*channels, FIRST_DAY.isoformat(), LAST_DAY.isoformat()],
        ).fetchone()
        open_cases = dict(
            conn.execute(
                "SELECT type, count(*) FROM cases WHERE status IN ('open', 'reopened')"
                f" AND channel IN ({marks}) AND business_day BETWEEN ? AND ?"
                " GROUP BY type ORDER BY type",
                [*channels, FIRST_DAY.isoformat(), LAST_DAY.isoformat()],
            ).fetchall()
        )
    finally:
        conn.close()
    figures = {
        "payments_count": pc,
        "payments_amount": pa,
        "refunds_count": rc,
        "refunds_amount": ra,
        "fees": fees,
        "net": pa - ra - fees,
        "matched_count": mc,
        "matched_amount": ma,
        "unmatched_count": pc - mc,
        "unmatched_amount": pa - ma,
    }
    return {**figures, "open_cases": open_cases}


# --- what if: the aggregate as it was before migration 0003, on the same database ---------


def joined(sql: str) -> str:
    """recon's aggregate with whether a line matched taken from a join to `matches` (as before
    migration 0003) instead of the line's own `matched` bit."""
    bit, table = "statement_lines.matched", re.compile(r"FROM statement_lines\s+WHERE")
    if sql.count(bit) != 2 or len(table.findall(sql)) != 1:
        raise SystemExit(f"unexpected shape of recon's aggregate: {sql}")
    join = "FROM statement_lines LEFT OUTER JOIN matches ON matches.line_id = statement_lines.id"
    return table.sub(f"{join} WHERE", sql.replace(bit, "(matches.id IS NOT NULL)"))


def _fetch(path: Path, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return sorted(conn.execute(sql, [_plain(p) for p in params]).fetchall())
    finally:
        conn.close()


def what_if(path: Path, main: dict[str, Any], repeat: int) -> dict[str, Any]:
    """The aggregate with the join to `matches` it had before migration 0003 (bare sqlite3),
    its plan, and a check that it gives what the `matched` bit gives."""
    sql, params = joined(main["sql"]), main["params"]
    if _fetch(path, sql, params) != _fetch(path, main["sql"], params):
        raise SystemExit("the aggregate joined to matches disagrees with the matched bit")
    return {
        "joined": {
            "plan": query_plan(path, sql, params),
            "times": floor_times(path, sql, params, repeat),
        }
    }


# --- driver --------------------------------------------------------------------------------


def mib(n: float) -> float:
    return n / 2**20


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def _runs(times: list[float]) -> str:
    return " ".join(f"{t:.2f}" for t in times)


def prepare(args: argparse.Namespace, path: Path, channels: list[str]) -> dict[str, Any]:
    """The database at `path`: built (untimed, but reported), or reused with `--keep`."""
    closed = [FIRST_DAY + timedelta(days=n) for n in range(max(0, args.closed_days))]
    if path.exists():
        counts = table_counts(path)
        if counts["bit_disagrees"]:
            raise SystemExit(f"{counts['bit_disagrees']} lines' matched bit disagree with matches")
        _log(f"reusing {path} as it is ({counts['ledger_days']} closed days)")
        return {**counts, "closed_days": counts["ledger_days"], "build_s": 0.0, "close_s": 0.0}
    started = time.perf_counter()
    counts = build_database(path, args.lines, channels)
    build_s = time.perf_counter() - started
    if counts["bit_disagrees"]:
        raise SystemExit(f"{counts['bit_disagrees']} lines' matched bit disagree with matches")
    started = time.perf_counter()
    named = asyncio.run(close_days(database_url(path), closed, channels))
    close_s = time.perf_counter() - started
    _log(
        f"built {counts['statement_lines']:,} lines, {counts['dossiers']:,} dossiers, "
        f"{counts['matches']:,} matches, {counts['cases']:,} cases ({counts['live_cases']:,} "
        f"live) in {build_s:.1f}s; closed {len(closed)} days through close_day "
        f"({named} live cases named) in {close_s:.1f}s"
    )
    return {**counts, "closed_days": len(closed), "build_s": build_s, "close_s": close_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument(
        "--closed-days", type=int, default=31, help="days closed from 1 January (default 31)"
    )
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one run")
    parser.add_argument(
        "--what-if",
        action="store_true",
        help="also time the aggregate joined to matches, as before migration 0003",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="build the database at this path and keep it, or reuse it if it exists "
        "(for investigation; default: a temporary directory, removed)",
    )
    args = parser.parse_args()
    repeat, channels = max(1, args.repeat), channel_names(max(1, args.channels))
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="recon-bench-ledger-") as tmp:
        path = args.keep or Path(tmp) / "ledger.db"
        url = database_url(path)
        db = prepare(args, path, channels)
        db_bytes = path.stat().st_size
        load_timed = os.getloadavg()
        child = run_child(url, channels, repeat, profile=args.profile)
        expected = expected_totals(path, channels)
        if child["totals"]["all"] != expected:
            raise SystemExit(f"ledger totals differ: {child['totals']['all']} != {expected}")
        statements = child["statements"]
        main_sql = next(s for s in statements if "FROM statement_lines" in s["sql"])
        plan = query_plan(path, main_sql["sql"], main_sql["params"])
        floor = floor_times(path, main_sql["sql"], main_sql["params"], repeat)
        scan_sql = not_indexed(main_sql["sql"])
        scan = floor_times(path, scan_sql, main_sql["params"], repeat)
        scan_plan = query_plan(path, scan_sql, main_sql["params"])
        whatif = what_if(path, main_sql, repeat) if args.what_if else None
    load_after = os.getloadavg()

    runs = child["runs"]
    build = median_of(runs["build"], "total")
    sql_s = sum(s["s"] for s in statements)
    table = [("", "median", "CPU", "render", "output", "peak RSS +", "runs (s)")]
    for variant in VARIANTS:
        vr = runs[variant]
        table.append(
            (
                "build_ledger" if variant == "build" else f"build + {variant}",
                f"{median_of(vr, 'total'):.2f}s",
                f"{median_of(vr, 'cpu'):.2f}s",
                "" if variant == "build" else f"{median_of(vr, 'render'):.2f}s",
                "" if variant == "build" else f"{vr[0]['bytes'] / 1024:,.0f} KiB",
                f"{mib(max(r['rss_growth'] for r in vr)):.1f} MiB",
                _runs([r["total"] for r in vr]),
            )
        )
    widths = [max(len(row[c]) for row in table) for c in range(len(table[0]))]
    print(
        f"Ledger {FIRST_DAY}..{LAST_DAY}, {len(channels)} channels ({', '.join(channels)}): "
        f"{db['statement_lines']:,} lines ({mib(db_bytes):,.0f} MiB database, built untimed "
        f"in {db['build_s']:.0f}s + {db['close_s']:.0f}s closing {db['closed_days']} days), "
        f"{child['rows']:,} ledger rows ({child['closed_rows']:,} from snapshots), "
        f"median of {repeat}"
    )
    print(
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} CPUs, load average {load_timed[0]:.2f} at the start of the timed "
        f"runs, {load_after[0]:.2f} at the end; peak RSS + is over the process's "
        f"{mib(runs['build'][0]['rss_baseline']):.0f} MiB before the run"
    )
    for row in table:
        print(
            "  ".join(
                cell.ljust(w) if c == 0 else cell.rjust(w)
                for c, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    verdict = "met" if build <= GOAL_S else "MISSED"
    print(f"build_ledger over the year: {build:.2f}s (goal <= {GOAL_S:g}s: {verdict})")
    print("statements of one traced build (time in the driver: execute + fetch):")
    for s in statements:
        print(f"  {s['s']:7.3f}s  {' '.join(s['sql'].split())[:100]}")
    split = runs["build"]
    print(
        f"SQL {sql_s:.2f}s of that build. CPU of the timed builds (median): "
        f"{median_of(split, 'python_cpu'):.2f}s in the main thread (recon, SQLAlchemy), "
        f"{median_of(split, 'sqlite_cpu'):.2f}s in the aiosqlite thread (SQLite)"
    )
    print(f"the main aggregate through bare sqlite3: {floor_text(floor)}")
    print(f"... with its index ruled out (NOT INDEXED): {floor_text(scan)}")
    print("EXPLAIN QUERY PLAN of the main aggregate:")
    print("\n".join(f"  {line}" for line in plan))
    print("... with NOT INDEXED:")
    print("\n".join(f"  {line}" for line in scan_plan))
    if whatif is not None:
        print(
            "what if, the aggregate joined to matches (before migration 0003): "
            f"{floor_text(whatif['joined']['times'])}"
        )
        print("\n".join(f"  {line}" for line in whatif["joined"]["plan"]))
    if child["profile"]:
        print(child["profile"])

    figures: dict[str, Any] = {
        "bench": "ledger",
        "lines": db["statement_lines"],
        "channels": len(channels),
        "days": (LAST_DAY - FIRST_DAY).days + 1,
        "ledger_rows": child["rows"],
        "closed_days": db["closed_days"],
        "dossiers": db["dossiers"],
        "matches": db["matches"],
        "cases": db["cases"],
        "live_cases": db["live_cases"],
        "db_mib": round(mib(db_bytes), 1),
        "build_db_s": round(db["build_s"], 1),
        "close_days_s": round(db["close_s"], 1),
        "repeat": repeat,
        "goal_s": GOAL_S,
        "goal_met": build <= GOAL_S,
    }
    for variant in VARIANTS:
        figures[f"{variant}_s"] = round(median_of(runs[variant], "total"), 3)
        figures[f"{variant}_cpu_s"] = round(median_of(runs[variant], "cpu"), 3)
        if variant != "build":
            figures[f"{variant}_render_s"] = round(median_of(runs[variant], "render"), 3)
    figures.update(
        {
            "traced_sql_s": round(sql_s, 3),
            "traced_statements_s": [round(s["s"], 3) for s in statements],
            "build_python_cpu_s": round(median_of(runs["build"], "python_cpu"), 3),
            "build_sqlite_cpu_s": round(median_of(runs["build"], "sqlite_cpu"), 3),
            "main_aggregate_floor_s": round(statistics.median(floor["wall"]), 3),
            "main_aggregate_floor_cpu_s": round(statistics.median(floor["cpu"]), 3),
            "main_aggregate_not_indexed_s": round(statistics.median(scan["wall"]), 3),
            "main_aggregate_not_indexed_cpu_s": round(statistics.median(scan["cpu"]), 3),
            "main_aggregate_plan": plan,
            "peak_rss_growth_mib": {
                v: round(mib(max(r["rss_growth"] for r in runs[v])), 1) for v in VARIANTS
            },
            "rss_baseline_mib": round(mib(runs["build"][0]["rss_baseline"]), 1),
            "runs_s": {v: [round(r["total"], 3) for r in runs[v]] for v in VARIANTS},
        }
    )
    if whatif is not None:
        figures["what_if"] = {
            f"joined_{kind}_s": round(statistics.median(whatif["joined"]["times"][kind]), 3)
            for kind in ("wall", "cpu")
        }
    figures.update(
        {
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_timed": [round(x, 2) for x in load_timed],
            "loadavg_after": [round(x, 2) for x in load_after],
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "platform": platform.platform(),
        }
    )
    print(json.dumps(figures, ensure_ascii=False))


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
