"""What a whole day of work writes to the log leaks nothing (issue 15, logs): pulls from the
channel simulators with real signatures, failing channels (HTTP 500, a bad MoMo signature),
runs, an API key created and used (and a wrong one), web logins with the right and the wrong
password. Every line of every logger, recon's at DEBUG, goes through the handler
`configure_logging` installs (the libraries it holds at WARNING stay there: that is the
defence under test), once in JSON lines and once in text, and is scanned for the channel
secrets, the API key, the passwords, the session cookie and the payers' unmasked phone and
account numbers. Every JSON line parses and has its fields; a run's lines say which run,
channel and day."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from fixtures.simulators.server import SimulatorSet, run_simulators
from recon.app import create_app
from recon.db.session import open_database
from recon.dossiers.imports import import_dossier_bytes
from recon.runs.batch import reconcile_days
from recon.settings import load_settings
from recon.system.logs import channel_secrets, configure_logging
from recon.web.sessions import SESSION_COOKIE
from tests.e2e.conftest import INSTANT
from tests.web.signin import sign_in

pytestmark = pytest.mark.e2e

END = date(2025, 11, 24)
START = END - timedelta(days=2)
DAYS = [START + timedelta(days=n) for n in range(3)]
PASSWORD = "mật khẩu rất dài 2468"
WRONG = "mật khẩu sai rồi 1357"
PHONE = re.compile(r"(?<![0-9])(?:\+84|84|0)[1-9][0-9]{8}(?![0-9])")
FIELDS = {"time", "level", "logger", "message"}


@pytest.fixture(scope="module")
def sims() -> Iterator[SimulatorSet]:
    with run_simulators(start=START, end=END, seed=23) as running:
        yield running


@pytest.fixture
def restore_logging() -> Iterator[None]:
    names = ["", "recon", "adapters", "httpx", "httpcore", "hpack", "urllib3", "asyncio"]
    names += ["aiosqlite", "sqlalchemy"]
    saved = {
        n: (list(lg.handlers), lg.level, lg.propagate)
        for n in names
        for lg in [logging.getLogger(n)]
    }
    yield
    for name, (handlers, level, propagate) in saved.items():
        lg = logging.getLogger(name)
        lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate


def payer_numbers(sims: SimulatorSet) -> set[str]:
    """Every phone-shaped number and payer account in the simulators' ward."""
    ward = sims.ward
    data = json.dumps(
        [ward.dossiers, *(list(ward.channel(c).values()) for c in ("momo", "portal", "bank"))],
        default=str,
        ensure_ascii=False,
    )
    numbers = set(PHONE.findall(data))
    numbers |= set(re.findall(r'"corresponsiveAccount": "([0-9]{6,})"', data))
    return numbers


async def whole_scenario(
    sims: SimulatorSet,
    database_url: str,
    tmp_path: Path,
    run_cli: Callable[..., Any],
) -> dict[str, str]:
    """The day's work; returns the secrets it handled, by what they are."""
    sims.reset()
    config = tmp_path / "sims.toml"
    config.write_text(sims.recon_config_toml(), encoding="utf-8")
    env = {"RECON_DATABASE_URL": database_url, "RECON_CONFIG": str(config), **sims.recon_env()}
    settings = load_settings(env)
    data = json.dumps(sims.ward.dossiers, default=str, ensure_ascii=False).encode()
    assert (await import_dossier_bytes(settings, "ward.json", data)).rejected == []

    sims.bank.faults.add({"type": "http_500", "date": DAYS[0].isoformat()})
    sims.momo.faults.add({"type": "bad_signature", "date": DAYS[1].isoformat()})
    async with open_database(database_url) as sessionmaker, httpx.AsyncClient() as client:
        outcomes = await reconcile_days(
            sessionmaker=sessionmaker,
            settings=settings,
            plan=[(day, "manual") for day in DAYS],
            client=client,
            retry_policy=INSTANT,
        )
    assert [o.status for o in outcomes] == ["partial", "partial", "succeeded"]  # type: ignore[union-attr]
    sims.reset()

    # the commands run in a thread of their own, as they would in a process: each has its loop
    created = await asyncio.to_thread(
        run_cli, "apikeys", "create", "--name", "one-stop", "--scope", "payments:read", "--json"
    )
    assert created.code == 0, created.err
    key = json.loads(created.out)["key"]
    user = ("users", "create", "--username", "ketoan", "--role", "accountant")
    assert (await asyncio.to_thread(run_cli, *user, stdin=PASSWORD + "\n")).code == 0

    code = sims.ward.dossiers[0]["dossier_code"]
    async with AsyncTestClient(app=create_app(settings)) as api:
        answer = await api.get(
            f"/api/v1/payments/{code}", headers={"Authorization": f"Bearer {key}"}
        )
        assert answer.status_code == 200, answer.text
        forged = key[:-4] + "AAAA"
        refused = await api.get(
            f"/api/v1/payments/{code}", headers={"Authorization": f"Bearer {forged}"}
        )
        assert refused.status_code == 401
        assert (await sign_in(api, "ketoan", WRONG)).status_code != 303
        assert (await sign_in(api, "ketoan", PASSWORD)).status_code == 303
        cookie = api.cookies[SESSION_COOKIE]
        assert (await api.get("/so-doi-soat")).status_code == 200
    secrets = {f"channel secret {k}": v for k, v in sims.recon_env().items()}
    secrets |= {"API key": key, "API key's secret": key.split("_", 2)[2], "forged key": forged}
    secrets |= {"password": PASSWORD, "wrong password": WRONG, "session cookie": cookie}
    return secrets


def start_logging(log_format: str, settings_secrets: list[str]) -> io.StringIO:
    stream = io.StringIO()
    environ = {"RECON_LOG_FORMAT": log_format}
    configure_logging("DEBUG", secrets=settings_secrets, stream=stream, environ=environ)
    logging.getLogger().setLevel(logging.DEBUG)  # every other logger at DEBUG too
    return stream


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("log_format", ["json", "text"])
async def test_a_whole_scenario_logs_no_secret_and_no_payer_number(
    log_format: str,
    sims: SimulatorSet,
    database_url: str,
    tmp_path: Path,
    run_cli: Callable[..., Any],
) -> None:
    stream = start_logging(log_format, channel_secrets({"sims": sims.recon_env()}))
    secrets = await whole_scenario(sims, database_url, tmp_path, run_cli)
    text = stream.getvalue()
    lines = text.splitlines()

    assert any("retrying" in line for line in lines), "the failing channel's retries are logged"
    assert any("/api/v1/payments/" in line for line in lines), "the access lines are logged"
    for what, secret in secrets.items():
        assert secret not in text, f"the {what} is in the log"
    numbers = payer_numbers(sims)
    assert len(numbers) >= 5  # the bank's payer accounts at least: the scan looks for something
    leaked = sorted(n for n in numbers if n in text)
    assert leaked == [], f"unmasked payer numbers in the log: {leaked}"
    assert "Bearer" not in text
    assert "signature=" not in text.replace("signature=***", "")

    if log_format != "json":
        return
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    for line in parsed:
        assert set(line) >= FIELDS, line
    of_runs = [
        line
        for line in parsed
        if line["logger"].startswith(("adapters", "recon.statements"))
        or line["message"].startswith("run ")
    ]
    assert len(of_runs) >= 9  # three runs, each pulling three channels (some retried)
    for line in of_runs:
        assert "run_id" in line, line
        assert line["business_day"] in {d.isoformat() for d in DAYS}, line
        if line["logger"].startswith(("adapters", "recon.statements")):
            assert line["channel"] in {"momo", "portal", "bank"}, line
    accesses = [line for line in parsed if line["logger"] == "recon.access"]
    assert accesses
    assert all("request_id" in line for line in accesses)
