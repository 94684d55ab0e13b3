"""MoMo e-wallet adapter (DESIGN 2.1): a signed, paged statement per local day.

Every request is signed (lowercase hex HMAC-SHA256 with the partner's secret key) and every
statement page's signature is verified before anything in it is believed. A fresh `requestId`
is made for every attempt, and the answer must echo it.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import msgspec

from adapters.base import (
    DEFAULT_TIMEOUT,
    ChannelAuthError,
    PageSink,
    RetryableAnswer,
    RetryPolicy,
    StatementFormatError,
    hmac_sha256_hex,
    request_with_retry,
    verify_hmac_sha256_hex,
)
from adapters.lines import (
    LineReader,
    NotPlain,
    SuccessTally,
    check_control_totals,
    collect_day,
    decode_json_object,
    item_reader,
    mask_number,
    masked_raw,
    plain_id,
    read_items,
    typed_payload,
)
from recon.domain import (
    MAX_AMOUNT,
    ChannelStatement,
    ControlTotals,
    LineKind,
    LineStatus,
    StatementLine,
    business_day_of,
)

STATEMENT_PATH = "/v2/gateway/api/statement"
QUERY_PATH = "/v2/gateway/api/query"

RESULT_OK = 0
RESULT_AUTH = 11  # bad signature, wrong partner
RESULT_BUSY = 99  # system busy: retried like a 5xx
PENDING_CODES = frozenset({1000, 7000, 7002, 8000, 9000})
# Fields of a query answer under its signature, after accessKey, in this order.
QUERY_ANSWER_SIGNED = (
    "amount", "extraData", "message", "orderId", "partnerCode", "payType",
    "requestId", "responseTime", "resultCode", "transId",
)  # fmt: skip

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _StatementPage(msgspec.Struct, kw_only=True):
    """A successful statement page; unknown fields are tolerated, known ones typed strictly."""

    partnerCode: str
    requestId: str
    date: str
    page: int
    totalPages: int
    totalCount: int
    totalAmount: int
    resultCode: int
    transactions: list[Any]  # each typed by `_lines_of`, which names a bad one
    signature: str
    message: str = ""


class _Txn(msgspec.Struct):
    """The fields of a statement transaction that recon reads, typed as DESIGN 2.1 has them."""

    transId: int | str
    transType: str
    amount: int
    fee: int
    resultCode: int
    responseTime: int
    orderId: str
    refundOf: int | str | None = None
    orderInfo: str | None = None
    payerPhone: str | None = None


def _request_ids() -> Callable[[], str]:
    """Unique request ids, 32 hex digits: a random prefix per adapter and a counter (one
    `os.urandom` per page would cost more than the page's signature)."""
    prefix = uuid.uuid4().hex[:20]
    numbers = itertools.count(1)
    return lambda: f"{prefix}{next(numbers):012x}"


def status_of(result_code: int) -> LineStatus:
    """A transaction's resultCode: 0 success, the pending codes pending, anything else failed."""
    if result_code == RESULT_OK:
        return "success"
    return "pending" if result_code in PENDING_CODES else "failed"


class MomoAdapter:
    """Pulls MoMo statements and spot-checks single orders."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        partner_code: str,
        access_key: str,
        secret_key: str,
        name: str = "momo",
        page_size: int = 500,
        lang: str = "vi",
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy | None = None,
        new_request_id: Callable[[], str] | None = None,
    ) -> None:
        self.name = name
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._partner_code = partner_code
        self._access_key = access_key
        self._secret_key = secret_key
        self._page_size = page_size
        self._lang = lang
        self._timeout = timeout
        self._policy = retry_policy or RetryPolicy()
        self._new_request_id = new_request_id or _request_ids()

    def __repr__(self) -> str:  # never show the keys
        return f"MomoAdapter(name={self.name!r}, base_url={self._base_url!r})"

    async def fetch_day(self, business_day: date) -> ChannelStatement:
        return await collect_day(self, business_day)

    async def stream_day(self, business_day: date, sink: PageSink) -> ControlTotals:
        tally = SuccessTally()
        reported: list[ControlTotals] = []
        page_number, total_pages = 1, 1
        # An empty day is one page saying totalPages 0 or 1; otherwise page until page = total.
        while page_number <= max(total_pages, 1):
            page = await self._fetch_page(business_day, page_number)
            lines = self._lines_of(page, business_day)
            tally.add(lines)
            reported.append(ControlTotals(count=page.totalCount, amount=page.totalAmount))
            total_pages = page.totalPages
            await sink(lines)
            page_number += 1
        return check_control_totals(
            reported=reported,
            received=tally.totals(),
            channel=self.name,
            business_day=business_day,
        )

    async def query_order(self, order_id: str) -> dict[str, Any]:
        """MoMo's query API for one order; the parsed, verified answer.

        Only envelope faults raise (resultCode 11 auth, 99 retried, a bad signature); any other
        resultCode (e.g. 1000 pending, 42 unknown order) is the order's state, returned as is.
        """

        def make_request() -> httpx.Request:
            request_id = self._new_request_id()
            signed = (
                f"accessKey={self._access_key}&orderId={order_id}"
                f"&partnerCode={self._partner_code}&requestId={request_id}"
            )
            body = {
                "partnerCode": self._partner_code,
                "requestId": request_id,
                "orderId": order_id,
                "lang": self._lang,
                "signature": hmac_sha256_hex(self._secret_key, signed),
            }
            return self._post(QUERY_PATH, body)

        def read(response: httpx.Response) -> dict[str, Any]:
            answer = decode_json_object(response.content, channel=self.name, business_day=None)
            self._check_result_code(answer, None)
            # MoMo's public query answer signature; DESIGN 2.1 names the request's only.
            signed = f"accessKey={self._access_key}&" + "&".join(
                f"{key}={answer.get(key, '')}" for key in QUERY_ANSWER_SIGNED
            )
            if not verify_hmac_sha256_hex(self._secret_key, signed, answer.get("signature")):
                raise ChannelAuthError(
                    f"query {order_id!r}: response signature does not verify",
                    channel=self.name,
                    business_day=None,
                )
            self._check_echo(response, answer, None)
            return answer

        return await request_with_retry(
            self._client,
            make_request,
            read,
            channel=self.name,
            business_day=None,
            policy=self._policy,
        )

    # --- one page -------------------------------------------------------------------------

    async def _fetch_page(self, business_day: date, page_number: int) -> _StatementPage:
        def make_request() -> httpx.Request:
            request_id = self._new_request_id()
            day = business_day.isoformat()
            signed = (
                f"accessKey={self._access_key}&date={day}&page={page_number}"
                f"&pageSize={self._page_size}&partnerCode={self._partner_code}"
                f"&requestId={request_id}"
            )
            body = {
                "partnerCode": self._partner_code,
                "requestId": request_id,
                "date": day,
                "page": page_number,
                "pageSize": self._page_size,
                "lang": self._lang,
                "signature": hmac_sha256_hex(self._secret_key, signed),
            }
            return self._post(STATEMENT_PATH, body)

        def read(response: httpx.Response) -> _StatementPage:
            return self._read_page(response, business_day)

        return await request_with_retry(
            self._client,
            make_request,
            read,
            channel=self.name,
            business_day=business_day,
            policy=self._policy,
        )

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Request:
        return self._client.build_request(
            "POST",
            self._base_url + path,
            content=msgspec.json.encode(body),
            headers={"Content-Type": "application/json; charset=UTF-8"},
            timeout=self._timeout,
        )

    def _check_result_code(self, answer: dict[str, Any], business_day: date | None) -> None:
        """Envelope faults come with HTTP 200: 11 is an auth failure, 99 a busy system."""
        code, message = answer.get("resultCode"), answer.get("message", "")
        if code == RESULT_AUTH:
            raise ChannelAuthError(
                f"resultCode 11: {message}", channel=self.name, business_day=business_day
            )
        if code == RESULT_BUSY:
            raise RetryableAnswer(f"resultCode 99: {message}")

    def _check_echo(
        self, response: httpx.Response, echoed: dict[str, Any], business_day: date | None
    ) -> None:
        """The answer must be to this very attempt: same requestId, and orderId or date and page."""
        # Our own request body, parsed back: what this attempt asked for.
        sent = msgspec.json.decode(response.request.content)
        for key in ("requestId", "orderId", "date", "page"):
            if key in sent and echoed.get(key) != sent[key]:
                raise StatementFormatError(
                    f"asked with {key} {sent[key]!r}, answered with {echoed.get(key)!r}",
                    channel=self.name,
                    business_day=business_day,
                )

    def _read_page(self, response: httpx.Response, business_day: date) -> _StatementPage:
        answer = decode_json_object(response.content, channel=self.name, business_day=business_day)
        self._check_result_code(answer, business_day)
        if answer.get("resultCode") != RESULT_OK:
            raise StatementFormatError(
                f"resultCode {answer.get('resultCode')!r}: {answer.get('message', '')}",
                channel=self.name,
                business_day=business_day,
            )
        page = typed_payload(answer, _StatementPage, channel=self.name, business_day=business_day)
        signed = (
            f"accessKey={self._access_key}&date={page.date}&page={page.page}"
            f"&partnerCode={page.partnerCode}&requestId={page.requestId}"
            f"&resultCode={page.resultCode}&totalAmount={page.totalAmount}"
            f"&totalCount={page.totalCount}&totalPages={page.totalPages}"
        )
        if not verify_hmac_sha256_hex(self._secret_key, signed, page.signature):
            raise ChannelAuthError(
                f"page {page.page}: response signature does not verify",
                channel=self.name,
                business_day=business_day,
            )
        self._check_echo(response, answer, business_day)
        return page

    def _lines_of(self, page: _StatementPage, business_day: date) -> list[StatementLine]:
        def careful(index: int, item: Any) -> StatementLine:
            label = f"page {page.page} item {index}"
            return self._line_of(item_reader(item, self.name, business_day, label))

        return read_items(page.transactions, list[_Txn], self._typed_line, careful)

    def _typed_line(self, txn: _Txn, item: dict[str, Any]) -> StatementLine:
        """The fast path: what `_line_of` makes of a well-formed transaction, from its Struct.

        Anything `_line_of` would refuse raises `NotPlain`, and the page is read again the
        slow way, which words the error."""
        txn_id = plain_id(txn.transId)
        if txn.transType == "payment":
            kind: LineKind = "payment"
            refund_of = None
        elif txn.transType == "refund":
            kind, refund_of = "refund", plain_id(txn.refundOf)
        else:
            raise NotPlain
        if not (0 < txn.amount <= MAX_AMOUNT and 0 <= txn.fee <= MAX_AMOUNT):
            raise NotPlain
        paid_at = _EPOCH + timedelta(milliseconds=txn.responseTime)
        if isinstance(txn.payerPhone, str):  # masked once, stored masked in the raw copy too
            payer = mask_number(txn.payerPhone)
            raw = {**item, "payerPhone": payer}
        else:
            payer, raw = None, dict(item)
        return StatementLine(
            channel=self.name,
            channel_txn_id=txn_id,
            amount=txn.amount,
            fee=txn.fee,
            kind=kind,
            status=status_of(txn.resultCode),
            paid_at=paid_at,
            business_day=business_day_of(paid_at),
            order_ref=txn.orderId or None,
            refund_of=refund_of,
            description=txn.orderInfo or "",
            payer=payer,
            raw=raw,
        )

    def _line_of(self, reader: LineReader) -> StatementLine:
        txn_id = reader.identifier("transId")
        reader = reader.named(f"transId {txn_id}")
        trans_type = reader.text("transType")
        if trans_type not in ("payment", "refund"):
            raise reader.error("transType", f"expected 'payment' or 'refund', got {trans_type!r}")
        kind: LineKind = "refund" if trans_type == "refund" else "payment"
        refund_of = reader.identifier("refundOf") if kind == "refund" else None
        # Epoch milliseconds, added as a timedelta: exact, no float rounding.
        paid_at = _EPOCH + timedelta(milliseconds=reader.integer("responseTime"))
        return StatementLine(
            channel=self.name,
            channel_txn_id=txn_id,
            amount=reader.amount("amount"),
            fee=reader.amount("fee", minimum=0),
            kind=kind,
            status=status_of(reader.integer("resultCode")),
            paid_at=paid_at,
            business_day=business_day_of(paid_at),
            order_ref=reader.text("orderId") or None,
            refund_of=refund_of,
            description=reader.text("orderInfo", default=""),
            payer=mask_number(reader.text("payerPhone", default="")),
            raw=masked_raw(reader.item, "payerPhone"),
        )
