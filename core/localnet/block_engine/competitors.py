"""Competing searchers: they watch the same Raydium pools and bid real bundles on the same back-runs.

Each searcher has its own funded keypair. When the pools move, the engine asks them to act: the
opportunities (two-pool SOL → X → SOL cycles, sized exactly with the Raydium quoter) are the same
for everyone; each searcher spots each one with probability `skill`, after a reaction delay that
grows as skill drops, and bids a random share (around `aggressiveness`) of the profit as its tip.
Their bundles are signed transactions that go through the same sanitizer and auction as the
operator's, and fail atomically when someone else took the opportunity first.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from solders.account import Account
from solders.compute_budget import set_compute_unit_limit
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from core.localnet.accounts import set_token_account
from core.localnet.block_engine.config import CompetitorConfig
from core.localnet.cluster import Cluster
from core.protocols import ids, raydium_amm
from core.protocols.errors import DecodeError
from core.quote import raydium_amm as quote

log = logging.getLogger(__name__)

LAMPORTS_PER_SOL = 1_000_000_000
ARB_COMPUTE_UNITS = 180_000  # two Raydium swaps, a transfer and the budget instruction
SEARCHER_SOL = 1_000 * LAMPORTS_PER_SOL  # fees and tips
SEARCHER_WSOL = 5_000 * LAMPORTS_PER_SOL  # trading inventory
MIN_AMOUNT_IN = 10_000_000  # 0.01 SOL: smaller cycles are not worth a bundle
TX_FEE = 5_000


@dataclass(frozen=True)
class Pool:
    """A Raydium pool with SOL on one side, as a searcher tracks it."""

    address: Pubkey
    program: Pubkey
    info: raydium_amm.AmmInfo
    market: raydium_amm.MarketKeys
    sol_is_coin: bool
    other_mint: Pubkey
    coin_vault: Pubkey
    pc_vault: Pubkey


@dataclass(frozen=True)
class Opportunity:
    """Buy X with SOL on `buy`, sell it back on `sell`: `amount_in` lamports of wSOL → `sol_out`."""

    buy: Pool
    sell: Pool
    amount_in: int
    x_out: int
    sol_out: int

    @property
    def profit(self) -> int:
        return self.sol_out - self.amount_in

    @property
    def write_locks(self) -> frozenset[Pubkey]:
        return frozenset((self.buy.address, self.buy.coin_vault, self.buy.pc_vault,
                          self.sell.address, self.sell.coin_vault, self.sell.pc_vault))


@dataclass
class Searcher:
    name: str
    keypair: Keypair
    token_accounts: dict[Pubkey, Pubkey]  # mint -> its token account
    aggressiveness: float
    skill: float
    bids: int = 0
    pending: str | None = None  # its bundle still in the auction: it waits for that one's fate

    @property
    def pubkey(self) -> Pubkey:
        return self.keypair.pubkey()


def searcher_keypair(seed: int, index: int) -> Keypair:
    return Keypair.from_seed(hashlib.sha256(f"arbtui-localnet/searcher:{index}/{seed}".encode()).digest())


def sol_pools(cluster: Cluster) -> list[Pool]:
    """The scenario's Raydium pools that trade against SOL (wrapped)."""
    scenario = cluster.scenario
    out: list[Pool] = []
    for p in getattr(scenario, "raydium_pools", ()):
        if ids.NATIVE_MINT not in (p.coin_mint, p.pc_mint):
            continue
        account = cluster.svm.get_account(p.address)
        if account is None:
            continue
        try:
            info = raydium_amm.decode_amm_info(bytes(account.data), p.address)
        except DecodeError as exc:
            log.warning("searchers skip pool %s: %s", p.address, exc)
            continue
        sol_is_coin = p.coin_mint == ids.NATIVE_MINT
        out.append(Pool(p.address, p.program, info, p.market_keys, sol_is_coin,
                        p.pc_mint if sol_is_coin else p.coin_mint, p.coin_vault, p.pc_vault))
    return out


def _vault_amount(cluster: Cluster, vault: Pubkey) -> int:
    account = cluster.svm.get_account(vault)
    data = bytes(account.data) if account is not None else b""
    return int.from_bytes(data[64:72], "little") if len(data) >= 72 else 0


def _cycle_out(buy: Pool, buy_res: tuple[int, int], sell: Pool, sell_res: tuple[int, int],
               amount_in: int) -> tuple[int, int]:
    x_out = quote.quote_pool_base_in(buy.info, *buy_res, amount_in, buy.sol_is_coin)
    sol_out = quote.quote_pool_base_in(sell.info, *sell_res, x_out, not sell.sol_is_coin)
    return x_out, sol_out


def find_opportunities(cluster: Cluster, pools: list[Pool], max_in: int = SEARCHER_WSOL,
                       min_profit: int = 1) -> list[Opportunity]:
    """Every profitable two-pool cycle, sized to its best input (golden-section), best first."""
    reserves = {p.address: (_vault_amount(cluster, p.coin_vault), _vault_amount(cluster, p.pc_vault))
                for p in pools}
    found: list[Opportunity] = []
    for buy in pools:
        for sell in pools:
            if buy.address == sell.address or buy.other_mint != sell.other_mint:
                continue
            opp = _size_cycle(buy, reserves[buy.address], sell, reserves[sell.address], max_in)
            if opp is not None and opp.profit >= min_profit:
                found.append(opp)
    found.sort(key=lambda o: -o.profit)
    return found


def _size_cycle(buy: Pool, buy_res: tuple[int, int], sell: Pool, sell_res: tuple[int, int],
                max_in: int) -> Opportunity | None:
    def profit(amount: int) -> int:
        try:
            _, sol_out = _cycle_out(buy, buy_res, sell, sell_res, amount)
        except quote.RaydiumSwapError:
            return -amount
        return sol_out - amount

    if profit(MIN_AMOUNT_IN) <= 0:
        return None  # the cycle's profit is concave in the input: none at the start, none at all
    lo, hi = MIN_AMOUNT_IN, max(MIN_AMOUNT_IN, min(max_in, buy_res[0 if buy.sol_is_coin else 1] // 4))
    ratio = 0.381966
    while hi - lo > 1_000:
        a = lo + int((hi - lo) * ratio)
        b = hi - int((hi - lo) * ratio)
        if profit(a) < profit(b):
            lo = a
        else:
            hi = b
    best = max(range(lo, hi + 1, max(1, (hi - lo) // 8)), key=profit)
    try:
        x_out, sol_out = _cycle_out(buy, buy_res, sell, sell_res, best)
    except quote.RaydiumSwapError:
        return None
    return Opportunity(buy, sell, best, x_out, sol_out)


def arb_transaction(payer: Keypair, token_accounts: dict[Pubkey, Pubkey], opp: Opportunity, tip: int,
                    tip_account: Pubkey, blockhash: Hash) -> VersionedTransaction:
    """One signed transaction: both swaps (the second must return the input plus the tip) and the tip."""
    owner = payer.pubkey()
    wsol = token_accounts[ids.NATIVE_MINT]
    x = token_accounts[opp.buy.other_mint]
    leg1 = raydium_amm.swap_base_in(opp.buy.address, opp.buy.info, opp.buy.market, wsol, x, owner,
                                    opp.amount_in, opp.x_out, program_id=opp.buy.program)
    leg2 = raydium_amm.swap_base_in(opp.sell.address, opp.sell.info, opp.sell.market, x, wsol, owner,
                                    opp.x_out, opp.amount_in + tip + TX_FEE, program_id=opp.sell.program)
    tip_ix = transfer(TransferParams(from_pubkey=owner, to_pubkey=tip_account, lamports=tip))
    message = MessageV0.try_compile(owner, [set_compute_unit_limit(ARB_COMPUTE_UNITS), leg1, leg2, tip_ix],
                                    [], blockhash)
    return VersionedTransaction(message, [payer])


def fund_searcher(cluster: Cluster, keypair: Keypair, pools: list[Pool]) -> dict[Pubkey, Pubkey]:
    """Give `keypair` SOL, a wSOL account with SEARCHER_WSOL and an empty account per pool token.

    Written straight into the SVM (as genesis funds its holders); returns mint -> token account.
    """
    svm = cluster.svm
    owner = keypair.pubkey()
    svm.set_account(owner, Account(SEARCHER_SOL, b"", ids.SYSTEM_PROGRAM, False, 0))
    accounts: dict[Pubkey, Pubkey] = {}
    for mint in sorted({ids.NATIVE_MINT} | {p.other_mint for p in pools}, key=bytes):
        address = Pubkey.create_with_seed(owner, f"tok{bytes(mint)[:4].hex()}", ids.TOKEN_PROGRAM)
        set_token_account(svm, address, mint, owner, SEARCHER_WSOL if mint == ids.NATIVE_MINT else 0)
        accounts[mint] = address
    return accounts


# submit(txs, source, delay_s): hand a bundle to the engine, arriving `delay_s` from now.
Submit = Callable[[list[VersionedTransaction], str, float], str]


class Competitors:
    def __init__(self, cluster: Cluster, config: CompetitorConfig, submit: Submit,
                 in_auction: Callable[[str], bool] = lambda bundle_id: False) -> None:
        self.cluster = cluster
        self.config = config
        self.submit = submit
        self.in_auction = in_auction
        self.rng = random.Random(config.seed)
        self.pools: list[Pool] = []
        self.searchers: list[Searcher] = []
        self.watched: frozenset[Pubkey] = frozenset()
        self.bids = 0
        self.send_errors = 0

    def start(self) -> None:
        """Find the SOL pools and fund every searcher (SOL, wSOL and an empty account per token)."""
        self.pools = sol_pools(self.cluster)
        self.watched = frozenset(k for p in self.pools for k in (p.coin_vault, p.pc_vault))
        for i in range(self.config.count):
            kp = searcher_keypair(self.config.seed, i)
            accounts = fund_searcher(self.cluster, kp, self.pools)
            # Spread around the configured means so the searchers differ from each other.
            aggressiveness = min(0.95, max(0.05, self.rng.gauss(self.config.aggressiveness, 0.1)))
            skill = min(1.0, max(0.05, self.rng.gauss(self.config.skill, 0.1)))
            self.searchers.append(Searcher(f"searcher-{i}", kp, accounts, aggressiveness, skill))

    def act(self) -> list[str]:
        """Look at the pools now; every searcher that spots an opportunity bids on it."""
        if not self.searchers or not self.pools:
            return []
        opportunities = find_opportunities(self.cluster, self.pools, SEARCHER_WSOL,
                                           self.config.min_profit_lamports)
        if not opportunities:
            return []
        blockhash = self.cluster.svm.latest_blockhash()
        sent: list[str] = []
        for searcher in self.searchers:
            if searcher.pending is not None and self.in_auction(searcher.pending):
                continue
            searcher.pending = None
            for opp in opportunities:
                if self.rng.random() >= searcher.skill:
                    continue
                share = min(0.95, max(0.02, self.rng.gauss(searcher.aggressiveness, 0.15)))
                tip = max(1_000, int(opp.profit * share))
                if tip + TX_FEE >= opp.profit:
                    continue
                tx = arb_transaction(searcher.keypair, searcher.token_accounts, opp, tip,
                                     self.rng.choice(ids.JITO_TIP_ACCOUNTS), blockhash)
                delay_s = self.config.reaction_ms / searcher.skill / 1000.0 * self.rng.uniform(0.5, 1.5)
                try:
                    searcher.pending = self.submit([tx], searcher.name, delay_s)
                    sent.append(searcher.pending)
                except Exception as exc:  # a sanitizer refusal: the searcher just misses this one
                    self.send_errors += 1
                    log.debug("%s: bundle refused: %s", searcher.name, exc)
                    continue
                searcher.bids += 1
                self.bids += 1
                break  # one bundle per searcher per look: its inventory backs one cycle at a time
        return sent
