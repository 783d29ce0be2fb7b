"""Exact Raydium AMM v4 swap quotes, written from the program's own arithmetic.

Source: raydium-io/raydium-amm `program/src/processor.rs` (`process_swap_base_in`,
`process_swap_base_out` and their V2 twins) and `math.rs` (`swap_token_amount_base_in`,
`swap_token_amount_base_out`, `calc_total_without_take_pnl_no_orderbook`, `CheckedCeilDiv`).
`checked_ceil_div` is the plain ceiling of the 2025-08-26 change (commit 78c6a81); before it, a
zero quotient rounded to 1 only when `2 * dividend >= divisor`.

The search engine calls `swap_base_in` / `swap_base_out` millions of times, so they take and return
plain ints and raise only when the program would fail. Reserves are the "total without take pnl"
amounts: vault balance minus `need_take_pnl_*` (see `pool_reserves`).
"""

from __future__ import annotations

from core.protocols.raydium_amm import AmmError, AmmInfo, AmmStatus

U64_MAX = (1 << 64) - 1
U128_LIMIT = 1 << 128


class RaydiumSwapError(Exception):
    """The program would reject this swap.

    `error` is the AmmError the program returns, or None where the program panics (an `unwrap` on
    a failed checked operation, which the runtime reports as ProgramFailedToComplete).
    """

    def __init__(self, error: AmmError | None, reason: str) -> None:
        self.error = error
        self.reason = reason
        name = error.name if error is not None else "panic"
        super().__init__(f"{name}: {reason}")


def swap_base_in(amount_in: int, reserve_in: int, reserve_out: int, fee_num: int, fee_den: int) -> int:
    """Output of SwapBaseIn for `amount_in` (u64) against reserves net of pending pnl."""
    # swap_fee = ceil(amount_in * num / den); the rest goes through the constant product, floored.
    after_fee = amount_in + (-(amount_in * fee_num) // fee_den)
    if after_fee < 0:
        raise RaydiumSwapError(None, "swap fee above the amount (fee numerator > denominator)")
    denominator = reserve_in + after_fee
    if denominator == 0:
        raise RaydiumSwapError(None, "division by zero: empty input reserve and nothing after fee")
    out = reserve_out * after_fee // denominator
    if out == 0 or amount_in == 0:
        raise RaydiumSwapError(AmmError.INVALID_INPUT, "zero amount in or zero amount out")
    if out >= reserve_out:
        raise RaydiumSwapError(AmmError.INSUFFICIENT_FUNDS, "output would drain the reserve")
    return out


def swap_base_out(amount_out: int, reserve_in: int, reserve_out: int, fee_num: int, fee_den: int) -> int:
    """Input SwapBaseOut charges (fee included) to deliver exactly `amount_out` (u64)."""
    if amount_out >= reserve_out:
        # The program subtracts `reserve_out - amount_out` with an unwrap before its own bounds check.
        raise RaydiumSwapError(None, "amount_out at or above the output reserve")
    # swap_in_before_add_fee = ceil(reserve_in * amount_out / (reserve_out - amount_out))
    before_fee = -(-(reserve_in * amount_out) // (reserve_out - amount_out))
    net_den = fee_den - fee_num
    if net_den <= 0:
        raise RaydiumSwapError(None, "fee numerator at or above the denominator")
    scaled = before_fee * fee_den
    if scaled >= U128_LIMIT:
        raise RaydiumSwapError(None, "u128 overflow adding the fee back")
    # swap_in_after_add_fee = ceil(before_fee * den / (den - num))
    amount_in = -(-scaled // net_den)
    if amount_in > U64_MAX:
        raise RaydiumSwapError(None, "required input does not fit a u64")
    if amount_in == 0 or amount_out == 0:
        raise RaydiumSwapError(AmmError.INVALID_INPUT, "zero amount in or zero amount out")
    return amount_in


def check_swap_status(info: AmmInfo, unix_timestamp: int) -> None:
    """The program's status gate (`AmmStatus::swap_permission` plus its two timed transitions).

    Initialized and SwapOnly swap; WaitingTrade swaps once `pool_open_time` has passed (the
    program then stores SwapOnly); OrderBookOnly swaps once `orderbook_to_init_time` has passed
    (the program then stores Initialized); every other status is InvalidStatus.
    """
    status = info.status
    if status == AmmStatus.WAITING_TRADE:
        if unix_timestamp < info.state_data.pool_open_time:
            raise RaydiumSwapError(AmmError.INVALID_STATUS, "pool not open yet")
    elif status == AmmStatus.ORDER_BOOK_ONLY:
        if unix_timestamp < info.state_data.orderbook_to_init_time:
            raise RaydiumSwapError(AmmError.INVALID_STATUS, "order-book-only pool before its init time")
    elif status not in (AmmStatus.INITIALIZED, AmmStatus.SWAP_ONLY):
        raise RaydiumSwapError(AmmError.INVALID_STATUS, f"status {status} does not allow swaps")


def pool_reserves(info: AmmInfo, coin_vault_amount: int, pc_vault_amount: int) -> tuple[int, int]:
    """(coin, pc) reserves the swap math sees: vault balances minus the pnl owed to the protocol."""
    coin = coin_vault_amount - info.state_data.need_take_pnl_coin
    pc = pc_vault_amount - info.state_data.need_take_pnl_pc
    if coin < 0 or pc < 0:
        raise RaydiumSwapError(AmmError.CHECKED_SUB_OVERFLOW, "need_take_pnl above the vault balance")
    return coin, pc


def quote_pool_base_in(
    info: AmmInfo,
    coin_vault_amount: int,
    pc_vault_amount: int,
    amount_in: int,
    coin_to_pc: bool,
    *,
    unix_timestamp: int | None = None,
) -> int:
    """SwapBaseIn on a decoded pool; the status gate is checked when `unix_timestamp` is given."""
    if unix_timestamp is not None:
        check_swap_status(info, unix_timestamp)
    coin, pc = pool_reserves(info, coin_vault_amount, pc_vault_amount)
    fees = info.fees
    if coin_to_pc:
        return swap_base_in(amount_in, coin, pc, fees.swap_fee_numerator, fees.swap_fee_denominator)
    return swap_base_in(amount_in, pc, coin, fees.swap_fee_numerator, fees.swap_fee_denominator)


def quote_pool_base_out(
    info: AmmInfo,
    coin_vault_amount: int,
    pc_vault_amount: int,
    amount_out: int,
    coin_to_pc: bool,
    *,
    unix_timestamp: int | None = None,
) -> int:
    """SwapBaseOut on a decoded pool: the input charged for exactly `amount_out`."""
    if unix_timestamp is not None:
        check_swap_status(info, unix_timestamp)
    coin, pc = pool_reserves(info, coin_vault_amount, pc_vault_amount)
    fees = info.fees
    if coin_to_pc:
        return swap_base_out(amount_out, coin, pc, fees.swap_fee_numerator, fees.swap_fee_denominator)
    return swap_base_out(amount_out, pc, coin, fees.swap_fee_numerator, fees.swap_fee_denominator)
