"""The ledger page `/so-doi-soat`: signed-in users only, Vietnamese labels and money, presets,
a 400 page for bad values. On SQLite and PostgreSQL, with a ward reconciled through the CLI."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from recon.app import create_app
from recon.settings import Settings
from recon.web.controllers import ledger_range, local_today, preset_range
from tests.runs.test_reconcile import D1, D2, LINES, reconcile, ward, write
from tests.web.signin import sign_in

__all__ = ["ward"]

PASSWORD = "mật khẩu rất dài"
PAGE = "/so-doi-soat"
RANGE = {"tu": D1, "den": D2}


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
def reconciled(run_cli: Callable[..., Any], ward: None, tmp_path: Any) -> None:
    """The test ward's day 1 (41.000 ₫ on vnpay), plus 1.234.567 ₫ (fee 1.500) on day 2."""
    reconcile(run_cli, D1, "--channel", "vnpay")
    big = write(
        tmp_path,
        "big.csv",
        LINES,
        f"W9,,1.234.567,1.500,payment,success,{D2}T10:00:00+07:00,Chuyen khoan,",
    )
    assert run_cli("statements", "import", "--channel", "vnpay", big).code == 0
    reconcile(run_cli, D2, "--channel", "vnpay")


def text_of(html: str) -> str:
    """The page's visible text, tags and runs of white space collapsed."""
    without_tags = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", without_tags)


# --- access --------------------------------------------------------------------------------


async def test_the_page_sends_a_stranger_to_the_login_page(
    client: AsyncTestClient[Any],
) -> None:
    for path, back in ((PAGE, "%2Fso-doi-soat"), ("/", "%2F")):
        response = await client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/dang-nhap?next={back}"


async def test_the_root_redirects_to_the_case_queue(
    reader: tuple[str, str], client: AsyncTestClient[Any]
) -> None:
    response = await client.get("/", follow_redirects=False)
    assert response.status_code in (301, 302, 303, 307, 308)
    assert response.headers["location"] == "/hang-doi"


# --- the page ------------------------------------------------------------------------------


async def test_the_ledger_shows_the_wards_figures_in_vietnamese(
    reader: tuple[str, str], reconciled: None, client: AsyncTestClient[Any]
) -> None:
    response = await client.get(PAGE, params=RANGE)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    text = text_of(html)
    assert "<title>Sổ đối soát — UBND phường Thử Nghiệm</title>" in html
    for label in (
        "Sổ đối soát",
        "Kênh",
        "Ngày",
        "Thanh toán",
        "Hoàn tiền",
        "Phí kênh",
        "Thực thu",
        "Đã khớp",
        "Chưa khớp",
        "Hồ sơ cần xử lý",
        "Tổng cộng",
        "Tháng này",
        "Tháng trước",
        "Năm nay",
    ):
        assert label in text, label
    assert "Từ ngày 24/11/2025 đến ngày 25/11/2025" in text
    assert "1.234.567 ₫" in text  # day 2's payment
    assert "41.000 ₫" in text  # day 1 on vnpay
    assert "36.000 ₫" in text  # day 1 matched
    assert "1.275.567 ₫" in text  # payments over the range
    assert "1.274.067 ₫" in text  # net: minus the 1.500 ₫ fee
    assert "1.239.567 ₫" in text  # unmatched: V3 and W9
    assert "Thu thiếu: 1" in text
    assert "Khoản thu không rõ hồ sơ: 2" in text  # V3 on day 1, W9 on day 2
    assert re.search(r"\d{4}-\d{2}-\d{2}T", text) is None  # no ISO timestamps shown
    # the chart: one bar per day with payments, each with a tooltip
    assert html.count('class="bar"') == 2
    assert "24/11/2025 · vnpay: 41.000 ₫ (5 giao dịch)" in html
    # downloads are served beside the page, for the same range, to the signed-in user
    assert 'href="/so-doi-soat/tai-ve?tu=2025-11-24&amp;den=2025-11-25&amp;dinh_dang=csv"' in html
    assert 'href="/so-doi-soat/tai-ve?tu=2025-11-24&amp;den=2025-11-25&amp;dinh_dang=xlsx"' in html


async def test_the_page_downloads_csv_and_xlsx_without_an_api_key(
    reader: tuple[str, str], reconciled: None, client: AsyncTestClient[Any]
) -> None:
    params = {**RANGE, "dinh_dang": "csv"}
    csv_response = await client.get("/so-doi-soat/tai-ve", params=params)
    assert csv_response.status_code == 200
    assert csv_response.content.startswith(b"\xef\xbb\xbf")
    assert (
        'filename="so-doi-soat_2025-11-24_2025-11-25.csv"'
        in csv_response.headers["content-disposition"]
    )
    xlsx = await client.get("/so-doi-soat/tai-ve", params={**RANGE, "dinh_dang": "xlsx"})
    assert "spreadsheetml" in xlsx.headers["content-type"]
    client.cookies.clear()
    anonymous = await client.get("/so-doi-soat/tai-ve", params=params, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/dang-nhap?next=%2Fso-doi-soat%2Ftai-ve")


async def test_a_channel_restricts_the_rows_and_the_downloads(
    reader: tuple[str, str], reconciled: None, client: AsyncTestClient[Any]
) -> None:
    response = await client.get(PAGE, params={**RANGE, "kenh": "momo"})
    assert response.status_code == 200
    text = text_of(response.text)
    assert "Kênh momo" in text
    assert "1.234.567 ₫" not in text
    assert 'class="bar"' not in response.text
    assert "&amp;kenh=momo&amp;dinh_dang=csv" in response.text


@pytest.fixture
def closed_day_1(run_cli: Callable[..., Any], reconciled: None) -> None:
    """Day 1 closed by an accountant, its live cases named in the note."""
    live = json.loads(run_cli("cases", "list", "--json", "--date", D1).out)
    note = "Đã kiểm tra " + " ".join(f"#{c['id']}" for c in live)
    args = ("users", "create", "--username", "chot", "--role", "accountant")
    assert run_cli(*args, stdin=PASSWORD).code == 0
    closed = run_cli("days", "close", "--date", D1, "--user", "chot", "--note", note)
    assert closed.code == 0, closed


async def test_a_closed_day_is_marked(
    reader: tuple[str, str], closed_day_1: None, client: AsyncTestClient[Any]
) -> None:
    response = await client.get(PAGE, params=RANGE)
    text = text_of(response.text)
    assert "24/11/2025 Đã chốt sổ" in text
    assert "25/11/2025 Đã chốt sổ" not in text
    assert "Đã chốt sổ 1/2 ngày" in text
    assert "41.000 ₫" in text  # the frozen figures are the same


async def test_without_a_range_the_page_shows_this_month_so_far(
    reader: tuple[str, str], settings: Settings, client: AsyncTestClient[Any]
) -> None:
    response = await client.get(PAGE)
    assert response.status_code == 200
    today = local_today(settings.timezone)
    start = today.replace(day=1)
    text = text_of(response.text)
    assert f"Từ ngày {start:%d/%m/%Y} đến ngày {today:%d/%m/%Y}" in text
    assert re.search(r'class="button active" href="[^"]*preset=month"', response.text)


@pytest.mark.parametrize("preset", ["month", "prev-month", "year"])
async def test_a_preset_shows_its_range(
    reader: tuple[str, str], settings: Settings, client: AsyncTestClient[Any], preset: str
) -> None:
    response = await client.get(PAGE, params={"preset": preset})
    assert response.status_code == 200
    start, end = preset_range(preset, local_today(settings.timezone))
    assert f"Từ ngày {start:%d/%m/%Y} đến ngày {end:%d/%m/%Y}" in text_of(response.text)
    assert f'name="tu" value="{start:%d/%m/%Y}"' in response.text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"tu": "2025-13-01"}, "Từ ngày: “2025-13-01” không phải là một ngày hợp lệ"),
        ({"den": "hôm qua"}, "Đến ngày: “hôm qua” không phải là một ngày hợp lệ"),
        ({"tu": "31/02/2025"}, "Từ ngày: “31/02/2025” không phải là một ngày hợp lệ"),
        ({"tu": D2, "den": D1}, "Đến ngày 24/11/2025 đứng trước Từ ngày 25/11/2025"),
        ({"tu": "2020-01-01", "den": "2025-01-01"}, "tối đa 1098 ngày"),
        ({"kenh": "zalopay"}, "Không có kênh “zalopay”"),
        ({"preset": "week"}, "Không có mốc thời gian “week”"),
    ],
)
async def test_a_bad_value_answers_400_with_a_vietnamese_page(
    reader: tuple[str, str], client: AsyncTestClient[Any], params: dict[str, str], message: str
) -> None:
    response = await client.get(PAGE, params=params)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    text = text_of(response.text)
    assert "Không xem được sổ đối soát." in text
    assert message in text
    assert "Traceback" not in text
    assert "Tháng trước" in text  # the presets and the form stay usable


async def test_the_templates_escape_what_they_show(
    viewer: tuple[str, str], settings: Settings
) -> None:
    hostile = msgspec.structs.replace(settings, ward_name="<script>alert(1)</script>")
    async with AsyncTestClient(app=create_app(hostile)) as client:
        await sign_in(client, *viewer)
        response = await client.get(PAGE, params={"tu": "<b>"})
    assert response.status_code == 400
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "“<b>”" not in response.text


# --- ranges, without a database ------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "preset", "expected"),
    [
        (date(2025, 11, 26), "month", (date(2025, 11, 1), date(2025, 11, 26))),
        (date(2025, 11, 26), "prev-month", (date(2025, 10, 1), date(2025, 10, 31))),
        (date(2025, 1, 15), "prev-month", (date(2024, 12, 1), date(2024, 12, 31))),
        (date(2024, 3, 31), "prev-month", (date(2024, 2, 1), date(2024, 2, 29))),
        (date(2025, 11, 26), "year", (date(2025, 1, 1), date(2025, 11, 26))),
    ],
)
def test_presets_count_from_today(today: date, preset: str, expected: tuple[date, date]) -> None:
    assert preset_range(preset, today) == expected
    assert ledger_range(today, "2000-01-01", "2000-01-02", preset) == expected  # a preset wins


def test_a_missing_end_is_today_and_a_missing_start_the_first_of_the_month() -> None:
    today = date(2025, 11, 26)
    assert ledger_range(today, None, None, None) == (date(2025, 11, 1), today)
    assert ledger_range(today, "2025-11-20", None, None) == (date(2025, 11, 20), today)
    assert ledger_range(today, None, "2025-10-15", None) == (date(2025, 10, 1), date(2025, 10, 15))
    assert ledger_range(today, "", "", "") == (date(2025, 11, 1), today)


def test_the_form_sends_dates_as_day_month_year_and_links_as_iso() -> None:
    today = date(2025, 11, 26)
    expected = (date(2025, 11, 4), date(2025, 11, 25))
    assert ledger_range(today, "04/11/2025", "25/11/2025", None) == expected
    assert ledger_range(today, "4/11/2025", " 25/11/2025 ", None) == expected
    assert ledger_range(today, "2025-11-04", "2025-11-25", None) == expected
