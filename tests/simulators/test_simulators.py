"""The simulators, started for real on free localhost ports, speak DESIGN 2.1-2.3.

Signatures are computed here from the spec (not with the simulators' own helpers, and not with
`adapters/`), so a simulator that drifts from the spec fails these tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import msgspec
import pytest

from fixtures.simulators import Credentials, SimulatorSet, run_simulators, spawn_simulators
from fixtures.ward import SETTLEMENT_ACCOUNTS, control_totals

START, END = date(2024, 11, 18), date(2024, 12, 1)
DAY = date(2024, 11, 25)
CAP = 7  # the servers' page cap: far below the 500 the clients ask for
STATEMENT = "/v2/gateway/api/statement"
QUERY = "/v2/gateway/api/query"
PORTAL = "/api/v1/doi-soat/giao-dich"
BANK = "/v2/transactions"


@pytest.fixture(scope="module")
def sims() -> Iterator[SimulatorSet]:
    with run_simulators(start=START, end=END, max_page_size=CAP) as running:
        yield running
    assert not running.running


@pytest.fixture(autouse=True)
def clean(sims: SimulatorSet) -> Iterator[None]:
    sims.reset()
    yield
    sims.reset()


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


# --------------------------------------------------------------------------- spec-side helpers


def hmac_hex(secret: str, raw: str) -> str:
    return hmac.new(secret.encode(), raw.encode(), hashlib.sha256).hexdigest()


def momo_body(
    creds: Credentials,
    day: date | str,
    page: int = 1,
    page_size: int = 500,
    *,
    secret: str | None = None,
    partner: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "partnerCode": partner or creds.momo_partner_code,
        "requestId": str(uuid.uuid4()),
        "date": str(day),
        "page": page,
        "pageSize": page_size,
        "lang": "vi",
    }
    raw = (
        f"accessKey={creds.momo_access_key}&date={body['date']}&page={page}"
        f"&pageSize={page_size}&partnerCode={body['partnerCode']}&requestId={body['requestId']}"
    )
    body["signature"] = hmac_hex(secret or creds.momo_secret_key, raw)
    return body


def momo_signature_ok(creds: Credentials, env: dict[str, Any]) -> bool:
    raw = (
        f"accessKey={creds.momo_access_key}&date={env['date']}&page={env['page']}"
        f"&partnerCode={env['partnerCode']}&requestId={env['requestId']}"
        f"&resultCode={env['resultCode']}&totalAmount={env['totalAmount']}"
        f"&totalCount={env['totalCount']}&totalPages={env['totalPages']}"
    )
    return hmac.compare_digest(env["signature"], hmac_hex(creds.momo_secret_key, raw))


def momo_page(
    client: httpx.Client, sims: SimulatorSet, day: date | str, page: int = 1, **kw: Any
) -> httpx.Response:
    return client.post(sims.momo_url + STATEMENT, json=momo_body(sims.credentials, day, page, **kw))


def momo_all(client: httpx.Client, sims: SimulatorSet, day: date) -> tuple[list[Any], Any, int]:
    page, lines = 1, []
    while True:
        env = msgspec.json.decode(momo_page(client, sims, day, page).content)
        assert env["resultCode"] == 0
        assert momo_signature_ok(sims.credentials, env)
        lines += env["transactions"]
        if env["page"] >= env["totalPages"]:
            return lines, env, page
        page += 1


def portal_get(
    client: httpx.Client,
    sims: SimulatorSet,
    day: date | str,
    cursor: str | None = None,
    limit: int = 500,
    *,
    prefix: str = "",
    secret: str | None = None,
    client_id: str | None = None,
    timestamp: int | None = None,
    target: str | None = None,
) -> httpx.Response:
    creds = sims.credentials
    query = f"ngay={day}" + (f"&cursor={cursor}" if cursor is not None else "") + f"&limit={limit}"
    path_with_query = target or f"{prefix}{PORTAL}?{query}"
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    cid = client_id or creds.portal_client_id
    message = f"{cid}\n{stamp}\n{path_with_query}".encode()
    digest = hmac.new((secret or creds.portal_client_secret).encode(), message, hashlib.sha256)
    headers = {
        "X-Client-Id": cid,
        "X-Timestamp": stamp,
        "X-Signature": base64.b64encode(digest.digest()).decode(),
    }
    return client.get(f"{sims.portal_url}{prefix}{PORTAL}?{query}", headers=headers)


def portal_all(client: httpx.Client, sims: SimulatorSet, day: date) -> tuple[list[Any], Any, int]:
    cursor, items, pages = None, [], 0
    while True:
        response = portal_get(client, sims, day, cursor)
        assert response.status_code == 200, response.text
        body = msgspec.json.decode(response.content)
        items += body["items"]
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            return items, body, pages


def bank_get(
    client: httpx.Client,
    sims: SimulatorSet,
    first: date | str,
    last: date | str | None = None,
    page: int = 1,
    *,
    key: str | None = None,
    sort: str = "ASC",
    size: int = 500,
) -> httpx.Response:
    url = (
        f"{sims.bank_url}{BANK}?fromDate={first}&toDate={last or first}"
        f"&page={page}&pageSize={size}&sort={sort}"
    )
    return client.get(
        url, headers={"Authorization": f"Apikey {key or sims.credentials.bank_api_key}"}
    )


def bank_all(
    client: httpx.Client,
    sims: SimulatorSet,
    first: date,
    last: date | None = None,
    sort: str = "ASC",
) -> tuple[list[Any], Any, int]:
    page, records = 1, []
    while True:
        response = bank_get(client, sims, first, last, page, sort=sort)
        assert response.status_code == 200, response.text
        body = msgspec.json.decode(response.content)
        assert body["error"] == 0
        records += body["data"]["records"]
        if body["data"]["nextPage"] is None:
            return records, body, page
        assert body["data"]["nextPage"] == page + 1
        page += 1


def add_fault(client: httpx.Client, url: str, **fault: Any) -> httpx.Response:
    response = client.post(f"{url}/_sim/faults", json=fault)
    assert response.status_code == 200, response.text
    return response


# --------------------------------------------------------------------------- MoMo


def test_momo_pages_to_the_end_under_the_cap_with_whole_day_totals(
    sims: SimulatorSet, client: httpx.Client
) -> None:
    lines, env, pages = momo_all(client, sims, DAY)
    expected = sims.ward.lines("momo", DAY)
    assert len(expected) > CAP
    assert pages == env["totalPages"] == -(-len(expected) // CAP)
    assert lines == expected
    ok = [t for t in lines if t["resultCode"] == 0]
    assert env["totalCount"] == len(ok)
    assert env["totalAmount"] == sum(t["amount"] for t in ok)
    assert env["date"] == DAY.isoformat()


def test_momo_answers_bad_signature_and_wrong_partner_with_result_code_11(
    sims: SimulatorSet, client: httpx.Client
) -> None:
    wrong: tuple[dict[str, Any], ...] = ({"secret": "not-the-secret"}, {"partner": "SOMEONEELSE"})
    for kw in wrong:
        response = momo_page(client, sims, DAY, **kw)
        assert response.status_code == 200
        env = response.json()
        assert env["resultCode"] == 11
        assert env["transactions"] == []
        assert momo_signature_ok(sims.credentials, env)


def test_momo_rejects_a_malformed_request(sims: SimulatorSet, client: httpx.Client) -> None:
    bad = momo_body(sims.credentials, DAY)
    bad["page"] = "1"
    response = client.post(sims.momo_url + STATEMENT, json=bad)
    assert response.status_code == 400
    assert response.json()["resultCode"] == 20
    assert client.post(sims.momo_url + STATEMENT, content=b"{").status_code == 400
    assert momo_page(client, sims, "2024-13-01").status_code == 400


def test_momo_empty_day_is_one_empty_page(sims: SimulatorSet, client: httpx.Client) -> None:
    env = momo_page(client, sims, date(2023, 1, 1)).json()
    assert (env["resultCode"], env["totalPages"], env["transactions"]) == (0, 1, [])
    assert (env["totalCount"], env["totalAmount"]) == (0, 0)


def test_momo_spot_check_query(sims: SimulatorSet, client: httpx.Client) -> None:
    creds = sims.credentials
    line = next(t for t in sims.ward.lines("momo", DAY) if t["resultCode"] == 0)

    def query(order_id: str, secret: str | None = None) -> dict[str, Any]:
        body = {"partnerCode": creds.momo_partner_code, "requestId": "q-1", "orderId": order_id}
        raw = (
            f"accessKey={creds.momo_access_key}&orderId={order_id}"
            f"&partnerCode={creds.momo_partner_code}&requestId=q-1"
        )
        body["lang"] = "vi"
        body["signature"] = hmac_hex(secret or creds.momo_secret_key, raw)
        response = client.post(sims.momo_url + QUERY, json=body)
        assert response.status_code == 200
        result: dict[str, Any] = response.json()
        return result

    found = query(line["orderId"])
    assert (found["resultCode"], found["transId"], found["amount"]) == (
        0,
        line["transId"],
        line["amount"],
    )
    raw = (
        f"accessKey={creds.momo_access_key}&amount={found['amount']}&extraData={found['extraData']}"
        f"&message={found['message']}&orderId={found['orderId']}&partnerCode={found['partnerCode']}"
        f"&payType={found['payType']}&requestId={found['requestId']}"
        f"&responseTime={found['responseTime']}&resultCode={found['resultCode']}"
        f"&transId={found['transId']}"
    )
    assert found["signature"] == hmac_hex(creds.momo_secret_key, raw)
    assert query("NO-SUCH-ORDER")["resultCode"] == 42
    assert query(line["orderId"], secret="wrong")["resultCode"] == 11


# --------------------------------------------------------------------------- portal


def test_portal_pages_by_cursor_to_the_end_with_whole_day_totals(
    sims: SimulatorSet, client: httpx.Client
) -> None:
    items, body, pages = portal_all(client, sims, DAY)
    expected = sims.ward.lines("portal", DAY)
    assert pages == max(1, -(-len(expected) // CAP))
    assert items == expected
    ok = [i for i in items if i["trangThai"] == "THANH_CONG"]
    assert (body["tongSoGiaoDich"], body["tongSoTien"]) == (len(ok), sum(i["soTien"] for i in ok))
    assert body["ngay"] == DAY.isoformat()
    # the busiest portal day pages more than once
    busiest = max(sims.ward.days(), key=lambda d: len(sims.ward.lines("portal", d)))
    items, _, pages = portal_all(client, sims, busiest)
    assert pages > 1
    assert items == sims.ward.lines("portal", busiest)


def test_portal_authentication(sims: SimulatorSet, client: httpx.Client) -> None:
    now = int(time.time())
    assert portal_get(client, sims, DAY, timestamp=now - 290).status_code == 200
    assert portal_get(client, sims, DAY, timestamp=now - 310).status_code == 401
    assert portal_get(client, sims, DAY, timestamp=now + 310).status_code == 401
    assert portal_get(client, sims, DAY, secret="wrong").status_code == 401
    assert portal_get(client, sims, DAY, client_id="other-client").status_code == 401
    # the signature covers the target exactly as sent: another parameter order is another string
    other_order = f"{PORTAL}?limit=500&ngay={DAY}"
    assert portal_get(client, sims, DAY, target=other_order).status_code == 401
    unsigned = client.get(f"{sims.portal_url}{PORTAL}?ngay={DAY}&limit=500")
    assert unsigned.status_code == 401


def test_portal_signs_the_path_with_the_base_url_prefix(
    sims: SimulatorSet, client: httpx.Client
) -> None:
    response = portal_get(client, sims, DAY, prefix="/relay/portal")
    assert response.status_code == 200
    wrong = portal_get(client, sims, DAY, prefix="/relay/portal", target=f"{PORTAL}?ngay={DAY}")
    assert wrong.status_code == 401


def test_portal_rejects_a_foreign_cursor(sims: SimulatorSet, client: httpx.Client) -> None:
    body = portal_get(client, sims, DAY, limit=2).json()
    assert body["nextCursor"]
    assert portal_get(client, sims, DAY, cursor=body["nextCursor"], limit=2).status_code == 200
    assert portal_get(client, sims, "2024-11-26", cursor=body["nextCursor"]).status_code == 400
    assert portal_get(client, sims, DAY, cursor="forged").status_code == 400


def test_portal_empty_day(sims: SimulatorSet, client: httpx.Client) -> None:
    body = portal_get(client, sims, "2023-01-01").json()
    assert body == {
        "ngay": "2023-01-01",
        "items": [],
        "nextCursor": None,
        "tongSoGiaoDich": 0,
        "tongSoTien": 0,
    }


# --------------------------------------------------------------------------- bank


def test_bank_pages_to_the_end_and_counts_every_record(
    sims: SimulatorSet, client: httpx.Client
) -> None:
    records, body, pages = bank_all(client, sims, DAY)
    expected = sims.ward.lines("bank", DAY)
    assert records == expected
    assert pages == -(-len(expected) // CAP)
    assert body["data"]["totalRecords"] == len(expected)
    assert body["data"]["pageSize"] == CAP
    assert any(r["amount"] < 0 for r in records)  # outgoing counted too
    assert {r["corresponsiveAccount"] for r in records} & set(SETTLEMENT_ACCOUNTS.values())


def test_bank_range_and_sort(sims: SimulatorSet, client: httpx.Client) -> None:
    first, last = date(2024, 11, 24), date(2024, 11, 26)
    asc, body, _ = bank_all(client, sims, first, last)
    days = [first, DAY, last]
    assert asc == [r for d in days for r in sims.ward.lines("bank", d)]
    assert body["data"]["totalRecords"] == len(asc)
    desc, _, _ = bank_all(client, sims, first, last, sort="DESC")
    assert desc == asc[::-1]
    assert bank_get(client, sims, last, first).status_code == 400


def test_bank_api_key(sims: SimulatorSet, client: httpx.Client) -> None:
    assert bank_get(client, sims, DAY, key="wrong").status_code == 401
    url = f"{sims.bank_url}{BANK}?fromDate={DAY}&toDate={DAY}&page=1&pageSize=500&sort=ASC"
    assert client.get(url).status_code == 401
    key = sims.credentials.bank_api_key
    assert client.get(url, headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_bank_empty_day(sims: SimulatorSet, client: httpx.Client) -> None:
    body = bank_get(client, sims, "2023-01-01").json()
    assert body["data"]["records"] == []
    assert body["data"]["nextPage"] is None
    assert body["data"]["totalRecords"] == 0


# --------------------------------------------------------------------------- faults


def statement(client: httpx.Client, sims: SimulatorSet, channel: str) -> httpx.Response:
    if channel == "momo":
        return momo_page(client, sims, DAY)
    if channel == "portal":
        return portal_get(client, sims, DAY)
    return bank_get(client, sims, DAY)


@pytest.mark.parametrize("channel", ["momo", "portal", "bank"])
def test_fail_the_next_n_requests_with_500(
    sims: SimulatorSet, client: httpx.Client, channel: str
) -> None:
    add_fault(client, sims.urls[channel], type="http_500", times=2)
    assert [statement(client, sims, channel).status_code for _ in range(3)] == [500, 500, 200]
    assert client.get(f"{sims.urls[channel]}/_sim/faults").json() == {"faults": []}


@pytest.mark.parametrize("channel", ["momo", "portal", "bank"])
def test_429_with_retry_after(sims: SimulatorSet, client: httpx.Client, channel: str) -> None:
    add_fault(client, sims.urls[channel], type="http_429", times=2, retry_after=3)
    for _ in range(2):
        response = statement(client, sims, channel)
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "3"
    assert statement(client, sims, channel).status_code == 200


def test_momo_bad_response_signature(sims: SimulatorSet, client: httpx.Client) -> None:
    add_fault(client, sims.momo_url, type="bad_signature", times=1)
    env = momo_page(client, sims, DAY).json()
    assert env["resultCode"] == 0
    assert not momo_signature_ok(sims.credentials, env)
    assert momo_signature_ok(sims.credentials, momo_page(client, sims, DAY).json())


@pytest.mark.parametrize("code", [11, 99])
def test_momo_envelope_result_code(sims: SimulatorSet, client: httpx.Client, code: int) -> None:
    add_fault(client, sims.momo_url, type="result_code", code=code, times=1)
    response = momo_page(client, sims, DAY)
    assert response.status_code == 200
    env = response.json()
    assert env["resultCode"] == code
    assert env["transactions"] == []
    assert momo_signature_ok(sims.credentials, env)
    assert momo_page(client, sims, DAY).json()["resultCode"] == 0


@pytest.mark.parametrize("channel", ["momo", "portal", "bank"])
def test_wrong_control_totals(sims: SimulatorSet, client: httpx.Client, channel: str) -> None:
    add_fault(client, sims.urls[channel], type="wrong_totals")
    totals = control_totals(channel, sims.ward.lines(channel, DAY))
    count, amount = totals["count"] or 0, totals["amount"] or 0
    if channel == "momo":
        _, env, _ = momo_all(client, sims, DAY)
        assert (env["totalCount"], env["totalAmount"]) == (count + 1, amount + 10_000)
    elif channel == "portal":
        _, body, _ = portal_all(client, sims, DAY)
        assert (body["tongSoGiaoDich"], body["tongSoTien"]) == (count + 1, amount + 10_000)
    else:
        _, body, _ = bank_all(client, sims, DAY)
        assert body["data"]["totalRecords"] == count + 1


@pytest.mark.parametrize("channel", ["momo", "portal", "bank"])
def test_truncated_body(sims: SimulatorSet, client: httpx.Client, channel: str) -> None:
    add_fault(client, sims.urls[channel], type="truncated", times=1)
    response = statement(client, sims, channel)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    assert statement(client, sims, channel).json()


def test_portal_401(sims: SimulatorSet, client: httpx.Client) -> None:
    add_fault(client, sims.portal_url, type="http_401", times=1)
    assert portal_get(client, sims, DAY).status_code == 401
    assert portal_get(client, sims, DAY).status_code == 200


def test_bank_error(sims: SimulatorSet, client: httpx.Client) -> None:
    add_fault(client, sims.bank_url, type="bank_error", code=5, message="Bảo trì", times=1)
    response = bank_get(client, sims, DAY)
    assert response.status_code == 200
    assert response.json() == {"error": 5, "message": "Bảo trì", "data": None}
    assert bank_get(client, sims, DAY).json()["error"] == 0


@pytest.mark.parametrize("channel", ["momo", "portal", "bank"])
def test_duplicate_line_on_two_pages(
    sims: SimulatorSet, client: httpx.Client, channel: str
) -> None:
    add_fault(client, sims.urls[channel], type="duplicate")
    key = {"momo": "transId", "portal": "maGiaoDich", "bank": "id"}[channel]
    pages: list[list[Any]] = []
    if channel == "momo":
        page = 1
        while True:
            env = momo_page(client, sims, DAY, page).json()
            pages.append(env["transactions"])
            if page >= env["totalPages"]:
                break
            page += 1
        totals = (env["totalCount"], env["totalAmount"])
    elif channel == "portal":
        cursor = None
        while True:
            body = portal_get(client, sims, DAY, cursor).json()
            pages.append(body["items"])
            cursor = body["nextCursor"]
            if cursor is None:
                break
        totals = (body["tongSoGiaoDich"], body["tongSoTien"])
    else:
        page = 1
        while True:
            data = bank_get(client, sims, DAY, page=page).json()["data"]
            pages.append(data["records"])
            if data["nextPage"] is None:
                break
            page += 1
        totals = (data["totalRecords"], None)
    assert pages[0][-1][key] == pages[1][0][key]
    flat = [line for p in pages for line in p]
    distinct = {line[key]: line for line in flat}
    assert len(flat) == len(distinct) + 1
    assert list(distinct.values()) == sims.ward.lines(channel, DAY)
    expected = control_totals(channel, sims.ward.lines(channel, DAY))
    assert totals == (expected["count"], expected["amount"])


def test_duplicate_on_a_day_that_fits_one_page_adds_a_second_page(
    sims: SimulatorSet, client: httpx.Client
) -> None:
    add_fault(client, sims.momo_url, type="duplicate")
    first = momo_page(client, sims, DAY, page_size=500).json()
    client.post(f"{sims.momo_url}/_sim/config", json={"max_page_size": 500})
    first = momo_page(client, sims, DAY, page_size=500).json()
    second = momo_page(client, sims, DAY, page=2, page_size=500).json()
    assert first["totalPages"] == 2
    assert second["transactions"] == first["transactions"][-1:]


def test_a_fault_for_one_day_leaves_the_others_alone(
    sims: SimulatorSet, client: httpx.Client
) -> None:
    add_fault(client, sims.momo_url, type="http_500", date="2024-11-26")
    assert momo_page(client, sims, DAY).status_code == 200
    assert momo_page(client, sims, "2024-11-26").status_code == 500
    assert bank_get(client, sims, DAY).status_code == 200
    add_fault(client, sims.bank_url, type="http_500", date="2024-11-26")
    assert bank_get(client, sims, DAY, "2024-11-27").status_code == 500


def test_delay(sims: SimulatorSet, client: httpx.Client) -> None:
    add_fault(client, sims.bank_url, type="delay", seconds=0.3, times=1)
    began = time.perf_counter()
    assert bank_get(client, sims, DAY).status_code == 200
    assert time.perf_counter() - began >= 0.3


def test_fault_admin_api(sims: SimulatorSet, client: httpx.Client) -> None:
    url = sims.momo_url
    listed = client.post(
        f"{url}/_sim/faults",
        json={"faults": [{"type": "http_500", "times": 1}, {"type": "wrong_totals"}]},
    ).json()["faults"]
    assert [f["type"] for f in listed] == ["http_500", "wrong_totals"]
    assert client.get(f"{url}/_sim/health").json()["faults"] == listed
    assert client.delete(f"{url}/_sim/faults").json() == {"faults": []}
    assert client.post(f"{url}/_sim/faults", json={"type": "nonsense"}).status_code == 400
    assert client.post(f"{url}/_sim/faults", json={"type": "bank_error"}).status_code == 400
    assert (
        client.post(f"{sims.bank_url}/_sim/faults", json={"type": "result_code"}).status_code == 400
    )
    bad_times = {"type": "http_500", "times": 0}
    assert client.post(f"{url}/_sim/faults", json=bad_times).status_code == 400


def test_faults_given_at_start() -> None:
    with (
        run_simulators(
            start=DAY, end=DAY, faults=["momo:http_500:1", "all:http_429:1:retry_after=2"]
        ) as sims,
        httpx.Client() as client,
    ):
        assert momo_page(client, sims, DAY).status_code == 500
        assert momo_page(client, sims, DAY).status_code == 429
        assert momo_page(client, sims, DAY).status_code == 200
        response = bank_get(client, sims, DAY)
        assert (response.status_code, response.headers["Retry-After"]) == (429, "2")
    assert not sims.running


# --------------------------------------------------------------------------- injected days


def test_large_synthetic_day_pages_through_quickly(
    sims: SimulatorSet, client: httpx.Client
) -> None:
    day = "2024-11-20"
    for url in sims.urls.values():
        assert client.post(f"{url}/_sim/config", json={"max_page_size": 500}).status_code == 200
    created = client.post(f"{sims.momo_url}/_sim/days/{day}", json={"count": 100_000}).json()
    assert created["count"] == 100_000
    began = time.perf_counter()
    lines, env, pages = momo_all(client, sims, date.fromisoformat(day))
    elapsed = time.perf_counter() - began
    assert pages == 200
    assert len({t["transId"] for t in lines}) == 100_000
    ok = [t for t in lines if t["resultCode"] == 0]
    assert (env["totalCount"], env["totalAmount"]) == (len(ok), sum(t["amount"] for t in ok))
    assert elapsed < 20, elapsed  # typically a few seconds even on a slow box
    for channel in ("portal", "bank"):
        client.post(f"{sims.urls[channel]}/_sim/days/{day}", json={"count": 5_000})
    items, body, _ = portal_all(client, sims, date.fromisoformat(day))
    assert len(items) == 5_000
    assert body["tongSoGiaoDich"] == sum(1 for i in items if i["trangThai"] == "THANH_CONG")
    records, body, _ = bank_all(client, sims, date.fromisoformat(day))
    assert len(records) == body["data"]["totalRecords"] == 5_000
    got = client.get(f"{sims.momo_url}/_sim/days/{day}/dossiers?offset=7&limit=3").json()
    assert got["total"] == 100_000
    assert [d["payment_refs"] for d in got["dossiers"]] == [[t["orderId"]] for t in lines[7:10]]
    assert [d["fee_amount"] for d in got["dossiers"]] == [t["amount"] for t in lines[7:10]]
    assert client.delete(f"{sims.momo_url}/_sim/days/{day}").json()["synthetic"] is False
    restored, _, _ = momo_all(client, sims, date.fromisoformat(day))
    assert restored == sims.ward.lines("momo", date.fromisoformat(day))


def test_inject_extra_transactions(sims: SimulatorSet, client: httpx.Client) -> None:
    extra = dict(sims.ward.lines("portal", DAY)[0])
    extra.update(maGiaoDich="GD-EXTRA-1", soTien=12_000, trangThai="THANH_CONG")
    answer = client.post(f"{sims.portal_url}/_sim/days/{DAY}", json={"items": [extra]}).json()
    before = control_totals("portal", sims.ward.lines("portal", DAY))
    count, amount = before["count"] or 0, before["amount"] or 0
    assert answer["totals"] == {"count": count + 1, "amount": amount + 12_000}
    items, body, _ = portal_all(client, sims, DAY)
    assert extra in items
    assert body["tongSoTien"] == answer["totals"]["amount"]
    elsewhere = client.post(f"{sims.portal_url}/_sim/days/2024-11-26", json={"items": [extra]})
    assert elsewhere.status_code == 422


def test_admin_dossiers_and_scenarios(sims: SimulatorSet, client: httpx.Client) -> None:
    got = client.get(f"{sims.bank_url}/_sim/dossiers?from=2024-11-24&to=2024-11-25").json()
    assert got["dossiers"] == sims.ward.dossiers_between(date(2024, 11, 24), DAY)
    scenarios = client.get(f"{sims.momo_url}/_sim/scenarios").json()["scenarios"]
    assert scenarios == sims.ward.scenarios
    health = client.get(f"{sims.portal_url}/_sim/health").json()
    assert health["ward"] == {
        "start": "2024-11-18",
        "end": "2024-12-01",
        "seed": 2024,
        "unit_code": "H17.25",
    }
    assert health["max_page_size"] == CAP


# --------------------------------------------------------------------------- lifecycle


def free_port_base() -> int:
    for base in range(20_000, 60_000, 97):
        socks = []
        try:
            for offset in (1, 2, 3):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free ports")


def test_command_line_server_starts_and_stops() -> None:
    base = free_port_base()
    with (
        spawn_simulators(
            port_base=base, start=DAY, end=DAY, faults=["momo:http_500:1"], max_page_size=3
        ) as proc,
        httpx.Client() as client,
    ):
        urls = proc.urls
        assert urls["momo"].endswith(f":{base + 1}")
        assert urls["portal"].endswith(f":{base + 2}")
        assert urls["bank"].endswith(f":{base + 3}")
        body = momo_body(proc.credentials, DAY)
        assert client.post(urls["momo"] + STATEMENT, json=body).status_code == 500
        body = momo_body(proc.credentials, DAY)
        env = client.post(urls["momo"] + STATEMENT, json=body).json()
        assert env["resultCode"] == 0
        assert len(env["transactions"]) == 3
    assert proc.process.returncode is not None
    with pytest.raises(httpx.ConnectError):
        httpx.get(urls["bank"] + "/_sim/health", timeout=1)


def test_threaded_servers_stop_cleanly() -> None:
    with run_simulators(start=DAY, end=DAY) as sims:
        url = sims.bank_url
        assert httpx.get(url + "/_sim/health").status_code == 200
    assert not sims.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/_sim/health", timeout=1)
