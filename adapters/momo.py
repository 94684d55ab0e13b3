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
from typing import Annotated, Any, Generic, TypeVar, Unpack

import httpx
import msgspec

from adapters.base import (
    ChannelAuthError,
    HttpOptions,
    PageSink,
    RetryableAnswer,
    StatementFormatError,
    hmac_sha256_hex,
    verify_hmac_sha256_hex,
)
from adapters.lines import (
    Amount,
    ChannelId,
    Fee,
    HttpAdapter,
    PageItems,
    SuccessTally,
    decode_json_object,
    mask_number,
    typed_payload,
)
from recon.domain import (
    ControlTotals,
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

Txn = TypeVar("Txn")


# epoch milliseconds from 1970 to the last millisecond of 9999-12-31 in Hanoi: a time that
# has a business day
EpochMillis = Annotated[int, msgspec.Meta(ge=0, le=253_402_275_599_999)]


class _StatementPage(msgspec.Struct, Generic[Txn], kw_only=True):
    """A successful statement page; unknown fields are tolerated, known ones typed strictly."""

    partnerCode: str
    requestId: str
    date: str
    page: int
    totalPages: int
    totalCount: int
    totalAmount: int
    resultCode: int
    transactions: list[Txn]
    signature: str
    message: str = ""


class _Payment(msgspec.Struct, kw_only=True, tag_field="transType", tag="payment"):
    """The fields of a statement transaction that recon reads, typed as DESIGN 2.1 has them."""

    transId: ChannelId
    amount: Amount
    fee: Fee
    resultCode: int
    responseTime: EpochMillis
    orderId: str
    orderInfo: str | None = None
    payerPhone: str | None = None


class _Refund(_Payment, kw_only=True, tag="refund"):
    refundOf: ChannelId  # the payment's transId


_Page = _StatementPage[_Payment | _Refund]


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


class MomoAdapter(HttpAdapter):
    """Pulls MoMo statements and spot-checks single orders."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        partner_code: str,
        access_key: str,
        secret_key: str,
        name: str = "momo",
        lang: str = "vi",
        new_request_id: Callable[[], str] | None = None,
        **http: Unpack[HttpOptions],
    ) -> None:
        super().__init__(client, name=name, **http)
        self._partner_code = partner_code
        self._access_key = access_key
        self._secret_key = secret_key
        self._lang = lang
        self._new_request_id = new_request_id or _request_ids()

    async def stream_day(self, business_day: date, sink: PageSink) -> ControlTotals:
        tally = SuccessTally()
        reported: list[ControlTotals] = []
        page_number, total_pages = 1, 1
        # An empty day is one page saying totalPages 0 or 1; otherwise page until page = total.
        while page_number <= max(total_pages, 1):
            page, items = await self._fetch_page(business_day, page_number)
            lines = items.build(page.transactions, self._line_of)
            tally.add(lines)
            reported.append(ControlTotals(count=page.totalCount, amount=page.totalAmount))
            total_pages = page.totalPages
            await sink(lines)
            page_number += 1
        return self._checked_totals(reported, tally.totals(), business_day)

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

        return await self._send(make_request, read, None)

    # --- one page -------------------------------------------------------------------------

    async def _fetch_page(self, business_day: date, page_number: int) -> tuple[_Page, PageItems]:
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

        def read(response: httpx.Response) -> tuple[_Page, PageItems]:
            return self._read_page(response, business_day)

        return await self._send(make_request, read, business_day)

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

    def _read_page(self, response: httpx.Response, business_day: date) -> tuple[_Page, PageItems]:
        answer = decode_json_object(response.content, channel=self.name, business_day=business_day)
        self._check_result_code(answer, business_day)
        if answer.get("resultCode") != RESULT_OK:
            raise StatementFormatError(
                f"resultCode {answer.get('resultCode')!r}: {answer.get('message', '')}",
                channel=self.name,
                business_day=business_day,
            )
        try:
            page = msgspec.convert(answer, _Page, strict=True)
        except msgspec.ValidationError as exc:
            # As on a good page: the envelope first, then its signature and echo, then the line.
            envelope = typed_payload(
                answer, _StatementPage[Any], channel=self.name, business_day=business_day
            )
            self._check_page(envelope, response, answer, business_day)
            raise self._items(envelope, answer, business_day).refusal(exc) from exc
        self._check_page(page, response, answer, business_day)
        return page, self._items(page, answer, business_day)

    def _items(
        self, page: _StatementPage[Any], answer: dict[str, Any], business_day: date
    ) -> PageItems:
        return PageItems(
            answer["transactions"], "$.transactions", "transId", page.page, self.name, business_day
        )

    def _check_page(
        self,
        page: _StatementPage[Any],
        response: httpx.Response,
        answer: dict[str, Any],
        business_day: date,
    ) -> None:
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

    def _line_of(self, txn: _Payment, raw: dict[str, Any]) -> StatementLine:
        # Epoch milliseconds, added as a timedelta: exact, no float rounding.
        paid_at = _EPOCH + timedelta(milliseconds=txn.responseTime)
        payer = mask_number(txn.payerPhone)
        if txn.payerPhone is not None:  # masked once, stored masked in the raw copy too
            raw["payerPhone"] = payer
        return StatementLine(
            channel=self.name,
            channel_txn_id=str(txn.transId),
            amount=txn.amount,
            fee=txn.fee,
            kind="refund" if isinstance(txn, _Refund) else "payment",
            status=status_of(txn.resultCode),
            paid_at=paid_at,
            business_day=business_day_of(paid_at),
            order_ref=txn.orderId or None,
            refund_of=str(txn.refundOf) if isinstance(txn, _Refund) else None,
            description=txn.orderInfo or "",
            payer=payer,
            raw=raw,
        )
