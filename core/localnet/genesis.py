"""The local cluster's genesis: a deterministic market written straight into LiteSVM accounts.

Everything is derived from the seed: prices and depths from `random.Random(seed)`, every address
from a keypair whose secret is `sha256(f"arbtui-localnet:{seed}:{name}")`, so the same seed gives the
same accounts byte for byte and a ledger recorded against it can be replayed. The one exception is
the operator wallet when a store dir is given: it is the console's own localnet keypair.

Each protocol's state comes from one function (`_genesis_raydium`, `_genesis_solend`, ...), so a new
protocol adds one function and one field on `Scenario`.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from solders.account import Account
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from spl.token.instructions import get_associated_token_address

from core.keypair import generate_localnet_keypair
from core.localnet.accounts import (
    seeded_address,
    seeded_keypair,
    set_data_account,
    set_mint,
    set_tip_accounts,
    set_token_account,
)
from core.localnet.genesis_kamino import add_kamino
from core.localnet.genesis_marginfi import add_marginfi
from core.localnet.genesis_whirlpool import WhirlpoolPool, add_whirlpools
from core.protocols import ids, raydium_amm, solend

LAMPORTS_PER_SOL = 1_000_000_000
OPENBOOK_PROGRAM = Pubkey.from_string("srmqPvymJeFKQ4zGQed1GFppgkRHL9kaELCbyksJtPX")

# Sizes of the placeholder accounts a Raydium v4 pool points at (OpenBook OpenOrders / Market,
# Raydium TargetOrders); the emulator reads none of them, mainnet clients only check they exist.
_OPEN_ORDERS_LEN = 3228
_MARKET_LEN = 388
_TARGET_ORDERS_LEN = 2208


def associated_token_address(owner: Pubkey, mint: Pubkey) -> Pubkey:
    return get_associated_token_address(owner, mint, ids.TOKEN_PROGRAM)


# ----------------------------------------------------------------------------------------------
# What the scenario holds.


@dataclass(frozen=True)
class Token:
    symbol: str
    mint: Pubkey
    decimals: int
    usd_price: float


@dataclass(frozen=True)
class RaydiumPool:
    address: Pubkey
    program: Pubkey
    coin_symbol: str
    pc_symbol: str
    coin_mint: Pubkey
    pc_mint: Pubkey
    coin_vault: Pubkey
    pc_vault: Pubkey
    authority: Pubkey
    nonce: int
    lp_mint: Pubkey
    open_orders: Pubkey
    target_orders: Pubkey
    market_program: Pubkey
    market: Pubkey
    market_bids: Pubkey
    market_asks: Pubkey
    market_event_queue: Pubkey
    market_coin_vault: Pubkey
    market_pc_vault: Pubkey
    market_vault_signer: Pubkey
    fee_numerator: int
    fee_denominator: int

    @property
    def market_keys(self) -> raydium_amm.MarketKeys:
        return raydium_amm.MarketKeys(
            bids=self.market_bids, asks=self.market_asks, event_queue=self.market_event_queue,
            coin_vault=self.market_coin_vault, pc_vault=self.market_pc_vault,
            vault_signer=self.market_vault_signer,
        )


@dataclass(frozen=True)
class SolendReserve:
    address: Pubkey
    symbol: str
    lending_market: Pubkey
    lending_market_authority: Pubkey
    liquidity_mint: Pubkey
    liquidity_supply: Pubkey
    fee_receiver: Pubkey
    collateral_mint: Pubkey
    collateral_supply: Pubkey
    available_amount: int
    flash_loan_fee_wad: int
    host_fee_percentage: int


@dataclass(frozen=True)
class Trader:
    """A noise trader: its keypair and one token account per scenario token (ATAs)."""

    keypair: Keypair
    token_accounts: dict[str, Pubkey]  # symbol -> ATA

    @property
    def pubkey(self) -> Pubkey:
        return self.keypair.pubkey()


@dataclass(frozen=True)
class Scenario:
    seed: int
    tokens: tuple[Token, ...]
    raydium_pools: tuple[RaydiumPool, ...]
    solend_reserves: tuple[SolendReserve, ...]
    wallet: Pubkey
    wallet_keypair_path: Path | None
    wallet_token_accounts: dict[str, Pubkey]
    traders: tuple[Trader, ...]
    whirlpools: tuple[WhirlpoolPool, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def token(self, symbol: str) -> Token:
        for t in self.tokens:
            if t.symbol == symbol:
                return t
        raise KeyError(symbol)

    def token_by_mint(self, mint: Pubkey) -> Token:
        for t in self.tokens:
            if t.mint == mint:
                return t
        raise KeyError(str(mint))

    def to_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, Pubkey | Path):
                return str(value)
            if isinstance(value, Keypair):
                return str(value.pubkey())
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [plain(v) for v in value]
            return value

        return {
            "seed": self.seed,
            "tokens": [plain(asdict(t)) for t in self.tokens],
            "raydium_pools": [plain(asdict(p)) for p in self.raydium_pools],
            "solend_reserves": [plain(asdict(r)) for r in self.solend_reserves],
            "whirlpools": [plain(asdict(w)) for w in self.whirlpools],
            "wallet": str(self.wallet),
            "wallet_keypair_path": plain(self.wallet_keypair_path),
            "wallet_token_accounts": plain(self.wallet_token_accounts),
            # Public keys only: trader secrets are re-derived from the seed by whoever needs them.
            "traders": [{"pubkey": str(t.pubkey), "token_accounts": plain(t.token_accounts)}
                        for t in self.traders],
            "extra": plain(self.extra),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


# ----------------------------------------------------------------------------------------------
# The market: tokens, prices and pool depths.

# symbol, mint (None: seeded address), decimals, price range in USD.
_TOKENS: tuple[tuple[str, Pubkey | None, int, tuple[float, float]], ...] = (
    ("SOL", ids.NATIVE_MINT, 9, (150.0, 250.0)),
    ("USDC", ids.USDC_MINT, 6, (1.0, 1.0)),
    ("USDT", ids.USDT_MINT, 6, (0.9995, 1.0005)),
    ("mSOL", None, 9, (0.0, 0.0)),  # priced off SOL below (a staking-derivative premium)
    ("BONK", None, 5, (0.000015, 0.000035)),
    ("JUP", None, 6, (0.6, 1.4)),
    ("RAY", None, 6, (1.5, 4.0)),
    ("WIF", None, 6, (1.0, 3.0)),
)

# coin, pc, USD depth per side of each pool sharing the pair (several pools per pair make cycles).
_RAYDIUM_PAIRS: tuple[tuple[str, str, tuple[float, ...]], ...] = (
    ("SOL", "USDC", (5_000_000, 2_000_000, 800_000)),
    ("SOL", "USDT", (1_500_000, 400_000)),
    ("USDT", "USDC", (3_000_000, 1_000_000)),
    ("mSOL", "SOL", (2_000_000, 600_000)),
    ("mSOL", "USDC", (700_000,)),
    ("BONK", "SOL", (1_000_000, 300_000)),
    ("BONK", "USDC", (500_000,)),
    ("JUP", "USDC", (1_200_000, 400_000)),
    ("JUP", "SOL", (500_000,)),
    ("RAY", "USDC", (1_000_000, 300_000)),
    ("RAY", "SOL", (600_000,)),
    ("WIF", "SOL", (1_500_000, 500_000)),
    ("WIF", "USDC", (800_000,)),
)

# Pools quote within this fraction of the true price of their pair at genesis.
POOL_PRICE_SPREAD = 0.004
RAYDIUM_FEE = (25, 10_000)

# Solend main pool: symbol, liquidity in USD, flash-loan fee wad (0.05 %), host fee percent.
_SOLEND_RESERVES: tuple[tuple[str, float], ...] = (("USDC", 20_000_000), ("SOL", 15_000_000),
                                                   ("USDT", 5_000_000))
SOLEND_FLASH_LOAN_FEE_WAD = 500_000_000_000_000
SOLEND_HOST_FEE_PERCENTAGE = 20

NOISE_TRADERS = 8
TRADER_SOL = 10_000  # lamports for fees, in SOL
TRADER_USD_PER_TOKEN = 1_000_000
WALLET_SOL = 100
WALLET_USDC = 100_000
WALLET_WSOL = 50


def _tokens(seed: int, rng: random.Random) -> tuple[Token, ...]:
    out: list[Token] = []
    sol_price = 0.0
    for symbol, mint, decimals, (lo, hi) in _TOKENS:
        if symbol == "mSOL":
            price = sol_price * rng.uniform(1.20, 1.32)
        else:
            price = lo if lo == hi else rng.uniform(lo, hi)
        if symbol == "SOL":
            sol_price = price
        out.append(Token(symbol, mint or seeded_address(seed, f"mint:{symbol}"), decimals, price))
    return tuple(out)


class _Supply:
    """Tracks what genesis hands out per mint, so each mint's supply matches its holders."""

    def __init__(self) -> None:
        self.by_mint: dict[Pubkey, int] = {}

    def token_account(self, svm: LiteSVM, address: Pubkey, mint: Pubkey, owner: Pubkey, amount: int) -> None:
        set_token_account(svm, address, mint, owner, amount)
        self.by_mint[mint] = self.by_mint.get(mint, 0) + amount


def _units(token: Token, usd: float) -> int:
    return int(usd / token.usd_price * 10**token.decimals)


# ----------------------------------------------------------------------------------------------
# One function per protocol.


def _genesis_raydium(
    svm: LiteSVM, seed: int, rng: random.Random, tokens: dict[str, Token], supply: _Supply
) -> tuple[RaydiumPool, ...]:
    program = ids.RAYDIUM_AMM_V4
    authority, nonce = Pubkey.find_program_address([raydium_amm.AUTHORITY_AMM_SEED], program)
    amm_owner = seeded_address(seed, "raydium:amm_owner")
    pools: list[RaydiumPool] = []
    for coin_symbol, pc_symbol, depths in _RAYDIUM_PAIRS:
        coin, pc = tokens[coin_symbol], tokens[pc_symbol]
        for i, depth in enumerate(depths):
            name = f"raydium:{coin_symbol}-{pc_symbol}:{i}"
            usd = depth * rng.uniform(0.7, 1.3)
            offset = rng.uniform(-POOL_PRICE_SPREAD, POOL_PRICE_SPREAD)
            coin_amount = _units(coin, usd)
            pc_amount = _units(pc, usd * (1 + offset))
            pool = RaydiumPool(
                address=seeded_address(seed, name), program=program, coin_symbol=coin_symbol,
                pc_symbol=pc_symbol, coin_mint=coin.mint, pc_mint=pc.mint,
                coin_vault=seeded_address(seed, f"{name}:coin_vault"),
                pc_vault=seeded_address(seed, f"{name}:pc_vault"),
                authority=authority, nonce=nonce, lp_mint=seeded_address(seed, f"{name}:lp_mint"),
                open_orders=seeded_address(seed, f"{name}:open_orders"),
                target_orders=seeded_address(seed, f"{name}:target_orders"),
                market_program=OPENBOOK_PROGRAM, market=seeded_address(seed, f"{name}:market"),
                market_bids=seeded_address(seed, f"{name}:bids"),
                market_asks=seeded_address(seed, f"{name}:asks"),
                market_event_queue=seeded_address(seed, f"{name}:event_queue"),
                market_coin_vault=seeded_address(seed, f"{name}:market_coin_vault"),
                market_pc_vault=seeded_address(seed, f"{name}:market_pc_vault"),
                market_vault_signer=seeded_address(seed, f"{name}:vault_signer"),
                fee_numerator=RAYDIUM_FEE[0], fee_denominator=RAYDIUM_FEE[1],
            )
            lp_amount = math.isqrt(coin_amount * pc_amount)
            set_data_account(svm, pool.address, program, raydium_amm.encode_amm_info(
                _amm_info(pool, coin, pc, amm_owner, lp_amount)))
            supply.token_account(svm, pool.coin_vault, coin.mint, authority, coin_amount)
            supply.token_account(svm, pool.pc_vault, pc.mint, authority, pc_amount)
            set_mint(svm, pool.lp_mint, coin.decimals, supply=lp_amount, authority=authority)
            set_data_account(svm, pool.open_orders, OPENBOOK_PROGRAM, bytes(_OPEN_ORDERS_LEN))
            set_data_account(svm, pool.market, OPENBOOK_PROGRAM, bytes(_MARKET_LEN))
            set_data_account(svm, pool.target_orders, program, bytes(_TARGET_ORDERS_LEN))
            pools.append(pool)
    return tuple(pools)


def _amm_info(
    pool: RaydiumPool, coin: Token, pc: Token, amm_owner: Pubkey, lp_amount: int
) -> raydium_amm.AmmInfo:
    # Misc fields as the live SOL/USDC pool holds them; the swap path reads status, nonce,
    # fees, need_take_pnl and the vault/mint keys.
    return raydium_amm.AmmInfo(
        status=raydium_amm.AmmStatus.SWAP_ONLY, nonce=pool.nonce, order_num=7, depth=3,
        coin_decimals=coin.decimals, pc_decimals=pc.decimals, state=2, reset_flag=0,
        min_size=10 ** max(coin.decimals - 3, 0), vol_max_cut_ratio=500, amount_wave=0,
        coin_lot_size=10 ** max(coin.decimals - 3, 0), pc_lot_size=10 ** max(pc.decimals - 3, 0),
        min_price_multiplier=1, max_price_multiplier=1_000_000_000, sys_decimal_value=10**coin.decimals,
        fees=raydium_amm.Fees(
            min_separate_numerator=5, min_separate_denominator=10_000,
            trade_fee_numerator=pool.fee_numerator, trade_fee_denominator=pool.fee_denominator,
            pnl_numerator=12, pnl_denominator=100,
            swap_fee_numerator=pool.fee_numerator, swap_fee_denominator=pool.fee_denominator,
        ),
        state_data=raydium_amm.StateData(
            need_take_pnl_coin=0, need_take_pnl_pc=0, total_pnl_pc=0, total_pnl_coin=0, pool_open_time=0,
            padding=(0, 0), orderbook_to_init_time=0, swap_coin_in_amount=0, swap_pc_out_amount=0,
            swap_acc_pc_fee=0, swap_pc_in_amount=0, swap_coin_out_amount=0, swap_acc_coin_fee=0,
        ),
        coin_vault=pool.coin_vault, pc_vault=pool.pc_vault, coin_vault_mint=coin.mint,
        pc_vault_mint=pc.mint, lp_mint=pool.lp_mint, open_orders=pool.open_orders, market=pool.market,
        market_program=pool.market_program, target_orders=pool.target_orders, padding1=(0,) * 8,
        amm_owner=amm_owner, lp_amount=lp_amount, client_order_id=0, recent_epoch=0, padding2=0,
    )


def _genesis_solend(
    svm: LiteSVM, seed: int, tokens: dict[str, Token], supply: _Supply
) -> tuple[SolendReserve, ...]:
    program = ids.SOLEND
    market = seeded_address(seed, "solend:lending_market")
    authority, bump = solend.lending_market_authority(market, program)
    owner = seeded_address(seed, "solend:owner")
    set_data_account(svm, market, program, solend.encode_lending_market(
        solend.LendingMarket(bump_seed=bump, owner=owner)))
    reserves: list[SolendReserve] = []
    for symbol, usd in _SOLEND_RESERVES:
        token = tokens[symbol]
        name = f"solend:{symbol}"
        amount = _units(token, usd)
        r = SolendReserve(
            address=seeded_address(seed, f"{name}:reserve"), symbol=symbol, lending_market=market,
            lending_market_authority=authority, liquidity_mint=token.mint,
            liquidity_supply=seeded_address(seed, f"{name}:liquidity_supply"),
            fee_receiver=seeded_address(seed, f"{name}:fee_receiver"),
            collateral_mint=seeded_address(seed, f"{name}:collateral_mint"),
            collateral_supply=seeded_address(seed, f"{name}:collateral_supply"),
            available_amount=amount, flash_loan_fee_wad=SOLEND_FLASH_LOAN_FEE_WAD,
            host_fee_percentage=SOLEND_HOST_FEE_PERCENTAGE,
        )
        supply.token_account(svm, r.liquidity_supply, token.mint, authority, amount)
        supply.token_account(svm, r.fee_receiver, token.mint, owner, 0)
        # cTokens at the initial 1:1 exchange rate, all held by depositors (not modelled).
        set_mint(svm, r.collateral_mint, token.decimals, supply=amount, authority=authority)
        set_token_account(svm, r.collateral_supply, r.collateral_mint, authority, 0)
        price_wad = int(token.usd_price * 10**6) * 10**12
        set_data_account(svm, r.address, program, solend.encode_reserve(solend.Reserve(
            lending_market=market, liquidity_mint_pubkey=token.mint,
            liquidity_supply_pubkey=r.liquidity_supply,
            fee_receiver=r.fee_receiver, liquidity_mint_decimals=token.decimals, available_amount=amount,
            market_price=price_wad, smoothed_market_price=price_wad, collateral_mint_pubkey=r.collateral_mint,
            collateral_mint_total_supply=amount, collateral_supply_pubkey=r.collateral_supply,
            optimal_utilization_rate=80, loan_to_value_ratio=75, liquidation_bonus=5,
            liquidation_threshold=80, min_borrow_rate=0, optimal_borrow_rate=8, max_borrow_rate=50,
            borrow_fee_wad=10**14, flash_loan_fee_wad=r.flash_loan_fee_wad,
            host_fee_percentage=r.host_fee_percentage, protocol_liquidation_fee=30, protocol_take_rate=10,
            max_utilization_rate=100, max_liquidation_bonus=5, max_liquidation_threshold=85,
        )))
        reserves.append(r)
    return tuple(reserves)


def _genesis_whirlpool(
    svm: LiteSVM, seed: int, tokens: tuple[Token, ...], supply: _Supply
) -> tuple[WhirlpoolPool, ...]:
    # Its own random stream, so adding Whirlpools left every Raydium pool of a seed where it was.
    rng = random.Random(f"{seed}:whirlpool")
    return add_whirlpools(svm, rng, tokens, seed=seed, set_token_account=supply.token_account)


def _fund_holder(
    svm: LiteSVM, owner: Pubkey, lamports: int, balances: dict[str, int], tokens: dict[str, Token],
    supply: _Supply,
) -> dict[str, Pubkey]:
    """SOL for fees plus one ATA per listed token (wSOL included) holding `balances` (base units)."""
    # set_account, not airdrop: LiteSVM's airdrop signs with a random faucet key, which would make
    # genesis differ between runs.
    svm.set_account(owner, Account(lamports=lamports, data=b"", owner=ids.SYSTEM_PROGRAM,
                                   executable=False, rent_epoch=0))
    atas: dict[str, Pubkey] = {}
    for symbol, amount in balances.items():
        ata = associated_token_address(owner, tokens[symbol].mint)
        supply.token_account(svm, ata, tokens[symbol].mint, owner, amount)
        atas[symbol] = ata
    return atas


# ----------------------------------------------------------------------------------------------
# The operator wallet.


def operator_keypair(seed: int, store_dir: Path | None) -> tuple[Keypair, Path | None]:
    """The console's localnet keypair (created 0600 in the store dir on first use), else a seeded one."""
    if store_dir is None:
        return seeded_keypair(seed, "operator"), None
    path = generate_localnet_keypair(Path(store_dir))
    return Keypair.from_bytes(bytes(json.loads(path.read_text()))), path


def trader_keypair(seed: int, index: int) -> Keypair:
    return seeded_keypair(seed, f"trader:{index}")


# ----------------------------------------------------------------------------------------------


def build_genesis(svm: LiteSVM, seed: int, store_dir: Path | None = None) -> Scenario:
    """Write the whole scenario for `seed` into `svm` and describe it."""
    rng = random.Random(seed)
    token_list = _tokens(seed, rng)
    tokens = {t.symbol: t for t in token_list}
    supply = _Supply()

    pools = _genesis_raydium(svm, seed, rng, tokens, supply)
    reserves = _genesis_solend(svm, seed, tokens, supply)
    whirlpools = _genesis_whirlpool(svm, seed, token_list, supply)
    kamino = add_kamino(svm, seed, token_list, supply.token_account)

    operator, keypair_path = operator_keypair(seed, store_dir)
    marginfi = add_marginfi(svm, seed, token_list, supply.token_account, operator=operator.pubkey())
    # Every token gets its ATA (empty but for USDC and wrapped SOL), as a wallet that trades has.
    wallet_balances = {t.symbol: 0 for t in token_list}
    wallet_balances |= {"USDC": WALLET_USDC * 10**6, "SOL": WALLET_WSOL * LAMPORTS_PER_SOL}
    wallet_atas = _fund_holder(svm, operator.pubkey(), WALLET_SOL * LAMPORTS_PER_SOL, wallet_balances, tokens,
                               supply)
    traders: list[Trader] = []
    for i in range(NOISE_TRADERS):
        kp = trader_keypair(seed, i)
        balances = {t.symbol: _units(t, TRADER_USD_PER_TOKEN) for t in token_list}
        atas = _fund_holder(svm, kp.pubkey(), TRADER_SOL * LAMPORTS_PER_SOL, balances, tokens, supply)
        traders.append(Trader(kp, atas))

    # Mainnet's tip accounts, so tips and simulateBundle work without the block engine running.
    set_tip_accounts(svm)

    mint_authority = seeded_address(seed, "mint_authority")
    for t in token_list:
        if t.mint == ids.NATIVE_MINT:
            # As on mainnet: no authority, supply 0 (wrapped SOL is backed by lamports, not minted).
            set_mint(svm, t.mint, t.decimals)
        else:
            set_mint(svm, t.mint, t.decimals, supply=supply.by_mint.get(t.mint, 0), authority=mint_authority)

    return Scenario(
        seed=seed, tokens=token_list, raydium_pools=pools, solend_reserves=reserves,
        wallet=operator.pubkey(), wallet_keypair_path=keypair_path, wallet_token_accounts=wallet_atas,
        traders=tuple(traders), whirlpools=whirlpools, extra={"kamino": kamino, "marginfi": marginfi},
    )


__all__ = [
    "LAMPORTS_PER_SOL",
    "OPENBOOK_PROGRAM",
    "RaydiumPool",
    "Scenario",
    "SolendReserve",
    "Token",
    "Trader",
    "associated_token_address",
    "build_genesis",
    "operator_keypair",
    "trader_keypair",
]
