"""Payment status over HTTP (DESIGN 6): `GET /api/v1/payments/{dossier_code}` and
`POST /api/v1/payments:query`, scope `payments:read`.

A single payment carries an `ETag` (a digest of its JSON, so it changes whenever any field
does) and `Cache-Control: no-cache` (caches may keep it but must ask again); `If-None-Match`
naming it gets 304 without a body.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import FromPath, SkipValidation

from recon.db.reads import quick_reads
from recon.errors import BadInput, FieldError, MalformedBody, NotFound
from recon.payments.schemas import MAX_CODES, PaymentOut, PaymentQueryIn, PaymentsOut
from recon.payments.service import read_payments

READ = {"scope": "payments:read"}
JSON = "application/json"
NO_CACHE = "no-cache"

_PAID = {
    "dossier_code": "H17.25-241125-0001",
    "status": "PAID",
    "fee_amount": 50000,
    "paid_amount": 50000,
    "channel": "momo",
    "transactions": [
        {
            "channel": "momo",
            "channel_txn_id": "4088123456",
            "kind": "payment",
            "status": "success",
            "amount": 50000,
            "paid_at": "2025-11-24T02:15:00Z",
        }
    ],
    "reconciled": True,
    "last_reconciled_at": "2025-11-24T18:31:07Z",
}
_PENDING = {
    **_PAID,
    "status": "PENDING",
    "reconciled": False,
    "last_reconciled_at": None,
}
_UNPAID = {
    **_PAID,
    "dossier_code": "H17.25-241125-0002",
    "status": "UNPAID",
    "paid_amount": 0,
    "channel": None,
    "transactions": [],
}


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def _matches(if_none_match: str, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weakly compared, as RFC 9110 says)."""
    wanted = etag.removeprefix("W/")
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == wanted:
            return True
    return False


@get(
    "/payments/{dossier_code:str}",
    opt=READ,
    summary="Is this dossier paid?",
    description=(
        "The payment object of one dossier (DESIGN 6, statuses of DESIGN 8). The code is "
        "compared as dossier codes are (letter case, spaces and punctuation aside). Send the "
        "`ETag` back in `If-None-Match` to get 304 while nothing changed."
    ),
    responses={
        200: ResponseSpec(
            PaymentOut,
            generate_examples=False,
            description="The payment; headers `ETag` and `Cache-Control: no-cache`",
            examples=[
                Example(summary="Paid by MoMo, reconciled", value=_PAID),
                Example(summary="Paid minutes ago, no run yet", value=_PENDING),
                Example(summary="Nothing paid", value=_UNPAID),
            ],
        ),
        304: ResponseSpec(None, description="Not modified: the `If-None-Match` ETag is current"),
    },
)
async def get_payment(
    dossier_code: FromPath[str],
    request: Request[Any, Any, Any],
) -> Response[bytes]:
    found, _ = await quick_reads(request).run(read_payments, [dossier_code])
    if not found:
        reason = f"no dossier with the code {dossier_code!r}"
        raise NotFound(reason, [FieldError("dossier_code", reason)])
    body = msgspec.json.encode(found[0])
    etag = etag_of(body)
    headers = {"ETag": etag, "Cache-Control": NO_CACHE}
    if _matches(request.headers.get("if-none-match", ""), etag):
        return Response(b"", status_code=304, headers=headers, media_type=JSON)
    return Response(body, media_type=JSON, headers=headers)


@post(
    "/payments:query",
    opt=READ,
    status_code=200,
    summary="The payments of up to 1,000 dossiers",
    description=(
        "One answer for every code: `payments` in the order asked (a dossier named twice is "
        "listed once), and the codes that name no dossier in `unknown` (not an error)."
    ),
    responses={
        200: ResponseSpec(
            PaymentsOut,
            generate_examples=False,
            description="The payments found, and the codes unknown",
            examples=[
                Example(
                    summary="One paid, one unknown",
                    value={"payments": [_PAID], "unknown": ["H17.25-000000-9999"]},
                )
            ],
        )
    },
)
async def post_payment_query(
    data: SkipValidation[PaymentQueryIn],
    request: Request[Any, Any, Any],
) -> Response[bytes]:
    query = _convert(data)
    found, unknown = await quick_reads(request).run(read_payments, query.dossier_codes)
    body = msgspec.json.encode(PaymentsOut(payments=found, unknown=unknown))
    return Response(body, media_type=JSON, headers={"Cache-Control": NO_CACHE})


def _convert(body: Any) -> PaymentQueryIn:
    """The decoded body, strictly: 400 when it is not `{"dossier_codes": [strings]}`, 422 when
    the list is empty or longer than 1,000."""
    try:
        return msgspec.convert(body, PaymentQueryIn, strict=True)
    except msgspec.ValidationError as exc:
        reason = str(exc)
        if "length" in reason and "$.dossier_codes" in reason:
            limit = f"give 1 to {MAX_CODES:,} dossier codes"
            raise BadInput(limit, [FieldError("dossier_codes", limit)]) from None
        raise MalformedBody(
            f'expected {{"dossier_codes": [codes]}}: {reason}',
            [FieldError("dossier_codes", reason)],
        ) from None
