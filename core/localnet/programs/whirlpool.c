/*
 * Orca Whirlpool emulator (program id whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc): `swap` and
 * `swap_v2` on the real 653-byte Whirlpool and the fixed 9988-byte TickArray.
 *
 * Reproduces orca-so/whirlpools `programs/whirlpool/src/`: the account checks of
 * `instructions/swap.rs` and `instructions/v2/swap.rs` (Anchor constraint and account errors,
 * numbered as anchor-lang `error.rs`), the tick-array sequence of `util/sparse_swap.rs`
 * (dedup, owner / discriminator / whirlpool checks, uninitialized arrays accepted at their PDA),
 * the swap loop of `manager/swap_manager.rs` with `math/swap_math.rs`, `math/token_math.rs`,
 * `math/tick_math.rs` and the 256-bit intermediates of `math/u256_math.rs`, tick crossing
 * (`manager/tick_manager.rs` next_tick_cross_update: fee and reward growth outside flipped),
 * reward growth (`manager/whirlpool_manager.rs`), `Whirlpool::update_after_swap`, and the token
 * movements of `util/swap_utils.rs` (user -> vault signed by the user, vault -> user signed by
 * the whirlpool PDA [b"whirlpool", config, mint_a, mint_b, fee_tier_index_seed, bump]).
 * Custom errors are `errors.rs` ErrorCode, 6000 + position.
 *
 * Not emulated: adaptive-fee pools (oracle volatility state), DynamicTickArray accounts,
 * remaining_accounts_info slices (supplemental tick arrays, transfer hooks) and Token-2022
 * mints with extensions; each is refused with a log line.
 *
 * The Python quoter (core/quote/whirlpool.py) states the same arithmetic; tests hold the two to
 * the same integers and the same post-swap state.
 */
#include "sol.h"

/* ErrorCode (errors.rs). */
#define E_INVALID_TICK_SPACING 6004
#define E_DIVIDE_BY_ZERO 6006
#define E_NUMBER_CAST_ERROR 6007
#define E_NUMBER_DOWN_CAST_ERROR 6008
#define E_SQRT_PRICE_OUT_OF_BOUNDS 6011
#define E_LIQUIDITY_OVERFLOW 6014
#define E_LIQUIDITY_UNDERFLOW 6015
#define E_TOKEN_MAX_EXCEEDED 6017
#define E_TOKEN_MIN_SUBCEEDED 6018
#define E_INVALID_TIMESTAMP_CONVERSION 6021
#define E_INVALID_TIMESTAMP 6022
#define E_INVALID_TICK_ARRAY_SEQUENCE 6023
#define E_MULTIPLICATION_SHIFT_RIGHT_OVERFLOW 6030
#define E_MULTIPLICATION_OVERFLOW 6033
#define E_INVALID_SQRT_PRICE_LIMIT_DIRECTION 6034
#define E_ZERO_TRADABLE_AMOUNT 6035
#define E_AMOUNT_OUT_BELOW_MINIMUM 6036
#define E_AMOUNT_IN_ABOVE_MAXIMUM 6037
#define E_TICK_ARRAY_SEQUENCE_INVALID_INDEX 6038
#define E_AMOUNT_CALC_OVERFLOW 6039
#define E_AMOUNT_REMAINING_OVERFLOW 6040
#define E_UNSUPPORTED_TOKEN_MINT 6047
#define E_REMAINING_ACCOUNTS_INVALID_SLICE 6048
#define E_DIFFERENT_WHIRLPOOL_TICK_ARRAY_ACCOUNT 6056
#define E_PARTIAL_FILL_ERROR 6057

/* anchor-lang ErrorCode. */
#define A_INSTRUCTION_MISSING 100
#define A_INSTRUCTION_FALLBACK_NOT_FOUND 101
#define A_INSTRUCTION_DID_NOT_DESERIALIZE 102
#define A_CONSTRAINT_MUT 2000
#define A_CONSTRAINT_RAW 2003
#define A_CONSTRAINT_SEEDS 2006
#define A_CONSTRAINT_ADDRESS 2012
#define A_ACCOUNT_DISCRIMINATOR_NOT_FOUND 3001
#define A_ACCOUNT_DISCRIMINATOR_MISMATCH 3002
#define A_ACCOUNT_DID_NOT_DESERIALIZE 3003
#define A_ACCOUNT_NOT_ENOUGH_KEYS 3005
#define A_ACCOUNT_NOT_MUTABLE 3006
#define A_ACCOUNT_OWNED_BY_WRONG_PROGRAM 3007
#define A_INVALID_PROGRAM_ID 3008
#define A_INVALID_PROGRAM_EXECUTABLE 3009
#define A_ACCOUNT_NOT_SIGNER 3010

/* Whirlpool account (state/whirlpool.rs, Borsh, 8-byte discriminator). */
#define WHIRLPOOL_LEN 653
#define OFF_CONFIG 8
#define OFF_BUMP 40
#define OFF_TICK_SPACING 41
#define OFF_FEE_TIER_INDEX_SEED 43
#define OFF_FEE_RATE 45
#define OFF_PROTOCOL_FEE_RATE 47
#define OFF_LIQUIDITY 49
#define OFF_SQRT_PRICE 65
#define OFF_TICK_CURRENT_INDEX 81
#define OFF_PROTOCOL_FEE_OWED_A 85
#define OFF_PROTOCOL_FEE_OWED_B 93
#define OFF_TOKEN_MINT_A 101
#define OFF_TOKEN_VAULT_A 133
#define OFF_FEE_GROWTH_GLOBAL_A 165
#define OFF_TOKEN_MINT_B 181
#define OFF_TOKEN_VAULT_B 213
#define OFF_FEE_GROWTH_GLOBAL_B 245
#define OFF_REWARD_LAST_UPDATED 261
#define OFF_REWARD_INFOS 269
#define REWARD_INFO_LEN 128
#define REWARD_OFF_EMISSIONS 96
#define REWARD_OFF_GROWTH 112
#define NUM_REWARDS 3

/* Fixed TickArray (state/fixed_tick_array.rs, #[repr(C, packed)]). */
#define TICK_ARRAY_LEN 9988
#define TICK_ARRAY_SIZE 88
#define TICK_LEN 113
#define OFF_TA_START 8
#define OFF_TA_TICKS 12
#define OFF_TA_WHIRLPOOL 9956
#define TICK_OFF_LIQUIDITY_NET 1
#define TICK_OFF_FEE_GROWTH_OUTSIDE_A 33
#define TICK_OFF_FEE_GROWTH_OUTSIDE_B 49
#define TICK_OFF_REWARD_GROWTHS 65

#define MIN_TICK_INDEX (-443636)
#define MAX_TICK_INDEX 443636
#define MIN_SQRT_PRICE_X64 ((u128)4295048016UL)
#define MAX_SQRT_PRICE_X64 (((u128)0xfffec4b1UL << 64) | 0x35bb7f32a81b33afUL)
#define FEE_RATE_MUL_VALUE 1000000UL
#define PROTOCOL_FEE_RATE_MUL_VALUE 10000UL

#define SPL_TOKEN_TRANSFER_CHECKED 12
#define SPL_MINT_LEN 82
#define SPL_ACCOUNT_STATE_OFFSET 108

static const uint8_t WHIRLPOOL_DISC[8] = {0x3f, 0x95, 0xd1, 0x0c, 0xe1, 0x80, 0x63, 0x09};
static const uint8_t TICK_ARRAY_DISC[8] = {0x45, 0x61, 0xbd, 0xbe, 0x6e, 0x07, 0x42, 0xbb};
static const uint8_t DYNAMIC_TICK_ARRAY_DISC[8] = {0x11, 0xd8, 0xf6, 0x8e, 0xe1, 0xc7, 0xda, 0x38};
static const uint8_t SWAP_DISC[8] = {0xf8, 0xc6, 0x9e, 0x91, 0xe1, 0x75, 0x87, 0xc8};
static const uint8_t SWAP_V2_DISC[8] = {0x2b, 0x04, 0xed, 0x0b, 0x1a, 0xc9, 0x1e, 0x62};

static const SolPubkey TOKEN_2022_PROGRAM_ID = {{6,   221, 246, 225, 238, 117, 143, 222, 24,  66,  93,
                                                  188, 228, 108, 205, 218, 182, 26,  252, 77,  131, 185,
                                                  13,  39,  254, 189, 249, 40,  216, 161, 139, 252}};
static const SolPubkey MEMO_PROGRAM_ID = {{5,   74,  83,  90,  153, 41,  33,  6,   77,  36,  232,
                                           113, 96,  218, 56,  124, 124, 53,  181, 221, 188, 146,
                                           187, 129, 228, 31,  168, 64,  65,  5,   68,  141}};

#define NOINLINE static __attribute__((noinline))
#define TICK_NONE ((int64_t)1 << 40) /* "no initialized tick in this array" */

SOL_INLINE bool bytes_eq8(const uint8_t *a, const uint8_t *b) {
  uint8_t d = 0;
  for (int i = 0; i < 8; i++) d |= a[i] ^ b[i];
  return d == 0;
}

SOL_INLINE bool pubkey_is_zero(const uint8_t *p) {
  uint8_t d = 0;
  for (int i = 0; i < 32; i++) d |= p[i];
  return d == 0;
}

/* ---------------------------------------------------------------------------------------
 * 256-bit integers as eight 32-bit digits (little-endian), as U256Muldiv in u256_math.rs.
 */
typedef struct {
  uint32_t w[8];
} U256;

SOL_INLINE void u256_from_u128(U256 *x, u128 v) {
  x->w[0] = (uint32_t)v;
  x->w[1] = (uint32_t)(v >> 32);
  x->w[2] = (uint32_t)(v >> 64);
  x->w[3] = (uint32_t)(v >> 96);
  x->w[4] = x->w[5] = x->w[6] = x->w[7] = 0;
}

SOL_INLINE u128 u256_low_u128(const U256 *x) {
  return (u128)x->w[0] | ((u128)x->w[1] << 32) | ((u128)x->w[2] << 64) | ((u128)x->w[3] << 96);
}

SOL_INLINE bool u256_fits_u128(const U256 *x) { return (x->w[4] | x->w[5] | x->w[6] | x->w[7]) == 0; }

SOL_INLINE int u256_digits(const U256 *x) {
  for (int i = 7; i >= 0; i--)
    if (x->w[i] != 0) return i + 1;
  return 0;
}

/* a * b, full 256-bit product (mul_u256), from four 64x64 partial products. */
NOINLINE void u256_mul128(const u128 *a, const u128 *b, U256 *out) {
  uint64_t a0 = (uint64_t)*a, a1 = (uint64_t)(*a >> 64), b0 = (uint64_t)*b, b1 = (uint64_t)(*b >> 64);
  u128 p00 = u128_mul64(a0, b0);
  u128 p01 = (a0 && b1) ? u128_mul64(a0, b1) : 0;
  u128 p10 = (a1 && b0) ? u128_mul64(a1, b0) : 0;
  u128 p11 = (a1 && b1) ? u128_mul64(a1, b1) : 0;
  u128 mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10; /* < 2^66 */
  u128 high = (mid >> 64) + (p01 >> 64) + (p10 >> 64) + p11; /* the product's top 128 bits */
  uint64_t r[4] = {(uint64_t)p00, (uint64_t)mid, (uint64_t)high, (uint64_t)(high >> 64)};
  for (int i = 0; i < 4; i++) {
    out->w[2 * i] = (uint32_t)r[i];
    out->w[2 * i + 1] = (uint32_t)(r[i] >> 32);
  }
}

/* x <<= 64; false when the top 64 bits were not empty (checked_shift_word_left). */
SOL_INLINE bool u256_checked_shift_word_left(U256 *x) {
  if ((x->w[6] | x->w[7]) != 0) return false;
  for (int i = 7; i >= 2; i--) x->w[i] = x->w[i - 2];
  x->w[0] = x->w[1] = 0;
  return true;
}

SOL_INLINE void u256_add(U256 *x, const U256 *y) {
  uint64_t c = 0;
  for (int i = 0; i < 8; i++) {
    uint64_t t = (uint64_t)x->w[i] + y->w[i] + c;
    x->w[i] = (uint32_t)t;
    c = t >> 32;
  }
}

SOL_INLINE void u256_sub(U256 *x, const U256 *y) {
  uint64_t borrow = 0;
  for (int i = 0; i < 8; i++) {
    uint64_t t = (uint64_t)x->w[i] - y->w[i] - borrow;
    x->w[i] = (uint32_t)t;
    borrow = (t >> 32) != 0;
  }
}

SOL_INLINE void u256_add_one(U256 *x) {
  for (int i = 0; i < 8; i++) {
    x->w[i] += 1;
    if (x->w[i] != 0) return;
  }
}

SOL_INLINE bool u256_le(const U256 *a, const U256 *b) {
  for (int i = 7; i >= 0; i--) {
    if (a->w[i] < b->w[i]) return true;
    if (a->w[i] > b->w[i]) return false;
  }
  return true;
}

SOL_INLINE int clz32(uint32_t x) {
  int n = 0;
  if ((x >> 16) == 0) { n += 16; x <<= 16; }
  if ((x >> 24) == 0) { n += 8; x <<= 8; }
  if ((x >> 28) == 0) { n += 4; x <<= 4; }
  if ((x >> 30) == 0) { n += 2; x <<= 2; }
  if ((x >> 31) == 0) { n += 1; }
  return n;
}

/* q = n / d (d != 0); *rem_nonzero tells whether the division was inexact. Knuth's algorithm D
 * on 32-bit digits (Hacker's Delight `divmnu`), using only 64-bit unsigned division. */
NOINLINE void u256_div(const U256 *n_, const U256 *d_, U256 *q, bool *rem_nonzero) {
  const uint32_t *u = n_->w, *v = d_->w;
  int m = u256_digits(n_), n = u256_digits(d_);
  for (int i = 0; i < 8; i++) q->w[i] = 0;
  if (m < n) {
    *rem_nonzero = m != 0;
    return;
  }
  if (n == 1) {
    uint64_t k = 0;
    for (int j = m - 1; j >= 0; j--) {
      uint64_t cur = (k << 32) | u[j];
      uint64_t qd = cur / v[0];
      q->w[j] = (uint32_t)qd;
      k = cur - qd * v[0];
    }
    *rem_nonzero = k != 0;
    return;
  }
  const uint64_t b = 1UL << 32;
  int s = clz32(v[n - 1]);
  uint32_t vn[8], un[9];
  for (int i = n - 1; i > 0; i--) vn[i] = (v[i] << s) | (uint32_t)((uint64_t)v[i - 1] >> (32 - s));
  vn[0] = v[0] << s;
  un[m] = (uint32_t)((uint64_t)u[m - 1] >> (32 - s));
  for (int i = m - 1; i > 0; i--) un[i] = (u[i] << s) | (uint32_t)((uint64_t)u[i - 1] >> (32 - s));
  un[0] = u[0] << s;
  for (int j = m - n; j >= 0; j--) {
    uint64_t num = ((uint64_t)un[j + n] << 32) | un[j + n - 1];
    uint64_t qhat = num / vn[n - 1];
    uint64_t rhat = num - qhat * vn[n - 1];
    while (qhat >= b || qhat * vn[n - 2] > ((rhat << 32) | un[j + n - 2])) {
      qhat -= 1;
      rhat += vn[n - 1];
      if (rhat >= b) break;
    }
    int64_t k = 0, t;
    for (int i = 0; i < n; i++) {
      uint64_t p = qhat * vn[i];
      t = (int64_t)un[i + j] - k - (int64_t)(p & 0xffffffffUL);
      un[i + j] = (uint32_t)t;
      k = (int64_t)(p >> 32) - (t >> 32);
    }
    t = (int64_t)un[j + n] - k;
    un[j + n] = (uint32_t)t;
    q->w[j] = (uint32_t)qhat;
    if (t < 0) {
      q->w[j] -= 1;
      uint64_t c = 0;
      for (int i = 0; i < n; i++) {
        uint64_t sum = (uint64_t)un[i + j] + vn[i] + c;
        un[i + j] = (uint32_t)sum;
        c = sum >> 32;
      }
      un[j + n] += (uint32_t)c;
    }
  }
  uint32_t r = 0;
  for (int i = 0; i < n; i++) r |= un[i];
  *rem_nonzero = r != 0;
}

/* ---------------------------------------------------------------------------------------
 * tick_math.rs: sqrt_price_from_tick_index (bit-magic constants) and its inverse.
 */
static const uint64_t POSITIVE_TICK_RATIOS[18][2] = {
    {0x100068db8UL, 0xbac710cb295e9e1bUL},   {0x1000d1b9cUL, 0x68abe5f76b30fb75UL},
    {0x1001a37e4UL, 0xa234cb0830516e51UL},   {0x100347278UL, 0xab0e92ada25ab460UL},
    {0x10068efb0UL, 0xa525480a5d7fdc2UL},    {0x100d20a63UL, 0xb4173839df9daaa5UL},
    {0x101a4c11cUL, 0x742dd7729738df5eUL},   {0x1034c35c3UL, 0x1f64cfa6dc0d6de4UL},
    {0x106a34b78UL, 0xc8aaffbf81bed5a3UL},   {0x10d72a6a4UL, 0x6ccd8bce9ae771b1UL},
    {0x11b9a258eUL, 0x63928596dc757faaUL},   {0x13a2e2bdaUL, 0x4f8379f3cd17be5UL},
    {0x181954be6UL, 0x9e0da8fe77f2ab42UL},   {0x244c2655dUL, 0x185a029080252877UL},
    {0x525816eebUL, 0x9f935b1c616779e8UL},   {0x1a7c8d00b5UL, 0x51684ff4d31ae065UL},
    {0x2bd893d0b2dUL, 0xf7c97884590c66cdUL}, {0x78278e1e19e44UL, 0x8cf8b95d2152dccfUL},
};
static const uint64_t NEGATIVE_TICK_RATIOS[18] = {
    0xfff97272373d4132UL, 0xfff2e50f5f656932UL, 0xffe5caca7e10e4e6UL, 0xffcb9843d60f6159UL,
    0xff973b41fa98c081UL, 0xff2ea16466c96a38UL, 0xfe5dee046a99a2a8UL, 0xfcbe86c7900a88aeUL,
    0xf987a7253ac41317UL, 0xf3392b0822b70005UL, 0xe7159475a2c29b74UL, 0xd097f3bdfd2022b8UL,
    0xa9f746462d870fdfUL, 0x70d869a156d2a1b8UL, 0x31be135f97d08fd9UL, 0x9aa508b5b7a84e1UL,
    0x5d6af8dedb8119UL,   0x2216e584f5faUL,
};

NOINLINE void sqrt_price_from_tick_index(int32_t tick, u128 *out) {
  U256 p;
  u128 ratio, factor;
  if (tick >= 0) {
    uint32_t t = (uint32_t)tick;
    ratio = (t & 1) ? (((u128)0x1000346d6UL << 64) | 0xff11672ae55ad00fUL) : ((u128)0x100000000UL << 64);
    for (int i = 0; i < 18; i++) {
      if (t & (2u << i)) {
        factor = ((u128)POSITIVE_TICK_RATIOS[i][0] << 64) | POSITIVE_TICK_RATIOS[i][1];
        u256_mul128(&ratio, &factor, &p);
        /* >> 96: digits 3..6 */
        ratio = (u128)p.w[3] | ((u128)p.w[4] << 32) | ((u128)p.w[5] << 64) | ((u128)p.w[6] << 96);
      }
    }
    *out = ratio >> 32;
  } else {
    uint32_t t = (uint32_t)(-(int64_t)tick);
    /* ratio <= 2^64 and each factor < 2^64: (ratio * factor) >> 64 needs one 64x64 product,
     * except while ratio is exactly 2^64, where the product is the factor itself. */
    bool is_one = (t & 1) == 0;
    uint64_t r64 = 18445821805675392311UL;
    for (int i = 0; i < 18; i++) {
      if (t & (2u << i)) {
        r64 = is_one ? NEGATIVE_TICK_RATIOS[i] : (uint64_t)(u128_mul64(r64, NEGATIVE_TICK_RATIOS[i]) >> 64);
        is_one = false;
      }
    }
    *out = is_one ? ((u128)1 << 64) : (u128)r64;
    (void)p;
    (void)factor;
  }
}

NOINLINE int32_t tick_index_from_sqrt_price(const u128 *sqrt_price) {
  uint64_t hi = (uint64_t)(*sqrt_price >> 64), lo = (uint64_t)*sqrt_price;
  int64_t msb = hi != 0 ? 127 - (int64_t)u64_clz(hi) : 63 - (int64_t)u64_clz(lo);
  uint64_t r;
  if (msb >= 64) {
    uint64_t k = (uint64_t)(msb - 63); /* 1..64 */
    r = k == 64 ? hi : (lo >> k) | (hi << (64 - k));
  } else {
    r = lo << (uint64_t)(63 - msb);
  }
  int64_t log2p_integer_x32 = (msb - 64) * 4294967296L;
  uint64_t bit = 0x8000000000000000UL, fraction_x64 = 0;
  for (int precision = 0; precision < 14 && bit > 0; precision++) {
    u128 square = u128_mul64(r, r);
    if ((square >> 127) != 0) {
      r = (uint64_t)(square >> 64);
      fraction_x64 += bit;
    } else {
      r = (uint64_t)(square >> 63);
    }
    bit >>= 1;
  }
  int64_t log2p_x32 = log2p_integer_x32 + (int64_t)(fraction_x64 >> 32);
  uint64_t magnitude = log2p_x32 < 0 ? (uint64_t)(-log2p_x32) : (uint64_t)log2p_x32;
  u128 product = u128_mul64(magnitude, 59543866431248UL);
  u128 logbp_x64 = log2p_x32 < 0 ? (u128)0 - product : product; /* i128 as two's complement */
  u128 low = logbp_x64 - (u128)184467440737095516UL;
  u128 high = logbp_x64 + (u128)15793534762490258745UL;
  /* An arithmetic >> 64 of a two's-complement i128 is its high word read as signed. */
  int32_t tick_low = (int32_t)(int64_t)(uint64_t)(low >> 64);
  int32_t tick_high = (int32_t)(int64_t)(uint64_t)(high >> 64);
  if (tick_low == tick_high) return tick_low;
  u128 high_price;
  sqrt_price_from_tick_index(tick_high, &high_price);
  return high_price <= *sqrt_price ? tick_high : tick_low;
}

/* ---------------------------------------------------------------------------------------
 * token_math.rs. Each returns 0 or the ErrorCode the Rust function returns.
 */
SOL_INLINE void order_prices(const u128 *p0, const u128 *p1, u128 *lower, u128 *upper) {
  if (*p0 > *p1) {
    *lower = *p1;
    *upper = *p0;
  } else {
    *lower = *p0;
    *upper = *p1;
  }
}

/* get_amount_delta_a: ceil/floor(L * (hi - lo) * 2^64 / (hi * lo)). 6008 / 6017 mean "above
 * u64" (try_get_amount_delta_a's ExceedsMax); 6033 is a hard error. */
NOINLINE uint64_t get_amount_delta_a(const u128 *p0, const u128 *p1, const u128 *liquidity, bool round_up,
                                     uint64_t *out) {
  u128 lower, upper;
  order_prices(p0, p1, &lower, &upper);
  u128 diff = upper - lower;
  U256 numerator, denominator, quotient;
  u256_mul128(liquidity, &diff, &numerator);
  if (!u256_checked_shift_word_left(&numerator)) return E_MULTIPLICATION_OVERFLOW;
  u256_mul128(&upper, &lower, &denominator);
  bool inexact;
  u256_div(&numerator, &denominator, &quotient, &inexact);
  if (round_up && inexact) u256_add_one(&quotient);
  if (!u256_fits_u128(&quotient)) return E_NUMBER_DOWN_CAST_ERROR;
  u128 result = u256_low_u128(&quotient);
  if ((result >> 64) != 0) return E_TOKEN_MAX_EXCEEDED;
  *out = (uint64_t)result;
  return SUCCESS;
}

/* get_amount_delta_b: L * (hi - lo) / 2^64. Both errors mean "above u64". */
NOINLINE uint64_t get_amount_delta_b(const u128 *p0, const u128 *p1, const u128 *liquidity, bool round_up,
                                     uint64_t *out) {
  u128 lower, upper, product;
  order_prices(p0, p1, &lower, &upper);
  u128 diff = upper - lower;
  if (*liquidity == 0 || diff == 0) {
    *out = 0;
    return SUCCESS;
  }
  if (!u128_mul(*liquidity, diff, &product)) return E_MULTIPLICATION_SHIFT_RIGHT_OVERFLOW;
  uint64_t result = (uint64_t)(product >> 64);
  if (round_up && (uint64_t)product != 0) {
    if (result == U64_MAX) return E_MULTIPLICATION_OVERFLOW;
    result += 1;
  }
  *out = result;
  return SUCCESS;
}

SOL_INLINE bool delta_a_exceeds(uint64_t err) { return err == E_NUMBER_DOWN_CAST_ERROR || err == E_TOKEN_MAX_EXCEEDED; }
SOL_INLINE bool delta_b_exceeds(uint64_t err) {
  return err == E_MULTIPLICATION_SHIFT_RIGHT_OVERFLOW || err == E_MULTIPLICATION_OVERFLOW;
}

/* sqrt_price * L * 2^64 / (L * 2^64 +- amount * sqrt_price), rounded up. */
NOINLINE uint64_t next_sqrt_price_from_a_round_up(const u128 *sqrt_price, const u128 *liquidity, uint64_t amount,
                                                  bool is_input, u128 *out) {
  if (amount == 0) {
    *out = *sqrt_price;
    return SUCCESS;
  }
  U256 product, numerator, denominator, quotient;
  u128 amount128 = amount;
  u256_mul128(sqrt_price, &amount128, &product);
  u256_mul128(liquidity, sqrt_price, &numerator);
  if (!u256_checked_shift_word_left(&numerator)) return E_MULTIPLICATION_OVERFLOW;
  u256_from_u128(&denominator, *liquidity);
  u256_checked_shift_word_left(&denominator); /* L < 2^128: always fits */
  if (!is_input && u256_le(&denominator, &product)) return E_DIVIDE_BY_ZERO;
  if (is_input) u256_add(&denominator, &product);
  else u256_sub(&denominator, &product);
  bool inexact;
  u256_div(&numerator, &denominator, &quotient, &inexact);
  if (inexact) u256_add_one(&quotient);
  if (!u256_fits_u128(&quotient)) return E_NUMBER_DOWN_CAST_ERROR;
  u128 price = u256_low_u128(&quotient);
  if (price < MIN_SQRT_PRICE_X64) return E_TOKEN_MIN_SUBCEEDED;
  if (price > MAX_SQRT_PRICE_X64) return E_TOKEN_MAX_EXCEEDED;
  *out = price;
  return SUCCESS;
}

/* sqrt_price +- amount * 2^64 / L (floor when adding, ceil when removing). */
NOINLINE uint64_t next_sqrt_price_from_b_round_down(const u128 *sqrt_price, const u128 *liquidity, uint64_t amount,
                                                    bool is_input, u128 *out) {
  if (*liquidity == 0) return E_DIVIDE_BY_ZERO;
  u128 amount_x64 = (u128)amount << 64, remainder;
  u128 delta = u128_divmod(amount_x64, *liquidity, &remainder);
  if (!is_input && remainder != 0) delta += 1;
  if (is_input) {
    if (!u128_add(*sqrt_price, delta, out)) return E_SQRT_PRICE_OUT_OF_BOUNDS;
  } else {
    if (!u128_sub(*sqrt_price, delta, out)) return E_SQRT_PRICE_OUT_OF_BOUNDS;
  }
  return SUCCESS;
}

/* ---------------------------------------------------------------------------------------
 * swap_math.rs compute_swap.
 */
typedef struct {
  u128 liquidity;
  u128 sqrt_price_current;
  u128 sqrt_price_target;
  uint64_t amount_remaining;
  uint32_t fee_rate;
  bool amount_specified_is_input;
  bool a_to_b;
} StepInput;

typedef struct {
  u128 next_price;
  uint64_t amount_in;
  uint64_t amount_out;
  uint64_t fee_amount;
} StepOutput;

SOL_INLINE uint64_t amount_delta(bool token_a, const u128 *p0, const u128 *p1, const u128 *liquidity, bool round_up,
                                 uint64_t *out) {
  return token_a ? get_amount_delta_a(p0, p1, liquidity, round_up, out)
                 : get_amount_delta_b(p0, p1, liquidity, round_up, out);
}

NOINLINE uint64_t compute_swap(const StepInput *in, StepOutput *out) {
  bool is_input = in->amount_specified_is_input;
  bool fixes_a = in->a_to_b == is_input;
  uint64_t err;

  uint64_t initial_fixed = 0;
  bool initial_exceeds = false;
  err = amount_delta(fixes_a, &in->sqrt_price_current, &in->sqrt_price_target, &in->liquidity, is_input,
                     &initial_fixed);
  if (err != SUCCESS) {
    if (fixes_a ? delta_a_exceeds(err) : delta_b_exceeds(err)) initial_exceeds = true;
    else return err;
  }

  uint64_t amount_calc = in->amount_remaining;
  if (is_input) {
    /* checked_mul_div(amount, 1e6 - fee_rate, 1e6) < 2^64 */
    amount_calc = (uint64_t)u128_divmod64(u128_mul64(in->amount_remaining, FEE_RATE_MUL_VALUE - in->fee_rate),
                                          FEE_RATE_MUL_VALUE, NULL);
  }

  u128 next_price;
  if (!initial_exceeds && amount_calc >= initial_fixed) {
    next_price = in->sqrt_price_target;
  } else if (fixes_a) {
    err = next_sqrt_price_from_a_round_up(&in->sqrt_price_current, &in->liquidity, amount_calc, is_input, &next_price);
    if (err != SUCCESS) return err;
  } else {
    err = next_sqrt_price_from_b_round_down(&in->sqrt_price_current, &in->liquidity, amount_calc, is_input,
                                            &next_price);
    if (err != SUCCESS) return err;
  }
  bool is_max_swap = next_price == in->sqrt_price_target;

  uint64_t amount_unfixed;
  err = amount_delta(!fixes_a, &in->sqrt_price_current, &next_price, &in->liquidity, !is_input, &amount_unfixed);
  if (err != SUCCESS) return err;

  uint64_t amount_fixed = initial_fixed;
  if (!is_max_swap || initial_exceeds) {
    err = amount_delta(fixes_a, &in->sqrt_price_current, &next_price, &in->liquidity, is_input, &amount_fixed);
    if (err != SUCCESS) return err;
  }

  uint64_t amount_in, amount_out;
  if (is_input) {
    amount_in = amount_fixed;
    amount_out = amount_unfixed;
  } else {
    amount_in = amount_unfixed;
    amount_out = amount_fixed > in->amount_remaining ? in->amount_remaining : amount_fixed;
  }

  uint64_t fee_amount;
  if (is_input && !is_max_swap) {
    fee_amount = in->amount_remaining - amount_in;
  } else if (!u64_mul_div_ceil(amount_in, in->fee_rate, FEE_RATE_MUL_VALUE - in->fee_rate, &fee_amount)) {
    return E_NUMBER_CAST_ERROR;
  }
  out->next_price = next_price;
  out->amount_in = amount_in;
  out->amount_out = amount_out;
  out->fee_amount = fee_amount;
  return SUCCESS;
}

/* ---------------------------------------------------------------------------------------
 * Tick arrays and the swap tick sequence (swap_tick_sequence.rs, fixed_tick_array.rs).
 */
typedef struct {
  uint8_t *data; /* account data of an initialized array; NULL for an uninitialized PDA (all ticks empty) */
  int64_t start;
} SeqArray;

SOL_INLINE int64_t floor_div(int64_t a, uint64_t d) {
  if (a >= 0) return (int64_t)((uint64_t)a / d);
  return -(int64_t)(((uint64_t)(-a) + d - 1) / d);
}

SOL_INLINE uint8_t *tick_ptr(const SeqArray *array, int64_t offset) {
  return array->data + OFF_TA_TICKS + (uint64_t)offset * TICK_LEN;
}

SOL_INLINE bool tick_initialized(const SeqArray *array, int64_t offset) {
  return array->data != NULL && tick_ptr(array, offset)[0] != 0;
}

/* Next initialized tick of one array, or *found = false (get_next_init_tick_index). */
NOINLINE uint64_t array_next_init_tick(const SeqArray *array, int64_t tick_index, int64_t tick_spacing, bool a_to_b,
                                       int64_t *found) {
  int64_t lower = array->start, upper = array->start + TICK_ARRAY_SIZE * tick_spacing;
  if (!a_to_b) {
    lower -= tick_spacing;
    upper -= tick_spacing;
  }
  if (tick_index < lower || tick_index >= upper) return E_INVALID_TICK_ARRAY_SEQUENCE;
  int64_t offset = floor_div(tick_index - array->start, (uint64_t)tick_spacing);
  if (!a_to_b) offset += 1;
  while (offset >= 0 && offset < TICK_ARRAY_SIZE) {
    if (tick_initialized(array, offset)) {
      *found = offset * tick_spacing + array->start;
      return SUCCESS;
    }
    offset += a_to_b ? -1 : 1;
  }
  *found = TICK_NONE;
  return SUCCESS;
}

typedef struct {
  SeqArray arrays[3];
  uint64_t n_arrays;
  int64_t tick_spacing;
} Sequence;

/* get_next_initialized_tick_index: *array_index is the array to start from, then the array the
 * tick was found in. */
NOINLINE uint64_t next_initialized_tick_index(const Sequence *seq, int64_t tick_index, bool a_to_b,
                                              uint64_t *array_index, int64_t *next_tick) {
  int64_t ticks_in_array = TICK_ARRAY_SIZE * seq->tick_spacing;
  int64_t search = tick_index;
  uint64_t idx = *array_index;
  for (;;) {
    if (idx >= seq->n_arrays) return E_TICK_ARRAY_SEQUENCE_INVALID_INDEX;
    const SeqArray *array = &seq->arrays[idx];
    int64_t found;
    uint64_t err = array_next_init_tick(array, search, seq->tick_spacing, a_to_b, &found);
    if (err != SUCCESS) return err;
    *array_index = idx;
    if (found != TICK_NONE) {
      *next_tick = found;
      return SUCCESS;
    }
    if (a_to_b && array->start <= MIN_TICK_INDEX) {
      *next_tick = MIN_TICK_INDEX;
      return SUCCESS;
    }
    if (!a_to_b && array->start + ticks_in_array > MAX_TICK_INDEX) {
      *next_tick = MAX_TICK_INDEX;
      return SUCCESS;
    }
    if (idx + 1 == seq->n_arrays) {
      *next_tick = a_to_b ? array->start : array->start + ticks_in_array - 1;
      return SUCCESS;
    }
    search = a_to_b ? array->start - 1 : array->start + ticks_in_array - 1;
    idx += 1;
  }
}

/* util/sparse_swap.rs get_start_tick_indexes. */
SOL_INLINE uint64_t get_start_tick_indexes(int64_t tick_current_index, int64_t tick_spacing, bool a_to_b,
                                           int64_t starts[3]) {
  int64_t ticks_in_array = TICK_ARRAY_SIZE * tick_spacing;
  int64_t base = floor_div(tick_current_index, (uint64_t)ticks_in_array) * ticks_in_array;
  int64_t first = 0, step = 1;
  if (a_to_b) step = -1;
  else if (tick_current_index + tick_spacing >= base + ticks_in_array) first = 1;
  uint64_t n = 0;
  for (int64_t i = 0; i < 3; i++) {
    int64_t start = base + (first + i * step) * ticks_in_array;
    if (start + ticks_in_array > MIN_TICK_INDEX && start < MAX_TICK_INDEX) starts[n++] = start;
  }
  return n;
}

/* ---------------------------------------------------------------------------------------
 * Instruction context: accounts, arguments, and the swap's running state. Lives on the heap.
 */
typedef struct {
  uint64_t amount;
  uint64_t other_amount_threshold;
  u128 sqrt_price_limit;
  bool amount_specified_is_input;
  bool a_to_b;
} SwapArgs;

typedef struct {
  SwapArgs args;
  bool v2;
  const SolPubkey *program_id;
  SolAccountInfo *token_program_a, *token_program_b, *memo_program, *token_authority, *whirlpool;
  SolAccountInfo *token_mint_a, *token_mint_b, *owner_a, *vault_a, *owner_b, *vault_b, *oracle;
  SolAccountInfo *tick_arrays[3];
  Sequence seq;
  uint64_t timestamp;
  u128 reward_growths[NUM_REWARDS];
  bool reward_initialized[NUM_REWARDS];
  /* post-swap update */
  uint64_t amount_a, amount_b, protocol_fee;
  u128 next_liquidity, next_sqrt_price, next_fee_growth_global;
  int64_t next_tick_index;
} Ctx;

SOL_INLINE bool is_token_program(const SolPubkey *key) {
  return sol_pubkey_eq(key, &SPL_TOKEN_PROGRAM_ID) || sol_pubkey_eq(key, &TOKEN_2022_PROGRAM_ID);
}

/* Account<TokenAccount> / InterfaceAccount<TokenAccount>: owner, then spl unpack. */
NOINLINE uint64_t check_token_account(const SolAccountInfo *ai, bool interface) {
  bool is_2022 = sol_pubkey_eq(ai->owner, &TOKEN_2022_PROGRAM_ID);
  if (!sol_pubkey_eq(ai->owner, &SPL_TOKEN_PROGRAM_ID) && !(interface && is_2022)) return A_ACCOUNT_OWNED_BY_WRONG_PROGRAM;
  if (!(ai->data_len == SPL_TOKEN_ACCOUNT_LEN || (is_2022 && ai->data_len > SPL_TOKEN_ACCOUNT_LEN)))
    return ERROR_INVALID_ACCOUNT_DATA;
  uint8_t state = ai->data[SPL_ACCOUNT_STATE_OFFSET];
  if (state == 0) return ERROR_UNINITIALIZED_ACCOUNT;
  if (state > 2) return ERROR_INVALID_ACCOUNT_DATA;
  return SUCCESS;
}

NOINLINE uint64_t check_mint(const SolAccountInfo *ai) {
  bool is_2022 = sol_pubkey_eq(ai->owner, &TOKEN_2022_PROGRAM_ID);
  if (!sol_pubkey_eq(ai->owner, &SPL_TOKEN_PROGRAM_ID) && !is_2022) return A_ACCOUNT_OWNED_BY_WRONG_PROGRAM;
  if (!(ai->data_len == SPL_MINT_LEN || (is_2022 && ai->data_len > SPL_MINT_LEN))) return ERROR_INVALID_ACCOUNT_DATA;
  if (ai->data[45] != 1) return ERROR_UNINITIALIZED_ACCOUNT;
  return SUCCESS;
}

SOL_INLINE uint64_t check_program(const SolAccountInfo *ai, bool ok) {
  if (!ok) return A_INVALID_PROGRAM_ID;
  if (!ai->executable) return A_INVALID_PROGRAM_EXECUTABLE;
  return SUCCESS;
}

/* Anchor's account deserialization, in field order (types: Program, Signer, Account<...>). */
NOINLINE uint64_t deserialize_accounts(Ctx *c) {
  uint64_t err;
  if (c->v2) {
    if ((err = check_program(c->token_program_a, is_token_program(c->token_program_a->key)))) return err;
    if ((err = check_program(c->token_program_b, is_token_program(c->token_program_b->key)))) return err;
    if ((err = check_program(c->memo_program, sol_pubkey_eq(c->memo_program->key, &MEMO_PROGRAM_ID)))) return err;
  } else {
    if ((err = check_program(c->token_program_a, sol_pubkey_eq(c->token_program_a->key, &SPL_TOKEN_PROGRAM_ID))))
      return err;
  }
  if (!c->token_authority->is_signer) return A_ACCOUNT_NOT_SIGNER;
  const SolAccountInfo *w = c->whirlpool;
  if (!sol_pubkey_eq(w->owner, c->program_id)) return A_ACCOUNT_OWNED_BY_WRONG_PROGRAM;
  if (w->data_len < 8) return A_ACCOUNT_DISCRIMINATOR_NOT_FOUND;
  if (!bytes_eq8(w->data, WHIRLPOOL_DISC)) return A_ACCOUNT_DISCRIMINATOR_MISMATCH;
  if (w->data_len < WHIRLPOOL_LEN) return A_ACCOUNT_DID_NOT_DESERIALIZE;
  if (c->v2) {
    if ((err = check_mint(c->token_mint_a))) return err;
    if ((err = check_mint(c->token_mint_b))) return err;
  }
  if ((err = check_token_account(c->owner_a, c->v2))) return err;
  if ((err = check_token_account(c->vault_a, c->v2))) return err;
  if ((err = check_token_account(c->owner_b, c->v2))) return err;
  if ((err = check_token_account(c->vault_b, c->v2))) return err;
  return SUCCESS;
}

NOINLINE uint64_t check_oracle_seeds(const Ctx *c) {
  SolSignerSeed seeds[2] = {{(const uint8_t *)"oracle", 6}, {c->whirlpool->key->x, 32}};
  SolPubkey expected;
  uint8_t bump;
  if (sol_try_find_program_address(seeds, 2, c->program_id, &expected, &bump) != SUCCESS) return A_CONSTRAINT_SEEDS;
  return sol_pubkey_eq(&expected, c->oracle->key) ? SUCCESS : A_CONSTRAINT_SEEDS;
}

/* Anchor's constraints, in field order: mut, address, raw constraint, seeds. */
NOINLINE uint64_t check_constraints(Ctx *c) {
  const uint8_t *pool = c->whirlpool->data;
  if (c->v2) {
    if (!sol_pubkey_eq(c->token_program_a->key, c->token_mint_a->owner)) return A_CONSTRAINT_ADDRESS;
    if (!sol_pubkey_eq(c->token_program_b->key, c->token_mint_b->owner)) return A_CONSTRAINT_ADDRESS;
  }
  if (!c->whirlpool->is_writable) return A_CONSTRAINT_MUT;
  if (c->v2) {
    if (!sol_pubkey_eq_bytes(pool + OFF_TOKEN_MINT_A, c->token_mint_a->key)) return A_CONSTRAINT_ADDRESS;
    if (!sol_pubkey_eq_bytes(pool + OFF_TOKEN_MINT_B, c->token_mint_b->key)) return A_CONSTRAINT_ADDRESS;
  }
  if (!c->owner_a->is_writable) return A_CONSTRAINT_MUT;
  if (!sol_pubkey_eq_bytes(pool + OFF_TOKEN_MINT_A, (const SolPubkey *)spl_token_account_mint(c->owner_a)))
    return A_CONSTRAINT_RAW;
  if (!c->vault_a->is_writable) return A_CONSTRAINT_MUT;
  if (!sol_pubkey_eq_bytes(pool + OFF_TOKEN_VAULT_A, c->vault_a->key)) return A_CONSTRAINT_ADDRESS;
  if (!c->owner_b->is_writable) return A_CONSTRAINT_MUT;
  if (!sol_pubkey_eq_bytes(pool + OFF_TOKEN_MINT_B, (const SolPubkey *)spl_token_account_mint(c->owner_b)))
    return A_CONSTRAINT_RAW;
  if (!c->vault_b->is_writable) return A_CONSTRAINT_MUT;
  if (!sol_pubkey_eq_bytes(pool + OFF_TOKEN_VAULT_B, c->vault_b->key)) return A_CONSTRAINT_ADDRESS;
  for (int i = 0; i < 3; i++)
    if (!c->tick_arrays[i]->is_writable) return A_CONSTRAINT_MUT;
  /* v1 accepts a read-only oracle (older clients pass it so); v2 takes it as `next_mut`. */
  if (c->v2 && !c->oracle->is_writable) return A_CONSTRAINT_MUT;
  return check_oracle_seeds(c);
}

/* Decimal ASCII of a start tick index, as `start_tick_index.to_string()`. */
SOL_INLINE uint64_t format_i64(int64_t v, uint8_t *buf) {
  uint8_t tmp[24];
  uint64_t n = 0, len = 0;
  uint64_t mag = v < 0 ? (uint64_t)(-v) : (uint64_t)v;
  do {
    tmp[n++] = (uint8_t)('0' + mag % 10);
    mag /= 10;
  } while (mag != 0);
  if (v < 0) buf[len++] = '-';
  while (n > 0) buf[len++] = tmp[--n];
  return len;
}

NOINLINE bool is_tick_array_pda(const Ctx *c, int64_t start, const SolPubkey *key) {
  uint8_t digits[24];
  uint64_t len = format_i64(start, digits);
  SolSignerSeed seeds[3] = {{(const uint8_t *)"tick_array", 10}, {c->whirlpool->key->x, 32}, {digits, len}};
  SolPubkey expected;
  uint8_t bump;
  if (sol_try_find_program_address(seeds, 3, c->program_id, &expected, &bump) != SUCCESS) return false;
  return sol_pubkey_eq(&expected, key);
}

/* SparseSwapTickSequenceBuilder: dedup, peek each array, then walk the expected starts. */
NOINLINE uint64_t build_sequence(Ctx *c) {
  SolAccountInfo *unique[3];
  bool uninitialized[3];
  int64_t starts_of[3];
  uint64_t n_unique = 0, n_uninitialized = 0;
  for (int i = 0; i < 3; i++) {
    SolAccountInfo *ta = c->tick_arrays[i];
    bool seen = false;
    for (uint64_t j = 0; j < n_unique; j++) seen |= sol_pubkey_eq(unique[j]->key, ta->key);
    if (seen) continue;
    if (!ta->is_writable) return A_ACCOUNT_NOT_MUTABLE;
    bool empty = sol_pubkey_eq(ta->owner, &SYSTEM_PROGRAM_ID) && ta->data_len == 0;
    if (!empty) {
      if (!sol_pubkey_eq(ta->owner, c->program_id)) return A_ACCOUNT_OWNED_BY_WRONG_PROGRAM;
      if (ta->data_len < 8) return A_ACCOUNT_DISCRIMINATOR_NOT_FOUND;
      if (bytes_eq8(ta->data, DYNAMIC_TICK_ARRAY_DISC)) {
        sol_log("whirlpool emulator: DynamicTickArray accounts are not emulated");
        return A_ACCOUNT_DISCRIMINATOR_MISMATCH;
      }
      if (!bytes_eq8(ta->data, TICK_ARRAY_DISC)) return A_ACCOUNT_DISCRIMINATOR_MISMATCH;
      if (ta->data_len < TICK_ARRAY_LEN) return A_ACCOUNT_DID_NOT_DESERIALIZE;
      if (!sol_pubkey_eq_bytes(ta->data + OFF_TA_WHIRLPOOL, c->whirlpool->key))
        return E_DIFFERENT_WHIRLPOOL_TICK_ARRAY_ACCOUNT;
      starts_of[n_unique] = sol_load_i32(ta->data + OFF_TA_START);
    } else {
      n_uninitialized += 1;
    }
    uninitialized[n_unique] = empty;
    unique[n_unique++] = ta;
  }

  const uint8_t *pool = c->whirlpool->data;
  int64_t starts[3];
  uint64_t n_starts = get_start_tick_indexes(sol_load_i32(pool + OFF_TICK_CURRENT_INDEX), c->seq.tick_spacing,
                                             c->args.a_to_b, starts);
  uint64_t used = 0; /* bit per unique account already placed */
  c->seq.n_arrays = 0;
  for (uint64_t s = 0; s < n_starts; s++) {
    bool placed = false;
    for (uint64_t j = 0; j < n_unique && !placed; j++) {
      if (uninitialized[j] || (used >> j) & 1 || starts_of[j] != starts[s]) continue;
      used |= 1UL << j;
      c->seq.arrays[c->seq.n_arrays].data = unique[j]->data;
      c->seq.arrays[c->seq.n_arrays].start = starts[s];
      c->seq.n_arrays += 1;
      placed = true;
    }
    for (uint64_t j = 0; j < n_unique && !placed && n_uninitialized > 0; j++) {
      if (!uninitialized[j] || (used >> j) & 1) continue;
      if (!is_tick_array_pda(c, starts[s], unique[j]->key)) continue;
      used |= 1UL << j;
      c->seq.arrays[c->seq.n_arrays].data = NULL;
      c->seq.arrays[c->seq.n_arrays].start = starts[s];
      c->seq.n_arrays += 1;
      placed = true;
    }
    if (!placed) break; /* no more valid tick arrays for this swap */
  }
  if (c->seq.n_arrays == 0) return E_INVALID_TICK_ARRAY_SEQUENCE;
  return SUCCESS;
}

/* whirlpool_manager.rs next_whirlpool_reward_infos. */
NOINLINE uint64_t next_reward_infos(Ctx *c) {
  const uint8_t *pool = c->whirlpool->data;
  uint64_t last = sol_load_u64(pool + OFF_REWARD_LAST_UPDATED);
  if (c->timestamp < last) return E_INVALID_TIMESTAMP;
  u128 liquidity = sol_load_u128(pool + OFF_LIQUIDITY);
  for (int i = 0; i < NUM_REWARDS; i++) {
    const uint8_t *info = pool + OFF_REWARD_INFOS + i * REWARD_INFO_LEN;
    c->reward_initialized[i] = !pubkey_is_zero(info);
    c->reward_growths[i] = sol_load_u128(info + REWARD_OFF_GROWTH);
    if (liquidity == 0 || c->timestamp == last || !c->reward_initialized[i]) continue;
    u128 product, delta = 0;
    /* checked_mul_div(...).unwrap_or(0): an overflowing emission stops growing */
    if (u128_mul((u128)(c->timestamp - last), sol_load_u128(info + REWARD_OFF_EMISSIONS), &product))
      delta = u128_divmod(product, liquidity, NULL);
    c->reward_growths[i] += delta;
  }
  return SUCCESS;
}

/* calculate_update + next_tick_cross_update: flip the growths outside, move liquidity by the
 * tick's liquidity_net (negated when moving left). */
NOINLINE uint64_t cross_tick(Ctx *c, const SeqArray *array, int64_t offset, const u128 *fee_growth_input,
                             u128 *liquidity) {
  const uint8_t *pool = c->whirlpool->data;
  uint8_t *tick = tick_ptr(array, offset);
  bool a_to_b = c->args.a_to_b;
  u128 growth_a = a_to_b ? *fee_growth_input : sol_load_u128(pool + OFF_FEE_GROWTH_GLOBAL_A);
  u128 growth_b = a_to_b ? sol_load_u128(pool + OFF_FEE_GROWTH_GLOBAL_B) : *fee_growth_input;
  u128 net = sol_load_u128(tick + TICK_OFF_LIQUIDITY_NET);
  bool negative = (net >> 127) != 0;
  u128 magnitude = negative ? (u128)0 - net : net;
  if (magnitude != 0) {
    if (a_to_b != negative) {
      if (!u128_sub(*liquidity, magnitude, liquidity)) return E_LIQUIDITY_UNDERFLOW;
    } else {
      if (!u128_add(*liquidity, magnitude, liquidity)) return E_LIQUIDITY_OVERFLOW;
    }
  }
  sol_store_u128(tick + TICK_OFF_FEE_GROWTH_OUTSIDE_A, growth_a - sol_load_u128(tick + TICK_OFF_FEE_GROWTH_OUTSIDE_A));
  sol_store_u128(tick + TICK_OFF_FEE_GROWTH_OUTSIDE_B, growth_b - sol_load_u128(tick + TICK_OFF_FEE_GROWTH_OUTSIDE_B));
  for (int i = 0; i < NUM_REWARDS; i++) {
    if (!c->reward_initialized[i]) continue;
    uint8_t *outside = tick + TICK_OFF_REWARD_GROWTHS + 16 * i;
    sol_store_u128(outside, c->reward_growths[i] - sol_load_u128(outside));
  }
  return SUCCESS;
}

/* manager/swap_manager.rs swap (static fee rate). */
NOINLINE uint64_t run_swap(Ctx *c) {
  const uint8_t *pool = c->whirlpool->data;
  const SwapArgs *a = &c->args;
  bool a_to_b = a->a_to_b, is_input = a->amount_specified_is_input;
  u128 limit = a->sqrt_price_limit;
  if (limit == 0) limit = a_to_b ? MIN_SQRT_PRICE_X64 : MAX_SQRT_PRICE_X64;
  if (limit < MIN_SQRT_PRICE_X64 || limit > MAX_SQRT_PRICE_X64) return E_SQRT_PRICE_OUT_OF_BOUNDS;
  u128 curr_sqrt_price = sol_load_u128(pool + OFF_SQRT_PRICE);
  if ((a_to_b && limit >= curr_sqrt_price) || (!a_to_b && limit <= curr_sqrt_price))
    return E_INVALID_SQRT_PRICE_LIMIT_DIRECTION;
  if (a->amount == 0) return E_ZERO_TRADABLE_AMOUNT;

  uint64_t err = next_reward_infos(c);
  if (err != SUCCESS) return err;

  uint16_t protocol_fee_rate = sol_load_u16(pool + OFF_PROTOCOL_FEE_RATE);
  int64_t tick_spacing = c->seq.tick_spacing;
  uint64_t amount_remaining = a->amount, amount_calculated = 0, protocol_fee = 0, fee_sum = 0;
  int64_t curr_tick_index = sol_load_i32(pool + OFF_TICK_CURRENT_INDEX);
  u128 curr_liquidity = sol_load_u128(pool + OFF_LIQUIDITY);
  u128 fee_growth = sol_load_u128(pool + (a_to_b ? OFF_FEE_GROWTH_GLOBAL_A : OFF_FEE_GROWTH_GLOBAL_B));
  uint64_t curr_array_index = 0;
  StepInput in;
  StepOutput out;
  in.fee_rate = sol_load_u16(pool + OFF_FEE_RATE);
  in.amount_specified_is_input = is_input;
  in.a_to_b = a_to_b;

  while (amount_remaining > 0 && limit != curr_sqrt_price) {
    uint64_t next_array_index = curr_array_index;
    int64_t next_tick_index;
    err = next_initialized_tick_index(&c->seq, curr_tick_index, a_to_b, &next_array_index, &next_tick_index);
    if (err != SUCCESS) return err;
    u128 next_tick_sqrt_price;
    sqrt_price_from_tick_index((int32_t)next_tick_index, &next_tick_sqrt_price);
    u128 target = a_to_b ? (limit > next_tick_sqrt_price ? limit : next_tick_sqrt_price)
                         : (limit < next_tick_sqrt_price ? limit : next_tick_sqrt_price);
    for (;;) { /* the program's do-while; a static fee leaves it after one step */
      in.amount_remaining = amount_remaining;
      in.liquidity = curr_liquidity;
      in.sqrt_price_current = curr_sqrt_price;
      in.sqrt_price_target = target;
      err = compute_swap(&in, &out);
      if (err != SUCCESS) return err;
      if (is_input) {
        if (!u64_sub(amount_remaining, out.amount_in, &amount_remaining)) return E_AMOUNT_REMAINING_OVERFLOW;
        if (!u64_sub(amount_remaining, out.fee_amount, &amount_remaining)) return E_AMOUNT_REMAINING_OVERFLOW;
        if (!u64_add(amount_calculated, out.amount_out, &amount_calculated)) return E_AMOUNT_CALC_OVERFLOW;
      } else {
        if (!u64_sub(amount_remaining, out.amount_out, &amount_remaining)) return E_AMOUNT_REMAINING_OVERFLOW;
        if (!u64_add(amount_calculated, out.amount_in, &amount_calculated)) return E_AMOUNT_CALC_OVERFLOW;
        if (!u64_add(amount_calculated, out.fee_amount, &amount_calculated)) return E_AMOUNT_CALC_OVERFLOW;
      }
      if (!u64_add(fee_sum, out.fee_amount, &fee_sum)) return E_AMOUNT_CALC_OVERFLOW;

      /* calculate_fees */
      uint64_t global_fee = out.fee_amount;
      if (protocol_fee_rate > 0) {
        uint64_t delta = (uint64_t)u128_divmod64(u128_mul64(global_fee, protocol_fee_rate), PROTOCOL_FEE_RATE_MUL_VALUE,
                                                 NULL);
        global_fee -= delta;
        protocol_fee += delta;
      }
      if (curr_liquidity > 0) fee_growth += u128_divmod((u128)global_fee << 64, curr_liquidity, NULL);

      if (out.next_price == next_tick_sqrt_price) {
        SeqArray *array = &c->seq.arrays[next_array_index];
        int64_t offset = floor_div(next_tick_index - array->start, (uint64_t)tick_spacing);
        /* get_tick: in bounds and usable, else treated as not initialized */
        uint64_t magnitude = next_tick_index < 0 ? (uint64_t)(-next_tick_index) : (uint64_t)next_tick_index;
        bool usable = offset >= 0 && offset < TICK_ARRAY_SIZE && next_tick_index >= MIN_TICK_INDEX &&
                      next_tick_index <= MAX_TICK_INDEX && magnitude % (uint64_t)tick_spacing == 0;
        if (usable && tick_initialized(array, offset)) {
          err = cross_tick(c, array, offset, &fee_growth, &curr_liquidity);
          if (err != SUCCESS) return err;
        }
        if ((a_to_b && offset == 0) || (!a_to_b && offset == TICK_ARRAY_SIZE - 1))
          curr_array_index = next_array_index + 1;
        else
          curr_array_index = next_array_index;
        curr_tick_index = a_to_b ? next_tick_index - 1 : next_tick_index;
      } else if (out.next_price != curr_sqrt_price) {
        curr_tick_index = tick_index_from_sqrt_price(&out.next_price);
      }
      curr_sqrt_price = out.next_price;
      if (amount_remaining == 0 || curr_sqrt_price == target) break;
    }
  }

  if (amount_remaining > 0 && !is_input && a->sqrt_price_limit == 0) return E_PARTIAL_FILL_ERROR;

  if (a_to_b == is_input) {
    c->amount_a = a->amount - amount_remaining;
    c->amount_b = amount_calculated;
  } else {
    c->amount_a = amount_calculated;
    c->amount_b = a->amount - amount_remaining;
  }
  c->protocol_fee = protocol_fee;
  c->next_liquidity = curr_liquidity;
  c->next_sqrt_price = curr_sqrt_price;
  c->next_fee_growth_global = fee_growth;
  c->next_tick_index = curr_tick_index;
  return SUCCESS;
}

/* Whirlpool::update_after_swap. */
NOINLINE void update_whirlpool(Ctx *c) {
  uint8_t *pool = c->whirlpool->data;
  sol_store_i32(pool + OFF_TICK_CURRENT_INDEX, (int32_t)c->next_tick_index);
  sol_store_u128(pool + OFF_SQRT_PRICE, c->next_sqrt_price);
  sol_store_u128(pool + OFF_LIQUIDITY, c->next_liquidity);
  for (int i = 0; i < NUM_REWARDS; i++)
    sol_store_u128(pool + OFF_REWARD_INFOS + i * REWARD_INFO_LEN + REWARD_OFF_GROWTH, c->reward_growths[i]);
  sol_store_u64(pool + OFF_REWARD_LAST_UPDATED, c->timestamp);
  uint64_t growth_off = c->args.a_to_b ? OFF_FEE_GROWTH_GLOBAL_A : OFF_FEE_GROWTH_GLOBAL_B;
  uint64_t owed_off = c->args.a_to_b ? OFF_PROTOCOL_FEE_OWED_A : OFF_PROTOCOL_FEE_OWED_B;
  sol_store_u128(pool + growth_off, c->next_fee_growth_global);
  sol_store_u64(pool + owed_off, sol_load_u64(pool + owed_off) + c->protocol_fee);
}

/* ---------------------------------------------------------------------------------------
 * Token movements (util/token.rs, util/v2/token.rs): Transfer for v1, TransferChecked for v2.
 */
typedef struct {
  const SolAccountInfo *program, *source, *mint, *destination, *authority;
  const SolSignerSeeds *signer; /* NULL when the authority signed the transaction */
  uint64_t amount;
  bool checked;
} Transfer;

NOINLINE uint64_t token_transfer(const Transfer *t) {
  SolAccountMeta metas[4];
  SolAccountInfo infos[4];
  uint8_t data[10];
  uint64_t n = 0, data_len;
  metas[n] = (SolAccountMeta){t->source->key, true, false};
  infos[n++] = *t->source;
  if (t->checked) {
    metas[n] = (SolAccountMeta){t->mint->key, false, false};
    infos[n++] = *t->mint;
  }
  metas[n] = (SolAccountMeta){t->destination->key, true, false};
  infos[n++] = *t->destination;
  metas[n] = (SolAccountMeta){t->authority->key, false, true};
  infos[n++] = *t->authority;
  sol_store_u64(data + 1, t->amount);
  if (t->checked) {
    data[0] = SPL_TOKEN_TRANSFER_CHECKED;
    data[9] = t->mint->data[44]; /* decimals */
    data_len = 10;
  } else {
    data[0] = SPL_TOKEN_TRANSFER;
    data_len = 9;
  }
  SolInstruction ix = {t->program->key, metas, n, data, data_len};
  return sol_invoke_signed_c(&ix, infos, (int)n, t->signer, t->signer != NULL ? 1 : 0);
}

NOINLINE uint64_t perform_transfers(Ctx *c) {
  const uint8_t *pool = c->whirlpool->data;
  bool a_to_b = c->args.a_to_b;
  SolSignerSeed seeds[6] = {
      {(const uint8_t *)"whirlpool", 9},
      {pool + OFF_CONFIG, 32},
      {pool + OFF_TOKEN_MINT_A, 32},
      {pool + OFF_TOKEN_MINT_B, 32},
      {pool + OFF_FEE_TIER_INDEX_SEED, 2},
      {pool + OFF_BUMP, 1},
  };
  SolSignerSeeds signer = {seeds, 6};
  Transfer deposit = {
      .program = a_to_b ? c->token_program_a : c->token_program_b,
      .source = a_to_b ? c->owner_a : c->owner_b,
      .mint = a_to_b ? c->token_mint_a : c->token_mint_b,
      .destination = a_to_b ? c->vault_a : c->vault_b,
      .authority = c->token_authority,
      .signer = NULL,
      .amount = a_to_b ? c->amount_a : c->amount_b,
      .checked = c->v2,
  };
  uint64_t err = token_transfer(&deposit);
  if (err != SUCCESS) return err;
  Transfer withdrawal = {
      .program = a_to_b ? c->token_program_b : c->token_program_a,
      .source = a_to_b ? c->vault_b : c->vault_a,
      .mint = a_to_b ? c->token_mint_b : c->token_mint_a,
      .destination = a_to_b ? c->owner_b : c->owner_a,
      .authority = c->whirlpool,
      .signer = &signer,
      .amount = a_to_b ? c->amount_b : c->amount_a,
      .checked = c->v2,
  };
  return token_transfer(&withdrawal);
}

/* ---------------------------------------------------------------------------------------
 * Entrypoint.
 */
NOINLINE uint64_t parse_args(const SolParameters *p, Ctx *c) {
  const uint8_t *d = p->data;
  if (p->data_len < 42) return A_INSTRUCTION_DID_NOT_DESERIALIZE;
  c->args.amount = sol_load_u64(d + 8);
  c->args.other_amount_threshold = sol_load_u64(d + 16);
  c->args.sqrt_price_limit = sol_load_u128(d + 24);
  if (d[40] > 1 || d[41] > 1) return A_INSTRUCTION_DID_NOT_DESERIALIZE; /* Borsh bool */
  c->args.amount_specified_is_input = d[40] == 1;
  c->args.a_to_b = d[41] == 1;
  if (c->v2) {
    /* remaining_accounts_info: Option<RemainingAccountsInfo { slices: Vec<...> }> */
    if (p->data_len < 43) return A_INSTRUCTION_DID_NOT_DESERIALIZE;
    if (d[42] > 1) return A_INSTRUCTION_DID_NOT_DESERIALIZE;
    if (d[42] == 1) {
      if (p->data_len < 47) return A_INSTRUCTION_DID_NOT_DESERIALIZE;
      if (sol_load_u32(d + 43) != 0) {
        sol_log("whirlpool emulator: remaining_accounts_info slices are not emulated");
        return E_REMAINING_ACCOUNTS_INVALID_SLICE;
      }
    }
  }
  return SUCCESS;
}

NOINLINE uint64_t map_accounts(const SolParameters *p, Ctx *c) {
  SolAccountInfo *ka = p->ka;
  if (c->v2) {
    if (p->ka_num < 15) return A_ACCOUNT_NOT_ENOUGH_KEYS;
    c->token_program_a = &ka[0];
    c->token_program_b = &ka[1];
    c->memo_program = &ka[2];
    c->token_authority = &ka[3];
    c->whirlpool = &ka[4];
    c->token_mint_a = &ka[5];
    c->token_mint_b = &ka[6];
    c->owner_a = &ka[7];
    c->vault_a = &ka[8];
    c->owner_b = &ka[9];
    c->vault_b = &ka[10];
    for (int i = 0; i < 3; i++) c->tick_arrays[i] = &ka[11 + i];
    c->oracle = &ka[14];
  } else {
    if (p->ka_num < 11) return A_ACCOUNT_NOT_ENOUGH_KEYS;
    c->token_program_a = c->token_program_b = &ka[0];
    c->memo_program = NULL;
    c->token_authority = &ka[1];
    c->whirlpool = &ka[2];
    c->token_mint_a = c->token_mint_b = NULL;
    c->owner_a = &ka[3];
    c->vault_a = &ka[4];
    c->owner_b = &ka[5];
    c->vault_b = &ka[6];
    for (int i = 0; i < 3; i++) c->tick_arrays[i] = &ka[7 + i];
    c->oracle = &ka[10];
  }
  return SUCCESS;
}

NOINLINE uint64_t process(const SolParameters *p, Ctx *c) {
  uint64_t err;
  if ((err = parse_args(p, c))) return err;
  if ((err = map_accounts(p, c))) return err;
  if ((err = deserialize_accounts(c))) return err;
  if ((err = check_constraints(c))) return err;

  const uint8_t *pool = c->whirlpool->data;
  SolClock clock;
  if ((err = sol_get_clock_sysvar(&clock))) return err;
  if (clock.unix_timestamp < 0) return E_INVALID_TIMESTAMP_CONVERSION;
  c->timestamp = (uint64_t)clock.unix_timestamp;

  c->seq.tick_spacing = sol_load_u16(pool + OFF_TICK_SPACING);
  if (c->seq.tick_spacing == 0) return E_INVALID_TICK_SPACING;
  if ((err = build_sequence(c))) return err;

  if (sol_load_u16(pool + OFF_FEE_TIER_INDEX_SEED) != sol_load_u16(pool + OFF_TICK_SPACING)) {
    sol_log("whirlpool emulator: adaptive-fee pools are not emulated");
    return ERROR_INVALID_ACCOUNT_DATA;
  }
  if (c->v2) {
    if (c->token_mint_a->data_len != SPL_MINT_LEN || c->token_mint_b->data_len != SPL_MINT_LEN) {
      sol_log("whirlpool emulator: Token-2022 mints with extensions are not emulated");
      return E_UNSUPPORTED_TOKEN_MINT;
    }
  }

  if ((err = run_swap(c))) return err;

  if (c->args.amount_specified_is_input) {
    uint64_t out = c->args.a_to_b ? c->amount_b : c->amount_a;
    if (c->args.other_amount_threshold > out) return E_AMOUNT_OUT_BELOW_MINIMUM;
  } else {
    uint64_t in = c->args.a_to_b ? c->amount_a : c->amount_b;
    if (c->args.other_amount_threshold < in) return E_AMOUNT_IN_ABOVE_MAXIMUM;
  }

  update_whirlpool(c);
  return perform_transfers(c);
}

uint64_t entrypoint(const uint8_t *input) {
  SolParameters params;
  sol_deserialize(input, &params);
  if (params.data_len < 8) return A_INSTRUCTION_MISSING;
  Ctx *c = (Ctx *)sol_heap_scratch();
  c->program_id = params.program_id;
  if (bytes_eq8(params.data, SWAP_DISC)) c->v2 = false;
  else if (bytes_eq8(params.data, SWAP_V2_DISC)) c->v2 = true;
  else return A_INSTRUCTION_FALLBACK_NOT_FOUND;
  return process(&params, c);
}
