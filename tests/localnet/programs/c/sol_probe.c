/*
 * Test-only program: exposes sol.h's helpers so tests can hold them to Python's integers.
 * Built by tests/localnet/programs/test_sol_header.py; never part of the product.
 *
 * Data: u8 op, operands (LE). Results are returned with sol_set_return_data.
 */
#include "sol.h"

static uint64_t ret(const uint8_t *out, uint64_t len) {
  sol_set_return_data(out, len);
  return SUCCESS;
}

uint64_t entrypoint(const uint8_t *input) {
  SolParameters params;
  sol_deserialize(input, &params);
  const uint8_t *d = params.data;
  uint64_t n = params.data_len;
  if (n == 0) return ERROR_INVALID_INSTRUCTION_DATA;
  uint8_t *out = (uint8_t *)sol_heap_scratch();
  switch (d[0]) {
    case 0: { /* u128_mul64(a, b) -> u128 */
      if (n != 17) return ERROR_INVALID_INSTRUCTION_DATA;
      sol_store_u128(out, u128_mul64(sol_load_u64(d + 1), sol_load_u64(d + 9)));
      return ret(out, 16);
    }
    case 1: { /* u128_divmod64(n, d) -> q u128, r u64 */
      if (n != 25) return ERROR_INVALID_INSTRUCTION_DATA;
      uint64_t r;
      sol_store_u128(out, u128_divmod64(sol_load_u128(d + 1), sol_load_u64(d + 17), &r));
      sol_store_u64(out + 16, r);
      return ret(out, 24);
    }
    case 2: { /* u128_divmod(n, d) -> q u128, r u128 */
      if (n != 33) return ERROR_INVALID_INSTRUCTION_DATA;
      u128 r;
      sol_store_u128(out, u128_divmod(sol_load_u128(d + 1), sol_load_u128(d + 17), &r));
      sol_store_u128(out + 16, r);
      return ret(out, 32);
    }
    case 3:   /* u64_mul_div_floor(a, b, c) -> ok u8, out u64 */
    case 4: { /* u64_mul_div_ceil */
      if (n != 25) return ERROR_INVALID_INSTRUCTION_DATA;
      uint64_t v = 0;
      bool ok = d[0] == 3 ? u64_mul_div_floor(sol_load_u64(d + 1), sol_load_u64(d + 9), sol_load_u64(d + 17), &v)
                          : u64_mul_div_ceil(sol_load_u64(d + 1), sol_load_u64(d + 9), sol_load_u64(d + 17), &v);
      out[0] = ok;
      sol_store_u64(out + 1, v);
      return ret(out, 9);
    }
    case 5: { /* u128_mul(a, b) -> ok u8, out u128 */
      if (n != 33) return ERROR_INVALID_INSTRUCTION_DATA;
      u128 v = 0;
      out[0] = u128_mul(sol_load_u128(d + 1), sol_load_u128(d + 17), &v);
      sol_store_u128(out + 1, v);
      return ret(out, 17);
    }
    case 6:   /* u128_mul_div_floor(a, b, c) -> ok u8, out u128 */
    case 7: { /* u128_mul_div_ceil */
      if (n != 49) return ERROR_INVALID_INSTRUCTION_DATA;
      u128 v = 0;
      u128 a = sol_load_u128(d + 1), b = sol_load_u128(d + 17), c = sol_load_u128(d + 33);
      out[0] = d[0] == 6 ? u128_mul_div_floor(a, b, c, &v) : u128_mul_div_ceil(a, b, c, &v);
      sol_store_u128(out + 1, v);
      return ret(out, 17);
    }
    case 8: { /* checked u64 add, sub, mul -> (ok u8, out u64) x 3 */
      if (n != 17) return ERROR_INVALID_INSTRUCTION_DATA;
      uint64_t a = sol_load_u64(d + 1), b = sol_load_u64(d + 9), v;
      out[0] = u64_add(a, b, &v);
      sol_store_u64(out + 1, v);
      out[9] = u64_sub(a, b, &v);
      sol_store_u64(out + 10, v);
      out[18] = u64_mul(a, b, &v);
      sol_store_u64(out + 19, v);
      return ret(out, 27);
    }
    case 9: { /* the parsed accounts: per account key[0..8], flags, data_len, lamports */
      uint64_t k = params.ka_num;
      for (uint64_t i = 0; i < k && i < 40; i++) {
        const SolAccountInfo *ai = &params.ka[i];
        uint8_t *o = out + 8 + 25 * i;
        sol_memcpy_(o, ai->key, 8);
        o[8] = (uint8_t)(ai->is_signer | (ai->is_writable << 1) | (ai->executable << 2));
        sol_store_u64(o + 9, ai->data_len);
        sol_store_u64(o + 17, *ai->lamports);
      }
      sol_store_u64(out, params.ka_total);
      return ret(out, 8 + 25 * (k < 40 ? k : 40));
    }
    case 10: { /* instructions sysvar (account 0): count, current, then ix `d[1]`: program, metas, data */
      if (n != 2 || params.ka_num < 1) return ERROR_INVALID_INSTRUCTION_DATA;
      const SolAccountInfo *sv = &params.ka[0];
      if (!sol_pubkey_eq(sv->key, &SYSVAR_INSTRUCTIONS_ID)) return ERROR_UNSUPPORTED_SYSVAR;
      uint16_t count = 0, current = 0;
      if (!sol_ixs_count(sv->data, sv->data_len, &count) || !sol_ixs_current_index(sv->data, sv->data_len, &current))
        return ERROR_INVALID_ACCOUNT_DATA;
      SolIxView ix;
      uint64_t err = sol_ixs_load(sv->data, sv->data_len, d[1], &ix);
      if (err) return err;
      sol_store_u16(out, count);
      sol_store_u16(out + 2, current);
      sol_memcpy_(out + 4, ix.program_id, 32);
      sol_store_u16(out + 36, ix.n_accounts);
      uint64_t o = 38;
      for (uint16_t i = 0; i < ix.n_accounts && i < 8; i++) {
        out[o] = sol_ix_meta_flags(&ix, i);
        sol_memcpy_(out + o + 1, sol_ix_meta_key(&ix, i), 32);
        o += 33;
      }
      sol_store_u16(out + o, ix.data_len);
      sol_memcpy_(out + o + 2, ix.data, ix.data_len);
      return ret(out, o + 2 + ix.data_len);
    }
    case 11: { /* PDA-signed SPL transfer: accounts token program, source, destination, authority
                * (PDA of seed "probe"); data: u64 amount, u8 bump */
      if (n != 10) return ERROR_INVALID_INSTRUCTION_DATA;
      if (params.ka_num < 4) return ERROR_NOT_ENOUGH_ACCOUNT_KEYS;
      static const uint8_t seed[] = "probe";
      SolSignerSeed seeds[1] = {{seed, 5}};
      SplTransfer t = {&params.ka[0], &params.ka[1], &params.ka[2], &params.ka[3], sol_load_u64(d + 1), seeds, 1, d[9]};
      return spl_token_transfer(&t);
    }
    case 12: { /* stack height and clock: returns u64 height, u64 slot */
      SolClock clock;
      sol_get_clock_sysvar(&clock);
      sol_store_u64(out, sol_get_stack_height());
      sol_store_u64(out + 8, clock.slot);
      return ret(out, 16);
    }
    default:
      return ERROR_INVALID_INSTRUCTION_DATA;
  }
}
