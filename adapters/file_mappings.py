"""Column mappings: which `Layout` a file channel's `mapping` setting reads its files with.

* None: the canonical columns `channel_txn_id,order_ref,amount,fee,kind,status,paid_at,
  description,payer`; any other column rejects the file (a typo must not pass silently).
* a dict `{canonical column: column in the file}`: renames; a canonical column left out is read
  under its own name; one file column feeds one canonical column; values follow the canonical
  grammar; other file columns are ignored (but kept in `raw`).
* a name from `SHIPPED_MAPPINGS` (so far `"vnpay"`, in `adapters.file_vnpay`): a channel's
  native export.

Canonical rows, renamed or not, have a fast path (`_canonical_fast`) for rows without a fault.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

from adapters.file_rows import ID_LIMIT, PAYER_LIMIT, PLACEHOLDER_TIME, Fields, Layout, Row
from adapters.file_vnpay import VNPAY_EXPORT
from adapters.lines import mask_number
from recon.domain import LINE_KINDS, LINE_STATUSES, LineKind, LineStatus
from recon.rows import parse_moment, parse_vnd

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


def _canonical_fields(row: Row, columns: Mapping[str, str]) -> Fields:
    col = columns  # canonical → lowercased file column
    fee = row.parsed(col["fee"], parse_vnd, 0) if row.text(col["fee"]) else 0  # empty: none
    payer = row.text(col["payer"], limit=PAYER_LIMIT)
    return Fields(
        channel_txn_id=row.text(col["channel_txn_id"], required=True, limit=ID_LIMIT),
        order_ref=row.text(col["order_ref"], limit=ID_LIMIT) or None,
        amount=row.parsed(col["amount"], partial(parse_vnd, allow_zero=False), 0),
        fee=fee,
        kind=row.choice(col["kind"], LINE_KINDS),
        status=row.choice(col["status"], LINE_STATUSES),
        paid_at=row.parsed(col["paid_at"], parse_moment, PLACEHOLDER_TIME),
        description=row.text(col["description"]),
        payer=mask_number(payer),
    )


_KINDS: dict[str, LineKind] = {kind: kind for kind in LINE_KINDS}
_STATUSES: dict[str, LineStatus] = {status: status for status in LINE_STATUSES}


def _canonical_fast(
    index: Mapping[str, int], columns: Mapping[str, str]
) -> Callable[[Sequence[str]], Fields | None]:
    """`_canonical_fields` for rows without a fault, or None (tests: the same fields)."""
    # the header has been checked: every required column is there
    txn_at, amount_at, kind_at, status_at, paid_at_at = (
        index[columns[name]] for name in REQUIRED_COLUMNS
    )
    ref_at, fee_at, description_at, payer_at = (
        index.get(columns[name]) for name in CANONICAL_COLUMNS if name not in REQUIRED_COLUMNS
    )

    def fields(cells: Sequence[str]) -> Fields | None:
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
        return Fields(
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


# Native exports shipped with the product, by the name a channel's `mapping` gives.
SHIPPED_MAPPINGS: dict[str, Layout] = {"vnpay": VNPAY_EXPORT}
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
