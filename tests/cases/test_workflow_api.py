"""`POST /api/v1/cases/{id}/resolve|approve|reject|reopen` and `POST /api/v1/cases:resolve`
(DESIGN 6): scope `cases:write`, the named person's role checked, 200 with the case (or
`{"cases": [...]}`), 403 role, 409 state, 404 unknown, 422 bad value, 400 a body of the wrong
shape, every error in the one error shape. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from recon.settings import Settings
from tests.cases.conftest import CLOSED_DOSSIER, EXTRA, OVERPAID, UNDERPAID, UNMATCHED
from tests.helpers import make_key

ERROR_FIELDS = {"status", "title", "detail", "errors"}


@pytest.fixture
async def writer(settings: Settings) -> dict[str, str]:
    key = await make_key(settings, "cases:write", "payments:read", name="mot-cua")
    return {"Authorization": f"Bearer {key}"}


async def post(
    client: AsyncTestClient[Any], headers: dict[str, str], path: str, body: Any, status: int
) -> Any:
    response = await client.post(f"/api/v1{path}", json=body, headers=headers)
    assert response.status_code == status, response.text
    found = response.json()
    if status >= 400:
        assert set(found) == ERROR_FIELDS
        assert found["status"] == status
    return found


async def test_resolve_answers_the_case_after_the_action(
    client: AsyncTestClient[Any], writer: dict[str, str], queue: dict[str, int]
) -> None:
    case_id = queue[UNMATCHED]
    body = {"user": "ketoan", "resolution": "linked", "note": "Xác nhận", "dossier_code": EXTRA}
    case = await post(client, writer, f"/cases/{case_id}/resolve", body, 200)
    assert (case["id"], case["status"], case["resolution"]) == (case_id, "resolved", "linked")
    assert case["pending_resolution"] is None
    event = case["history"][-1]
    assert {k: event[k] for k in ("actor", "action", "resolution", "dossier_code", "note")} == {
        "actor": "ketoan",
        "action": "resolve",
        "resolution": "linked",
        "dossier_code": EXTRA,
        "note": "Xác nhận",
    }
    assert event["changes"]["via"] == "api:mot-cua"
    paid = await client.get(f"/api/v1/payments/{EXTRA}", headers=writer)
    assert paid.json()["status"] == "PAID"


async def test_approve_reject_and_reopen(
    client: AsyncTestClient[Any], writer: dict[str, str], queue: dict[str, int]
) -> None:
    ask = {"user": "ketoan", "resolution": "written_off", "note": "Xin xoá"}
    for key in (UNDERPAID, OVERPAID):
        waiting = await post(client, writer, f"/cases/{queue[key]}/resolve", ask, 200)
        assert (waiting["status"], waiting["pending_resolution"]) == ("open", "written_off")
    decide = {"user": "duyet", "note": "Đã xem"}
    approved = await post(client, writer, f"/cases/{queue[UNDERPAID]}/approve", decide, 200)
    assert (approved["status"], approved["resolution"]) == ("resolved", "written_off")
    rejected = await post(client, writer, f"/cases/{queue[OVERPAID]}/reject", decide, 200)
    assert (rejected["status"], rejected["pending_resolution"]) == ("open", None)
    reopened = await post(client, writer, f"/cases/{queue[UNDERPAID]}/reopen", decide, 200)
    assert (reopened["status"], reopened["resolution"]) == ("reopened", None)
    assert [e["action"] for e in reopened["history"]] == ["opened", "resolve", "approve", "reopen"]


async def test_bulk_resolve_is_all_or_none(
    client: AsyncTestClient[Any], writer: dict[str, str], queue: dict[str, int]
) -> None:
    ids = [queue[UNMATCHED], queue[CLOSED_DOSSIER]]
    body = {"ids": ids, "user": "duyet", "resolution": "accepted", "note": "Chấp nhận"}
    # a case of those named is unknown: nothing is resolved
    await post(client, writer, "/cases:resolve", {**body, "ids": [*ids, 999_999]}, 404)
    # one is not live: nothing is resolved
    await post(client, writer, "/cases:resolve", {**body, "ids": [queue[OVERPAID]]}, 200)
    error = await post(
        client, writer, "/cases:resolve", {**body, "ids": [*ids, queue[OVERPAID]]}, 409
    )
    assert str(queue[OVERPAID]) in error["detail"]
    done = await post(client, writer, "/cases:resolve", body, 200)
    assert set(done) == {"cases"}
    assert [(c["id"], c["status"]) for c in done["cases"]] == [(i, "resolved") for i in ids]
    assert [len(c["history"]) for c in done["cases"]] == [2, 2]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"user": "xem", "resolution": "accepted", "note": "x"}, 403, "user"),
        ({"user": "quantri", "resolution": "accepted", "note": "x"}, 403, "user"),
        ({"user": "ai-do", "resolution": "accepted", "note": "x"}, 403, "user"),
        ({"user": "ketoan", "resolution": "accepted", "note": ""}, 422, "note"),
        ({"user": "ketoan", "resolution": "forgiven", "note": "x"}, 422, "resolution"),
        ({"user": "ketoan", "resolution": "linked", "note": "x"}, 422, "dossier_code"),
        (
            {"user": "ketoan", "resolution": "linked", "note": "x", "dossier_code": "H9"},
            404,
            "dossier_code",
        ),
        ({"user": "ketoan", "resolution": "accepted"}, 400, "note"),
        ({"user": "ketoan", "resolution": "accepted", "note": "x", "extra": 1}, 400, "extra"),
        ({"user": 7, "resolution": "accepted", "note": "x"}, 400, "user"),
        (["user"], 400, "body"),
    ],
)
async def test_refusals_and_bad_bodies(
    client: AsyncTestClient[Any],
    writer: dict[str, str],
    queue: dict[str, int],
    body: Any,
    status: int,
    field: str,
) -> None:
    case_id = queue[UNMATCHED]
    error = await post(client, writer, f"/cases/{case_id}/resolve", body, status)
    assert field in [e["field"] for e in error["errors"]], error
    case = (await client.get(f"/api/v1/cases/{case_id}", headers=await reader_of(client))).json()
    assert (case["status"], len(case["history"])) == ("open", 1)


async def reader_of(client: AsyncTestClient[Any]) -> dict[str, str]:
    settings: Settings = client.app.state.settings
    return {"Authorization": f"Bearer {await make_key(settings, 'cases:read')}"}


async def test_state_and_unknown_cases(
    client: AsyncTestClient[Any], writer: dict[str, str], queue: dict[str, int]
) -> None:
    decide = {"user": "duyet", "note": "x"}
    for action in ("approve", "reject", "reopen"):
        await post(client, writer, f"/cases/{queue[OVERPAID]}/{action}", decide, 409)
        await post(client, writer, f"/cases/999999/{action}", decide, 404)
    link = {"user": "ketoan", "resolution": "linked", "note": "x", "dossier_code": EXTRA}
    await post(client, writer, f"/cases/{queue[OVERPAID]}/resolve", link, 409)
    ask = {"user": "duyet", "resolution": "written_off", "note": "Xin xoá"}
    await post(client, writer, f"/cases/{queue[OVERPAID]}/resolve", ask, 200)
    own = await post(client, writer, f"/cases/{queue[OVERPAID]}/approve", decide, 403)
    assert "another approver" in own["detail"]


async def test_acting_needs_the_scope_cases_write(
    client: AsyncTestClient[Any], settings: Settings, queue: dict[str, int]
) -> None:
    body = {"user": "ketoan", "resolution": "accepted", "note": "x"}
    path = f"/cases/{queue[UNMATCHED]}/resolve"
    await post(client, await reader_of(client), path, body, 403)
    await post(client, {}, path, body, 401)


async def test_the_routes_are_documented(client: AsyncTestClient[Any]) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    for path in (
        "/api/v1/cases/{case_id}/resolve",
        "/api/v1/cases/{case_id}/approve",
        "/api/v1/cases/{case_id}/reject",
        "/api/v1/cases/{case_id}/reopen",
        "/api/v1/cases:resolve",
    ):
        operation = paths[path]["post"]
        assert "requestBody" in operation
        assert {"200", "403", "404", "409", "422"} <= set(operation["responses"])
