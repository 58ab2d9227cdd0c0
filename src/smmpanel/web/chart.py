"""The dashboard's chart, drawn on the server as SVG: orders per day as bars,
revenue (charges net of refunds) per day as a line, on two scales.

Only geometry is computed here; ``_chart.html`` writes the markup (escaped
by Jinja like every page), with presentation attributes rather than inline
styles, which the site's content security policy forbids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Sequence

from ..services.admin import Day

WIDTH, HEIGHT = 960, 260
LEFT, RIGHT, TOP, BOTTOM = 40, 16, 28, 28  # room for the axis labels (the scales' tops sit above the plot)
DAY_S = 86_400
LABEL_EVERY_DAYS = 5


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Tick:
    x: float
    text: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    bars: list[Bar]
    line: str  # the revenue polyline's points
    ticks: list[Tick]
    max_orders: int
    max_revenue: str
    title: str
    empty: bool


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 × 10ⁿ at or above ``value`` (a readable axis top)."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def daily_chart(days: Sequence[Day], show_money: Callable[[int], str], _: Callable[[str], str], *,
                currency: str) -> Chart:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    max_orders = _nice_ceiling(max((d.orders for d in days), default=0))
    revenues = [d.revenue_micros for d in days]
    max_revenue = _nice_ceiling(max(max(revenues, default=0), 0))
    bars, points, ticks = [], [], []
    for i, (day, revenue) in enumerate(zip(days, revenues)):
        x = LEFT + i * slot
        label = datetime.fromtimestamp(day.day * DAY_S, timezone.utc).strftime("%Y-%m-%d")
        height = plot_h * day.orders / max_orders
        title = _("%(day)s: %(orders)s orders, revenue %(revenue)s") % {
            "day": label, "orders": day.orders, "revenue": f"{show_money(revenue)} {currency}"}
        bars.append(Bar(round(x + slot * 0.15, 1), round(TOP + plot_h - height, 1), round(slot * 0.7, 1),
                        round(height, 1), title))
        y = TOP + plot_h - plot_h * max(revenue, 0) / max_revenue
        points.append(f"{x + slot / 2:.1f},{y:.1f}")
        if (len(days) - 1 - i) % LABEL_EVERY_DAYS == 0:
            ticks.append(Tick(round(x + slot / 2, 1), label[5:]))
    return Chart(WIDTH, HEIGHT, LEFT, WIDTH - RIGHT, TOP, TOP + plot_h, bars, " ".join(points), ticks, max_orders,
                 f"{show_money(max_revenue)} {currency}", _("Orders and revenue per day, last 30 days"),
                 not any(d.orders or d.revenue_micros for d in days))
