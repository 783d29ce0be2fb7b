/*
 * Solend (Save) token-lending emulator at So1endDq2YkqhipRh3WViPa8hdiSpxWy6z3Z6tMCpAo:
 * FlashBorrowReserveLiquidity (19) and FlashRepayReserveLiquidity (20), with the checks,
 * their order and the error numbers of solendprotocol/solana-program-library (branch mainnet)
 * `token-lending/program/src/processor.rs` (_flash_borrow_reserve_liquidity,
 * _flash_repay_reserve_liquidity, is_cpi_call), `sdk/src/state/reserve.rs`
 * (calculate_flash_loan_fees, ReserveLiquidity::borrow/repay, Pack layout) and `sdk/src/error.rs`.
 *
 * The borrow first accrues interest like _refresh_reserve_interest (Reserve::accrue_interest,
 * current_borrow_rate, ReserveLiquidity::compound_interest, Rate::try_pow) in the program's
 * WAD-scaled Rate (u128) and Decimal (u192) arithmetic.
 * Other instructions of the program (deposits, obligations, ...) are refused as not emulated.
 */
#include "sol.h"

/* LendingError (error.rs): the position in the enum is the custom error number. */
#define LE_INSTRUCTION_UNPACK_ERROR 0
#define LE_INVALID_MARKET_AUTHORITY 3
#define LE_INVALID_ACCOUNT_OWNER 5
#define LE_INVALID_TOKEN_PROGRAM 9
#define LE_INVALID_ACCOUNT_INPUT 13
#define LE_MATH_OVERFLOW 14
#define LE_INSUFFICIENT_LIQUIDITY 20
#define LE_BORROW_TOO_SMALL 25
#define LE_FLASH_BORROW_CPI 47
#define LE_NO_FLASH_REPAY_FOUND 48
#define LE_INVALID_FLASH_REPAY 49
#define LE_FLASH_REPAY_CPI 50
#define LE_MULTIPLE_FLASH_BORROWS 51
#define LE_FLASH_LOANS_DISABLED 52
#define LE_DEPRECATED_INSTRUCTION 53

/* A custom error 0 must not read as success: the runtime's Custom(0) is builtin 1 << 32. */
#define LENDING_ERROR(n) ((n) == 0 ? ERROR_CUSTOM_ZERO : (uint64_t)(n))

#define PROGRAM_VERSION 1
#define WAD 1000000000000000000UL
#define HALF_WAD 500000000000000000UL

#define TAG_LIQUIDATE_OBLIGATION 12
#define TAG_FLASH_LOAN 13
#define TAG_FLASH_BORROW 19
#define TAG_FLASH_REPAY 20
/* Tags 0-20 are in instruction.rs's unpack; later program versions added a few more
 * (ForgiveDebt 21, UpdateMarketMetadata 22, ...). Tags up to this one are accepted. */
#define TAG_MAX_KNOWN 24

/* Reserve (619 bytes) and LendingMarket (290 bytes) field offsets: reserve.rs / lending_market.rs. */
#define RESERVE_LEN 619
#define R_VERSION 0
#define R_LAST_UPDATE_SLOT 1
#define R_LAST_UPDATE_STALE 9
#define R_LENDING_MARKET 10
#define R_SUPPLY_PUBKEY 75
#define R_AVAILABLE_AMOUNT 171
#define R_BORROWED_AMOUNT_WADS 179
#define R_FLASH_LOAN_FEE_WAD 314
#define R_HOST_FEE_PERCENTAGE 322
#define R_FEE_RECEIVER 339
#define R_RESERVE_TYPE 469
#define R_EXTRA_MARKET_PRICE_FLAG 521
#define R_CUMULATIVE_BORROW_RATE_WADS 195
#define R_OPTIMAL_UTILIZATION_RATE 299
#define R_MIN_BORROW_RATE 303
#define R_OPTIMAL_BORROW_RATE 304
#define R_MAX_BORROW_RATE 305
#define R_PROTOCOL_TAKE_RATE 372
#define R_ACCUMULATED_PROTOCOL_FEES_WADS 373
#define R_MAX_UTILIZATION_RATE 470
#define R_SUPER_MAX_BORROW_RATE 471

#define PERCENT_SCALER 10000000000000000UL
/* DEFAULT_TICKS_PER_SECOND / DEFAULT_TICKS_PER_SLOT * SECONDS_PER_DAY * 365 (integer division). */
#define SLOTS_PER_YEAR 63072000UL

#define LENDING_MARKET_LEN 290
#define M_VERSION 0
#define M_BUMP_SEED 1
#define M_TOKEN_PROGRAM_ID 66

/* ------------------------------------------------------------------------------------------ */

static uint64_t unpack_reserve(const SolAccountInfo *ai) {
  /* Pack::unpack: length, then unpack_from_slice (version, bools, enum), then is_initialized. */
  if (ai->data_len != RESERVE_LEN) return ERROR_INVALID_ACCOUNT_DATA;
  const uint8_t *d = ai->data;
  if (d[R_VERSION] > PROGRAM_VERSION) {
    sol_log("Reserve version does not match lending program version");
    return ERROR_INVALID_ACCOUNT_DATA;
  }
  if (d[R_LAST_UPDATE_STALE] > 1 || d[R_EXTRA_MARKET_PRICE_FLAG] > 1 || d[R_RESERVE_TYPE] > 1)
    return ERROR_INVALID_ACCOUNT_DATA;
  if (d[R_VERSION] == 0) return ERROR_UNINITIALIZED_ACCOUNT;
  return SUCCESS;
}

static uint64_t unpack_lending_market(const SolAccountInfo *ai) {
  if (ai->data_len != LENDING_MARKET_LEN) return ERROR_INVALID_ACCOUNT_DATA;
  if (ai->data[M_VERSION] > PROGRAM_VERSION) {
    sol_log("Lending market version does not match lending program version");
    return ERROR_INVALID_ACCOUNT_DATA;
  }
  if (ai->data[M_VERSION] == 0) return ERROR_UNINITIALIZED_ACCOUNT;
  return SUCCESS;
}

/* LendingMarket::unpack, owner check and token program check, shared by borrow and repay. */
static uint64_t check_lending_market(const SolAccountInfo *market, const SolAccountInfo *token_program,
                                     const SolPubkey *program_id) {
  uint64_t err = unpack_lending_market(market);
  if (err) return err;
  if (!sol_pubkey_eq(market->owner, program_id)) {
    sol_log("Lending market provided is not owned by the lending program");
    return LE_INVALID_ACCOUNT_OWNER;
  }
  if (!sol_pubkey_eq_bytes(market->data + M_TOKEN_PROGRAM_ID, token_program->key)) {
    sol_log("Lending market token program does not match the token program provided");
    return LE_INVALID_TOKEN_PROGRAM;
  }
  return SUCCESS;
}

/* Reserve::unpack, owner check and reserve.lending_market check. */
static uint64_t check_reserve(const SolAccountInfo *reserve, const SolAccountInfo *market,
                              const SolPubkey *program_id) {
  uint64_t err = unpack_reserve(reserve);
  if (err) return err;
  if (!sol_pubkey_eq(reserve->owner, program_id)) {
    sol_log("Reserve provided is not owned by the lending program");
    return LE_INVALID_ACCOUNT_OWNER;
  }
  if (!sol_pubkey_eq_bytes(reserve->data + R_LENDING_MARKET, market->key)) {
    sol_log("Reserve lending market does not match the lending market provided");
    return LE_INVALID_ACCOUNT_INPUT;
  }
  return SUCCESS;
}

/* LendingInstruction::unpack, as far as the flash-loan checks need it: the tag, the amount of
 * tags 12/13/19/20 and the borrow index of tag 20. Tags whose payload is one u64 must carry it;
 * the others' payloads (market and reserve configs, metadata) are not checked (approximation). */
typedef struct {
  uint8_t tag;
  uint8_t borrow_instruction_index;
  uint64_t liquidity_amount;
} Unpacked;

static uint64_t unpack_instruction(const uint8_t *data, uint64_t len, Unpacked *out) {
  if (len < 1) return LENDING_ERROR(LE_INSTRUCTION_UNPACK_ERROR);
  out->tag = data[0];
  out->liquidity_amount = 0;
  out->borrow_instruction_index = 0;
  switch (out->tag) {
    case TAG_LIQUIDATE_OBLIGATION:
    case TAG_FLASH_LOAN:
    case TAG_FLASH_BORROW:
      if (len < 9) break;
      out->liquidity_amount = sol_load_u64(data + 1);
      return SUCCESS;
    case TAG_FLASH_REPAY:
      if (len < 10) break;
      out->liquidity_amount = sol_load_u64(data + 1);
      out->borrow_instruction_index = data[9];
      return SUCCESS;
    case 4: case 5: case 8: case 9: case 10: case 11: case 14: case 15: case 17: case 21:
      if (len < 9) break; /* { liquidity_amount | collateral_amount: u64 } */
      return SUCCESS;
    default:
      if (out->tag <= TAG_MAX_KNOWN) return SUCCESS;
      break;
  }
  sol_log("Instruction cannot be unpacked");
  return LENDING_ERROR(LE_INSTRUCTION_UNPACK_ERROR);
}

/* load_current_index_checked: the account must be the Instructions sysvar. */
static uint64_t current_index(const SolAccountInfo *sysvar, uint16_t *index) {
  if (!sol_pubkey_eq(sysvar->key, &SYSVAR_INSTRUCTIONS_ID)) return ERROR_UNSUPPORTED_SYSVAR;
  if (!sol_ixs_current_index(sysvar->data, sysvar->data_len, index)) return ERROR_INVALID_ARGUMENT;
  return SUCCESS;
}

/* is_cpi_call: the executing top-level instruction is not ours, or we run below it. */
static uint64_t is_cpi_call(const SolAccountInfo *sysvar, uint16_t index, const SolPubkey *program_id,
                            bool *cpi) {
  SolIxView ix;
  uint64_t err = sol_ixs_load(sysvar->data, sysvar->data_len, index, &ix);
  if (err) return err;
  *cpi = !sol_pubkey_eq_bytes((const uint8_t *)ix.program_id, program_id) ||
         sol_get_stack_height() > TRANSACTION_LEVEL_STACK_HEIGHT;
  return SUCCESS;
}

/* ReserveFees::calculate_fees (Exclusive) in the program's WAD-scaled Decimal arithmetic.
 * Decimal(amount) * Rate(fee_wad) is exactly amount * fee_wad (scaled); Decimal * Rate(host %)
 * floors (fee * pct * 1e16) / 1e18, which equals floor(fee * pct / 100). */
static uint64_t flash_loan_fees(uint64_t amount, uint64_t fee_wad, uint8_t host_pct, uint64_t *total,
                                uint64_t *host) {
  *total = 0;
  *host = 0;
  if (fee_wad == 0 || amount == 0) return SUCCESS;
  uint64_t minimum_fee = host_pct > 0 ? 2 : 1;
  u128 fee = u128_mul64(amount, fee_wad);
  u128 minimum = u128_mul64(minimum_fee, WAD);
  if (fee < minimum) fee = minimum;
  if (fee >= u128_mul64(amount, WAD)) {
    sol_log("Borrow amount is too small to receive liquidity after fees");
    return LE_BORROW_TOO_SMALL;
  }
  u128 rounded = u128_divmod64(fee + HALF_WAD, WAD, NULL); /* try_round_u64 */
  if ((rounded >> 64) != 0) return LE_MATH_OVERFLOW;
  *total = (uint64_t)rounded;
  if (host_pct > 0) {
    uint64_t rem;
    u128 q = u128_divmod64(fee, 100, &rem);
    u128 scaled;
    if (!u128_mul(q, host_pct, &scaled)) return LE_MATH_OVERFLOW;
    scaled += (rem * host_pct) / 100;
    u128 host_rounded = u128_divmod64(scaled + HALF_WAD, WAD, NULL);
    if ((host_rounded >> 64) != 0) return LE_MATH_OVERFLOW;
    *host = host_rounded == 0 ? 1 : (uint64_t)host_rounded;
  }
  if (*host > *total) return LE_MATH_OVERFLOW; /* origination = total - host, checked_sub */
  return SUCCESS;
}


/* ------------------------------------------------------------------------------------------
 * Interest accrual. Rate = WAD-scaled u128, Decimal = WAD-scaled u192; every product floors.
 * A Decimal that no longer fits 128 bits could not be packed back into the reserve (the real
 * program panics there), so any such value is reported as MathOverflow. Values travel by
 * pointer: a non-inlined BPF function cannot return a u128.
 */

typedef struct {
  uint64_t w[4]; /* little-endian 64-bit limbs */
} U256;

/* a * b, the full 256-bit product. */
static void u256_mul(const u128 *a, const u128 *b, U256 *out) {
  uint64_t a0 = (uint64_t)*a, a1 = (uint64_t)(*a >> 64), b0 = (uint64_t)*b, b1 = (uint64_t)(*b >> 64);
  u128 p00 = u128_mul64(a0, b0), p01 = u128_mul64(a0, b1), p10 = u128_mul64(a1, b0), p11 = u128_mul64(a1, b1);
  u128 mid = (p00 >> 64) + (u128)(uint64_t)p01 + (u128)(uint64_t)p10; /* < 3 * 2^64 */
  u128 high = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);      /* < 2^128: the product fits 256 bits */
  out->w[0] = (uint64_t)p00;
  out->w[1] = (uint64_t)mid;
  out->w[2] = (uint64_t)high;
  out->w[3] = (uint64_t)(high >> 64);
}

/* floor(x / WAD) into *out; false if it does not fit 128 bits. */
static bool u256_div_wad(const U256 *x, u128 *out) {
  uint64_t rem = x->w[3] % WAD;
  if (x->w[3] / WAD != 0) return false;
  uint64_t q2 = u128_divlu(rem, x->w[2], WAD, &rem);
  if (q2 != 0) return false;
  uint64_t q1 = u128_divlu(rem, x->w[1], WAD, &rem);
  uint64_t q0 = u128_divlu(rem, x->w[0], WAD, &rem);
  *out = ((u128)q1 << 64) | q0;
  return true;
}

/* Decimal * Decimal (or Decimal * Rate): floor(a * b / WAD). */
static bool decimal_mul(const u128 *a, const u128 *b, u128 *out) {
  U256 p;
  u256_mul(a, b, &p);
  return u256_div_wad(&p, out);
}

/* Rate * Rate: a * b must fit u128 (U128 checked_mul), then / WAD. */
static bool rate_mul(const u128 *a, const u128 *b, u128 *out) {
  u128 p;
  if (!u128_mul(*a, *b, &p)) return false;
  *out = u128_divmod64(p, WAD, NULL);
  return true;
}

/* Rate / Rate: a * WAD must fit u128, then / b. */
static bool rate_div(const u128 *a, const u128 *b, u128 *out) {
  u128 p;
  if (*b == 0 || !u128_mul(*a, (u128)WAD, &p)) return false;
  *out = u128_divmod(p, *b, NULL);
  return true;
}

SOL_INLINE bool u256_ge(const U256 *a, const U256 *b) {
  for (int i = 3; i >= 0; i--)
    if (a->w[i] != b->w[i]) return a->w[i] > b->w[i];
  return true;
}

/* utilization_rate = borrowed * WAD / (borrowed + available * WAD) as a Rate (<= WAD): the
 * numerator and denominator can exceed 128 bits, the quotient cannot exceed 2^60. */
static bool utilization_rate(const uint8_t *r, u128 *out) {
  u128 borrowed = sol_load_u128(r + R_BORROWED_AMOUNT_WADS);
  u128 fees = sol_load_u128(r + R_ACCUMULATED_PROTOCOL_FEES_WADS);
  u128 available = u128_mul64(sol_load_u64(r + R_AVAILABLE_AMOUNT), WAD);
  u128 denominator;
  bool carry = !u128_add(available, borrowed, &denominator);
  /* total_supply = available + borrowed - fees in U192: checked_sub, then the zero test. */
  if (!carry && denominator < fees) return false;
  if ((!carry && denominator == fees) || borrowed == 0) {
    *out = 0;
    return true;
  }
  U256 num, den;
  u128 wad = WAD;
  u256_mul(&borrowed, &wad, &num);
  den.w[0] = (uint64_t)denominator;
  den.w[1] = (uint64_t)(denominator >> 64);
  den.w[2] = carry ? 1 : 0;
  den.w[3] = 0;
  uint64_t q = 0;
  for (int k = 60; k >= 0; k--) {
    /* shifted = den << k (den < 2^129, so it fits 256 bits) */
    U256 sh;
    uint64_t kk = (uint64_t)k;
    sh.w[0] = den.w[0] << kk;
    sh.w[1] = kk ? (den.w[1] << kk) | (den.w[0] >> (64 - kk)) : den.w[1];
    sh.w[2] = kk ? (den.w[2] << kk) | (den.w[1] >> (64 - kk)) : den.w[2];
    sh.w[3] = kk ? (den.w[2] >> (64 - kk)) : 0;
    if (u256_ge(&num, &sh)) {
      uint64_t borrow = 0;
      for (int i = 0; i < 4; i++) {
        uint64_t d = num.w[i] - sh.w[i] - borrow;
        borrow = (num.w[i] < sh.w[i] || (num.w[i] == sh.w[i] && borrow)) ? 1 : 0;
        num.w[i] = d;
      }
      q |= 1UL << kk;
    }
  }
  *out = q;
  return true;
}

SOL_INLINE u128 percent(uint64_t pct) { return u128_mul64(pct, PERCENT_SCALER); }

/* Reserve::current_borrow_rate; Reserve::unpack raises max_utilization_rate and
 * super_max_borrow_rate to at least their optimal / max counterparts. */
static bool current_borrow_rate(const uint8_t *r, u128 *out) {
  u128 utilization;
  if (!utilization_rate(r, &utilization)) return false;
  uint8_t opt_util_pct = r[R_OPTIMAL_UTILIZATION_RATE];
  uint8_t max_util_pct = r[R_MAX_UTILIZATION_RATE] > opt_util_pct ? r[R_MAX_UTILIZATION_RATE] : opt_util_pct;
  uint8_t min_rate_pct = r[R_MIN_BORROW_RATE], opt_rate_pct = r[R_OPTIMAL_BORROW_RATE];
  uint8_t max_rate_pct = r[R_MAX_BORROW_RATE];
  u128 opt_util = percent(opt_util_pct), max_util = percent(max_util_pct);
  u128 weight, range, scaled;
  if (utilization <= opt_util) {
    u128 min_rate = percent(min_rate_pct);
    if (opt_util == 0) {
      *out = min_rate;
      return true;
    }
    if (opt_rate_pct < min_rate_pct) return false;
    range = percent(opt_rate_pct - min_rate_pct);
    if (!rate_div(&utilization, &opt_util, &weight) || !rate_mul(&weight, &range, &scaled)) return false;
    return u128_add(scaled, min_rate, out);
  }
  if (utilization <= max_util) {
    u128 num = utilization - opt_util, den = max_util - opt_util;
    if (max_rate_pct < opt_rate_pct) return false;
    range = percent(max_rate_pct - opt_rate_pct);
    if (!rate_div(&num, &den, &weight) || !rate_mul(&weight, &range, &scaled)) return false;
    return u128_add(scaled, percent(opt_rate_pct), out);
  }
  if (max_util_pct > 100) return false;
  u128 num = utilization - max_util, den = percent(100 - max_util_pct);
  if (!rate_div(&num, &den, &weight)) return false;
  uint64_t super_max_pct = sol_load_u64(r + R_SUPER_MAX_BORROW_RATE);
  if (super_max_pct < max_rate_pct) super_max_pct = max_rate_pct;
  range = percent(super_max_pct) - percent(max_rate_pct);
  if (!decimal_mul(&weight, &range, &scaled)) return false;
  return u128_add(scaled, percent(max_rate_pct), out);
}

/* Rate::try_pow: square-and-multiply that squares once more after the last bit. */
static bool rate_pow(const u128 *base_in, uint64_t exp, u128 *out) {
  u128 base = *base_in;
  u128 ret = (exp % 2) != 0 ? base : (u128)WAD;
  while (exp > 0) {
    exp /= 2;
    if (!rate_mul(&base, &base, &base)) return false;
    if ((exp % 2) != 0 && !rate_mul(&ret, &base, &ret)) return false;
  }
  *out = ret;
  return true;
}

/* Reserve::accrue_interest + LastUpdate::update_slot, in place on the reserve data. */
static uint64_t accrue_interest(uint8_t *r, uint64_t slot) {
  uint64_t last = sol_load_u64(r + R_LAST_UPDATE_SLOT);
  if (slot < last) return LE_MATH_OVERFLOW; /* slots_elapsed: checked_sub */
  if (slot > last) {
    u128 rate, compounded;
    if (!current_borrow_rate(r, &rate)) return LE_MATH_OVERFLOW;
    u128 base = u128_divmod64(rate, SLOTS_PER_YEAR, NULL) + WAD;
    if (base < WAD) return LE_MATH_OVERFLOW;
    /* A zero borrow rate compounds to exactly one: skip the ~30 squarings (same result). */
    if (base == WAD) compounded = WAD;
    else if (!rate_pow(&base, slot - last, &compounded)) return LE_MATH_OVERFLOW;
    u128 cumulative = sol_load_u128(r + R_CUMULATIVE_BORROW_RATE_WADS);
    u128 borrowed = sol_load_u128(r + R_BORROWED_AMOUNT_WADS);
    u128 fees = sol_load_u128(r + R_ACCUMULATED_PROTOCOL_FEES_WADS);
    u128 take_rate = percent(r[R_PROTOCOL_TAKE_RATE]);
    u128 new_cumulative, new_borrowed, new_debt, new_fees;
    if (!decimal_mul(&cumulative, &compounded, &new_cumulative)) return LE_MATH_OVERFLOW;
    if (!decimal_mul(&borrowed, &compounded, &new_borrowed) || new_borrowed < borrowed) return LE_MATH_OVERFLOW;
    new_debt = new_borrowed - borrowed;
    if (!decimal_mul(&new_debt, &take_rate, &new_fees) || !u128_add(new_fees, fees, &new_fees))
      return LE_MATH_OVERFLOW;
    sol_store_u128(r + R_CUMULATIVE_BORROW_RATE_WADS, new_cumulative);
    sol_store_u128(r + R_ACCUMULATED_PROTOCOL_FEES_WADS, new_fees);
    sol_store_u128(r + R_BORROWED_AMOUNT_WADS, new_borrowed);
  }
  sol_store_u64(r + R_LAST_UPDATE_SLOT, slot);
  r[R_LAST_UPDATE_STALE] = 0;
  return SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */

/* What both sides of a flash loan compare against the other instruction (BPF calls take at
 * most 5 arguments, hence a struct). */
typedef struct {
  const SolAccountInfo *sysvar;
  const SolPubkey *program_id;
  const SolPubkey *reserve;
  uint64_t amount;
  uint16_t index; /* of the executing top-level instruction */
} FlashCtx;

/* The borrow's scan of every later instruction (steps 1-5 of the processor's comment). */
static uint64_t find_matching_repay(const FlashCtx *c) {
  const SolAccountInfo *sysvar = c->sysvar;
  const SolPubkey *program_id = c->program_id, *reserve = c->reserve;
  uint64_t amount = c->amount;
  uint16_t index = c->index;
  bool found_repay = false;
  for (uint32_t i = (uint32_t)index + 1; i <= 0xffff; i++) {
    SolIxView ix;
    if (sol_ixs_load(sysvar->data, sysvar->data_len, (uint16_t)i, &ix) != SUCCESS) break; /* out of bounds */
    if (!sol_pubkey_eq_bytes((const uint8_t *)ix.program_id, program_id)) continue;
    Unpacked u;
    uint64_t err = unpack_instruction(ix.data, ix.data_len, &u);
    if (err) return err;
    if (u.tag == TAG_FLASH_REPAY) {
      if (found_repay) {
        sol_log("Multiple flash repays not allowed");
        return LE_MULTIPLE_FLASH_BORROWS;
      }
      if (ix.n_accounts < 5 || !sol_pubkey_eq_bytes(sol_ix_meta_key(&ix, 4), reserve)) {
        sol_log("Invalid reserve account on flash repay");
        return LE_INVALID_FLASH_REPAY;
      }
      if (u.liquidity_amount != amount) {
        sol_log("Liquidity amount for flash repay doesn't match borrow");
        return LE_INVALID_FLASH_REPAY;
      }
      if (u.borrow_instruction_index != index) {
        sol_log("Borrow instruction index for flash repay doesn't match current index");
        return LE_INVALID_FLASH_REPAY;
      }
      found_repay = true;
    } else if (u.tag == TAG_FLASH_BORROW) {
      sol_log("Multiple flash borrows not allowed");
      return LE_MULTIPLE_FLASH_BORROWS;
    }
  }
  if (!found_repay) {
    sol_log("No flash repay found");
    return LE_NO_FLASH_REPAY_FOUND;
  }
  return SUCCESS;
}

static uint64_t flash_borrow(const SolParameters *p, uint64_t amount) {
  if (p->ka_total < 7) return ERROR_NOT_ENOUGH_ACCOUNT_KEYS;
  const SolAccountInfo *source = &p->ka[0];
  const SolAccountInfo *destination = &p->ka[1];
  const SolAccountInfo *reserve = &p->ka[2];
  const SolAccountInfo *market = &p->ka[3];
  const SolAccountInfo *authority = &p->ka[4];
  const SolAccountInfo *sysvar = &p->ka[5];
  const SolAccountInfo *token_program = &p->ka[6];
  uint64_t err;

  /* _refresh_reserve_interest: unpack, owner, accrue interest, last_update = now. */
  SolClock clock;
  err = sol_get_clock_sysvar(&clock);
  if (err) return err;
  err = unpack_reserve(reserve);
  if (err) return err;
  if (!sol_pubkey_eq(reserve->owner, p->program_id)) {
    sol_log("Reserve provided is not owned by the lending program");
    return LE_INVALID_ACCOUNT_OWNER;
  }
  err = accrue_interest(reserve->data, clock.slot);
  if (err) return err;

  err = check_lending_market(market, token_program, p->program_id);
  if (err) return err;
  err = check_reserve(reserve, market, p->program_id);
  if (err) return err;
  if (!sol_pubkey_eq_bytes(reserve->data + R_SUPPLY_PUBKEY, source->key)) {
    sol_log("Borrow reserve liquidity supply must be used as the source liquidity provided");
    return LE_INVALID_ACCOUNT_INPUT;
  }
  if (sol_pubkey_eq_bytes(reserve->data + R_SUPPLY_PUBKEY, destination->key)) {
    sol_log("Borrow reserve liquidity supply cannot be used as the destination liquidity provided");
    return LE_INVALID_ACCOUNT_INPUT;
  }
  uint8_t bump = market->data[M_BUMP_SEED];
  SolSignerSeed seeds[2] = {{market->key->x, 32}, {&bump, 1}};
  SolPubkey derived;
  err = sol_create_program_address(seeds, 2, p->program_id, &derived);
  if (err) return ERROR_INVALID_SEEDS;
  if (!sol_pubkey_eq(&derived, authority->key)) {
    sol_log("Derived lending market authority does not match the lending market authority provided");
    return LE_INVALID_MARKET_AUTHORITY;
  }
  if (sol_load_u64(reserve->data + R_FLASH_LOAN_FEE_WAD) == U64_MAX) {
    sol_log("Flash loans are disabled for this reserve");
    return LE_FLASH_LOANS_DISABLED;
  }

  uint16_t index;
  err = current_index(sysvar, &index);
  if (err) return err;
  bool cpi;
  err = is_cpi_call(sysvar, index, p->program_id, &cpi);
  if (err) return err;
  if (cpi) {
    sol_log("Flash Borrow was called via CPI!");
    return LE_FLASH_BORROW_CPI;
  }
  FlashCtx ctx = {sysvar, p->program_id, reserve->key, amount, index};
  err = find_matching_repay(&ctx);
  if (err) return err;

  /* ReserveLiquidity::borrow(Decimal::from(amount)). */
  uint8_t *r = reserve->data;
  uint64_t available = sol_load_u64(r + R_AVAILABLE_AMOUNT);
  if (amount > available) {
    sol_log("Borrow amount cannot exceed available amount");
    return LE_INSUFFICIENT_LIQUIDITY;
  }
  u128 borrowed;
  if (!u128_add(sol_load_u128(r + R_BORROWED_AMOUNT_WADS), u128_mul64(amount, WAD), &borrowed))
    return LE_MATH_OVERFLOW;
  sol_store_u64(r + R_AVAILABLE_AMOUNT, available - amount);
  sol_store_u128(r + R_BORROWED_AMOUNT_WADS, borrowed);
  r[R_LAST_UPDATE_STALE] = 1; /* mark_stale */

  SolSignerSeed base_seed = {market->key->x, 32};
  SplTransfer t = {token_program, source, destination, authority, amount, &base_seed, 1, bump};
  return spl_token_transfer(&t);
}

/* The repay's check of the borrow instruction it names. */
static uint64_t check_borrow_instruction(const FlashCtx *c, uint8_t borrow_index) {
  const SolAccountInfo *sysvar = c->sysvar;
  const SolPubkey *program_id = c->program_id, *reserve = c->reserve;
  uint64_t amount = c->amount;
  uint16_t index = c->index;
  if (borrow_index > index) {
    sol_log("Flash repay: borrow instruction index has to be less than current index");
    return LE_INVALID_FLASH_REPAY;
  }
  SolIxView ix;
  uint64_t err = sol_ixs_load(sysvar->data, sysvar->data_len, borrow_index, &ix);
  if (err) return err;
  if (!sol_pubkey_eq_bytes((const uint8_t *)ix.program_id, program_id)) {
    sol_log("Flash repay: supplied instruction index doesn't belong to program id");
    return LE_INVALID_FLASH_REPAY;
  }
  Unpacked u;
  err = unpack_instruction(ix.data, ix.data_len, &u);
  if (err) return err;
  if (u.tag != TAG_FLASH_BORROW) {
    sol_log("Flash repay: Supplied borrow instruction index is not a flash borrow");
    return LE_INVALID_FLASH_REPAY;
  }
  if (ix.n_accounts < 3 || !sol_pubkey_eq_bytes(sol_ix_meta_key(&ix, 2), reserve)) {
    sol_log("Invalid reserve account on flash repay");
    return LE_INVALID_FLASH_REPAY;
  }
  if (u.liquidity_amount != amount) {
    sol_log("Liquidity amount for flash repay doesn't match borrow");
    return LE_INVALID_FLASH_REPAY;
  }
  return SUCCESS;
}

static uint64_t flash_repay(const SolParameters *p, uint64_t amount, uint8_t borrow_index) {
  if (p->ka_total < 9) return ERROR_NOT_ENOUGH_ACCOUNT_KEYS;
  const SolAccountInfo *source = &p->ka[0];
  const SolAccountInfo *destination = &p->ka[1];
  const SolAccountInfo *fee_receiver = &p->ka[2];
  const SolAccountInfo *host_fee_receiver = &p->ka[3];
  const SolAccountInfo *reserve = &p->ka[4];
  const SolAccountInfo *market = &p->ka[5];
  const SolAccountInfo *user_authority = &p->ka[6];
  const SolAccountInfo *sysvar = &p->ka[7];
  const SolAccountInfo *token_program = &p->ka[8];
  uint64_t err;

  err = check_lending_market(market, token_program, p->program_id);
  if (err) return err;
  err = check_reserve(reserve, market, p->program_id);
  if (err) return err;
  const uint8_t *supply = reserve->data + R_SUPPLY_PUBKEY;
  if (!sol_pubkey_eq_bytes(supply, destination->key)) {
    sol_log("Reserve liquidity supply does not match the reserve liquidity supply provided");
    return LE_INVALID_ACCOUNT_INPUT;
  }
  if (sol_pubkey_eq_bytes(supply, source->key)) {
    sol_log("Reserve liquidity supply cannot be used as the source liquidity provided");
    return LE_INVALID_ACCOUNT_INPUT;
  }
  if (!sol_pubkey_eq_bytes(reserve->data + R_FEE_RECEIVER, fee_receiver->key)) {
    sol_log("Reserve liquidity fee receiver does not match the reserve liquidity fee receiver provided");
    return LE_INVALID_ACCOUNT_INPUT;
  }

  uint64_t total_fee, host_fee;
  err = flash_loan_fees(amount, sol_load_u64(reserve->data + R_FLASH_LOAN_FEE_WAD),
                        reserve->data[R_HOST_FEE_PERCENTAGE], &total_fee, &host_fee);
  if (err) return err;
  uint64_t origination_fee = total_fee - host_fee; /* host <= total checked above */

  uint16_t index;
  err = current_index(sysvar, &index);
  if (err) return err;
  bool cpi;
  err = is_cpi_call(sysvar, index, p->program_id, &cpi);
  if (err) return err;
  if (cpi) {
    sol_log("Flash Repay was called via CPI!");
    return LE_FLASH_REPAY_CPI;
  }
  FlashCtx ctx = {sysvar, p->program_id, reserve->key, amount, index};
  err = check_borrow_instruction(&ctx, borrow_index);
  if (err) return err;

  /* ReserveLiquidity::repay(amount, Decimal::from(amount)): settle at most what is borrowed. */
  uint8_t *r = reserve->data;
  uint64_t available;
  if (!u64_add(sol_load_u64(r + R_AVAILABLE_AMOUNT), amount, &available)) return LE_MATH_OVERFLOW;
  u128 borrowed = sol_load_u128(r + R_BORROWED_AMOUNT_WADS);
  u128 settle = u128_mul64(amount, WAD);
  if (settle > borrowed) settle = borrowed;
  sol_store_u64(r + R_AVAILABLE_AMOUNT, available);
  sol_store_u128(r + R_BORROWED_AMOUNT_WADS, borrowed - settle);
  r[R_LAST_UPDATE_STALE] = 1;

  /* All three transfers are signed by the user (no seeds). */
  SplTransfer t = {token_program, source, destination, user_authority, amount, NULL, 0, 0};
  err = spl_token_transfer(&t);
  if (err) return err;
  if (host_fee > 0) {
    t.destination = host_fee_receiver;
    t.amount = host_fee;
    err = spl_token_transfer(&t);
    if (err) return err;
  }
  if (origination_fee > 0) {
    t.destination = fee_receiver;
    t.amount = origination_fee;
    err = spl_token_transfer(&t);
    if (err) return err;
  }
  return SUCCESS;
}

uint64_t entrypoint(const uint8_t *input) {
  SolParameters p;
  sol_deserialize(input, &p);
  Unpacked u;
  uint64_t err = unpack_instruction(p.data, p.data_len, &u);
  if (err) return err;
  switch (u.tag) {
    case TAG_FLASH_BORROW:
      sol_log("Instruction: Flash Borrow Reserve Liquidity");
      return flash_borrow(&p, u.liquidity_amount);
    case TAG_FLASH_REPAY:
      sol_log("Instruction: Flash Repay Reserve Liquidity");
      return flash_repay(&p, u.liquidity_amount, u.borrow_instruction_index);
    case TAG_FLASH_LOAN:
    case TAG_LIQUIDATE_OBLIGATION:
      sol_log("This instruction has been deprecated");
      return LE_DEPRECATED_INSTRUCTION;
    default:
      sol_log("Instruction not emulated by the local cluster");
      return ERROR_INVALID_INSTRUCTION_DATA;
  }
}
