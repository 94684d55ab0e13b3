"""The ward generator: deterministic, realistic, and its planted scenarios are what they claim.

A small reference resolver (DESIGN 3 rules 1-3, written here from the spec) checks every line
and every dossier: ordinary traffic must reconcile cleanly, and each planted scenario must be
the disagreement it is labelled as.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fixtures.ward import (
    CHANNELS,
    DOSSIER_COLUMNS,
    PROCEDURES,
    SCENARIO_KINDS,
    SETTLEMENT_ACCOUNTS,
    Ward,
    control_totals,
    dossiers_csv,
    generate_ward,
    line_moment,
    main,
    normalise_code,
    synthetic_day,
    synthetic_dossiers,
)
from recon.domain import LOCAL_TZ
from recon.vocab import DOSSIER_STATES

START, END = date(2024, 11, 18), date(2024, 12, 1)
ROOT = Path(__file__).resolve().parents[2]
CLAIMS = {"claimed_paid_channel", "claimed_paid_at", "claimed_channel_txn_id"}
MOMO_PENDING = {1000, 7000, 7002, 8000, 9000}
MOMO_KEYS = {
    "orderId",
    "requestId",
    "transId",
    "amount",
    "resultCode",
    "message",
    "payType",
    "transType",
    "responseTime",
    "orderInfo",
    "extraData",
    "fee",
    "payerPhone",
}
PORTAL_KEYS = {
    "maGiaoDich",
    "maHoSo",
    "maThamChieu",
    "maTTHC",
    "soTien",
    "phiGiaoDich",
    "loaiGiaoDich",
    "trangThai",
    "thoiGianThanhToan",
    "trungGian",
    "maBienLai",
    "noiDung",
}
BANK_KEYS = {
    "id",
    "tid",
    "description",
    "amount",
    "when",
    "bankSubAccId",
    "corresponsiveName",
    "corresponsiveAccount",
}


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def dump(ward: Ward) -> bytes:
    data = {
        "dossiers": ward.dossiers,
        "scenarios": ward.scenarios,
        **{c: {d.isoformat(): v for d, v in ward.channel(c).items()} for c in CHANNELS},
    }
    return json.dumps(data, ensure_ascii=False, sort_keys=True).encode()


@pytest.fixture(scope="module")
def ward() -> Ward:
    return generate_ward(start=START, end=END)


@pytest.fixture(
    scope="module",
    params=[
        (2024, START, END),
        (1, date(2024, 12, 29), date(2025, 1, 2)),  # across a year end
        (99, date(2025, 3, 8), date(2025, 3, 8)),  # a single Saturday
    ],
    ids=["2-weeks", "year-end", "one-day"],
)
def any_ward(request: pytest.FixtureRequest) -> Ward:
    seed, start, end = request.param
    return generate_ward(start=start, end=end, seed=seed)


# --------------------------------------------------------------------------- determinism


def test_same_seed_and_range_give_identical_output(ward: Ward) -> None:
    assert dump(generate_ward(start=START, end=END)) == dump(ward)


def test_another_seed_gives_another_ward(ward: Ward) -> None:
    assert dump(generate_ward(start=START, end=END, seed=7)) != dump(ward)


def test_output_does_not_depend_on_the_host_time_zone(ward: Ward) -> None:
    code = (
        "import hashlib, json; from datetime import date\n"
        "from fixtures.ward import CHANNELS, generate_ward\n"
        "w = generate_ward(start=date(2024, 11, 18), end=date(2024, 12, 1))\n"
        "data = {'dossiers': w.dossiers, 'scenarios': w.scenarios,\n"
        "        **{c: {d.isoformat(): v for d, v in w.channel(c).items()} for c in CHANNELS}}\n"
        "print(hashlib.sha256(json.dumps(data, ensure_ascii=False, sort_keys=True)"
        ".encode()).hexdigest())\n"
    )
    env = {**os.environ, "TZ": "Pacific/Kiritimati", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == hashlib.sha256(dump(ward)).hexdigest()


# --------------------------------------------------------------------------- dossiers


def test_dossiers_have_exactly_the_import_columns(ward: Ward) -> None:
    for d in ward.dossiers:
        assert set(DOSSIER_COLUMNS) <= set(d) <= set(DOSSIER_COLUMNS) | CLAIMS
        assert is_int(d["fee_amount"])
        assert d["fee_amount"] >= 0
        assert d["state"] in DOSSIER_STATES
        assert isinstance(d["payment_refs"], list)
        assert all(isinstance(r, str) and r for r in d["payment_refs"])
        submitted = datetime.fromisoformat(d["submitted_at"])
        assert submitted.utcoffset() == timedelta(hours=7)
        if "claimed_paid_at" in d:
            assert datetime.fromisoformat(d["claimed_paid_at"]).utcoffset() == timedelta(hours=7)
            assert d["claimed_paid_channel"] in CHANNELS


def test_dossier_codes_encode_the_submission_day_and_order(ward: Ward) -> None:
    pattern = re.compile(r"^H17\.25-(\d{6})-(\d{4})$")
    per_day: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for d in ward.dossiers:
        match = pattern.match(d["dossier_code"])
        assert match, d["dossier_code"]
        submitted = datetime.fromisoformat(d["submitted_at"]).astimezone(LOCAL_TZ)
        assert match.group(1) == f"{submitted:%y%m%d}"
        per_day[match.group(1)].append((d["submitted_at"], int(match.group(2))))
    for entries in per_day.values():
        entries.sort(key=lambda e: e[1])
        assert [seq for _, seq in entries] == list(range(1, len(entries) + 1))
        assert [at for at, _ in entries] == sorted(at for at, _ in entries)
    assert len({normalise_code(d["dossier_code"]) for d in ward.dossiers}) == len(ward.dossiers)
    assert f"{date(2024, 11, 25):%y%m%d}" == "241125"  # yymmdd: 25 Nov 2024


def test_fees_follow_the_procedure_table(ward: Ward) -> None:
    table = {p.code: p for p in PROCEDURES}
    for d in ward.dossiers:
        proc = table[d["procedure_code"]]
        assert d["procedure_name"] == proc.name
        if proc.unit_fee == 0:
            continue
        units, rest = divmod(d["fee_amount"], proc.unit_fee)
        assert rest == 0
        assert 1 <= units <= proc.max_units
    fees = Counter(d["fee_amount"] for d in ward.dossiers)
    assert fees[0] > 0
    assert any(f >= 75_000 for f in fees)


def test_applicants_are_vietnamese_names(ward: Ward) -> None:
    names = [d["applicant"] for d in ward.dossiers]
    with_marks = [n for n in names if not n.isascii()]
    assert len(with_marks) > 0.8 * len(names)
    assert all(len(n.split()) == 3 for n in names)


def test_dossiers_between_filters_by_local_submission_day(ward: Ward) -> None:
    day = date(2024, 11, 25)
    picked = ward.dossiers_between(day, day)
    assert picked
    assert all(d["dossier_code"].split("-")[1] == "241125" for d in picked)
    assert ward.dossiers_between() == ward.dossiers
    assert len(ward.dossiers_between(START, day)) + len(
        ward.dossiers_between(day + timedelta(days=1), END)
    ) == len(ward.dossiers)


# --------------------------------------------------------------------------- lines


def test_lines_are_in_the_native_wire_shapes(ward: Ward) -> None:
    for day in ward.days():
        for line in ward.lines("momo", day):
            extra = {"refundOf"} if line["transType"] == "refund" else set()
            assert set(line) == MOMO_KEYS | extra
            assert is_int(line["transId"])
            assert is_int(line["responseTime"])
            assert is_int(line["amount"])
            assert line["amount"] > 0
            assert is_int(line["fee"])
            assert line["payType"] in ("qr", "web", "app")
            assert re.fullmatch(r"\d{3}\*{4}\d{3}", line["payerPhone"])
        for item in ward.lines("portal", day):
            assert set(item) == PORTAL_KEYS
            assert is_int(item["soTien"])
            assert item["soTien"] > 0
            assert is_int(item["phiGiaoDich"])
            assert item["loaiGiaoDich"] in ("THANH_TOAN", "HOAN_TIEN")
            assert item["trangThai"] in ("THANH_CONG", "THAT_BAI", "DANG_XU_LY", "DA_HUY")
            assert re.fullmatch(r"\d{14}", item["thoiGianThanhToan"])
        for record in ward.lines("bank", day):
            assert set(record) == BANK_KEYS
            assert is_int(record["id"])
            assert is_int(record["amount"])
            assert record["amount"] != 0
            assert record["description"].isascii()
            assert record["description"] == record["description"].upper()
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", record["when"])


def test_every_line_sits_on_its_local_day_in_time_order_with_unique_ids(any_ward: Ward) -> None:
    ward = any_ward
    key = {"momo": "transId", "portal": "maGiaoDich", "bank": "id"}
    for channel in CHANNELS:
        ids = []
        assert set(ward.channel(channel)) == set(ward.days())
        for day in ward.days():
            lines = ward.lines(channel, day)
            moments = [line_moment(channel, line) for line in lines]
            assert all(m.date() == day for m in moments)
            assert moments == sorted(moments)
            ids += [line[key[channel]] for line in lines]
        assert len(ids) == len(set(ids)), channel


def test_lines_on_the_day_boundary(ward: Ward) -> None:
    for channel in CHANNELS:
        clock = Counter(
            f"{line_moment(channel, line):%H:%M:%S}" for line in all_lines(ward, channel)
        )
        assert clock["23:59:59"] >= 1, channel
        assert clock["00:00:00"] >= 1, channel


def test_control_totals_add_up(ward: Ward) -> None:
    for day in ward.days():
        momo = ward.lines("momo", day)
        ok = [t["amount"] for t in momo if t["resultCode"] == 0]
        assert control_totals("momo", momo) == {"count": len(ok), "amount": sum(ok)}
        portal = ward.lines("portal", day)
        ok = [t["soTien"] for t in portal if t["trangThai"] == "THANH_CONG"]
        assert control_totals("portal", portal) == {"count": len(ok), "amount": sum(ok)}
        bank = ward.lines("bank", day)
        assert control_totals("bank", bank) == {"count": len(bank), "amount": None}
    # a line delivered twice counts once
    day_lines = ward.lines("momo", START)
    assert control_totals("momo", [*day_lines, *day_lines[:1]]) == control_totals("momo", day_lines)


def test_realistic_channel_features_are_present(ward: Ward) -> None:
    momo, portal, bank = (all_lines(ward, c) for c in CHANNELS)
    payments = {t["transId"] for t in momo if t["transType"] == "payment"}
    refunds = [t for t in momo if t["transType"] == "refund"]
    assert any(r["refundOf"] in payments for r in refunds)
    assert {t["resultCode"] for t in momo} & MOMO_PENDING
    assert {t["resultCode"] for t in momo} - MOMO_PENDING - {0}  # failed codes
    refs = {i["maThamChieu"] for i in portal if i["loaiGiaoDich"] == "THANH_TOAN"}
    back = [i for i in portal if i["loaiGiaoDich"] == "HOAN_TIEN"]
    assert back
    assert all(i["maThamChieu"] in refs for i in back)
    assert {i["trangThai"] for i in portal} == {"THANH_CONG", "THAT_BAI", "DA_HUY"}
    assert any(i["maHoSo"] == "" for i in portal)
    assert any(r["amount"] < 0 for r in bank)
    settling = {r["corresponsiveAccount"] for r in bank if r["amount"] > 0}
    assert set(SETTLEMENT_ACCOUNTS.values()) <= settling
    assert any(r["description"].startswith("MBVCB.") for r in bank)
    assert any(r["tid"] == "" for r in bank)
    assert any(re.search(r"H1725\d{6} \d{4}", r["description"]) for r in bank)
    texts = [t["orderInfo"] for t in momo] + [i["noiDung"] for i in portal]
    assert any("h17.25-" in t for t in texts)
    assert any("H17.25-" in t for t in texts)
    assert any(not t.isascii() for t in texts)


def test_amounts_are_never_float(ward: Ward) -> None:
    def walk(value: Any) -> None:
        assert not isinstance(value, float)
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(ward.dossiers)
    for channel in CHANNELS:
        walk(all_lines(ward, channel))


# --------------------------------------------------------------------------- a reference resolver


@dataclass
class Canon:
    channel: str
    id: str
    order_ref: str
    hint: str
    text: str
    amount: int
    kind: str
    status: str
    refund_of: str | None
    at: datetime


def all_lines(ward: Ward, channel: str) -> list[dict[str, Any]]:
    return [line for day in ward.days() for line in ward.lines(channel, day)]


def canon(ward: Ward) -> list[Canon]:
    out = []
    for t in all_lines(ward, "momo"):
        rc = t["resultCode"]
        status = "success" if rc == 0 else "pending" if rc in MOMO_PENDING else "failed"
        refund_of = str(t["refundOf"]) if "refundOf" in t else None
        out.append(
            Canon("momo", str(t["transId"]), t["orderId"], "", t["orderInfo"], t["amount"],
                  t["transType"], status, refund_of, line_moment("momo", t))
        )  # fmt: skip
    states = {"THANH_CONG": "success", "THAT_BAI": "failed", "DANG_XU_LY": "pending",
              "DA_HUY": "reversed"}  # fmt: skip
    for i in all_lines(ward, "portal"):
        kind = "refund" if i["loaiGiaoDich"] == "HOAN_TIEN" else "payment"
        out.append(
            Canon("portal", i["maGiaoDich"], i["maThamChieu"], i["maHoSo"], i["noiDung"],
                  i["soTien"], kind, states[i["trangThai"]], None, line_moment("portal", i))
        )  # fmt: skip
    settlement = set(SETTLEMENT_ACCOUNTS.values())
    for r in all_lines(ward, "bank"):
        if r["amount"] < 0:
            continue
        kind = "settlement" if r["corresponsiveAccount"] in settlement else "payment"
        out.append(
            Canon("bank", str(r["id"]), "", "", r["description"], r["amount"], kind, "success",
                  None, line_moment("bank", r))
        )  # fmt: skip
    return out


class Resolver:
    def __init__(self, ward: Ward) -> None:
        self.refs = {r.upper(): d["dossier_code"] for d in ward.dossiers for r in d["payment_refs"]}
        self.codes = {d["dossier_code"].upper(): d["dossier_code"] for d in ward.dossiers}
        self.normal = {normalise_code(d["dossier_code"]): d["dossier_code"] for d in ward.dossiers}

    def resolve(self, line: Canon) -> set[str]:
        ref = line.order_ref.strip().upper()
        if ref and ref in self.refs:
            return {self.refs[ref]}
        for value in (ref, line.hint.strip().upper()):
            if value and value in self.codes:
                return {self.codes[value]}
        text = normalise_code(f"{line.order_ref} {line.text}")
        return {code for norm, code in self.normal.items() if norm in text}


@dataclass
class Books:
    lines: list[Canon]
    owner: dict[str, set[str]]  # line key -> dossiers named
    net: dict[str, int]
    payments: dict[str, list[Canon]]
    unmatched_refunds: list[Canon]


def key(line: Canon) -> str:
    return f"{line.channel}:{line.id}"


def books(ward: Ward) -> Books:
    resolver = Resolver(ward)
    lines = canon(ward)
    owner = {key(t): resolver.resolve(t) for t in lines if t.kind != "settlement"}
    net: dict[str, int] = defaultdict(int)
    payments: dict[str, list[Canon]] = defaultdict(list)
    by_id = {key(t): t for t in lines}
    by_ref = {(t.channel, t.order_ref): t for t in lines if t.kind == "payment" and t.order_ref}
    unmatched_refunds = []
    for t in lines:
        if t.status != "success" or t.kind == "settlement":
            continue
        if t.kind == "payment":
            named = owner[key(t)]
            if len(named) == 1:
                (code,) = named
                net[code] += t.amount
                payments[code].append(t)
            continue
        paid = by_id.get(f"{t.channel}:{t.refund_of}") if t.refund_of else None
        paid = paid or by_ref.get((t.channel, t.order_ref))
        named = owner[key(paid)] if paid else set()
        if len(named) == 1:
            (code,) = named
            net[code] -= t.amount
        else:
            unmatched_refunds.append(t)
    return Books(lines, owner, net, payments, unmatched_refunds)


def test_every_scenario_kind_is_planted(ward: Ward) -> None:
    kinds = Counter(s["kind"] for s in ward.scenarios)
    for kind in (*SCENARIO_KINDS, "BOUNDARY_235959", "BOUNDARY_000000"):
        planted = {"STATUS_CONFLICT_CLAIM", "STATUS_CONFLICT_PENDING"}
        name = "STATUS_CONFLICT" if kind in planted else kind
        name = "UNMATCHED_PAYMENT" if kind == "UNMATCHED_PAYMENT_TRUNCATED" else name
        assert kinds[name] >= 2, kind
    # any three consecutive days hold every scenario
    short = generate_ward(start=date(2024, 11, 20), end=date(2024, 11, 22))
    assert {s["kind"] for s in short.scenarios} >= {s["kind"] for s in ward.scenarios}


def test_planted_scenarios_are_what_they_claim(any_ward: Ward) -> None:
    ward = any_ward
    b = books(ward)
    lines = {key(t): t for t in b.lines}
    ids = {t.id for t in b.lines}
    for s in ward.scenarios:
        codes, channel = s["dossier_codes"], s["channel"]
        mine = [lines[f"{ch}:{i}"] for i in s["channel_txn_ids"] for ch in CHANNELS
                if f"{ch}:{i}" in lines]  # fmt: skip
        fee = {c: ward.dossier(c)["fee_amount"] for c in codes}
        net = {c: b.net.get(c, 0) for c in codes}
        kind, label = s["kind"], f"{s['kind']} {codes} {s['channel_txn_ids']}"
        if kind == "UNDERPAID":
            assert 0 < net[codes[0]] < fee[codes[0]], label
        elif kind in ("OVERPAID", "EXEMPT_PAID"):
            assert net[codes[0]] > fee[codes[0]], label
            assert len(b.payments[codes[0]]) == 1, label
            assert kind == "OVERPAID" or fee[codes[0]] == 0
        elif kind == "DUPLICATE_PAYMENT":
            (c,) = codes
            big = [t for t in b.payments[c] if t.amount >= fee[c]]
            assert fee[c] > 0, label
            assert len(big) >= 2, label
            assert net[c] > fee[c], label
        elif kind == "PAYMENT_ON_CLOSED_DOSSIER":
            assert ward.dossier(codes[0])["state"] in ("cancelled", "rejected"), label
            assert net[codes[0]] > 0, label
        elif kind == "UNMATCHED_PAYMENT":
            assert len(mine) == 1, label
            assert b.owner[key(mine[0])] == set(), label
            assert all(net[c] == 0 for c in codes), label
        elif kind == "AMBIGUOUS_REFERENCE":
            assert len(codes) == 2, label
            assert b.owner[key(mine[0])] == set(codes), label
        elif kind == "MISSING_IN_STATEMENT":
            d = ward.dossier(codes[0])
            assert d["claimed_paid_channel"] == channel
            assert d["claimed_channel_txn_id"] not in ids, label
            day = datetime.fromisoformat(d["claimed_paid_at"]).date()
            assert not [t for t in b.payments[codes[0]] if t.channel == channel and
                        t.at.date() in (day, day + timedelta(days=1))], label  # fmt: skip
        elif kind == "STATUS_CONFLICT":
            (t,) = mine
            if t.status == "failed":
                assert ward.dossier(codes[0])["claimed_channel_txn_id"] == t.id, label
            else:
                assert t.status == "pending", label
            assert net[codes[0]] == 0, label
        elif kind == "UNMATCHED_REFUND":
            assert mine[0] in b.unmatched_refunds, label
        elif kind == "REFUNDED":
            assert net[codes[0]] == 0, label
            assert len(b.payments[codes[0]]) == 1, label
        elif kind in ("DUPLICATE_REFUNDED", "SPLIT_PAYMENT"):
            assert net[codes[0]] == fee[codes[0]], label
            if kind == "SPLIT_PAYMENT":
                assert {t.channel for t in b.payments[codes[0]]} == {"momo", "bank"}
        elif kind.startswith("BOUNDARY"):
            (t,) = mine
            want = "23:59:59" if kind == "BOUNDARY_235959" else "00:00:00"
            assert f"{t.at:%H:%M:%S}" == want, label
            assert net[codes[0]] == fee[codes[0]], label
            d = ward.dossier(codes[0])
            assert datetime.fromisoformat(d["claimed_paid_at"]) == t.at
        elif kind == "OUTGOING":
            assert not mine  # outgoing records are not lines
        else:
            pytest.fail(f"unchecked scenario {kind}")


def test_ordinary_traffic_reconciles_cleanly(any_ward: Ward) -> None:
    """Outside the planted scenarios there is nothing for an accountant to do."""
    ward = any_ward
    b = books(ward)
    planted_codes = {c for s in ward.scenarios for c in s["dossier_codes"]}
    planted_lines = {i for s in ward.scenarios for i in s["channel_txn_ids"]}
    for d in ward.dossiers:
        code = d["dossier_code"]
        if code in planted_codes:
            continue
        assert b.net.get(code, 0) in (0, d["fee_amount"]), code
        if b.net.get(code, 0) and d["state"] in ("cancelled", "rejected"):
            pytest.fail(f"{code} is closed but paid")
        if "claimed_paid_channel" in d:
            day = datetime.fromisoformat(d["claimed_paid_at"]).date()
            ok = [t for t in b.payments[code]
                  if t.channel == d["claimed_paid_channel"] and t.at.date() == day]  # fmt: skip
            assert ok, f"claim of {code} has no successful line"
            if "claimed_channel_txn_id" in d:
                assert d["claimed_channel_txn_id"] in {t.id for t in ok}
    for t in b.lines:
        if t.id in planted_lines or t.kind == "settlement":
            continue
        assert t.kind == "payment", t
        assert t.status in ("success", "failed", "reversed"), t
        if t.status == "success":
            assert len(b.owner[key(t)]) == 1, t


def test_settlements_carry_the_previous_days_net(ward: Ward) -> None:
    day = date(2024, 11, 26)
    prev = day - timedelta(days=1)
    momo = [t for t in ward.lines("momo", prev) if t["resultCode"] == 0]
    expected = sum(t["amount"] if t["transType"] == "payment" else -t["amount"] for t in momo)
    expected -= sum(t["fee"] for t in momo)
    settled = [
        r["amount"]
        for r in ward.lines("bank", day)
        if r["corresponsiveAccount"] == SETTLEMENT_ACCOUNTS["momo"]
    ]
    assert settled == [expected]


# --------------------------------------------------------------------------- synthetic days and CLI


def test_synthetic_day_is_large_fast_and_deterministic() -> None:
    day = date(2024, 11, 25)
    began = time.perf_counter()
    lines = synthetic_day("momo", day, 20_000)
    assert time.perf_counter() - began < 5
    assert len({t["transId"] for t in lines}) == 20_000
    assert synthetic_day("momo", day, 1000) == synthetic_day("momo", day, 1000)
    for channel in CHANNELS:
        small = synthetic_day(channel, day, 2000)
        assert all(line_moment(channel, t).date() == day for t in small)
        dossiers = synthetic_dossiers(channel, day, 2000)
        assert len({d["dossier_code"] for d in dossiers}) == 2000
        assert all(is_int(d["fee_amount"]) for d in dossiers)
    portal = synthetic_day("portal", day, 3000)
    totals = control_totals("portal", portal)
    assert totals["count"] == sum(1 for i in portal if i["trangThai"] == "THANH_CONG")


def test_cli_writes_dossiers_as_json_and_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dossiers.json"
    assert main(["--start", "2024-11-25", "--end", "2024-11-26", "--output", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data == generate_ward(start=date(2024, 11, 25), end=date(2024, 11, 26)).dossiers
    assert main(["--start", "2024-11-25", "--end", "2024-11-25", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows
    assert rows[0]["dossier_code"].startswith("H17.25-241125-")
    with_refs = [r for r in rows if r["payment_refs"]]
    assert with_refs
    assert all(r["payment_refs"].split("|") for r in with_refs)
    assert dossiers_csv([]).splitlines()[0].split(",")[:8] == list(DOSSIER_COLUMNS)
