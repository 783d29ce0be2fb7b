"""Metrics: the plan's names and buckets, scraped over real HTTP and parsed by prometheus-client."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from solders.pubkey import Pubkey

from core.config import MetricsConfig, load_config
from core.events import SlotTick
from core.metrics import Metrics, start_metrics_server
from core.protocols.ids import NATIVE_MINT, USDC_MINT
from core.runtime import Runtime
from core.search.fees import FeeBreakdown
from core.search.opportunities import Hop, Opportunity


def scrape(port: int) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def bucket_bounds(family: object) -> list[float]:
    return sorted(
        {float(s.labels["le"]) for s in family.samples if s.name.endswith("_bucket")}  # type: ignore[attr-defined]
    )


def sample(family: object, name: str, **labels: str) -> float:
    for s in family.samples:  # type: ignore[attr-defined]
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return float(s.value)
    raise AssertionError(f"no sample {name} {labels}")


def test_scrape_over_http_has_plan_names_buckets_and_values() -> None:
    metrics = Metrics()
    metrics.flash_loans_attempted.inc(3)
    metrics.flash_loans_successful.inc(2)
    for usd in (50, 700, 20000):
        metrics.flash_loan_amount_usd.observe(usd)
    metrics.flash_loan_profit_usd.observe(7.5)
    metrics.bundles_submitted.labels(region="ny").inc(4)
    metrics.bundles_landed.labels(region="ny").inc()
    metrics.tips_paid_lamports.inc(25_000)
    metrics.retries.labels(reason="lost_auction").inc()
    metrics.opportunities_seen.inc(10)
    metrics.detection_latency_seconds.observe(0.02)

    server = start_metrics_server(MetricsConfig(enabled=True, bind="127.0.0.1:0"), metrics)
    assert server is not None
    try:
        families = scrape(server.port)
    finally:
        server.stop()

    assert sample(families["arb_flash_loans_attempted"], "arb_flash_loans_attempted_total") == 3
    assert sample(families["arb_flash_loans_successful"], "arb_flash_loans_successful_total") == 2
    amount = families["arb_flash_loan_amount_usd"]
    assert bucket_bounds(amount) == [100, 500, 1000, 5000, 10000, 50000, float("inf")]
    assert sample(amount, "arb_flash_loan_amount_usd_bucket", le="100.0") == 1
    assert sample(amount, "arb_flash_loan_amount_usd_bucket", le="1000.0") == 2
    assert sample(amount, "arb_flash_loan_amount_usd_count") == 3
    profit = families["arb_flash_loan_profit_usd"]
    assert bucket_bounds(profit) == [1, 5, 10, 50, 100, 500, float("inf")]
    assert sample(profit, "arb_flash_loan_profit_usd_sum") == 7.5
    assert sample(families["arb_bundles_submitted"], "arb_bundles_submitted_total", region="ny") == 4
    assert sample(families["arb_bundles_landed"], "arb_bundles_landed_total", region="ny") == 1
    assert sample(families["arb_tips_paid_lamports"], "arb_tips_paid_lamports_total") == 25_000
    assert sample(families["arb_retries"], "arb_retries_total", reason="lost_auction") == 1
    assert sample(families["arb_opportunities_seen"], "arb_opportunities_seen_total") == 10
    assert sample(families["arb_detection_latency_seconds"], "arb_detection_latency_seconds_count") == 1


def test_disabled_metrics_start_no_server() -> None:
    assert start_metrics_server(MetricsConfig(enabled=False, bind="127.0.0.1:0"), Metrics()) is None


def test_metrics_use_a_private_registry() -> None:
    first, second = Metrics(), Metrics()  # a global registry would reject the duplicate names
    first.opportunities_seen.inc()
    assert second.registry.get_sample_value("arb_opportunities_seen_total") == 0
    assert REGISTRY.get_sample_value("arb_opportunities_seen_total") is None


async def test_the_engine_serves_its_metrics_while_it_runs_and_counts_what_it_sees(tmp_path: Path) -> None:
    config = load_config(None, {"store.dir": str(tmp_path), "metrics.enabled": True,
                                "metrics.bind": "127.0.0.1:0"}, search_default_paths=False)
    runtime = Runtime(config, with_engine=False)
    await runtime.start()
    try:
        assert runtime._metrics_server is not None
        url = f"http://127.0.0.1:{runtime._metrics_server.port}/metrics"
        runtime.bus.publish(SlotTick(1))
        for oid in (1, 2):
            runtime.bus.publish(an_opportunity(oid))
        await asyncio.sleep(0.1)  # the runtime follows the bus
        text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
        samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
        assert samples["arb_opportunities_seen_total"] == 2.0
    finally:
        await runtime.close()
    try:
        urllib.request.urlopen(url, timeout=2)
    except OSError:
        pass  # closed with the engine
    else:
        raise AssertionError("metrics still served after the engine closed")


def an_opportunity(oid: int) -> Opportunity:
    fees = FeeBreakdown(50_000, 10_000, 10_000, 5_000, 20_000)
    route = (Hop(Pubkey.new_unique(), "raydium_amm_v4", True, USDC_MINT, NATIVE_MINT),
             Hop(Pubkey.new_unique(), "whirlpool", False, NATIVE_MINT, USDC_MINT))
    return Opportunity(oid, oid, USDC_MINT, route, 10**8, 10**8 + 10**6, 10**6, fees, 10**6 - fees.total, 1,
                       (1, 1), 0)
