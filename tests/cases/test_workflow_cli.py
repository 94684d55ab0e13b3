"""`recon cases show|resolve|approve|reject|reopen` (DESIGN 6): the case printed after the
action, exit 0 done, 2 bad input, 4 refused (role or state), one line on stderr for an error.
On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.cases.conftest import CLOSED_DOSSIER, EXTRA, OVERPAID, UNDERPAID, UNMATCHED, show
from tests.helpers import one_error_line

CASE_FIELDS = {
    "id",
    "type",
    "status",
    "date",
    "channel",
    "dossier_code",
    "expected_amount",
    "actual_amount",
    "channel_txn_ids",
    "explanation",
    "resolution",
    "pending_resolution",
    "rule",
    "lines",
    "dossier",
    "history",
}
EVENT_FIELDS = {
    "at",
    "actor",
    "action",
    "from_status",
    "to_status",
    "resolution",
    "dossier_code",
    "note",
}
LINE_FIELDS = {"channel", "channel_txn_id", "kind", "status", "amount", "paid_at", "description"}


def test_show_prints_the_case_of_the_api(
    run_cli: Callable[..., Any], queue: dict[str, int]
) -> None:
    case = show(run_cli, queue[UNDERPAID])
    assert set(case) >= CASE_FIELDS
    assert (case["resolution"], case["pending_resolution"]) == (None, None)
    assert set(case["lines"][0]) >= LINE_FIELDS
    assert set(case["dossier"]) >= {"dossier_code", "fee_amount", "state"}
    assert [set(e) >= EVENT_FIELDS for e in case["history"]] == [True]
    assert case["history"][0]["actor"] is None  # the engine
    readable = run_cli("cases", "show", str(queue[UNDERPAID]))
    assert readable.code == 0
    assert "UNDERPAID" in readable.out
    assert "engine" in readable.out
    missing = run_cli("cases", "show", "999999")
    assert missing.code == 2
    assert one_error_line(missing.err) == "no case with id 999999"


def test_resolve_prints_the_case_after_the_action(
    run_cli: Callable[..., Any], queue: dict[str, int]
) -> None:
    result = run_cli(
        "cases",
        "resolve",
        str(queue[UNMATCHED]),
        "--resolution",
        "linked",
        "--dossier",
        EXTRA,
        "--user",
        "ketoan",
        "--note",
        "Người nộp xác nhận",
        "--json",
    )
    assert result.code == 0, result
    case = json.loads(result.out)
    assert set(case) >= CASE_FIELDS
    assert (case["status"], case["resolution"]) == ("resolved", "linked")
    last = case["history"][-1]
    assert (last["actor"], last["action"], last["from_status"], last["to_status"]) == (
        "ketoan",
        "resolve",
        "open",
        "resolved",
    )
    assert (last["resolution"], last["dossier_code"], last["note"]) == (
        "linked",
        EXTRA,
        "Người nộp xác nhận",
    )
    assert last["changes"]["via"] == "cli"


def test_several_cases_resolve_together_and_print_as_a_list(
    run_cli: Callable[..., Any], queue: dict[str, int]
) -> None:
    ids = [str(queue[CLOSED_DOSSIER]), str(queue[UNMATCHED])]
    args = ("--resolution", "written_off", "--user", "duyet", "--note", "Số tiền nhỏ")
    result = run_cli("cases", "resolve", *ids, *args, "--json")
    assert result.code == 0, result
    printed = json.loads(result.out)
    assert [c["id"] for c in printed] == [int(i) for i in ids]
    assert {(c["status"], c["resolution"]) for c in printed} == {("resolved", "written_off")}
    readable = run_cli("cases", "reopen", ids[0], "--user", "ketoan", "--note", "Xem lại")
    assert readable.code == 0
    assert "reopened" in readable.out


def test_a_write_off_above_the_threshold_waits_for_another_approver(
    run_cli: Callable[..., Any], queue: dict[str, int]
) -> None:
    case_id = str(queue[OVERPAID])
    asked = run_cli(
        "cases",
        "resolve",
        case_id,
        "--resolution",
        "written_off",
        "--user",
        "duyet",
        "--note",
        "Không hoàn được",
        "--json",
    )
    assert asked.code == 0, asked
    waiting = json.loads(asked.out)
    assert (waiting["status"], waiting["pending_resolution"]) == ("open", "written_off")
    own = run_cli("cases", "approve", case_id, "--user", "duyet", "--note", "ok")
    assert own.code == 4
    assert "another approver" in one_error_line(own.err)
    by_accountant = run_cli("cases", "approve", case_id, "--user", "ketoan", "--note", "ok")
    assert by_accountant.code == 4
    assert "approver" in one_error_line(by_accountant.err)
    approved = run_cli(
        "cases", "approve", case_id, "--user", "duyet2", "--note", "Đồng ý", "--json"
    )
    assert approved.code == 0, approved
    done = json.loads(approved.out)
    assert (done["status"], done["resolution"], done["pending_resolution"]) == (
        "resolved",
        "written_off",
        None,
    )
    assert [e["action"] for e in done["history"]] == ["opened", "resolve", "approve"]


def test_reject_leaves_the_case_live(run_cli: Callable[..., Any], queue: dict[str, int]) -> None:
    case_id = str(queue[UNDERPAID])
    args = ("--user", "ketoan", "--note", "Xin xoá nợ")
    assert run_cli("cases", "resolve", case_id, "--resolution", "written_off", *args).code == 0
    rejected = run_cli("cases", "reject", case_id, "--user", "duyet", "--note", "Không", "--json")
    assert rejected.code == 0, rejected
    case = json.loads(rejected.out)
    assert (case["status"], case["pending_resolution"]) == ("open", None)
    again = run_cli("cases", "reject", case_id, "--user", "duyet", "--note", "Không")
    assert again.code == 4
    assert "no write-off awaiting approval" in one_error_line(again.err)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--resolution", "accepted", "--user", "ketoan", "--note", " "), "note: a note is"),
        (("--resolution", "forgiven", "--user", "ketoan", "--note", "x"), "resolution: 'forgiven'"),
        (("--resolution", "linked", "--user", "ketoan", "--note", "x"), "dossier_code: `linked`"),
        (("--resolution", "accepted", "--user", "ketoan"), "Missing option '--note'"),
    ],
)
def test_bad_input_is_exit_2_with_one_line(
    run_cli: Callable[..., Any], queue: dict[str, int], args: tuple[str, ...], message: str
) -> None:
    result = run_cli("cases", "resolve", str(queue[UNMATCHED]), *args)
    assert result.code == 2, result
    assert message in one_error_line(result.err)
    assert show(run_cli, queue[UNMATCHED])["status"] == "open"


def test_a_bad_or_unknown_id_is_exit_2(run_cli: Callable[..., Any], queue: dict[str, int]) -> None:
    args = ("--resolution", "accepted", "--user", "ketoan", "--note", "x")
    bad = run_cli("cases", "resolve", "abc", *args)
    assert bad.code == 2
    assert "ID: 'abc' is not an id" in one_error_line(bad.err)
    unknown = run_cli("cases", "resolve", str(queue[UNMATCHED]), "999999", *args)
    assert unknown.code == 2
    assert one_error_line(unknown.err) == "no case with id 999999"
    assert show(run_cli, queue[UNMATCHED])["status"] == "open"  # all or none
    no_dossier = run_cli(
        "cases", "resolve", str(queue[UNMATCHED]), "--resolution", "linked", "--dossier", "H0",
        "--user", "ketoan", "--note", "x",
    )  # fmt: skip
    assert no_dossier.code == 2
    assert one_error_line(no_dossier.err) == "no dossier 'H0'"


def test_refusals_are_exit_4_and_change_nothing(
    run_cli: Callable[..., Any], queue: dict[str, int]
) -> None:
    case_id = str(queue[CLOSED_DOSSIER])
    before = show(run_cli, queue[CLOSED_DOSSIER])
    for user in ("xem", "quantri", "nobody"):
        refused = run_cli(
            "cases", "resolve", case_id, "--resolution", "accepted", "--user", user, "--note", "x"
        )
        assert refused.code == 4, refused
        one_error_line(refused.err)
    state = run_cli("cases", "reopen", case_id, "--user", "ketoan", "--note", "x")
    assert state.code == 4
    assert "only a resolved case is reopened" in one_error_line(state.err)
    linked = run_cli(
        "cases", "resolve", case_id, "--resolution", "linked", "--dossier", EXTRA,
        "--user", "ketoan", "--note", "x",
    )  # fmt: skip
    assert linked.code == 4
    assert "owner-less payment" in one_error_line(linked.err)
    assert show(run_cli, queue[CLOSED_DOSSIER]) == before


def test_an_api_key_may_carry_the_scope_cases_write(run_cli: Callable[..., Any]) -> None:
    made = run_cli("apikeys", "create", "--name", "mot-cua", "--scope", "cases:write", "--json")
    assert made.code == 0, made
    assert json.loads(made.out)["scopes"] == ["cases:write"]
