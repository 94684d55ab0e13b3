"""Prometheus metrics through prometheus-client, in one registry of recon's own.

Counters and histograms are kept by the process that counts them (requests served, runs it
made); the scheduling gauges (per channel, the last business day with a succeeded channel-day
and the overdue days of the window) are read from the database at each scrape, so every
replica answers the same whichever process ran the nights.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "recon_http_requests",
    "HTTP requests served, by method and status.",
    ["method", "status"],
    registry=REGISTRY,
)
RUN_DURATION = Histogram(
    "recon_run_duration_seconds",
    "Wall time of the runs this process made, by outcome and trigger.",
    ["status", "trigger"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600),
    registry=REGISTRY,
)


_REQUEST_COUNTERS: dict[tuple[str, int], Any] = {}


def count_request(method: str, status: int) -> None:
    # the labelled child kept: `labels()` on every request cost as much as the count itself
    counter = _REQUEST_COUNTERS.get((method, status))
    if counter is None:
        counter = _REQUEST_COUNTERS[(method, status)] = HTTP_REQUESTS.labels(method, str(status))
    counter.inc()


def observe_run(status: str, trigger: str, seconds: float) -> None:
    RUN_DURATION.labels(status, trigger).observe(seconds)


class ScheduleGauges(Collector):
    """The schedule's state as read from the database for one scrape."""

    def __init__(
        self,
        last_succeeded: dict[str, date | None],
        overdue: dict[str, int],
        given_up: dict[str, int],
        days_overdue: int,
    ) -> None:
        self.last_succeeded, self.overdue, self.given_up = last_succeeded, overdue, given_up
        self.days_overdue = days_overdue

    def collect(self) -> Iterable[GaugeMetricFamily]:
        last = GaugeMetricFamily(
            "recon_channel_last_succeeded_day_timestamp_seconds",
            "Per channel, the last business day with a succeeded (reconciled) channel-day, as "
            "the Unix time of its midnight UTC; absent for a channel never reconciled.",
            labels=["channel"],
        )
        for channel, day in sorted(self.last_succeeded.items()):
            if day is not None:
                midnight = datetime.combine(day, time(), tzinfo=UTC).timestamp()
                last.add_metric([channel], midnight)
        yield last
        overdue = GaugeMetricFamily(
            "recon_channel_overdue_days",
            "Per channel, the due days of the lookback window without a succeeded channel-day.",
            labels=["channel"],
        )
        for channel, count in sorted(self.overdue.items()):
            overdue.add_metric([channel], count)
        yield overdue
        given_up = GaugeMetricFamily(
            "recon_channel_given_up_days",
            "Per channel, days that left the lookback window without a succeeded channel-day "
            "after a run tried them: no longer retried, they need `recon reconcile --from --to`.",
            labels=["channel"],
        )
        for channel, count in sorted(self.given_up.items()):
            given_up.add_metric([channel], count)
        yield given_up
        yield GaugeMetricFamily(
            "recon_overdue_days",
            "Due days of the lookback window, not closed, without a succeeded run.",
            value=self.days_overdue,
        )


def render(gauges: ScheduleGauges | None = None) -> bytes:
    """The text exposition: the process's metrics, then the schedule's gauges when given."""
    body = generate_latest(REGISTRY)
    if gauges is not None:
        scrape = CollectorRegistry(auto_describe=False)
        scrape.register(gauges)
        body += generate_latest(scrape)
    return body
