"""The case page `/hang-doi/{id}` and its forms: the explanation, the lines with their raw
payload, the dossier with its fee and history, the candidates of an owner-less payment, and
the actions as the signed-in account (303 back with a notice; refusals in Vietnamese; viewers
see no form and get 403). On SQLite and PostgreSQL, the ward of tests/web/queue_ward.py."""

from __future__ import annotations

import json
from typing import Any

from litestar.testing import AsyncTestClient

from recon.errors import Conflict, Forbidden, NotFound
from recon.errors import FieldError as E
from recon.settings import Settings
from recon.web.actions import vietnamese_reason
from tests.helpers import make_key
from tests.web.queue_ward import (
    OWNER,
    accountant,
    accounts,
    approver,
    case_ids,
    case_row,
    environ,
    post_form,
    reconciled,
    signed_in,
    viewer,
    ward,
)

__all__ = ["accountant", "accounts", "approver", "environ", "reconciled", "viewer", "ward"]


def page(case_id: int) -> str:
    return f"/hang-doi/{case_id}"


async def test_an_unmatched_payment_shows_its_line_raw_payload_and_ranked_candidates(
    reconciled: None, accountant: AsyncTestClient[Any], settings: Settings
) -> None:
    case_id = (await case_ids(settings))["UNMATCHED_PAYMENT"]
    response = await accountant.get(page(case_id))
    assert response.status_code == 200, response.text
    html = response.text
    assert f"Vụ việc #{case_id} · Khoản thu không rõ hồ sơ" in html
    assert "không khớp với hồ sơ nào" in html  # the explanation
    assert 'data-txn="V3"' in html
    assert "5.000 ₫" in html
    assert "24/11/2025 10:00" in html  # paid_at in the ward's time
    assert "<details" in html
    assert "Dữ liệu gốc" in html
    candidates = html.split('id="candidates"')[1].split("</table>")[0]
    first = candidates.split("<tr data-dossier=")[1]
    assert first.startswith(f'"{OWNER}"')  # same amount, submitted the same morning
    assert "Đúng số tiền hồ sơ còn phải nộp" in first
    assert f'id="dossier-code" value="{OWNER}"' in html  # the link form is prefilled
    assert 'value="linked" selected' in html


async def test_linking_to_the_candidate_resolves_it_and_pays_the_dossier(
    reconciled: None, accountant: AsyncTestClient[Any], settings: Settings
) -> None:
    case_id = (await case_ids(settings))["UNMATCHED_PAYMENT"]
    answer = await post_form(
        accountant,
        page(case_id),
        f"{page(case_id)}/xu-ly",
        {"resolution": "linked", "dossier_code": OWNER, "note": "người nộp xác nhận qua ĐT"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == page(case_id)
    html = (await accountant.get(page(case_id))).text
    assert f"Đã gắn khoản tiền của vụ việc #{case_id} với hồ sơ {OWNER}." in html
    assert "Đã xử lý" in html
    assert f"với hồ sơ <strong>{OWNER}</strong>" in html
    assert 'id="reopen-form"' in html
    assert 'id="resolve-form"' not in html
    history = html.split('id="history"')[1]
    assert "ketoan" in history
    assert "người nộp xác nhận qua ĐT" in history
    assert "Hệ thống" in history  # the run's opening event
    key = await make_key(settings, "payments:read")
    payment = await accountant.get(
        f"/api/v1/payments/{OWNER}", headers={"Authorization": f"Bearer {key}"}
    )
    assert payment.status_code == 200
    assert json.loads(payment.text)["status"] == "PAID"


async def test_a_dossier_case_shows_the_fee_and_the_dossiers_history(
    reconciled: None, accountant: AsyncTestClient[Any], settings: Settings
) -> None:
    case_id = (await case_ids(settings))["UNDERPAID"]
    html = (await accountant.get(page(case_id))).text
    dossier = html.split('id="dossier"')[1]
    assert "Xác nhận hôn nhân" in dossier
    assert "Trần Thị Bình" in dossier
    assert "20.000 ₫" in dossier
    assert 'id="dossier-history"' in html
    assert "Tạo hồ sơ" in html
    assert 'id="candidates"' not in html  # only an owner-less payment has candidates
    assert '<option value="linked"' not in html  # `linked` is for owner-less payments


async def test_a_big_write_off_waits_for_another_approver_who_approves_it(
    reconciled: None,
    approver: AsyncTestClient[Any],
    settings: Settings,
) -> None:
    case_id = (await case_ids(settings))["UNDERPAID"]
    asked = await post_form(
        approver,
        page(case_id),
        f"{page(case_id)}/xu-ly",
        {"resolution": "written_off", "note": "không liên lạc được", "dossier_code": ""},
    )
    assert asked.status_code == 303
    html = (await approver.get(page(case_id))).text
    assert "vụ việc chờ người duyệt" in html
    assert "Chờ duyệt xóa sổ (yêu cầu của duyet)" in html
    assert 'id="approve-form"' not in html
    assert 'id="own-request"' in html
    async for other in signed_in(settings, "duyet2"):
        form = (await other.get(page(case_id))).text
        assert 'id="approve-form"' in form
        done = await post_form(other, page(case_id), f"{page(case_id)}/duyet", {"note": "đồng ý"})
        assert done.status_code == 303
        assert f"Đã duyệt xóa sổ vụ việc #{case_id}." in (await other.get(page(case_id))).text
    case = await case_row(settings, case_id)
    assert (case.status, case.resolution, case.pending_resolution) == (
        "resolved",
        "written_off",
        None,
    )


async def test_an_approver_rejects_a_write_off_and_the_case_stays_live(
    reconciled: None,
    accountant: AsyncTestClient[Any],
    approver: AsyncTestClient[Any],
    settings: Settings,
) -> None:
    case_id = (await case_ids(settings))["OVERPAID"]
    await post_form(
        accountant,
        page(case_id),
        f"{page(case_id)}/xu-ly",
        {"resolution": "written_off", "note": "xóa sổ"},
    )
    assert 'id="approve-form"' not in (await accountant.get(page(case_id))).text  # no approver
    answer = await post_form(
        approver, page(case_id), f"{page(case_id)}/tu-choi", {"note": "cần hoàn tiền"}
    )
    assert answer.status_code == 303
    assert "vụ việc vẫn mở" in (await approver.get(page(case_id))).text
    case = await case_row(settings, case_id)
    assert (case.status, case.pending_resolution) == ("open", None)


async def test_an_accountant_cannot_approve_even_by_a_forged_post(
    reconciled: None, accountant: AsyncTestClient[Any], settings: Settings
) -> None:
    case_id = (await case_ids(settings))["OVERPAID"]
    answer = await post_form(accountant, page(case_id), f"{page(case_id)}/duyet", {"note": "x"})
    assert answer.status_code == 403


async def test_a_resolved_case_is_reopened_and_a_small_write_off_resolves_at_once(
    reconciled: None, accountant: AsyncTestClient[Any], settings: Settings
) -> None:
    case_id = (await case_ids(settings))["PAYMENT_ON_CLOSED_DOSSIER"]  # 3.000 ≤ 5.000
    await post_form(
        accountant,
        page(case_id),
        f"{page(case_id)}/xu-ly",
        {"resolution": "written_off", "note": "số tiền nhỏ"},
    )
    assert (await case_row(settings, case_id)).status == "resolved"
    answer = await post_form(
        accountant, page(case_id), f"{page(case_id)}/mo-lai", {"note": "xem lại"}
    )
    assert answer.status_code == 303
    html = (await accountant.get(page(case_id))).text
    assert f"Đã mở lại vụ việc #{case_id}." in html
    assert 'id="resolve-form"' in html
    assert (await case_row(settings, case_id)).status == "reopened"


async def test_refusals_are_shown_in_vietnamese_and_change_nothing(
    reconciled: None, accountant: AsyncTestClient[Any], settings: Settings
) -> None:
    case_id = (await case_ids(settings))["UNMATCHED_PAYMENT"]
    action = f"{page(case_id)}/xu-ly"
    for data, said in (
        ({"resolution": "accepted", "note": "   "}, "Vui lòng nhập ghi chú"),
        ({"resolution": "linked", "dossier_code": "H99-KHONG-CO", "note": "x"}, "Không có hồ sơ"),
        ({"resolution": "linked", "dossier_code": "", "note": "x"}, "cần mã hồ sơ"),
    ):
        answer = await post_form(accountant, page(case_id), action, data)
        assert answer.status_code == 303
        html = (await accountant.get(page(case_id))).text
        assert said in html.split('id="notice"')[1].split("</div>")[0], data
    assert (await case_row(settings, case_id)).status == "open"
    reopen = await post_form(accountant, page(case_id), f"{page(case_id)}/mo-lai", {"note": "x"})
    assert reopen.status_code == 303
    assert "chỉ mở lại được vụ việc đã xử lý" in (await accountant.get(page(case_id))).text


async def test_a_viewer_sees_no_action_and_is_refused_a_forged_post(
    reconciled: None, viewer: AsyncTestClient[Any], settings: Settings
) -> None:
    case_id = (await case_ids(settings))["UNMATCHED_PAYMENT"]
    html = (await viewer.get(page(case_id))).text
    assert 'id="candidates"' in html  # the evidence, yes
    assert '<form class="action"' not in html
    assert "Chọn</button>" not in html
    for action in ("xu-ly", "mo-lai", "duyet", "tu-choi"):
        data = {"resolution": "accepted", "note": "x"}
        answer = await post_form(viewer, page(case_id), f"{page(case_id)}/{action}", data)
        assert answer.status_code == 403, action
    assert (await case_row(settings, case_id)).status == "open"


async def test_an_unknown_case_is_a_404_page(
    reconciled: None, accountant: AsyncTestClient[Any]
) -> None:
    response = await accountant.get(page(987654))
    assert response.status_code == 404
    assert "Không tìm thấy vụ việc #987654" in response.text


def test_the_workflows_reasons_read_in_vietnamese() -> None:
    conflict = Conflict("x", [E("ids", "case 7 is closed: only a live case is resolved")])
    assert vietnamese_reason(conflict) == "Vụ việc #7 đã đóng: chỉ xử lý được vụ việc đang mở."
    checker = Forbidden("x", [E("user", "duyet asked for this write-off: another approver")])
    assert "một người duyệt khác phải quyết định" in vietnamese_reason(checker)
    missing = NotFound("x", [E("ids", "no case with id 3"), E("ids", "no case with id 4")])
    assert vietnamese_reason(missing) == "Không tìm thấy vụ việc #3. Không tìm thấy vụ việc #4."
    unknown = Conflict("something new")
    assert vietnamese_reason(unknown) == "Không thực hiện được: something new"
