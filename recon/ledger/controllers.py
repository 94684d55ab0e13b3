"""`GET /api/v1/ledger?from=&to=&channel=` (ledger:read): JSON, or CSV / XLSX by `format` or
`Accept`, with a filename an accountant can keep."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Schema,
)
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from recon.dates import parse_date
from recon.errors import BadInput, FieldError
from recon.ledger.exports import FORMATS, MEDIA_TYPES, export_filename, render_ledger
from recon.ledger.schemas import Ledger
from recon.ledger.service import build_ledger, ledger_channels
from recon.settings import Settings

READ = {"scope": "ledger:read"}


def _wanted_format(fmt: str | None, accept: str) -> str:
    if fmt is not None:
        if fmt not in MEDIA_TYPES:
            reason = f"{fmt!r} is not one of {', '.join(FORMATS)}"
            raise BadInput(f"format: {reason}", [FieldError("format", reason)])
        return fmt
    if "spreadsheetml" in accept:
        return "xlsx"
    if "text/csv" in accept:
        return "csv"
    return "json"


@dataclass
class LedgerOperation(Operation):
    """The ledger's 200 comes as JSON, CSV or XLSX: all three are documented."""

    def __post_init__(self) -> None:
        ok = self.responses.get("200") if self.responses else None
        if isinstance(ok, OpenAPIResponse) and ok.content:
            json_body = ok.content.get(MEDIA_TYPES["json"])
            if json_body is not None:
                for fmt in ("csv", "xlsx"):
                    ok.content[MEDIA_TYPES[fmt]] = OpenAPIMediaType(
                        schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
                    )


@get(
    "/ledger",
    opt=READ,
    summary="The daily ledger over an inclusive range",
    description="JSON by default; CSV or XLSX by `format`, or by `Accept`, with a filename.",
    responses={200: ResponseSpec(data_container=Ledger, description="The ledger")},
    operation_class=LedgerOperation,
)
async def get_ledger(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    start: Annotated[
        str, QueryParameter(name="from", format="date", description="First business day")
    ],
    to: Annotated[str, QueryParameter(format="date", description="Last business day")],
    channel: Annotated[str | None, QueryParameter()] = None,
    format: Annotated[str | None, QueryParameter(enum=FORMATS)] = None,
) -> Response[bytes]:
    fmt = _wanted_format(format, request.headers.get("accept", ""))
    first, last = parse_date(start, "from"), parse_date(to, "to")
    ledger = await build_ledger(
        db_session=db_session, start=first, end=last, channels=ledger_channels(settings, channel)
    )
    headers = {}
    if fmt != "json":
        headers["Content-Disposition"] = f'attachment; filename="{export_filename(ledger, fmt)}"'
    data = render_ledger(ledger, fmt, ward_name=settings.ward_name)
    return Response(data, media_type=MEDIA_TYPES[fmt], headers=headers)
