"""VietQR transfers seen through a bank-statement aggregator (DESIGN 2.3).

The aggregator lists every movement of the ward's account. Outgoing records (negative amounts)
are read, checked and then ignored; incoming transfers from the configured settlement accounts
are the channels paying the ward (`settlement`), every other incoming transfer is a citizen's
`payment`. The control total is a count only, of every record of the query, outgoing included.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Annotated, Any, Generic, TypeVar, Unpack

import httpx
import msgspec
from msgspec import Meta

from adapters.base import (
    HttpOptions,
    PageSink,
    StatementFormatError,
)
from adapters.lines import (
    ChannelId,
    FieldFault,
    HttpAdapter,
    PageItems,
    decode_json_object,
    local_time,
    mask_number,
    typed_payload,
)
from recon.domain import (
    MAX_AMOUNT,
    ControlTotals,
    StatementLine,
    business_day_of,
)

TRANSACTIONS_PATH = "/v2/transactions"
TIME_LAYOUT = "%Y-%m-%d %H:%M:%S"  # local UTC+7

Record = TypeVar("Record")


class _Record(msgspec.Struct, kw_only=True):
    """The fields of a record that recon reads, typed as DESIGN 2.3 has them.

    An outgoing record (amount < 0) is judged on its id and amount alone: the fields read only
    on incoming transfers are typed by `_incoming_text` and `local_time` after decoding."""

    id: ChannelId
    amount: Annotated[int, Meta(ge=-MAX_AMOUNT, le=MAX_AMOUNT)]  # not 0: see `_record_of`
    when: object = None
    corresponsiveAccount: object = None
    description: object = None


class _TransactionsPage(msgspec.Struct, Generic[Record], kw_only=True):
    """`data` of one page; unknown fields are tolerated, known ones typed strictly."""

    page: int
    totalRecords: int
    records: list[Record]
    nextPage: int | None = None  # absent or null: the last page
    pageSize: int | None = None


class _Answer(msgspec.Struct, Generic[Record], kw_only=True):
    error: int
    message: str = ""
    data: _TransactionsPage[Record]


_Page = _TransactionsPage[_Record]


def _incoming_text(value: object, field: str) -> str:
    """A text field of an incoming transfer: absent or null is empty."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FieldFault(field, f"expected a string, got {value!r}")
    return value


class BankAdapter(HttpAdapter):
    """Pulls incoming transfers of the ward's account for one local day."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_key: str,
        settlement_accounts: Iterable[str] = (),
        name: str = "bank",
        **http: Unpack[HttpOptions],
    ) -> None:
        super().__init__(client, name=name, **http)
        self._api_key = api_key
        self._settlement_accounts = frozenset(a.strip() for a in settlement_accounts if a.strip())

    async def stream_day(self, business_day: date, sink: PageSink) -> ControlTotals:
        record_ids: set[str] = set()  # every record, outgoing too: what totalRecords counts
        reported: list[ControlTotals] = []
        page_number: int | None = 1
        while page_number is not None:
            page, items = await self._fetch_page(business_day, page_number)
            lines: list[StatementLine] = []
            for record_id, line in items.build(page.records, self._record_of):
                record_ids.add(record_id)
                if line is not None:
                    lines.append(line)
            reported.append(ControlTotals(count=page.totalRecords, amount=None))
            if page.nextPage is not None and page.nextPage <= page_number:
                raise StatementFormatError(
                    f"page {page_number} points back to page {page.nextPage}",
                    channel=self.name,
                    business_day=business_day,
                )
            await sink(lines)
            page_number = page.nextPage
        return self._checked_totals(
            reported, ControlTotals(count=len(record_ids), amount=None), business_day
        )

    async def _fetch_page(self, business_day: date, page_number: int) -> tuple[_Page, PageItems]:
        day = business_day.isoformat()
        params = httpx.QueryParams(
            [
                ("fromDate", day),
                ("toDate", day),
                ("page", page_number),
                ("pageSize", self._page_size),
                ("sort", "ASC"),
            ]
        )

        def make_request() -> httpx.Request:
            return self._client.build_request(
                "GET",
                self._base_url + TRANSACTIONS_PATH,
                params=params,
                headers={"Authorization": f"Apikey {self._api_key}"},
                timeout=self._timeout,
            )

        def read(response: httpx.Response) -> tuple[_Page, PageItems]:
            body = decode_json_object(
                response.content, channel=self.name, business_day=business_day
            )
            # `error` comes with HTTP 200 and may carry no `data` at all: look before typing.
            if body.get("error") != 0:
                raise StatementFormatError(
                    f"error {body.get('error')!r}: {body.get('message', '')}",
                    channel=self.name,
                    business_day=business_day,
                )
            try:
                page = msgspec.convert(body, _Answer[_Record], strict=True).data
            except msgspec.ValidationError as exc:
                # As on a good page: the envelope and its page number first, then the record.
                envelope = typed_payload(
                    body, _Answer[Any], channel=self.name, business_day=business_day
                ).data
                self._check_page_number(envelope, page_number, business_day)
                raise self._items(body, page_number, business_day).refusal(exc) from exc
            self._check_page_number(page, page_number, business_day)
            return page, self._items(body, page_number, business_day)

        return await self._send(make_request, read, business_day)

    def _check_page_number(
        self, page: _TransactionsPage[Any], page_number: int, business_day: date
    ) -> None:
        if page.page != page_number:
            raise StatementFormatError(
                f"asked for page {page_number}, got page {page.page}",
                channel=self.name,
                business_day=business_day,
            )

    def _items(self, body: dict[str, Any], page_number: int, business_day: date) -> PageItems:
        records = body["data"]["records"]
        return PageItems(records, "$.data.records", "id", page_number, self.name, business_day)

    def _record_of(self, record: _Record, raw: dict[str, Any]) -> tuple[str, StatementLine | None]:
        """The record's id, and its line, or None for an outgoing record."""
        record_id = str(record.id)
        if record.amount == 0:
            raise FieldFault("amount", f"amount 0 outside 0 < |amount| <= {MAX_AMOUNT}")
        if record.amount < 0:  # outgoing: counted by totalRecords, no line of ours
            return record_id, None
        paid_at = local_time(record.when, TIME_LAYOUT, field="when")
        account = _incoming_text(record.corresponsiveAccount, "corresponsiveAccount")
        description = _incoming_text(record.description, "description")
        if isinstance(record.corresponsiveAccount, str):  # masked in the stored copy too
            raw["corresponsiveAccount"] = mask_number(account)
        account = account.strip()
        return record_id, StatementLine(
            channel=self.name,
            channel_txn_id=record_id,
            amount=record.amount,
            fee=0,
            kind="settlement" if account in self._settlement_accounts else "payment",
            status="success",
            paid_at=paid_at,
            business_day=business_day_of(paid_at),
            description=description,
            payer=mask_number(account),
            raw=raw,
        )
