"""A local cluster per test (loopback RPC), with the mainnet Jito tip accounts funded as on mainnet,
and helpers that create a price gap with a real swap and find the arbitrage that closes it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Processed
from solana.rpc.models import TxOpts
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from core.flashloan.builder import FlashLoanTxBuilder, SwapLeg, quote_route
from core.flashloan.profitability import PoolPricer
from core.flashloan.solend import SolendProvider
from core.flashloan.venues import Venue, load_venues
from core.localnet.block_engine.engine import ensure_tip_accounts
from core.localnet.genesis import RaydiumPool, Scenario, operator_keypair, trader_keypair
from core.protocols import ids, raydium_amm
from core.search.dex_raydium import RAYDIUM_AMM_V4
from core.search.dex_whirlpool import WHIRLPOOL
from core.search.opportunities import Hop
from tests.localnet.conftest import Localnet, start_localnet, stop_localnet
from tests.localnet.rpc_helpers import signed_v0


@dataclass
class FlashNet:
    net: Localnet
    client: AsyncClient
    wallet: Keypair

    @property
    def scenario(self) -> Scenario:
        return self.net.cluster.scenario

    def raydium(self, coin: str, pc: str, index: int = 0) -> RaydiumPool:
        pools = [p for p in self.scenario.raydium_pools if (p.coin_symbol, p.pc_symbol) == (coin, pc)]
        return pools[index]

    def mint(self, symbol: str) -> Pubkey:
        return self.scenario.token(symbol).mint

    def solend(self) -> SolendProvider:
        return SolendProvider({r.liquidity_mint: r.address for r in self.scenario.solend_reserves})

    def pricer(self) -> PoolPricer:
        return PoolPricer((self.raydium("SOL", "USDC", 0).address, RAYDIUM_AMM_V4))

    async def token_balance(self, account: Pubkey) -> int:
        resp = await self.client.get_token_account_balance(account, commitment=Processed)
        return int(resp.value.amount)

    async def lamports(self, account: Pubkey) -> int:
        return (await self.client.get_balance(account, commitment=Processed)).value

    async def big_swap(self, pool: RaydiumPool, amount_in: int, coin_to_pc: bool, trader: int = 0) -> None:
        """A real SwapBaseIn by a noise trader: moves the pool's price."""
        kp = trader_keypair(self.scenario.seed, trader)
        accounts = self.scenario.traders[trader].token_accounts
        src, dst = (pool.coin_symbol, pool.pc_symbol) if coin_to_pc else (pool.pc_symbol, pool.coin_symbol)
        resp = await self.client.get_account_info(pool.address, commitment=Processed)
        assert resp.value is not None
        info = raydium_amm.decode_amm_info(bytes(resp.value.data))
        ix = raydium_amm.swap_base_in_v2(pool.address, info, accounts[src], accounts[dst], kp.pubkey(),
                                         amount_in, 1)
        blockhash = (await self.client.get_latest_blockhash()).value.blockhash
        sig = (await self.client.send_raw_transaction(bytes(signed_v0(kp, [ix], blockhash)))).value
        status = (await self.client.get_signature_statuses([sig])).value[0]
        assert status is not None and status.err is None, status

    async def send_unchecked(self, tx: bytes) -> object:
        """Send without preflight and return the landed transaction's error (None: it succeeded)."""
        sig = (await self.client.send_raw_transaction(tx, TxOpts(skip_preflight=True))).value
        status = (await self.client.get_signature_statuses([sig])).value[0]
        assert status is not None
        return status.err

    async def venues(self, route: tuple[Hop, ...]) -> dict[Pubkey, Venue]:
        return await load_venues(self.client, [(h.pool, h.dex) for h in route])


def raydium_hop(pool: RaydiumPool, mint_in: Pubkey) -> Hop:
    a_to_b = mint_in == pool.coin_mint
    return Hop(pool.address, RAYDIUM_AMM_V4, a_to_b, mint_in, pool.pc_mint if a_to_b else pool.coin_mint)


def best_amount(
    route: tuple[Hop, ...], venues: dict[Pubkey, Venue], fee: object, lo: int, hi: int
) -> tuple[int, tuple[SwapLeg, ...]]:
    """The amount in [lo, hi] that maximises out − in − fee(in) (coarse-to-fine scan)."""
    best: tuple[int, int, tuple[SwapLeg, ...]] | None = None
    step = max((hi - lo) // 64, 1)
    while True:
        for amount in range(lo, hi + 1, step):
            legs = quote_route(route, venues, amount)
            gain = legs[-1].expected_out - amount - fee(amount)  # type: ignore[operator]
            if best is None or gain > best[0]:
                best = (gain, amount, legs)
        if step == 1:
            break
        lo, hi = max(1, best[1] - step), best[1] + step
        step = max(step // 16, 1)
    assert best is not None
    return best[1], best[2]


async def gap_route(f: FlashNet, usdc_in: int = 400_000 * 10**6) -> tuple[Hop, Hop]:
    """Buy SOL with `usdc_in` on SOL/USDC pool 0 (SOL gets dear there), then the arbitrage is:
    USDC → SOL on pool 1, SOL → USDC on pool 0."""
    p0, p1 = f.raydium("SOL", "USDC", 0), f.raydium("SOL", "USDC", 1)
    await f.big_swap(p0, usdc_in, coin_to_pc=False)
    usdc = f.mint("USDC")
    return raydium_hop(p1, usdc), raydium_hop(p0, ids.NATIVE_MINT)


@pytest.fixture
async def flashnet() -> AsyncIterator[FlashNet]:
    net = await start_localnet()
    try:
        # Mainnet's tip accounts exist (rent-exempt tip-payment PDAs); a tip to a missing one would
        # fail on rent. The block engine creates them when it starts; no block engine runs here.
        ensure_tip_accounts(net.cluster)
        wallet, _ = operator_keypair(net.cluster.seed, None)
        async with net.client() as client:
            yield FlashNet(net, client, wallet)
    finally:
        await stop_localnet(net)


def builder_for(f: FlashNet, **kw: object) -> FlashLoanTxBuilder:
    return FlashLoanTxBuilder(f.wallet, **kw)  # type: ignore[arg-type]


def whirlpool_hop(f: FlashNet, a: str, b: str, mint_in: Pubkey, index: int = 0) -> Hop:
    pools = [w for w in f.scenario.whirlpools if {w.symbol_a, w.symbol_b} == {a, b}]
    pool = pools[index]
    a_to_b = mint_in == pool.token_mint_a
    return Hop(pool.address, WHIRLPOOL, a_to_b, mint_in, pool.token_mint_b if a_to_b else pool.token_mint_a)


async def three_hop_route(
    f: FlashNet, *, whirlpool_first: bool, usdc_in: int = 50_000 * 10**6
) -> tuple[Hop, Hop, Hop]:
    """USDC → USDT (Whirlpool or Raydium) → SOL (Raydium SOL/USDT) → USDC (Raydium SOL/USDC 0,
    where a big buy first made SOL dear)."""
    p0 = f.raydium("SOL", "USDC", 0)
    await f.big_swap(p0, usdc_in, coin_to_pc=False)
    usdc, usdt = f.mint("USDC"), f.mint("USDT")
    first = (whirlpool_hop(f, "USDT", "USDC", usdc) if whirlpool_first
             else raydium_hop(f.raydium("USDT", "USDC", 0), usdc))
    return first, raydium_hop(f.raydium("SOL", "USDT", 0), usdt), raydium_hop(p0, ids.NATIVE_MINT)
