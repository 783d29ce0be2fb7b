"""Builders for search tests: Raydium-state pools on made-up mints, and reference computations."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from solders.pubkey import Pubkey

from core.protocols.ids import NATIVE_MINT, USDC_MINT
from core.search import FeeModel, Pool
from core.search.dex_raydium import RAYDIUM_AMM_V4, RaydiumState
from core.search.dex_raydium import quote as raydium_quote

LOANS = (USDC_MINT, NATIVE_MINT)


def mint(i: int) -> Pubkey:
    """Token i; 0 is USDC and 1 is SOL so loan tokens are real mints."""
    if i == 0:
        return USDC_MINT
    if i == 1:
        return NATIVE_MINT
    return Pubkey(bytes([3]) + i.to_bytes(4, "little") + bytes(27))


def pool_id(i: int) -> Pubkey:
    return Pubkey(bytes([5]) + i.to_bytes(4, "little") + bytes(27))


def cp_pool(i: int, a: int, b: int, reserve_a: int, reserve_b: int, fee: tuple[int, int] = (25, 10_000),
            slot: int = 1) -> Pool:
    return Pool(pool_id(i), RAYDIUM_AMM_V4, mint(a), mint(b), RaydiumState(reserve_a, reserve_b, *fee), slot)


def zero_fees(flash: Callable[[Pubkey, int], int] | None = None) -> FeeModel:
    """Costs of zero except a 1-lamport-equivalent tip floor, so gross > 0 is what counts."""
    return FeeModel(
        flash_fee=flash or (lambda _m, _a: 0),
        lamports_to_loan=lambda _m, lamports: lamports,
        loan_to_lamports=lambda _m, amount: amount,
        lamports_per_signature=0,
        min_tip_lamports=0,
        tip_share_bps=0,
    )


def chain_profit(
    hops: Sequence[tuple[RaydiumState, bool]], x: int, flash: Callable[[int], int]
) -> int | None:
    """out − x − flash(x) on the true quoter, None where the program would refuse the swap."""
    out = x
    try:
        for state, a_to_b in hops:
            out = raydium_quote(state, a_to_b, out)
    except Exception:
        return None
    return out - x - flash(x)


def real_zero_root(hops: Sequence[tuple[RaydiumState, bool]]) -> float:
    """Beyond this input the real (hence also the integer) gross profit is negative."""
    a_acc, c_acc = 1.0, 0.0
    for state, a_to_b in hops:
        x, y = (state.coin_reserve, state.pc_reserve) if a_to_b else (state.pc_reserve, state.coin_reserve)
        g = 1 - state.swap_fee_numerator / state.swap_fee_denominator
        c_acc += g / x * a_acc
        a_acc *= g * y / x
    return max(0.0, (a_acc - 1) / c_acc) if c_acc > 0 else math.inf
