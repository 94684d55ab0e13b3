"""Public-service portal payment platform adapter (DESIGN 2.2): cursor-paged, header-signed GETs.

The signature covers the request target byte for byte, so the URL is written here rather than
left to httpx's query encoding: the opaque cursor is percent-encoded exactly once, and what is
signed is the raw target of the very URL object that goes on the wire.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any, Generic, Literal, TypeVar, Unpack
from urllib.parse import quote

import httpx
import msgspec

from adapters.base import (
    HttpOptions,
    PageSink,
    StatementFormatError,
    hmac_sha256_base64,
)
from adapters.lines import (
    Amount,
    ChannelId,
    Fee,
    HttpAdapter,
    PageItems,
    SuccessTally,
    decode_json_object,
    local_time,
    typed_payload,
)
from recon.domain import (
    ControlTotals,
    LineKind,
    LineStatus,
    StatementLine,
    business_day_of,
)

STATEMENT_PATH = "/api/v1/doi-soat/giao-dich"
TIME_LAYOUT = "%Y%m%d%H%M%S"  # yyyyMMddHHmmss, local UTC+7

STATUS_OF: dict[str, LineStatus] = {
    "THANH_CONG": "success",
    "THAT_BAI": "failed",
    "DANG_XU_LY": "pending",
    "DA_HUY": "reversed",
}
KIND_OF: dict[str, LineKind] = {"THANH_TOAN": "payment", "HOAN_TIEN": "refund"}

Item = TypeVar("Item")


class _StatementPage(msgspec.Struct, Generic[Item], kw_only=True):
    """One page of the day; unknown fields are tolerated, known ones typed strictly."""

    ngay: str
    items: list[Item]
    tongSoGiaoDich: int
    tongSoTien: int
    nextCursor: str | None = None  # absent or null: the last page


class _Item(msgspec.Struct, kw_only=True):
    """The fields of a statement item that recon reads, typed as DESIGN 2.2 has them."""

    maGiaoDich: ChannelId
    loaiGiaoDich: Literal["THANH_TOAN", "HOAN_TIEN"]
    trangThai: Literal["THANH_CONG", "THAT_BAI", "DANG_XU_LY", "DA_HUY"]
    thoiGianThanhToan: str  # yyyyMMddHHmmss, read by `local_time`
    soTien: Amount
    phiGiaoDich: Fee
    maThamChieu: str | None = None
    maHoSo: str | None = None
    noiDung: str | None = None


_Page = _StatementPage[_Item]


class PortalAdapter(HttpAdapter):
    """Pulls the portal payment platform's reconciliation statement (đối soát giao dịch)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        client_id: str,
        client_secret: str,
        name: str = "portal",
        clock: Callable[[], float] = time.time,
        **http: Unpack[HttpOptions],
    ) -> None:
        super().__init__(client, name=name, **http)
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock

    async def stream_day(self, business_day: date, sink: PageSink) -> ControlTotals:
        tally = SuccessTally()
        reported: list[ControlTotals] = []
        cursor: str | None = None
        cursors_seen: set[str] = set()
        page_number = 0
        while True:
            page_number += 1
            page, items = await self._fetch_page(business_day, cursor, page_number)
            lines = items.build(page.items, self._line_of)
            tally.add(lines)
            reported.append(ControlTotals(count=page.tongSoGiaoDich, amount=page.tongSoTien))
            await sink(lines)
            cursor = page.nextCursor
            if cursor is None:
                break
            if cursor in cursors_seen:  # a server handing back an old cursor would loop forever
                raise StatementFormatError(
                    f"page {page_number} repeats an earlier nextCursor",
                    channel=self.name,
                    business_day=business_day,
                )
            cursors_seen.add(cursor)
        return self._checked_totals(reported, tally.totals(), business_day)

    def statement_url(self, business_day: date, cursor: str | None) -> httpx.URL:
        """The page's URL with its query in the order ngay, cursor, limit, cursor encoded once."""
        query = f"ngay={business_day.isoformat()}"
        if cursor is not None:
            query += f"&cursor={quote(cursor, safe='')}"
        query += f"&limit={self._page_size}"
        return httpx.URL(f"{self._base_url}{STATEMENT_PATH}?{query}")

    def signed_headers(self, url: httpx.URL) -> dict[str, str]:
        """X-Client-Id, X-Timestamp and X-Signature over the request target as sent."""
        timestamp = str(int(self._clock()))
        # raw_path is path + "?" + query exactly as httpx writes it on the request line.
        target = url.raw_path.decode("ascii")
        message = f"{self._client_id}\n{timestamp}\n{target}"
        return {
            "X-Client-Id": self._client_id,
            "X-Timestamp": timestamp,
            "X-Signature": hmac_sha256_base64(self._client_secret, message),
        }

    async def _fetch_page(
        self, business_day: date, cursor: str | None, page_number: int
    ) -> tuple[_Page, PageItems]:
        url = self.statement_url(business_day, cursor)

        def make_request() -> httpx.Request:
            request = self._client.build_request("GET", url, timeout=self._timeout)
            # Signed per attempt (a retry after a long wait carries a fresh timestamp), and
            # over the built request's own URL: whatever the client merged in is what is signed.
            request.headers.update(self.signed_headers(request.url))
            return request

        def read(response: httpx.Response) -> tuple[_Page, PageItems]:
            body = decode_json_object(
                response.content, channel=self.name, business_day=business_day
            )
            try:
                page = msgspec.convert(body, _Page, strict=True)
            except msgspec.ValidationError as exc:
                # As on a good page: the envelope and its day first, then the line at fault.
                envelope = typed_payload(
                    body, _StatementPage[Any], channel=self.name, business_day=business_day
                )
                self._check_day(envelope, business_day)
                raise self._items(body, page_number, business_day).refusal(exc) from exc
            self._check_day(page, business_day)
            return page, self._items(body, page_number, business_day)

        return await self._send(make_request, read, business_day)

    def _check_day(self, page: _StatementPage[Any], business_day: date) -> None:
        if page.ngay != business_day.isoformat():
            raise StatementFormatError(
                f"asked for ngay {business_day}, answered for {page.ngay!r}",
                channel=self.name,
                business_day=business_day,
            )

    def _items(self, body: dict[str, Any], page_number: int, business_day: date) -> PageItems:
        return PageItems(
            body["items"], "$.items", "maGiaoDich", page_number, self.name, business_day
        )

    def _line_of(self, item: _Item, raw: dict[str, Any]) -> StatementLine:
        paid_at = local_time(item.thoiGianThanhToan, TIME_LAYOUT, field="thoiGianThanhToan")
        return StatementLine(
            channel=self.name,
            channel_txn_id=str(item.maGiaoDich),
            amount=item.soTien,
            fee=item.phiGiaoDich,
            kind=KIND_OF[item.loaiGiaoDich],
            status=STATUS_OF[item.trangThai],
            paid_at=paid_at,
            business_day=business_day_of(paid_at),
            # A refund names its payment by carrying the payment's order ref: no refund_of here.
            order_ref=(item.maThamChieu or "").strip() or None,
            dossier_hint=(item.maHoSo or "").strip() or None,
            description=item.noiDung or "",
            raw=raw,
        )
