"""Dossier intake over HTTP (DESIGN 2.5). Bodies are read raw and decoded strictly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, Response, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from recon.dossiers.parsing import decode_dossier_json
from recon.dossiers.schemas import DossierBatchIn, DossierOut, ImportSummary
from recon.dossiers.service import get_dossier, upsert_dossiers
from recon.errors import BadInput, Conflict, FieldError, MalformedBody
from recon.rows import RowError, describe_decode_error
from recon.settings import Settings

MAX_BATCH = 10_000
_BATCH_DECODER = msgspec.json.Decoder(DossierBatchIn, strict=True)
WRITE = {"scope": "dossiers:write"}


def _field_errors(errors: list[RowError]) -> list[FieldError]:
    return [FieldError(e.column, e.reason, e.row) for e in errors]


def _actor(request: Request[Any, Any, Any]) -> str:
    principal = request.state.get("principal")
    return f"api:{principal.name}" if principal else "api"


@put("/dossiers/{code:str}", opt=WRITE, summary="Create or update one dossier")
async def put_dossier(
    code: FromPath[str],
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
) -> Response[DossierOut]:
    body = await request.body()
    result = decode_dossier_json(body, row=None, channels=settings.channels, path_code=code)
    if isinstance(result, list):
        if result[0].column is None and result[0].reason.startswith("malformed JSON"):
            raise MalformedBody(result[0].reason)
        raise BadInput("the dossier is invalid", _field_errors(result))
    outcome = await upsert_dossiers(
        db_session=db_session,
        rows=[(None, result)],
        source="api",
        actor=_actor(request),
        now=datetime.now(UTC),
    )
    if outcome.rejected:
        errors = [FieldError(r.column, r.reason) for r in outcome.summary.rejected]
        error = Conflict if outcome.conflict else BadInput
        raise error(errors[0].reason, errors)
    created = outcome.actions[result.code_key] == "created"
    stored = await get_dossier(db_session=db_session, code=result.dossier_code)
    return Response(stored, status_code=201 if created else 200)


@post("/dossiers:batch", opt=WRITE, status_code=200, summary="Create or update up to 10,000")
async def post_dossier_batch(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
) -> ImportSummary:
    try:
        batch = _BATCH_DECODER.decode(await request.body())
    except msgspec.ValidationError as exc:
        field, reason = describe_decode_error(str(exc))
        raise MalformedBody(
            f'expected {{"dossiers": [...]}}: {reason}', [FieldError(field, reason)]
        ) from None
    except msgspec.DecodeError as exc:
        raise MalformedBody(f"malformed JSON: {exc}") from None
    if len(batch.dossiers) > MAX_BATCH:
        raise BadInput(
            f"a batch holds at most {MAX_BATCH:,} dossiers, this one {len(batch.dossiers):,}",
            [FieldError("dossiers", f"at most {MAX_BATCH} items")],
        )
    rows = []
    errors: list[RowError] = []
    for row, raw in enumerate(batch.dossiers, start=1):
        result = decode_dossier_json(raw, row=row, channels=settings.channels)
        if isinstance(result, list):
            errors.extend(result)
        else:
            rows.append((row, result))
    outcome = await upsert_dossiers(
        db_session=db_session,
        rows=rows,
        errors=errors,
        source="batch",
        actor=_actor(request),
        now=datetime.now(UTC),
    )
    if outcome.rejected:
        rejected = outcome.summary.rejected
        raise BadInput(
            f"{len({r.row for r in rejected})} of {outcome.summary.received} dossiers are "
            "invalid; nothing was stored",
            [FieldError(r.column, r.reason, r.row) for r in rejected],
        )
    return outcome.summary


def state_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings
