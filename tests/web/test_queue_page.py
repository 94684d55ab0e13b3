"""The queue page `/hang-doi`: live cases with their counts per type, filters, sort, pages, the
pending-approval tab for approvers, and the bulk form (all or none); viewers see no form and
their POST is refused. On SQLite and PostgreSQL, the ward of tests/web/queue_ward.py."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from recon.errors import BadInput
from recon.settings import Settings
from recon.web.queue import form_amount, form_day, queue_filter
from tests.web.queue_ward import (
    OWNER,
    accountant,
    accounts,
    add_cases,
    approver,
    case_ids,
    case_row,
    environ,
    post_form,
    reconciled,
    viewer,
    ward,
)

__all__ = ["accountant", "accounts", "approver", "environ", "reconciled", "viewer", "ward"]

PAGE = "/hang-doi"
BULK = "/hang-doi/xu-ly-hang-loat"


def rows_of(html: str) -> list[int]:
    """The case ids of the queue's rows, in order."""
    return [int(n) for n in re.findall(r'<tr data-case="(\d+)"', html)]


def count_of(html: str, case_type: str) -> int:
    found = re.search(rf'data-type="{case_type}" href="[^"]*">[^<]*<b>([\d.]+)</b>', html)
    return int(found.group(1).replace(".", "")) if found else 0


async def test_the_landing_page_after_login_is_the_queue(
    accountant: AsyncTestClient[Any],
) -> None:
    response = await accountant.get("/", follow_redirects=False)
    assert response.status_code in (301, 302, 303, 307, 308)
    assert response.headers["location"] == PAGE


async def test_the_queue_lists_live_cases_with_counts_and_vietnamese_money_and_dates(
    reconciled: None, accountant: AsyncTestClient[Any], settings: Settings
) -> None:
    response = await accountant.get(PAGE)
    assert response.status_code == 200, response.text
    html = response.text
    ids = await case_ids(settings)
    assert sorted(rows_of(html)) == sorted(ids.values())
    assert "Hàng đợi vụ việc" in html
    for case_type in ids:
        assert count_of(html, case_type) == 1
    underpaid = html.split(f'data-case="{ids["UNDERPAID"]}"')[1].split("</tr>")[0]
    assert "Thu thiếu" in underpaid
    assert "24/11/2025" in underpaid
    assert "20.000 ₫" in underpaid
    assert "10.000 ₫" in underpaid
    assert "H17.25-241125-0002" in underpaid
    assert 'aria-current="page">Hàng đợi' in html  # the nav says where we are


async def test_filters_by_type_channel_text_amount_and_dates(
    reconciled: None, accountant: AsyncTestClient[Any], settings: Settings
) -> None:
    ids = await case_ids(settings)

    async def shown(**params: str) -> list[int]:
        response = await accountant.get(PAGE, params=params)
        assert response.status_code == 200, response.text
        return rows_of(response.text)

    assert await shown(loai="OVERPAID") == [ids["OVERPAID"]]
    assert await shown(kenh="momo") == []
    assert len(await shown(kenh="vnpay")) == 4
    assert await shown(tim="241125-0002") == [ids["UNDERPAID"]]  # a dossier code
    assert await shown(tim="v3") == [ids["UNMATCHED_PAYMENT"]]  # a transaction id
    assert await shown(tim="không khớp") == [ids["UNMATCHED_PAYMENT"]]  # the explanation
    assert await shown(tim="100%_") == []  # LIKE's wildcards are taken literally
    # the amount at stake: 10.000 (underpaid), 5.000, 8.000, 3.000
    assert sorted(await shown(tien_tu="5.000", tien_den="8000")) == sorted(
        [ids["UNMATCHED_PAYMENT"], ids["OVERPAID"]]
    )
    assert len(await shown(tu="24/11/2025", den="24/11/2025")) == 4
    assert await shown(tu="2025-11-25") == []
    # the counts follow every filter but the type
    html = (await accountant.get(PAGE, params={"loai": "OVERPAID", "tien_tu": "9000"})).text
    assert count_of(html, "UNDERPAID") == 1
    assert count_of(html, "OVERPAID") == 0


async def test_a_bad_filter_answers_400_in_vietnamese(
    reconciled: None, accountant: AsyncTestClient[Any]
) -> None:
    for params, message in (
        ({"tu": "31/02/2025"}, "không phải là một ngày hợp lệ"),
        ({"tien_tu": "mười nghìn"}, "không phải là một số tiền hợp lệ"),
        ({"loai": "NOPE"}, "Không có loại vụ việc"),
        ({"kenh": "zalo"}, "Không có kênh"),
        ({"tu": "25/11/2025", "den": "24/11/2025"}, "đứng trước"),
    ):
        response = await accountant.get(PAGE, params=params)
        assert response.status_code == 400, params
        assert message in response.text


async def test_sorts_by_amount_and_type_both_ways(
    reconciled: None, accountant: AsyncTestClient[Any], settings: Settings
) -> None:
    ids = await case_ids(settings)
    by_amount = [ids[t] for t in ("PAYMENT_ON_CLOSED_DOSSIER", "UNMATCHED_PAYMENT", "OVERPAID")]
    by_amount.append(ids["UNDERPAID"])
    response = await accountant.get(PAGE, params={"sap": "tien", "chieu": "tang"})
    assert rows_of(response.text) == by_amount
    response = await accountant.get(PAGE, params={"sap": "tien"})
    assert rows_of(response.text) == by_amount[::-1]
    response = await accountant.get(PAGE, params={"sap": "loai", "chieu": "tang"})
    assert rows_of(response.text) == [ids[t] for t in sorted(ids)]


async def test_pages_of_fifty_newest_first_and_the_last_page_clamped(
    accountant: AsyncTestClient[Any], settings: Settings
) -> None:
    await add_cases(settings, 120)
    first = await accountant.get(PAGE, params={"sap": "tien"})
    assert len(rows_of(first.text)) == 50
    assert "120 vụ việc · trang 1/3" in first.text
    assert "120.000 ₫" in first.text.split('data-case="')[1]  # the biggest first
    third = await accountant.get(PAGE, params={"sap": "tien", "trang": "3"})
    assert len(rows_of(third.text)) == 20
    assert set(rows_of(first.text)).isdisjoint(rows_of(third.text))
    beyond = await accountant.get(PAGE, params={"sap": "tien", "trang": "99"})
    assert rows_of(beyond.text) == rows_of(third.text)
    # the links keep the filters and the sort
    assert 'href="/hang-doi?sap=tien&amp;trang=2"' in first.text


async def test_the_pending_tab_is_an_approvers_and_lists_awaited_write_offs(
    reconciled: None,
    accountant: AsyncTestClient[Any],
    approver: AsyncTestClient[Any],
    settings: Settings,
) -> None:
    ids = await case_ids(settings)
    answer = await post_form(
        accountant,
        PAGE,
        BULK,
        {"ids": [ids["UNDERPAID"]], "resolution": "written_off", "note": "không thu được"},
    )
    assert answer.status_code == 303
    assert 'id="tab-pending"' not in (await accountant.get(PAGE)).text
    html = (await approver.get(PAGE)).text
    assert "Chờ duyệt <b>(1)</b>" in html
    assert "Chờ duyệt xóa sổ" in html  # the row's badge
    tab = await approver.get(PAGE, params={"tab": "cho-duyet"})
    assert rows_of(tab.text) == [ids["UNDERPAID"]]
    assert count_of(tab.text, "UNDERPAID") == 1
    assert count_of(tab.text, "OVERPAID") == 0


async def test_bulk_resolve_changes_every_ticked_case(
    reconciled: None, accountant: AsyncTestClient[Any], settings: Settings
) -> None:
    ids = await case_ids(settings)
    ticked = [ids["PAYMENT_ON_CLOSED_DOSSIER"], ids["UNMATCHED_PAYMENT"]]
    answer = await post_form(
        accountant,
        PAGE,
        BULK,
        {
            "ids": ticked,
            "resolution": "refund_requested",
            "note": "đã liên hệ người nộp",
            "dossier_code": "",
            "back": "/hang-doi?loai=&sap=tien",
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/hang-doi?loai=&sap=tien"
    for case_id in ticked:
        case = await case_row(settings, case_id)
        assert (case.status, case.resolution) == ("resolved", "refund_requested")
    page = await accountant.get(PAGE)
    assert "Đã xử lý 2 vụ việc: yêu cầu hoàn tiền." in page.text
    assert set(rows_of(page.text)).isdisjoint(ticked)
    again = await accountant.get(PAGE)
    assert "Đã xử lý 2 vụ việc" not in again.text  # the notice is shown once


async def test_bulk_resolve_is_all_or_none_and_says_why_in_vietnamese(
    reconciled: None, accountant: AsyncTestClient[Any], settings: Settings
) -> None:
    ids = await case_ids(settings)
    answer = await post_form(
        accountant,
        PAGE,
        BULK,
        {
            "ids": [ids["UNMATCHED_PAYMENT"], ids["OVERPAID"]],
            "resolution": "linked",
            "dossier_code": OWNER,
            "note": "gắn cả hai",
            "back": "https://example.com/hang-doi",
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == PAGE  # never back to another site
    for case_type in ("UNMATCHED_PAYMENT", "OVERPAID"):
        assert (await case_row(settings, ids[case_type])).status == "open"
    page = (await accountant.get(PAGE)).text
    assert "Không vụ việc nào được xử lý." in page
    assert f"Vụ việc #{ids['OVERPAID']} không phải khoản tiền chưa rõ chủ" in page
    nothing = await post_form(accountant, PAGE, BULK, {"resolution": "accepted", "note": "x"})
    assert nothing.status_code == 303
    assert "Chưa chọn vụ việc nào." in (await accountant.get(PAGE)).text


async def test_a_viewer_sees_no_checkboxes_and_is_refused_a_bulk_post(
    reconciled: None, viewer: AsyncTestClient[Any], settings: Settings
) -> None:
    ids = await case_ids(settings)
    html = (await viewer.get(PAGE)).text
    assert 'name="ids"' not in html
    assert 'id="bulk"' not in html
    assert 'id="tab-pending"' not in html
    answer = await post_form(
        viewer, PAGE, BULK, {"ids": [ids["OVERPAID"]], "resolution": "accepted", "note": "x"}
    )
    assert answer.status_code == 403
    assert (await case_row(settings, ids["OVERPAID"])).status == "open"


async def test_a_bulk_post_without_the_csrf_token_is_refused(
    reconciled: None, accountant: AsyncTestClient[Any], settings: Settings
) -> None:
    ids = await case_ids(settings)
    data = {"ids": [ids["OVERPAID"]], "resolution": "accepted", "note": "x"}
    answer = await accountant.post(BULK, data=data, follow_redirects=False)
    assert answer.status_code == 403
    assert (await case_row(settings, ids["OVERPAID"])).status == "open"


# --- the form's values, without a database ---------------------------------------------------


def test_form_values_read_the_vietnamese_way() -> None:
    assert form_amount("1.234.567 ₫", "x") == 1_234_567
    assert form_amount("5000", "x") == 5_000
    assert form_day("01/02/2025", "x").isoformat() == "2025-02-01"
    assert form_day("2025-02-01", "x").isoformat() == "2025-02-01"
    wanted = queue_filter({"sap": "tien", "chieu": "tang", "trang": "2", "tab": "cho-duyet"}, [])
    assert (wanted.sort, wanted.descending, wanted.page, wanted.tab) == (
        "amount",
        False,
        2,
        "pending",
    )
    with pytest.raises(BadInput):
        queue_filter({"trang": "0"}, [])
    with pytest.raises(BadInput):
        queue_filter({"sap": "ten"}, [])
