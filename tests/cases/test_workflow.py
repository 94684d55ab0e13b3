"""The case workflow as a service (DESIGN 4, "Workflow, precisely"): every action × role, every
resolution, the write-off approval and maker-checker, bulk all or none, the state checks, and
the history. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from recon.cases import workflow
from recon.cases.schemas import CaseDetail
from recon.cases.service import get_case
from recon.db.models import Case, CaseEvent
from recon.db.session import open_database
from recon.errors import BadInput, Conflict, Forbidden, NotFound, ReconError
from recon.settings import Settings
from tests.cases.conftest import (
    CLOSED_DOSSIER,
    EXTRA,
    OVERPAID,
    THRESHOLD,
    UNDERPAID,
    UNMATCHED,
)

NOW = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)  # after the run
NOTE = "Đã kiểm tra với ngân hàng"


async def act(settings: Settings, action: str, **given: Any) -> Any:
    """One workflow action in a session of its own, as the CLI and the API do."""
    fn: Callable[..., Awaitable[Any]] = getattr(workflow, action)
    if action in ("resolve", "reopen"):
        given.setdefault("settings", settings)
    given.setdefault("note", NOTE)
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as session:
        return await fn(db_session=session, now=given.pop("now", NOW), **given)


async def case_of(settings: Settings, case_id: int) -> CaseDetail:
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as session:
        return await get_case(db_session=session, case_id=case_id)


async def everything(settings: Settings) -> tuple[list[Any], list[Any]]:
    """Every case and every event as stored: what a refusal must leave as it was."""
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as session:
        cases = (await session.execute(select(Case).order_by(Case.id))).scalars().all()
        events = (await session.execute(select(CaseEvent).order_by(CaseEvent.id))).scalars()
        return (
            [
                (c.id, c.status, c.resolution, c.pending_resolution, c.pending_by, c.updated_at)
                for c in cases
            ],
            [(e.id, e.case_id, e.action, e.actor, e.to_status, e.note) for e in events],
        )


async def refused(
    settings: Settings, error: type[ReconError], action: str, **given: Any
) -> ReconError:
    before = await everything(settings)
    with pytest.raises(error) as caught:
        await act(settings, action, **given)
    assert await everything(settings) == before  # a refused action changes nothing
    return caught.value


# --- who may do what ----------------------------------------------------------------------

ROLE_USER = {"accountant": "ketoan", "approver": "duyet", "viewer": "xem", "admin": "quantri"}


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("accountant", True), ("approver", True), ("viewer", False), ("admin", False)],
)
async def test_accountants_and_approvers_resolve_viewers_and_admins_do_not(
    settings: Settings, queue: dict[str, int], role: str, allowed: bool
) -> None:
    case_id = queue[CLOSED_DOSSIER]
    given = {"case_ids": [case_id], "resolution": "refund_requested"}
    if not allowed:
        error = await refused(settings, Forbidden, "resolve", username=ROLE_USER[role], **given)
        assert "accountant or approver" in error.detail
        return
    await act(settings, "resolve", username=ROLE_USER[role], **given)
    case = await case_of(settings, case_id)
    assert (case.status, case.resolution) == ("resolved", "refund_requested")
    assert case.history[-1].actor == ROLE_USER[role]


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("accountant", True), ("approver", True), ("viewer", False), ("admin", False)],
)
async def test_accountants_and_approvers_reopen_viewers_and_admins_do_not(
    settings: Settings, queue: dict[str, int], role: str, allowed: bool
) -> None:
    case_id = queue[CLOSED_DOSSIER]
    await act(settings, "resolve", case_ids=[case_id], resolution="accepted", username="ketoan")
    if not allowed:
        await refused(settings, Forbidden, "reopen", case_id=case_id, username=ROLE_USER[role])
        return
    await act(settings, "reopen", case_id=case_id, username=ROLE_USER[role], note="Nhầm")
    case = await case_of(settings, case_id)
    assert (case.status, case.resolution) == ("reopened", None)


@pytest.mark.parametrize("action", ["approve", "reject"])
@pytest.mark.parametrize(
    ("role", "allowed"),
    [("accountant", False), ("approver", True), ("viewer", False), ("admin", False)],
)
async def test_only_an_approver_approves_or_rejects_a_pending_write_off(
    settings: Settings, queue: dict[str, int], role: str, allowed: bool, action: str
) -> None:
    case_id = queue[UNDERPAID]
    await act(settings, "resolve", case_ids=[case_id], resolution="written_off", username="ketoan2")
    if not allowed:
        await refused(settings, Forbidden, action, case_id=case_id, username=ROLE_USER[role])
        return
    await act(settings, action, case_id=case_id, username=ROLE_USER[role])
    case = await case_of(settings, case_id)
    assert case.pending_resolution is None
    if action == "approve":
        assert (case.status, case.resolution) == ("resolved", "written_off")
    else:
        assert (case.status, case.resolution) == ("open", None)


@pytest.mark.parametrize("action", ["approve", "reject"])
async def test_an_approver_never_decides_a_write_off_they_asked_for(
    settings: Settings, queue: dict[str, int], action: str
) -> None:
    case_id = queue[UNDERPAID]
    await act(settings, "resolve", case_ids=[case_id], resolution="written_off", username="duyet")
    error = await refused(settings, Forbidden, action, case_id=case_id, username="duyet")
    assert "another approver" in error.detail
    await act(settings, action, case_id=case_id, username="duyet2")


@pytest.mark.parametrize("username", ["nobody", "nghiviec"])
async def test_an_unknown_or_disabled_account_acts_on_nothing(
    settings: Settings, queue: dict[str, int], username: str
) -> None:
    await refused(
        settings,
        Forbidden,
        "resolve",
        case_ids=[queue[UNMATCHED]],
        resolution="accepted",
        username=username,
    )


# --- the resolutions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resolution", "key", "dossier"),
    [
        ("linked", UNMATCHED, EXTRA),
        ("accepted", UNDERPAID, None),
        ("refund_requested", CLOSED_DOSSIER, None),
        ("written_off", CLOSED_DOSSIER, None),  # 3,000 at stake: at once
        ("channel_dispute", OVERPAID, None),
    ],
)
async def test_every_resolution_resolves_a_live_case(
    settings: Settings, queue: dict[str, int], resolution: str, key: str, dossier: str | None
) -> None:
    case_id = queue[key]
    acted = await act(
        settings,
        "resolve",
        case_ids=[case_id],
        resolution=resolution,
        username="ketoan",
        dossier_code=dossier,
    )
    assert acted == [case_id]
    case = await case_of(settings, case_id)
    assert (case.status, case.resolution, case.pending_resolution) == (
        "resolved",
        resolution,
        None,
    )
    event = case.history[-1]
    assert (event.actor, event.action, event.from_status, event.to_status) == (
        "ketoan",
        "resolve",
        "open",
        "resolved",
    )
    assert (event.resolution, event.dossier_code, event.note) == (resolution, dossier, NOTE)
    assert event.at == NOW


async def test_a_write_off_at_the_threshold_resolves_at_once_above_it_waits(
    settings: Settings, queue: dict[str, int]
) -> None:
    at, above = queue[UNMATCHED], queue[UNDERPAID]  # 5,000 and 10,000 at stake
    assert THRESHOLD == 5_000
    await act(
        settings, "resolve", case_ids=[at, above], resolution="written_off", username="ketoan"
    )
    assert (await case_of(settings, at)).status == "resolved"
    waiting = await case_of(settings, above)
    assert (waiting.status, waiting.resolution) == ("open", None)
    assert (waiting.pending_resolution, waiting.pending_by) == ("written_off", "ketoan")
    event = waiting.history[-1]
    assert (event.action, event.from_status, event.to_status) == ("resolve", "open", "open")
    assert event.resolution == "written_off"
    assert event.changes["at_stake"] == 10_000


async def test_a_pending_write_off_approved_resolves_rejected_stays_live(
    settings: Settings, queue: dict[str, int]
) -> None:
    approved, rejected = queue[UNDERPAID], queue[OVERPAID]
    for case_id in (approved, rejected):
        await act(
            settings, "resolve", case_ids=[case_id], resolution="written_off", username="ketoan"
        )
    await act(settings, "approve", case_id=approved, username="duyet", note="Đồng ý")
    await act(settings, "reject", case_id=rejected, username="duyet", note="Thu lại được")
    done = await case_of(settings, approved)
    assert (done.status, done.resolution, done.pending_resolution) == (
        "resolved",
        "written_off",
        None,
    )
    assert [e.action for e in done.history] == ["opened", "resolve", "approve"]
    live = await case_of(settings, rejected)
    assert (live.status, live.resolution, live.pending_resolution) == ("open", None, None)
    assert [(e.action, e.actor, e.note) for e in live.history][1:] == [
        ("resolve", "ketoan", NOTE),
        ("reject", "duyet", "Thu lại được"),
    ]
    # rejected, it can be resolved again, another way
    await act(settings, "resolve", case_ids=[rejected], resolution="accepted", username="ketoan")


# --- states -------------------------------------------------------------------------------


async def test_only_a_live_case_is_resolved_and_only_a_resolved_one_reopened(
    settings: Settings, queue: dict[str, int]
) -> None:
    case_id = queue[CLOSED_DOSSIER]
    await refused(settings, Conflict, "reopen", case_id=case_id, username="ketoan")
    await act(settings, "resolve", case_ids=[case_id], resolution="accepted", username="ketoan")
    error = await refused(
        settings,
        Conflict,
        "resolve",
        case_ids=[case_id],
        resolution="accepted",
        username="ketoan",
    )
    assert "only a live case" in error.detail
    await act(settings, "reopen", case_id=case_id, username="ketoan", note="Xem lại")
    reopened = await case_of(settings, case_id)
    assert (reopened.status, reopened.resolution) == ("reopened", None)
    # reopened is live: it is resolved again
    await act(settings, "resolve", case_ids=[case_id], resolution="accepted", username="ketoan")
    assert [e.action for e in (await case_of(settings, case_id)).history] == [
        "opened",
        "resolve",
        "reopen",
        "resolve",
    ]


async def test_approve_and_reject_need_a_pending_write_off(
    settings: Settings, queue: dict[str, int]
) -> None:
    for action in ("approve", "reject"):
        await refused(settings, Conflict, action, case_id=queue[UNDERPAID], username="duyet")
    await act(
        settings, "resolve", case_ids=[queue[UNDERPAID]], resolution="written_off", username="duyet"
    )
    # while a write-off waits, the case takes no other resolution
    await refused(
        settings,
        Conflict,
        "resolve",
        case_ids=[queue[UNDERPAID]],
        resolution="accepted",
        username="ketoan",
    )


async def test_a_closed_case_takes_no_action(
    settings: Settings, queue: dict[str, int], closed_case: int
) -> None:
    for action, given in (
        ("resolve", {"case_ids": [closed_case], "resolution": "accepted"}),
        ("reopen", {"case_id": closed_case}),
    ):
        await refused(settings, Conflict, action, username="ketoan", **given)
    for action in ("approve", "reject"):
        await refused(settings, Conflict, action, case_id=closed_case, username="duyet")


@pytest.fixture
def closed_case(run_cli: Callable[..., Any], queue: dict[str, int], tmp_path: Any) -> int:
    """The UNDERPAID of dossier 0002, closed by a run once the rest of its fee came."""
    from tests.runs.test_reconcile import D1, LINES, reconcile, write

    rest = write(
        tmp_path,
        "rest.csv",
        LINES,
        f"V7,,10.000,0,payment,success,{D1}T15:00:00+07:00,HS H17.25-241125-0002,",
    )
    assert run_cli("statements", "import", "--channel", "vnpay", rest).code == 0
    assert reconcile(run_cli, D1, "--channel", "vnpay")["cases_closed"] == 1
    return queue[UNDERPAID]


# --- bad values, unknown things -----------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"note": "  "}, "note"),
        ({"resolution": "forgiven"}, "resolution"),
        ({"resolution": "linked"}, "dossier_code"),
        ({"resolution": "accepted", "dossier_code": EXTRA}, "dossier_code"),
        ({"case_ids": []}, "ids"),
    ],
)
async def test_bad_values_are_refused_naming_the_field(
    settings: Settings, queue: dict[str, int], given: dict[str, Any], field: str
) -> None:
    values = {"case_ids": [queue[UNMATCHED]], "resolution": "accepted", "username": "ketoan"}
    error = await refused(settings, BadInput, "resolve", **{**values, **given})
    assert [e.field for e in error.errors] == [field]


async def test_linked_needs_an_owner_less_payment_and_a_known_dossier(
    settings: Settings, queue: dict[str, int]
) -> None:
    link = {"resolution": "linked", "username": "ketoan", "dossier_code": EXTRA}
    error = await refused(settings, Conflict, "resolve", case_ids=[queue[UNDERPAID]], **link)
    assert "owner-less payment" in error.detail
    unknown = {**link, "dossier_code": "H99.99-000000-0000"}
    error = await refused(settings, NotFound, "resolve", case_ids=[queue[UNMATCHED]], **unknown)
    assert [e.field for e in error.errors] == ["dossier_code"]
    # a dossier code is compared as codes are: case and punctuation aside
    loose = {**link, "dossier_code": " h1725241125 0005 "}
    await act(settings, "resolve", case_ids=[queue[UNMATCHED]], **loose)
    assert (await case_of(settings, queue[UNMATCHED])).linked_dossier_code == EXTRA


async def test_an_unknown_case_is_not_found(settings: Settings, queue: dict[str, int]) -> None:
    await refused(
        settings,
        NotFound,
        "resolve",
        case_ids=[queue[UNMATCHED], 999_999],
        resolution="accepted",
        username="ketoan",
    )
    for action in ("approve", "reject", "reopen"):
        await refused(settings, NotFound, action, case_id=999_999, username="duyet")


# --- several at once ----------------------------------------------------------------------


async def test_bulk_resolve_is_all_or_none(settings: Settings, queue: dict[str, int]) -> None:
    await act(
        settings,
        "resolve",
        case_ids=[queue[CLOSED_DOSSIER]],
        resolution="refund_requested",
        username="ketoan",
    )
    several = [queue[UNMATCHED], queue[OVERPAID], queue[CLOSED_DOSSIER]]  # the last: resolved
    error = await refused(
        settings, Conflict, "resolve", case_ids=several, resolution="accepted", username="ketoan"
    )
    assert str(queue[CLOSED_DOSSIER]) in error.detail
    acted = await act(
        settings,
        "resolve",
        case_ids=several[:2] + several[:1],  # named twice, acted on once
        resolution="accepted",
        username="ketoan",
    )
    assert acted == several[:2]
    for case_id in several[:2]:
        case = await case_of(settings, case_id)
        assert (case.status, case.resolution) == ("resolved", "accepted")
        assert [e.action for e in case.history] == ["opened", "resolve"]


# --- history ------------------------------------------------------------------------------


async def test_history_is_oldest_first_in_designs_shape_and_never_changes(
    settings: Settings, queue: dict[str, int]
) -> None:
    case_id = queue[UNDERPAID]
    start = datetime.now(UTC) + timedelta(minutes=1)  # after the run that opened it
    seen: list[Any] = []
    steps: list[tuple[str, dict[str, Any]]] = [
        ("resolve", {"case_ids": [case_id], "resolution": "written_off", "username": "ketoan"}),
        ("reject", {"case_id": case_id, "username": "duyet"}),
        ("resolve", {"case_ids": [case_id], "resolution": "accepted", "username": "duyet"}),
        ("reopen", {"case_id": case_id, "username": "ketoan2"}),
    ]
    for n, (action, given) in enumerate(steps):
        await act(settings, action, now=start + timedelta(minutes=n), **given)
        history = (await case_of(settings, case_id)).history
        assert history[: len(seen)] == seen  # what was written stays as it was
        seen = history
    assert [(e.action, e.actor, e.from_status, e.to_status, e.resolution) for e in seen] == [
        ("opened", None, None, "open", None),
        ("resolve", "ketoan", "open", "open", "written_off"),
        ("reject", "duyet", "open", "open", "written_off"),
        ("resolve", "duyet", "open", "resolved", "accepted"),
        ("reopen", "ketoan2", "resolved", "reopened", None),
    ]
    assert [e.at for e in seen] == sorted(e.at for e in seen)
    shape = {"at", "actor", "action", "from_status", "to_status", "resolution", "dossier_code"}
    assert shape | {"note"} <= set(seen[0].__struct_fields__)
