"""Exact Orca Whirlpool swap quotes: the program's Q64.64 integer math, step by step.

Sources (orca-so/whirlpools `programs/whirlpool/src/`): `math/tick_math.rs`
(`sqrt_price_from_tick_index` bit constants, `tick_index_from_sqrt_price`), `math/bit_math.rs`
(`checked_mul_div*`, `div_round_up_if*`), `math/u256_math.rs` (256-bit products and their overflow
points), `math/token_math.rs` (`get_amount_delta_a/b`, `get_next_sqrt_price_from_a_round_up`,
`get_next_sqrt_price_from_b_round_down`), `math/swap_math.rs` (`compute_swap`),
`manager/swap_manager.rs` (the swap loop, `calculate_fees`, `calculate_update`),
`manager/tick_manager.rs` (`next_tick_cross_update`), `manager/whirlpool_manager.rs`
(`next_whirlpool_reward_infos`), `util/swap_tick_sequence.rs` and `state/fixed_tick_array.rs`
(next initialized tick search), `util/sparse_swap.rs` (which arrays the program walks).

Only static-fee pools are modelled: adaptive-fee pools (fee_tier_index_seed != tick_spacing) need
the oracle's volatility state and raise `UnsupportedAdaptiveFee`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache

from solders.pubkey import Pubkey

from core.protocols.whirlpool import (
    EMPTY_TICK,
    MAX_SQRT_PRICE_X64,
    MAX_TICK_INDEX,
    MIN_SQRT_PRICE_X64,
    MIN_TICK_INDEX,
    NO_EXPLICIT_SQRT_PRICE_LIMIT,
    NUM_REWARDS,
    TICK_ARRAY_SIZE,
    Tick,
    TickArray,
    Whirlpool,
    WhirlpoolErrorCode,
    WhirlpoolRewardInfo,
    get_start_tick_indexes,
)

U64_MAX = (1 << 64) - 1
U128_MAX = (1 << 128) - 1
_U128 = 1 << 128
_U192 = 1 << 192
Q64_MASK = U64_MAX
FEE_RATE_MUL_VALUE = 1_000_000
PROTOCOL_FEE_RATE_MUL_VALUE = 10_000


# -- errors ---------------------------------------------------------------------------------------


class WhirlpoolSwapError(Exception):
    """The program would fail the swap with `code` (a custom error 6000+)."""

    code: WhirlpoolErrorCode

    def __init__(self, reason: str = "") -> None:
        self.reason = reason
        super().__init__(f"{self.code.name} ({int(self.code)}){': ' + reason if reason else ''}")


def _error(name: str, code: WhirlpoolErrorCode) -> type[WhirlpoolSwapError]:
    return type(name, (WhirlpoolSwapError,), {"code": code, "__doc__": f"ErrorCode::{name} = {int(code)}"})


E = WhirlpoolErrorCode
InvalidTickSpacing = _error("InvalidTickSpacing", E.INVALID_TICK_SPACING)
DivideByZero = _error("DivideByZero", E.DIVIDE_BY_ZERO)
NumberCastError = _error("NumberCastError", E.NUMBER_CAST_ERROR)
NumberDownCastError = _error("NumberDownCastError", E.NUMBER_DOWN_CAST_ERROR)
SqrtPriceOutOfBounds = _error("SqrtPriceOutOfBounds", E.SQRT_PRICE_OUT_OF_BOUNDS)
LiquidityOverflow = _error("LiquidityOverflow", E.LIQUIDITY_OVERFLOW)
LiquidityUnderflow = _error("LiquidityUnderflow", E.LIQUIDITY_UNDERFLOW)
TokenMaxExceeded = _error("TokenMaxExceeded", E.TOKEN_MAX_EXCEEDED)
TokenMinSubceeded = _error("TokenMinSubceeded", E.TOKEN_MIN_SUBCEEDED)
InvalidTimestamp = _error("InvalidTimestamp", E.INVALID_TIMESTAMP)
InvalidTickArraySequence = _error("InvalidTickArraySequence", E.INVALID_TICK_ARRAY_SEQUENCE)
MultiplicationShiftRightOverflow = _error(
    "MultiplicationShiftRightOverflow", E.MULTIPLICATION_SHIFT_RIGHT_OVERFLOW
)
MulDivOverflow = _error("MulDivOverflow", E.MUL_DIV_OVERFLOW)
MultiplicationOverflow = _error("MultiplicationOverflow", E.MULTIPLICATION_OVERFLOW)
InvalidSqrtPriceLimitDirection = _error(
    "InvalidSqrtPriceLimitDirection", E.INVALID_SQRT_PRICE_LIMIT_DIRECTION
)
ZeroTradableAmount = _error("ZeroTradableAmount", E.ZERO_TRADABLE_AMOUNT)
AmountOutBelowMinimum = _error("AmountOutBelowMinimum", E.AMOUNT_OUT_BELOW_MINIMUM)
AmountInAboveMaximum = _error("AmountInAboveMaximum", E.AMOUNT_IN_ABOVE_MAXIMUM)
TickArraySequenceInvalidIndex = _error("TickArraySequenceInvalidIndex", E.TICK_ARRAY_SEQUENCE_INVALID_INDEX)
AmountCalcOverflow = _error("AmountCalcOverflow", E.AMOUNT_CALC_OVERFLOW)
AmountRemainingOverflow = _error("AmountRemainingOverflow", E.AMOUNT_REMAINING_OVERFLOW)
DifferentWhirlpoolTickArrayAccount = _error(
    "DifferentWhirlpoolTickArrayAccount", E.DIFFERENT_WHIRLPOOL_TICK_ARRAY_ACCOUNT
)
PartialFillError = _error("PartialFillError", E.PARTIAL_FILL_ERROR)

ERROR_BY_CODE: dict[int, type[WhirlpoolSwapError]] = {
    int(cls.code): cls
    for cls in (
        InvalidTickSpacing,
        DivideByZero,
        NumberCastError,
        NumberDownCastError,
        SqrtPriceOutOfBounds,
        LiquidityOverflow,
        LiquidityUnderflow,
        TokenMaxExceeded,
        TokenMinSubceeded,
        InvalidTimestamp,
        InvalidTickArraySequence,
        MultiplicationShiftRightOverflow,
        MulDivOverflow,
        MultiplicationOverflow,
        InvalidSqrtPriceLimitDirection,
        ZeroTradableAmount,
        AmountOutBelowMinimum,
        AmountInAboveMaximum,
        TickArraySequenceInvalidIndex,
        AmountCalcOverflow,
        AmountRemainingOverflow,
        DifferentWhirlpoolTickArrayAccount,
        PartialFillError,
    )
}


class UnsupportedAdaptiveFee(ValueError):
    """Adaptive-fee pools' fee depends on oracle state this quoter does not model."""


# -- tick math --------------------------------------------------------------------------------------

_POSITIVE_TICK_RATIOS = (
    (2, 79236085330515764027303304731),
    (4, 79244008939048815603706035061),
    (8, 79259858533276714757314932305),
    (16, 79291567232598584799939703904),
    (32, 79355022692464371645785046466),
    (64, 79482085999252804386437311141),
    (128, 79736823300114093921829183326),
    (256, 80248749790819932309965073892),
    (512, 81282483887344747381513967011),
    (1024, 83390072131320151908154831281),
    (2048, 87770609709833776024991924138),
    (4096, 97234110755111693312479820773),
    (8192, 119332217159966728226237229890),
    (16384, 179736315981702064433883588727),
    (32768, 407748233172238350107850275304),
    (65536, 2098478828474011932436660412517),
    (131072, 55581415166113811149459800483533),
    (262144, 38992368544603139932233054999993551),
)
_NEGATIVE_TICK_RATIOS = (
    (2, 18444899583751176498),
    (4, 18443055278223354162),
    (8, 18439367220385604838),
    (16, 18431993317065449817),
    (32, 18417254355718160513),
    (64, 18387811781193591352),
    (128, 18329067761203520168),
    (256, 18212142134806087854),
    (512, 17980523815641551639),
    (1024, 17526086738831147013),
    (2048, 16651378430235024244),
    (4096, 15030750278693429944),
    (8192, 12247334978882834399),
    (16384, 8131365268884726200),
    (32768, 3584323654723342297),
    (65536, 696457651847595233),
    (131072, 26294789957452057),
    (262144, 37481735321082),
)


@lru_cache(maxsize=65536)
def sqrt_price_from_tick_index(tick: int) -> int:
    """Q64.64 sqrt(1.0001^tick), bit for bit as the program computes it."""
    if tick >= 0:
        # Q96 products truncated by 96 bits, then Q96 -> Q64.
        ratio = 79232123823359799118286999567 if tick & 1 else 79228162514264337593543950336
        for bit, factor in _POSITIVE_TICK_RATIOS:
            if tick & bit:
                ratio = ratio * factor >> 96
        return ratio >> 32
    abs_tick = -tick
    ratio = 18445821805675392311 if abs_tick & 1 else 18446744073709551616
    for bit, factor in _NEGATIVE_TICK_RATIOS:
        if abs_tick & bit:
            ratio = ratio * factor >> 64
    return ratio


_LOG_B_2_X32 = 59543866431248
_BIT_PRECISION = 14
_LOG_B_P_ERR_MARGIN_LOWER_X64 = 184467440737095516
_LOG_B_P_ERR_MARGIN_UPPER_X64 = 15793534762490258745


def tick_index_from_sqrt_price(sqrt_price_x64: int) -> int:
    """Floor tick of a Q64.64 sqrt price (14-bit log2 approximation plus one exact check)."""
    msb = sqrt_price_x64.bit_length() - 1
    log2p_integer_x32 = (msb - 64) << 32
    bit = 0x8000_0000_0000_0000
    precision = 0
    log2p_fraction_x64 = 0
    r = sqrt_price_x64 >> (msb - 63) if msb >= 64 else sqrt_price_x64 << (63 - msb)
    while bit > 0 and precision < _BIT_PRECISION:
        r = r * r
        is_r_more_than_two = r >> 127
        r >>= 63 + is_r_more_than_two
        log2p_fraction_x64 += bit * is_r_more_than_two
        bit >>= 1
        precision += 1
    log2p_x32 = log2p_integer_x32 + (log2p_fraction_x64 >> 32)
    logbp_x64 = log2p_x32 * _LOG_B_2_X32
    tick_low = (logbp_x64 - _LOG_B_P_ERR_MARGIN_LOWER_X64) >> 64
    tick_high = (logbp_x64 + _LOG_B_P_ERR_MARGIN_UPPER_X64) >> 64
    if tick_low == tick_high:
        return tick_low
    return tick_high if sqrt_price_from_tick_index(tick_high) <= sqrt_price_x64 else tick_low


# -- token math ---------------------------------------------------------------------------------------

# `try_get_amount_delta_*` report "more than u64" as a value the swap step can survive; a raised
# error is one the program propagates.
_EXCEEDS = -1


def get_amount_delta_a(p0: int, p1: int, liquidity: int, round_up: bool) -> int:
    """Token A between two sqrt prices: L * (hi - lo) * 2^64 / (hi * lo)."""
    lower, upper = (p1, p0) if p0 > p1 else (p0, p1)
    numerator = liquidity * (upper - lower)
    if numerator >= _U192:  # checked_shift_word_left: the top 64-bit word must be empty
        raise MultiplicationOverflow("liquidity * price delta does not fit 192 bits")
    quotient, remainder = divmod(numerator << 64, upper * lower)
    if round_up and remainder:
        quotient += 1
    if quotient >= _U128:
        raise NumberDownCastError("amount delta a does not fit u128")
    if quotient > U64_MAX:
        raise TokenMaxExceeded("amount delta a above u64")
    return quotient


def get_amount_delta_b(p0: int, p1: int, liquidity: int, round_up: bool) -> int:
    """Token B between two sqrt prices: L * (hi - lo) / 2^64."""
    lower, upper = (p1, p0) if p0 > p1 else (p0, p1)
    diff = upper - lower
    if liquidity == 0 or diff == 0:
        return 0
    product = liquidity * diff
    if product >= _U128:
        raise MultiplicationShiftRightOverflow("liquidity * price delta above u128")
    result = product >> 64
    if round_up and product & Q64_MASK:
        if result == U64_MAX:
            raise MultiplicationOverflow("rounded amount delta b above u64")
        result += 1
    return result


def _try_amount_delta_a(p0: int, p1: int, liquidity: int, round_up: bool) -> int:
    """try_get_amount_delta_a: above u64 is `_EXCEEDS`; a 192-bit overflow still raises."""
    try:
        return get_amount_delta_a(p0, p1, liquidity, round_up)
    except (NumberDownCastError, TokenMaxExceeded):
        return _EXCEEDS


def _try_amount_delta_b(p0: int, p1: int, liquidity: int, round_up: bool) -> int:
    try:
        return get_amount_delta_b(p0, p1, liquidity, round_up)
    except (MultiplicationShiftRightOverflow, MultiplicationOverflow):
        return _EXCEEDS


def get_next_sqrt_price_from_a_round_up(sqrt_price: int, liquidity: int, amount: int, is_input: bool) -> int:
    if amount == 0:
        return sqrt_price
    product = sqrt_price * amount
    numerator = liquidity * sqrt_price
    if numerator >= _U192:
        raise MultiplicationOverflow("liquidity * sqrt_price does not fit 192 bits")
    liquidity_shift_left = liquidity << 64
    if not is_input and liquidity_shift_left <= product:
        raise DivideByZero("output amount drains the liquidity")
    denominator = liquidity_shift_left + product if is_input else liquidity_shift_left - product
    price = -(-(numerator << 64) // denominator)
    if price >= _U128:
        raise NumberDownCastError("next sqrt price does not fit u128")
    if price < MIN_SQRT_PRICE_X64:
        raise TokenMinSubceeded("next sqrt price below the minimum")
    if price > MAX_SQRT_PRICE_X64:
        raise TokenMaxExceeded("next sqrt price above the maximum")
    return price


def get_next_sqrt_price_from_b_round_down(
    sqrt_price: int, liquidity: int, amount: int, is_input: bool
) -> int:
    if liquidity == 0:
        raise DivideByZero("zero liquidity")
    amount_x64 = amount << 64
    delta = amount_x64 // liquidity if is_input else -(-amount_x64 // liquidity)
    if is_input:
        price = sqrt_price + delta
        if price > U128_MAX:
            raise SqrtPriceOutOfBounds("sqrt price overflows u128")
        return price
    if delta > sqrt_price:
        raise SqrtPriceOutOfBounds("sqrt price underflows")
    return sqrt_price - delta


def get_next_sqrt_price(sqrt_price: int, liquidity: int, amount: int, is_input: bool, a_to_b: bool) -> int:
    if is_input == a_to_b:
        return get_next_sqrt_price_from_a_round_up(sqrt_price, liquidity, amount, is_input)
    return get_next_sqrt_price_from_b_round_down(sqrt_price, liquidity, amount, is_input)


@dataclass(frozen=True, slots=True)
class SwapStep:
    amount_in: int
    amount_out: int
    next_price: int
    fee_amount: int


def compute_swap(
    amount_remaining: int,
    fee_rate: int,
    liquidity: int,
    sqrt_price_current: int,
    sqrt_price_target: int,
    amount_specified_is_input: bool,
    a_to_b: bool,
) -> SwapStep:
    """One step towards `sqrt_price_target` (`math/swap_math.rs`)."""
    fixes_a = a_to_b == amount_specified_is_input
    try_fixed = _try_amount_delta_a if fixes_a else _try_amount_delta_b
    fixed = get_amount_delta_a if fixes_a else get_amount_delta_b
    unfixed = get_amount_delta_b if fixes_a else get_amount_delta_a

    initial_fixed = try_fixed(sqrt_price_current, sqrt_price_target, liquidity, amount_specified_is_input)
    amount_calc = amount_remaining
    if amount_specified_is_input:
        amount_calc = amount_remaining * (FEE_RATE_MUL_VALUE - fee_rate) // FEE_RATE_MUL_VALUE
    if initial_fixed != _EXCEEDS and amount_calc >= initial_fixed:
        next_price = sqrt_price_target
    else:
        next_price = get_next_sqrt_price(
            sqrt_price_current, liquidity, amount_calc, amount_specified_is_input, a_to_b
        )
    is_max_swap = next_price == sqrt_price_target
    amount_unfixed = unfixed(sqrt_price_current, next_price, liquidity, not amount_specified_is_input)
    if not is_max_swap or initial_fixed == _EXCEEDS:
        amount_fixed = fixed(sqrt_price_current, next_price, liquidity, amount_specified_is_input)
    else:
        amount_fixed = initial_fixed
    if amount_specified_is_input:
        amount_in, amount_out = amount_fixed, amount_unfixed
    else:
        amount_in, amount_out = amount_unfixed, min(amount_fixed, amount_remaining)
    if amount_specified_is_input and not is_max_swap:
        fee_amount = amount_remaining - amount_in
    else:
        denominator = FEE_RATE_MUL_VALUE - fee_rate
        fee_amount = -(-(amount_in * fee_rate) // denominator)
        if fee_amount > U64_MAX:
            raise NumberCastError("fee above u64")
    return SwapStep(amount_in, amount_out, next_price, fee_amount)


# -- tick sequence -----------------------------------------------------------------------------------


class _ArrayBounds:
    """Where a tick falls in an array starting at `start`: the one rule both array kinds share."""

    __slots__ = ()
    start: int

    def offset(self, tick_index: int, tick_spacing: int) -> int:
        return (tick_index - self.start) // tick_spacing

    def search_offset(self, tick_index: int, tick_spacing: int, a_to_b: bool) -> int:
        """The offset a next-initialized-tick search starts from; the program's bounds (shifted one
        spacing down when searching b→a), else InvalidTickArraySequence."""
        lower = self.start
        upper = self.start + TICK_ARRAY_SIZE * tick_spacing
        if not a_to_b:
            lower -= tick_spacing
            upper -= tick_spacing
        if not lower <= tick_index < upper:
            raise InvalidTickArraySequence(f"tick {tick_index} outside the array at {self.start}")
        return self.offset(tick_index, tick_spacing)

    def tick_offset(self, tick_index: int, tick_spacing: int) -> int | None:
        """The offset of a usable tick inside this array, or None."""
        in_bounds = self.start <= tick_index < self.start + TICK_ARRAY_SIZE * tick_spacing
        usable = MIN_TICK_INDEX <= tick_index <= MAX_TICK_INDEX and tick_index % tick_spacing == 0
        return self.offset(tick_index, tick_spacing) if in_bounds and usable else None


class _SequenceArray(_ArrayBounds):
    __slots__ = ("initialized", "start", "ticks", "updated")

    def __init__(self, start: int, ticks: tuple[Tick, ...] | None) -> None:
        self.start = start
        self.initialized = ticks is not None
        self.ticks: list[Tick] = list(ticks) if ticks is not None else [EMPTY_TICK] * TICK_ARRAY_SIZE
        self.updated: dict[int, Tick] = {}

    def next_init_tick_index(self, tick_index: int, tick_spacing: int, a_to_b: bool) -> int | None:
        offset = self.search_offset(tick_index, tick_spacing, a_to_b)
        step = -1 if a_to_b else 1
        if not a_to_b:
            offset += 1
        ticks = self.ticks
        while 0 <= offset < TICK_ARRAY_SIZE:
            if ticks[offset].initialized:
                return offset * tick_spacing + self.start
            offset += step
        return None

    def get_tick(self, tick_index: int, tick_spacing: int) -> tuple[int, Tick] | None:
        offset = self.tick_offset(tick_index, tick_spacing)
        if offset is None:
            return None
        return offset, self.ticks[offset]


def _next_initialized_tick_index(
    arrays: list[_SequenceArray], tick_index: int, tick_spacing: int, a_to_b: bool, start_array_index: int
) -> tuple[int, int]:
    ticks_in_array = TICK_ARRAY_SIZE * tick_spacing
    search_index = tick_index
    array_index = start_array_index
    while True:
        if array_index >= len(arrays):
            raise TickArraySequenceInvalidIndex("the swap ran past the last tick array supplied")
        array = arrays[array_index]
        found = array.next_init_tick_index(search_index, tick_spacing, a_to_b)
        if found is not None:
            return array_index, found
        if a_to_b and array.start <= MIN_TICK_INDEX:
            return array_index, MIN_TICK_INDEX
        if not a_to_b and array.start + ticks_in_array > MAX_TICK_INDEX:
            return array_index, MAX_TICK_INDEX
        if array_index + 1 == len(arrays):
            return array_index, array.start if a_to_b else array.start + ticks_in_array - 1
        search_index = array.start - 1 if a_to_b else array.start + ticks_in_array - 1
        array_index += 1


def build_tick_sequence(
    pool: Whirlpool,
    tick_arrays: Iterable[TickArray],
    a_to_b: bool,
    *,
    uninitialized_starts: Collection[int] = (),
    whirlpool_address: Pubkey | None = None,
) -> list[TickArray | None]:
    """The arrays the program would walk: at each expected start, a supplied array, else an empty
    one if its PDA is passed uninitialized (`uninitialized_starts`), else the sequence ends."""
    given: dict[int, TickArray] = {}
    for array in tick_arrays:
        if whirlpool_address is not None and array.whirlpool != whirlpool_address:
            raise DifferentWhirlpoolTickArrayAccount(f"tick array at {array.start_tick_index}")
        given[array.start_tick_index] = array
    sequence: list[TickArray | None] = []
    for start in get_start_tick_indexes(pool.tick_current_index, pool.tick_spacing, a_to_b):
        if start in given:
            sequence.append(given[start])
        elif start in uninitialized_starts:
            sequence.append(None)
        else:
            break
    if not sequence:
        raise InvalidTickArraySequence("no tick array at the current price")
    return sequence


# -- the swap ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TickUpdate:
    start_tick_index: int
    offset: int
    tick: Tick


@dataclass(frozen=True, slots=True)
class SwapResult:
    amount_a: int
    amount_b: int
    a_to_b: bool
    lp_fee: int
    protocol_fee: int
    next_liquidity: int
    next_tick_index: int
    next_sqrt_price: int
    next_fee_growth_global: int
    next_reward_growths: tuple[int, ...]
    timestamp: int
    tick_updates: tuple[TickUpdate, ...]

    @property
    def amount_in(self) -> int:
        return self.amount_a if self.a_to_b else self.amount_b

    @property
    def amount_out(self) -> int:
        return self.amount_b if self.a_to_b else self.amount_a

    @property
    def fee_amount(self) -> int:
        return self.lp_fee + self.protocol_fee

    def apply(self, pool: Whirlpool) -> Whirlpool:
        """The pool account after the swap (`Whirlpool::update_after_swap`)."""
        rewards = tuple(
            replace(r, growth_global_x64=g)
            for r, g in zip(pool.reward_infos, self.next_reward_growths, strict=True)
        )
        common = dict(
            liquidity=self.next_liquidity,
            tick_current_index=self.next_tick_index,
            sqrt_price=self.next_sqrt_price,
            reward_infos=rewards,
            reward_last_updated_timestamp=self.timestamp,
        )
        if self.a_to_b:
            return replace(
                pool,
                fee_growth_global_a=self.next_fee_growth_global,
                protocol_fee_owed_a=(pool.protocol_fee_owed_a + self.protocol_fee) & U64_MAX,
                **common,
            )
        return replace(
            pool,
            fee_growth_global_b=self.next_fee_growth_global,
            protocol_fee_owed_b=(pool.protocol_fee_owed_b + self.protocol_fee) & U64_MAX,
            **common,
        )

    def apply_to_tick_array(self, array: TickArray) -> TickArray:
        updates = {
            u.offset: u.tick for u in self.tick_updates if u.start_tick_index == array.start_tick_index
        }
        if not updates:
            return array
        return replace(array, ticks=tuple(updates.get(i, t) for i, t in enumerate(array.ticks)))


def next_reward_growths(pool: Whirlpool, timestamp: int) -> tuple[int, ...]:
    """`next_whirlpool_reward_infos`: growth_global += dt * emissions / liquidity (0 on overflow)."""
    last = pool.reward_last_updated_timestamp
    if timestamp < last:
        raise InvalidTimestamp(f"{timestamp} is before the last update {last}")
    growths = [r.growth_global_x64 for r in pool.reward_infos]
    if pool.liquidity == 0 or timestamp == last:
        return tuple(growths)
    dt = timestamp - last
    for i, reward in enumerate(pool.reward_infos):
        if not reward.initialized:
            continue
        product = dt * reward.emissions_per_second_x64
        delta = product // pool.liquidity if product < _U128 else 0
        growths[i] = (growths[i] + delta) & U128_MAX
    return tuple(growths)


def swap(
    pool: Whirlpool,
    tick_arrays: Iterable[TickArray],
    amount: int,
    *,
    a_to_b: bool,
    amount_specified_is_input: bool = True,
    sqrt_price_limit: int = NO_EXPLICIT_SQRT_PRICE_LIMIT,
    other_amount_threshold: int | None = None,
    timestamp: int | None = None,
    uninitialized_starts: Collection[int] = (),
    whirlpool_address: Pubkey | None = None,
) -> SwapResult:
    """What `swap` / `swap_v2` would do on this pool: amounts, fees and the post-swap state.

    `tick_arrays` may hold any arrays of the pool; the program's own sequence is built from them.
    `timestamp` is the cluster's unix time (default: the pool's last reward update, i.e. no reward
    growth). `other_amount_threshold`, when given, is checked as the program does.
    """
    if pool.is_initialized_with_adaptive_fee_tier:
        raise UnsupportedAdaptiveFee("adaptive-fee pool: fee depends on the oracle")
    if not 0 <= amount <= U64_MAX:
        raise ValueError("amount is a u64")
    sequence = build_tick_sequence(
        pool,
        tick_arrays,
        a_to_b,
        uninitialized_starts=uninitialized_starts,
        whirlpool_address=whirlpool_address,
    )
    arrays = [
        _SequenceArray(a.start_tick_index, a.ticks) if a is not None else _SequenceArray(s, None)
        for a, s in zip(
            sequence, get_start_tick_indexes(pool.tick_current_index, pool.tick_spacing, a_to_b), strict=False
        )
    ]
    result = _swap(
        pool,
        arrays,
        amount,
        sqrt_price_limit,
        amount_specified_is_input,
        a_to_b,
        pool.reward_last_updated_timestamp if timestamp is None else timestamp,
    )
    if other_amount_threshold is not None:
        if amount_specified_is_input and other_amount_threshold > result.amount_out:
            raise AmountOutBelowMinimum(f"{result.amount_out} < {other_amount_threshold}")
        if not amount_specified_is_input and other_amount_threshold < result.amount_in:
            raise AmountInAboveMaximum(f"{result.amount_in} > {other_amount_threshold}")
    return result


def _swap(
    pool: Whirlpool,
    arrays: list[_SequenceArray],
    amount: int,
    sqrt_price_limit: int,
    amount_specified_is_input: bool,
    a_to_b: bool,
    timestamp: int,
) -> SwapResult:
    if sqrt_price_limit == NO_EXPLICIT_SQRT_PRICE_LIMIT:
        limit = MIN_SQRT_PRICE_X64 if a_to_b else MAX_SQRT_PRICE_X64
    else:
        limit = sqrt_price_limit
    if not MIN_SQRT_PRICE_X64 <= limit <= MAX_SQRT_PRICE_X64:
        raise SqrtPriceOutOfBounds(f"limit {limit}")
    if (a_to_b and limit >= pool.sqrt_price) or (not a_to_b and limit <= pool.sqrt_price):
        raise InvalidSqrtPriceLimitDirection(f"limit {limit} vs price {pool.sqrt_price}")
    if amount == 0:
        raise ZeroTradableAmount()

    tick_spacing = pool.tick_spacing
    fee_rate = pool.fee_rate
    protocol_fee_rate = pool.protocol_fee_rate
    reward_growths = next_reward_growths(pool, timestamp)

    amount_remaining = amount
    amount_calculated = 0
    curr_sqrt_price = pool.sqrt_price
    curr_tick_index = pool.tick_current_index
    curr_liquidity = pool.liquidity
    curr_protocol_fee = 0
    curr_array_index = 0
    curr_fee_growth = pool.fee_growth_global_a if a_to_b else pool.fee_growth_global_b
    fee_sum = 0
    updates: dict[tuple[int, int], Tick] = {}

    while amount_remaining > 0 and limit != curr_sqrt_price:
        next_array_index, next_tick_index = _next_initialized_tick_index(
            arrays, curr_tick_index, tick_spacing, a_to_b, curr_array_index
        )
        next_tick_sqrt_price = sqrt_price_from_tick_index(next_tick_index)
        target = max(limit, next_tick_sqrt_price) if a_to_b else min(limit, next_tick_sqrt_price)
        while True:  # the program's do-while; a static fee leaves it after one step
            step = compute_swap(
                amount_remaining,
                fee_rate,
                curr_liquidity,
                curr_sqrt_price,
                target,
                amount_specified_is_input,
                a_to_b,
            )
            if amount_specified_is_input:
                amount_remaining -= step.amount_in
                if amount_remaining < 0:
                    raise AmountRemainingOverflow()
                amount_remaining -= step.fee_amount
                if amount_remaining < 0:
                    raise AmountRemainingOverflow()
                amount_calculated += step.amount_out
                if amount_calculated > U64_MAX:
                    raise AmountCalcOverflow()
            else:
                amount_remaining -= step.amount_out
                if amount_remaining < 0:
                    raise AmountRemainingOverflow()
                amount_calculated += step.amount_in
                if amount_calculated > U64_MAX:
                    raise AmountCalcOverflow()
                amount_calculated += step.fee_amount
                if amount_calculated > U64_MAX:
                    raise AmountCalcOverflow()
            fee_sum += step.fee_amount
            if fee_sum > U64_MAX:
                raise AmountCalcOverflow()

            global_fee = step.fee_amount
            if protocol_fee_rate > 0:
                delta = global_fee * protocol_fee_rate // PROTOCOL_FEE_RATE_MUL_VALUE
                global_fee -= delta
                curr_protocol_fee = (curr_protocol_fee + delta) & U64_MAX
            if curr_liquidity > 0:
                curr_fee_growth = (curr_fee_growth + (global_fee << 64) // curr_liquidity) & U128_MAX

            if step.next_price == next_tick_sqrt_price:
                array = arrays[next_array_index]
                found = array.get_tick(next_tick_index, tick_spacing)
                if found is not None and found[1].initialized:
                    offset, tick = found
                    growth_a, growth_b = (
                        (curr_fee_growth, pool.fee_growth_global_b)
                        if a_to_b
                        else (pool.fee_growth_global_a, curr_fee_growth)
                    )
                    crossed = Tick(
                        True,
                        tick.liquidity_net,
                        tick.liquidity_gross,
                        (growth_a - tick.fee_growth_outside_a) & U128_MAX,
                        (growth_b - tick.fee_growth_outside_b) & U128_MAX,
                        tuple(
                            (reward_growths[i] - tick.reward_growths_outside[i]) & U128_MAX
                            if pool.reward_infos[i].initialized
                            else tick.reward_growths_outside[i]
                            for i in range(NUM_REWARDS)
                        ),  # type: ignore[arg-type]
                    )
                    net = -tick.liquidity_net if a_to_b else tick.liquidity_net
                    curr_liquidity += net
                    if curr_liquidity > U128_MAX:
                        raise LiquidityOverflow()
                    if curr_liquidity < 0:
                        raise LiquidityUnderflow()
                    array.ticks[offset] = crossed
                    updates[(array.start, offset)] = crossed
                tick_offset = array.offset(next_tick_index, tick_spacing)
                if (a_to_b and tick_offset == 0) or (not a_to_b and tick_offset == TICK_ARRAY_SIZE - 1):
                    curr_array_index = next_array_index + 1
                else:
                    curr_array_index = next_array_index
                curr_tick_index = next_tick_index - 1 if a_to_b else next_tick_index
            elif step.next_price != curr_sqrt_price:
                curr_tick_index = tick_index_from_sqrt_price(step.next_price)
            curr_sqrt_price = step.next_price
            if amount_remaining == 0 or curr_sqrt_price == target:
                break

    if (
        amount_remaining > 0
        and not amount_specified_is_input
        and sqrt_price_limit == NO_EXPLICIT_SQRT_PRICE_LIMIT
    ):
        raise PartialFillError(f"{amount_remaining} of {amount} unfilled")

    if a_to_b == amount_specified_is_input:
        amount_a, amount_b = amount - amount_remaining, amount_calculated
    else:
        amount_a, amount_b = amount_calculated, amount - amount_remaining
    return SwapResult(
        amount_a=amount_a,
        amount_b=amount_b,
        a_to_b=a_to_b,
        lp_fee=fee_sum - curr_protocol_fee,
        protocol_fee=curr_protocol_fee,
        next_liquidity=curr_liquidity,
        next_tick_index=curr_tick_index,
        next_sqrt_price=curr_sqrt_price,
        next_fee_growth_global=curr_fee_growth,
        next_reward_growths=reward_growths,
        timestamp=timestamp,
        tick_updates=tuple(TickUpdate(s, o, t) for (s, o), t in updates.items()),
    )


def quote_exact_in(pool: Whirlpool, tick_arrays: Iterable[TickArray], amount_in: int, a_to_b: bool) -> int:
    """Output of an exact-in swap with no price limit (the search engine's hot path)."""
    return swap(pool, tick_arrays, amount_in, a_to_b=a_to_b).amount_out


def quote_exact_out(pool: Whirlpool, tick_arrays: Iterable[TickArray], amount_out: int, a_to_b: bool) -> int:
    """Input (fee included) an exact-out swap charges to deliver `amount_out`."""
    return swap(pool, tick_arrays, amount_out, a_to_b=a_to_b, amount_specified_is_input=False).amount_in


# -- exact-in quotes from a step table -----------------------------------------------------------------

class _IndexedArray(_ArrayBounds):
    """A tick array for the step table: `_SequenceArray`'s searches by bisection over the offsets
    of its initialized ticks (the table never writes ticks back)."""

    __slots__ = ("inits", "start", "ticks")

    def __init__(self, start: int, ticks: tuple[Tick, ...] | None, inits: list[int]) -> None:
        self.start = start
        self.ticks = ticks
        self.inits = inits

    def next_init_tick_index(self, tick_index: int, tick_spacing: int, a_to_b: bool) -> int | None:
        offset = self.search_offset(tick_index, tick_spacing, a_to_b)
        inits = self.inits
        if a_to_b:
            i = bisect_right(inits, offset) - 1
            return inits[i] * tick_spacing + self.start if i >= 0 else None
        i = bisect_left(inits, offset + 1)
        return inits[i] * tick_spacing + self.start if i < len(inits) else None

    def get_tick(self, tick_index: int, tick_spacing: int) -> tuple[int, Tick] | None:
        offset = self.tick_offset(tick_index, tick_spacing)
        if offset is None:
            return None
        return offset, self.ticks[offset] if self.ticks is not None else EMPTY_TICK


# Initialized offsets per tick array object: arrays are immutable and shared by the pool states
# built from them, so a pool update that leaves an array alone reuses its index.
_INDEXED: dict[int, tuple[TickArray, list[int]]] = {}
_INDEXED_MAX = 2048  # arrays kept alive by the index: bounded, cleared when full


def _indexed(array: TickArray | None, start: int) -> _IndexedArray:
    if array is None:
        return _IndexedArray(start, None, [])
    hit = _INDEXED.get(id(array))
    if hit is None or hit[0] is not array:
        if len(_INDEXED) >= _INDEXED_MAX:
            _INDEXED.clear()
        hit = (array, [i for i, t in enumerate(array.ticks) if t.initialized])
        _INDEXED[id(array)] = hit
    return _IndexedArray(array.start_tick_index, array.ticks, hit[1])


# How a step table ends: the price limit (the swap stops, partial fills allowed), the tick arrays
# (the swap fails if input is left), or something only the full swap can tell (an error on a
# crossing, an overflow): amounts that get there are quoted by `swap` itself.
_END_LIMIT = 0
_END_ARRAYS = 1
_END_SLOW = 2
_END_OPEN = 3  # the last step cannot be completed by any u64 input: every amount ends inside it


class ExactInQuoter:
    """`quote_exact_in` of one pool state and direction, from a table of the swap's full steps.

    With no price limit, an exact-in swap's steps are fixed by the state: every step but the last
    runs to the next initialized tick (or array end), and the amount a full step takes and pays
    does not depend on what is left to swap. So the table holds, per step, the smallest input
    that completes it and the cumulative input and output at its end; a quote is a bisection plus
    the one partial step, in the program's integer math. Whatever the table does not cover
    (invalid amounts, errors on a crossing, overflows) goes to `swap`, so quotes always equal
    `quote_exact_in` (tests hold it to that).

    max_liquidity: the largest liquidity any amount the swap can take trades against; with the
    current price it bounds the real output curve from above (see `core.search.dex_whirlpool`).
    """

    __slots__ = (
        "_arrays", "_built", "_cost", "_end", "_fast", "_fee_rate", "_g", "_liq", "_out",
        "_pool", "_price", "_target", "_thresholds", "a_to_b",
    )

    def __init__(self, pool: Whirlpool, tick_arrays: Iterable[TickArray], a_to_b: bool) -> None:
        self._pool = pool
        self._arrays = tuple(tick_arrays)
        self.a_to_b = a_to_b
        self._fee_rate = pool.fee_rate
        self._g = FEE_RATE_MUL_VALUE - pool.fee_rate
        # The table is built on first use: most pool states are never quoted in this direction.
        self._built = False

    def _ensure_built(self) -> None:
        self._built = True
        self._thresholds: list[int] = []  # smallest amount completing step i
        self._cost: list[int] = [0]  # input (fees included) used by the first i full steps
        self._out: list[int] = [0]  # output of the first i full steps
        self._price: list[int] = []  # step i runs from _price[i] ...
        self._target: list[int] = []  # ... towards _target[i] ...
        self._liq: list[int] = []  # ... on liquidity _liq[i]
        self._end = _END_SLOW
        self._fast = False
        try:
            self._build()
        except WhirlpoolSwapError:
            self._fast = False

    def step_ends(self) -> tuple[list[int], list[int]]:
        """(smallest amount completing each full step, input used by the first i full steps)."""
        if not self._built:
            self._ensure_built()
        return list(self._thresholds), list(self._cost)

    @property
    def max_liquidity(self) -> int:
        """At least the largest liquidity the swap can trade against: the running liquidity over
        every initialized tick of the arrays the swap walks, in its direction, from the price on
        (a superset of the crossings any amount reaches). No step math: the table is not built."""
        deepest = self._pool.liquidity
        try:
            for _, liquidity in self._crossings():
                deepest = max(deepest, liquidity)
        except WhirlpoolSwapError:
            return self._pool.liquidity
        return deepest

    @property
    def liquid_start(self) -> tuple[int, int] | None:
        """(sqrt price, liquidity) where the swap first trades against liquidity: the pool's own
        when it has some; else, as the program does, the steps across a range without liquidity
        take and pay nothing (the price moves to each next initialized tick for free) and the swap
        trades from the first tick whose crossing leaves liquidity. None if no such tick lies in the
        arrays the swap walks (or the pool is one the quoter refuses outright)."""
        pool = self._pool
        if pool.liquidity > 0:
            return pool.sqrt_price, pool.liquidity
        if pool.is_initialized_with_adaptive_fee_tier or self._g <= 0:
            return None
        try:
            for tick, liquidity in self._crossings():  # from the pool's liquidity, 0 here
                if liquidity < 0 or liquidity > U128_MAX:
                    return None  # the crossing fails in the program
                if liquidity > 0:
                    return sqrt_price_from_tick_index(tick), liquidity
        except WhirlpoolSwapError:
            return None
        return None

    def _crossings(self) -> Iterator[tuple[int, int]]:
        """(tick, running liquidity after crossing it) for each initialized tick of the arrays the
        swap walks, in its direction, from the current price on; WhirlpoolSwapError when the
        arrays do not make the program's tick sequence."""
        pool, a_to_b = self._pool, self.a_to_b
        sequence = build_tick_sequence(pool, self._arrays, a_to_b)
        liquidity = pool.liquidity
        current, spacing = pool.tick_current_index, pool.tick_spacing
        for array in sequence:
            if array is None:
                continue
            start, ticks = array.start_tick_index, array.ticks
            offsets = _indexed(array, start).inits
            for offset in reversed(offsets) if a_to_b else offsets:
                tick = start + offset * spacing
                if (a_to_b and tick > current) or (not a_to_b and tick <= current):
                    continue
                net = ticks[offset].liquidity_net
                liquidity += -net if a_to_b else net
                yield tick, liquidity

    def _build(self) -> None:
        pool, a_to_b = self._pool, self.a_to_b
        if pool.is_initialized_with_adaptive_fee_tier or self._g <= 0:
            return
        limit = MIN_SQRT_PRICE_X64 if a_to_b else MAX_SQRT_PRICE_X64
        if (a_to_b and limit >= pool.sqrt_price) or (not a_to_b and limit <= pool.sqrt_price):
            return
        sequence = build_tick_sequence(pool, self._arrays, a_to_b)
        starts = get_start_tick_indexes(pool.tick_current_index, pool.tick_spacing, a_to_b)
        arrays = [_indexed(a, s) for a, s in zip(sequence, starts, strict=False)]
        self._fast = True
        tick_spacing, fee_rate, g = pool.tick_spacing, self._fee_rate, self._g
        unfixed = get_amount_delta_b if a_to_b else get_amount_delta_a
        try_fixed = _try_amount_delta_a if a_to_b else _try_amount_delta_b
        price, tick_index, liquidity, array_index = (
            pool.sqrt_price, pool.tick_current_index, pool.liquidity, 0
        )
        cost = out = 0
        while price != limit:
            try:
                next_array_index, next_tick_index = _next_initialized_tick_index(
                    arrays, tick_index, tick_spacing, a_to_b, array_index  # type: ignore[arg-type]
                )
            except TickArraySequenceInvalidIndex:
                self._end = _END_ARRAYS
                return
            next_tick_price = sqrt_price_from_tick_index(next_tick_index)
            target = max(limit, next_tick_price) if a_to_b else min(limit, next_tick_price)
            self._price.append(price)
            self._target.append(target)
            self._liq.append(liquidity)
            try:
                amount_in = try_fixed(price, target, liquidity, True)
                if amount_in == _EXCEEDS:
                    self._end = _END_OPEN
                    return
                amount_out = unfixed(price, target, liquidity, False)
            except WhirlpoolSwapError:
                # The step's own math fails: partial steps into it are left to `swap` as well.
                self._price.pop()
                self._target.pop()
                self._end = _END_SLOW
                return
            # The step completes when floor(rest·g/1e6) ≥ amount_in, i.e. rest ≥ ceil(amount_in·1e6/g).
            self._thresholds.append(cost + -(-amount_in * FEE_RATE_MUL_VALUE // g))
            cost += amount_in + -(-(amount_in * fee_rate) // g)
            out += amount_out
            self._cost.append(cost)
            self._out.append(out)
            if out > U64_MAX:
                self._end = _END_SLOW
                return
            if target == next_tick_price:
                array = arrays[next_array_index]
                found = array.get_tick(next_tick_index, tick_spacing)
                if found is not None and found[1].initialized:
                    net = found[1].liquidity_net
                    liquidity += -net if a_to_b else net
                    if not 0 <= liquidity <= U128_MAX:
                        self._end = _END_SLOW
                        return
                tick_offset = array.offset(next_tick_index, tick_spacing)
                if (a_to_b and tick_offset == 0) or (not a_to_b and tick_offset == TICK_ARRAY_SIZE - 1):
                    array_index = next_array_index + 1
                else:
                    array_index = next_array_index
                tick_index = next_tick_index - 1 if a_to_b else next_tick_index
            price = target
        self._end = _END_LIMIT

    def __call__(self, amount_in: int) -> int:
        if not self._built:
            self._ensure_built()
        if not self._fast or not 0 < amount_in <= U64_MAX:
            return self._slow(amount_in)
        thresholds = self._thresholds
        k = bisect_right(thresholds, amount_in)
        rest = amount_in - self._cost[k]
        if k == len(self._price):
            # Every step in the table completed.
            end = self._end
            if end == _END_LIMIT or (end == _END_ARRAYS and rest == 0):
                return self._out[k]
            if end == _END_ARRAYS:
                raise TickArraySequenceInvalidIndex("the swap ran past the last tick array supplied")
            return self._slow(amount_in)
        if rest == 0:
            return self._out[k]
        # The partial step: it stops short of its target (rest is below the threshold), so the
        # swap ends with it; the program's amount_in of it never exceeds `rest` (rounding up only
        # lands the price short of the amount's real reach).
        price, liquidity = self._price[k], self._liq[k]
        amount = rest * self._g // FEE_RATE_MUL_VALUE
        try:
            if self.a_to_b:
                next_price = get_next_sqrt_price_from_a_round_up(price, liquidity, amount, True)
                if next_price == self._target[k]:
                    return self._slow(amount_in)
                if self._end == _END_OPEN and get_amount_delta_a(price, next_price, liquidity, True) > rest:
                    return self._slow(amount_in)
                out = self._out[k] + get_amount_delta_b(price, next_price, liquidity, False)
            else:
                next_price = get_next_sqrt_price_from_b_round_down(price, liquidity, amount, True)
                if next_price == self._target[k]:
                    return self._slow(amount_in)
                out = self._out[k] + get_amount_delta_a(price, next_price, liquidity, False)
        except WhirlpoolSwapError:
            return self._slow(amount_in)
        if out > U64_MAX:
            return self._slow(amount_in)
        return out

    def _slow(self, amount_in: int) -> int:
        return quote_exact_in(self._pool, self._arrays, amount_in, self.a_to_b)

    def piece(self, amount_in: int) -> tuple[int, float, float, float, float] | None:
        """The swap's real curve around `amount_in`: (step, C, O, R, K) with
        out ≈ O + R·(x − C) / (1 + K·(x − C)) for every x ending in the same step (the constant
        product on that step's virtual reserves, fee folded into R and K); None where the table
        does not describe the amount (the full swap would be needed, or it fails)."""
        if not self._built:
            self._ensure_built()
        if not self._fast or not 0 < amount_in <= U64_MAX:
            return None
        k = bisect_right(self._thresholds, amount_in)
        if k == len(self._price):
            if self._end == _END_LIMIT:
                return k, float(self._cost[k]), float(self._out[k]), 0.0, 0.0
            return None
        liquidity = self._liq[k]
        if liquidity <= 0:
            return None
        gamma = self._g / FEE_RATE_MUL_VALUE
        sp = self._price[k] / 18446744073709551616.0
        if self.a_to_b:
            rate, curv = gamma * sp * sp, gamma * sp / liquidity
        else:
            rate, curv = gamma / (sp * sp), gamma / (sp * liquidity)
        return k, float(self._cost[k]), float(self._out[k]), rate, curv


__all__ = [
    "ERROR_BY_CODE",
    "ExactInQuoter",
    "SwapResult",
    "SwapStep",
    "TickUpdate",
    "UnsupportedAdaptiveFee",
    "WhirlpoolRewardInfo",
    "WhirlpoolSwapError",
    "build_tick_sequence",
    "compute_swap",
    "get_amount_delta_a",
    "get_amount_delta_b",
    "get_next_sqrt_price",
    "next_reward_growths",
    "quote_exact_in",
    "quote_exact_out",
    "sqrt_price_from_tick_index",
    "swap",
    "tick_index_from_sqrt_price",
]
