/*
 * Raydium AMM v4 emulator (program id 675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8).
 *
 * Reproduces the swap paths of raydium-io/raydium-amm `program/src/processor.rs`
 * (`process_swap_base_in`, `process_swap_base_out`, `process_swap_base_in_v2`,
 * `process_swap_base_out_v2`) on the real 752-byte AmmInfo: the same checks in the same order,
 * the same AmmError numbers (`error.rs`: position in the enum), the same arithmetic and rounding
 * (`math.rs`, with the plain-ceiling `checked_ceil_div` of 2025-08-26), and a panic
 * (ProgramFailedToComplete) wherever the Rust program `unwrap`s a failed checked operation.
 * Instruction data: u8 tag, u64, u64 (`instruction.rs`). Other tags are not emulated.
 *
 * The Python quoter (core/quote/raydium_amm.py) states the same formula; tests hold the two to
 * the same integers.
 */
#include "sol.h"

/* The header has no panic syscall; a Rust `unwrap` on None ends the same way. */
void sol_panic_(const char *file, uint64_t len, uint64_t line, uint64_t column) __attribute__((noreturn));
#define PANIC() sol_panic_(__FILE__, sizeof(__FILE__) - 1, __LINE__, 0)

/* AmmError (error.rs), returned as ProgramError::Custom(n) = plain n. */
#define AMM_INVALID_PROGRAM_ADDRESS 1
#define AMM_EXPECTED_ACCOUNT 3
#define AMM_INVALID_COIN_VAULT 4
#define AMM_INVALID_PC_VAULT 5
#define AMM_INVALID_SIGN_ACCOUNT 21
#define AMM_INVALID_STATUS 22
#define AMM_WRONG_ACCOUNTS_NUMBER 24
#define AMM_INVALID_AMM_ACCOUNT_OWNER 27
#define AMM_INVALID_INPUT 29
#define AMM_EXCEEDED_SLIPPAGE 30
#define AMM_CHECKED_SUB_OVERFLOW 32
#define AMM_INVALID_SPL_TOKEN_PROGRAM 38
#define AMM_INSUFFICIENT_FUNDS 40
#define AMM_INVALID_USER_TOKEN 42
#define AMM_NOT_ALLOWED 59

/* Instruction tags (instruction.rs). */
#define TAG_SWAP_BASE_IN 9
#define TAG_SWAP_BASE_OUT 11
#define TAG_SWAP_BASE_IN_V2 16
#define TAG_SWAP_BASE_OUT_V2 17

/* AmmInfo byte offsets (state.rs, #[repr(C, packed)]). */
#define AMM_INFO_LEN 752
#define OFF_STATUS 0
#define OFF_NONCE 8
#define OFF_SWAP_FEE_NUMERATOR 176
#define OFF_SWAP_FEE_DENOMINATOR 184
#define OFF_NEED_TAKE_PNL_COIN 192
#define OFF_NEED_TAKE_PNL_PC 200
#define OFF_POOL_OPEN_TIME 224
#define OFF_ORDERBOOK_TO_INIT_TIME 248
#define OFF_SWAP_COIN_IN_AMOUNT 256  /* u128 */
#define OFF_SWAP_PC_OUT_AMOUNT 272   /* u128 */
#define OFF_SWAP_ACC_PC_FEE 288      /* u64 */
#define OFF_SWAP_PC_IN_AMOUNT 296    /* u128 */
#define OFF_SWAP_COIN_OUT_AMOUNT 312 /* u128 */
#define OFF_SWAP_ACC_COIN_FEE 328    /* u64 */
#define OFF_COIN_VAULT 336
#define OFF_PC_VAULT 368
#define OFF_COIN_VAULT_MINT 400
#define OFF_PC_VAULT_MINT 432
#define OFF_RECENT_EPOCH 736

/* AmmStatus (state.rs). */
#define STATUS_UNINITIALIZED 0
#define STATUS_INITIALIZED 1
#define STATUS_ORDER_BOOK_ONLY 5
#define STATUS_SWAP_ONLY 6
#define STATUS_WAITING_TRADE 7

/* SPL Token account fields beyond the header's readers. */
#define TOKEN_OFF_DELEGATE_TAG 72
#define TOKEN_OFF_STATE 108
#define TOKEN_OFF_IS_NATIVE_TAG 109
#define TOKEN_OFF_CLOSE_AUTHORITY_TAG 129

static const uint8_t AUTHORITY_AMM[] = "amm authority";

typedef struct {
  const SolAccountInfo *token_program;
  const SolAccountInfo *amm;
  const SolAccountInfo *authority;
  const SolAccountInfo *coin_vault;
  const SolAccountInfo *pc_vault;
  const SolAccountInfo *user_source;
  const SolAccountInfo *user_destination;
  const SolAccountInfo *user_owner;
} SwapAccounts;

/* AmmInfo::load_mut_checked. */
static uint64_t load_amm(const SolAccountInfo *amm, const SolPubkey *program_id) {
  if (!sol_pubkey_eq(amm->owner, program_id)) return AMM_INVALID_AMM_ACCOUNT_OWNER;
  if (amm->data_len != AMM_INFO_LEN) return AMM_EXPECTED_ACCOUNT;
  if (sol_load_u64(amm->data + OFF_STATUS) == STATUS_UNINITIALIZED) return AMM_INVALID_STATUS;
  return SUCCESS;
}

SOL_INLINE bool coption_tag_valid(const uint8_t *p) {
  uint32_t tag = sol_load_u32(p);
  return tag == 0 || tag == 1;
}

/* Processor::unpack_token_account: owner must be SPL Token, then spl_token Account::unpack. */
static uint64_t unpack_token_account(const SolAccountInfo *ai) {
  if (!sol_pubkey_eq(ai->owner, &SPL_TOKEN_PROGRAM_ID)) return AMM_INVALID_SPL_TOKEN_PROGRAM;
  if (ai->data_len != SPL_TOKEN_ACCOUNT_LEN) return AMM_EXPECTED_ACCOUNT;
  uint8_t state = ai->data[TOKEN_OFF_STATE];
  if (state == 0 || state > 2) return AMM_EXPECTED_ACCOUNT; /* uninitialized or not an AccountState */
  if (!coption_tag_valid(ai->data + TOKEN_OFF_DELEGATE_TAG) || !coption_tag_valid(ai->data + TOKEN_OFF_IS_NATIVE_TAG) ||
      !coption_tag_valid(ai->data + TOKEN_OFF_CLOSE_AUTHORITY_TAG))
    return AMM_EXPECTED_ACCOUNT;
  return SUCCESS;
}

/* Every check from the signer test up to the status gate, shared by all four swaps. */
static uint64_t validate_swap(const SwapAccounts *a, const SolPubkey *program_id) {
  const uint8_t *amm = a->amm->data;
  if (!a->user_owner->is_signer) return AMM_INVALID_SIGN_ACCOUNT;
  if (!sol_pubkey_eq(a->token_program->key, &SPL_TOKEN_PROGRAM_ID)) return AMM_INVALID_SPL_TOKEN_PROGRAM;

  /* authority_id: create_program_address([b"amm authority", [nonce as u8]]). */
  uint8_t nonce = (uint8_t)sol_load_u64(amm + OFF_NONCE);
  SolSignerSeed seeds[2] = {{AUTHORITY_AMM, sizeof(AUTHORITY_AMM) - 1}, {&nonce, 1}};
  SolPubkey authority;
  if (sol_create_program_address(seeds, 2, program_id, &authority) != SUCCESS) return AMM_INVALID_PROGRAM_ADDRESS;
  if (!sol_pubkey_eq(a->authority->key, &authority)) return AMM_INVALID_PROGRAM_ADDRESS;

  if (!sol_pubkey_eq_bytes(amm + OFF_COIN_VAULT, a->coin_vault->key)) return AMM_INVALID_COIN_VAULT;
  if (!sol_pubkey_eq_bytes(amm + OFF_PC_VAULT, a->pc_vault->key)) return AMM_INVALID_PC_VAULT;
  if (sol_pubkey_eq_bytes(amm + OFF_PC_VAULT, a->user_source->key) ||
      sol_pubkey_eq_bytes(amm + OFF_COIN_VAULT, a->user_source->key))
    return AMM_INVALID_USER_TOKEN;
  if (sol_pubkey_eq_bytes(amm + OFF_PC_VAULT, a->user_destination->key) ||
      sol_pubkey_eq_bytes(amm + OFF_COIN_VAULT, a->user_destination->key))
    return AMM_INVALID_USER_TOKEN;

  uint64_t err;
  if ((err = unpack_token_account(a->coin_vault)) != SUCCESS) return err;
  if ((err = unpack_token_account(a->pc_vault)) != SUCCESS) return err;
  if ((err = unpack_token_account(a->user_source)) != SUCCESS) return err;
  if ((err = unpack_token_account(a->user_destination)) != SUCCESS) return err;
  return SUCCESS;
}

/* The status gate. Writes the WaitingTrade -> SwapOnly / OrderBookOnly -> Initialized moves. */
static uint64_t check_status(uint8_t *amm, const SolClock *clock) {
  uint64_t status = sol_load_u64(amm + OFF_STATUS);
  if (status > STATUS_WAITING_TRADE) PANIC(); /* AmmStatus::from_u64: unreachable!() */
  uint64_t now = (uint64_t)clock->unix_timestamp;
  bool swap_permission = status == STATUS_INITIALIZED || status == STATUS_SWAP_ONLY || status == STATUS_WAITING_TRADE;
  if (!swap_permission) {
    if (status == STATUS_ORDER_BOOK_ONLY && now >= sol_load_u64(amm + OFF_ORDERBOOK_TO_INIT_TIME)) {
      sol_store_u64(amm + OFF_STATUS, STATUS_INITIALIZED);
      return SUCCESS;
    }
    return AMM_INVALID_STATUS;
  }
  if (status == STATUS_WAITING_TRADE) {
    if (now < sol_load_u64(amm + OFF_POOL_OPEN_TIME)) return AMM_INVALID_STATUS;
    sol_store_u64(amm + OFF_STATUS, STATUS_SWAP_ONLY);
  }
  return SUCCESS;
}

typedef struct {
  uint64_t coin; /* total_coin_without_take_pnl */
  uint64_t pc;   /* total_pc_without_take_pnl */
  bool coin_to_pc;
} Pool;

/* calc_total_without_take_pnl_no_orderbook, then the direction from the four mints. */
static uint64_t read_pool(const SwapAccounts *a, Pool *pool) {
  const uint8_t *amm = a->amm->data;
  if (!u64_sub(spl_token_account_amount(a->pc_vault), sol_load_u64(amm + OFF_NEED_TAKE_PNL_PC), &pool->pc))
    return AMM_CHECKED_SUB_OVERFLOW;
  if (!u64_sub(spl_token_account_amount(a->coin_vault), sol_load_u64(amm + OFF_NEED_TAKE_PNL_COIN), &pool->coin))
    return AMM_CHECKED_SUB_OVERFLOW;
  const SolPubkey *src_mint = (const SolPubkey *)spl_token_account_mint(a->user_source);
  const SolPubkey *dst_mint = (const SolPubkey *)spl_token_account_mint(a->user_destination);
  const SolPubkey *coin_mint = (const SolPubkey *)spl_token_account_mint(a->coin_vault);
  const SolPubkey *pc_mint = (const SolPubkey *)spl_token_account_mint(a->pc_vault);
  if (sol_pubkey_eq(src_mint, coin_mint) && sol_pubkey_eq(dst_mint, pc_mint)) {
    pool->coin_to_pc = true;
  } else if (sol_pubkey_eq(src_mint, pc_mint) && sol_pubkey_eq(dst_mint, coin_mint)) {
    pool->coin_to_pc = false;
  } else {
    return AMM_INVALID_USER_TOKEN;
  }
  return SUCCESS;
}

/* user -> vault signed by the user (their signature carries into the CPI), then vault -> user
 * signed by the amm authority PDA. */
static uint64_t move_tokens(const SwapAccounts *a, bool coin_to_pc, uint64_t amount_in, uint64_t amount_out) {
  const SolAccountInfo *vault_in = coin_to_pc ? a->coin_vault : a->pc_vault;
  const SolAccountInfo *vault_out = coin_to_pc ? a->pc_vault : a->coin_vault;
  SplTransfer t = {a->token_program, a->user_source, vault_in, a->user_owner, amount_in, NULL, 0, 0};
  uint64_t err = spl_token_transfer(&t);
  if (err != SUCCESS) return err;
  SolSignerSeed seed = {AUTHORITY_AMM, sizeof(AUTHORITY_AMM) - 1};
  SplTransfer back = {a->token_program, vault_out,  a->user_destination, a->authority,
                      amount_out,       &seed,      1,                   (uint8_t)sol_load_u64(a->amm->data + OFF_NONCE)};
  return spl_token_transfer(&back);
}

/* The deprecated swap statistics, still bumped by the processor with checked_add().unwrap(). */
static void add_u128_field(uint8_t *p, uint64_t v) {
  u128 sum;
  if (!u128_add(sol_load_u128(p), (u128)v, &sum)) PANIC();
  sol_store_u128(p, sum);
}

static void add_u64_field(uint8_t *p, uint64_t v) {
  uint64_t sum;
  if (!u64_add(sol_load_u64(p), v, &sum)) PANIC();
  sol_store_u64(p, sum);
}

static void record_swap(uint8_t *amm, bool coin_to_pc, uint64_t amount_in, uint64_t amount_out, uint64_t fee) {
  if (coin_to_pc) {
    add_u128_field(amm + OFF_SWAP_COIN_IN_AMOUNT, amount_in);
    add_u128_field(amm + OFF_SWAP_PC_OUT_AMOUNT, amount_out);
    add_u64_field(amm + OFF_SWAP_ACC_COIN_FEE, fee);
  } else {
    add_u128_field(amm + OFF_SWAP_PC_IN_AMOUNT, amount_in);
    add_u128_field(amm + OFF_SWAP_COIN_OUT_AMOUNT, amount_out);
    add_u64_field(amm + OFF_SWAP_ACC_PC_FEE, fee);
  }
}

/* process_swap_base_in from the status gate on. */
static uint64_t swap_base_in(const SwapAccounts *a, uint64_t amount_in, uint64_t minimum_amount_out) {
  uint8_t *amm = a->amm->data;
  SolClock clock;
  if (sol_get_clock_sysvar(&clock) != SUCCESS) PANIC();
  uint64_t err = check_status(amm, &clock);
  if (err != SUCCESS) return err;
  Pool pool;
  if ((err = read_pool(a, &pool)) != SUCCESS) return err;
  if (spl_token_account_amount(a->user_source) < amount_in) return AMM_INSUFFICIENT_FUNDS;

  /* swap_fee = ceil(amount_in * swap_fee_numerator / swap_fee_denominator) */
  uint64_t fee_num = sol_load_u64(amm + OFF_SWAP_FEE_NUMERATOR);
  uint64_t fee_den = sol_load_u64(amm + OFF_SWAP_FEE_DENOMINATOR);
  if (fee_den == 0) PANIC();
  uint64_t rem;
  u128 fee = u128_divmod64(u128_mul64(amount_in, fee_num), fee_den, &rem);
  if (rem != 0) fee += 1;
  if (fee > (u128)amount_in) PANIC();
  uint64_t in_after_fee = amount_in - (uint64_t)fee;

  /* amount_out = floor(reserve_out * in_after_fee / (reserve_in + in_after_fee)) */
  uint64_t reserve_in = pool.coin_to_pc ? pool.coin : pool.pc;
  uint64_t reserve_out = pool.coin_to_pc ? pool.pc : pool.coin;
  u128 denominator = (u128)reserve_in + in_after_fee;
  if (denominator == 0) PANIC();
  uint64_t amount_out = (uint64_t)u128_divmod(u128_mul64(reserve_out, in_after_fee), denominator, NULL);

  if (amount_out < minimum_amount_out) return AMM_EXCEEDED_SLIPPAGE;
  if (amount_out == 0 || amount_in == 0) return AMM_INVALID_INPUT;
  if (amount_out >= reserve_out) return AMM_INSUFFICIENT_FUNDS;

  if ((err = move_tokens(a, pool.coin_to_pc, amount_in, amount_out)) != SUCCESS) return err;
  record_swap(amm, pool.coin_to_pc, amount_in, amount_out, (uint64_t)fee);
  sol_store_u64(amm + OFF_RECENT_EPOCH, clock.epoch);
  return SUCCESS;
}

/* process_swap_base_out from the status gate on. */
static uint64_t swap_base_out(const SwapAccounts *a, uint64_t max_amount_in, uint64_t amount_out) {
  uint8_t *amm = a->amm->data;
  SolClock clock;
  if (sol_get_clock_sysvar(&clock) != SUCCESS) PANIC();
  uint64_t err = check_status(amm, &clock);
  if (err != SUCCESS) return err;
  Pool pool;
  if ((err = read_pool(a, &pool)) != SUCCESS) return err;
  uint64_t reserve_in = pool.coin_to_pc ? pool.coin : pool.pc;
  uint64_t reserve_out = pool.coin_to_pc ? pool.pc : pool.coin;

  /* swap_token_amount_base_out: ceil(reserve_in * amount_out / (reserve_out - amount_out)); the
   * subtraction and the division are unwrapped before any bounds check. */
  if (amount_out >= reserve_out) PANIC();
  uint64_t rem;
  u128 in_before_fee = u128_divmod64(u128_mul64(reserve_in, amount_out), reserve_out - amount_out, &rem);
  if (rem != 0) in_before_fee += 1;

  /* swap_in_after_add_fee = ceil(in_before_fee * den / (den - num)), then as_u64(). */
  uint64_t fee_num = sol_load_u64(amm + OFF_SWAP_FEE_NUMERATOR);
  uint64_t fee_den = sol_load_u64(amm + OFF_SWAP_FEE_DENOMINATOR);
  u128 scaled;
  if (!u128_mul(in_before_fee, (u128)fee_den, &scaled)) PANIC();
  if (fee_num >= fee_den) PANIC(); /* den - num underflows, or divides by zero */
  u128 remainder;
  u128 in_after_fee = u128_divmod(scaled, (u128)(fee_den - fee_num), &remainder);
  if (remainder != 0) in_after_fee += 1;
  if ((in_after_fee >> 64) != 0) PANIC();
  uint64_t amount_in = (uint64_t)in_after_fee;
  uint64_t swap_fee = amount_in - (uint64_t)in_before_fee;

  if (spl_token_account_amount(a->user_source) < amount_in) return AMM_INSUFFICIENT_FUNDS;
  if (max_amount_in < amount_in) return AMM_EXCEEDED_SLIPPAGE;
  if (amount_in == 0 || amount_out == 0) return AMM_INVALID_INPUT;
  if (amount_out >= reserve_out) return AMM_INSUFFICIENT_FUNDS;

  if ((err = move_tokens(a, pool.coin_to_pc, amount_in, amount_out)) != SUCCESS) return err;
  record_swap(amm, pool.coin_to_pc, amount_in, amount_out, swap_fee);
  sol_store_u64(amm + OFF_RECENT_EPOCH, clock.epoch);
  return SUCCESS;
}

/* Account lists: tags 9/11 take 17 accounts, or 18 with target_orders at index 4; the market
 * accounts are read but not checked. V2 takes 8 and loads the amm after the fifth. */
static uint64_t parse_accounts(const SolParameters *p, uint8_t tag, SwapAccounts *a) {
  const SolAccountInfo *ka = p->ka;
  uint64_t n = p->ka_total;
  if (tag == TAG_SWAP_BASE_IN || tag == TAG_SWAP_BASE_OUT) {
    if (n != 17 && n != 18) return AMM_WRONG_ACCOUNTS_NUMBER;
    uint64_t t = n - 17;
    *a = (SwapAccounts){&ka[0], &ka[1], &ka[2], &ka[4 + t], &ka[5 + t], &ka[14 + t], &ka[15 + t], &ka[16 + t]};
  } else {
    if (n < 5) return ERROR_NOT_ENOUGH_ACCOUNT_KEYS;
    a->token_program = &ka[0];
    a->amm = &ka[1];
    a->authority = &ka[2];
    a->coin_vault = &ka[3];
    a->pc_vault = &ka[4];
  }
  uint64_t err = load_amm(a->amm, p->program_id);
  if (err != SUCCESS) return err;
  if (sol_pubkey_eq_bytes(a->amm->data + OFF_COIN_VAULT_MINT, (const SolPubkey *)(a->amm->data + OFF_PC_VAULT_MINT)))
    return AMM_NOT_ALLOWED;
  if (tag == TAG_SWAP_BASE_IN_V2 || tag == TAG_SWAP_BASE_OUT_V2) {
    if (n < 8) return ERROR_NOT_ENOUGH_ACCOUNT_KEYS;
    a->user_source = &ka[5];
    a->user_destination = &ka[6];
    a->user_owner = &ka[7];
  }
  return SUCCESS;
}

uint64_t entrypoint(const uint8_t *input) {
  SolParameters params;
  sol_deserialize(input, &params);

  /* AmmInstruction::unpack runs before any account is touched. */
  if (params.data_len == 0) return ERROR_INVALID_INSTRUCTION_DATA;
  uint8_t tag = params.data[0];
  switch (tag) {
    case TAG_SWAP_BASE_IN:
    case TAG_SWAP_BASE_OUT:
    case TAG_SWAP_BASE_IN_V2:
    case TAG_SWAP_BASE_OUT_V2:
      break;
    case 0: case 2: case 5: case 8: case 10: case 12: case 13:
      PANIC(); /* unimplemented!("This instruction is not supported") */
    default:
      /* Unknown tags, and the admin/liquidity instructions this emulator does not carry. */
      sol_log("raydium amm emulator: unsupported instruction");
      return ERROR_INVALID_INSTRUCTION_DATA;
  }
  if (params.data_len < 17) return ERROR_INVALID_INSTRUCTION_DATA;
  uint64_t first = sol_load_u64(params.data + 1);
  uint64_t second = sol_load_u64(params.data + 9);

  SwapAccounts accounts;
  uint64_t err = parse_accounts(&params, tag, &accounts);
  if (err != SUCCESS) return err;
  if ((err = validate_swap(&accounts, params.program_id)) != SUCCESS) return err;

  if (tag == TAG_SWAP_BASE_IN || tag == TAG_SWAP_BASE_IN_V2) return swap_base_in(&accounts, first, second);
  return swap_base_out(&accounts, first, second);
}
