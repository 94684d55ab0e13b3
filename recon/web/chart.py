"""The ledger's bar chart as server-rendered SVG: no JavaScript, no front-end build.

One group per day, in it one bar per channel (the day's successful payments, gross) and a
`<title>` tooltip on each bar and on the whole day's slot. The tallest bar fills the plot's
height and every other bar is proportional to it. Every text is escaped, so the result can be
inlined in a page as it is.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date
from html import escape

from recon.domain import each_day
from recon.ledger.schemas import Ledger
from recon.web.format import ngay, ngay_ngan, so, vnd

WIDTH = 960
HEIGHT = 300
LEFT, RIGHT, TOP, BOTTOM = 84, 12, 40, 30
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM
MIN_LABEL_SPACING = 44  # px between two dd/mm labels, so that they never overlap
GRID_LINES = 4
# distinguishable for the common forms of colour blindness (Okabe–Ito)
INK, GRID, MUTED = "#4b5563", "#e5e7eb", "#6b7280"
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")


def _x(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _channels(ledger: Ledger) -> list[str]:
    names = [name for name in ledger.totals if name != "all"]
    for row in ledger.rows:
        if row.channel not in names:
            names.append(row.channel)
    return names


def _nice_step(top: int) -> int:
    """A round grid step (1, 2 or 5 × 10^k) giving about GRID_LINES lines up to `top`."""
    raw = max(top / GRID_LINES, 1)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return int(factor * power)
    return int(10 * power)  # pragma: no cover - the loop always returns


def _message(text: str) -> str:
    return (
        f'<text class="empty" x="{LEFT + PLOT_WIDTH / 2}" y="{TOP + PLOT_HEIGHT / 2}" '
        f'text-anchor="middle" fill="{MUTED}" font-size="14">{escape(text)}</text>'
    )


def ledger_chart(ledger: Ledger) -> str:
    """Per-day bars of the payments per channel, as an SVG document (a string)."""
    days = list(each_day(ledger.from_, ledger.to))
    channels = _channels(ledger)
    amounts: dict[tuple[date, str], int] = {}
    counts: dict[tuple[date, str], int] = {}
    closed: set[date] = set()
    for row in ledger.rows:
        key = (row.date, row.channel)
        amounts[key] = amounts.get(key, 0) + row.payments_amount
        counts[key] = counts.get(key, 0) + row.payments_count
        if row.closed:
            closed.add(row.date)
    top = max((a for a in amounts.values() if a > 0), default=0)
    colour = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(channels)}

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-label="Thanh toán theo ngày và kênh" '
        f'font-family="system-ui, sans-serif" font-size="12" fill="{INK}">'
    ]
    parts.extend(_legend(channels, colour))
    parts.extend(_grid(top))
    baseline = TOP + PLOT_HEIGHT
    parts.append(
        f'<line class="axis" x1="{LEFT}" y1="{baseline}" x2="{LEFT + PLOT_WIDTH}" '
        f'y2="{baseline}" stroke="{INK}"/>'
    )
    if not days or not channels:
        parts.append(_message("Không có dữ liệu trong khoảng đã chọn"))
    elif top == 0:
        parts.append(_message("Không có thanh toán trong khoảng đã chọn"))

    slot = PLOT_WIDTH / len(days) if days else 0
    bar = slot * 0.8 / max(len(channels), 1)
    label_every = max(1, math.ceil(len(days) * MIN_LABEL_SPACING / PLOT_WIDTH)) if days else 1
    for index, day in enumerate(days):
        x0 = LEFT + index * slot
        status = " — Đã chốt sổ" if day in closed else ""
        lines = [f"{ngay(day)}{status}"] + [
            f"{name}: {vnd(amounts.get((day, name), 0))}" for name in channels
        ]
        parts.append(f'<g class="day" data-date="{day.isoformat()}">')
        parts.append(
            f'<rect class="slot" x="{_x(x0)}" y="{TOP}" width="{_x(slot)}" '
            f'height="{PLOT_HEIGHT}" fill="#000" fill-opacity="0">'
            f"<title>{escape(chr(10).join(lines))}</title></rect>"
        )
        for position, name in enumerate(channels):
            amount = amounts.get((day, name), 0)
            if amount <= 0:
                continue
            height = amount / top * PLOT_HEIGHT
            x = x0 + slot * 0.1 + position * bar
            tooltip = (
                f"{ngay(day)} · {name}: {vnd(amount)} "
                f"({so(counts.get((day, name), 0))} giao dịch){status}"
            )
            parts.append(
                f'<rect class="bar" data-channel="{escape(name)}" data-amount="{amount}" '
                f'x="{_x(x)}" y="{_x(baseline - height)}" width="{_x(bar)}" '
                f'height="{_x(height)}" fill="{colour[name]}"><title>{escape(tooltip)}</title>'
                "</rect>"
            )
        if index % label_every == 0:
            parts.append(
                f'<text class="x" x="{_x(x0 + slot / 2)}" y="{baseline + 18}" '
                f'text-anchor="middle">{ngay_ngan(day)}</text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _legend(channels: list[str], colour: dict[str, str]) -> Iterator[str]:
    """A key per channel, right-aligned above the plot (the unit sits on the left)."""
    widths = [36 + 7 * len(name) for name in channels]
    x = LEFT + PLOT_WIDTH - sum(widths) + 20
    for name, width in zip(channels, widths, strict=True):
        yield (
            f'<rect class="key" x="{x}" y="12" width="12" height="12" fill="{colour[name]}"/>'
            f'<text class="legend" x="{x + 17}" y="22">{escape(name)}</text>'
        )
        x += width


def _grid(top: int) -> Iterator[str]:
    """Horizontal lines at round amounts up to the tallest bar, labelled on the left."""
    if top <= 0:
        return
    yield f'<text class="unit" x="{LEFT - 8}" y="{TOP - 8}" text-anchor="end">₫</text>'
    step = _nice_step(top)
    for value in range(step, top + 1, step):
        y = TOP + PLOT_HEIGHT - value / top * PLOT_HEIGHT
        yield (
            f'<line class="grid" x1="{LEFT}" y1="{_x(y)}" x2="{LEFT + PLOT_WIDTH}" y2="{_x(y)}" '
            f'stroke="{GRID}"/>'
            f'<text class="y" x="{LEFT - 8}" y="{_x(y + 4)}" text-anchor="end">{so(value)}</text>'
        )
    yield (f'<text class="y" x="{LEFT - 8}" y="{TOP + PLOT_HEIGHT + 4}" text-anchor="end">0</text>')
