"""Prometheus metrics through prometheus-client, in one registry of recon's own.

Counters and histograms are kept by the process that counts them (requests it served, runs it
made, statement lines it stored) and start at zero when it starts: with several processes (API
replicas, the scheduler) each exports its own, and a dashboard sums them over instances. The
gauges read from the database at each scrape (the schedule, live cases) answer the same in
every replica; the pool gauges are this process's connections.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.pool import Pool, QueuePool

if TYPE_CHECKING:
    from litestar.types import Scope

REGISTRY = CollectorRegistry(auto_describe=True)
PER_PROCESS = " Kept by each process since its start: sum over instances."
# the route label of a request that matched no route (404 and 405 from the router)
UNMATCHED = "unmatched"
# any other method is counted as OTHER: a label value a client may choose must stay bounded
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "recon_http_requests",
    "HTTP requests served, by method, route template (`unmatched` when no route matched) "
    "and status." + PER_PROCESS,
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "recon_http_request_duration_seconds",
    "Time from a request's arrival to its response's end, by method and route template."
    + PER_PROCESS,
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
RUNS = Counter(
    "recon_runs",
    "Runs this process ended, by status (succeeded, partial, failed, abandoned) and trigger."
    + PER_PROCESS,
    ["status", "trigger"],
    registry=REGISTRY,
)
RUN_DURATION = Histogram(
    "recon_run_duration_seconds",
    "Wall time of the runs this process made, by outcome and trigger." + PER_PROCESS,
    ["status", "trigger"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600),
    registry=REGISTRY,
)
STATEMENT_LINES = Counter(
    "recon_statement_lines",
    "Statement lines of the deliveries this process stored (committed), by channel, source "
    "(pull, import) and outcome: inserted (new), updated (a stored line whose status moved "
    "forward), duplicate (seen before, nothing changed)." + PER_PROCESS,
    ["channel", "source", "outcome"],
    registry=REGISTRY,
)

_REQUESTS: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def count_request(method: str, status: int, scope: Scope, elapsed_ms: float) -> None:
    """Count a request and observe its time, called once it has been answered: by then the
    router has put the matched route's template (`/api/v1/payments/{dossier_code}`) in the
    scope; a request that matched no route has none."""
    route = scope.get("path_template") or UNMATCHED
    # the labelled children kept: `labels()` on every request cost more than counting
    children = _REQUESTS.get((method, route, status))
    if children is None:
        children = _request_children(method, route, status)
    children[0].inc()
    children[1].observe(elapsed_ms / 1000)


def _request_children(method: str, route: str, status: int) -> tuple[Any, Any]:
    label = method if method in METHODS else "OTHER"
    children = (
        HTTP_REQUESTS.labels(label, route, str(status)),
        HTTP_DURATION.labels(label, route),
    )
    if label == method:  # a made-up method is not kept: the map stays as small as the labels
        _REQUESTS[(method, route, status)] = children
    return children


def observe_run(status: str, trigger: str, seconds: float) -> None:
    RUNS.labels(status, trigger).inc()
    RUN_DURATION.labels(status, trigger).observe(seconds)


def count_lines(channel: str, source: str, *, inserted: int, updated: int, duplicates: int) -> None:
    """A delivery's lines, once its transaction committed."""
    for outcome, n in (("inserted", inserted), ("updated", updated), ("duplicate", duplicates)):
        STATEMENT_LINES.labels(channel, source, outcome).inc(n)


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


class CaseGauges(Collector):
    """Live (open or reopened) cases by type, as read from the database for one scrape."""

    def __init__(self, live: Mapping[str, int]) -> None:
        self.live = live

    def collect(self) -> Iterable[GaugeMetricFamily]:
        live = GaugeMetricFamily(
            "recon_live_cases",
            "Live (open or reopened) cases, by type; every type, 0 when it has none.",
            labels=["type"],
        )
        for case_type, count in sorted(self.live.items()):
            live.add_metric([case_type], count)
        yield live


class PoolGauges(Collector):
    """This process's database connection pool, read at the scrape. Both SQLite (a file) and
    PostgreSQL get SQLAlchemy's queue pool; another pool (SQLite in memory) reports nothing."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def collect(self) -> Iterable[GaugeMetricFamily]:
        pool = self.pool
        if not isinstance(pool, QueuePool):
            return
        yield GaugeMetricFamily(
            "recon_db_pool_size",
            "Connections the pool keeps open once made (pool_size).",
            value=pool.size(),
        )
        yield GaugeMetricFamily(
            "recon_db_pool_checked_out",
            "Connections of this process's pool in use now.",
            value=pool.checkedout(),
        )
        yield GaugeMetricFamily(
            "recon_db_pool_idle",
            "Connections of this process's pool open and waiting to be used.",
            value=pool.checkedin(),
        )
        # `overflow()` counts from -size (no connection made yet): beyond the size, or 0
        yield GaugeMetricFamily(
            "recon_db_pool_overflow",
            "Connections open beyond the pool's size, closed again when given back.",
            value=max(pool.overflow(), 0),
        )
        max_overflow = getattr(pool, "_max_overflow", None)  # no public reader
        if isinstance(max_overflow, int):
            yield GaugeMetricFamily(
                "recon_db_pool_max_overflow",
                "Connections the pool may open beyond its size (-1: no limit); past size + this, a "
                "request waits for a connection (pool_timeout), then fails.",
                value=max_overflow,
            )


def render(*collectors: Collector) -> bytes:
    """The text exposition: the process's metrics, then those read for this scrape."""
    body = generate_latest(REGISTRY)
    if collectors:
        scrape = CollectorRegistry(auto_describe=False)
        for collector in collectors:
            scrape.register(collector)
        body += generate_latest(scrape)
    return body
