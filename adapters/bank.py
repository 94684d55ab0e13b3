"""VietQR transfers seen through a bank-statement aggregator (DESIGN 2.3).

The aggregator lists every movement of the ward's account. Outgoing records (negative amounts)
are read, checked and then ignored; incoming transfers from the configured settlement accounts
are the channels paying the ward (`settlement`), every other incoming transfer is a citizen's
`payment`. The control total is a count only, of every record of the query, outgoing included.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import httpx
import msgspec

from adapters.base import (
    DEFAULT_TIMEOUT,
    PageSink,
    RetryPolicy,
    StatementFormatError,
    request_with_retry,
)
from adapters.lines import (
    LineReader,
    NotPlain,
    check_control_totals,
    collect_day,
    decode_json_object,
    fixed_width_local_time,
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
    StatementLine,
    business_day_of,
)

TRANSACTIONS_PATH = "/v2/transactions"
TIME_LAYOUT = "%Y-%m-%d %H:%M:%S"  # local UTC+7


class _Record(msgspec.Struct):
    """The fields of a record that recon reads, typed as DESIGN 2.3 has them."""

    id: int | str
    amount: int
    when: Any = None  # read only on incoming records
    corresponsiveAccount: str | None = None
    description: str | None = None


class _TransactionsPage(msgspec.Struct, kw_only=True):
    """`data` of one page; unknown fields are tolerated, known ones typed strictly."""

    page: int
    totalRecords: int
    records: list[Any]  # each typed by `_records_of`, which names a bad one
    nextPage: int | None = None  # absent or null: the last page
    pageSize: int | None = None


class _Answer(msgspec.Struct, kw_only=True):
    error: int
    message: str = ""
    data: _TransactionsPage


class BankAdapter:
    """Pulls incoming transfers of the ward's account for one local day."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: str,
        settlement_accounts: Iterable[str] = (),
        name: str = "bank",
        page_size: int = 500,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.name = name
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._settlement_accounts = frozenset(a.strip() for a in settlement_accounts if a.strip())
        self._page_size = page_size
        self._timeout = timeout
        self._policy = retry_policy or RetryPolicy()

    def __repr__(self) -> str:  # never show the key
        return f"BankAdapter(name={self.name!r}, base_url={self._base_url!r})"

    async def fetch_day(self, business_day: date) -> ChannelStatement:
        return await collect_day(self, business_day)

    async def stream_day(self, business_day: date, sink: PageSink) -> ControlTotals:
        record_ids: set[str] = set()  # every record, outgoing too: what totalRecords counts
        reported: list[ControlTotals] = []
        page_number: int | None = 1
        while page_number is not None:
            page = await self._fetch_page(business_day, page_number)
            lines: list[StatementLine] = []
            for record_id, line in self._records_of(page, business_day):
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
        return check_control_totals(
            reported=reported,
            received=ControlTotals(count=len(record_ids), amount=None),
            channel=self.name,
            business_day=business_day,
        )

    async def _fetch_page(self, business_day: date, page_number: int) -> _TransactionsPage:
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

        def read(response: httpx.Response) -> _TransactionsPage:
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
            page = typed_payload(body, _Answer, channel=self.name, business_day=business_day).data
            if page.page != page_number:
                raise StatementFormatError(
                    f"asked for page {page_number}, got page {page.page}",
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

    def _records_of(
        self, page: _TransactionsPage, business_day: date
    ) -> list[tuple[str, StatementLine | None]]:
        def careful(index: int, item: Any) -> tuple[str, StatementLine | None]:
            label = f"page {page.page} item {index}"
            return self._record_of(item_reader(item, self.name, business_day, label))

        return read_items(page.records, list[_Record], self._typed_record, careful)

    def _typed_record(
        self, typed: _Record, item: dict[str, Any]
    ) -> tuple[str, StatementLine | None]:
        """The fast path: what `_record_of` makes of a well-formed record (else `NotPlain`)."""
        record_id = plain_id(typed.id)
        if not (0 < abs(typed.amount) <= MAX_AMOUNT):
            raise NotPlain
        if typed.amount < 0:
            return record_id, None
        if not isinstance(typed.when, str):
            raise NotPlain
        paid_at = fixed_width_local_time(typed.when, TIME_LAYOUT)
        if paid_at is None:
            raise NotPlain
        raw, account = dict(item), (typed.corresponsiveAccount or "").strip()
        if typed.corresponsiveAccount is not None:  # masked in the stored copy too
            raw["corresponsiveAccount"] = mask_number(typed.corresponsiveAccount)
        return record_id, StatementLine(
            channel=self.name,
            channel_txn_id=record_id,
            amount=typed.amount,
            fee=0,
            kind="settlement" if account in self._settlement_accounts else "payment",
            status="success",
            paid_at=paid_at,
            business_day=business_day_of(paid_at),
            description=typed.description or "",
            payer=mask_number(account),
            raw=raw,
        )

    def _record_of(self, reader: LineReader) -> tuple[str, StatementLine | None]:
        """The record's id, and its line, or None for an outgoing record."""
        record_id = reader.identifier("id")
        reader = reader.named(f"id {record_id}")
        amount = reader.amount("amount", signed=True)
        if amount < 0:  # outgoing: counted by totalRecords, no line of ours
            return record_id, None
        paid_at = reader.local_time("when", TIME_LAYOUT)
        account = reader.text("corresponsiveAccount", default="").strip()
        return record_id, StatementLine(
            channel=self.name,
            channel_txn_id=record_id,
            amount=amount,
            fee=0,
            kind="settlement" if account in self._settlement_accounts else "payment",
            status="success",
            paid_at=paid_at,
            business_day=business_day_of(paid_at),
            description=reader.text("description", default=""),
            payer=mask_number(account),
            raw=masked_raw(reader.item, "corresponsiveAccount"),
        )
