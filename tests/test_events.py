import json

from solders.pubkey import Pubkey

from core.events import CheckResult, EventBus, FeedHealth, ValidationResult, to_json_dict
from core.search.fees import FeeBreakdown
from core.search.opportunities import Hop, Opportunity


async def test_slow_subscriber_drops_oldest_and_counts() -> None:
    bus = EventBus(maxsize=2)
    sub = bus.subscribe()
    for slot in range(5):
        bus.publish(FeedHealth(connected=True, slot=slot, stale_slots=0, pools=1))
    got = [e.slot for e in sub.drain()]  # type: ignore[union-attr]
    assert got == [3, 4]
    assert sub.dropped == 3
    sub.close()
    assert len(bus) == 0


def test_validation_reports_first_failure() -> None:
    ok = CheckResult("liquidity", True, "10", ">= 5")
    bad = CheckResult("net_profit", False, "0.01", ">= 0.5")
    v = ValidationResult(1, "a1", "solend", 100, (ok, bad))
    assert not v.passed
    assert v.first_failure is bad


def test_opportunity_serializes_pubkeys_as_base58_and_amounts_as_ints() -> None:
    mint = Pubkey.new_unique()
    pool = Pubkey.new_unique()
    fees = FeeBreakdown(flash_fee=1, network_fee=2, network_fee_lamports=5000, tip=3, tip_lamports=10_000)
    opp = Opportunity(7, 1, mint, (Hop(pool, "raydium", True, mint, mint),), 100, 110, 10, fees, 4,
                      5, (5,), 0)
    d = json.loads(json.dumps(to_json_dict(opp)))
    assert d["type"] == "Opportunity"
    assert d["loan_mint"] == str(mint)
    assert d["route"][0]["pool"] == str(pool)
    assert d["amount_in"] == 100
