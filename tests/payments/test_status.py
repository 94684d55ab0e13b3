"""The status rule of DESIGN 8 ("Statuses"), as a pure function: each status and its edges,
and properties over random dossiers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recon.matching.judge import net_of
from recon.payments.status import Txn, latest_channel, payment_status

T0 = datetime(2025, 11, 24, 2, 0, tzinfo=UTC)


def txn(
    amount: int,
    *,
    kind: str = "payment",
    status: str = "success",
    channel: str = "momo",
    reconciled: bool = True,
    minutes: int = 0,
    txn_id: str | None = None,
) -> Txn:
    return Txn(
        channel=channel,
        channel_txn_id=txn_id or f"{channel}-{kind}-{amount}-{minutes}",
        kind=kind,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        amount=amount,
        paid_at=T0 + timedelta(minutes=minutes),
        day=date(2025, 11, 24),
        reconciled=reconciled,
    )


@pytest.mark.parametrize(
    ("fee", "state", "txns", "live", "expected"),
    [
        pytest.param(50_000, "received", [txn(50_000)], True, "DISPUTED", id="a live case"),
        pytest.param(50_000, "received", [txn(20_000)], False, "PARTIALLY_PAID", id="resolved"),
        pytest.param(0, "received", [], False, "EXEMPT", id="exempt"),
        pytest.param(50_000, "received", [], False, "UNPAID", id="nothing"),
        pytest.param(50_000, "cancelled", [], False, "UNPAID", id="cancelled, nothing net"),
        pytest.param(0, "rejected", [], False, "UNPAID", id="rejected, fee 0"),
        pytest.param(
            50_000,
            "cancelled",
            [txn(50_000), txn(50_000, kind="refund", minutes=9)],
            False,
            "REFUNDED",
            id="cancelled and refunded",
        ),
        pytest.param(50_000, "received", [txn(50_000)], False, "PAID", id="paid"),
        pytest.param(
            50_000,
            "received",
            [txn(20_000, channel="momo"), txn(30_000, channel="bank", minutes=5)],
            False,
            "PAID",
            id="split over two channels",
        ),
        pytest.param(50_000, "received", [txn(70_000)], False, "OVERPAID", id="overpaid"),
        pytest.param(0, "received", [txn(10_000)], False, "OVERPAID", id="exempt and paid"),
        pytest.param(
            0,
            "received",
            [txn(10_000), txn(10_000, kind="refund", minutes=3)],
            False,
            "REFUNDED",
            id="exempt, paid and refunded",
        ),
        pytest.param(
            50_000,
            "received",
            [txn(50_000), txn(50_000, kind="refund", minutes=3)],
            False,
            "REFUNDED",
            id="refunded in full",
        ),
        pytest.param(
            50_000,
            "received",
            [txn(50_000), txn(20_000, kind="refund", minutes=3)],
            False,
            "PARTIALLY_PAID",
            id="refunded in part",
        ),
        pytest.param(
            50_000, "received", [txn(50_000, reconciled=False)], False, "PENDING", id="not run"
        ),
        pytest.param(
            50_000, "received", [txn(50_000, status="pending")], False, "PENDING", id="pending"
        ),
        pytest.param(
            50_000,
            "received",
            [txn(50_000, status="failed", reconciled=False)],
            False,
            "UNPAID",
            id="a failed line seen before the run",
        ),
        pytest.param(
            50_000,
            "received",
            [txn(50_000, status="reversed")],
            False,
            "UNPAID",
            id="reversed",
        ),
        pytest.param(
            50_000,
            "received",
            [txn(50_000), txn(50_000, status="failed", minutes=1)],
            False,
            "PAID",
            id="paid after a failed attempt",
        ),
        pytest.param(
            50_000,
            "received",
            [txn(50_000, status="pending", reconciled=False)],
            True,
            "DISPUTED",
            id="a live case comes first",
        ),
    ],
)
def test_each_status(fee: int, state: str, txns: list[Txn], live: bool, expected: str) -> None:
    assert payment_status(fee=fee, state=state, txns=txns, live_case=live) == expected


def test_the_channel_is_that_of_the_latest_successful_line() -> None:
    txns = [
        txn(20_000, channel="momo", minutes=0),
        txn(30_000, channel="bank", minutes=5),
        txn(10_000, channel="portal", status="failed", minutes=9),
    ]
    assert latest_channel(txns) == "bank"
    assert latest_channel([txn(1, status="pending")]) is None
    assert net_of(txns) == 50_000


LINES = st.lists(
    st.builds(
        txn,
        st.integers(min_value=1, max_value=10**9),
        kind=st.sampled_from(["payment", "refund"]),
        status=st.sampled_from(["success", "pending", "failed", "reversed"]),
        channel=st.sampled_from(["momo", "portal", "bank"]),
        reconciled=st.booleans(),
        minutes=st.integers(min_value=0, max_value=10_000),
    ),
    max_size=8,
)
FEES = st.integers(min_value=0, max_value=10**9)
STATES = st.sampled_from(["received", "processing", "completed", "cancelled", "rejected"])


@given(FEES, STATES, LINES)
def test_a_live_case_always_disputes(fee: int, state: str, txns: list[Txn]) -> None:
    assert payment_status(fee=fee, state=state, txns=txns, live_case=True) == "DISPUTED"


@given(FEES, STATES, LINES)
def test_settled_and_reconciled_money_is_judged_by_its_net(
    fee: int, state: str, txns: list[Txn]
) -> None:
    settled = [t for t in txns if t.reconciled and t.status != "pending"]
    status = payment_status(fee=fee, state=state, txns=settled, live_case=False)
    net = net_of(settled)
    assert status != "PENDING"
    if net > 0:
        assert (
            status
            == {True: "OVERPAID", False: "PAID" if net == fee else "PARTIALLY_PAID"}[
                fee == 0 or net > fee
            ]
        )
    else:
        assert status in ("REFUNDED", "UNPAID", "EXEMPT")
        assert (status == "REFUNDED") == any(
            t.kind == "refund" and t.status == "success" for t in settled
        )


@given(FEES, STATES, LINES)
def test_money_a_run_has_not_seen_keeps_the_dossier_pending(
    fee: int, state: str, txns: list[Txn]
) -> None:
    unseen = any(not t.reconciled and t.status in ("success", "pending") for t in txns)
    status = payment_status(fee=fee, state=state, txns=txns, live_case=False)
    if unseen:
        assert status == "PENDING"
