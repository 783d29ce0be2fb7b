"""The genesis gives the executor its three providers and on-cluster prices."""

from __future__ import annotations

from core.flashloan.localnet_setup import pricer_from_scenario, providers_from_scenario
from tests.flashloan.conftest import FlashNet


async def test_genesis_providers_all_lend_usdc_and_every_token_has_a_price(flashnet: FlashNet) -> None:
    f = flashnet
    providers = providers_from_scenario(f.scenario)
    assert [p.name for p in providers] == ["solend", "marginfi", "kamino"]
    usdc = f.mint("USDC")
    for p in providers:
        await p.refresh(f.client, usdc)
        assert p.health(usdc).enabled and p.available_liquidity(usdc) > 0
    pricer = pricer_from_scenario(f.scenario)
    for token in f.scenario.tokens:
        prices = await pricer.prices(f.client, token.mint)
        # Pool prices sit within a few percent of genesis' reference price.
        usd = prices.to_usd(10**token.decimals)
        assert abs(usd / token.usd_price - 1) < 0.05, (token.symbol, usd, token.usd_price)
