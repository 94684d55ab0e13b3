"""`GET /api/v1/ledger?from=&to=&channel=` (ledger:read): JSON, or CSV / XLSX by `format` or
`Accept`, with a filename an accountant can keep."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from recon.errors import BadInput
from recon.ledger.exports import MEDIA_TYPES, export_filename, render_ledger
from recon.ledger.schemas import Ledger
from recon.ledger.service import build_ledger, ledger_channels
from recon.settings import Settings

READ = {"scope": "ledger:read"}


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{name}: {text!r} is not a date YYYY-MM-DD") from None


def _wanted_format(fmt: str | None, accept: str) -> str:
    if fmt is not None:
        if fmt not in MEDIA_TYPES:
            raise BadInput(f"format: {fmt!r} is not one of json, csv, xlsx")
        return fmt
    if "spreadsheetml" in accept:
        return "xlsx"
    if "text/csv" in accept:
        return "csv"
    return "json"


@get(
    "/ledger",
    opt=READ,
    summary="The daily ledger over an inclusive range",
    responses={200: ResponseSpec(data_container=Ledger, description="The ledger (JSON)")},
)
async def get_ledger(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    start: Annotated[str, QueryParameter(name="from")],
    to: FromQuery[str],
    channel: FromQuery[str | None] = None,
    format: FromQuery[str | None] = None,
) -> Response[bytes]:
    fmt = _wanted_format(format, request.headers.get("accept", ""))
    ledger = await build_ledger(
        db_session, _day(start, "from"), _day(to, "to"), ledger_channels(settings, channel)
    )
    headers = {}
    if fmt != "json":
        headers["Content-Disposition"] = f'attachment; filename="{export_filename(ledger, fmt)}"'
    data = render_ledger(ledger, fmt, ward_name=settings.ward_name)
    return Response(data, media_type=MEDIA_TYPES[fmt], headers=headers)
