"""Dossier intake over HTTP (DESIGN 2.5).

Litestar converts bodies leniently ("1500" would become 1500), so the handlers take the body
as decoded JSON (`SkipValidation`, which still documents the schema in OpenAPI) and convert it
strictly themselves, through the same path as JSON files.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, SkipValidation
from sqlalchemy.ext.asyncio import AsyncSession

from recon.clock import Clock
from recon.dossiers.intake import upsert_dossiers
from recon.dossiers.parsing import dossier_from_json, records_from_values
from recon.dossiers.schemas import DossierBatchIn, DossierIn, DossierOut
from recon.dossiers.service import get_dossier
from recon.errors import BadInput, Conflict, FieldError, MalformedBody
from recon.rows import ImportSummary, field_errors
from recon.settings import Settings

MAX_BATCH = 10_000
WRITE = {"scope": "dossiers:write"}


def _actor(request: Request[Any, Any, Any]) -> str:
    principal = request.state.get("principal")
    return f"api:{principal.name}" if principal else "api"


@put(
    "/dossiers/{code:str}",
    opt=WRITE,
    summary="Create or update one dossier",
    response_description="Updated, or unchanged: the stored dossier",
    responses={
        201: ResponseSpec(DossierOut, generate_examples=False, description="Created: the dossier")
    },
)
async def put_dossier(
    code: FromPath[str],
    data: SkipValidation[DossierIn],
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    clock: NamedDependency[Clock],
) -> Response[DossierOut]:
    result = dossier_from_json(data, row=None, channels=settings.channels, path_code=code)
    if isinstance(result, list):
        if any(e.column is None for e in result):  # not a JSON object at all
            raise MalformedBody(result[0].reason, field_errors(result, "body"))
        raise BadInput("the dossier is invalid", field_errors(result, "body"))
    outcome = await upsert_dossiers(
        db_session=db_session,
        rows=[(None, result)],
        source="api",
        actor=_actor(request),
        now=clock(),
    )
    if outcome.rejected:
        errors = field_errors(outcome.summary.rejected, "body")
        error = Conflict if outcome.conflict else BadInput
        raise error(errors[0].reason, errors)
    created = outcome.actions[result.code_key] == "created"
    stored = await get_dossier(db_session=db_session, code=result.dossier_code)
    return Response(stored, status_code=201 if created else 200)


@post("/dossiers:batch", opt=WRITE, status_code=200, summary="Create or update up to 10,000")
async def post_dossier_batch(
    data: SkipValidation[DossierBatchIn],
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    clock: NamedDependency[Clock],
) -> ImportSummary:
    body: Any = data  # decoded JSON, not yet converted (see the module's docstring)
    items = body.get("dossiers") if isinstance(body, dict) else None
    if not isinstance(items, list) or set(body) != {"dossiers"}:
        raise MalformedBody(
            'expected {"dossiers": [...]}', [FieldError("dossiers", "an array is required")]
        )
    if len(items) > MAX_BATCH:
        raise BadInput(
            f"a batch holds at most {MAX_BATCH:,} dossiers, this one {len(items):,}",
            [FieldError("dossiers", f"at most {MAX_BATCH} items")],
        )
    rows, errors = records_from_values(items, channels=settings.channels)
    outcome = await upsert_dossiers(
        db_session=db_session,
        rows=rows,
        errors=errors,
        source="batch",
        actor=_actor(request),
        now=clock(),
    )
    if outcome.rejected:
        rejected = outcome.summary.rejected
        raise BadInput(
            f"{len({r.row for r in rejected})} of {outcome.summary.received} dossiers are "
            "invalid; nothing was stored",
            field_errors(rejected, "dossiers"),
        )
    return outcome.summary


def state_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings
