"""VNPay's native statement export, shipped as the mapping `"vnpay"` (`VNPAY_EXPORT`).

`vnp_TransactionNo` → channel_txn_id, `vnp_TxnRef` → order_ref (a refund carries its payment's
TxnRef), `vnp_Amount` VND × 100 (digits, a multiple of 100), `vnp_PayDate` `yyyyMMddHHmmss`
local time, `vnp_OrderInfo` → description, fee 0; every column, `vnp_BankCode` and
`vnp_CardType` included, is kept in `raw`. `vnp_TransactionType`: `01` (or absent/empty)
payment, `02` (full) / `03` (partial) refund; a code a spreadsheet turned into a number (0, 1)
is read as 00, 01. The status is decided by `vnp_TransactionStatus`; `vnp_ResponseCode` only
confirms a success:

    TransactionStatus  ResponseCode  status
    00                 00            success
    00                 other (24 …)  failed    (VNPay's own result refuses the payment)
    01                 any           pending   (not completed yet)
    02                 any           failed
    04                 any           reversed  (giao dịch đảo)
    05, 06, 07         any           pending   (refund in progress; held as suspected fraud)
    09                 any           failed    (refund declined)
    anything else      -             the row is rejected, naming vnp_TransactionStatus

VNPay numbers a transaction once it reaches a bank. An attempt refused before that (the payer
cancelled, a wrong OTP, a timeout) has `vnp_TransactionNo` 0, so all such rows of an export
would share one id and the file would be refused as naming it twice. Such a row's id is built
from what names the attempt instead: `0:<type>:<vnp_TxnRef>:<vnp_PayDate>` (each retry has its
own TxnRef; a real number is digits only, so the two never meet). A row with number 0 that says
success, or has no TxnRef, is rejected.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from adapters.file_rows import ID_LIMIT, PLACEHOLDER_TIME, Fields, Layout, Row
from recon.domain import LOCAL_TZ, LineKind, LineStatus, as_utc
from recon.rows import parse_vnd

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


def _vnpay_code(row: Row, column: str, *, required: bool = True) -> str:
    code = row.text(column, required=required)
    # a spreadsheet that took the column for numbers turned "00" into 0 and "01" into 1
    return code.zfill(2) if len(code) == 1 and code.isdigit() else code


def _vnpay_status(row: Row) -> LineStatus:
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


def _vnpay_txn_id(row: Row, kind_code: str, status: LineStatus) -> str:
    """`vnp_TransactionNo`, or for an attempt that never reached a bank (number 0) an id made
    of what names the attempt."""
    number = row.text("vnp_transactionno", required=True, limit=ID_LIMIT)
    if not number or number.strip("0"):
        return number
    ref = row.text("vnp_txnref")
    if status == "success":
        row.bad("vnp_transactionno", "0 (no bank transaction) on a successful row")
    elif not ref:
        row.bad("vnp_txnref", "required when vnp_TransactionNo is 0 (it names the attempt)")
    made = f"0:{kind_code or '01'}:{ref}:{row.text('vnp_paydate')}"
    if len(made) > ID_LIMIT:
        row.bad("vnp_txnref", f"longer than {ID_LIMIT - len(made) + len(ref)} characters")
    return made


def _vnpay_fields(row: Row) -> Fields:
    kind_code = _vnpay_code(row, "vnp_transactiontype", required=False)
    kind = _VNPAY_KIND.get(kind_code)
    if kind is None:
        row.bad("vnp_transactiontype", f"{kind_code!r} is not 01 (payment), 02 or 03 (refund)")
    status = _vnpay_status(row)
    return Fields(
        channel_txn_id=_vnpay_txn_id(row, kind_code, status),
        order_ref=row.text("vnp_txnref", limit=ID_LIMIT) or None,
        amount=row.parsed("vnp_amount", _vnpay_amount, 0),
        fee=0,
        kind=kind or "payment",
        status=status,
        paid_at=row.parsed("vnp_paydate", _vnpay_time, PLACEHOLDER_TIME),
        description=row.text("vnp_orderinfo"),
    )


VNPAY_EXPORT = Layout(
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
