/*
 * MarginFi v2 emulator at MFv2hWf31Z9kbCa1snEPYctwafyhdvnV7FZnsebVacA: the flash-loan path.
 *
 * Instructions (Anchor, 8-byte discriminators): marginfi_account_initialize,
 * lending_account_start_flashloan(end_index u64), lending_account_borrow(amount u64),
 * lending_account_repay(amount u64, repay_all Option<bool>), lending_account_end_flashloan.
 * Checks, their order and error numbers follow mrgnlabs/marginfi-v2
 * programs/marginfi/src/instructions/marginfi_account/{flashloan,borrow,repay,initialize}.rs,
 * state/{marginfi_account,risk_engine}.rs and errors.rs; layouts are type-crate's (see
 * core/protocols/marginfi.py for offsets). Anchor's account validation is reproduced in its
 * order: every account is loaded first (owner 3007, discriminator 3001/3002, signer 3010,
 * program ids 3008), then the constraints field by field (mut 2000, has_one 2001, seeds 2006,
 * address 2012), then the handler.
 *
 * Known differences from the real program (documented, not hidden):
 *  - interest accrues with the classic piecewise-linear model (0467f80); newer builds' multi-point
 *    curves and the bank cache are not emulated;
 *  - the risk engine supports PythPushOracle banks only (PriceUpdateV2 with Full verification,
 *    EMA price as the Initial requirement uses), without the confidence band or the
 *    max-confidence check, and skips the isolated risk-tier and emode rules; other oracle
 *    setups are refused with InvalidOracleSetup;
 *  - account lists are those of protocols.md §3.1 (end_flashloan: marginfi account, authority,
 *    then health accounts); the newest source adds the group to end_flashloan and moves the
 *    flag checks into Anchor constraints (IllegalFlashloan), which is not emulated;
 *  - Token-2022 banks, the group's panic pause, account freezing, asset-tag rules, and the bank
 *    and health caches are not emulated.
 */
#include "sol.h"

/* MarginfiError: 6000 + position in errors.rs. */
#define ME_LENDING_ACCOUNT_BALANCE_SLOTS_FULL 6010
#define ME_INVALID_BANK_ACCOUNT 6008
#define ME_RISK_ENGINE_INIT_REJECTED 6009
#define ME_BANK_PAUSED 6016
#define ME_BANK_REDUCE_ONLY 6017
#define ME_BANK_ACCOUNT_NOT_FOUND 6018
#define ME_OPERATION_BORROW_ONLY 6021
#define ME_OPERATION_REPAY_ONLY 6022
#define ME_NO_LIABILITY_FOUND 6024
#define ME_INVALID_ORACLE_SETUP 6025
#define ME_ILLEGAL_UTILIZATION_RATIO 6026
#define ME_BANK_LIABILITY_CAPACITY_EXCEEDED 6027
#define ME_INVALID_PRICE 6028
#define ME_ACCOUNT_DISABLED 6035
#define ME_ILLEGAL_FLASHLOAN 6038
#define ME_UNAUTHORIZED 6042
#define ME_PYTH_PUSH_STALE_PRICE 6050
#define ME_WRONG_ORACLE_ACCOUNT_KEYS 6052
#define ME_PYTH_PUSH_WRONG_ACCOUNT_OWNER 6053
#define ME_PYTH_PUSH_INSUFFICIENT_VERIFICATION_LEVEL 6056
#define ME_PYTH_PUSH_INVALID_ACCOUNT 6060
#define ME_MATH_ERROR 6062
#define ME_WRONG_NUMBER_OF_ORACLE_ACCOUNTS 6051
#define ME_FORBIDDEN_IX 6089
#define ME_NOT_ALLOWED_IN_CPI 6091
#define ME_INVALID_GROUP 6093
#define ME_INVALID_LIQUIDITY_VAULT 6094

/* anchor-lang ErrorCode. */
#define AE_INSTRUCTION_MISSING 100
#define AE_INSTRUCTION_FALLBACK_NOT_FOUND 101
#define AE_INSTRUCTION_DID_NOT_DESERIALIZE 102
#define AE_CONSTRAINT_MUT 2000
#define AE_CONSTRAINT_HAS_ONE 2001
#define AE_CONSTRAINT_SEEDS 2006
#define AE_CONSTRAINT_ADDRESS 2012
#define AE_ACCOUNT_DISCRIMINATOR_NOT_FOUND 3001
#define AE_ACCOUNT_DISCRIMINATOR_MISMATCH 3002
#define AE_ACCOUNT_DID_NOT_DESERIALIZE 3003
#define AE_ACCOUNT_NOT_ENOUGH_KEYS 3005
#define AE_ACCOUNT_OWNED_BY_WRONG_PROGRAM 3007
#define AE_INVALID_PROGRAM_ID 3008
#define AE_ACCOUNT_NOT_SIGNER 3010
#define AE_ACCOUNT_NOT_INITIALIZED 3012

/* Discriminators: sha256("global:<ix>")[:8] and sha256("account:<Name>")[:8]. */
static const uint8_t DISC_START[8] = {14, 131, 33, 220, 81, 186, 180, 107};
static const uint8_t DISC_END[8] = {105, 124, 201, 106, 153, 2, 8, 156};
static const uint8_t DISC_BORROW[8] = {4, 126, 116, 53, 48, 5, 212, 31};
static const uint8_t DISC_REPAY[8] = {79, 209, 172, 177, 222, 51, 173, 151};
static const uint8_t DISC_INIT[8] = {43, 78, 61, 255, 148, 52, 249, 154};
static const uint8_t DISC_DEPOSIT[8] = {171, 94, 235, 103, 82, 64, 212, 140};
static const uint8_t DISC_BANK[8] = {142, 49, 166, 242, 50, 66, 97, 188};
static const uint8_t DISC_ACCOUNT[8] = {67, 178, 130, 109, 126, 114, 28, 42};
static const uint8_t DISC_GROUP[8] = {182, 23, 173, 240, 151, 206, 182, 67};
static const uint8_t DISC_PRICE_UPDATE[8] = {34, 241, 35, 99, 157, 126, 244, 205};

/* rec5EKMGg6MxZYaMdyBfgwp4d5rB9T1VQH5pJv5LtFJ, the Pyth solana receiver. */
static const SolPubkey PYTH_RECEIVER_ID = {{12,  183, 250, 187, 82,  247, 166, 72,  187, 91, 49,
                                            125, 154, 1,   139, 144, 87,  203, 2,   71,  116, 250,
                                            254, 1,   230, 196, 223, 152, 204, 56,  88,  129}};
static const SolPubkey TOKEN_2022_ID = {{6,   221, 246, 225, 238, 117, 143, 222, 24,  66,  93,
                                         188, 228, 108, 205, 218, 182, 26,  252, 77,  131, 185,
                                         13,  39,  254, 189, 249, 40,  216, 161, 139, 252}};

#define BANK_LEN (8 + 1856)
#define ACCOUNT_LEN (8 + 2304)
#define GROUP_LEN (8 + 1056)
#define PRICE_UPDATE_LEN 134

#define B_MINT_DECIMALS 40
#define B_GROUP 41
#define B_ASSET_SHARE_VALUE 80
#define B_LIABILITY_SHARE_VALUE 96
#define B_LIQUIDITY_VAULT 112
#define B_LIQUIDITY_VAULT_AUTHORITY_BUMP 145
#define B_COLLECTED_INSURANCE_FEES 184
#define B_COLLECTED_GROUP_FEES 240
#define B_TOTAL_LIABILITY_SHARES 256
#define B_TOTAL_ASSET_SHARES 272
#define B_LAST_UPDATE 288
#define B_ASSET_WEIGHT_INIT 296
#define B_LIABILITY_WEIGHT_INIT 328
#define B_ORIGINATION_FEE (296 + 184)
#define B_OPERATIONAL_STATE (296 + 312)
#define B_ORACLE_SETUP (296 + 313)
#define B_ORACLE_KEY0 (296 + 314)
#define B_BORROW_LIMIT (296 + 480)
#define B_ASSET_TAG (296 + 489)
#define B_ORACLE_MAX_AGE (296 + 504)
#define B_COLLECTED_PROGRAM_FEES 904

#define OP_PAUSED 0
#define OP_REDUCE_ONLY 2
#define ORACLE_PYTH_PUSH 3

#define A_GROUP 8
#define A_AUTHORITY 40
#define A_BALANCES 72
#define A_FLAGS 1800
#define A_LAST_UPDATE 2208
#define N_BALANCES 16
#define BALANCE_LEN 104
#define BL_ACTIVE 0
#define BL_BANK 1
#define BL_BANK_ASSET_TAG 33
#define BL_ASSET_SHARES 40
#define BL_LIABILITY_SHARES 56
#define BL_LAST_UPDATE 88

#define G_FLAGS 40
#define G_PROGRAM_FEE_FIXED 80
#define G_PROGRAM_FEE_RATE 96
#define GROUP_PROGRAM_FEES_ENABLED 1UL
/* interest_rate_config fields (bank offsets) */
#define IR_OPTIMAL_UR (296 + 72)
#define IR_PLATEAU (296 + 88)
#define IR_MAX (296 + 104)
#define IR_INSURANCE_FIXED (296 + 120)
#define IR_INSURANCE_RATE (296 + 136)
#define IR_GROUP_FIXED (296 + 152)
#define IR_GROUP_RATE (296 + 168)
#define SECONDS_PER_YEAR 31536000UL

#define FLAG_DISABLED 1UL
#define FLAG_IN_FLASHLOAN 2UL
#define FLAG_IN_RECEIVERSHIP 16UL

#define I80_ONE ((u128)1 << 48)
/* ZERO_AMOUNT_THRESHOLD = I80F48!(0.0001), EMPTY_BALANCE_THRESHOLD = I80F48!(1). */
#define ZERO_AMOUNT_THRESHOLD ((u128)28147497671UL)
#define I128_SIGN ((u128)1 << 127)
/* MAX_PRICE_AGE_SEC when a bank's oracle_max_age is 0. */
#define DEFAULT_MAX_AGE 60

/* Rent::default(): (128 + len) * 3480 * 2 lamports for rent exemption. */
#define RENT_EXEMPT(len) ((128UL + (len)) * 3480UL * 2UL)

/* ------------------------------------------------------------------------------------------
 * I80F48 arithmetic on non-negative raw values (u128 = value * 2^48). A negative raw value
 * (sign bit set) is treated as a math error: shares and share values are never negative.
 */

typedef struct {
  uint64_t w[4];
} U256;

static void u256_mul(const u128 *a, const u128 *b, U256 *out) {
  uint64_t a0 = (uint64_t)*a, a1 = (uint64_t)(*a >> 64), b0 = (uint64_t)*b, b1 = (uint64_t)(*b >> 64);
  u128 p00 = u128_mul64(a0, b0), p01 = u128_mul64(a0, b1), p10 = u128_mul64(a1, b0), p11 = u128_mul64(a1, b1);
  u128 mid = (p00 >> 64) + (u128)(uint64_t)p01 + (u128)(uint64_t)p10;
  u128 high = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
  out->w[0] = (uint64_t)p00;
  out->w[1] = (uint64_t)mid;
  out->w[2] = (uint64_t)high;
  out->w[3] = (uint64_t)(high >> 64);
}

/* floor(a * b / 2^48); false when it does not fit a positive I80F48. */
static bool i80_mul(const u128 *a, const u128 *b, u128 *out) {
  U256 p;
  u256_mul(a, b, &p);
  if ((p.w[3] >> 48) != 0) return false;
  uint64_t lo = (p.w[0] >> 48) | (p.w[1] << 16);
  uint64_t hi = (p.w[1] >> 48) | (p.w[2] << 16);
  uint64_t top = (p.w[2] >> 48) | (p.w[3] << 16);
  if (top != 0) return false;
  u128 r = ((u128)hi << 64) | lo;
  if (r & I128_SIGN) return false;
  *out = r;
  return true;
}

/* floor(a * 2^48 / b) by shift-and-subtract; false on b == 0 or overflow. */
static bool i80_div(const u128 *a, const u128 *b, u128 *out) {
  if (*b == 0) return false;
  if (*b == I80_ONE) {
    *out = *a;
    return true;
  }
  /* numerator = a << 48 as 192 bits: n2:n1:n0 */
  uint64_t n0 = (uint64_t)*a << 48;
  uint64_t n1 = (uint64_t)(*a >> 16);
  uint64_t n2 = (uint64_t)(*a >> 80);
  u128 rem = 0, q = 0;
  for (int i = 191; i >= 0; i--) {
    uint64_t word = i >= 128 ? n2 : (i >= 64 ? n1 : n0);
    uint64_t bit = (word >> ((uint64_t)i & 63)) & 1;
    bool carry = (rem >> 127) != 0;
    rem = (rem << 1) | bit;
    if ((q >> 127) != 0) return false;
    q <<= 1;
    if (carry || rem >= *b) {
      rem -= *b;
      q |= 1;
    }
  }
  if (q & I128_SIGN) return false;
  *out = q;
  return true;
}

SOL_INLINE bool i80_negative(u128 v) { return (v & I128_SIGN) != 0; }

/* ------------------------------------------------------------------------------------------
 * Bank::accrue_interest: the classic piecewise-linear model (state/interest_rate.rs, 0467f80),
 * simple interest over the seconds since last_update, settled into the share values; insurance,
 * group and (PROGRAM_FEES_ENABLED) program fees booked on the bank. All values non-negative;
 * anything that would need a negative I80F48 is reported as MathError.
 */

/* calc_fee_rate: fixed if the rate fee is zero, else base * rate + fixed. */
static bool fee_rate(const u128 *base, const u128 *rate, const u128 *fixed, u128 *out) {
  if (*rate == 0) {
    *out = *fixed;
    return true;
  }
  u128 m;
  return i80_mul(base, rate, &m) && u128_add(m, *fixed, out) && !i80_negative(*out);
}

/* value * (1 + apr * dt / SECONDS_PER_YEAR) */
static bool accrue_value(const u128 *value, const u128 *apr, uint64_t dt, u128 *out) {
  u128 x;
  if (!u128_mul(*apr, (u128)dt, &x)) return false;
  u128 ir = u128_divmod64(x, SECONDS_PER_YEAR, NULL) + I80_ONE;
  return i80_mul(value, &ir, out);
}

/* bank[off] += liabilities * apr * dt / SECONDS_PER_YEAR (nothing when apr is zero). */
static bool book_fee(uint8_t *bank, uint64_t off, const u128 *liabilities, const u128 *apr, uint64_t dt) {
  if (*apr == 0) return true;
  u128 m, x, total;
  if (!i80_mul(liabilities, apr, &m) || !u128_mul(m, (u128)dt, &x)) return false;
  x = u128_divmod64(x, SECONDS_PER_YEAR, NULL);
  if (x == 0) return true;
  if (!u128_add(sol_load_u128(bank + off), x, &total) || i80_negative(total)) return false;
  sol_store_u128(bank + off, total);
  return true;
}

typedef struct {
  u128 lending, borrowing, group, insurance, program;
} Rates;

static __attribute__((noinline)) bool interest_rates(const uint8_t *bank, const uint8_t *group, const u128 *ur,
                                                     Rates *r) {
  u128 opt = sol_load_u128(bank + IR_OPTIMAL_UR), plateau = sol_load_u128(bank + IR_PLATEAU);
  u128 max_ir = sol_load_u128(bank + IR_MAX);
  u128 ins_fixed = sol_load_u128(bank + IR_INSURANCE_FIXED), ins_rate = sol_load_u128(bank + IR_INSURANCE_RATE);
  u128 grp_fixed = sol_load_u128(bank + IR_GROUP_FIXED), grp_rate = sol_load_u128(bank + IR_GROUP_RATE);
  u128 prog_fixed = 0, prog_rate = 0;
  if (sol_load_u64(group + G_FLAGS) & GROUP_PROGRAM_FEES_ENABLED) {
    prog_fixed = sol_load_u128(group + G_PROGRAM_FEE_FIXED);
    prog_rate = sol_load_u128(group + G_PROGRAM_FEE_RATE);
  }
  if (i80_negative(opt) || opt == 0 || opt >= I80_ONE || i80_negative(plateau) || i80_negative(max_ir) ||
      max_ir < plateau || i80_negative(ins_fixed) || i80_negative(ins_rate) || i80_negative(grp_fixed) ||
      i80_negative(grp_rate) || i80_negative(prog_fixed) || i80_negative(prog_rate))
    return false;
  u128 base, q;
  if (*ur <= opt) {
    if (!i80_div(ur, &opt, &q) || !i80_mul(&q, &plateau, &base)) return false;
  } else {
    u128 num = *ur - opt, den = I80_ONE - opt, span = max_ir - plateau, m;
    if (!i80_div(&num, &den, &q) || !i80_mul(&q, &span, &m) || !u128_add(m, plateau, &base)) return false;
  }
  u128 fee_ir = ins_rate + grp_rate + prog_rate, fee_fixed = ins_fixed + grp_fixed + prog_fixed;
  u128 one_fee = I80_ONE + fee_ir, b;
  if (!i80_mul(&base, ur, &r->lending) || !i80_mul(&base, &one_fee, &b) || !u128_add(b, fee_fixed, &r->borrowing))
    return false;
  return fee_rate(&base, &grp_rate, &grp_fixed, &r->group) && fee_rate(&base, &ins_rate, &ins_fixed, &r->insurance) &&
         fee_rate(&base, &prog_rate, &prog_fixed, &r->program);
}

static __attribute__((noinline)) uint64_t accrue_interest(uint8_t *bank, const uint8_t *group, int64_t now) {
  int64_t last = (int64_t)sol_load_u64(bank + B_LAST_UPDATE);
  if (now < last) {
    sol_log("accrue_interest: clock is before the bank's last update");
    return ME_MATH_ERROR; /* the program panics (time_delta.try_into().unwrap()) */
  }
  uint64_t dt = (uint64_t)(now - last);
  if (dt == 0) return SUCCESS;
  u128 tas = sol_load_u128(bank + B_TOTAL_ASSET_SHARES), tls = sol_load_u128(bank + B_TOTAL_LIABILITY_SHARES);
  u128 asv = sol_load_u128(bank + B_ASSET_SHARE_VALUE), lsv = sol_load_u128(bank + B_LIABILITY_SHARE_VALUE);
  u128 assets, liabilities;
  if (i80_negative(tas) || i80_negative(tls) || !i80_mul(&tas, &asv, &assets) || !i80_mul(&tls, &lsv, &liabilities))
    return ME_MATH_ERROR;
  sol_store_u64(bank + B_LAST_UPDATE, (uint64_t)now);
  if (assets == 0 || liabilities == 0) return SUCCESS;
  u128 ur, new_asv, new_lsv;
  Rates r;
  if (!i80_div(&liabilities, &assets, &ur) || !interest_rates(bank, group, &ur, &r)) return ME_MATH_ERROR;
  if (!accrue_value(&asv, &r.lending, dt, &new_asv) || !accrue_value(&lsv, &r.borrowing, dt, &new_lsv))
    return ME_MATH_ERROR;
  sol_store_u128(bank + B_ASSET_SHARE_VALUE, new_asv);
  sol_store_u128(bank + B_LIABILITY_SHARE_VALUE, new_lsv);
  if (!book_fee(bank, B_COLLECTED_GROUP_FEES, &liabilities, &r.group, dt) ||
      !book_fee(bank, B_COLLECTED_INSURANCE_FEES, &liabilities, &r.insurance, dt) ||
      !book_fee(bank, B_COLLECTED_PROGRAM_FEES, &liabilities, &r.program, dt))
    return ME_MATH_ERROR;
  return SUCCESS;
}

/* ------------------------------------------------------------------------------------------
 * Anchor account loading.
 */

/* AccountLoader::try_from + load(): initialized, owner, discriminator, size. */
static uint64_t load_anchor(const SolAccountInfo *ai, const uint8_t *disc, uint64_t len, const SolPubkey *program_id) {
  if (sol_pubkey_eq(ai->owner, &SYSTEM_PROGRAM_ID) && *ai->lamports == 0) return AE_ACCOUNT_NOT_INITIALIZED;
  if (!sol_pubkey_eq(ai->owner, program_id)) return AE_ACCOUNT_OWNED_BY_WRONG_PROGRAM;
  if (ai->data_len < 8) return AE_ACCOUNT_DISCRIMINATOR_NOT_FOUND;
  for (int i = 0; i < 8; i++)
    if (ai->data[i] != disc[i]) return AE_ACCOUNT_DISCRIMINATOR_MISMATCH;
  if (ai->data_len < len) return AE_ACCOUNT_DID_NOT_DESERIALIZE;
  return SUCCESS;
}

/* InterfaceAccount<TokenAccount>: owned by a token program and unpackable. */
static uint64_t load_token_account(const SolAccountInfo *ai) {
  if (sol_pubkey_eq(ai->owner, &SYSTEM_PROGRAM_ID) && *ai->lamports == 0) return AE_ACCOUNT_NOT_INITIALIZED;
  if (!sol_pubkey_eq(ai->owner, &SPL_TOKEN_PROGRAM_ID) && !sol_pubkey_eq(ai->owner, &TOKEN_2022_ID))
    return AE_ACCOUNT_OWNED_BY_WRONG_PROGRAM;
  if (ai->data_len < SPL_TOKEN_ACCOUNT_LEN || ai->data[108] == 0) return AE_ACCOUNT_DID_NOT_DESERIALIZE;
  return SUCCESS;
}

/* Interface<TokenInterface>: SPL Token or Token-2022 (only SPL Token banks are emulated). */
static uint64_t check_token_program(const SolAccountInfo *ai) {
  if (sol_pubkey_eq(ai->key, &TOKEN_2022_ID)) {
    sol_log("Token-2022 banks are not emulated by the local cluster");
    return ERROR_INCORRECT_PROGRAM_ID;
  }
  if (!sol_pubkey_eq(ai->key, &SPL_TOKEN_PROGRAM_ID) || !ai->executable) return AE_INVALID_PROGRAM_ID;
  return SUCCESS;
}

SOL_INLINE bool disc_eq(const uint8_t *data, const uint8_t *disc) {
  for (int i = 0; i < 8; i++)
    if (data[i] != disc[i]) return false;
  return true;
}

SOL_INLINE uint64_t acct_flags(const SolAccountInfo *a) { return sol_load_u64(a->data + A_FLAGS); }
SOL_INLINE uint8_t *balance_at(const SolAccountInfo *a, uint64_t i) { return a->data + A_BALANCES + BALANCE_LEN * i; }

/* ------------------------------------------------------------------------------------------
 * Balances (BankAccountWrapper) and the risk engine.
 */

/* LendingAccount::sort_balances: active balances first, by bank key descending; inactive last. */
static __attribute__((noinline)) void sort_balances(const SolAccountInfo *account) {
  uint8_t *tmp = (uint8_t *)sol_heap_scratch();
  for (uint64_t i = 1; i < N_BALANCES; i++) {
    sol_memcpy_(tmp, balance_at(account, i), BALANCE_LEN);
    uint64_t j = i;
    while (j > 0) {
      uint8_t *prev = balance_at(account, j - 1);
      bool move = false;
      if (tmp[BL_ACTIVE] && !prev[BL_ACTIVE]) {
        move = true;
      } else if (tmp[BL_ACTIVE] && prev[BL_ACTIVE]) {
        int32_t cmp;
        sol_memcmp_(tmp + BL_BANK, prev + BL_BANK, 32, &cmp);
        move = cmp > 0;
      }
      if (!move) break;
      sol_memcpy_(balance_at(account, j), prev, BALANCE_LEN);
      j--;
    }
    sol_memcpy_(balance_at(account, j), tmp, BALANCE_LEN);
  }
}

static uint8_t *find_balance(const SolAccountInfo *account, const SolPubkey *bank) {
  for (uint64_t i = 0; i < N_BALANCES; i++) {
    uint8_t *b = balance_at(account, i);
    if (b[BL_ACTIVE] && sol_pubkey_eq_bytes(b + BL_BANK, bank)) return b;
  }
  return NULL;
}

/* Oracle price of a PythPushOracle bank as I80F48 (PriceUpdateV2, Full verification). */
typedef struct {
  const uint8_t *bank;
  const SolAccountInfo *oracle;
  int64_t now;
} PriceQuery;

static __attribute__((noinline)) uint64_t oracle_price(const PriceQuery *q, u128 *price) {
  const uint8_t *bank = q->bank;
  const SolAccountInfo *oracle = q->oracle;
  if (bank[B_ORACLE_SETUP] != ORACLE_PYTH_PUSH) {
    sol_log("Only PythPushOracle banks are emulated by the local cluster");
    return ME_INVALID_ORACLE_SETUP;
  }
  if (!sol_pubkey_eq_bytes(bank + B_ORACLE_KEY0, oracle->key)) return ME_WRONG_ORACLE_ACCOUNT_KEYS;
  if (!sol_pubkey_eq(oracle->owner, &PYTH_RECEIVER_ID)) return ME_PYTH_PUSH_WRONG_ACCOUNT_OWNER;
  const uint8_t *d = oracle->data;
  if (oracle->data_len < PRICE_UPDATE_LEN || !disc_eq(d, DISC_PRICE_UPDATE)) return ME_PYTH_PUSH_INVALID_ACCOUNT;
  if (d[40] != 1) return ME_PYTH_PUSH_INSUFFICIENT_VERIFICATION_LEVEL;
  /* Full: feed_id @41, price i64 @73, conf @81, exponent i32 @89, publish_time i64 @93,
   * prev_publish_time @101, ema_price i64 @109, ema_conf @117. The Initial requirement uses
   * the time-weighted (EMA) price. */
  int64_t p = (int64_t)sol_load_u64(d + 109);
  int32_t expo = sol_load_i32(d + 89);
  int64_t publish_time = (int64_t)sol_load_u64(d + 93);
  uint64_t max_age = sol_load_u16(bank + B_ORACLE_MAX_AGE);
  if (max_age == 0) max_age = DEFAULT_MAX_AGE;
  if (publish_time + (int64_t)max_age < q->now) return ME_PYTH_PUSH_STALE_PRICE;
  if (p <= 0 || expo < -18 || expo > 18) return ME_INVALID_PRICE;
  u128 v = u128_mul64((uint64_t)p, 1UL << 48);
  if (expo < 0) {
    uint64_t div = 1;
    for (int32_t i = 0; i < -expo; i++) div *= 10;
    v = u128_divmod64(v, div, NULL);
  } else {
    for (int32_t i = 0; i < expo; i++) {
      if (!u128_mul(v, 10, &v)) return ME_MATH_ERROR;
    }
  }
  *price = v;
  return SUCCESS;
}

/* calc_asset_value: amount * weight * price / 10^decimals (I80F48, floored at each step). */
static __attribute__((noinline)) bool weighted_value(const u128 *amount, const u128 *weight, const u128 *price, uint8_t decimals, u128 *out) {
  u128 w, v;
  if (*amount == 0) {
    *out = 0;
    return true;
  }
  if (!i80_mul(amount, weight, &w) || !i80_mul(&w, price, &v)) return false;
  uint64_t scale = 1;
  for (uint8_t i = 0; i < decimals; i++) scale *= 10;
  *out = u128_divmod64(v, scale, NULL);
  return true;
}

/* The init-health value of one active balance (RiskEngine, Initial requirement): asset and
 * liability amounts weighted by the bank's init weights at the oracle price. An oracle that does
 * not load values an asset at zero (the engine's err_code path) but fails a liability. */
typedef struct {
  const uint8_t *balance;
  const SolAccountInfo *bank_ai;
  const SolAccountInfo *oracle;
  int64_t now;
} BalanceValue;

static __attribute__((noinline)) uint64_t balance_value(const BalanceValue *v, u128 *asset_value, u128 *liab_value) {
  const uint8_t *b = v->balance, *bank = v->bank_ai->data;
  u128 a_shares = sol_load_u128(b + BL_ASSET_SHARES), l_shares = sol_load_u128(b + BL_LIABILITY_SHARES);
  u128 asv = sol_load_u128(bank + B_ASSET_SHARE_VALUE), lsv = sol_load_u128(bank + B_LIABILITY_SHARE_VALUE);
  u128 aw = sol_load_u128(bank + B_ASSET_WEIGHT_INIT), lw = sol_load_u128(bank + B_LIABILITY_WEIGHT_INIT);
  if (i80_negative(a_shares) || i80_negative(l_shares) || i80_negative(aw) || i80_negative(lw)) return ME_MATH_ERROR;
  u128 a_amount, l_amount, price;
  if (!i80_mul(&a_shares, &asv, &a_amount) || !i80_mul(&l_shares, &lsv, &l_amount)) return ME_MATH_ERROR;
  PriceQuery q = {bank, v->oracle, v->now};
  uint64_t err = oracle_price(&q, &price);
  *asset_value = 0;
  *liab_value = 0;
  if (err) {
    if (l_shares >= I80_ONE) return err; /* a liability (EMPTY_BALANCE_THRESHOLD = 1) needs its price */
    sol_log("Risk engine: asset oracle failed to load, valued at zero");
    return SUCCESS;
  }
  if (!weighted_value(&a_amount, &aw, &price, bank[B_MINT_DECIMALS], asset_value) ||
      !weighted_value(&l_amount, &lw, &price, bank[B_MINT_DECIMALS], liab_value))
    return ME_MATH_ERROR;
  return SUCCESS;
}

/* check_account_init_health: skipped in a flash loan; otherwise, for each active balance in
 * order, the bank then its oracle from the remaining accounts (2 per PythPushOracle bank). */
static __attribute__((noinline)) uint64_t check_init_health(const SolAccountInfo *account, const SolAccountInfo *rem,
                                                            uint64_t n_rem, const SolPubkey *program_id) {
  if (acct_flags(account) & FLAG_IN_FLASHLOAN) return SUCCESS;
  SolClock clock;
  uint64_t err = sol_get_clock_sysvar(&clock);
  if (err) return err;
  u128 assets = 0, liabilities = 0;
  uint64_t idx = 0;
  for (uint64_t i = 0; i < N_BALANCES; i++) {
    const uint8_t *b = balance_at(account, i);
    if (!b[BL_ACTIVE]) continue;
    if (idx >= n_rem) {
      sol_log("Risk engine: ran out of remaining accounts");
      return ME_INVALID_BANK_ACCOUNT;
    }
    const SolAccountInfo *bank_ai = &rem[idx];
    err = load_anchor(bank_ai, DISC_BANK, BANK_LEN, program_id);
    if (err) return err;
    if (!sol_pubkey_eq_bytes(b + BL_BANK, bank_ai->key)) return ME_INVALID_BANK_ACCOUNT;
    if (idx + 2 > n_rem) return ME_WRONG_NUMBER_OF_ORACLE_ACCOUNTS;
    BalanceValue v = {b, bank_ai, &rem[idx + 1], clock.unix_timestamp};
    idx += 2;
    u128 a_value, l_value;
    err = balance_value(&v, &a_value, &l_value);
    if (err) return err;
    if (!u128_add(assets, a_value, &assets) || !u128_add(liabilities, l_value, &liabilities)) return ME_MATH_ERROR;
  }
  if (assets < liabilities) {
    sol_log("Risk engine: weighted liabilities exceed weighted assets");
    return ME_RISK_ENGINE_INIT_REJECTED;
  }
  return SUCCESS;
}

/* ------------------------------------------------------------------------------------------
 * Instruction helpers.
 */

/* Anchor validation shared by start and end: the account (loaded, mut, has_one = authority). */
static uint64_t check_flashloan_accounts(const SolAccountInfo *account, const SolAccountInfo *authority,
                                         const SolPubkey *program_id) {
  uint64_t err = load_anchor(account, DISC_ACCOUNT, ACCOUNT_LEN, program_id);
  if (err) return err;
  if (!authority->is_signer) return AE_ACCOUNT_NOT_SIGNER;
  if (!account->is_writable) return AE_CONSTRAINT_MUT;
  if (!sol_pubkey_eq_bytes(account->data + A_AUTHORITY, authority->key)) return AE_CONSTRAINT_HAS_ONE;
  return SUCCESS;
}

static __attribute__((noinline)) uint64_t start_flashloan(const SolParameters *p, uint64_t end_index) {
  if (p->ka_num < 3) return AE_ACCOUNT_NOT_ENOUGH_KEYS;
  const SolAccountInfo *account = &p->ka[0], *authority = &p->ka[1], *sysvar = &p->ka[2];
  uint64_t err = check_flashloan_accounts(account, authority, p->program_id);
  if (err) return err;
  if (!sol_pubkey_eq(sysvar->key, &SYSVAR_INSTRUCTIONS_ID)) return AE_CONSTRAINT_ADDRESS;

  /* check_flashloan_can_start. validate_not_cpi_with_sysvar: the executing top-level
   * instruction must be this program's. */
  uint16_t index;
  if (!sol_ixs_current_index(sysvar->data, sysvar->data_len, &index)) return ERROR_INVALID_ARGUMENT;
  SolIxView current;
  err = sol_ixs_load(sysvar->data, sysvar->data_len, index, &current);
  if (err) return err;
  if (!sol_pubkey_eq_bytes((const uint8_t *)current.program_id, p->program_id)) {
    sol_log("Start and end liquidation and flashloan must be top-level instructions");
    return ME_NOT_ALLOWED_IN_CPI;
  }
  if ((uint64_t)index >= end_index) {
    sol_log("Start flashloan: end index must come after this instruction");
    return ME_ILLEGAL_FLASHLOAN;
  }
  if (sol_get_stack_height() != TRANSACTION_LEVEL_STACK_HEIGHT) { /* validate_not_cpi_by_stack_height */
    sol_log("Start and end liquidation and flashloan must be top-level instructions");
    return ME_NOT_ALLOWED_IN_CPI;
  }
  if (end_index > 0xffff) return ERROR_INVALID_ARGUMENT;
  SolIxView end;
  err = sol_ixs_load(sysvar->data, sysvar->data_len, (uint16_t)end_index, &end);
  if (err) return err; /* load_instruction_at_checked: out of bounds */
  /* (data[..8] of a shorter instruction panics in the program; reported as IllegalFlashloan) */
  if (end.data_len < 8 || !disc_eq(end.data, DISC_END)) {
    sol_log("Start flashloan: instruction at end index is not end_flashloan");
    return ME_ILLEGAL_FLASHLOAN;
  }
  if (!sol_pubkey_eq_bytes((const uint8_t *)end.program_id, p->program_id)) {
    sol_log("Start flashloan: end_flashloan at end index is not this program's");
    return ME_ILLEGAL_FLASHLOAN;
  }
  if (end.n_accounts < 1 || !sol_pubkey_eq_bytes(sol_ix_meta_key(&end, 0), account->key)) {
    sol_log("Start flashloan: end_flashloan is for another marginfi account");
    return ME_ILLEGAL_FLASHLOAN;
  }
  uint64_t flags = acct_flags(account);
  if (flags & FLAG_DISABLED) return ME_ACCOUNT_DISABLED;
  if (flags & FLAG_IN_FLASHLOAN) {
    sol_log("Start flashloan: account is already in a flashloan");
    return ME_ILLEGAL_FLASHLOAN;
  }
  if (flags & FLAG_IN_RECEIVERSHIP) return ME_FORBIDDEN_IX;
  sol_store_u64(account->data + A_FLAGS, flags | FLAG_IN_FLASHLOAN);
  return SUCCESS;
}

static __attribute__((noinline)) uint64_t end_flashloan(const SolParameters *p) {
  if (p->ka_num < 2) return AE_ACCOUNT_NOT_ENOUGH_KEYS;
  const SolAccountInfo *account = &p->ka[0], *authority = &p->ka[1];
  uint64_t err = check_flashloan_accounts(account, authority, p->program_id);
  if (err) return err;
  if (sol_get_stack_height() != TRANSACTION_LEVEL_STACK_HEIGHT) {
    sol_log("Start and end liquidation and flashloan must be top-level instructions");
    return ME_NOT_ALLOWED_IN_CPI;
  }
  uint64_t flags = acct_flags(account);
  if (flags & FLAG_DISABLED) return ME_ACCOUNT_DISABLED;
  if (flags & FLAG_IN_RECEIVERSHIP) return ME_FORBIDDEN_IX;
  sol_store_u64(account->data + A_FLAGS, flags & ~FLAG_IN_FLASHLOAN);
  return check_init_health(account, p->ka + 2, p->ka_num - 2, p->program_id);
}

/* Shared account checks of borrow (8 accounts) and repay (7): group, marginfi account, signer,
 * bank, user token account; `vault` is the liquidity vault, `token_program` the token program. */
typedef struct {
  const SolAccountInfo *group, *account, *signer, *bank, *user_token, *vault, *token_program;
} LendingAccounts;

static __attribute__((noinline)) uint64_t check_lending_accounts(const LendingAccounts *a, const SolPubkey *program_id, bool user_is_token) {
  uint64_t err = load_anchor(a->group, DISC_GROUP, GROUP_LEN, program_id);
  if (err) return err;
  err = load_anchor(a->account, DISC_ACCOUNT, ACCOUNT_LEN, program_id);
  if (err) return err;
  if (!a->signer->is_signer) return AE_ACCOUNT_NOT_SIGNER;
  err = load_anchor(a->bank, DISC_BANK, BANK_LEN, program_id);
  if (err) return err;
  if (user_is_token) {
    err = load_token_account(a->user_token);
    if (err) return err;
  }
  return SUCCESS;
}

static __attribute__((noinline)) uint64_t check_lending_constraints(const LendingAccounts *a) {
  if (!a->account->is_writable) return AE_CONSTRAINT_MUT;
  if (!sol_pubkey_eq_bytes(a->account->data + A_GROUP, a->group->key)) return ME_INVALID_GROUP;
  if (!sol_pubkey_eq_bytes(a->account->data + A_AUTHORITY, a->signer->key)) return ME_UNAUTHORIZED;
  if (!a->bank->is_writable) return AE_CONSTRAINT_MUT;
  if (!sol_pubkey_eq_bytes(a->bank->data + B_GROUP, a->group->key)) return ME_INVALID_GROUP;
  if (!sol_pubkey_eq_bytes(a->bank->data + B_LIQUIDITY_VAULT, a->vault->key)) return ME_INVALID_LIQUIDITY_VAULT;
  if (!a->user_token->is_writable) return AE_CONSTRAINT_MUT;
  return SUCCESS;
}

/* bank.total_{asset,liability}_shares += delta (delta may be "negative": subtract). */
static bool bank_shares(uint8_t *bank, uint64_t off, const u128 *delta, bool add) {
  u128 v = sol_load_u128(bank + off), out;
  if (add ? !u128_add(v, *delta, &out) : !u128_sub(v, *delta, &out)) return false;
  if (i80_negative(out)) return false;
  sol_store_u128(bank + off, out);
  return true;
}

/* The balance side of a borrow: find_or_create, decrease_balance_internal(BorrowOnly) with the
 * origination fee added to the liability, the borrow cap, the utilization check, fee books. */
static __attribute__((noinline)) uint64_t apply_borrow(const LendingAccounts *a, uint64_t amount) {
  uint8_t *bank = a->bank->data;
  /* BankAccountWrapper::find_or_create */
  uint8_t *bal = find_balance(a->account, a->bank->key);
  if (bal == NULL) {
    for (uint64_t i = 0; i < N_BALANCES && bal == NULL; i++)
      if (!balance_at(a->account, i)[BL_ACTIVE]) bal = balance_at(a->account, i);
    if (bal == NULL) return ME_LENDING_ACCOUNT_BALANCE_SLOTS_FULL;
    sol_memset_(bal, 0, BALANCE_LEN);
    bal[BL_ACTIVE] = 1;
    sol_memcpy_(bal + BL_BANK, a->bank->key, 32);
    bal[BL_BANK_ASSET_TAG] = bank[B_ASSET_TAG]; /* inherited from the bank, fixed for life */
  }

  /* liability delta = amount + amount * protocol_origination_fee */
  u128 fee_rate = sol_load_u128(bank + B_ORIGINATION_FEE);
  if (i80_negative(fee_rate)) return ME_MATH_ERROR;
  u128 delta = (u128)amount << 48, fee = 0;
  if (fee_rate != 0) {
    u128 amt = delta;
    if (!i80_mul(&amt, &fee_rate, &fee) || !u128_add(delta, fee, &delta) || i80_negative(delta)) return ME_MATH_ERROR;
  }

  /* decrease_balance_internal(BorrowOnly): a borrow may not withdraw a deposit of this bank. */
  u128 asv = sol_load_u128(bank + B_ASSET_SHARE_VALUE), lsv = sol_load_u128(bank + B_LIABILITY_SHARE_VALUE);
  u128 a_shares = sol_load_u128(bal + BL_ASSET_SHARES), l_shares = sol_load_u128(bal + BL_LIABILITY_SHARES);
  if (i80_negative(a_shares) || i80_negative(l_shares)) return ME_MATH_ERROR;
  u128 a_amount;
  if (!i80_mul(&a_shares, &asv, &a_amount)) return ME_MATH_ERROR;
  u128 a_dec = a_amount < delta ? a_amount : delta;
  if (a_dec >= ZERO_AMOUNT_THRESHOLD) {
    sol_log("Borrow: operation is borrow-only (the account has a deposit in this bank)");
    return ME_OPERATION_BORROW_ONLY;
  }
  /* Dust below the threshold is consumed from the deposit, as the program does. */
  u128 l_inc = delta - a_dec;
  u128 a_shares_dec = 0, l_shares_inc = 0;
  if (a_dec != 0 && !i80_div(&a_dec, &asv, &a_shares_dec)) return ME_MATH_ERROR;
  if (l_inc != 0 && !i80_div(&l_inc, &lsv, &l_shares_inc)) return ME_MATH_ERROR;
  if (a_shares_dec > a_shares) return ME_MATH_ERROR;
  sol_store_u128(bal + BL_ASSET_SHARES, a_shares - a_shares_dec);
  if (!bank_shares(bank, B_TOTAL_ASSET_SHARES, &a_shares_dec, false)) return ME_MATH_ERROR;
  if (!u128_add(l_shares, l_shares_inc, &l_shares) || i80_negative(l_shares)) return ME_MATH_ERROR;
  sol_store_u128(bal + BL_LIABILITY_SHARES, l_shares);
  if (!bank_shares(bank, B_TOTAL_LIABILITY_SHARES, &l_shares_inc, true)) return ME_MATH_ERROR;
  /* Bank::change_liability_shares: borrow cap (when set) */
  u128 total_l = sol_load_u128(bank + B_TOTAL_LIABILITY_SHARES), total_a = sol_load_u128(bank + B_TOTAL_ASSET_SHARES);
  u128 total_l_amount, total_a_amount;
  if (!i80_mul(&total_l, &lsv, &total_l_amount) || !i80_mul(&total_a, &asv, &total_a_amount)) return ME_MATH_ERROR;
  uint64_t borrow_limit = sol_load_u64(bank + B_BORROW_LIMIT);
  if (l_shares_inc != 0 && borrow_limit != U64_MAX && total_l_amount >= ((u128)borrow_limit << 48)) {
    sol_log("Bank borrow cap exceeded");
    return ME_BANK_LIABILITY_CAPACITY_EXCEEDED;
  }
  /* Bank::check_utilization_ratio */
  if (total_a_amount < total_l_amount) return ME_ILLEGAL_UTILIZATION_RATIO;

  /* The origination fee is owed to the group (and the program, at the group's fee rate). */
  if (fee != 0) {
    u128 program_rate = sol_load_u128(a->group->data + G_PROGRAM_FEE_RATE), program_fee = 0;
    if (i80_negative(program_rate) || (program_rate != 0 && !i80_mul(&fee, &program_rate, &program_fee)) ||
        program_fee > fee)
      return ME_MATH_ERROR;
    u128 group_fees = sol_load_u128(bank + B_COLLECTED_GROUP_FEES) + (fee - program_fee);
    u128 program_fees = sol_load_u128(bank + B_COLLECTED_PROGRAM_FEES) + program_fee;
    sol_store_u128(bank + B_COLLECTED_GROUP_FEES, group_fees);
    sol_store_u128(bank + B_COLLECTED_PROGRAM_FEES, program_fees);
  }
  return SUCCESS;
}

static __attribute__((noinline)) uint64_t borrow(const SolParameters *p, uint64_t amount) {
  if (p->ka_num < 8) return AE_ACCOUNT_NOT_ENOUGH_KEYS;
  LendingAccounts a = {&p->ka[0], &p->ka[1], &p->ka[2], &p->ka[3], &p->ka[4], &p->ka[6], &p->ka[7]};
  const SolAccountInfo *vault_authority = &p->ka[5];
  uint64_t err = check_lending_accounts(&a, p->program_id, true);
  if (err) return err;
  err = load_token_account(a.vault);
  if (err) return err;
  err = check_token_program(a.token_program);
  if (err) return err;
  err = check_lending_constraints(&a);
  if (err) return err;
  uint8_t *bank = a.bank->data;
  uint8_t bump = bank[B_LIQUIDITY_VAULT_AUTHORITY_BUMP];
  static const uint8_t seed[] = "liquidity_vault_auth";
  SolSignerSeed seeds[3] = {{seed, sizeof(seed) - 1}, {a.bank->key->x, 32}, {&bump, 1}};
  SolPubkey derived;
  if (sol_create_program_address(seeds, 3, p->program_id, &derived) != SUCCESS ||
      !sol_pubkey_eq(&derived, vault_authority->key))
    return AE_CONSTRAINT_SEEDS;
  if (!a.vault->is_writable) return AE_CONSTRAINT_MUT;

  uint64_t flags = acct_flags(a.account);
  if ((flags & FLAG_DISABLED) || (flags & FLAG_IN_RECEIVERSHIP)) return ME_ACCOUNT_DISABLED;
  SolClock clock;
  err = sol_get_clock_sysvar(&clock);
  if (err) return err;
  err = accrue_interest(bank, a.group->data, clock.unix_timestamp);
  if (err) return err;
  /* validate_bank_state(FailsIfPausedOrReduceState) */
  if (bank[B_OPERATIONAL_STATE] == OP_PAUSED) return ME_BANK_PAUSED;
  if (bank[B_OPERATIONAL_STATE] == OP_REDUCE_ONLY) return ME_BANK_REDUCE_ONLY;

  err = apply_borrow(&a, amount);
  if (err) return err;
  sol_store_u64(a.account->data + A_LAST_UPDATE, (uint64_t)clock.unix_timestamp);

  /* withdraw_spl_transfer: vault -> user, signed by the vault authority PDA. */
  SplTransfer t = {a.token_program, a.vault, a.user_token, vault_authority, amount, seeds, 2, bump};
  err = spl_token_transfer(&t);
  if (err) return err;

  sort_balances(a.account);
  return check_init_health(a.account, p->ka + 8, p->ka_num - 8, p->program_id);
}

static __attribute__((noinline)) uint64_t repay(const SolParameters *p, uint64_t amount, bool repay_all) {
  if (p->ka_num < 7) return AE_ACCOUNT_NOT_ENOUGH_KEYS;
  LendingAccounts a = {&p->ka[0], &p->ka[1], &p->ka[2], &p->ka[3], &p->ka[4], &p->ka[5], &p->ka[6]};
  uint64_t err = check_lending_accounts(&a, p->program_id, false);
  if (err) return err;
  err = load_token_account(a.vault);
  if (err) return err;
  err = check_token_program(a.token_program);
  if (err) return err;
  err = check_lending_constraints(&a);
  if (err) return err;
  if (!a.vault->is_writable) return AE_CONSTRAINT_MUT;

  uint8_t *bank = a.bank->data;
  if (acct_flags(a.account) & FLAG_DISABLED) return ME_ACCOUNT_DISABLED;
  if (bank[B_OPERATIONAL_STATE] == OP_PAUSED) return ME_BANK_PAUSED; /* FailsInPausedState */
  SolClock clock;
  err = sol_get_clock_sysvar(&clock);
  if (err) return err;
  err = accrue_interest(bank, a.group->data, clock.unix_timestamp);
  if (err) return err;

  uint8_t *bal = find_balance(a.account, a.bank->key);
  if (bal == NULL) {
    sol_log("Repay: no balance for this bank");
    return ME_BANK_ACCOUNT_NOT_FOUND;
  }
  u128 asv = sol_load_u128(bank + B_ASSET_SHARE_VALUE), lsv = sol_load_u128(bank + B_LIABILITY_SHARE_VALUE);
  u128 a_shares = sol_load_u128(bal + BL_ASSET_SHARES), l_shares = sol_load_u128(bal + BL_LIABILITY_SHARES);
  if (i80_negative(a_shares) || i80_negative(l_shares)) return ME_MATH_ERROR;
  u128 l_amount, a_amount;
  if (!i80_mul(&l_shares, &lsv, &l_amount) || !i80_mul(&a_shares, &asv, &a_amount)) return ME_MATH_ERROR;

  uint64_t transfer;
  if (repay_all) {
    /* BankAccountWrapper::repay_all */
    if (l_amount < ZERO_AMOUNT_THRESHOLD || a_amount >= ZERO_AMOUNT_THRESHOLD) {
      sol_log("Repay all: no liability found");
      return ME_NO_LIABILITY_FOUND;
    }
    sol_memset_(bal, 0, BALANCE_LEN); /* Balance::close */
    if (!bank_shares(bank, B_TOTAL_LIABILITY_SHARES, &l_shares, false)) return ME_MATH_ERROR;
    u128 ceil = (l_amount + (I80_ONE - 1)) >> 48;
    if ((ceil >> 64) != 0) return ME_MATH_ERROR;
    u128 dust = (ceil << 48) - l_amount;
    sol_store_u128(bank + B_COLLECTED_INSURANCE_FEES, sol_load_u128(bank + B_COLLECTED_INSURANCE_FEES) + dust);
    transfer = (uint64_t)ceil;
  } else {
    /* increase_balance_internal(RepayOnly) */
    u128 delta = (u128)amount << 48;
    u128 l_dec = l_amount < delta ? l_amount : delta;
    u128 a_inc = delta - l_dec;
    if (a_inc >= ZERO_AMOUNT_THRESHOLD) {
      sol_log("Repay: operation is repay-only");
      return ME_OPERATION_REPAY_ONLY;
    }
    u128 l_shares_dec = 0;
    if (l_dec != 0 && !i80_div(&l_dec, &lsv, &l_shares_dec)) return ME_MATH_ERROR;
    if (l_shares_dec > l_shares) l_shares_dec = l_shares;
    sol_store_u128(bal + BL_LIABILITY_SHARES, l_shares - l_shares_dec);
    if (!bank_shares(bank, B_TOTAL_LIABILITY_SHARES, &l_shares_dec, false)) return ME_MATH_ERROR;
    transfer = amount;
  }
  sol_store_u64(a.account->data + A_LAST_UPDATE, (uint64_t)clock.unix_timestamp);

  /* deposit_spl_transfer: user -> vault, signed by the user. */
  SplTransfer t = {a.token_program, a.user_token, a.vault, a.signer, transfer, NULL, 0, 0};
  err = spl_token_transfer(&t);
  if (err) return err;
  sort_balances(a.account);
  return SUCCESS;
}

/* marginfi_account_initialize: group, marginfi_account (new, signer), authority, fee_payer,
 * system program. Anchor `init` creates the account through the system program. */
static __attribute__((noinline)) uint64_t initialize(const SolParameters *p) {
  if (p->ka_num < 5) return AE_ACCOUNT_NOT_ENOUGH_KEYS;
  const SolAccountInfo *group = &p->ka[0], *account = &p->ka[1], *authority = &p->ka[2];
  const SolAccountInfo *payer = &p->ka[3], *system = &p->ka[4];
  uint64_t err = load_anchor(group, DISC_GROUP, GROUP_LEN, p->program_id);
  if (err) return err;
  if (!authority->is_signer || !payer->is_signer) return AE_ACCOUNT_NOT_SIGNER;
  if (!sol_pubkey_eq(system->key, &SYSTEM_PROGRAM_ID)) return AE_INVALID_PROGRAM_ID;
  if (!payer->is_writable || !account->is_writable) return AE_CONSTRAINT_MUT;

  uint8_t data[52];
  sol_store_u32(data, 0); /* SystemInstruction::CreateAccount */
  sol_store_u64(data + 4, RENT_EXEMPT(ACCOUNT_LEN));
  sol_store_u64(data + 12, ACCOUNT_LEN);
  sol_memcpy_(data + 20, p->program_id, 32);
  SolAccountMeta metas[2] = {{payer->key, true, true}, {account->key, true, true}};
  SolInstruction ix = {system->key, metas, 2, data, sizeof(data)};
  SolAccountInfo infos[2] = {*payer, *account};
  err = sol_invoke_signed_c(&ix, infos, 2, NULL, 0);
  if (err) return err;
  /* The runtime updated data_len in the input buffer but not our parsed copy: the new data
   * starts at the same address. */
  uint8_t *d = account->data;
  sol_memcpy_(d, DISC_ACCOUNT, 8);
  sol_memcpy_(d + A_GROUP, group->key, 32);
  sol_memcpy_(d + A_AUTHORITY, authority->key, 32);
  return SUCCESS;
}

uint64_t entrypoint(const uint8_t *input) {
  SolParameters p;
  sol_deserialize(input, &p);
  if (p.data_len < 8) return AE_INSTRUCTION_MISSING;
  const uint8_t *d = p.data;
  if (disc_eq(d, DISC_START)) {
    sol_log("Instruction: LendingAccountStartFlashloan");
    if (p.data_len < 16) return AE_INSTRUCTION_DID_NOT_DESERIALIZE;
    return start_flashloan(&p, sol_load_u64(d + 8));
  }
  if (disc_eq(d, DISC_END)) {
    sol_log("Instruction: LendingAccountEndFlashloan");
    return end_flashloan(&p);
  }
  if (disc_eq(d, DISC_BORROW)) {
    sol_log("Instruction: LendingAccountBorrow");
    if (p.data_len < 16) return AE_INSTRUCTION_DID_NOT_DESERIALIZE;
    return borrow(&p, sol_load_u64(d + 8));
  }
  if (disc_eq(d, DISC_REPAY)) {
    sol_log("Instruction: LendingAccountRepay");
    /* amount u64, then Option<bool>: 0 = None, 1 + bool = Some */
    if (p.data_len < 17) return AE_INSTRUCTION_DID_NOT_DESERIALIZE;
    bool all = false;
    if (d[16] == 1) {
      if (p.data_len < 18 || d[17] > 1) return AE_INSTRUCTION_DID_NOT_DESERIALIZE;
      all = d[17] == 1;
    } else if (d[16] != 0) {
      return AE_INSTRUCTION_DID_NOT_DESERIALIZE;
    }
    return repay(&p, sol_load_u64(d + 8), all);
  }
  if (disc_eq(d, DISC_INIT)) {
    sol_log("Instruction: MarginfiAccountInitialize");
    return initialize(&p);
  }
  if (disc_eq(d, DISC_DEPOSIT)) {
    sol_log("Instruction not emulated by the local cluster");
    return ERROR_INVALID_INSTRUCTION_DATA;
  }
  return AE_INSTRUCTION_FALLBACK_NOT_FOUND;
}
