"""Log lines (recon.system.logs): JSON lines or text, their fields, the run context, tracebacks,
RECON_LOG_FORMAT, and the masking rule."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import pytest

from recon.errors import SettingsError
from recon.system.logs import configure_logging, log_context, redact, request_id_var
from recon.system.observability import log_access

Lines = Callable[[], list[str]]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide loggers: put them back after the test."""
    names = ["", "recon", "adapters", "httpx", "httpcore"]
    saved = {
        name: (list(lg.handlers), lg.level, lg.propagate)
        for name in names
        for lg in [logging.getLogger(name)]
    }
    yield
    for name, (handlers, level, propagate) in saved.items():
        lg = logging.getLogger(name)
        lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate


def capture(log_format: str, **kwargs: object) -> Lines:
    stream = io.StringIO()
    configure_logging(stream=stream, environ={"RECON_LOG_FORMAT": log_format}, **kwargs)  # type: ignore[arg-type]
    return lambda: stream.getvalue().splitlines()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.usefixtures("restore_logging")
def test_a_json_line_has_time_level_logger_and_message() -> None:
    lines = capture("json")
    logging.getLogger("recon.runs").info("run %d of %s: %s", 7, "2025-11-24", "succeeded")
    [line] = [json.loads(text) for text in lines()]
    assert set(line) == {"time", "level", "logger", "message"}
    assert (line["level"], line["logger"]) == ("INFO", "recon.runs")
    assert line["message"] == "run 7 of 2025-11-24: succeeded"
    when = datetime.fromisoformat(line["time"])
    assert when.tzinfo is not None
    assert when.utcoffset() == UTC.utcoffset(None)
    assert abs((datetime.now(UTC) - when).total_seconds()) < 5


@pytest.mark.usefixtures("restore_logging")
def test_a_line_in_a_request_and_a_run_carries_their_ids() -> None:
    lines = capture("json")
    token = request_id_var.set("req-1")
    try:
        with log_context(run_id=12, business_day=date(2025, 11, 24)):
            with log_context(channel="momo"):
                logging.getLogger("adapters.momo").warning("retrying")
            logging.getLogger("recon.runs").info("judged")
        logging.getLogger("recon.runs").info("after")
    finally:
        request_id_var.reset(token)
    pulled, judged, after = (json.loads(text) for text in lines())
    assert pulled["request_id"] == "req-1"
    assert (pulled["run_id"], pulled["channel"], pulled["business_day"]) == (
        12,
        "momo",
        "2025-11-24",
    )
    assert "channel" not in judged
    assert judged["run_id"] == 12
    assert {"run_id", "channel", "business_day"}.isdisjoint(after)


@pytest.mark.usefixtures("restore_logging")
def test_an_exception_is_logged_with_its_traceback_as_a_field() -> None:
    lines = capture("json")
    try:
        raise ValueError("no such channel")
    except ValueError:
        logging.getLogger("recon.schedule").exception("the firing failed")
    [text] = lines()  # one line: the traceback's newlines are escaped inside it
    line = json.loads(text)
    assert line["level"] == "ERROR"
    assert line["message"] == "the firing failed"
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert "ValueError: no such channel" in line["exception"]


@pytest.mark.usefixtures("restore_logging")
def test_the_access_line_is_one_json_line() -> None:
    lines = capture("json")
    token = request_id_var.set("abc123")
    try:
        log_access("GET", "/api/v1/payments/H17.25-241125-0001", 200, 1.25)
    finally:
        request_id_var.reset(token)
    [line] = [json.loads(text) for text in lines()]
    assert line["logger"] == "recon.access"
    assert line["message"] == "GET /api/v1/payments/H17.25-241125-0001 200 1.2ms"
    assert line["request_id"] == "abc123"


@pytest.mark.usefixtures("restore_logging")
def test_text_lines_carry_the_same_fields() -> None:
    lines = capture("text")
    with log_context(run_id=3, channel="bank", business_day=date(2025, 11, 24)):
        logging.getLogger("recon.statements").warning("pull failed")
    [line] = lines()
    assert " WARNING recon.statements [-] pull failed" in line
    assert line.endswith("(run_id=3 channel=bank business_day=2025-11-24)")
    assert line[:24].endswith("Z")


def test_the_format_is_text_on_a_terminal_and_json_lines_elsewhere(
    restore_logging: None,
) -> None:
    for stream, expected in ((Terminal(), "text"), (io.StringIO(), "json")):
        configure_logging(stream=stream, environ={})
        logging.getLogger("recon").info("hello")
        first = stream.getvalue()
        assert first.startswith("{") == (expected == "json"), first


@pytest.mark.usefixtures("restore_logging")
def test_recon_log_format_forces_a_format() -> None:
    stream = Terminal()
    configure_logging(stream=stream, environ={"RECON_LOG_FORMAT": "JSON"})
    logging.getLogger("recon").info("hello")
    assert json.loads(stream.getvalue())["message"] == "hello"


def test_a_bad_recon_log_format_is_one_line_naming_the_variable(
    restore_logging: None,
) -> None:
    with pytest.raises(SettingsError) as refused:
        configure_logging(stream=io.StringIO(), environ={"RECON_LOG_FORMAT": "xml"})
    assert refused.value.detail == "RECON_LOG_FORMAT: 'xml' is not json or text"


def test_the_scheduler_refuses_to_start_with_a_bad_recon_log_format(
    run_cli: Callable[..., object], monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    monkeypatch.setenv("RECON_LOG_FORMAT", "yaml")
    result = run_cli("scheduler")
    assert result.code == 2, result  # type: ignore[attr-defined]
    assert result.err == "recon: error: RECON_LOG_FORMAT: 'yaml' is not json or text\n"  # type: ignore[attr-defined]


@pytest.mark.usefixtures("restore_logging")
def test_http_client_libraries_stay_at_warning_even_at_debug() -> None:
    lines = capture("json", level="DEBUG")
    logging.getLogger("httpx").info("HTTP Request: GET http://x/?signature=abc")
    logging.getLogger("httpcore.http11").debug("send_request_headers.started")
    logging.getLogger("recon.runs").debug("recon's own debug line")
    assert [json.loads(text)["logger"] for text in lines()] == ["recon.runs"]


@pytest.mark.usefixtures("restore_logging")
def test_messages_arguments_and_tracebacks_are_masked_on_the_way_out() -> None:
    lines = capture("json", secrets=["s3cret-of-momo"])
    log = logging.getLogger("adapters.bank")
    log.warning("payer %s paid from %s", "0901234567", "012345678901")
    try:
        raise RuntimeError("signed with s3cret-of-momo for 0987654321")
    except RuntimeError:
        log.exception("failed")
    text = "\n".join(lines())
    for leaked in ("0901234567", "012345678901", "s3cret-of-momo", "0987654321"):
        assert leaked not in text
    first = json.loads(lines()[0])
    assert first["message"] == "payer *******567 paid from *********901"


# --- the masking rule ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("payer 0901234567", "payer *******567"),
        ("payer +84901234567 or 84901234567", "payer +********567 or ********567"),
        ("account 1017366899", "account *******899"),
        ("from 9704229201234567", "from *************567"),
        ("ref FT25329123456789", "ref FT***********789"),
    ],
)
def test_phone_and_account_numbers_are_masked_but_their_last_three_digits(
    text: str, masked: str
) -> None:
    assert redact(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "dossier H17.25-241125-0001 and H17.25-041125-0123",
        "run 12345 of 2025-11-24 at 2025-11-24T01:30:00.123Z: 42 lines",
        "control totals say 120 lines / 1500000000 VND, received 119 lines / 1499850000 VND",
        "expected amount 250000000000, total: 123456789",
        "fee 150000đ, 12.500.000.000 ₫, elapsed 12.5ms, case 99999999",
        "GET /api/v1/payments:query 200 0.4ms",
    ],
)
def test_ids_dates_and_amounts_are_kept(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("key rk_12_Abc-def_ghiJKLmnop0123 refused", "key rk_12_*** refused"),
        ("X-Signature: a2V5/+Zm9v=", "X-Signature: ***"),
        ('{"signature": "9f86d081884c7d65"}', '{"signature": "***"}'),
        ("?accessKey=abc&signature=def&x=1", "?accessKey=***&signature=***&x=1"),
        ("password=hunter2 token: xyz", "password=*** token: ***"),
        ("Cookie: recon_session=abcdef", "Cookie: ***"),
    ],
)
def test_secret_shaped_values_are_replaced(text: str, masked: str) -> None:
    assert redact(text) == masked


def test_configured_secrets_are_replaced_wherever_they_appear() -> None:
    assert redact("sent 'longsecretvalue' in a body", ["longsecretvalue"]) == "sent '***' in a body"
