"""MarginFi v2 in the local cluster's genesis: one group, USDC and SOL banks, the operator's account.

Each bank is written as the program lays it out (core/protocols/marginfi.py): its liquidity vault
at the real PDA `["liquidity_vault", bank]`, owned by `["liquidity_vault_auth", bank]` and funded
with the bank's deposits (asset shares at a share value of 1.0, no debt), so the emulator's
PDA-signed transfer out of the vault is accepted by SPL Token. Flash loans are free, as on
mainnet banks without a `protocol_origination_fee`. Each bank points at a Pyth PriceUpdateV2
account at genesis prices; the flash path never reads it (repay_all closes the balance before
the end's health check), and nothing refreshes it, so it goes stale after `ORACLE_MAX_AGE`.

The operator wallet gets its MarginfiAccount here, so the one-time `marginfi_account_initialize`
is already done on the local cluster. The addresses travel as plain values under
`Scenario.extra["marginfi"]`; `marginfi_banks(...)` / `marginfi_account(...)` read them back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey

from core.localnet import accounts
from core.localnet.accounts import SetTokenAccount, TokenLike
from core.protocols import ids
from core.protocols import marginfi as mf

# symbol, deposits in USD, (asset weight init, liability weight init).
DEFAULT_BANKS: tuple[tuple[str, float, tuple[float, float]], ...] = (
    ("USDC", 30_000_000, (0.9, 1.0)),
    ("SOL", 20_000_000, (0.8, 1.25)),
)
ORACLE_MAX_AGE = 300
PRICE_EXPONENT = -8


@dataclass(frozen=True)
class MarginfiBank:
    """One genesis bank: everything a flash loan against it needs."""

    address: Pubkey
    symbol: str
    group: Pubkey
    mint: Pubkey
    liquidity_vault: Pubkey
    liquidity_vault_authority: Pubkey
    oracle: Pubkey
    deposits: int
    token_program: Pubkey = ids.TOKEN_PROGRAM


def add_marginfi(
    svm: LiteSVM,
    seed: int,
    tokens: Sequence[TokenLike],
    set_token_account: SetTokenAccount = accounts.set_token_account,
    *,
    operator: Pubkey,
    banks: Sequence[tuple[str, float, tuple[float, float]]] = DEFAULT_BANKS,
    address_for: Callable[[str], Pubkey] | None = None,
) -> dict[str, Any]:
    """Write the MarginFi group, its banks and `operator`'s MarginfiAccount into `svm`; returns
    `Scenario.extra["marginfi"]`.

    Pass genesis's `supply.token_account` as `set_token_account` so mint supplies count the
    vaults; mints must exist or be written afterwards. Symbols missing from `tokens` are skipped.
    """
    address_of = address_for or (lambda name: accounts.seeded_address(seed, name))
    program = ids.MARGINFI_V2
    group = address_of("marginfi:group")
    admin = address_of("marginfi:admin")
    accounts.set_data_account(svm, group, program, mf.encode_marginfi_group(mf.MarginfiGroup(admin=admin)))
    now = svm.get_clock().unix_timestamp
    by_symbol = {t.symbol: t for t in tokens}
    out: list[MarginfiBank] = []
    for symbol, usd, (asset_weight, liability_weight) in banks:
        token = by_symbol.get(symbol)
        if token is None:
            continue
        address = address_of(f"marginfi:{symbol}:bank")
        vault, vault_bump = mf.liquidity_vault(address, program)
        vault_authority, authority_bump = mf.liquidity_vault_authority(address, program)
        oracle = address_of(f"marginfi:{symbol}:oracle")
        amount = int(usd / token.usd_price * 10**token.decimals)
        bank = MarginfiBank(
            address=address,
            symbol=symbol,
            group=group,
            mint=token.mint,
            liquidity_vault=vault,
            liquidity_vault_authority=vault_authority,
            oracle=oracle,
            deposits=amount,
        )
        set_token_account(svm, vault, token.mint, vault_authority, amount)
        price = round(token.usd_price * 10**-PRICE_EXPONENT)
        accounts.set_data_account(
            svm,
            oracle,
            mf.PYTH_RECEIVER_PROGRAM,
            mf.encode_price_update_v2(
                mf.PriceUpdateV2(
                    feed_id=hashlib.sha256(f"pyth:{symbol}/USD".encode()).digest(),
                    price=price,
                    conf=price // 2_000,
                    exponent=PRICE_EXPONENT,
                    publish_time=now,
                    prev_publish_time=now,
                    ema_price=price,
                    ema_conf=price // 2_000,
                )
            ),
        )
        config = mf.BankConfig(
            asset_weight_init=mf.i80f48(asset_weight),
            asset_weight_maint=mf.i80f48(min(asset_weight + 0.05, 1.0)),
            liability_weight_init=mf.i80f48(liability_weight),
            liability_weight_maint=mf.i80f48(max(liability_weight - 0.05, 1.0)),
            interest_rate_config=mf.InterestRateConfig(
                optimal_utilization_rate=mf.i80f48(0.8),
                plateau_interest_rate=mf.i80f48(0.1),
                max_interest_rate=mf.i80f48(1.0),
            ),
            oracle_setup=mf.OracleSetup.PYTH_PUSH_ORACLE,
            oracle_keys=(oracle,) + (Pubkey.default(),) * (mf.MAX_ORACLE_KEYS - 1),
            oracle_max_age=ORACLE_MAX_AGE,
        )
        accounts.set_data_account(
            svm,
            address,
            program,
            mf.encode_bank(
                mf.Bank(
                    mint=token.mint,
                    group=group,
                    liquidity_vault=vault,
                    mint_decimals=token.decimals,
                    liquidity_vault_bump=vault_bump,
                    liquidity_vault_authority_bump=authority_bump,
                    total_asset_shares=amount << 48,
                    last_update=now,
                    config=config,
                )
            ),
        )
        out.append(bank)
    account = address_of("marginfi:operator_account")
    accounts.set_data_account(
        svm, account, program, mf.encode_marginfi_account(mf.MarginfiAccount(group=group, authority=operator))
    )
    return {
        "group": group,
        "admin": admin,
        "marginfi_account": account,
        "authority": operator,
        "banks": [asdict(b) for b in out],
    }


def _extra(source: Any) -> Mapping[str, Any]:
    extra: Any = getattr(source, "extra", source)
    if isinstance(extra, Mapping) and "extra" in extra:  # Scenario.to_dict()
        extra = extra["extra"]
    if isinstance(extra, Mapping) and "marginfi" in extra:
        extra = extra["marginfi"]
    return extra if isinstance(extra, Mapping) else {}


def _key(value: Any) -> Pubkey:
    return Pubkey.from_string(value) if isinstance(value, str) else value


def marginfi_banks(source: Any) -> tuple[MarginfiBank, ...]:
    """The genesis banks from a Scenario, its `to_dict()`, or `extra["marginfi"]` itself."""
    keys = {
        "address",
        "group",
        "mint",
        "liquidity_vault",
        "liquidity_vault_authority",
        "oracle",
        "token_program",
    }
    out = []
    for raw in _extra(source).get("banks", ()):
        out.append(MarginfiBank(**{k: _key(v) if k in keys else v for k, v in raw.items()}))
    return tuple(out)


def marginfi_account(source: Any) -> Pubkey | None:
    """The operator's genesis MarginfiAccount (None when the scenario has no MarginFi)."""
    value = _extra(source).get("marginfi_account")
    return None if value is None else _key(value)
