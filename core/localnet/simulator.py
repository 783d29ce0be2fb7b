"""Noise traders: real signed Raydium swaps sent through the cluster's own JSON-RPC.

Each token has a fair USD price that follows a mean-reverting random walk (with an optional drift
of its anchor). Every slot the traders read the pools over RPC, then send a Poisson number of
SwapBaseIn transactions of log-normal USD size on randomly chosen pools. A trade's direction leans
toward pulling its pool back to the fair price, but each pool is hit independently, so pools that
share a pair drift apart by a bounded amount: arbitrage appears, and closes again.

All randomness comes from `random.Random(seed)`, so the sequence of decisions is the same for a seed;
what lands still depends on who else trades, which is what the ledger records.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections import deque
from dataclasses import dataclass, field

import httpx
from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Processed
from solana.rpc.models import TxOpts
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction

from core.localnet.genesis import RaydiumPool, Scenario, Trader
from core.protocols import raydium_amm
from core.protocols.errors import DecodeError
from core.quote import raydium_amm as quote

log = logging.getLogger(__name__)

# getMultipleAccounts takes at most 100 keys per call.
_MAX_ACCOUNTS_PER_CALL = 100
SWAP_COMPUTE_UNITS = 80_000


@dataclass(frozen=True)
class Flow:
    """How the noise traders trade."""

    trades_per_slot: float = 4.0  # Poisson mean
    slot_ms: float = 400.0
    size_usd_median: float = 1_500.0  # log-normal trade size
    size_usd_sigma: float = 1.0
    size_usd_max: float = 150_000.0
    # Fair-price walk per slot: volatility and pull back to the anchor (Ornstein–Uhlenbeck).
    volatility_bps: float = 4.0
    reversion: float = 0.02
    drift_bps: dict[str, float] = field(default_factory=dict)  # anchor drift per slot, per symbol
    # How strongly a trade's direction leans toward the fair price: P(sell coin) = σ(k · mispricing).
    lean: float = 150.0
    slippage_bps: int = 300
    max_priority_micro_lamports: int = 2_000


@dataclass
class _PoolState:
    pool: RaydiumPool
    info: raydium_amm.AmmInfo
    coin: int = 0
    pc: int = 0


class NoiseTraders:
    """`await run()` trades until `stop()`; `trades_sent` counts what went out."""

    def __init__(
        self, rpc_url: str, scenario: Scenario, flow: Flow | None = None, seed: int | None = None
    ) -> None:
        self.rpc_url = rpc_url
        self.scenario = scenario
        self.flow = flow or Flow()
        self.rng = random.Random(scenario.seed if seed is None else seed)
        self._stop = asyncio.Event()
        self._anchor = {t.symbol: math.log(t.usd_price) for t in scenario.tokens}
        self.fair = {t.symbol: math.log(t.usd_price) for t in scenario.tokens}
        self.trades_sent = 0
        self.recent_signatures: deque[Signature] = deque(maxlen=10_000)  # what the RPC accepted, newest last
        self.send_errors = 0
        self.slots = 0

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        async with AsyncClient(self.rpc_url, commitment=Processed) as client:
            pools = await self._load_pools(client)
            loop = asyncio.get_running_loop()
            while not self._stop.is_set():
                started = loop.time()
                try:
                    await self._slot(client, pools)
                except (httpx.HTTPError, SolanaRpcException, OSError, TimeoutError) as exc:
                    # the cluster restarting, stalled by a fault, or gone: try again next slot
                    log.warning("noise traders: %s", exc)
                self.slots += 1
                self._walk_fair_prices()
                wait = self.flow.slot_ms / 1000 - (loop.time() - started)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), max(wait, 0.0))

    # ---- market state

    async def _load_pools(self, client: AsyncClient) -> list[_PoolState]:
        pools = list(self.scenario.raydium_pools)
        accounts = await _get_accounts(client, [p.address for p in pools])
        out = []
        for pool, acc in zip(pools, accounts, strict=True):
            if acc is None:
                continue
            try:
                out.append(_PoolState(pool, raydium_amm.decode_amm_info(bytes(acc.data), pool.address)))
            except DecodeError as exc:
                log.warning("noise traders skip a pool: %s", exc)
        return out

    async def _refresh(self, client: AsyncClient, pools: list[_PoolState]) -> None:
        keys = [k for ps in pools for k in (ps.pool.coin_vault, ps.pool.pc_vault)]
        accounts = await _get_accounts(client, keys)
        for i, ps in enumerate(pools):
            coin_acc, pc_acc = accounts[2 * i], accounts[2 * i + 1]
            ps.coin = _token_amount(coin_acc)
            ps.pc = _token_amount(pc_acc)

    def _walk_fair_prices(self) -> None:
        f = self.flow
        for symbol in self.fair:
            if symbol == "USDC":
                continue  # the numeraire
            self._anchor[symbol] += f.drift_bps.get(symbol, 0.0) / 10_000
            pull = f.reversion * (self._anchor[symbol] - self.fair[symbol])
            self.fair[symbol] += pull + self.rng.gauss(0.0, f.volatility_bps / 10_000)
        if "mSOL" in self.fair and "SOL" in self.fair:
            # mSOL tracks SOL: a liquid-staking token's price is SOL's times a slow exchange rate.
            self.fair["mSOL"] += 0.5 * (self.fair["SOL"] + self._anchor["mSOL"] - self._anchor["SOL"]
                                        - self.fair["mSOL"])

    # ---- trading

    async def _slot(self, client: AsyncClient, pools: list[_PoolState]) -> None:
        if not pools:
            return
        await self._refresh(client, pools)
        blockhash = (await client.get_latest_blockhash(Processed)).value.blockhash
        txs = []
        for _ in range(_poisson(self.rng, self.flow.trades_per_slot)):
            tx = self._trade(self.rng.choice(pools), self.rng.choice(self.scenario.traders), blockhash)
            if tx is not None:
                txs.append(tx)
        opts = TxOpts(skip_preflight=True, preflight_commitment=Processed)
        results = await asyncio.gather(
            *(client.send_raw_transaction(bytes(tx), opts) for tx in txs),
            return_exceptions=True,
        )
        for r in results:
            if isinstance(r, BaseException):
                self.send_errors += 1
                log.debug("noise trade not sent: %s", r)
            else:
                self.trades_sent += 1
                self.recent_signatures.append(r.value)

    def _trade(self, ps: _PoolState, trader: Trader, blockhash: Hash) -> Transaction | None:
        """One SwapBaseIn, or None when the draw gives nothing sensible to send."""
        pool, f = ps.pool, self.flow
        coin = self.scenario.token(pool.coin_symbol)
        pc = self.scenario.token(pool.pc_symbol)
        if ps.coin <= 0 or ps.pc <= 0:
            return None
        pool_price = (ps.pc / 10**pc.decimals) / (ps.coin / 10**coin.decimals)
        fair_price = math.exp(self.fair[coin.symbol] - self.fair[pc.symbol])
        mispricing = math.log(pool_price / fair_price)  # > 0: coin is dear here, so sell coin
        sell_coin = self.rng.random() < 1.0 / (1.0 + math.exp(-f.lean * mispricing))
        usd = min(self.rng.lognormvariate(math.log(f.size_usd_median), f.size_usd_sigma), f.size_usd_max)
        token_in = coin if sell_coin else pc
        amount_in = int(usd / math.exp(self.fair[token_in.symbol]) * 10**token_in.decimals)
        try:
            out = quote.quote_pool_base_in(ps.info, ps.coin, ps.pc, amount_in, sell_coin)
        except quote.RaydiumSwapError:
            return None
        priority = self.rng.randint(0, f.max_priority_micro_lamports) if f.max_priority_micro_lamports else 0
        tx = swap_transaction(
            pool, ps.info, trader, amount_in, sell_coin, min_out=out * (10_000 - f.slippage_bps) // 10_000,
            blockhash=blockhash, micro_lamports=priority,
        )
        # Assume the swap lands at the quote, so later trades this slot see the moved pool.
        if sell_coin:
            ps.coin, ps.pc = ps.coin + amount_in, ps.pc - out
        else:
            ps.pc, ps.coin = ps.pc + amount_in, ps.coin - out
        return tx


def swap_transaction(
    pool: RaydiumPool, info: raydium_amm.AmmInfo, trader: Trader, amount_in: int, coin_to_pc: bool, *,
    min_out: int, blockhash: Hash, micro_lamports: int = 0,
) -> Transaction:
    """A trader's signed SwapBaseIn (17-account form) on `pool`, with a compute budget."""
    source, dest = (pool.coin_symbol, pool.pc_symbol) if coin_to_pc else (pool.pc_symbol, pool.coin_symbol)
    swap = raydium_amm.swap_base_in(
        pool.address, info, pool.market_keys, trader.token_accounts[source], trader.token_accounts[dest],
        trader.pubkey, amount_in, min_out, program_id=pool.program,
    )
    ixs = [set_compute_unit_limit(SWAP_COMPUTE_UNITS)]
    if micro_lamports > 0:
        ixs.append(set_compute_unit_price(micro_lamports))
    ixs.append(swap)
    return Transaction([trader.keypair], Message(ixs, trader.pubkey), blockhash)


async def _get_accounts(client: AsyncClient, keys: list[Pubkey]) -> list:  # list[Account | None]
    out: list = []
    for i in range(0, len(keys), _MAX_ACCOUNTS_PER_CALL):
        resp = await client.get_multiple_accounts(keys[i : i + _MAX_ACCOUNTS_PER_CALL], Processed)
        out.extend(resp.value)
    return out


def _token_amount(acc: object) -> int:
    data = bytes(getattr(acc, "data", b""))
    return int.from_bytes(data[64:72], "little") if len(data) >= 72 else 0


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: the means here are small (a few trades per slot).
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def start_simulator(
    rpc_url: str, scenario: Scenario, flow: Flow | None = None, seed: int | None = None
) -> tuple[NoiseTraders, asyncio.Task[None]]:
    """The cluster CLI's hook: start noise traders in the running loop; `traders.stop()` ends them."""
    traders = NoiseTraders(rpc_url, scenario, flow, seed)
    # solana-py's HTTP client logs every request at INFO: thousands a minute from the traders alone.
    for name in ("httpx", "httpx2"):
        if logging.getLogger(name).level == logging.NOTSET:
            logging.getLogger(name).setLevel(logging.WARNING)
    return traders, asyncio.create_task(traders.run(), name="noise-traders")
