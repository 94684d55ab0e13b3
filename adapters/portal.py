"""Public-service portal payment platform adapter (DESIGN 2.2): cursor-paged, header-signed GETs.

The signature covers the request target byte for byte, so the URL is written here rather than
left to httpx's query encoding: the opaque cursor is percent-encoded exactly once, and what is
signed is the raw target of the very URL object that goes on the wire.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import quote

import httpx
import msgspec

from adapters.base import (
    DEFAULT_TIMEOUT,
    PageSink,
    RetryPolicy,
    StatementFormatError,
    hmac_sha256_base64,
    request_with_retry,
)
from adapters.lines import (
    LineReader,
    NotPlain,
    SuccessTally,
    check_control_totals,
    collect_day,
    decode_json_object,
    fixed_width_local_time,
    item_reader,
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

STATEMENT_PATH = "/api/v1/doi-soat/giao-dich"
TIME_LAYOUT = "%Y%m%d%H%M%S"  # yyyyMMddHHmmss, local UTC+7

STATUS_OF: dict[str, LineStatus] = {
    "THANH_CONG": "success",
    "THAT_BAI": "failed",
    "DANG_XU_LY": "pending",
    "DA_HUY": "reversed",
}
KIND_OF: dict[str, LineKind] = {"THANH_TOAN": "payment", "HOAN_TIEN": "refund"}


class _StatementPage(msgspec.Struct, kw_only=True):
    """One page of the day; unknown fields are tolerated, known ones typed strictly."""

    ngay: str
    items: list[Any]  # each typed by `_lines_of`, which names a bad one
    tongSoGiaoDich: int
    tongSoTien: int
    nextCursor: str | None = None  # absent or null: the last page


class _Item(msgspec.Struct):
    """The fields of a statement item that recon reads, typed as DESIGN 2.2 has them."""

    maGiaoDich: int | str
    loaiGiaoDich: str
    trangThai: str
    thoiGianThanhToan: str
    soTien: int
    phiGiaoDich: int
    maThamChieu: str | None = None
    maHoSo: str | None = None
    noiDung: str | None = None


class PortalAdapter:
    """Pulls the portal payment platform's reconciliation statement (đối soát giao dịch)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        client_id: str,
        client_secret: str,
        name: str = "portal",
        page_size: int = 500,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._page_size = page_size
        self._timeout = timeout
        self._policy = retry_policy or RetryPolicy()
        self._clock = clock

    def __repr__(self) -> str:  # never show the secret
        return f"PortalAdapter(name={self.name!r}, base_url={self._base_url!r})"

    async def fetch_day(self, business_day: date) -> ChannelStatement:
        return await collect_day(self, business_day)

    async def stream_day(self, business_day: date, sink: PageSink) -> ControlTotals:
        tally = SuccessTally()
        reported: list[ControlTotals] = []
        cursor: str | None = None
        cursors_seen: set[str] = set()
        page_number = 0
        while True:
            page_number += 1
            page = await self._fetch_page(business_day, cursor)
            lines = self._lines_of(page, business_day, page_number)
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
        return check_control_totals(
            reported=reported,
            received=tally.totals(),
            channel=self.name,
            business_day=business_day,
        )

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

    async def _fetch_page(self, business_day: date, cursor: str | None) -> _StatementPage:
        url = self.statement_url(business_day, cursor)

        def make_request() -> httpx.Request:
            request = self._client.build_request("GET", url, timeout=self._timeout)
            # Signed per attempt (a retry after a long wait carries a fresh timestamp), and
            # over the built request's own URL: whatever the client merged in is what is signed.
            request.headers.update(self.signed_headers(request.url))
            return request

        def read(response: httpx.Response) -> _StatementPage:
            body = decode_json_object(
                response.content, channel=self.name, business_day=business_day
            )
            page = typed_payload(body, _StatementPage, channel=self.name, business_day=business_day)
            if page.ngay != business_day.isoformat():
                raise StatementFormatError(
                    f"asked for ngay {business_day}, answered for {page.ngay!r}",
                    channel=self.name,
                    business_day=business_day,
                )
            return page

        return await request_with_retry(
            self._client,
            make_request,
            read,
            channel=self.name,
            business_day=business_day,
            policy=self._policy,
        )

    def _lines_of(
        self, page: _StatementPage, business_day: date, page_number: int
    ) -> list[StatementLine]:
        def careful(index: int, item: Any) -> StatementLine:
            label = f"page {page_number} item {index}"
            return self._line_of(item_reader(item, self.name, business_day, label))

        return read_items(page.items, list[_Item], self._typed_line, careful)

    def _typed_line(self, typed: _Item, item: dict[str, Any]) -> StatementLine:
        """The fast path: what `_line_of` makes of a well-formed item (else `NotPlain`)."""
        txn_id = plain_id(typed.maGiaoDich)
        kind, status = KIND_OF.get(typed.loaiGiaoDich), STATUS_OF.get(typed.trangThai)
        paid_at = fixed_width_local_time(typed.thoiGianThanhToan, TIME_LAYOUT)
        if kind is None or status is None or paid_at is None:
            raise NotPlain
        if not (0 < typed.soTien <= MAX_AMOUNT and 0 <= typed.phiGiaoDich <= MAX_AMOUNT):
            raise NotPlain
        return StatementLine(
            channel=self.name,
            channel_txn_id=txn_id,
            amount=typed.soTien,
            fee=typed.phiGiaoDich,
            kind=kind,
            status=status,
            paid_at=paid_at,
            business_day=business_day_of(paid_at),
            order_ref=(typed.maThamChieu or "").strip() or None,
            dossier_hint=(typed.maHoSo or "").strip() or None,
            description=typed.noiDung or "",
            raw=dict(item),
        )

    def _line_of(self, reader: LineReader) -> StatementLine:
        txn_id = reader.identifier("maGiaoDich")
        reader = reader.named(f"maGiaoDich {txn_id}")
        kind_code, status_code = reader.text("loaiGiaoDich"), reader.text("trangThai")
        if kind_code not in KIND_OF:
            raise reader.error("loaiGiaoDich", f"unknown transaction type {kind_code!r}")
        if status_code not in STATUS_OF:
            raise reader.error("trangThai", f"unknown status {status_code!r}")
        paid_at = reader.local_time("thoiGianThanhToan", TIME_LAYOUT)
        return StatementLine(
            channel=self.name,
            channel_txn_id=txn_id,
            amount=reader.amount("soTien"),
            fee=reader.amount("phiGiaoDich", minimum=0),
            kind=KIND_OF[kind_code],
            status=STATUS_OF[status_code],
            paid_at=paid_at,
            business_day=business_day_of(paid_at),
            # A refund names its payment by carrying the payment's order ref: no refund_of here.
            order_ref=reader.text("maThamChieu", default="").strip() or None,
            dossier_hint=reader.text("maHoSo", default="").strip() or None,
            description=reader.text("noiDung", default=""),
            raw=dict(reader.item),
        )
