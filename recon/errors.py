"""One error tree for the service; each error carries a `detail` and maps to one HTTP status.

    ReconError                  500  (base; `detail`, optional `errors`)
    ├── SettingsError           -    configuration refused at start (CLI exit 2)
    ├── BadInput                422  invalid values (CLI exit 2); `errors` name field/row
    │   └── MalformedBody       400  body is not JSON or not the expected shape
    ├── Unauthorized            401  no or bad API key
    ├── Forbidden               403  missing scope or role
    ├── NotFound                404  unknown object
    ├── Conflict                409  lease held, day closed, codes that collide (CLI exit 4)
    └── RateLimited             429  with Retry-After

The HTTP body for every error is `{"status", "title", "detail", "errors"}` (DESIGN 6); it is
built in `recon.system.errors` and nowhere else.
"""

from __future__ import annotations

import msgspec


class FieldError(msgspec.Struct, frozen=True, omit_defaults=True):
    """One problem with one field; `row` where the input was a file or a batch."""

    field: str | None
    reason: str
    row: int | None = None


class ReconError(Exception):
    status_code, title, exit_code = 500, "Internal Server Error", 1

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class SettingsError(ReconError):
    title, exit_code = "Configuration Error", 2


class BadInput(ReconError):
    status_code, title, exit_code = 422, "Unprocessable Content", 2


class MalformedBody(BadInput):
    status_code, title = 400, "Bad Request"


class Unauthorized(ReconError):
    status_code, title, exit_code = 401, "Unauthorized", 2


class Forbidden(ReconError):
    status_code, title, exit_code = 403, "Forbidden", 4


class NotFound(ReconError):
    status_code, title, exit_code = 404, "Not Found", 2


class Conflict(ReconError):
    status_code, title, exit_code = 409, "Conflict", 4


class RateLimited(ReconError):
    status_code, title, exit_code = 429, "Too Many Requests", 1

    def __init__(
        self, detail: str, retry_after: int, errors: list[FieldError] | None = None
    ) -> None:
        super().__init__(detail, errors)
        self.retry_after = retry_after  # whole seconds, for the `Retry-After` header
