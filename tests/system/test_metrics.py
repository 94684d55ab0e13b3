"""`/metrics`: the Prometheus text format; the request counter and the run-duration histogram
of this process; and, read from the database at each scrape, per channel the last business day
with a succeeded channel-day and the overdue (and given-up) days of the lookback window, and
the overdue days (DESIGN 6, 8 "Scheduling"). On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from recon.app import create_app
from recon.db.models import LedgerDay, Run, RunLease
from recon.db.session import open_database
from recon.errors import Conflict
from recon.runs.service import RunBroke, reconcile_day
from recon.settings import Settings, load_settings

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
    assert kinds["recon_run_duration_seconds"] == "histogram"
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
    assert "recon_overdue_days" not in kinds


# --- what this process counts ---------------------------------------------------------------


def requests_grew(before: Samples, after: Samples, method: str, status: str) -> float:
    name = "recon_http_requests_total"
    return (value(after, name, method=method, status=status) or 0) - (
        value(before, name, method=method, status=status) or 0
    )


async def test_the_request_counter_counts_by_method_and_status(
    client: AsyncTestClient[Any],
) -> None:
    before = await scrape(client)
    for _ in range(3):
        assert (await client.get("/healthz")).status_code == 200
    assert (await client.head("/healthz")).status_code == 200
    assert (await client.get("/api/v1/runs")).status_code == 401
    assert (
        await client.get("/api/v1/runs", headers={"Authorization": "Bearer x"})
    ).status_code == 401
    after = await scrape(client)
    assert requests_grew(before, after, "GET", "200") == 4  # three probes and the first scrape
    assert requests_grew(before, after, "HEAD", "200") == 1
    assert requests_grew(before, after, "GET", "401") == 2
    assert requests_grew(before, after, "GET", "404") == 0


async def test_requests_that_match_no_route_are_counted_too(
    client: AsyncTestClient[Any],
) -> None:
    before = await scrape(client)
    missing = await client.get("/nowhere")
    assert missing.status_code == 404
    assert (await client.delete("/healthz")).status_code == 405
    after = await scrape(client)
    assert "x-request-id" in missing.headers
    assert requests_grew(before, after, "GET", "404") == 1
    assert requests_grew(before, after, "DELETE", "405") == 1


def _run_counts(samples: Samples) -> dict[tuple[str, str], float]:
    return {
        (dict(labels)["status"], dict(labels)["trigger"]): v
        for (name, labels), v in samples.items()
        if name == "recon_run_duration_seconds_count"
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
