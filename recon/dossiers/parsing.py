"""From CSV rows, JSON files and API bodies to validated `DossierRecord`s, with row errors.

Every input path ends in `validate_dossier`, so a file, a batch and a PUT accept and reject
exactly the same values.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

import msgspec

from recon.domain import DOSSIER_STATES, as_utc
from recon.dossiers.schemas import CSV_OPTIONAL, CSV_REQUIRED, DossierIn, DossierRecord
from recon.matching.normalize import code_key
from recon.rows import (
    FileRejected,
    RowError,
    describe_decode_error,
    parse_moment,
    parse_vnd,
    read_csv,
)

_ARRAY_DECODER = msgspec.json.Decoder(list[Any])
LIMITS = {"dossier_code": 64, "procedure_code": 64, "procedure_name": 500, "applicant": 300}
REF_LIMIT = 128
_PLACEHOLDER_TIME = datetime(2000, 1, 1, tzinfo=UTC)


def validate_dossier(
    data: DossierIn, *, row: int | None, channels: Collection[str]
) -> DossierRecord | list[RowError]:
    errors: list[RowError] = []

    def bad(column: str, reason: str) -> None:
        errors.append(RowError(row, column, reason))

    code = (data.dossier_code or "").strip()
    key = code_key(code)
    if not code:
        bad("dossier_code", "required")
    elif not key:
        bad("dossier_code", f"{code!r} has no letters or digits")
    texts = {
        "dossier_code": code,
        "procedure_code": data.procedure_code.strip(),
        "procedure_name": data.procedure_name.strip(),
        "applicant": data.applicant.strip(),
    }
    for column, value in texts.items():
        if len(value) > LIMITS[column]:
            bad(column, f"longer than {LIMITS[column]} characters")
    if not texts["procedure_code"]:
        bad("procedure_code", "required")
    state = data.state.strip().lower()
    if state not in DOSSIER_STATES:
        bad("state", f"{data.state!r} is not one of {', '.join(DOSSIER_STATES)}")
    refs: list[str] = []
    for ref in data.payment_refs:
        ref = ref.strip()
        if not ref:
            bad("payment_refs", "an empty payment ref")
        elif len(ref) > REF_LIMIT:
            bad("payment_refs", f"payment ref longer than {REF_LIMIT} characters")
        elif ref.upper() not in {r.upper() for r in refs}:
            refs.append(ref)
    claim_channel = (data.claimed_paid_channel or "").strip() or None
    claim_txn = (data.claimed_channel_txn_id or "").strip() or None
    if claim_channel is not None and claim_channel not in channels:
        known = ", ".join(sorted(channels)) or "none configured"
        bad("claimed_paid_channel", f"unknown channel {claim_channel!r} (channels: {known})")
    if (claim_channel is None) != (data.claimed_paid_at is None):
        missing = "claimed_paid_at" if claim_channel else "claimed_paid_channel"
        bad(missing, "a claimed payment needs both claimed_paid_channel and claimed_paid_at")
    if claim_txn is not None and claim_channel is None:
        bad("claimed_channel_txn_id", "needs claimed_paid_channel")
    if errors:
        return errors
    return DossierRecord(
        dossier_code=code,
        code_key=key,
        procedure_code=texts["procedure_code"],
        procedure_name=texts["procedure_name"],
        applicant=texts["applicant"],
        fee_amount=data.fee_amount,
        state=state,
        submitted_at=as_utc(data.submitted_at),
        payment_refs=tuple(refs),
        claimed_paid_channel=claim_channel,
        claimed_paid_at=as_utc(data.claimed_paid_at) if data.claimed_paid_at else None,
        claimed_channel_txn_id=claim_txn,
    )


def dossier_from_json(
    value: Any, *, row: int | None, channels: Collection[str], path_code: str | None = None
) -> DossierRecord | list[RowError]:
    """One dossier from decoded JSON, converted strictly: 1500.0 and "1500" are not money.

    The API (whose body Litestar has decoded) and JSON files share this one path. A PUT passes
    the code of its URL as `path_code`.
    """
    if not isinstance(value, dict):
        return [RowError(row, None, "a dossier is a JSON object")]
    try:
        data = msgspec.convert(value, DossierIn, strict=True)
    except msgspec.ValidationError as exc:
        column, reason = describe_decode_error(str(exc))
        return [RowError(row, column, reason)]
    if path_code is not None:
        if data.dossier_code is None:
            data.dossier_code = path_code
        elif data.dossier_code.strip().upper() != path_code.strip().upper():
            return [RowError(row, "dossier_code", "differs from the code in the URL")]
    return validate_dossier(data, row=row, channels=channels)


def records_from_json(
    data: bytes, *, channels: Collection[str]
) -> tuple[list[tuple[int, DossierRecord]], list[RowError]]:
    try:
        values = _ARRAY_DECODER.decode(data)
    except msgspec.ValidationError:
        reason = "a JSON file holds an array of dossier objects"
        raise FileRejected([RowError(None, None, reason)]) from None
    except msgspec.DecodeError as exc:
        raise FileRejected([RowError(None, None, f"malformed JSON: {exc}")]) from None
    return records_from_values(values, channels=channels)


def records_from_values(
    values: list[Any], *, channels: Collection[str]
) -> tuple[list[tuple[int, DossierRecord]], list[RowError]]:
    """Rows are 1-based positions in the array."""
    records: list[tuple[int, DossierRecord]] = []
    errors: list[RowError] = []
    for row, value in enumerate(values, start=1):
        result = dossier_from_json(value, row=row, channels=channels)
        if isinstance(result, list):
            errors.extend(result)
        else:
            records.append((row, result))
    return records, errors


def records_from_csv(
    data: bytes, *, channels: Collection[str]
) -> tuple[list[tuple[int, DossierRecord]], list[RowError]]:
    records: list[tuple[int, DossierRecord]] = []
    errors: list[RowError] = []
    for row, cells in read_csv(data, required=CSV_REQUIRED, optional=CSV_OPTIONAL):
        if "" in cells:
            errors.append(RowError(row, None, cells[""]))
            continue
        result = _dossier_from_cells(cells, row=row, channels=channels)
        if isinstance(result, list):
            errors.extend(result)
        else:
            records.append((row, result))
    return records, errors


def _dossier_from_cells(
    cells: dict[str, str], *, row: int, channels: Collection[str]
) -> DossierRecord | list[RowError]:
    errors: list[RowError] = []
    fee = 0
    try:
        fee = parse_vnd(cells["fee_amount"])
    except ValueError as exc:
        errors.append(RowError(row, "fee_amount", str(exc)))
    moments: dict[str, datetime | None] = {}
    for column in ("submitted_at", "claimed_paid_at"):
        text = cells.get(column, "")
        if column == "claimed_paid_at" and not text.strip():
            moments[column] = None
            continue
        try:
            moments[column] = parse_moment(text)
        except ValueError as exc:
            errors.append(RowError(row, column, str(exc)))
    refs = [ref for ref in cells["payment_refs"].split("|") if ref.strip()]
    # a stand-in for an unreadable time, so the row's other faults are reported too
    submitted_at = moments.get("submitted_at") or _PLACEHOLDER_TIME
    data = DossierIn(
        dossier_code=cells["dossier_code"],
        procedure_code=cells["procedure_code"],
        procedure_name=cells["procedure_name"],
        applicant=cells["applicant"],
        fee_amount=fee,
        state=cells["state"],
        submitted_at=submitted_at,
        payment_refs=refs,
        claimed_paid_channel=cells.get("claimed_paid_channel") or None,
        claimed_paid_at=moments.get("claimed_paid_at"),
        claimed_channel_txn_id=cells.get("claimed_channel_txn_id") or None,
    )
    if "claimed_paid_at" in {e.column for e in errors}:
        data.claimed_paid_at = _PLACEHOLDER_TIME
    result = validate_dossier(data, row=row, channels=channels)
    if not errors:
        return result
    return errors + (result if isinstance(result, list) else [])


def records_from_file(
    name: str, data: bytes, *, channels: Collection[str]
) -> tuple[list[tuple[int, DossierRecord]], list[RowError]]:
    """CSV or JSON by extension (or by a leading `[` when the extension says nothing)."""
    lowered = name.lower()
    is_json = lowered.endswith(".json") or (
        not lowered.endswith(".csv") and data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"["
    )
    if is_json:
        return records_from_json(data, channels=channels)
    return records_from_csv(data, channels=channels)
