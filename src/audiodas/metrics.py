"""Prometheus metrics. One registry per application so that several apps (tests) never clash.

Under `audiodas serve` every process (API workers, engine) writes its counters and histograms
to files in PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode, set up by the
supervisor), and any API process reports the sum of all of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        own: CollectorRegistry | None = self.registry
        if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
            MultiProcessCollector(self.registry)
            own = None  # values live in the shared files; the collector reads them all
        self.uploads = Counter(
            "audiodas_uploads",
            "Uploads by outcome (accepted or the refusal code).",
            ["outcome"],
            registry=own,
        )
        self.upload_bytes = Counter(
            "audiodas_upload_bytes", "Bytes of accepted uploads.", registry=own
        )
        self.http_duration = Histogram(
            "audiodas_http_request_duration_seconds",
            "HTTP request duration by route and status.",
            ["route", "status"],
            registry=own,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )

        self.stage_seconds = Histogram(
            "audiodas_stage_duration_seconds",
            "Duration of successful stage runs.",
            ["stage"],
            registry=own,
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
        )
        self.stage_failures = Counter(
            "audiodas_stage_failures", "Stages that failed after their retries.", ["stage"],
            registry=own,
        )  # fmt: skip

    def gauge_from(
        self, name: str, documentation: str, label: str | None, read: Callable[[], dict | float]
    ) -> None:
        """A gauge read when scraped: one value, or one per label value if `read` gives a dict."""
        self.registry.register(_CallbackGauge(name, documentation, label, read))


class _CallbackGauge(Collector):
    def __init__(self, name: str, documentation: str, label: str | None, read: Callable) -> None:
        self.name, self.documentation, self.label, self.read = name, documentation, label, read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.label is None:
            yield GaugeMetricFamily(self.name, self.documentation, value=self.read())
            return
        family = GaugeMetricFamily(self.name, self.documentation, labels=[self.label])
        for key, value in self.read().items():
            family.add_metric([str(key)], value)
        yield family
