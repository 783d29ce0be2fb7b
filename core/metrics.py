"""Prometheus metrics, with the plan's names and buckets, in a registry of their own.

A private CollectorRegistry (never prometheus_client's global one) keeps tests and several
engines in one process from colliding. `start_metrics_server` serves it on `metrics.bind` only
when `metrics.enabled` is true.
"""

from __future__ import annotations

from dataclasses import dataclass
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from core.config import MetricsConfig

FLASH_AMOUNT_BUCKETS_USD = (100, 500, 1000, 5000, 10000, 50000)
FLASH_PROFIT_BUCKETS_USD = (1, 5, 10, 50, 100, 500)
DETECTION_LATENCY_BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# A block-engine round trip: a few ms to the nearest region, ~250 ms across the world, seconds when sick.
SEND_BUNDLE_LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Every metric the engine exports. Create one per engine; pass it where events happen."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.flash_loans_attempted = Counter(
            "arb_flash_loans_attempted", "Flash-loan bundles attempted", registry=r
        )
        self.flash_loans_successful = Counter(
            "arb_flash_loans_successful", "Flash-loan bundles that landed", registry=r
        )
        self.flash_loan_amount_usd = Histogram(
            "arb_flash_loan_amount_usd",
            "Flash-loan amount (USD)",
            buckets=FLASH_AMOUNT_BUCKETS_USD,
            registry=r,
        )
        self.flash_loan_profit_usd = Histogram(
            "arb_flash_loan_profit_usd",
            "Realised flash-loan profit (USD)",
            buckets=FLASH_PROFIT_BUCKETS_USD,
            registry=r,
        )
        self.bundles_submitted = Counter(
            "arb_bundles_submitted", "Bundles submitted to a block engine", ["region"], registry=r
        )
        self.bundles_landed = Counter(
            "arb_bundles_landed", "Bundles landed, by the region that won", ["region"], registry=r
        )
        self.tips_paid_lamports = Counter(
            "arb_tips_paid_lamports", "Jito tips paid by landed bundles (lamports)", registry=r
        )
        self.retries = Counter("arb_retries", "Bundle retries, by failure reason", ["reason"], registry=r)
        self.opportunities_seen = Counter("arb_opportunities_seen", "Opportunities detected", registry=r)
        self.opportunities_passed = Counter(
            "arb_opportunities_passed",
            "Opportunities not built, by reason (small, tip_floor, stale, pool_busy)",
            ["reason"], registry=r,
        )
        self.detection_latency_seconds = Histogram(
            "arb_detection_latency_seconds",
            "Account update received → opportunity detected (seconds)",
            buckets=DETECTION_LATENCY_BUCKETS_S,
            registry=r,
        )
        self.jito_rate_limited = Counter(
            "arb_jito_rate_limited",
            "Block-engine requests answered HTTP 429, by region and JSON-RPC method",
            ["region", "method"],
            registry=r,
        )
        self.jito_errors = Counter(
            "arb_jito_errors",
            "Block-engine requests that failed otherwise (5xx, transport, JSON-RPC error), by region, method",
            ["region", "method"],
            registry=r,
        )
        self.send_bundle_latency_seconds = Histogram(
            "arb_send_bundle_latency_seconds",
            "sendBundle request → block-engine answer, token-bucket wait excluded (seconds), by region",
            ["region"],
            buckets=SEND_BUNDLE_LATENCY_BUCKETS_S,
            registry=r,
        )


@dataclass
class MetricsServer:
    server: WSGIServer
    thread: Thread

    @property
    def host(self) -> str:
        return str(self.server.server_address[0])

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_metrics_server(config: MetricsConfig, metrics: Metrics) -> MetricsServer | None:
    """Serve `/metrics` on `config.bind` when enabled; None when disabled."""
    if not config.enabled:
        return None
    server, thread = start_http_server(config.port, addr=config.host, registry=metrics.registry)
    return MetricsServer(server, thread)
