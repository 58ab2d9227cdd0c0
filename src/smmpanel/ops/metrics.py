"""Prometheus metrics (``/metrics``).

Two kinds of figures:

* counted in-process on the request path: requests by action and outcome and
  their latency. The ``/api/v2`` hot path does this with plain dict and list
  increments (no lock, no label lookup: it runs on one event loop), turned
  into Prometheus families only when scraped;
* read from the database at scrape time: orders by status, the worker's queue
  per upstream state, what needs the operator's attention, ledger totals, and
  the upstream requests by provider, action and outcome. The worker runs in
  its own process(es), so it adds its request counts to the database once per
  provider pass (``store/calls.py``) rather than keeping them where a scrape
  of the server cannot reach; summed there, they survive worker restarts.

With ``serve --workers N`` each server process counts its own requests and a
scrape reaches one of them; the database figures are the whole panel's.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from ..services.stats import PanelFigures

# Seconds; the API answers in well under a millisecond to tens of ms.
LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
OTHER_ACTION = "other"  # unknown or missing actions share one label: bounded cardinality
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class RequestCounters:
    def __init__(self, actions: Iterable[str]) -> None:
        self.known_actions = frozenset(actions)
        self.requests: dict[tuple[str, str], int] = {}
        self._bucket_counts: dict[str, list[int]] = {}
        self._latency_sum_s: dict[str, float] = {}

    def observe(self, action: object, outcome: str, seconds: float) -> None:
        """One request; ``action`` as the client sent it: what is not an action's name counts as "other"."""
        if type(action) is not str or action not in self.known_actions:
            action = OTHER_ACTION
        key = (action, outcome)
        self.requests[key] = self.requests.get(key, 0) + 1
        counts = self._bucket_counts.get(action)
        if counts is None:
            counts = self._bucket_counts[action] = [0] * (len(LATENCY_BUCKETS_S) + 1)
            self._latency_sum_s[action] = 0.0
        counts[bisect_left(LATENCY_BUCKETS_S, seconds)] += 1
        self._latency_sum_s[action] += seconds

    def families(self) -> Iterator[Metric]:
        requests = CounterMetricFamily("smmpanel_api_requests", "API v2 requests by action and outcome",
                                       labels=["action", "outcome"])
        for (action, outcome), n in sorted(self.requests.items()):
            requests.add_metric([action, outcome], n)
        yield requests
        latency = HistogramMetricFamily("smmpanel_api_request_duration_seconds",
                                        "API v2 time from the body read to the reply, by action", labels=["action"])
        for action, counts in sorted(self._bucket_counts.items()):
            cumulative, buckets = 0, []
            for bound, n in zip(LATENCY_BUCKETS_S + (float("inf"),), counts):
                cumulative += n
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            latency.add_metric([action], buckets, self._latency_sum_s[action])
        yield latency


def figure_families(figures: PanelFigures) -> Iterator[Metric]:
    by_status = GaugeMetricFamily("smmpanel_orders", "Orders by status", labels=["status"])
    for status, n in sorted(figures.orders_by_status.items()):
        by_status.add_metric([status], n)
    yield by_status
    queue = GaugeMetricFamily("smmpanel_upstream_orders", "Resold orders by upstream state (the worker's queue)",
                              labels=["state"])
    for state, n in sorted(figures.orders_by_upstream_state.items()):
        queue.add_metric([state], n)
    yield queue
    yield GaugeMetricFamily("smmpanel_needs_attention", "Orders and refills waiting for the operator",
                            value=figures.needs_attention)
    entries = GaugeMetricFamily("smmpanel_ledger_entries", "Ledger entries by kind", labels=["kind"])
    totals = GaugeMetricFamily("smmpanel_ledger_amount_micros",
                               "Signed sum of ledger entries by kind, in micro-units of the panel currency",
                               labels=["kind"])
    for kind in sorted(figures.ledger_entries):
        entries.add_metric([kind], figures.ledger_entries[kind])
        totals.add_metric([kind], figures.ledger_micros[kind])
    yield entries
    yield totals
    yield GaugeMetricFamily("smmpanel_balances_micros", "Sum of all customer balances, in micro-units",
                            value=figures.balances_micros)
    calls = CounterMetricFamily("smmpanel_upstream_calls", "Requests the worker sent upstream, by provider, action "
                                "and outcome (ok or the kind of error)", labels=["provider", "action", "outcome"])
    for labels, n in sorted(figures.upstream_calls.items()):
        calls.add_metric(list(labels), n)
    yield calls


class _Collect:
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> list[Metric]:
        return self._families


def exposition(counters: RequestCounters, figures: PanelFigures) -> bytes:
    """The text a scrape gets: this process's counters and the panel's figures."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collect([*counters.families(), *figure_families(figures)]))
    return generate_latest(registry)
