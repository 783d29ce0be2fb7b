/*
 * CPI relay — test support only (program id CpiRe1ay111111111111111111111111111111111111).
 *
 * Re-issues an instruction as a CPI, so tests can prove that a program refuses to be called
 * from another program (e.g. a flash borrow issued by CPI must fail).
 *
 * Instruction data: u8 target = index of the program account to invoke; then the inner
 * instruction data, passed through unchanged.
 * Accounts: any; the account at `target` is the program invoked, every other account is passed
 * to it in order with the signer/writable flags it has in this instruction.
 * Errors: NotEnoughAccountKeys when `target` is not an account index, InvalidInstructionData
 * when data is empty; otherwise whatever the invoked program returns.
 */
#include "sol.h"

uint64_t entrypoint(const uint8_t *input) {
  SolParameters params;
  sol_deserialize(input, &params);
  if (params.data_len == 0) return ERROR_INVALID_INSTRUCTION_DATA;
  uint64_t target = params.data[0];
  if (target >= params.ka_num || params.ka_total > SOL_MAX_ACCOUNTS) return ERROR_NOT_ENOUGH_ACCOUNT_KEYS;

  /* Up to 63 metas (16 bytes each) do not fit a 512-byte stack frame: use heap scratch. */
  SolAccountMeta *metas = (SolAccountMeta *)sol_heap_scratch();
  uint64_t n = 0;
  for (uint64_t i = 0; i < params.ka_num; i++) {
    if (i == target) continue;
    metas[n].pubkey = params.ka[i].key;
    metas[n].is_writable = params.ka[i].is_writable;
    metas[n].is_signer = params.ka[i].is_signer;
    n++;
  }
  SolInstruction ix = {params.ka[target].key, metas, n, (uint8_t *)params.data + 1, params.data_len - 1};
  return sol_invoke_signed_c(&ix, params.ka, (int)params.ka_num, NULL, 0);
}
