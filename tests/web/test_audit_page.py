"""The audit page `/nhat-ky`: every case event newest first, the engine's as "Hệ thống",
filtered by person, case and day (in the ward's time zone), paged by a cursor. On SQLite and
PostgreSQL, the ward of tests/web/queue_ward.py."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import AsyncTestClient

from recon.settings import Settings
from tests.web.queue_ward import (
    accountant,
    accounts,
    add_cases,
    case_ids,
    environ,
    post_form,
    reconciled,
    viewer,
    ward,
)

__all__ = ["accountant", "accounts", "environ", "reconciled", "viewer", "ward"]

PAGE = "/nhat-ky"


def events_of(html: str) -> list[tuple[int, int]]:
    """(event id, case id) of the page's rows, in order."""
    found = re.findall(r'<tr data-event="(\d+)" data-case="(\d+)"', html)
    return [(int(e), int(c)) for e, c in found]


async def test_the_audit_page_lists_events_newest_first_with_the_engine_named(
    reconciled: None, accountant: AsyncTestClient[Any], settings: Settings
) -> None:
    ids = await case_ids(settings)
    case_id = ids["OVERPAID"]
    await post_form(
        accountant,
        f"/hang-doi/{case_id}",
        f"/hang-doi/{case_id}/xu-ly",
        {"resolution": "accepted", "note": "phí miễn, trả lại sau"},
    )
    response = await accountant.get(PAGE)
    assert response.status_code == 200, response.text
    html = response.text
    rows = events_of(html)
    assert len(rows) == 5  # four openings by the run, one resolve
    assert [e for e, _ in rows] == sorted((e for e, _ in rows), reverse=True)
    assert rows[0][1] == case_id
    newest = html.split("<tr data-event=")[1].split("</tr>")[0]
    assert "ketoan" in newest
    assert "Xử lý" in newest
    assert "Chấp nhận chênh lệch" in newest
    assert "phí miễn, trả lại sau" in newest
    assert "Đang mở → Đã xử lý" in newest
    assert "Hệ thống" in html.split("<tr data-event=")[2]
    assert 'aria-current="page">Nhật ký' in html


async def test_filters_by_person_case_and_day(
    reconciled: None, accountant: AsyncTestClient[Any], settings: Settings
) -> None:
    ids = await case_ids(settings)
    case_id = ids["OVERPAID"]
    await post_form(
        accountant,
        f"/hang-doi/{case_id}",
        f"/hang-doi/{case_id}/xu-ly",
        {"resolution": "accepted", "note": "ok"},
    )

    async def shown(**params: str) -> list[tuple[int, int]]:
        response = await accountant.get(PAGE, params=params)
        assert response.status_code == 200, response.text
        return events_of(response.text)

    assert [c for _, c in await shown(nguoi="ketoan")] == [case_id]
    assert len(await shown(nguoi="@he-thong")) == 4
    assert await shown(nguoi="duyet") == []
    assert len(await shown(vu_viec=str(case_id))) == 2
    assert len(await shown(vu_viec=f"#{ids['UNDERPAID']}")) == 1
    assert await shown(ngay="01/01/2020") == []
    everything = await shown()
    # the events were written today (the runs' and the actions' clocks are the real one)
    from datetime import datetime
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo(settings.timezone)).date()
    assert await shown(ngay=today.strftime("%d/%m/%Y")) == everything
    bad = await accountant.get(PAGE, params={"ngay": "32/01/2025"})
    assert bad.status_code == 400
    assert "không phải là một ngày hợp lệ" in bad.text
    bad = await accountant.get(PAGE, params={"vu_viec": "abc"})
    assert bad.status_code == 400


async def test_pages_go_back_in_time_by_a_cursor(
    accountant: AsyncTestClient[Any], settings: Settings
) -> None:
    await add_cases(settings, 120)
    first = (await accountant.get(PAGE)).text
    rows = events_of(first)
    assert len(rows) == 50
    older = re.search(r'rel="next" href="([^"]+)"', first)
    assert older is not None
    second = (await accountant.get(older.group(1).replace("&amp;", "&"))).text
    assert events_of(second)[0][0] == rows[-1][0] - 1
    assert "« Mới nhất" in second
    third_link = re.search(r'rel="next" href="([^"]+)"', second)
    assert third_link is not None
    third = (await accountant.get(third_link.group(1).replace("&amp;", "&"))).text
    assert len(events_of(third)) == 20
    assert 'rel="next"' not in third


async def test_a_viewer_reads_the_audit_page(
    reconciled: None, viewer: AsyncTestClient[Any]
) -> None:
    response = await viewer.get(PAGE)
    assert response.status_code == 200
    assert len(events_of(response.text)) == 4
