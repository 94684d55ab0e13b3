"""Log lines: JSON lines off a terminal, text on one; what a line is about; nothing secret in it.

Every line of the process (recon's, the adapters', uvicorn's and any library's warnings) goes
through one handler on the root logger. A JSON line has `time` (UTC, ISO 8601, milliseconds),
`level`, `logger`, `message`, then, where they apply, `request_id` (in a request), `run_id`,
`channel` and `business_day` (inside `log_context`, set where a run and a channel-day's pull
happen), and `exception` (the traceback) when one was logged. `RECON_LOG_FORMAT=json|text`
forces a format; unset, stderr decides: text on a terminal, JSON lines otherwise.

Masking (`redact`, applied by `MaskingFilter` to the message after its arguments are put in,
and to the traceback) is the last line of defence: the adapters mask payer numbers before a line
is kept, and nothing logs a request's headers or query. The rule, on runs of ASCII digits that
no other digit touches:

- a phone number: `0` then 9 digits (not `00…`), or `84`/`+84` then 9 digits → every digit but
  the last three becomes `*` (`0901234567` → `*******567`);
- an account number: any other run of 9 to 19 digits, masked the same way, unless it is an
  amount: followed by `VND`, `đ` or `₫`, or just after the word `amount`/`total`/`sum`;
- kept: runs of up to 8 digits (dossier codes such as `H17.25-241125-0001`, run ids, dates,
  times, amounts under 100,000,000), amounts written as above, digits inside a longer run;
- a value after `signature`, `secret`, `password`, `token`, `api_key`, `access_key`,
  `authorization` or `cookie` and `=` or `:` becomes `***`; an API key `rk_<id>_<secret>`
  becomes `rk_<id>_***`; the configured channel secrets (8 characters or more), wherever they
  appear, become `***`.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from types import MappingProxyType
from typing import IO, Any

import msgspec

from recon.errors import SettingsError

FORMATS = ("json", "text")
# libraries that log requests (URLs, headers) at DEBUG and INFO: held at WARNING whatever the level
QUIET_LIBRARIES = ("httpx", "httpcore", "hpack", "urllib3", "asyncio", "aiosqlite", "sqlalchemy")
OWN_LOGGERS = ("recon", "adapters")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
_context: ContextVar[Mapping[str, Any]] = ContextVar("log_context", default=MappingProxyType({}))


@contextmanager
def log_context(
    *, run_id: int | None = None, channel: str | None = None, business_day: date | None = None
) -> Iterator[None]:
    """Lines logged inside carry these fields (those given; the outer ones stay)."""
    fields = dict(_context.get())
    if run_id is not None:
        fields["run_id"] = run_id
    if channel is not None:
        fields["channel"] = channel
    if business_day is not None:
        fields["business_day"] = business_day.isoformat()
    token = _context.set(fields)
    try:
        yield
    finally:
        _context.reset(token)


# --- masking ------------------------------------------------------------------------------

_KEYS = r"signature|secret(?:[_ -]?key)?|client[_ -]?secret|password|passwd|token|api[_ -]?key"
_KEYS += r"|access[_ -]?key|authorization|cookie|set-cookie"
_KEY_VALUE = re.compile(rf"(\b(?:{_KEYS})[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]+", re.IGNORECASE)
# the words `_KEY_VALUE` starts with, lowercased: a line with none of them skips that regex
_KEY_WORDS = ("signature", "secret", "password", "passwd", "token", "key", "authoriz", "cookie")
_API_KEY = re.compile(r"\b(rk_\d+_)[A-Za-z0-9_-]+")
_LONG_DIGITS = re.compile(r"[0-9]{9}")
_NUMBER = re.compile(r"(?<![0-9])\+?[0-9]{9,19}(?![0-9])")
_PHONE = re.compile(r"(?:\+84|84|0)[1-9][0-9]{8}")
_AMOUNT_AFTER = re.compile(r"\s?(?:VND|đ|₫)", re.IGNORECASE)
_AMOUNT_BEFORE = re.compile(r"(?:amount|total|sum)\W{0,3}$", re.IGNORECASE)


def mask_digits(number: str) -> str:
    """Every digit but the last three as `*`; a leading `+` stays."""
    plus = "+" if number.startswith("+") else ""
    digits = number.removeprefix("+")
    return plus + "*" * (len(digits) - 3) + digits[-3:]


def _mask_number(found: re.Match[str]) -> str:
    number = found[0]
    if _PHONE.fullmatch(number):
        return mask_digits(number)
    text, start, end = found.string, found.start(), found.end()
    if number.startswith("+"):  # a `+` number that is not a phone: the run is what counts
        number, start = number[1:], start + 1
    if _AMOUNT_AFTER.match(text, end) or _AMOUNT_BEFORE.search(text, max(0, start - 12), start):
        return found[0]
    return found[0][: len(found[0]) - len(number)] + mask_digits(number)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with phone and account numbers masked and secrets replaced (the module's rule).

    Each pattern runs only on a line that has what it starts with (nine digits, `rk_`, a key
    word and `=` or `:`): most lines, the access lines among them, have none, and cost a few
    substring checks rather than three regular expressions."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    if _LONG_DIGITS.search(text):
        text = _NUMBER.sub(_mask_number, text)
    if "rk_" in text:
        text = _API_KEY.sub(r"\1***", text)
    if "=" in text or ":" in text:
        lowered = text.lower()
        if any(word in lowered for word in _KEY_WORDS):
            text = _KEY_VALUE.sub(r"\1***", text)
    return text


class MaskingFilter(logging.Filter):
    """On the handler: the message (its arguments put in) and the traceback, redacted."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # a short value would be found in harmless text: secrets are long, and config checks it
        self.secrets = tuple(sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True))

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg = redact(record.getMessage(), self.secrets)
        except Exception:  # arguments that do not fit the format: the formatter reports it
            return True
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


_TRACEBACKS = logging.Formatter()


# --- formats ------------------------------------------------------------------------------


class _UtcTime:
    """`2025-11-24T03:00:00.123Z`, the seconds made once a second rather than once a line."""

    def __init__(self) -> None:
        self._second: tuple[int, str] = (-1, "")

    def __call__(self, created: float) -> str:
        second = int(created)
        if self._second[0] != second:
            self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return f"{self._second[1]}.{int((created - second) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object a line."""

    def __init__(self) -> None:
        super().__init__()
        self._time = _UtcTime()
        self._encode = msgspec.json.Encoder().encode

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            line["request_id"] = request_id
        context = _context.get()
        if context:
            line.update(context)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return self._encode(line).decode()


class TextFormatter(logging.Formatter):
    """`time LEVEL logger [request id] message (run_id=… channel=… business_day=…)`."""

    def __init__(self) -> None:
        super().__init__()
        self._time = _UtcTime()

    def format(self, record: logging.LogRecord) -> str:
        context = _context.get()
        about = f" ({' '.join(f'{k}={v}' for k, v in context.items())})" if context else ""
        line = (
            f"{self._time(record.created)} {record.levelname} {record.name} "
            f"[{request_id_var.get() or '-'}] {record.getMessage()}{about}"
        )
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line = f"{line}\n{record.exc_text}"
        if record.stack_info:
            line = f"{line}\n{record.stack_info}"
        return line


def log_format(environ: Mapping[str, str], stream: IO[str]) -> str:
    """`RECON_LOG_FORMAT`, or text on a terminal and JSON lines otherwise."""
    chosen = environ.get("RECON_LOG_FORMAT", "").strip().lower()
    if not chosen:
        isatty = getattr(stream, "isatty", None)
        return "text" if isatty is not None and isatty() else "json"
    if chosen not in FORMATS:
        given = environ["RECON_LOG_FORMAT"]
        raise SettingsError(f"RECON_LOG_FORMAT: {given!r} is not json or text")
    return chosen


def configure_logging(
    level: str | int = "INFO",
    *,
    secrets: Iterable[str] = (),
    stream: IO[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> logging.Handler:
    """One handler on the root logger for every line of the process; recon's and the adapters'
    loggers at `level`, the rest at WARNING. Raises SettingsError for a bad RECON_LOG_FORMAT."""
    stream = sys.stderr if stream is None else stream
    chosen = log_format(os.environ if environ is None else environ, stream)
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskingFilter(secrets))
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    for name in OWN_LOGGERS:
        own = logging.getLogger(name)
        own.handlers[:] = []
        own.setLevel(level)
        own.propagate = True
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


def channel_secrets(secrets: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The configured channel secrets (Settings.secrets) as a flat list, for `MaskingFilter`."""
    return [value for values in secrets.values() for value in values.values()]
