"""The ledger's SVG chart, from hand-made ledgers: well-formed, proportional, escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from recon.ledger.schemas import Ledger, LedgerFigures, LedgerRow
from recon.web.chart import PLOT_HEIGHT, ledger_chart

NS = {"svg": "http://www.w3.org/2000/svg"}
START = date(2025, 11, 1)


def make_ledger(
    days: int,
    channels: list[str],
    amounts: dict[tuple[int, str], int],
    closed: frozenset[int] = frozenset(),
) -> Ledger:
    """A ledger of `days` days from START; `amounts` by (day index, channel)."""
    rows = []
    totals = {name: LedgerFigures() for name in [*channels, "all"]}
    for index in range(days):
        for name in channels:
            amount = amounts.get((index, name), 0)
            figures = LedgerFigures(
                payments_count=1 if amount else 0, payments_amount=amount, net=amount
            )
            rows.append(
                LedgerRow(
                    date=START + timedelta(days=index),
                    channel=name,
                    closed=index in closed,
                    payments_count=figures.payments_count,
                    payments_amount=amount,
                    net=amount,
                )
            )
            totals[name].add(figures)
            totals["all"].add(figures)
    return Ledger(from_=START, to=START + timedelta(days=days - 1), rows=rows, totals=totals)


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def bars(root: ET.Element) -> list[ET.Element]:
    return root.findall(".//svg:rect[@class='bar']", NS)


def test_the_chart_is_well_formed_svg_with_a_group_per_day() -> None:
    ledger = make_ledger(3, ["momo", "bank"], {(0, "momo"): 15_000})
    root = parse(ledger_chart(ledger))
    days = root.findall("svg:g[@class='day']", NS)
    assert [g.get("data-date") for g in days] == ["2025-11-01", "2025-11-02", "2025-11-03"]


def test_one_bar_per_day_and_channel_with_payments() -> None:
    amounts = {(0, "momo"): 15_000, (0, "bank"): 30_000, (2, "bank"): 7_500, (4, "portal"): 1}
    root = parse(ledger_chart(make_ledger(5, ["momo", "portal", "bank"], amounts)))
    found = {
        (group.get("data-date"), bar.get("data-channel")): int(bar.get("data-amount", "0"))
        for group in root.findall("svg:g[@class='day']", NS)
        for bar in bars(group)
    }
    assert found == {
        ((START + timedelta(days=i)).isoformat(), name): amount
        for (i, name), amount in amounts.items()
    }
    assert len(bars(root)) == len(amounts)


def test_bar_heights_are_proportional_and_the_tallest_fills_the_plot() -> None:
    amounts = {(0, "momo"): 1_234_567, (1, "momo"): 617_283, (1, "bank"): 100_000}
    root = parse(ledger_chart(make_ledger(2, ["momo", "bank"], amounts)))
    heights = {int(b.get("data-amount", "0")): float(b.get("height", "0")) for b in bars(root)}
    assert heights[1_234_567] == pytest.approx(PLOT_HEIGHT, abs=0.01)
    for amount, height in heights.items():
        assert height == pytest.approx(PLOT_HEIGHT * amount / 1_234_567, abs=0.01)
    # every bar stands on the same baseline
    bottoms = {round(float(b.get("y", "0")) + float(b.get("height", "0")), 1) for b in bars(root)}
    assert len(bottoms) == 1


def test_every_bar_has_a_tooltip_with_day_channel_and_amount() -> None:
    root = parse(
        ledger_chart(make_ledger(2, ["momo"], {(1, "momo"): 1_234_567}, closed=frozenset({1})))
    )
    (bar,) = bars(root)
    title = bar.find("svg:title", NS)
    assert title is not None
    assert title.text == "02/11/2025 · momo: 1.234.567 ₫ (1 giao dịch) — Đã chốt sổ"
    slot_titles = [t.text or "" for t in root.findall(".//svg:rect[@class='slot']/svg:title", NS)]
    assert slot_titles[0] == "01/11/2025\nmomo: 0 ₫"


def test_axis_labels_are_day_and_month() -> None:
    root = parse(ledger_chart(make_ledger(3, ["momo"], {(0, "momo"): 1})))
    labels = [t.text for t in root.findall(".//svg:text[@class='x']", NS)]
    assert labels == ["01/11", "02/11", "03/11"]


def test_a_long_range_keeps_its_labels_apart() -> None:
    root = parse(ledger_chart(make_ledger(365, ["momo"], {(i, "momo"): i + 1 for i in range(365)})))
    labels = root.findall(".//svg:text[@class='x']", NS)
    assert 10 <= len(labels) <= 25
    assert len(bars(root)) == 365


def test_an_empty_ledger_draws_no_bar_and_says_so() -> None:
    empty = Ledger(from_=START, to=START, rows=[], totals={})
    root = parse(ledger_chart(empty))
    assert bars(root) == []
    assert "Không có dữ liệu" in "".join(root.itertext())


def test_a_range_without_payments_draws_its_days_but_no_bar() -> None:
    root = parse(ledger_chart(make_ledger(4, ["momo", "bank"], {})))
    assert bars(root) == []
    assert len(root.findall("svg:g[@class='day']", NS)) == 4
    assert "Không có thanh toán" in "".join(root.itertext())


def test_text_is_escaped() -> None:
    name = "a<b>&\"c'"
    root = parse(ledger_chart(make_ledger(1, [name], {(0, name): 5})))
    (bar,) = bars(root)
    assert bar.get("data-channel") == name
    assert name in "".join(root.itertext())
