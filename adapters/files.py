"""Statement files (DESIGN 2.4): CSV or XLSX, in canonical columns or a channel's native export.

`statement_batches` reads a file a batch of lines at a time; once a row is bad it yields no
more lines, reads on to find every other bad row, and raises `FileRejected` naming them all
(`row` = the row number a spreadsheet shows, `column` = the header as written in the file): the
importer rolls back what it stored of the batches before. `parse_statement_file` returns a whole
file's lines. An XLSX sheet is turned into CSV text first (whole: the workbook is a ZIP), so
that one reader (`recon.rows.CsvReader`) numbers rows and checks headers for both.

`mapping` picks how columns are read:

* None: the canonical columns `channel_txn_id,order_ref,amount,fee,kind,status,paid_at,
  description,payer`; any other column rejects the file (a typo must not pass silently).
* a dict `{canonical column: column in the file}`: renames; a canonical column left out is read
  under its own name; one file column feeds one canonical column; values follow the canonical
  grammar; other file columns are ignored (but kept in `raw`).
* a name from `SHIPPED_MAPPINGS` (so far `"vnpay"`): a channel's native export.

VNPay export (`vnpay`): `vnp_TransactionNo` → channel_txn_id, `vnp_TxnRef` → order_ref (a
refund carries its payment's TxnRef), `vnp_Amount` VND × 100 (digits, a multiple of 100),
`vnp_PayDate` `yyyyMMddHHmmss` local time, `vnp_OrderInfo` → description, fee 0; every column,
`vnp_BankCode` and `vnp_CardType` included, is kept in `raw`. `vnp_TransactionType`: `01` (or
absent/empty) payment, `02` (full) / `03` (partial) refund; a code a spreadsheet turned into a
number (0, 1) is read as 00, 01. The status is decided by `vnp_TransactionStatus`;
`vnp_ResponseCode` only confirms a success:

    TransactionStatus  ResponseCode  status
    00                 00            success
    00                 other (24 …)  failed    (VNPay's own result refuses the payment)
    01                 any           pending   (not completed yet)
    02                 any           failed
    04                 any           reversed  (giao dịch đảo)
    05, 06, 07         any           pending   (refund in progress; held as suspected fraud)
    09                 any           failed    (refund declined)
    anything else      -             the row is rejected, naming vnp_TransactionStatus
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import BinaryIO, NamedTuple, TypeVar

import openpyxl

from adapters.lines import mask_number
from recon.domain import (
    LINE_KINDS,
    LINE_STATUSES,
    LOCAL_TZ,
    LineKind,
    LineStatus,
    StatementLine,
    as_utc,
    business_day_of,
)
from recon.rows import CsvReader, FileRejected, RowError, parse_moment, parse_vnd

CANONICAL_COLUMNS = (
    "channel_txn_id",
    "order_ref",
    "amount",
    "fee",
    "kind",
    "status",
    "paid_at",
    "description",
    "payer",
)
REQUIRED_COLUMNS = ("channel_txn_id", "amount", "kind", "status", "paid_at")
# the widths of the statement_lines columns: a longer value is a row error, not a DB error
ID_LIMIT = 128
PAYER_LIMIT = 64
_PLACEHOLDER_TIME = datetime(2000, 1, 1, tzinfo=UTC)  # stands in for a bad time in a bad row
BATCH = 10_000  # lines read and handed on at a time
_S = TypeVar("_S", bound=str)
_T = TypeVar("_T")


class _Fields(NamedTuple):
    """A row's canonical values; meaningful only when the row recorded no error."""

    channel_txn_id: str
    order_ref: str | None
    amount: int
    fee: int
    kind: LineKind
    status: LineStatus
    paid_at: datetime
    description: str = ""
    payer: str | None = None


class _Row:
    """One data row: its cells by lowercased header, and the errors found in it so far."""

    def __init__(self, number: int, cells: dict[str, str], names: Mapping[str, str]) -> None:
        self.number = number
        self.cells = cells
        self.names = names  # lowercased header → header as written in the file
        self.errors: list[RowError] = []

    def bad(self, column: str, reason: str) -> None:
        self.errors.append(RowError(self.number, self.names.get(column, column), reason))

    def text(self, column: str, *, required: bool = False, limit: int | None = None) -> str:
        value = self.cells.get(column, "").strip()
        if required and not value:
            self.bad(column, "required")
        elif limit is not None and len(value) > limit:
            self.bad(column, f"longer than {limit} characters")
        return value

    def parsed(self, column: str, parse: Callable[[str], _T], fallback: _T) -> _T:
        try:
            return parse(self.cells.get(column, ""))
        except ValueError as exc:
            self.bad(column, str(exc))
            return fallback

    def choice(self, column: str, options: tuple[_S, ...]) -> _S:
        value = self.text(column, required=True)
        for option in options:
            if option == value.lower():
                return option
        if value:
            self.bad(column, f"{value!r} is not one of {', '.join(options)}")
        return options[0]


@dataclass(frozen=True)
class Layout:
    """How one kind of file is read: the file columns it needs and how a row becomes values.

    Column names are kept as a person writes them (for messages) and matched case-insensitively.
    """

    required: tuple[str, ...]
    optional: tuple[str, ...]
    id_column: str  # the file column holding channel_txn_id: a value twice rejects the file
    convert: Callable[[_Row], _Fields]
    strict: bool = False  # reject file columns the layout does not read
    payer_column: str | None = None  # masked in `raw` as well as in `payer`
    # given the file's column positions, a reader of a row's cells that takes only rows whose
    # every value is plainly good and returns None for any other (which `convert` then reads,
    # naming each fault): most rows skip the per-cell bookkeeping
    fast: Callable[[Mapping[str, int]], Callable[[Sequence[str]], _Fields | None]] | None = None


# --- canonical columns (renamed or not) ------------------------------------------------------


def _canonical_fields(row: _Row, columns: Mapping[str, str]) -> _Fields:
    col = columns  # canonical → lowercased file column
    fee = row.parsed(col["fee"], parse_vnd, 0) if row.text(col["fee"]) else 0  # empty: none
    payer = row.text(col["payer"], limit=PAYER_LIMIT)
    return _Fields(
        channel_txn_id=row.text(col["channel_txn_id"], required=True, limit=ID_LIMIT),
        order_ref=row.text(col["order_ref"], limit=ID_LIMIT) or None,
        amount=row.parsed(col["amount"], partial(parse_vnd, allow_zero=False), 0),
        fee=fee,
        kind=row.choice(col["kind"], LINE_KINDS),
        status=row.choice(col["status"], LINE_STATUSES),
        paid_at=row.parsed(col["paid_at"], parse_moment, _PLACEHOLDER_TIME),
        description=row.text(col["description"]),
        payer=mask_number(payer),
    )


_KINDS: dict[str, LineKind] = {kind: kind for kind in LINE_KINDS}
_STATUSES: dict[str, LineStatus] = {status: status for status in LINE_STATUSES}


def _canonical_fast(
    index: Mapping[str, int], columns: Mapping[str, str]
) -> Callable[[Sequence[str]], _Fields | None]:
    """`_canonical_fields` for rows without a fault, or None (tests: the same fields)."""
    # the header has been checked: every required column is there
    txn_at, amount_at, kind_at, status_at, paid_at_at = (
        index[columns[name]] for name in REQUIRED_COLUMNS
    )
    ref_at, fee_at, description_at, payer_at = (
        index.get(columns[name]) for name in CANONICAL_COLUMNS if name not in REQUIRED_COLUMNS
    )

    def fields(cells: Sequence[str]) -> _Fields | None:
        txn = cells[txn_at].strip()
        ref = "" if ref_at is None else cells[ref_at].strip()
        payer = "" if payer_at is None else cells[payer_at].strip()
        kind = _KINDS.get(cells[kind_at].strip().lower())
        status = _STATUSES.get(cells[status_at].strip().lower())
        if (
            not txn
            or len(txn) > ID_LIMIT
            or len(ref) > ID_LIMIT
            or len(payer) > PAYER_LIMIT
            or kind is None
            or status is None
        ):
            return None
        fee_text = "" if fee_at is None else cells[fee_at]
        try:
            amount = parse_vnd(cells[amount_at], allow_zero=False)
            fee = parse_vnd(fee_text) if fee_text.strip() else 0
            paid_at = parse_moment(cells[paid_at_at])
        except ValueError:
            return None
        description = "" if description_at is None else cells[description_at].strip()
        # positional: a NamedTuple built by keyword costs twice as much
        return _Fields(
            txn, ref or None, amount, fee, kind, status, paid_at, description, mask_number(payer)
        )

    return fields


def _renamed(mapping: Mapping[str, str], *, strict: bool) -> Layout:
    unknown = sorted(set(mapping) - set(CANONICAL_COLUMNS))
    if unknown:
        raise ValueError(
            f"the statement mapping names unknown canonical columns {', '.join(unknown)}; "
            f"the canonical columns are {', '.join(CANONICAL_COLUMNS)}"
        )
    for canonical, column in mapping.items():
        if not isinstance(column, str) or not column.strip():
            raise ValueError(f"the statement mapping gives {canonical!r} no file column name")
    written = {name: mapping.get(name, name).strip() for name in CANONICAL_COLUMNS}
    columns = {name: column.lower() for name, column in written.items()}
    # one file column, one meaning: {"amount": "fee"} must not also read `fee` as the fee
    readers: dict[str, str] = {}
    for name, column in columns.items():
        if readers.setdefault(column, name) != name:
            raise ValueError(
                f"the statement mapping reads file column {written[name]!r} "
                f"as both {readers[column]} and {name}"
            )
    return Layout(
        required=tuple(written[name] for name in REQUIRED_COLUMNS),
        optional=tuple(written[n] for n in CANONICAL_COLUMNS if n not in REQUIRED_COLUMNS),
        id_column=columns["channel_txn_id"],
        convert=partial(_canonical_fields, columns=columns),
        strict=strict,
        payer_column=columns["payer"],
        fast=partial(_canonical_fast, columns=columns),
    )


# --- VNPay native export (the table is in the module docstring) -------------------------------

_VNPAY_STATUS: dict[str, LineStatus] = {
    "01": "pending",
    "02": "failed",
    "04": "reversed",
    "05": "pending",
    "06": "pending",
    "07": "pending",
    "09": "failed",
}
_VNPAY_KIND: dict[str, LineKind] = {"": "payment", "01": "payment", "02": "refund", "03": "refund"}


def _vnpay_amount(text: str) -> int:
    value = text.strip()
    if not (value.isdigit() and value.isascii()):
        raise ValueError(f"{value!r} is not digits: VND × 100" if value else "required")
    if int(value) % 100:
        raise ValueError(f"{value!r} is not a multiple of 100: vnp_Amount is VND × 100")
    return parse_vnd(str(int(value) // 100), allow_zero=False)


def _vnpay_time(text: str) -> datetime:
    value = text.strip()
    # strptime alone would take fewer digits ("2025112493000"): insist on all fourteen
    if len(value) == 14 and value.isdigit() and value.isascii():
        with contextlib.suppress(ValueError):
            return as_utc(datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=LOCAL_TZ))
    raise ValueError(f"{value!r} is not a local time as yyyyMMddHHmmss" if value else "required")


def _vnpay_code(row: _Row, column: str, *, required: bool = True) -> str:
    code = row.text(column, required=required)
    # a spreadsheet that took the column for numbers turned "00" into 0 and "01" into 1
    return code.zfill(2) if len(code) == 1 and code.isdigit() else code


def _vnpay_status(row: _Row) -> LineStatus:
    code = _vnpay_code(row, "vnp_transactionstatus")
    response = _vnpay_code(row, "vnp_responsecode")
    if code == "00":
        return "success" if response == "00" else "failed"
    if code in _VNPAY_STATUS:
        return _VNPAY_STATUS[code]
    if code:
        known = ", ".join(["00", *_VNPAY_STATUS])
        row.bad("vnp_transactionstatus", f"{code!r} is not a known VNPay status ({known})")
    return "failed"


def _vnpay_fields(row: _Row) -> _Fields:
    kind_code = _vnpay_code(row, "vnp_transactiontype", required=False)
    kind = _VNPAY_KIND.get(kind_code)
    if kind is None:
        row.bad("vnp_transactiontype", f"{kind_code!r} is not 01 (payment), 02 or 03 (refund)")
    return _Fields(
        channel_txn_id=row.text("vnp_transactionno", required=True, limit=ID_LIMIT),
        order_ref=row.text("vnp_txnref", limit=ID_LIMIT) or None,
        amount=row.parsed("vnp_amount", _vnpay_amount, 0),
        fee=0,
        kind=kind or "payment",
        status=_vnpay_status(row),
        paid_at=row.parsed("vnp_paydate", _vnpay_time, _PLACEHOLDER_TIME),
        description=row.text("vnp_orderinfo"),
    )


_VNPAY = Layout(
    required=(
        "vnp_TransactionNo",
        "vnp_TxnRef",
        "vnp_Amount",
        "vnp_PayDate",
        "vnp_ResponseCode",
        "vnp_TransactionStatus",
    ),
    optional=("vnp_TransactionType", "vnp_OrderInfo", "vnp_BankCode", "vnp_CardType"),
    id_column="vnp_transactionno",
    convert=_vnpay_fields,
)

# Native exports shipped with the product, by the name a channel's `mapping` gives.
SHIPPED_MAPPINGS: dict[str, Layout] = {"vnpay": _VNPAY}
_CANONICAL = _renamed({}, strict=True)


def resolve_mapping(mapping: str | Mapping[str, str] | None) -> Layout:
    """The layout a channel's `mapping` setting means; ValueError for a mapping that cannot be."""
    if mapping is None:
        return _CANONICAL
    if isinstance(mapping, str):
        layout = SHIPPED_MAPPINGS.get(mapping.strip().lower())
        if layout is None:
            shipped = ", ".join(sorted(SHIPPED_MAPPINGS))
            raise ValueError(f"unknown statement mapping {mapping!r}; shipped mappings: {shipped}")
        return layout
    return _renamed(mapping, strict=False)


# --- reading the file ------------------------------------------------------------------------


def _cell_text(value: object) -> str:
    """An XLSX cell as the text a CSV export of it would hold."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        # spreadsheets store every number as a float: 1500.0 is the whole number 1500
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat()  # naive: local time, as a CSV time without an offset
    return str(value)  # a fractional float stays "1.5", which the money grammar refuses


def _xlsx_as_csv(data: bytes) -> bytes:
    """The first sheet as CSV, one line per sheet row, so row numbers stay the sheet's."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            sheet.reset_dimensions()  # exporters often write a wrong <dimension>: read every cell
            width: int | None = None  # the header's
            for values in sheet.iter_rows(min_row=1, values_only=True):
                cells = [_cell_text(value) for value in values]
                while len(cells) > (width or 0) and not cells[-1].strip():
                    cells.pop()  # empty trailing cells are formatting, not fields
                width = len(cells) if width is None else width
                writer.writerow(cells + [""] * (width - len(cells)))
        finally:
            book.close()
    except Exception as exc:  # a damaged workbook fails in many ways: zip, XML read lazily, …
        reason = f"not a readable XLSX workbook ({type(exc).__name__}: {exc})"
        raise FileRejected([RowError(None, None, reason)]) from None
    return out.getvalue().encode()


def _table_stream(name: str, source: BinaryIO) -> BinaryIO:
    """The file as CSV bytes: itself, or an XLSX workbook's first sheet turned into CSV."""
    lowered = name.lower()
    head = source.read(8)
    source.seek(0)
    if lowered.endswith(".xlsx") or head.startswith(b"PK\x03\x04"):
        return io.BytesIO(_xlsx_as_csv(source.read()))
    if lowered.endswith(".xls") or head.startswith(b"\xd0\xcf\x11\xe0"):
        reason = "an old Excel .xls workbook: save it as .xlsx or CSV (UTF-8)"
        raise FileRejected([RowError(None, None, reason)])
    return source


def parse_statement_file(
    name: str,
    data: bytes,
    *,
    channel: str,
    mapping: str | dict[str, str] | None = None,
) -> list[StatementLine]:
    """Every line of a statement file, or `FileRejected` naming every bad row (DESIGN 2.4)."""
    batches = statement_batches(name, io.BytesIO(data), channel=channel, mapping=mapping)
    return [line for batch in batches for line in batch]


def statement_batches(
    name: str,
    source: BinaryIO,
    *,
    channel: str,
    mapping: str | Mapping[str, str] | None = None,
    size: int = BATCH,
) -> Iterator[list[StatementLine]]:
    """A statement file's lines, `size` at a time, while no row is bad; then `FileRejected`
    naming every bad row (with the number of data rows read), if any.

    `name` decides the format by its extension (`.xlsx`), as does a ZIP signature; anything
    else is CSV. An unusable `mapping` is a ValueError, raised before the file is read.
    """
    layout = resolve_mapping(mapping)
    names = {c.lower(): c for c in (*layout.required, *layout.optional)}
    try:
        reader = CsvReader(_table_stream(name, source))
        written = dict(zip(reader.columns, reader.header, strict=True))
        names |= written
        optional = (*layout.optional, *(() if layout.strict else written.values()))
        reader.check_header(
            required=tuple(c.lower() for c in layout.required),
            optional=tuple(c.lower() for c in optional),
        )
        yield from _batches(reader, layout, names, channel, size)
    except FileRejected as exc:
        if exc.rows_read is not None:  # the rows' own faults, named already
            raise
        raise FileRejected([_as_written(e, names, layout.strict) for e in exc.errors]) from None


def _batches(
    reader: CsvReader,
    layout: Layout,
    names: Mapping[str, str],
    channel: str,
    size: int,
) -> Iterator[list[StatementLine]]:
    index = {column: i for i, column in enumerate(reader.columns)}
    fast = layout.fast(index) if layout.fast is not None else None
    payer_at = index.get(layout.payer_column) if layout.payer_column is not None else None
    id_column = names.get(layout.id_column, layout.id_column)
    header = reader.header
    lines: list[StatementLine] = []
    errors: list[RowError] = []
    first_row_of: dict[str, int] = {}
    read = 0
    for number, cells in reader.rows():
        read += 1
        if isinstance(cells, str):  # a row whose number of fields is not the header's
            errors.append(RowError(number, None, cells))
            continue
        fields = fast(cells) if fast is not None else None
        if fields is None:
            row = _Row(number, dict(zip(reader.columns, cells, strict=True)), names)
            fields = layout.convert(row)
            errors.extend(row.errors)
            good = not row.errors
        else:
            good = True
        txn_id = fields.channel_txn_id
        if txn_id and first_row_of.setdefault(txn_id, number) != number:
            reason = f"channel_txn_id {txn_id!r} also on row {first_row_of[txn_id]}"
            errors.append(RowError(number, id_column, reason))
            good = False
        if good and not errors:  # once the file is rejected, only errors matter
            raw = dict(zip(header, cells))  # noqa: B905 (the reader checked the width)
            if payer_at is not None:  # the full number must not be stored, not even in raw
                payer = cells[payer_at]
                # a cell without surrounding space is what `payer` was masked from
                masked = fields.payer if payer == payer.strip() else mask_number(payer)
                raw[header[payer_at]] = masked or ""
            lines.append(_line(channel, fields, raw))
            if len(lines) >= size:
                yield lines
                lines = []
    if errors:
        raise FileRejected(errors, rows_read=read)
    if lines:
        yield lines


def _as_written(error: RowError, names: Mapping[str, str], strict: bool) -> RowError:
    """CsvReader names columns in lower case: name them as the file writes them."""
    if not error.column:
        return error
    column = names.get(error.column, error.column)
    reason = error.reason.replace(repr(error.column), repr(column))
    if strict and reason.startswith("unknown column"):
        reason += f" (the columns are {', '.join(CANONICAL_COLUMNS)})"
    return RowError(error.row, column, reason)


def _line(channel: str, fields: _Fields, raw: dict[str, str]) -> StatementLine:
    return StatementLine(
        channel=channel,
        channel_txn_id=fields.channel_txn_id,
        order_ref=fields.order_ref,
        amount=fields.amount,
        fee=fields.fee,
        kind=fields.kind,
        status=fields.status,
        paid_at=fields.paid_at,
        business_day=business_day_of(fields.paid_at),
        description=fields.description,
        payer=fields.payer,
        raw=raw,
    )
