"""From CSV rows, JSON files and API bodies to validated `DossierRecord`s, with row errors.

Every input path ends in `_validated`, so a file, a batch and a PUT accept and reject exactly
the same values. A file is read in batches (`record_batches`), so an import of a million rows
holds one batch of records at a time.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, BinaryIO

import msgspec

from recon.domain import as_utc
from recon.dossiers.schemas import CSV_OPTIONAL, CSV_REQUIRED, DossierIn, DossierRecord
from recon.matching.normalize import code_key
from recon.rows import (
    CsvReader,
    FileRejected,
    RowError,
    describe_decode_error,
    parse_moment,
    parse_vnd,
)
from recon.vocab import DOSSIER_STATES

_ARRAY_DECODER = msgspec.json.Decoder(list[Any])
LIMITS = {"dossier_code": 64, "procedure_code": 64, "procedure_name": 500, "applicant": 300}
_CODE_LIMIT, _PROCEDURE_CODE_LIMIT, _PROCEDURE_NAME_LIMIT, _APPLICANT_LIMIT = LIMITS.values()
REF_LIMIT = 128
BATCH = 10_000  # data rows read, validated and stored at a time
_PLACEHOLDER_TIME = datetime(2000, 1, 1, tzinfo=UTC)
_STATES = frozenset(DOSSIER_STATES)

# a batch: the rows that are valid (with their row numbers) and the faults of the others
Records = list[tuple[int, DossierRecord]]
Batch = tuple[Records, list[RowError]]


def validate_dossier(
    data: DossierIn, *, row: int | None, channels: Collection[str]
) -> DossierRecord | list[RowError]:
    errors: list[RowError] = []
    submitted_at = _utc(data.submitted_at, errors, row, "submitted_at")
    claimed_at = data.claimed_paid_at
    if claimed_at is not None:
        claimed_at = _utc(claimed_at, errors, row, "claimed_paid_at")
    record = _validated(
        errors,
        row,
        channels,
        code=data.dossier_code or "",
        procedure_code=data.procedure_code,
        procedure_name=data.procedure_name,
        applicant=data.applicant,
        fee=data.fee_amount,
        state=data.state,
        submitted_at=submitted_at,
        refs=data.payment_refs,
        claim_channel=data.claimed_paid_channel or "",
        claim_at=claimed_at,
        claim_txn=data.claimed_channel_txn_id or "",
    )
    return errors if record is None or errors else record


def _utc(moment: datetime, errors: list[RowError], row: int | None, column: str) -> datetime:
    """`as_utc`, a time out of range recorded as the row's fault (and a stand-in returned, so
    that the row's other faults are reported too)."""
    try:
        return as_utc(moment)
    except ValueError as exc:
        errors.append(RowError(row, column, str(exc)))
        return _PLACEHOLDER_TIME


def _validated(
    errors: list[RowError],
    row: int | None,
    channels: Collection[str],
    *,
    code: str,
    procedure_code: str,
    procedure_name: str,
    applicant: str,
    fee: int,
    state: str,
    submitted_at: datetime,
    refs: Sequence[str],
    claim_channel: str,
    claim_at: datetime | None,
    claim_txn: str,
) -> DossierRecord | None:
    """The one set of rules every input path ends in: appends the row's faults to `errors`
    and returns None when it has any (or had any before). Times are aware UTC already."""
    before = len(errors)
    code = code.strip()
    key = code_key(code)
    procedure_code = procedure_code.strip()
    procedure_name = procedure_name.strip()
    applicant = applicant.strip()
    lowered = state.strip().lower()
    channel = claim_channel.strip() or None
    txn = claim_txn.strip() or None
    kept = _kept_refs(refs)
    if not (
        key
        and len(code) <= _CODE_LIMIT
        and procedure_code
        and len(procedure_code) <= _PROCEDURE_CODE_LIMIT
        and len(procedure_name) <= _PROCEDURE_NAME_LIMIT
        and len(applicant) <= _APPLICANT_LIMIT
        and lowered in _STATES
        and kept is not None
        and channel is None
        and txn is None
        and claim_at is None
    ):  # anything but an unclaimed dossier of good values: each rule on its own
        kept = _check_row(
            errors,
            row,
            channels,
            code=code,
            key=key,
            texts=(procedure_code, procedure_name, applicant),
            state=state,
            refs=refs,
            channel=channel,
            claim_at=claim_at,
            txn=txn,
        )
    if len(errors) != before or kept is None:
        return None
    return DossierRecord(
        dossier_code=code,
        code_key=key,
        procedure_code=procedure_code,
        procedure_name=procedure_name,
        applicant=applicant,
        fee_amount=fee,
        state=lowered,
        submitted_at=submitted_at,
        payment_refs=kept,
        claimed_paid_channel=channel,
        claimed_paid_at=claim_at,
        claimed_channel_txn_id=txn,
    )


def _kept_refs(refs: Sequence[str]) -> tuple[str, ...] | None:
    """The refs trimmed, each once (ignoring letter case); None if one is empty or too long."""
    if not refs:
        return ()
    if len(refs) == 1:  # the common case, without the set and list
        ref = refs[0].strip()
        return (ref,) if ref and len(ref) <= REF_LIMIT else None
    kept: list[str] = []
    seen: set[str] = set()
    for ref in refs:
        ref = ref.strip()
        if not ref or len(ref) > REF_LIMIT:
            return None
        if ref.upper() not in seen:
            seen.add(ref.upper())
            kept.append(ref)
    return tuple(kept)


def _check_row(
    errors: list[RowError],
    row: int | None,
    channels: Collection[str],
    *,
    code: str,
    key: str,
    texts: tuple[str, str, str],
    state: str,
    refs: Sequence[str],
    channel: str | None,
    claim_at: datetime | None,
    txn: str | None,
) -> tuple[str, ...]:
    """Every rule of `_validated`, one by one, each fault named; returns the refs kept."""

    def bad(column: str, reason: str) -> None:
        errors.append(RowError(row, column, reason))

    if not code:
        bad("dossier_code", "required")
    elif not key:
        bad("dossier_code", f"{code!r} has no letters or digits")
    for column, value in zip(LIMITS, (code, *texts), strict=True):
        if len(value) > LIMITS[column]:
            bad(column, f"longer than {LIMITS[column]} characters")
    if not texts[0]:
        bad("procedure_code", "required")
    if state.strip().lower() not in _STATES:
        bad("state", f"{state!r} is not one of {', '.join(DOSSIER_STATES)}")
    kept: list[str] = []
    for ref in refs:
        ref = ref.strip()
        if not ref:
            bad("payment_refs", "an empty payment ref")
        elif len(ref) > REF_LIMIT:
            bad("payment_refs", f"payment ref longer than {REF_LIMIT} characters")
        elif ref.upper() not in {r.upper() for r in kept}:
            kept.append(ref)
    if channel is not None and channel not in channels:
        known = ", ".join(sorted(channels)) or "none configured"
        bad("claimed_paid_channel", f"unknown channel {channel!r} (channels: {known})")
    if (channel is None) != (claim_at is None):
        missing = "claimed_paid_at" if channel else "claimed_paid_channel"
        bad(missing, "a claimed payment needs both claimed_paid_channel and claimed_paid_at")
    if txn is not None and channel is None:
        bad("claimed_channel_txn_id", "needs claimed_paid_channel")
    return tuple(kept)


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


def records_from_values(
    values: Sequence[Any], *, channels: Collection[str], first_row: int = 1
) -> Batch:
    """Rows are 1-based positions in the array (`first_row` is the position of values[0])."""
    records: Records = []
    errors: list[RowError] = []
    for row, value in enumerate(values, start=first_row):
        result = dossier_from_json(value, row=row, channels=channels)
        if isinstance(result, list):
            errors.extend(result)
        else:
            records.append((row, result))
    return records, errors


def _json_batches(data: bytes, *, channels: Collection[str], size: int) -> Iterator[Batch]:
    try:
        values = _ARRAY_DECODER.decode(data)
    except msgspec.ValidationError:
        reason = "a JSON file holds an array of dossier objects"
        raise FileRejected([RowError(None, None, reason)]) from None
    except msgspec.DecodeError as exc:
        raise FileRejected([RowError(None, None, f"malformed JSON: {exc}")]) from None
    except RecursionError:  # msgspec's decoder has a depth limit: no dossier is that deep
        raise FileRejected([RowError(None, None, "malformed JSON: nested too deeply")]) from None
    del data
    for start in range(0, len(values), size):
        yield records_from_values(
            values[start : start + size], channels=channels, first_row=start + 1
        )


def _csv_batches(stream: BinaryIO, *, channels: Collection[str], size: int) -> Iterator[Batch]:
    reader = CsvReader(stream)
    reader.check_header(required=CSV_REQUIRED, optional=CSV_OPTIONAL)
    at = {name: i for i, name in enumerate(reader.columns)}
    code, procedure_code, procedure_name, applicant, fee, state, submitted, refs = (
        at[name] for name in CSV_REQUIRED
    )
    claim_channel, claim_at, claim_txn = (at.get(name) for name in CSV_OPTIONAL)
    records: Records = []
    errors: list[RowError] = []
    for row, cells in reader.rows():
        if isinstance(cells, str):
            errors.append(RowError(row, None, cells))
        else:
            found = len(errors)
            try:
                fee_amount = parse_vnd(cells[fee])
            except ValueError as exc:
                errors.append(RowError(row, "fee_amount", str(exc)))
                fee_amount = 0
            try:
                submitted_at = parse_moment(cells[submitted])
            except ValueError as exc:
                errors.append(RowError(row, "submitted_at", str(exc)))
                # a stand-in for an unreadable time, so the row's other faults are reported too
                submitted_at = _PLACEHOLDER_TIME
            claimed_at: datetime | None = None
            if claim_at is not None and cells[claim_at].strip():
                try:
                    claimed_at = parse_moment(cells[claim_at])
                except ValueError as exc:
                    errors.append(RowError(row, "claimed_paid_at", str(exc)))
                    claimed_at = _PLACEHOLDER_TIME
            ref_cell = cells[refs]
            record = _validated(
                errors,
                row,
                channels,
                code=cells[code],
                procedure_code=cells[procedure_code],
                procedure_name=cells[procedure_name],
                applicant=cells[applicant],
                fee=fee_amount,
                state=cells[state],
                submitted_at=submitted_at,
                refs=[ref for ref in ref_cell.split("|") if ref.strip()] if ref_cell else (),
                claim_channel="" if claim_channel is None else cells[claim_channel],
                claim_at=claimed_at,
                claim_txn="" if claim_txn is None else cells[claim_txn],
            )
            if record is not None and len(errors) == found:
                records.append((row, record))
        if len(records) + len(errors) >= size:  # errors count too: a bad file is bounded as well
            yield records, errors
            records, errors = [], []
    if records or errors:
        yield records, errors


def record_batches(
    name: str, stream: BinaryIO, *, channels: Collection[str], size: int = BATCH
) -> Iterator[Batch]:
    """A dossier file's rows in batches of about `size`: CSV or JSON by extension (or by a
    leading `[` when the extension says nothing). `FileRejected` for a file that cannot be read,
    raised when the reading gets to the fault (a JSON file is decoded whole first)."""
    lowered = name.lower()
    is_json = lowered.endswith(".json")
    if not is_json and not lowered.endswith(".csv"):
        is_json = stream.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"["
        stream.seek(0)
    if is_json:
        return _json_batches(stream.read(), channels=channels, size=size)
    return _csv_batches(stream, channels=channels, size=size)
