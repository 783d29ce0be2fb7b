"""Raydium AMM v4 for the search: the pool state it quotes from and its float line."""

from __future__ import annotations

from dataclasses import dataclass

from core.protocols.raydium_amm import AmmInfo
from core.quote.raydium_amm import pool_reserves, swap_base_in
from core.search.dex_models import DEAD_LINE, U64_MAX, BoundQuote, DexModel, HopLine

RAYDIUM_AMM_V4 = "raydium_amm_v4"


@dataclass(frozen=True, slots=True)
class RaydiumState:
    """What a SwapBaseIn quote depends on: reserves net of pending pnl, and the swap fee.

    a_to_b = coin → pc.
    """

    coin_reserve: int
    pc_reserve: int
    swap_fee_numerator: int
    swap_fee_denominator: int

    @classmethod
    def from_pool(cls, info: AmmInfo, coin_vault_amount: int, pc_vault_amount: int) -> RaydiumState:
        coin, pc = pool_reserves(info, coin_vault_amount, pc_vault_amount)
        return cls(coin, pc, info.fees.swap_fee_numerator, info.fees.swap_fee_denominator)


def quote(state: RaydiumState, coin_to_pc: bool, amount_in: int) -> int:
    num, den = state.swap_fee_numerator, state.swap_fee_denominator
    if coin_to_pc:
        return swap_base_in(amount_in, state.coin_reserve, state.pc_reserve, num, den)
    return swap_base_in(amount_in, state.pc_reserve, state.coin_reserve, num, den)


def bind(state: RaydiumState, coin_to_pc: bool) -> BoundQuote:
    num, den = state.swap_fee_numerator, state.swap_fee_denominator
    if coin_to_pc:
        reserve_in, reserve_out = state.coin_reserve, state.pc_reserve
    else:
        reserve_in, reserve_out = state.pc_reserve, state.coin_reserve

    def bound(amount_in: int) -> int:
        return swap_base_in(amount_in, reserve_in, reserve_out, num, den)

    return bound


def cp_params(state: RaydiumState, coin_to_pc: bool) -> tuple[int, int, int, int]:
    if coin_to_pc:
        return state.coin_reserve, state.pc_reserve, state.swap_fee_numerator, state.swap_fee_denominator
    return state.pc_reserve, state.coin_reserve, state.swap_fee_numerator, state.swap_fee_denominator


def linearize(state: RaydiumState) -> HopLine:
    # constant_product_line, inlined: the search linearises every pool update.
    x, y = state.coin_reserve, state.pc_reserve
    num, den = state.swap_fee_numerator, state.swap_fee_denominator
    if x <= 0 or y <= 0 or den <= 0 or not 0 <= num < den:
        return DEAD_LINE
    gamma = (den - num) / den
    ga = gamma / x
    gb = gamma / y
    return HopLine(ga * y, ga, gb * x, gb)


def max_input(state: RaydiumState, coin_to_pc: bool) -> int:
    # The input lands in a u64 vault, so it can never exceed what the vault can still hold.
    reserve_in = state.coin_reserve if coin_to_pc else state.pc_reserve
    return max(0, U64_MAX - reserve_in)


RAYDIUM_AMM_V4_MODEL = DexModel(
    RAYDIUM_AMM_V4, quote, linearize, max_input, mobius_exact=True, bind=bind,
    cp_params=cp_params,  # type: ignore[arg-type]
)
