"""`/metrics`: the Prometheus text format, parsed with prometheus-client's own parser. This
process's counters: requests by route template and status with their latency histogram, runs by
status and trigger (and their duration), statement lines stored by channel, source and outcome.
Read at each scrape: the database pool's gauges; from the database, live cases by type and, per
channel, the last business day with a succeeded channel-day and the overdue (and given-up) days
of the lookback window, and the overdue days (DESIGN 6, 8 "Scheduling"). On SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.pool import StaticPool

from adapters.base import RetryPolicy
from recon.app import create_app
from recon.db.models import LedgerDay, Run, RunLease
from recon.db.session import create_engine, open_database
from recon.errors import Conflict
from recon.runs.service import RunBroke, reconcile_day
from recon.settings import Settings, load_settings
from recon.statements.imports import import_statement_bytes
from recon.statements.pull import pull_channel_day
from recon.system.metrics import PoolGauges, render
from recon.vocab import CASE_TYPES
from tests.adapters.conftest import MOMO_ACCESS_KEY, MOMO_BASE_URL, MOMO_SECRET_KEY
from tests.adapters.test_momo import STATEMENT, _day_pages, momo_server
from tests.conftest import CliResult
from tests.helpers import make_key

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

# two file-fed channels: a run reconciles each one it covers, whatever is pulled
WINDOW_TOML = """
ward_name = "UBND phường Đo Đếm"
[schedule]
nightly_at = "01:30"
lookback_days = 4
[channels.vnpay]
adapter = "file"
[channels.zalopay]
adapter = "file"
"""
# 10:00 on 28 November in Hà Nội: the last due day is the 27th, the window 24th..27th
NOW = datetime(2025, 11, 28, 3, 0, tzinfo=UTC)


def day(n: int) -> date:
    return date(2025, 11, n)


def midnight_utc(d: date) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()


def parse(text: str) -> Samples:
    """Every sample of the exposition, by name and labels; the text must parse."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in found, f"{key} twice"
            found[key] = sample.value
    return found


def families(text: str) -> dict[str, str]:
    """Each metric family's name and type."""
    return {f.name: f.type for f in text_string_to_metric_families(text)}


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def per_channel(samples: Samples, name: str) -> dict[str, float]:
    return {dict(labels)["channel"]: v for (sample, labels), v in samples.items() if sample == name}


async def scrape(client: AsyncTestClient[Any]) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return parse(response.text)


@pytest.fixture
def window_settings(database_url: str, tmp_path: Path) -> Settings:
    config = tmp_path / "window.toml"
    config.write_text(WINDOW_TOML, encoding="utf-8")
    return load_settings({"RECON_DATABASE_URL": database_url, "RECON_CONFIG": str(config)})


@pytest.fixture
async def db(window_settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with open_database(window_settings.database_url) as sessionmaker:
        yield sessionmaker


def app_at(settings: Settings, now: datetime) -> AsyncTestClient[Any]:
    return AsyncTestClient(app=create_app(settings, clock=lambda: now))


async def run_day(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    d: date,
    channel: str | None = None,
    trigger: Any = "manual",
) -> str:
    result = await reconcile_day(
        sessionmaker=sessionmaker,
        settings=settings,
        day=d,
        channel=channel,
        pull=False,
        trigger=trigger,
    )
    return result.status


async def add_run(sessionmaker: async_sessionmaker[AsyncSession], d: date, status: str) -> None:
    """A run that did not succeed, as a broken night left it."""
    async with sessionmaker() as session:
        await session.execute(
            insert(Run).values(
                business_day=d,
                channel=None,
                status=status,
                trigger="nightly",
                started_at=NOW - timedelta(days=30),
                finished_at=NOW - timedelta(days=30),
                error="ChannelUnavailable: gone",
            )
        )
        await session.commit()


async def close(sessionmaker: async_sessionmaker[AsyncSession], d: date) -> None:
    async with sessionmaker() as session:
        await session.execute(
            insert(LedgerDay).values(business_day=d, status="closed", note="chốt sổ")
        )
        await session.commit()


# --- the format -----------------------------------------------------------------------------


async def test_metrics_are_the_prometheus_text_format(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    media_type, *params = [p.strip() for p in response.headers["content-type"].split(";")]
    assert media_type == "text/plain"
    assert "version=0.0.4" in params
    assert "charset=utf-8" in params
    kinds = families(response.text)
    assert kinds["recon_http_requests"] == "counter"
    assert kinds["recon_http_request_duration_seconds"] == "histogram"
    assert kinds["recon_runs"] == "counter"
    assert kinds["recon_run_duration_seconds"] == "histogram"
    assert kinds["recon_statement_lines"] == "counter"
    assert kinds["recon_live_cases"] == "gauge"
    assert kinds["recon_db_pool_checked_out"] == "gauge"
    assert kinds["recon_overdue_days"] == "gauge"
    assert kinds["recon_channel_overdue_days"] == "gauge"
    assert kinds["recon_channel_given_up_days"] == "gauge"
    assert kinds["recon_channel_last_succeeded_day_timestamp_seconds"] == "gauge"


async def test_metrics_need_no_key(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/metrics", headers={"Authorization": "Bearer not-a-key"})
    assert response.status_code == 200


async def test_head_answers_like_get_without_a_body(client: AsyncTestClient[Any]) -> None:
    got = await client.get("/metrics")
    head = await client.head("/metrics")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert int(head.headers["content-length"]) > 0


async def test_a_database_that_does_not_answer_leaves_out_only_the_gauges(
    tmp_path: Path,
) -> None:
    settings = load_settings({"RECON_DATABASE_URL": f"sqlite:///{tmp_path / 'unmigrated.db'}"})
    async with AsyncTestClient(app=create_app(settings)) as api:
        response = await api.get("/metrics")
    assert response.status_code == 200
    kinds = families(response.text)
    assert "recon_http_requests" in kinds
    assert "recon_db_pool_checked_out" in kinds  # the pool is this process's, not the database's
    assert "recon_overdue_days" not in kinds
    assert "recon_live_cases" not in kinds


# --- what this process counts ---------------------------------------------------------------


PAYMENT_ROUTE = "/api/v1/payments/{dossier_code}"


def grew(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)


def requests_grew(before: Samples, after: Samples, method: str, route: str, status: str) -> float:
    return grew(
        before, after, "recon_http_requests_total", method=method, route=route, status=status
    )


def timed_grew(before: Samples, after: Samples, method: str, route: str) -> float:
    name = "recon_http_request_duration_seconds_count"
    return grew(before, after, name, method=method, route=route)


def label_values(samples: Samples, label: str) -> set[str]:
    return {v for _, labels in samples for k, v in labels if k == label}


async def test_requests_are_counted_by_route_template_and_status(
    settings: Settings, client: AsyncTestClient[Any]
) -> None:
    key = await make_key(settings, "payments:read")
    before = await scrape(client)
    for _ in range(3):
        assert (await client.get("/healthz")).status_code == 200
    assert (await client.head("/healthz")).status_code == 200
    assert (await client.get("/api/v1/payments/H17-NO-KEY")).status_code == 401
    unknown = await client.get(
        "/api/v1/payments/H17-UNKNOWN", headers={"Authorization": f"Bearer {key}"}
    )
    assert unknown.status_code == 404  # the route matched; the dossier is not there
    after = await scrape(client)
    assert requests_grew(before, after, "GET", "/healthz", "200") == 3
    assert requests_grew(before, after, "HEAD", "/healthz", "200") == 1
    assert requests_grew(before, after, "GET", "/metrics", "200") == 1  # the first scrape
    assert requests_grew(before, after, "GET", PAYMENT_ROUTE, "401") == 1
    assert requests_grew(before, after, "GET", PAYMENT_ROUTE, "404") == 1
    assert requests_grew(before, after, "GET", "unmatched", "404") == 0
    # the histogram is by method and route: every request timed once
    assert timed_grew(before, after, "GET", PAYMENT_ROUTE) == 2
    assert timed_grew(before, after, "GET", "/healthz") == 3
    assert timed_grew(before, after, "HEAD", "/healthz") == 1
    routes = label_values(after, "route")
    assert PAYMENT_ROUTE in routes
    assert not any("H17" in route for route in routes)  # never the raw path


async def test_requests_that_match_no_route_are_counted_as_unmatched(
    client: AsyncTestClient[Any],
) -> None:
    before = await scrape(client)
    missing = await client.get("/nowhere/H17-0042")
    assert missing.status_code == 404
    assert (await client.delete("/healthz")).status_code == 405
    assert (await client.request("BREW", "/healthz")).status_code == 405
    after = await scrape(client)
    assert "x-request-id" in missing.headers
    assert requests_grew(before, after, "GET", "unmatched", "404") == 1
    assert requests_grew(before, after, "DELETE", "unmatched", "405") == 1
    # a method a client makes up is no label value of its own
    assert requests_grew(before, after, "OTHER", "unmatched", "405") == 1
    assert "BREW" not in label_values(after, "method")
    assert not any("nowhere" in route for route in label_values(after, "route"))


async def test_the_latency_histogram_has_buckets_from_1ms_to_10s(
    client: AsyncTestClient[Any],
) -> None:
    assert (await client.get("/healthz")).status_code == 200
    samples = await scrape(client)
    labels = {"method": "GET", "route": "/healthz"}
    name = "recon_http_request_duration_seconds"
    bounds = {
        dict(ls)["le"]
        for (sample, ls), _ in samples.items()
        if sample == f"{name}_bucket"
        and dict(ls)["route"] == "/healthz"
        and dict(ls)["method"] == "GET"
    }
    assert {"0.001", "0.01", "0.1", "1.0", "10.0", "+Inf"} <= bounds
    count = value(samples, f"{name}_count", **labels)
    assert count is not None
    assert count >= 1
    assert value(samples, f"{name}_bucket", **labels, le="+Inf") == count
    total = value(samples, f"{name}_sum", **labels)
    assert total is not None
    assert 0 < total < 10 * count


def _run_counts(
    samples: Samples, metric: str = "recon_run_duration_seconds_count"
) -> dict[tuple[str, str], float]:
    return {
        (dict(labels)["status"], dict(labels)["trigger"]): v
        for (name, labels), v in samples.items()
        if name == metric
    }


async def test_a_run_made_in_this_process_is_observed_by_status_and_trigger(
    window_settings: Settings, db: async_sessionmaker[AsyncSession]
) -> None:
    async with app_at(window_settings, NOW) as api:
        before = _run_counts(await scrape(api))
        assert await run_day(db, window_settings, day(25), trigger="retry") == "succeeded"
        assert await run_day(db, window_settings, day(26), trigger="retry") == "succeeded"
        assert await run_day(db, window_settings, day(27), trigger="catch_up") == "succeeded"
        samples = await scrape(api)
    after = _run_counts(samples)
    grown = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
    assert grown == {("succeeded", "retry"): 2, ("succeeded", "catch_up"): 1}
    assert _run_counts(samples, "recon_runs_total") == after  # the counter, run for run
    # a histogram: buckets up to +Inf that hold every run, and a sum of their seconds
    labels = {"status": "succeeded", "trigger": "retry"}
    inf = value(samples, "recon_run_duration_seconds_bucket", **labels, le="+Inf")
    assert inf == after[("succeeded", "retry")]
    assert (value(samples, "recon_run_duration_seconds_sum", **labels) or -1) >= 0


async def test_a_refused_run_is_not_observed_and_a_broken_one_is(
    window_settings: Settings,
    db: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import recon.runs.service as service

    async with app_at(window_settings, NOW) as api:
        before = _run_counts(await scrape(api))
        await close(db, day(25))
        with pytest.raises(Conflict):
            await run_day(db, window_settings, day(25), trigger="nightly")
        async with db() as session:  # a held lease refuses too
            now = datetime.now(UTC)
            await session.execute(
                insert(RunLease).values(
                    business_day=day(26),
                    holder="x:1",
                    acquired_at=now,
                    expires_at=now + timedelta(minutes=5),
                )
            )
            await session.commit()
        with pytest.raises(Conflict):
            await run_day(db, window_settings, day(26), trigger="nightly")
        assert _run_counts(await scrape(api)) == before

        def broken(_: object) -> None:
            raise RuntimeError("engine exploded")

        monkeypatch.setattr(service, "run_engine", broken)
        with pytest.raises(RunBroke, match="engine exploded"):
            await run_day(db, window_settings, day(27), trigger="nightly")
        after = _run_counts(await scrape(api))
    grown = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
    assert grown == {("failed", "nightly"): 1}


# --- statement lines, live cases, the pool ----------------------------------------------------

HEADER = "channel_txn_id,order_ref,amount,fee,kind,status,paid_at,description,payer"
INSTANT = RetryPolicy(sleep=lambda _: _noop(), rand=lambda: 0.5)


async def _noop() -> None:
    return None


def statement_row(n: int, kind: str = "payment") -> str:
    return f"VN{n:03d},NOPE{n:03d},15.000,0,{kind},success,2025-11-24T10:00:00+07:00,x,0901234567"


async def import_rows(settings: Settings, *rows: str) -> None:
    data = ("\n".join([HEADER, *rows]) + "\n").encode()
    async with open_database(settings.database_url) as sessionmaker:
        await import_statement_bytes(
            sessionmaker=sessionmaker,
            settings=settings,
            channel="vnpay",
            name="vnpay.csv",
            data=data,
        )


def lines_grew(before: Samples, after: Samples, channel: str, source: str) -> dict[str, float]:
    return {
        outcome: grew(
            before,
            after,
            "recon_statement_lines_total",
            channel=channel,
            source=source,
            outcome=outcome,
        )
        for outcome in ("inserted", "updated", "duplicate")
    }


async def test_an_import_and_a_run_move_the_lines_and_runs_counters(
    settings: Settings, client: AsyncTestClient[Any]
) -> None:
    before = await scrape(client)
    await import_rows(settings, *(statement_row(n) for n in range(1, 4)))
    # the same three again and one new: one inserted, three duplicates
    await import_rows(settings, *(statement_row(n) for n in range(1, 5)))
    async with open_database(settings.database_url) as sessionmaker:
        status = await run_day(sessionmaker, settings, day(24), trigger="manual")
    after = await scrape(client)
    assert lines_grew(before, after, "vnpay", "import") == {
        "inserted": 4,
        "updated": 0,
        "duplicate": 3,
    }
    runs = {
        k: v - _run_counts(before, "recon_runs_total").get(k, 0)
        for k, v in _run_counts(after, "recon_runs_total").items()
    }
    assert {k: v for k, v in runs.items() if v} == {(status, "manual"): 1}


async def test_a_refused_import_counts_no_line(
    settings: Settings, client: AsyncTestClient[Any]
) -> None:
    before = await scrape(client)
    await import_rows(settings, statement_row(1), "VN002,NOPE002,not money,0,payment,success,x,x,x")
    after = await scrape(client)
    assert lines_grew(before, after, "vnpay", "import") == {
        "inserted": 0,
        "updated": 0,
        "duplicate": 0,
    }


@pytest.fixture
def momo_settings(database_url: str, tmp_path: Path) -> Settings:
    config = tmp_path / "momo.toml"
    config.write_text(
        f"""
[channels.momo]
adapter = "momo"
base_url = "{MOMO_BASE_URL}"
partner_code = "MOMOXYZ"
access_key_env = "K"
secret_key_env = "S"
""",
        encoding="utf-8",
    )
    return load_settings(
        {
            "RECON_DATABASE_URL": database_url,
            "RECON_CONFIG": str(config),
            "K": MOMO_ACCESS_KEY,
            "S": MOMO_SECRET_KEY,
        }
    )


@pytest.mark.respx(base_url=MOMO_BASE_URL)
async def test_a_pull_counts_its_lines_under_its_channel(
    respx_mock: respx.MockRouter, momo_settings: Settings
) -> None:
    respx_mock.post(STATEMENT).mock(side_effect=momo_server(_day_pages()))
    async with (
        AsyncTestClient(app=create_app(momo_settings)) as api,
        open_database(momo_settings.database_url) as sessionmaker,
        httpx.AsyncClient() as http,
    ):
        before = await scrape(api)
        outcomes = [
            await pull_channel_day(
                sessionmaker=sessionmaker,
                settings=momo_settings,
                channel="momo",
                day=date(2024, 11, 25),
                client=http,
                retry_policy=INSTANT,
            )
            for _ in range(2)
        ]
        after = await scrape(api)
    first, second = outcomes
    assert first.inserted == first.lines > 0
    assert lines_grew(before, after, "momo", "pull") == {
        "inserted": first.lines,
        "updated": 0,
        "duplicate": second.lines,
    }


def test_live_cases_by_type_match_cases_list(
    settings: Settings, run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    statement = tmp_path / "vnpay.csv"
    rows = [*(statement_row(n) for n in range(1, 4)), statement_row(4, kind="refund")]
    statement.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    assert run_cli("statements", "import", "--channel", "vnpay", str(statement)).code == 0
    assert run_cli("reconcile", "--date", "2025-11-24", "--no-pull").code == 0
    listed = run_cli("cases", "list", "--json")
    assert listed.code == 0, listed
    expected = Counter(case["type"] for case in json.loads(listed.out))

    async def read() -> Samples:
        async with AsyncTestClient(app=create_app(settings)) as api:
            return await scrape(api)

    live = {
        dict(labels)["type"]: v
        for (name, labels), v in asyncio.run(read()).items()
        if name == "recon_live_cases"
    }
    assert sum(expected.values()) >= 4
    assert set(live) == set(CASE_TYPES)  # every type, so an alert sees its 0
    assert {t: n for t, n in live.items() if n} == dict(expected)


async def test_the_pool_gauges_are_scraped_with_sane_values(
    client: AsyncTestClient[Any],
) -> None:
    samples = await scrape(client)
    assert value(samples, "recon_db_pool_size") == 5  # SQLAlchemy's queue pool on both
    assert value(samples, "recon_db_pool_max_overflow") == 10
    assert value(samples, "recon_db_pool_overflow") == 0
    assert value(samples, "recon_db_pool_checked_out") == 0  # the scrape's session gave it back
    assert (value(samples, "recon_db_pool_idle") or 0) >= 1


async def test_the_pool_gauges_count_the_connections_in_use(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect(), engine.connect():
            held = parse(render(PoolGauges(engine.sync_engine.pool)).decode())
        given_back = parse(render(PoolGauges(engine.sync_engine.pool)).decode())
    finally:
        await engine.dispose()
    assert value(held, "recon_db_pool_checked_out") == 2
    assert value(held, "recon_db_pool_idle") == 0
    assert value(given_back, "recon_db_pool_checked_out") == 0
    assert value(given_back, "recon_db_pool_idle") == 2


def test_a_pool_other_than_a_queue_reports_nothing() -> None:
    """SQLite in memory gets a static pool: one connection, nothing to watch."""
    samples = parse(render(PoolGauges(StaticPool(lambda: sqlite3.connect(":memory:")))).decode())
    assert not any(name.startswith("recon_db_pool") for name, _ in samples)


# --- the schedule's gauges, read from the database --------------------------------------------


async def night_history(db: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """The 20th failed and has left the window (given up); in the window 24th..27th: the 24th
    failed, the 25th succeeded (both channels reconciled), the 26th is closed without a run,
    the 27th nobody tried."""
    await add_run(db, day(20), "failed")
    await add_run(db, day(24), "failed")
    assert await run_day(db, settings, day(25)) == "succeeded"
    await close(db, day(26))


async def test_the_gauges_read_the_window_from_the_database(
    window_settings: Settings, db: async_sessionmaker[AsyncSession]
) -> None:
    await night_history(db, window_settings)
    async with app_at(window_settings, NOW) as api:
        samples = await scrape(api)
    last = per_channel(samples, "recon_channel_last_succeeded_day_timestamp_seconds")
    assert last == {"vnpay": midnight_utc(day(25)), "zalopay": midnight_utc(day(25))}
    # the 24th and the 27th; not the closed 26th, not the succeeded 25th
    assert per_channel(samples, "recon_channel_overdue_days") == {"vnpay": 2, "zalopay": 2}
    assert value(samples, "recon_overdue_days") == 2
    assert per_channel(samples, "recon_channel_given_up_days") == {"vnpay": 1, "zalopay": 1}


async def test_a_closed_day_is_not_overdue(
    window_settings: Settings, db: async_sessionmaker[AsyncSession]
) -> None:
    async with app_at(window_settings, NOW) as api:
        empty = await scrape(api)
        await close(db, day(24))
        await close(db, day(27))
        closed = await scrape(api)
    assert value(empty, "recon_overdue_days") == 4  # nothing ran: the whole window
    assert per_channel(empty, "recon_channel_overdue_days") == {"vnpay": 4, "zalopay": 4}
    assert per_channel(empty, "recon_channel_last_succeeded_day_timestamp_seconds") == {}
    assert per_channel(empty, "recon_channel_given_up_days") == {"vnpay": 0, "zalopay": 0}
    assert value(closed, "recon_overdue_days") == 2
    assert per_channel(closed, "recon_channel_overdue_days") == {"vnpay": 2, "zalopay": 2}


async def test_a_closed_day_before_the_window_is_not_given_up(
    window_settings: Settings, db: async_sessionmaker[AsyncSession]
) -> None:
    await add_run(db, day(19), "partial")
    await add_run(db, day(20), "failed")
    await close(db, day(20))
    async with app_at(window_settings, NOW) as api:
        samples = await scrape(api)
    assert per_channel(samples, "recon_channel_given_up_days") == {"vnpay": 1, "zalopay": 1}


@pytest.mark.parametrize(
    ("now", "overdue", "given_up"),
    [
        # 01:29 on the 29th in Hà Nội: the night of the 28th is not due yet; window 24th..27th
        (datetime(2025, 11, 28, 18, 29, tzinfo=UTC), 2, 1),
        # 01:31: the 28th is due; the window moves to 25th..28th and the failed 24th leaves it
        (datetime(2025, 11, 28, 18, 31, tzinfo=UTC), 2, 2),
        # a day later, 02:00 on the 30th: window 26th..29th; the 26th closed, 27..29 overdue
        (datetime(2025, 11, 29, 19, 0, tzinfo=UTC), 3, 2),
    ],
    ids=["before nightly_at", "after nightly_at", "next day"],
)
async def test_the_window_follows_the_clock(
    window_settings: Settings,
    db: async_sessionmaker[AsyncSession],
    now: datetime,
    overdue: int,
    given_up: int,
) -> None:
    await night_history(db, window_settings)
    async with app_at(window_settings, now) as api:
        samples = await scrape(api)
    assert value(samples, "recon_overdue_days") == overdue
    assert per_channel(samples, "recon_channel_overdue_days") == {
        "vnpay": overdue,
        "zalopay": overdue,
    }
    assert per_channel(samples, "recon_channel_given_up_days") == {
        "vnpay": given_up,
        "zalopay": given_up,
    }


async def test_each_channel_has_its_own_last_day_and_overdue_days(
    window_settings: Settings, db: async_sessionmaker[AsyncSession]
) -> None:
    """A run of one channel reconciles that channel's day only."""
    await night_history(db, window_settings)
    assert await run_day(db, window_settings, day(27), channel="vnpay") == "succeeded"
    assert await run_day(db, window_settings, day(22), channel="zalopay") == "succeeded"
    async with app_at(window_settings, NOW) as api:
        samples = await scrape(api)
    last = per_channel(samples, "recon_channel_last_succeeded_day_timestamp_seconds")
    assert last == {"vnpay": midnight_utc(day(27)), "zalopay": midnight_utc(day(25))}
    assert per_channel(samples, "recon_channel_overdue_days") == {"vnpay": 1, "zalopay": 2}


async def test_a_day_run_for_one_channel_only_is_still_overdue(
    window_settings: Settings, db: async_sessionmaker[AsyncSession]
) -> None:
    await night_history(db, window_settings)
    assert await run_day(db, window_settings, day(27), channel="vnpay") == "succeeded"
    async with app_at(window_settings, NOW) as api:
        samples = await scrape(api)
    # zalopay was never reconciled for the 27th: the day has no succeeded run of every channel
    assert per_channel(samples, "recon_channel_overdue_days")["zalopay"] == 2
    assert value(samples, "recon_overdue_days") == 2


async def test_the_gauges_are_read_at_each_scrape(
    window_settings: Settings, db: async_sessionmaker[AsyncSession]
) -> None:
    async with app_at(window_settings, NOW) as api:
        first = await scrape(api)
        assert await run_day(db, window_settings, day(26)) == "succeeded"
        second = await scrape(api)
    assert value(first, "recon_overdue_days") == 4
    assert value(second, "recon_overdue_days") == 3
    assert per_channel(second, "recon_channel_last_succeeded_day_timestamp_seconds") == {
        "vnpay": midnight_utc(day(26)),
        "zalopay": midnight_utc(day(26)),
    }


def test_the_gauges_answer_the_same_in_another_process_sharing_the_database(
    window_settings: Settings,
) -> None:
    """Runs made by another process (the CLI, here a fresh app) show in every replica."""

    async def make() -> None:
        async with open_database(window_settings.database_url) as sessionmaker:
            await night_history(sessionmaker, window_settings)

    async def read() -> Samples:
        async with app_at(window_settings, NOW) as api:
            return await scrape(api)

    asyncio.run(make())
    first, second = asyncio.run(read()), asyncio.run(read())
    for name in ("recon_overdue_days", "recon_channel_overdue_days"):
        assert {k: v for k, v in first.items() if k[0] == name} == {
            k: v for k, v in second.items() if k[0] == name
        }
    assert value(first, "recon_overdue_days") == 2
