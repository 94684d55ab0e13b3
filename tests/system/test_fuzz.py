"""schemathesis over every operation of the app's own `/schema/openapi.json`, in-process.

The operations come from the app's schema, not from a list here: a route added later is fuzzed
as soon as it is served. A key holding every scope is sent, so each route is reached past its
guard, over a reconciled ward. Every answer must be no 5xx and what the schema documents
(status code, content type, body), on SQLite and PostgreSQL. Valid and invalid requests alike,
a bounded number per operation, the same ones on every run (derandomized): the whole run stays
well under a minute on two cores.

(schemathesis' own pytest integration, `schema.parametrize()`, does not run under pytest 9.2,
so each operation is a parametrized test driving the operation's Hypothesis strategies.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance
from schemathesis.python.asgi import shutdown_lifespans

from recon.app import create_app
from recon.auth.service import SCOPES
from recon.settings import Settings, load_settings
from tests.helpers import make_key
from tests.runs.test_reconcile import D1, reconcile, ward

__all__ = ["ward"]

EXAMPLES_PER_OPERATION = 30


def _operation_labels() -> list[str]:
    """`GET /api/v1/cases`, … for every operation the app documents (no database needed)."""
    app = create_app(load_settings({}))
    document = app.openapi_schema.to_schema()
    return [
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "put", "post", "patch", "delete", "head", "options"}
    ]


@pytest.fixture
def reconciled(run_cli: Callable[..., Any], ward: None) -> None:
    """A ward with a reconciled day: cases, a run, lines and dossiers for the reads to find."""
    reconcile(run_cli, D1, "--channel", "vnpay")


@pytest.fixture
def api_schema(settings: Settings, reconciled: None) -> Iterator[Any]:
    app = create_app(settings)
    try:
        yield schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    finally:
        shutdown_lifespans()  # the app's lifespan (its engine) ends with the test


@pytest.fixture
def every_scope(settings: Settings) -> dict[str, str]:
    key = asyncio.run(make_key(settings, *SCOPES, name="fuzz"))
    return {"Authorization": f"Bearer {key}"}


def test_every_route_is_fuzzed() -> None:
    labels = _operation_labels()
    assert "GET /api/v1/cases" in labels
    assert "HEAD /healthz" in labels
    assert len(labels) == len(set(labels))


@pytest.mark.parametrize("label", _operation_labels())
def test_every_operation_answers_as_documented(
    label: str, api_schema: Any, every_scope: dict[str, str]
) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is in the app's schema but not in the one served"
    requests = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE, headers=every_scope),
        operation.as_strategy(GenerationMode.NEGATIVE, headers=every_scope),
    )

    @given(case=requests)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,  # the same requests on every run: a failure here reproduces
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def answers_as_documented(case: Any) -> None:
        # a request the schema allows may still be refused, 422 naming the field, for a rule
        # the schema cannot say (`to` before `from`, an unknown channel, a code that collides)
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    answers_as_documented()
