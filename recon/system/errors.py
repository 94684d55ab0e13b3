"""The one place where errors become HTTP responses (DESIGN 6 error shape)."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from recon.errors import FieldError, RateLimited, ReconError

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


def handle_recon_error(_: Request[Any, Any, Any], exc: ReconError) -> Response[dict[str, Any]]:
    if exc.status_code >= 500:
        log.error("internal error: %s", exc.detail)
    response = error_response(exc.status_code, exc.detail, exc.errors, exc.title)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def handle_http_exception(
    _: Request[Any, Any, Any], exc: HTTPException
) -> Response[dict[str, Any]]:
    errors: list[FieldError] = []
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        for item in exc.extra:
            if isinstance(item, dict):
                errors.append(
                    FieldError(str(item.get("key") or "") or None, str(item.get("message", "")))
                )
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(status, "Error")
    response = error_response(status, detail, errors)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def handle_unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error", exc_info=exc)
    return error_response(
        HTTP_500_INTERNAL_SERVER_ERROR, "an unexpected error occurred; it has been logged"
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ReconError: handle_recon_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
