"""The one place where errors become HTTP responses (DESIGN 6 error shape).

Litestar's own validation of query and path parameters answers 422 like ours, each fault named
in `errors` by the parameter's name in the API (`date`, not the handler's `day`); a body it
cannot read is 400. The error responses are documented in the OpenAPI of every API route with
the same shape (`error_responses`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import Request, Response
from litestar.exceptions import ClientException, HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import IntegrityError

from recon.db.errors import domain_error
from recon.errors import FieldError, RateLimited, ReconError
from recon.rows import describe_decode_error
from recon.schemas import Out

log = logging.getLogger("recon.http")
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
# what each error status means on this API, for its OpenAPI description
MEANINGS = {
    400: "Malformed body: not JSON, or not the expected shape",
    401: "No API key, or an unknown or revoked one",
    403: "The key lacks the route's scope, or the named user lacks the role",
    404: "No such object",
    409: "Conflict: the day is closed or its lease is held, or codes collide",
    422: "Invalid values: each one named in `errors`",
    429: "The key made more requests than `[api] requests_per_minute` allows; "
    "`Retry-After` gives the whole seconds to wait",
    503: "Not ready",
}
# every error an /api/v1 route can answer, in the error shape
API_ERRORS = (400, 401, 403, 404, 409, 422, 429)
_PARAMETER_SOURCES = frozenset({"query", "path", "header", "cookie"})
_MISSING = re.compile(r"^Missing required (?P<kind>\w+) parameter '(?P<name>[^']*)'")


class ErrorBody(Out):
    """Every error answer: `errors` names each field at fault (and the row, in a batch)."""

    status: int
    title: str
    detail: str
    errors: list[FieldError]


def error_body(
    status: int, detail: str, errors: list[FieldError] | None = None, title: str | None = None
) -> dict[str, Any]:
    return {
        "status": status,
        "title": title or TITLES.get(status, "Error"),
        "detail": detail,
        "errors": [
            {"field": e.field, "reason": e.reason, **({"row": e.row} if e.row is not None else {})}
            for e in errors or []
        ],
    }


def error_response(
    status: int, detail: str, errors: list[FieldError] | None = None, title: str | None = None
) -> Response[dict[str, Any]]:
    return Response(error_body(status, detail, errors, title), status_code=status)


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI `responses=` for these error statuses, all in the error shape."""
    return {
        status: ResponseSpec(
            data_container=ErrorBody,
            generate_examples=False,
            description=MEANINGS.get(status, TITLES.get(status, "Error")),
        )
        for status in statuses
    }


def handle_recon_error(_: Request[Any, Any, Any], exc: ReconError) -> Response[dict[str, Any]]:
    if exc.status_code >= 500:
        log.error("internal error: %s", exc.detail)
    response = error_response(exc.status_code, exc.detail, exc.errors, exc.title)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _parameter_names(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The handler's argument names → the parameters' names in the API (`day` → `date`)."""
    handler = request.scope.get("route_handler")
    signature = getattr(handler, "parsed_fn_signature", None)
    if signature is None:
        return {}
    names: dict[str, str] = {}
    for argument, field in signature.parameters.items():
        alias = getattr(field.kwarg_definition, "name", None)
        names[argument] = alias if isinstance(alias, str) and alias else argument
    return names


def _validation_errors(
    request: Request[Any, Any, Any], exc: ValidationException
) -> tuple[int, list[FieldError]]:
    """Litestar's validation failure as (status, errors): 422 when only parameters are at
    fault (a value, or a required one missing), 400 when the body is."""
    detail = exc.detail if isinstance(exc.detail, str) else ""
    missing = _MISSING.match(detail)
    if missing:
        return 422, [FieldError(missing["name"], "required")]
    if not isinstance(exc.extra, list) or not exc.extra:
        return 400, []
    names = _parameter_names(request)
    errors: list[FieldError] = []
    in_parameters = True
    for item in exc.extra:
        if not isinstance(item, dict):
            continue
        key = str(item.get("key") or "")
        source = item.get("source") or ""
        source = str(getattr(source, "value", source))  # a ParamType, or "body"
        message = str(item.get("message", ""))
        if source in _PARAMETER_SOURCES:
            errors.append(FieldError(names.get(key, key) or None, message))
        else:
            in_parameters = False
            errors.append(_body_error(key, message))
    return (422 if in_parameters and errors else 400), errors


def _body_error(key: str, message: str) -> FieldError:
    """A fault of the body: `key` is the handler's `data` for the body as a whole, which the
    API calls `body`; msgspec's message names the field itself where it can."""
    if key in ("", "data"):
        if message == "'data'":  # Litestar found no body at all
            return FieldError("body", "a JSON body is required")
        field, reason = describe_decode_error(message)
        return FieldError(field or "body", reason)
    return FieldError(key, message)


def handle_http_exception(
    request: Request[Any, Any, Any], exc: HTTPException
) -> Response[dict[str, Any]]:
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(status, "Error")
    errors: list[FieldError] = []
    if isinstance(exc, ValidationException):
        status, errors = _validation_errors(request, exc)
        if errors:
            detail = "; ".join(f"{e.field}: {e.reason}" if e.field else e.reason for e in errors)
    elif isinstance(exc, ClientException) and status in (400, 413):
        errors = [FieldError("body", detail)]  # Litestar could not read the body, or too much
    response = error_response(status, detail, errors)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def handle_recursion(
    request: Request[Any, Any, Any], exc: RecursionError
) -> Response[dict[str, Any]]:
    """A body nested deeper than the JSON decoder goes is a malformed body, not our fault."""
    if "while deserializing" not in str(exc):  # msgspec's words: any other is a bug of ours
        return handle_unexpected(request, exc)
    reason = "the JSON is nested too deeply"
    return error_response(400, reason, [FieldError("body", reason)])


def handle_integrity_error(
    request: Request[Any, Any, Any], exc: IntegrityError
) -> Response[dict[str, Any]]:
    """A broken constraint is a conflict with what is stored (`recon.db.errors`)."""
    return handle_recon_error(request, domain_error(exc))


def handle_unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error", exc_info=exc)
    return error_response(
        HTTP_500_INTERNAL_SERVER_ERROR, "an unexpected error occurred; it has been logged"
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ReconError: handle_recon_error,
    HTTPException: handle_http_exception,
    RecursionError: handle_recursion,
    IntegrityError: handle_integrity_error,
    Exception: handle_unexpected,
}
