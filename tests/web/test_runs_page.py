"""The runs page `/lan-chay`: each day of the lookback window per channel, the given-up days
below with their backfill command, a summary above; signed-in users only, as the ledger page. On SQLite
and PostgreSQL, with the app's clock fixed so the window is 20/11/2025–26/11/2025."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import AsyncTestClient

from recon.app import create_app
from recon.db.models import ChannelDay, LedgerDay, Run
from recon.db.session import open_database
from recon.runs.schemas import RunView
from recon.runs.service import reconcile_day
from recon.schedule.status import ChannelState, DayState
from recon.settings import Settings
from recon.web.format import ngay_gio
from recon.web.runs import backfills, day_row
from tests.web.signin import sign_in

PASSWORD = "mật khẩu rất dài"
PAGE = "/lan-chay"
# 10:00 on 27/11/2025 in Hà Nội: past nightly_at (01:30), so the last due day is 26/11
NOW = datetime(2025, 11, 27, 3, 0, tzinfo=UTC)
CHANNELS = ("bank", "momo", "portal", "vnpay")
MOMO_ERROR = "momo: HTTP 503 sau 4 lần thử (máy chủ kênh không phản hồi)"
DOWN = "không kết nối được (Connection refused)"


def day(n: int) -> date:
    return date(2025, 11, n)


def utc(n: int, hour: int, minute: int = 0) -> datetime:
    """A moment given in Hà Nội time, stored as UTC as the runs store it."""
    return datetime(2025, 11, n, hour, minute, tzinfo=UTC) - timedelta(hours=7)


def parts(status: str = "succeeded", error: str | None = None) -> dict[str, Any]:
    return {"status": status, "lines": 0, "inserted": 0, "duplicates": 0, "error": error}


def run_row(
    business_day: date,
    status: str,
    trigger: str,
    started: datetime,
    channels: dict[str, dict[str, Any]] | None = None,
    error: str | None = None,
) -> Run:
    finished = None if status == "running" else started + timedelta(minutes=1, seconds=40)
    return Run(
        business_day=business_day,
        channel=None,
        status=status,
        trigger=trigger,
        started_at=started,
        finished_at=finished,
        result=json.dumps({"channels": channels or {}}),
        error=error,
    )


def reconciled(business_day: date, *names: str) -> list[ChannelDay]:
    at = datetime.combine(business_day + timedelta(days=1), datetime.min.time(), UTC)
    return [
        ChannelDay(
            channel=name, business_day=business_day, fetch_status="succeeded", reconciled_at=at
        )
        for name in names
    ]


async def fill_nights(settings: Settings) -> None:
    """The window's days, newest first: 26 succeeded (nightly); 25 a failed catch-up then a
    partial retry, MoMo failing; 24 never run; 23 closed, never run; 22 a real manual run
    without pulls; 21 abandoned; 20 running. Before the window: 10 and 11 failed (every
    channel down), 12 succeeded, 15 partial (given up) and 05 failed but closed (not given
    up). A channel that succeeded in a run is reconciled, as a run marks it."""
    all_ok = {name: parts() for name in CHANNELS}
    momo_failed = {**all_ok, "momo": parts("failed", MOMO_ERROR)}
    all_failed = {name: parts("failed", f"{name}: {DOWN}") for name in CHANNELS}
    async with open_database(settings.database_url) as sessionmaker:
        async with sessionmaker() as session:
            session.add_all(
                [
                    run_row(day(5), "failed", "catch_up", utc(6, 1, 30), momo_failed),
                    run_row(day(10), "failed", "catch_up", utc(11, 1, 30), all_failed),
                    run_row(day(11), "failed", "nightly", utc(12, 1, 30), all_failed),
                    run_row(day(12), "succeeded", "nightly", utc(13, 1, 30), all_ok),
                    run_row(day(15), "partial", "retry", utc(16, 9, 5), momo_failed),
                    run_row(day(20), "running", "catch_up", utc(27, 9, 58)),
                ]
            )
            await session.flush()
            session.add_all(reconciled(day(12), *CHANNELS))
            session.add_all(reconciled(day(15), "bank", "portal", "vnpay"))
            session.add(LedgerDay(business_day=day(5), status="closed", note="đã chốt"))
            session.add(LedgerDay(business_day=day(23), status="closed", note="đã chốt"))
            await session.commit()
        await reconcile_day(
            sessionmaker=sessionmaker,
            settings=settings,
            day=day(22),
            pull=False,
            clock=lambda: utc(23, 8, 15),
        )
        async with sessionmaker() as session:
            session.add_all(
                [
                    run_row(
                        day(21), "abandoned", "catch_up", utc(22, 1, 30), error="stopped early"
                    ),
                    run_row(day(25), "failed", "catch_up", utc(26, 1, 30), error="Timeout"),
                    run_row(day(25), "partial", "retry", utc(26, 2, 0), momo_failed),
                    run_row(day(26), "succeeded", "nightly", utc(27, 1, 30), all_ok),
                ]
            )
            session.add_all(reconciled(day(25), "bank", "portal", "vnpay"))
            session.add_all(reconciled(day(26), *CHANNELS))
            await session.commit()


@pytest.fixture
def viewer(run_cli: Callable[..., Any]) -> tuple[str, str]:
    args = ("users", "create", "--username", "ketoan", "--role", "viewer")
    assert run_cli(*args, stdin=PASSWORD + "\n").code == 0
    return ("ketoan", PASSWORD)


@pytest.fixture
async def reader(viewer: tuple[str, str], client: AsyncTestClient[Any]) -> tuple[str, str]:
    """The viewer, with the client signed in as them through the login form."""
    assert (await sign_in(client, *viewer)).status_code == 303
    return viewer


@pytest.fixture
def nights(settings: Settings) -> None:
    asyncio.run(fill_nights(settings))


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=create_app(settings, clock=lambda: NOW)) as test_client:
        yield test_client


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def table(html: str, table_id: str) -> str:
    found = re.search(rf'<table id="{table_id}"[^>]*>(.*?)</table>', html, re.S)
    assert found is not None, f"no table {table_id}"
    return found.group(1)


def rows(html: str, table_id: str = "window") -> list[tuple[str, str, str]]:
    """`(day, channel, visible text)` of each row of a day table."""
    pattern = r'<tr data-day="([\d-]+)"(?: data-channel="(\w+)")?[^>]*>(.*?)</tr>'
    return [(d, c, text_of(t)) for d, c, t in re.findall(pattern, table(html, table_id), re.S)]


def row(html: str, when: date, channel: str, table_id: str = "window") -> str:
    found = [t for d, c, t in rows(html, table_id) if d == when.isoformat() and c == channel]
    assert len(found) == 1, (when, channel)
    return found[0]


async def page(client: AsyncTestClient[Any], _reader: tuple[str, str]) -> str:
    response = await client.get(PAGE)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


# --- access --------------------------------------------------------------------------------


async def test_the_runs_page_sends_a_stranger_to_the_login_page(
    client: AsyncTestClient[Any],
) -> None:
    response = await client.get(PAGE, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/dang-nhap?next=%2Flan-chay"
    assert "Lần chạy" not in response.text


async def test_the_ledger_page_links_to_the_runs_page(
    reader: tuple[str, str], client: AsyncTestClient[Any]
) -> None:
    ledger = await client.get("/so-doi-soat")
    assert ledger.status_code == 200
    assert '<a href="/lan-chay">Lần chạy</a>' in ledger.text
    assert '<a href="/so-doi-soat" aria-current="page">Sổ đối soát</a>' in ledger.text
    runs = await page(client, reader)
    assert '<a href="/lan-chay" aria-current="page">Lần chạy</a>' in runs
    assert '<a href="/so-doi-soat">Sổ đối soát</a>' in runs


# --- the window ----------------------------------------------------------------------------


async def test_the_window_lists_each_due_day_newest_first_with_every_channel(
    reader: tuple[str, str], nights: None, client: AsyncTestClient[Any]
) -> None:
    html = await page(client, reader)
    assert "<title>Lần chạy đối soát — UBND phường Thử Nghiệm</title>" in html
    shown = rows(html)
    days = list(dict.fromkeys(d for d, _, _ in shown))
    assert days == [day(n).isoformat() for n in range(26, 19, -1)]
    assert all(sorted(c for d, c, _ in shown if d == when) == list(CHANNELS) for when in days)
    intro = text_of(html)
    assert "Khung chạy lại: từ ngày 20/11/2025 đến ngày 26/11/2025 · 7 ngày" in intro
    assert "Chạy hằng đêm lúc 01:30" in intro
    assert "sau mỗi 30 phút" in intro
    assert "Cập nhật lúc 27/11/2025 10:00" in intro
    assert re.search(r"\d{4}-\d{2}-\d{2}T", intro) is None  # no ISO timestamps shown


async def test_a_succeeded_day_shows_thanh_cong_for_each_channel(
    reader: tuple[str, str], nights: None, client: AsyncTestClient[Any]
) -> None:
    html = await page(client, reader)
    first = row(html, day(26), "bank")
    # the day, its state, the channel, then the latest run: trigger, local times, runs tried
    assert first == (
        "26/11/2025 Thành công bank Thành công Hằng đêm 27/11/2025 01:30 27/11/2025 01:31 1"
    )
    for name in ("momo", "portal", "vnpay"):
        assert row(html, day(26), name) == f"{name} Thành công"


async def test_a_failed_channel_shows_its_error_and_the_day_is_partial(
    reader: tuple[str, str], nights: None, client: AsyncTestClient[Any]
) -> None:
    html = await page(client, reader)
    first = row(html, day(25), "bank")
    assert first.startswith("25/11/2025 Một phần bank Thành công")
    assert first.endswith("Chạy lại 26/11/2025 02:00 26/11/2025 02:01 2")  # the retry, 2 runs
    assert "Timeout" not in first  # the first run's error is not the latest run's
    assert row(html, day(25), "momo") == f"momo Thất bại {MOMO_ERROR}"
    assert row(html, day(25), "portal") == "portal Thành công"


async def test_a_day_no_run_tried_shows_chua_chay(
    reader: tuple[str, str], nights: None, client: AsyncTestClient[Any]
) -> None:
    html = await page(client, reader)
    assert row(html, day(24), "bank") == "24/11/2025 Chưa chạy bank Chưa chạy — — — 0"
    assert row(html, day(24), "vnpay") == "vnpay Chưa chạy"


async def test_a_closed_day_is_marked_and_is_not_overdue(
    reader: tuple[str, str], nights: None, client: AsyncTestClient[Any]
) -> None:
    html = await page(client, reader)
    assert row(html, day(23), "bank").startswith("23/11/2025 Đã chốt sổ Chưa chạy bank")
    assert "Đã chốt sổ" not in row(html, day(24), "bank")
    overdue = re.search(r'<div class="card" id="overdue">(.*?)</div></div>', html, re.S)
    assert overdue is not None
    # 25 partial, 24 not yet, 21 abandoned, 20 running; not 23 (closed), not 26 or 22
    assert text_of(overdue.group(1)).startswith("Quá hạn 4 ngày")


async def test_a_manual_run_without_pulls_succeeds_with_its_pulled_channels_skipped(
    reader: tuple[str, str], nights: None, client: AsyncTestClient[Any]
) -> None:
    html = await page(client, reader)
    assert row(html, day(22), "bank").startswith("22/11/2025 Thành công bank Bỏ qua Thủ công")
    assert "23/11/2025 08:15" in row(html, day(22), "bank")
    assert row(html, day(22), "momo") == "momo Bỏ qua"
    assert row(html, day(22), "vnpay") == "vnpay Thành công"  # file-fed: reconciled


async def test_an_abandoned_day_and_a_running_day(
    reader: tuple[str, str], nights: None, client: AsyncTestClient[Any]
) -> None:
    html = await page(client, reader)
    abandoned = row(html, day(21), "bank")
    assert abandoned.startswith("21/11/2025 Bỏ dở stopped early bank Chưa chạy Chạy bù")
    running = row(html, day(20), "bank")
    # no finish time yet; its channels are being run, not waiting
    assert running == "20/11/2025 Đang chạy bank Đang chạy Chạy bù 27/11/2025 09:58 — 1"
    assert row(html, day(20), "momo") == "momo Đang chạy"


async def test_the_summary_gives_each_channels_last_success_and_overdue_days(
    reader: tuple[str, str], nights: None, client: AsyncTestClient[Any]
) -> None:
    html = await page(client, reader)
    cards = {
        name: text_of(body)
        for name, body in re.findall(
            r'<div class="card" data-channel="(\w+)">(.*?)</div></div>', html, re.S
        )
    }
    assert sorted(cards) == list(CHANNELS)
    # momo: 20, 21, 24, 25, and 22, whose run pulled nothing (`--no-pull`: momo skipped)
    assert cards["momo"] == "Kênh momo 26/11/2025 ngày thành công gần nhất · quá hạn 5 ngày"
    # vnpay was reconciled on 25 and 22; 24, 21 and 20 are due
    assert cards["vnpay"] == "Kênh vnpay 26/11/2025 ngày thành công gần nhất · quá hạn 3 ngày"
    assert "Đã ngừng chạy lại 3 ngày" in text_of(html)


# --- given up ------------------------------------------------------------------------------


async def test_days_that_left_the_window_without_success_are_listed_with_the_backfill(
    reader: tuple[str, str], nights: None, client: AsyncTestClient[Any]
) -> None:
    html = await page(client, reader)
    given_up = list(dict.fromkeys(d for d, _, _ in rows(html, "given-up")))
    # newest first; not 12 (succeeded) nor 05 (closed)
    assert given_up == ["2025-11-15", "2025-11-11", "2025-11-10"]
    assert row(html, day(15), "bank", "given-up").startswith("15/11/2025 Một phần bank")
    assert row(html, day(15), "momo", "given-up") == f"momo Thất bại {MOMO_ERROR}"
    assert row(html, day(15), "portal", "given-up") == "portal Thành công"
    assert row(html, day(11), "bank", "given-up").startswith(
        f"11/11/2025 Thất bại bank Thất bại bank: {DOWN}"
    )
    assert "Chạy lại 16/11/2025 09:05" in row(html, day(15), "bank", "given-up")
    commands = re.findall(r"<code>(.*?)</code>", html)
    assert commands == [
        "recon reconcile --from 2025-11-10 --to 2025-11-11",
        "recon reconcile --from 2025-11-15 --to 2025-11-15",
    ]
    assert "hệ thống không tự chạy lại nữa" in text_of(html)


async def test_a_database_without_runs_shows_every_day_not_yet_and_nothing_given_up(
    reader: tuple[str, str], client: AsyncTestClient[Any]
) -> None:
    html = await page(client, reader)
    states = {(d, c): t for d, c, t in rows(html)}
    assert len(states) == 7 * len(CHANNELS)
    assert all(t.endswith("Chưa chạy") or t.endswith("— — — 0") for t in states.values())
    assert "Quá hạn 7 ngày" in text_of(html)
    assert "Kênh momo Chưa có ngày thành công gần nhất · quá hạn 7 ngày" in text_of(html)
    assert "Không có ngày nào bị ngừng chạy lại." in html
    assert 'id="given-up"' not in html


# --- pieces --------------------------------------------------------------------------------


def test_a_moment_is_written_dd_mm_yyyy_hh_mm() -> None:
    assert ngay_gio(datetime(2025, 1, 2, 3, 4, 59)) == "02/01/2025 03:04"


def test_a_given_up_day_whose_latest_run_covered_one_channel_is_partial() -> None:
    started = utc(9, 8, 0)
    run = RunView(
        run_id=7,
        date=day(8),
        channel="momo",
        status="succeeded",
        trigger="manual",
        started_at=started,
        finished_at=started + timedelta(minutes=1),
        channels={"momo": parts()},
        matched=0,
        cases_opened=0,
        cases_closed=0,
        cases_open=0,
        error=None,
    )
    state = DayState(
        date=day(8),
        in_window=False,
        closed=False,
        status="given_up",
        channels={"momo": ChannelState(status="succeeded"), "bank": ChannelState(status="not_yet")},
        latest_run=run,
        runs=1,
    )
    shown = day_row(state, ZoneInfo("Asia/Ho_Chi_Minh"))
    assert (shown.status, shown.label, shown.trigger) == ("partial", "Một phần", "Thủ công")
    assert [(c.name, c.label) for c in shown.channels] == [
        ("momo", "Thành công"),
        ("bank", "Chưa chạy"),
    ]
    assert shown.started == datetime(2025, 11, 9, 8, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


def test_consecutive_given_up_days_make_one_backfill_command() -> None:
    def given_up(n: int) -> DayState:
        return DayState(
            date=day(n),
            in_window=False,
            closed=False,
            status="given_up",
            channels={},
            latest_run=None,
            runs=1,
        )

    found = backfills([given_up(n) for n in (3, 1, 2, 7)])
    assert [b.command for b in found] == [
        "recon reconcile --from 2025-11-01 --to 2025-11-03",
        "recon reconcile --from 2025-11-07 --to 2025-11-07",
    ]
