/*
 * Profit guard (program id ArbGuard111111111111111111111111111111111111).
 *
 * Placed after the flash-loan repay and before the Jito tip, it fails the whole transaction
 * unless the bot's token account holds at least a floor amount (and, optionally, an account
 * holds at least a floor of lamports), so a bundle can never land at a loss.
 *
 * Instruction data: u8 tag = 0, u64 min_token_amount (LE), optional u64 min_lamports (LE);
 * exactly 9 or 17 bytes.
 * Accounts: 0 token account (read-only, owned by SPL Token, >= 165 bytes);
 *           1 lamports account (read-only), required only when min_lamports is present.
 * Errors: see docs/profit_guard.md and core/protocols/profit_guard.py (same numbers).
 */
#include "sol.h"

#define GUARD_TAG_CHECK 0

#define GUARD_ERROR_TOKEN_BELOW_FLOOR 6000
#define GUARD_ERROR_LAMPORTS_BELOW_FLOOR 6001
#define GUARD_ERROR_UNKNOWN_INSTRUCTION 6002
#define GUARD_ERROR_INVALID_DATA_LENGTH 6003

uint64_t entrypoint(const uint8_t *input) {
  SolParameters params;
  sol_deserialize(input, &params);

  if (params.data_len == 0 || params.data[0] != GUARD_TAG_CHECK) {
    sol_log("profit guard: unknown instruction");
    return GUARD_ERROR_UNKNOWN_INSTRUCTION;
  }
  if (params.data_len != 9 && params.data_len != 17) {
    sol_log("profit guard: instruction data must be 9 or 17 bytes");
    return GUARD_ERROR_INVALID_DATA_LENGTH;
  }
  bool check_lamports = params.data_len == 17;
  if (params.ka_num < (check_lamports ? 2UL : 1UL)) return ERROR_NOT_ENOUGH_ACCOUNT_KEYS;

  const SolAccountInfo *token = &params.ka[0];
  if (!sol_pubkey_eq(token->owner, &SPL_TOKEN_PROGRAM_ID)) {
    sol_log("profit guard: token account is not owned by SPL Token");
    return ERROR_INCORRECT_PROGRAM_ID;
  }
  if (token->data_len < SPL_TOKEN_ACCOUNT_LEN) {
    sol_log("profit guard: token account data too short");
    return ERROR_INVALID_ACCOUNT_DATA;
  }

  uint64_t min_amount = sol_load_u64(params.data + 1);
  uint64_t amount = spl_token_account_amount(token);
  if (amount < min_amount) {
    sol_log("profit guard: token amount below floor (amount, floor)");
    sol_log_64_(amount, min_amount, 0, 0, 0);
    return GUARD_ERROR_TOKEN_BELOW_FLOOR;
  }

  if (check_lamports) {
    uint64_t min_lamports = sol_load_u64(params.data + 9);
    uint64_t lamports = *params.ka[1].lamports;
    if (lamports < min_lamports) {
      sol_log("profit guard: lamports below floor (lamports, floor)");
      sol_log_64_(lamports, min_lamports, 0, 0, 0);
      return GUARD_ERROR_LAMPORTS_BELOW_FLOOR;
    }
  }
  return SUCCESS;
}
