"""Prometheus metrics of one newsbot process, on a registry of its own (no globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


class Metrics:
    """The counters the poller and the pipeline workers update."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.feeds_polled = Counter(
            "newsbot_feeds_polled", "Feed polls that returned a document", registry=self.registry
        )
        self.feeds_not_modified = Counter(
            "newsbot_feeds_not_modified",
            "Feed polls answered 304 Not Modified",
            registry=self.registry,
        )
        self.feeds_failed = Counter(
            "newsbot_feeds_failed",
            "Feed polls that failed (fetch or parse)",
            registry=self.registry,
        )
        self.entries_queued = Counter(
            "newsbot_entries_queued", "Entries added to the pipeline stream", registry=self.registry
        )
        self.entries_unchanged = Counter(
            "newsbot_entries_unchanged",
            "Parsed entries the pipeline already had as fetched: never queued",
            registry=self.registry,
        )
        self.entries_processed = Counter(
            "newsbot_entries_processed",
            "Entries the pipeline finished (stored or folded)",
            registry=self.registry,
        )
        self.entries_failed = Counter(
            "newsbot_entries_failed", "Per-entry pipeline step failures", registry=self.registry
        )
        self.stream_lag = Gauge(
            "newsbot_stream_lag", "Entries waiting in the pipeline stream", registry=self.registry
        )

        self.loop_lag = Gauge(
            "newsbot_event_loop_lag_seconds",
            "How late the event loop woke a sleeper at its last sample (its longest stall)",
            registry=self.registry,
        )
        self.loop_lag_max = Gauge(
            "newsbot_event_loop_lag_max_seconds",
            "The longest event loop stall since the process started",
            registry=self.registry,
        )

        self._longest_stall = 0.0

    def loop_sample(self, lag: float) -> None:
        """Record one event loop lag sample (see `bot.loop_lag`)."""
        self.loop_lag.set(lag)
        if lag > self._longest_stall:
            self._longest_stall = lag
            self.loop_lag_max.set(lag)

    def render(self) -> bytes:
        return generate_latest(self.registry)
