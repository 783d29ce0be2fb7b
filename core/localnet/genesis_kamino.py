"""Kamino (klend) in the local cluster's genesis: one lending market with USDC and SOL reserves.

The reserves are written as klend lays them out (core/protocols/kamino.py) with their supply vaults
funded and owned by the market authority PDA `["lma", market]`, so the emulator's PDA-signed
transfer out of the vault is accepted by SPL Token. No debt and a borrow curve at 0 % for 0 %
utilisation, so a flash borrow's refresh changes nothing but the slot (see kamino.c).

The scenario carries the addresses as plain values under `Scenario.extra["kamino"]` (JSON-ready);
`kamino_reserves(scenario_or_dict)` turns them back into typed `KaminoReserve`s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey

from core.localnet import accounts
from core.localnet.accounts import SetTokenAccount, TokenLike
from core.protocols import ids, kamino

# symbol, liquidity in USD. The flash-loan fee is the mainnet USDC reserve's (0.001 %).
DEFAULT_RESERVES: tuple[tuple[str, float], ...] = (("USDC", 25_000_000), ("SOL", 12_000_000))
FLASH_LOAN_FEE_SF = 11_529_215_046_068
# 0 % at 0 % utilisation (so an idle reserve accrues nothing), 8 % at 80 %, 50 % at 100 %.
BORROW_RATE_CURVE: tuple[tuple[int, int], ...] = ((0, 0), (8_000, 800)) + ((10_000, 5_000),) * 9


@dataclass(frozen=True)
class KaminoReserve:
    """One genesis reserve: everything a flash loan against it needs."""

    address: Pubkey
    symbol: str
    lending_market: Pubkey
    lending_market_authority: Pubkey
    liquidity_mint: Pubkey
    supply_vault: Pubkey
    fee_vault: Pubkey
    collateral_mint: Pubkey
    collateral_supply_vault: Pubkey
    available_amount: int
    flash_loan_fee_sf: int
    token_program: Pubkey = ids.TOKEN_PROGRAM


def add_kamino(
    svm: LiteSVM,
    seed: int,
    tokens: Sequence[TokenLike],
    set_token_account: SetTokenAccount = accounts.set_token_account,
    *,
    reserves: Sequence[tuple[str, float]] = DEFAULT_RESERVES,
    address_for: Callable[[str], Pubkey] | None = None,
) -> dict[str, Any]:
    """Write the Kamino market and its reserves into `svm`; returns `Scenario.extra["kamino"]`.

    Pass genesis's `supply.token_account` as `set_token_account` so mint supplies count the vaults;
    mints must exist or be written afterwards. Symbols missing from `tokens` are skipped.
    """
    address_of = address_for or (lambda name: accounts.seeded_address(seed, name))
    program = ids.KAMINO_LEND
    market = address_of("kamino:lending_market")
    authority, bump = kamino.lending_market_authority(market, program)
    market_state = kamino.LendingMarket(bump_seed=bump, lending_market_owner=address_of("kamino:owner"))
    accounts.set_data_account(svm, market, program, kamino.encode_lending_market(market_state))
    by_symbol = {t.symbol: t for t in tokens}
    out: list[KaminoReserve] = []
    for symbol, usd in reserves:
        token = by_symbol.get(symbol)
        if token is None:
            continue
        name = f"kamino:{symbol}"
        amount = int(usd / token.usd_price * 10**token.decimals)
        r = KaminoReserve(
            address=address_of(f"{name}:reserve"), symbol=symbol, lending_market=market,
            lending_market_authority=authority, liquidity_mint=token.mint,
            supply_vault=address_of(f"{name}:supply_vault"), fee_vault=address_of(f"{name}:fee_vault"),
            collateral_mint=address_of(f"{name}:collateral_mint"),
            collateral_supply_vault=address_of(f"{name}:collateral_supply_vault"),
            available_amount=amount, flash_loan_fee_sf=FLASH_LOAN_FEE_SF,
        )
        set_token_account(svm, r.supply_vault, token.mint, authority, amount)
        set_token_account(svm, r.fee_vault, token.mint, authority, 0)
        # cTokens at the initial 1:1 rate, all held by depositors (not modelled).
        accounts.set_mint(svm, r.collateral_mint, token.decimals, supply=amount, authority=authority)
        accounts.set_token_account(svm, r.collateral_supply_vault, r.collateral_mint, authority, 0)
        accounts.set_data_account(svm, r.address, program, kamino.encode_reserve(kamino.Reserve(
            lending_market=market, liquidity_mint_pubkey=token.mint, liquidity_supply_vault=r.supply_vault,
            liquidity_fee_vault=r.fee_vault, liquidity_total_available_amount=amount,
            liquidity_market_price_sf=int(token.usd_price * kamino.FRACTION_ONE),
            liquidity_mint_decimals=token.decimals, liquidity_token_program=r.token_program,
            collateral_mint_pubkey=r.collateral_mint, collateral_mint_total_supply=amount,
            collateral_supply_vault=r.collateral_supply_vault, config_protocol_take_rate_pct=10,
            config_loan_to_value_pct=75, config_liquidation_threshold_pct=85,
            config_flash_loan_fee_sf=r.flash_loan_fee_sf, config_borrow_rate_curve=BORROW_RATE_CURVE,
            config_token_info_name=symbol.encode().ljust(32, b"\0"),
        )))
        out.append(r)
    return {"lending_market": market, "lending_market_authority": authority,
            "reserves": [asdict(r) for r in out]}


def kamino_reserves(source: Any) -> tuple[KaminoReserve, ...]:
    """The genesis reserves from a Scenario, its `to_dict()`, or `extra["kamino"]` itself."""
    extra: Any = getattr(source, "extra", source)
    if isinstance(extra, Mapping) and "extra" in extra:  # Scenario.to_dict()
        extra = extra["extra"]
    if isinstance(extra, Mapping) and "kamino" in extra:
        extra = extra["kamino"]
    if not isinstance(extra, Mapping):
        return ()
    keys = {"address", "lending_market", "lending_market_authority", "liquidity_mint", "supply_vault",
            "fee_vault", "collateral_mint", "collateral_supply_vault", "token_program"}
    out = []
    for raw in extra.get("reserves", ()):
        values = {k: Pubkey.from_string(v) if k in keys and isinstance(v, str) else v
                  for k, v in raw.items()}
        out.append(KaminoReserve(**values))
    return tuple(out)
