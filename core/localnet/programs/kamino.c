/*
 * Kamino lending (klend) emulator at KLend2g3cP87fffoy8q1mQqGKjrxjC8boSyAYavgmjD:
 * flash_borrow_reserve_liquidity and flash_repay_reserve_liquidity with the checks, their order
 * and the error numbers of Kamino-Finance/klend: the Anchor account validation of
 * `handlers/handler_flash_{borrow,repay}_reserve_liquidity.rs` (deserialisation of every account
 * in field order, then the constraints in field order), the `emergency_mode_disabled` access
 * control, `lending_checks::flash_*_checks`, `flash_ixs.rs` (instructions-sysvar checks),
 * `lending_operations::flash_*_reserve_liquidity`, `ReserveFees::calculate_fees` and
 * `post_transfer_vault_balance_liquidity_reserve_checks`. Transfers are SPL `TransferChecked` CPIs,
 * the borrow's signed by the `["lma", market, bump]` PDA.
 *
 * Known differences from the real program (documented in core/protocols/kamino.py too):
 *  - the borrow's refresh_reserve compounds interest like Reserve::accrue_interest, with
 *    Fraction x Fraction and Fraction / Fraction taken to truncate (the `fixed` crate's rounding
 *    was not read); price status is only cleared when the saved price is too old;
 *  - a referrer (accounts 8 and 9 both other than the program id) is refused as not emulated;
 *  - Token-2022 mints are accepted only without extensions checks;
 *  - where the Rust program panics (short instruction data of another klend instruction, a reserve
 *    whose vault holds less than its available amount, an unknown reserve status) this program
 *    panics too (ProgramFailedToComplete), without the Rust panic message.
 * Other klend instructions are refused as InstructionFallbackNotFound.
 */
#include "sol.h"

void sol_panic_(const char *file, uint64_t len, uint64_t line, uint64_t column);
#define PANIC() sol_panic_("kamino.c", 8, __LINE__, 0)

/* Anchor framework errors (anchor_lang::error::ErrorCode). */
#define AE_INSTRUCTION_MISSING 100
#define AE_INSTRUCTION_FALLBACK_NOT_FOUND 101
#define AE_INSTRUCTION_DID_NOT_DESERIALIZE 102
#define AE_CONSTRAINT_MUT 2000
#define AE_CONSTRAINT_HAS_ONE 2001
#define AE_CONSTRAINT_SEEDS 2006
#define AE_CONSTRAINT_ADDRESS 2012
#define AE_CONSTRAINT_MINT_TOKEN_PROGRAM 2022
#define AE_ACCOUNT_DISCRIMINATOR_NOT_FOUND 3001
#define AE_ACCOUNT_DISCRIMINATOR_MISMATCH 3002
#define AE_ACCOUNT_DID_NOT_DESERIALIZE 3003
#define AE_ACCOUNT_NOT_ENOUGH_KEYS 3005
#define AE_ACCOUNT_OWNED_BY_WRONG_PROGRAM 3007
#define AE_INVALID_PROGRAM_ID 3008
#define AE_INVALID_PROGRAM_EXECUTABLE 3009
#define AE_ACCOUNT_NOT_SIGNER 3010

/* klend LendingError (6000 + position). */
#define LE_INVALID_ACCOUNT_INPUT 6006
#define LE_MATH_OVERFLOW 6007
#define LE_INSUFFICIENT_LIQUIDITY 6008
#define LE_BORROW_TOO_SMALL 6012
#define LE_FLASH_BORROW_CPI 6031
#define LE_NO_FLASH_REPAY_FOUND 6032
#define LE_INVALID_FLASH_REPAY 6033
#define LE_FLASH_REPAY_CPI 6034
#define LE_MULTIPLE_FLASH_BORROWS 6035
#define LE_FLASH_LOANS_DISABLED 6036
#define LE_GLOBAL_EMERGENCY_MODE 6042
#define LE_INVALID_BORROW_RATE_CURVE_POINT 6060
#define LE_INVALID_UTILIZATION_RATE 6061
#define LE_RESERVE_DEPRECATED 6073
#define LE_RESERVE_OBSOLETE 6082
#define LE_RESERVE_TOKEN_BALANCE_MISMATCH 6095
#define LE_RESERVE_VAULT_BALANCE_MISMATCH 6096
#define LE_RESERVE_ACCOUNTING_MISMATCH 6097

#define PROGRAM_VERSION 1
#define STATUS_OBSOLETE 1
#define STATUS_MAX 2

/* Anchor discriminators read as little-endian u64 (sha256("account:Reserve")[:8], ...). */
#define DISC_RESERVE 0x7f3bf71acaccf22bUL
#define DISC_LENDING_MARKET 0x781c9d48623272f6UL
#define DISC_FLASH_BORROW 0xc1d43407a734e787UL
#define DISC_FLASH_REPAY 0xbab4f560cb0075b9UL

/* Reserve (8624 bytes) and LendingMarket (4664 bytes) offsets, discriminator included. */
#define RESERVE_LEN 8624
#define R_VERSION 8
#define R_LAST_UPDATE_SLOT 16
#define R_LAST_UPDATE_STALE 24
#define R_LAST_UPDATE_PRICE_STATUS 25
#define R_LENDING_MARKET 32
#define R_MINT 128
#define R_SUPPLY_VAULT 160
#define R_FEE_VAULT 192
#define R_AVAILABLE 224
#define R_BORROWED_SF 232
#define R_MARKET_PRICE_TS 264
#define R_DEPOSIT_LIMIT_CROSSED_TS 280
#define R_BORROW_LIMIT_CROSSED_TS 288
#define R_PROTOCOL_FEES_SF 344
#define R_REFERRER_FEES_SF 360
#define R_PENDING_REFERRER_FEES_SF 376
#define R_STATUS 4856
#define R_RESERVED_1 4863 /* [u8; 6], cleared by refresh_reserve */
#define R_FLASH_LOAN_FEE_SF 4904
#define R_DEPOSIT_LIMIT 5016
#define R_BORROW_LIMIT 5024
#define R_MAX_AGE_PRICE_SECONDS 5096

#define LENDING_MARKET_LEN 4664
#define M_BUMP_SEED 16
#define M_EMERGENCY_MODE 122

#define FRACTION_BITS 60
#define FRACTION_HALF (((u128)1) << 59)

/* SPL Token layouts (mint 82 bytes, account 165; Token-2022 may append extensions). */
#define MINT_LEN 82
#define MINT_DECIMALS 44
#define MINT_IS_INITIALIZED 45
#define TOKEN_ACCOUNT_STATE 108
#define SPL_TOKEN_TRANSFER_CHECKED 12

static const SolPubkey TOKEN_2022_PROGRAM_ID = {{6,   221, 246, 225, 238, 117, 143, 222, 24,  66,  93,
                                                  188, 228, 108, 205, 218, 182, 26,  252, 77,  131, 185,
                                                  13,  39,  254, 189, 249, 40,  216, 161, 139, 252}};
static const uint8_t LMA_SEED[3] = {'l', 'm', 'a'};

/* The 12 accounts, in the order of both instructions' Anchor structs. */
enum {
  A_AUTHORITY,
  A_MARKET_AUTHORITY,
  A_MARKET,
  A_RESERVE,
  A_MINT,
  A_RESERVE_LIQUIDITY, /* borrow: source, repay: destination = the supply vault */
  A_USER_LIQUIDITY,    /* borrow: destination, repay: source */
  A_FEE_VAULT,
  A_REFERRER_TOKEN_STATE,
  A_REFERRER_ACCOUNT,
  A_SYSVAR,
  A_TOKEN_PROGRAM,
  N_ACCOUNTS
};

/* ------------------------------------------------------------------------------------------ */

SOL_INLINE bool is_token_program(const SolPubkey *key) {
  return sol_pubkey_eq(key, &SPL_TOKEN_PROGRAM_ID) || sol_pubkey_eq(key, &TOKEN_2022_PROGRAM_ID);
}

/* AccountLoader::try_from: owner, then the discriminator. The size is only checked by load(),
 * whose slice of a too-short account panics. */
static uint64_t check_loader(const SolAccountInfo *ai, const SolPubkey *program_id, uint64_t disc,
                             uint64_t size) {
  if (!sol_pubkey_eq(ai->owner, program_id)) return AE_ACCOUNT_OWNED_BY_WRONG_PROGRAM;
  if (ai->data_len < 8) return AE_ACCOUNT_DISCRIMINATOR_NOT_FOUND;
  if (sol_load_u64(ai->data) != disc) return AE_ACCOUNT_DISCRIMINATOR_MISMATCH;
  if (ai->data_len < size) PANIC();
  return SUCCESS;
}

/* InterfaceAccount<Mint> / InterfaceAccount<TokenAccount>: owned by a token program, unpacks. */
static uint64_t check_mint(const SolAccountInfo *ai) {
  if (!is_token_program(ai->owner)) return AE_ACCOUNT_OWNED_BY_WRONG_PROGRAM;
  bool t22 = sol_pubkey_eq(ai->owner, &TOKEN_2022_PROGRAM_ID);
  if (ai->data_len < MINT_LEN || (!t22 && ai->data_len != MINT_LEN) || ai->data[MINT_IS_INITIALIZED] != 1)
    return AE_ACCOUNT_DID_NOT_DESERIALIZE;
  return SUCCESS;
}

static uint64_t check_token_account(const SolAccountInfo *ai) {
  if (!is_token_program(ai->owner)) return AE_ACCOUNT_OWNED_BY_WRONG_PROGRAM;
  bool t22 = sol_pubkey_eq(ai->owner, &TOKEN_2022_PROGRAM_ID);
  if (ai->data_len < SPL_TOKEN_ACCOUNT_LEN || (!t22 && ai->data_len != SPL_TOKEN_ACCOUNT_LEN))
    return AE_ACCOUNT_DID_NOT_DESERIALIZE;
  uint8_t state = ai->data[TOKEN_ACCOUNT_STATE];
  if (state == 0 || state > 2) return AE_ACCOUNT_DID_NOT_DESERIALIZE;
  return SUCCESS;
}

SOL_INLINE bool is_none(const SolAccountInfo *ai, const SolPubkey *program_id) {
  return sol_pubkey_eq(ai->key, program_id);
}

/* try_accounts of FlashBorrowReserveLiquidity / FlashRepayReserveLiquidity (same constraints). */
static uint64_t validate_accounts(const SolParameters *p) {
  if (p->ka_total < N_ACCOUNTS) return AE_ACCOUNT_NOT_ENOUGH_KEYS;
  const SolAccountInfo *a = p->ka;
  const SolPubkey *program_id = p->program_id;
  uint64_t err;

  /* Deserialisation, field by field. */
  if (!a[A_AUTHORITY].is_signer) return AE_ACCOUNT_NOT_SIGNER;
  if ((err = check_loader(&a[A_MARKET], program_id, DISC_LENDING_MARKET, LENDING_MARKET_LEN))) return err;
  if ((err = check_loader(&a[A_RESERVE], program_id, DISC_RESERVE, RESERVE_LEN))) return err;
  if ((err = check_mint(&a[A_MINT]))) return err;
  if ((err = check_token_account(&a[A_RESERVE_LIQUIDITY]))) return err;
  if ((err = check_token_account(&a[A_USER_LIQUIDITY]))) return err;
  if ((err = check_token_account(&a[A_FEE_VAULT]))) return err;
  if (!is_none(&a[A_REFERRER_TOKEN_STATE], program_id) && !is_none(&a[A_REFERRER_ACCOUNT], program_id)) {
    sol_log("Referrer accounts are not emulated by the local cluster");
    return ERROR_INVALID_ARGUMENT;
  }
  if (!is_token_program(a[A_TOKEN_PROGRAM].key)) return AE_INVALID_PROGRAM_ID;
  if (!a[A_TOKEN_PROGRAM].executable) return AE_INVALID_PROGRAM_EXECUTABLE;

  /* Constraints, field by field. */
  const uint8_t *market = a[A_MARKET].data;
  const uint8_t *r = a[A_RESERVE].data;
  uint8_t bump = market[M_BUMP_SEED]; /* bump_seed as u8 */
  SolSignerSeed seeds[3] = {{LMA_SEED, 3}, {a[A_MARKET].key->x, 32}, {&bump, 1}};
  SolPubkey derived;
  if (sol_create_program_address(seeds, 3, program_id, &derived) != SUCCESS ||
      !sol_pubkey_eq(&derived, a[A_MARKET_AUTHORITY].key))
    return AE_CONSTRAINT_SEEDS;
  if (!a[A_RESERVE].is_writable) return AE_CONSTRAINT_MUT;
  if (!sol_pubkey_eq_bytes(r + R_LENDING_MARKET, a[A_MARKET].key)) return AE_CONSTRAINT_HAS_ONE;
  if (!sol_pubkey_eq_bytes(r + R_MINT, a[A_MINT].key)) return AE_CONSTRAINT_ADDRESS;
  if (!sol_pubkey_eq(a[A_MINT].owner, a[A_TOKEN_PROGRAM].key)) return AE_CONSTRAINT_MINT_TOKEN_PROGRAM;
  if (!a[A_RESERVE_LIQUIDITY].is_writable) return AE_CONSTRAINT_MUT;
  if (!sol_pubkey_eq_bytes(r + R_SUPPLY_VAULT, a[A_RESERVE_LIQUIDITY].key)) return AE_CONSTRAINT_ADDRESS;
  if (!a[A_USER_LIQUIDITY].is_writable) return AE_CONSTRAINT_MUT;
  if (!a[A_FEE_VAULT].is_writable) return AE_CONSTRAINT_MUT;
  if (!sol_pubkey_eq_bytes(r + R_FEE_VAULT, a[A_FEE_VAULT].key)) return AE_CONSTRAINT_ADDRESS;
  if (!is_none(&a[A_REFERRER_TOKEN_STATE], program_id) && !a[A_REFERRER_TOKEN_STATE].is_writable)
    return AE_CONSTRAINT_MUT;
  if (!is_none(&a[A_REFERRER_ACCOUNT], program_id) && !a[A_REFERRER_ACCOUNT].is_writable)
    return AE_CONSTRAINT_MUT;
  if (!sol_pubkey_eq(a[A_SYSVAR].key, &SYSVAR_INSTRUCTIONS_ID)) return AE_CONSTRAINT_ADDRESS;

  /* #[access_control(emergency_mode_disabled(&ctx.accounts.lending_market))] */
  if (market[M_EMERGENCY_MODE] != 0) {
    sol_log("Emergency mode is enabled");
    return LE_GLOBAL_EMERGENCY_MODE;
  }
  return SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */

/* is_flash_forbidden_cpi_call: the executing top-level instruction is not klend's, or we run
 * below it. Also returns the current index. */
static uint64_t current_index(const SolAccountInfo *sysvar, const SolPubkey *program_id, uint16_t *index,
                              bool *cpi) {
  if (!sol_ixs_current_index(sysvar->data, sysvar->data_len, index)) return ERROR_INVALID_ARGUMENT;
  SolIxView ix;
  uint64_t err = sol_ixs_load(sysvar->data, sysvar->data_len, *index, &ix);
  if (err) return err;
  *cpi = !sol_pubkey_eq_bytes((const uint8_t *)ix.program_id, program_id) ||
         sol_get_stack_height() > TRANSACTION_LEVEL_STACK_HEIGHT;
  return SUCCESS;
}

/* flash_borrow_check_matching_repay: amount, index, and the same account list. */
static uint64_t check_matching_repay(const SolIxView *borrow, const SolIxView *repay, uint64_t amount,
                                     uint16_t index) {
  /* FlashRepayReserveLiquidityArgs::try_from_slice(&data[8..]): exactly u64 + u8. */
  if (repay->data_len != 8 + 9) return ERROR_BORSH_IO_ERROR;
  if (sol_load_u64(repay->data + 8) != amount) {
    sol_log("Liquidity amount for flash repay doesn't match borrow");
    return LE_INVALID_FLASH_REPAY;
  }
  if (repay->data[16] != index) {
    sol_log("Borrow instruction index for flash repay doesn't match current index");
    return LE_INVALID_FLASH_REPAY;
  }
  if (repay->n_accounts != borrow->n_accounts) {
    sol_log("Number of accounts mismatch between first and second ix of couple");
    return LE_INVALID_FLASH_REPAY;
  }
  for (uint16_t i = 0; i < borrow->n_accounts; i++) {
    const uint8_t *x = sol_ix_meta_key(borrow, i), *y = sol_ix_meta_key(repay, i);
    uint8_t diff = 0;
    for (int k = 0; k < 32; k++) diff |= x[k] ^ y[k];
    if (diff) {
      sol_log("Some accounts in flash tx couple differs");
      return LE_INVALID_FLASH_REPAY;
    }
  }
  return SUCCESS;
}

/* flash_borrow_checks: not a CPI; exactly one later repay that matches; no later borrow. */
static uint64_t flash_borrow_checks(const SolAccountInfo *sysvar, const SolPubkey *program_id, uint64_t amount) {
  uint16_t index;
  bool cpi;
  uint64_t err = current_index(sysvar, program_id, &index, &cpi);
  if (err) return err;
  if (cpi) {
    sol_log("Flash Borrow was called via CPI!");
    return LE_FLASH_BORROW_CPI;
  }
  SolIxView borrow;
  err = sol_ixs_load(sysvar->data, sysvar->data_len, index, &borrow);
  if (err) return err;
  bool found_repay = false;
  for (uint32_t i = (uint32_t)index + 1; i <= 0xffff; i++) {
    SolIxView ix;
    if (sol_ixs_load(sysvar->data, sysvar->data_len, (uint16_t)i, &ix) != SUCCESS) break; /* end */
    if (!sol_pubkey_eq_bytes((const uint8_t *)ix.program_id, program_id)) continue;
    if (ix.data_len < 8) PANIC(); /* ixn.data[..8] */
    uint64_t disc = sol_load_u64(ix.data);
    if (disc == DISC_FLASH_BORROW) {
      sol_log("Multiple flash borrows not allowed");
      return LE_MULTIPLE_FLASH_BORROWS;
    }
    if (disc == DISC_FLASH_REPAY) {
      if (found_repay) {
        sol_log("Multiple flash repays not allowed");
        return LE_MULTIPLE_FLASH_BORROWS;
      }
      err = check_matching_repay(&borrow, &ix, amount, index);
      if (err) return err;
      found_repay = true;
    }
  }
  if (!found_repay) {
    sol_log("No flash repay found");
    return LE_NO_FLASH_REPAY_FOUND;
  }
  return SUCCESS;
}

/* flash_repay_checks: not a CPI; the instruction at borrow_index is our borrow of this reserve
 * for the same amount. */
static uint64_t flash_repay_checks(const SolAccountInfo *sysvar, const SolPubkey *program_id,
                                   const SolPubkey *reserve, uint64_t amount, uint8_t borrow_index) {
  uint16_t index;
  bool cpi;
  uint64_t err = current_index(sysvar, program_id, &index, &cpi);
  if (err) return err;
  if (cpi) {
    sol_log("Flash Repay was called via CPI!");
    return LE_FLASH_REPAY_CPI;
  }
  if (borrow_index > index) {
    sol_log("Flash repay: borrow instruction index has to be less than current index");
    return LE_INVALID_FLASH_REPAY;
  }
  SolIxView ix;
  err = sol_ixs_load(sysvar->data, sysvar->data_len, borrow_index, &ix);
  if (err) return err;
  if (!sol_pubkey_eq_bytes((const uint8_t *)ix.program_id, program_id)) {
    sol_log("Flash repay: supplied instruction index doesn't belong to program id");
    return LE_INVALID_FLASH_REPAY;
  }
  if (ix.data_len < 8) PANIC();
  if (sol_load_u64(ix.data) != DISC_FLASH_BORROW) {
    sol_log("Flash repay: Supplied borrow instruction index is not a flash borrow");
    return LE_INVALID_FLASH_REPAY;
  }
  if (ix.data_len < 16 || ix.n_accounts < 4) PANIC();
  if (!sol_pubkey_eq_bytes(sol_ix_meta_key(&ix, 3), reserve)) {
    sol_log("Invalid reserve account on flash repay");
    return LE_INVALID_FLASH_REPAY;
  }
  if (sol_load_u64(ix.data + 8) != amount) {
    sol_log("Liquidity amount for flash repay doesn't match borrow");
    return LE_INVALID_FLASH_REPAY;
  }
  return SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */

/* SPL Token TransferChecked (tag 12: amount u64, decimals u8) by CPI; signed by the
 * ["lma", market, bump] PDA when `market` is given, else by the authority's own signature. */
typedef struct {
  const SolAccountInfo *token_program;
  const SolAccountInfo *source;
  const SolAccountInfo *mint;
  const SolAccountInfo *destination;
  const SolAccountInfo *authority;
  const SolAccountInfo *market; /* NULL: user-signed */
  uint64_t amount;
} Transfer;

static __attribute__((noinline)) uint64_t transfer_checked(const Transfer *t) {
  SolAccountMeta metas[4] = {
      {t->source->key, true, false},
      {t->mint->key, false, false},
      {t->destination->key, true, false},
      {t->authority->key, false, true},
  };
  uint8_t data[10];
  data[0] = SPL_TOKEN_TRANSFER_CHECKED;
  sol_store_u64(data + 1, t->amount);
  data[9] = t->mint->data[MINT_DECIMALS];
  SolInstruction ix = {t->token_program->key, metas, 4, data, sizeof(data)};
  SolAccountInfo infos[4] = {*t->source, *t->mint, *t->destination, *t->authority};
  if (t->market == NULL) return sol_invoke_signed_c(&ix, infos, 4, NULL, 0);
  uint8_t bump = t->market->data[M_BUMP_SEED];
  SolSignerSeed seeds[3] = {{LMA_SEED, 3}, {t->market->key->x, 32}, {&bump, 1}};
  SolSignerSeeds signer = {seeds, 3};
  return sol_invoke_signed_c(&ix, infos, 4, &signer, 1);
}

/* post_transfer_vault_balance_liquidity_reserve_checks. `additive`: tokens came into the vault.
 * The u64 subtractions of the Rust code panic on underflow (overflow checks are on). */
typedef struct {
  uint64_t initial_vault, initial_available, final_vault, final_available, amount;
  bool additive;
} VaultCheck;

static uint64_t post_transfer_checks(const VaultCheck *c) {
  if (c->initial_vault < c->initial_available || c->final_vault < c->final_available) PANIC();
  if (c->initial_vault - c->initial_available != c->final_vault - c->final_available)
    return LE_RESERVE_TOKEN_BALANCE_MISMATCH;
  uint64_t expected_vault, expected_available;
  if (c->additive) {
    if (!u64_add(c->initial_vault, c->amount, &expected_vault) ||
        !u64_add(c->initial_available, c->amount, &expected_available))
      PANIC();
  } else {
    if (!u64_sub(c->initial_vault, c->amount, &expected_vault) ||
        !u64_sub(c->initial_available, c->amount, &expected_available))
      PANIC();
  }
  if (expected_vault != c->final_vault) return LE_RESERVE_VAULT_BALANCE_MISMATCH;
  if (expected_available != c->final_available) return LE_RESERVE_ACCOUNTING_MISMATCH;
  return SUCCESS;
}

/* ReserveFees::calculate_fees (Exclusive) without a referrer: the total rounded half up. */
static uint64_t flash_loan_fee(uint64_t amount, uint64_t fee_sf, uint64_t *fee) {
  *fee = 0;
  if (fee_sf == 0 || amount == 0) return SUCCESS;
  u128 fee_bits = u128_mul64(amount, fee_sf); /* Fraction(amount) * from_bits(fee_sf), exact */
  u128 one = ((u128)1) << FRACTION_BITS;
  if (fee_bits < one) fee_bits = one;
  if (fee_bits >= (((u128)amount) << FRACTION_BITS)) {
    sol_log("Borrow amount is too small to receive liquidity after fees");
    return LE_BORROW_TOO_SMALL;
  }
  *fee = (uint64_t)((fee_bits + FRACTION_HALF) >> FRACTION_BITS);
  return SUCCESS;
}

/* Reserve::update_{deposit,borrow}_limit_crossed_timestamp. */
static void refresh_limit_timestamps(uint8_t *r, uint64_t timestamp) {
  u128 borrowed = sol_load_u128(r + R_BORROWED_SF);
  u128 supply;
  /* total_supply = available + borrowed - protocol fees - referrer fees - pending (U68F60). */
  if (!u128_add(((u128)sol_load_u64(r + R_AVAILABLE)) << FRACTION_BITS, borrowed, &supply) ||
      !u128_sub(supply, sol_load_u128(r + R_PROTOCOL_FEES_SF), &supply) ||
      !u128_sub(supply, sol_load_u128(r + R_REFERRER_FEES_SF), &supply) ||
      !u128_sub(supply, sol_load_u128(r + R_PENDING_REFERRER_FEES_SF), &supply))
    PANIC();
  uint64_t offsets[2] = {R_DEPOSIT_LIMIT_CROSSED_TS, R_BORROW_LIMIT_CROSSED_TS};
  bool crossed[2] = {supply > (((u128)sol_load_u64(r + R_DEPOSIT_LIMIT)) << FRACTION_BITS),
                     borrowed > (((u128)sol_load_u64(r + R_BORROW_LIMIT)) << FRACTION_BITS)};
  for (int i = 0; i < 2; i++) {
    if (!crossed[i]) sol_store_u64(r + offsets[i], 0);
    else if (sol_load_u64(r + offsets[i]) == 0) sol_store_u64(r + offsets[i], timestamp);
  }
}


/* ------------------------------------------------------------------------------------------
 * Interest accrual: Reserve::accrue_interest -> ReserveLiquidity::compound_interest, in U68F60
 * (`Fraction`, bits / 2^60) with BigFraction (U256, same 60 bits) for the cumulative rate.
 * Fraction x Fraction and Fraction / Fraction truncate; where the Rust code would overflow (a
 * panic) this panics too. Values travel by pointer: a non-inlined BPF function cannot return a
 * u128.
 */
#define SLOTS_PER_YEAR 63072000UL
#define FULL_BPS 10000UL
#define R_CUMULATIVE_BORROW_RATE 296 /* BigFractionBytes.value: 4 x u64 */
#define R_ABSOLUTE_REFERRAL_RATE_SF 392
#define R_HOST_FIXED_RATE_BPS 4858
#define R_PROTOCOL_TAKE_RATE_PCT 4870
#define R_BORROW_RATE_CURVE 4920 /* 11 x (u32 utilization_rate_bps, u32 borrow_rate_bps) */
#define CURVE_POINTS 11
#define M_REFERRAL_FEE_BPS 120
#define FRACTION_ONE (((u128)1) << FRACTION_BITS)

typedef struct {
  uint64_t w[4]; /* little-endian limbs */
} U256;

/* a * b, the full 256-bit product. */
static void u256_mul128(const u128 *a, const u128 *b, U256 *out) {
  uint64_t a0 = (uint64_t)*a, a1 = (uint64_t)(*a >> 64), b0 = (uint64_t)*b, b1 = (uint64_t)(*b >> 64);
  u128 p00 = u128_mul64(a0, b0), p01 = u128_mul64(a0, b1), p10 = u128_mul64(a1, b0), p11 = u128_mul64(a1, b1);
  u128 mid = (p00 >> 64) + (u128)(uint64_t)p01 + (u128)(uint64_t)p10;
  u128 high = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
  out->w[0] = (uint64_t)p00;
  out->w[1] = (uint64_t)mid;
  out->w[2] = (uint64_t)high;
  out->w[3] = (uint64_t)(high >> 64);
}

/* Fraction * Fraction: the product >> 60, which must fit 128 bits. */
static void fmul(const u128 *a, const u128 *b, u128 *out) {
  U256 p;
  u256_mul128(a, b, &p);
  if ((p.w[3] >> FRACTION_BITS) != 0) PANIC();
  uint64_t lo = (p.w[0] >> FRACTION_BITS) | (p.w[1] << (64 - FRACTION_BITS));
  uint64_t mid = (p.w[1] >> FRACTION_BITS) | (p.w[2] << (64 - FRACTION_BITS));
  uint64_t hi = (p.w[2] >> FRACTION_BITS) | (p.w[3] << (64 - FRACTION_BITS));
  if (hi != 0) PANIC();
  *out = ((u128)mid << 64) | lo;
}

/* Fraction * integer (exact on the bits, overflow panics). */
static void fmul_int(const u128 *a, uint64_t n, u128 *out) {
  if (!u128_mul(*a, (u128)n, out)) PANIC();
}

SOL_INLINE u128 from_bps(uint64_t bps) { return u128_divmod64(((u128)bps) << FRACTION_BITS, FULL_BPS, NULL); }

/* (num << 60) / den for den != 0; the quotient must fit 128 bits. Bitwise long division. */
static void fdiv(const u128 *num, const u128 *den, u128 *out) {
  u128 rem = 0, q = 0;
  bool carry;
  /* the dividend's bits, most significant first: num's 128 bits, then 60 zero bits */
  for (int i = 187; i >= 0; i--) {
    uint64_t bit = 0;
    if (i >= FRACTION_BITS) {
      uint64_t k = (uint64_t)(i - FRACTION_BITS);
      bit = k >= 64 ? (uint64_t)(*num >> 64) >> (k - 64) & 1 : ((uint64_t)*num >> k) & 1;
    }
    carry = (rem >> 127) != 0;
    rem = (rem << 1) | bit;
    if ((q >> 127) != 0) PANIC();
    q <<= 1;
    if (carry || rem >= *den) {
      rem -= *den;
      q |= 1;
    }
  }
  *out = q;
}

/* ReserveLiquidity::total_supply and utilization_rate. */
static void utilization_rate(const uint8_t *r, u128 *out) {
  u128 borrowed = sol_load_u128(r + R_BORROWED_SF), supply;
  if (!u128_add(((u128)sol_load_u64(r + R_AVAILABLE)) << FRACTION_BITS, borrowed, &supply) ||
      !u128_sub(supply, sol_load_u128(r + R_PROTOCOL_FEES_SF), &supply) ||
      !u128_sub(supply, sol_load_u128(r + R_REFERRER_FEES_SF), &supply) ||
      !u128_sub(supply, sol_load_u128(r + R_PENDING_REFERRER_FEES_SF), &supply))
    PANIC();
  if (supply == 0 || borrowed == 0) { /* 0 / supply is 0: skip the long division */
    *out = 0;
    return;
  }
  fdiv(&borrowed, &supply, out);
}

/* BorrowRateCurve::get_borrow_rate. */
static uint64_t borrow_rate(const uint8_t *r, const u128 *utilization_in, u128 *out) {
  u128 utilization = *utilization_in > FRACTION_ONE ? FRACTION_ONE : *utilization_in;
  uint64_t bps = (uint64_t)((u128_mul64((uint64_t)utilization, FULL_BPS) + FRACTION_HALF) >> FRACTION_BITS);
  const uint8_t *c = r + R_BORROW_RATE_CURVE;
  for (int i = 0; i + 1 < CURVE_POINTS; i++) {
    uint32_t u0 = sol_load_u32(c + 8 * i), r0 = sol_load_u32(c + 8 * i + 4);
    uint32_t u1 = sol_load_u32(c + 8 * i + 8), r1 = sol_load_u32(c + 8 * i + 12);
    if (!(bps >= u0 && bps <= u1)) continue;
    if (bps == u0) {
      *out = from_bps(r0);
      return SUCCESS;
    }
    if (bps == u1) {
      *out = from_bps(r1);
      return SUCCESS;
    }
    if (r1 < r0 || u1 <= u0) {
      sol_log("Borrow rate must be ever growing in the curve");
      return LE_INVALID_BORROW_RATE_CURVE_POINT;
    }
    u128 start = from_bps(u0), coef, nom;
    if (utilization < start) return LE_INVALID_UTILIZATION_RATE;
    coef = utilization - start;
    fmul_int(&coef, r1 - r0, &nom);
    *out = u128_divmod64(nom, u1 - u0, NULL) + from_bps(r0);
    return SUCCESS;
  }
  PANIC(); /* .find(..).unwrap() */
  return SUCCESS;
}

/* approximate_compounded_interest(rate, elapsed). */
static void compounded_interest(const u128 *rate, uint64_t n, u128 *out) {
  u128 base = u128_divmod64(*rate, SLOTS_PER_YEAR, NULL), x, t;
  if (!u128_add(FRACTION_ONE, base, &x)) PANIC();
  if (n == 0) { *out = FRACTION_ONE; return; }
  if (n == 1) { *out = x; return; }
  if (n <= 4) {
    fmul(&x, &x, &t); /* squared */
    if (n == 2) *out = t;
    else if (n == 3) fmul(&t, &x, out);
    else fmul(&t, &t, out);
    return;
  }
  u128 b2, b3, first, second, third;
  fmul(&base, &base, &b2);
  fmul(&b2, &base, &b3);
  fmul_int(&base, n, &first);
  fmul_int(&b2, n, &t);
  fmul_int(&t, n - 1, &second);
  second = u128_divmod64(second, 2, NULL);
  fmul_int(&b3, n, &t);
  fmul_int(&t, n - 1, &t);
  fmul_int(&t, n - 2, &third);
  third = u128_divmod64(third, 6, NULL);
  if (!u128_add(FRACTION_ONE, first, out) || !u128_add(*out, second, out) || !u128_add(*out, third, out))
    PANIC();
}

/* BigFraction * Fraction: the U256 product (must not overflow) >> 60. */
static void big_mul(uint8_t *cum, const u128 *f) {
  uint64_t res[6] = {0, 0, 0, 0, 0, 0};
  uint64_t f0 = (uint64_t)*f, f1 = (uint64_t)(*f >> 64);
  for (int i = 0; i < 4; i++) {
    uint64_t a = sol_load_u64(cum + 8 * i);
    uint64_t parts[2] = {f0, f1};
    for (int j = 0; j < 2; j++) {
      u128 p = u128_mul64(a, parts[j]);
      u128 acc = (u128)res[i + j] + (uint64_t)p;
      res[i + j] = (uint64_t)acc;
      u128 carry = (acc >> 64) + (p >> 64);
      for (int k = i + j + 1; k < 6 && carry != 0; k++) {
        acc = (u128)res[k] + carry;
        res[k] = (uint64_t)acc;
        carry = acc >> 64;
      }
    }
  }
  if (res[4] != 0 || res[5] != 0) PANIC(); /* U256 multiplication overflow */
  for (int i = 0; i < 4; i++) {
    uint64_t next = i < 3 ? res[i + 1] : 0;
    sol_store_u64(cum + 8 * i, (res[i] >> FRACTION_BITS) | (next << (64 - FRACTION_BITS)));
  }
}

/* Reserve::accrue_interest for `elapsed` > 0 slots. */
static uint64_t accrue_interest(uint8_t *r, uint64_t elapsed, uint16_t referral_fee_bps) {
  u128 utilization, rate, fixed, total_rate, compounded, compounded_fixed;
  utilization_rate(r, &utilization);
  uint64_t err = borrow_rate(r, &utilization, &rate);
  if (err) return err;
  fixed = from_bps(sol_load_u16(r + R_HOST_FIXED_RATE_BPS));
  if (!u128_add(rate, fixed, &total_rate)) PANIC();
  compounded_interest(&total_rate, elapsed, &compounded);
  compounded_interest(&fixed, elapsed, &compounded_fixed);
  big_mul(r + R_CUMULATIVE_BORROW_RATE, &compounded);

  u128 debt = sol_load_u128(r + R_BORROWED_SF), new_debt, fixed_debt, fixed_host_fee, variable;
  fmul(&debt, &compounded, &new_debt);
  fmul(&debt, &compounded_fixed, &fixed_debt);
  if (!u128_sub(fixed_debt, debt, &fixed_host_fee) || !u128_sub(new_debt, debt, &variable) ||
      !u128_sub(variable, fixed_host_fee, &variable))
    PANIC();
  u128 take = u128_divmod64(((u128)r[R_PROTOCOL_TAKE_RATE_PCT]) << FRACTION_BITS, 100, NULL);
  u128 referral = from_bps(referral_fee_bps), protocol_fee, absolute_referral, referrers_fee;
  fmul(&variable, &take, &protocol_fee);
  fmul(&take, &referral, &absolute_referral);
  fmul(&variable, &absolute_referral, &referrers_fee);
  u128 fees = sol_load_u128(r + R_PROTOCOL_FEES_SF), pending = sol_load_u128(r + R_PENDING_REFERRER_FEES_SF);
  if (!u128_add(fees, fixed_host_fee, &fees) || !u128_add(fees, protocol_fee, &fees) ||
      !u128_sub(fees, referrers_fee, &fees) || !u128_add(pending, referrers_fee, &pending))
    PANIC();
  sol_store_u128(r + R_PENDING_REFERRER_FEES_SF, pending);
  sol_store_u128(r + R_PROTOCOL_FEES_SF, fees);
  sol_store_u128(r + R_BORROWED_SF, new_debt);
  sol_store_u128(r + R_ABSOLUTE_REFERRAL_RATE_SF, absolute_referral);
  return SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */

static uint64_t flash_borrow(const SolParameters *p, uint64_t amount) {
  uint64_t err = validate_accounts(p);
  if (err) return err;
  const SolAccountInfo *a = p->ka;
  uint8_t *r = a[A_RESERVE].data;

  /* lending_checks::flash_borrow_reserve_liquidity_checks */
  if (sol_pubkey_eq_bytes(r + R_SUPPLY_VAULT, a[A_USER_LIQUIDITY].key)) {
    sol_log("Borrow reserve liquidity supply cannot be used as the destination liquidity provided");
    return LE_INVALID_ACCOUNT_INPUT;
  }
  if (sol_load_u64(r + R_VERSION) != PROGRAM_VERSION) {
    sol_log("Reserve version does not match the program version");
    return LE_RESERVE_DEPRECATED;
  }
  if (r[R_STATUS] > STATUS_MAX) PANIC(); /* ReserveStatus::try_from(..).unwrap() */
  if (r[R_STATUS] == STATUS_OBSOLETE) {
    sol_log("Reserve is obsolete");
    return LE_RESERVE_OBSOLETE;
  }
  if (sol_load_u64(r + R_FLASH_LOAN_FEE_SF) == U64_MAX) {
    sol_log("Flash loans are disabled for this reserve");
    return LE_FLASH_LOANS_DISABLED;
  }

  uint64_t initial_vault = spl_token_account_amount(&a[A_RESERVE_LIQUIDITY]);
  uint64_t initial_available = sol_load_u64(r + R_AVAILABLE);

  err = flash_borrow_checks(&a[A_SYSVAR], p->program_id, amount);
  if (err) return err;

  /* refresh_reserve(reserve, clock, None, referral_fee_bps) */
  SolClock clock;
  err = sol_get_clock_sysvar(&clock);
  if (err) return err;
  uint64_t last_slot = sol_load_u64(r + R_LAST_UPDATE_SLOT);
  if (clock.slot < last_slot) {
    sol_log("Current slot is less than last update slot");
    return LE_MATH_OVERFLOW;
  }
  if (clock.slot > last_slot) {
    err = accrue_interest(r, clock.slot - last_slot, sol_load_u16(a[A_MARKET].data + M_REFERRAL_FEE_BPS));
    if (err) return err;
  }
  uint64_t now = (uint64_t)clock.unix_timestamp;
  uint64_t price_ts = sol_load_u64(r + R_MARKET_PRICE_TS);
  uint64_t price_age = now > price_ts ? now - price_ts : 0;
  sol_store_u64(r + R_LAST_UPDATE_SLOT, clock.slot);
  r[R_LAST_UPDATE_STALE] = 0;
  if (price_age >= sol_load_u64(r + R_MAX_AGE_PRICE_SECONDS)) r[R_LAST_UPDATE_PRICE_STATUS] = 0;
  for (int i = 0; i < 6; i++) r[R_RESERVED_1 + i] = 0;

  /* lending_operations::flash_borrow_reserve_liquidity -> Reserve::borrow(amount, true). */
  if (amount > initial_available) {
    sol_log("Withdraw amount cannot exceed the total available amount");
    return LE_INSUFFICIENT_LIQUIDITY;
  }
  u128 borrowed;
  if (!u128_add(sol_load_u128(r + R_BORROWED_SF), ((u128)amount) << FRACTION_BITS, &borrowed)) PANIC();
  sol_store_u64(r + R_AVAILABLE, initial_available - amount);
  sol_store_u128(r + R_BORROWED_SF, borrowed);
  r[R_LAST_UPDATE_STALE] = 1; /* mark_stale */

  Transfer t = {&a[A_TOKEN_PROGRAM], &a[A_RESERVE_LIQUIDITY], &a[A_MINT], &a[A_USER_LIQUIDITY],
                &a[A_MARKET_AUTHORITY], &a[A_MARKET], amount};
  err = transfer_checked(&t);
  if (err) return err;

  VaultCheck c = {initial_vault, initial_available, spl_token_account_amount(&a[A_RESERVE_LIQUIDITY]),
                  sol_load_u64(r + R_AVAILABLE), amount, false};
  return post_transfer_checks(&c);
}

static uint64_t flash_repay(const SolParameters *p, uint64_t amount, uint8_t borrow_index) {
  uint64_t err = validate_accounts(p);
  if (err) return err;
  const SolAccountInfo *a = p->ka;
  uint8_t *r = a[A_RESERVE].data;

  /* lending_checks::flash_repay_reserve_liquidity_checks */
  if (sol_pubkey_eq_bytes(r + R_SUPPLY_VAULT, a[A_USER_LIQUIDITY].key)) {
    sol_log("Reserve liquidity supply cannot be used as the source liquidity provided");
    return LE_INVALID_ACCOUNT_INPUT;
  }
  uint64_t initial_vault = spl_token_account_amount(&a[A_RESERVE_LIQUIDITY]);
  uint64_t initial_available = sol_load_u64(r + R_AVAILABLE);

  err = flash_repay_checks(&a[A_SYSVAR], p->program_id, a[A_RESERVE].key, amount, borrow_index);
  if (err) return err;
  if (!is_none(&a[A_REFERRER_ACCOUNT], p->program_id)) sol_log("No referrer account provided");

  /* lending_operations::flash_repay_reserve_liquidity (no referrer: referral fee 0). */
  uint64_t fee;
  err = flash_loan_fee(amount, sol_load_u64(r + R_FLASH_LOAN_FEE_SF), &fee);
  if (err) return err;
  uint64_t available;
  if (!u64_add(initial_available, amount, &available)) return LE_MATH_OVERFLOW;
  u128 borrowed = sol_load_u128(r + R_BORROWED_SF);
  u128 settle = ((u128)amount) << FRACTION_BITS;
  if (settle > borrowed) settle = borrowed;
  sol_store_u64(r + R_AVAILABLE, available);
  sol_store_u128(r + R_BORROWED_SF, borrowed - settle);
  SolClock clock;
  err = sol_get_clock_sysvar(&clock);
  if (err) return err;
  refresh_limit_timestamps(r, (uint64_t)clock.unix_timestamp);
  r[R_LAST_UPDATE_STALE] = 1;

  Transfer t = {&a[A_TOKEN_PROGRAM], &a[A_USER_LIQUIDITY], &a[A_MINT], &a[A_RESERVE_LIQUIDITY],
                &a[A_AUTHORITY], NULL, amount};
  err = transfer_checked(&t);
  if (err) return err;
  if (fee > 0) {
    t.destination = &a[A_FEE_VAULT];
    t.amount = fee;
    err = transfer_checked(&t);
    if (err) return err;
  }

  VaultCheck c = {initial_vault, initial_available, spl_token_account_amount(&a[A_RESERVE_LIQUIDITY]),
                  sol_load_u64(r + R_AVAILABLE), amount, true};
  return post_transfer_checks(&c);
}

uint64_t entrypoint(const uint8_t *input) {
  SolParameters p;
  sol_deserialize(input, &p);
  if (p.data_len < 8) return AE_INSTRUCTION_MISSING;
  uint64_t disc = sol_load_u64(p.data);
  if (disc == DISC_FLASH_BORROW) {
    sol_log("Instruction: FlashBorrowReserveLiquidity");
    if (p.data_len < 16) return AE_INSTRUCTION_DID_NOT_DESERIALIZE;
    return flash_borrow(&p, sol_load_u64(p.data + 8));
  }
  if (disc == DISC_FLASH_REPAY) {
    sol_log("Instruction: FlashRepayReserveLiquidity");
    if (p.data_len < 17) return AE_INSTRUCTION_DID_NOT_DESERIALIZE;
    return flash_repay(&p, sol_load_u64(p.data + 8), p.data[16]);
  }
  sol_log("Instruction not emulated by the local cluster");
  return AE_INSTRUCTION_FALLBACK_NOT_FOUND;
}
