/*
 * sol.h — the Solana program ABI for the project's C programs (SBPFv0, clang -target bpfel).
 *
 * Constraints of this toolchain that shape this header (see docs/sbf-toolchain.md):
 *  - clang's BPF backend allows at most 512 bytes of stack per function and at most 5
 *    arguments, so large arrays (the parsed account list, CPI metas) live on the heap;
 *  - there is no writable static memory (.data/.bss are refused by the linker): keep every
 *    global `const`;
 *  - unsigned __int128 add/sub/shift/compare compile inline, but multiply and divide become
 *    calls to __multi3/__udivti3 that cannot be linked, so do shifts by a variable amount
 *    (__ashlti3/__lshrti3), and a non-inlined function may not return a u128: every u128
 *    helper here is always_inline, and u128 shifts are by constants only;
 *  - signed division is avoided (clang 14 crashes on it at -O0); use unsigned;
 *  - an undefined function name is taken for a syscall: the linker refuses names that are
 *    not real syscalls, so a missing helper fails the build, not the transaction.
 */
#ifndef ARBTUI_SOL_H
#define ARBTUI_SOL_H

typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef unsigned long uint64_t;
typedef signed int int32_t;
typedef signed long int64_t;
typedef unsigned __int128 u128;
typedef _Bool bool;
#define true 1
#define false 0
#define NULL ((void *)0)

#define SOL_INLINE static inline __attribute__((always_inline))

/* ---------------------------------------------------------------------------------------
 * Errors. A program returns 0 for success; builtin errors occupy the upper 32 bits
 * (solana program-error `to_builtin!`); a custom error n > 0 is returned as plain n.
 */
#define SUCCESS 0
#define TO_BUILTIN(n) ((uint64_t)(n) << 32)
#define ERROR_CUSTOM_ZERO TO_BUILTIN(1)
#define ERROR_INVALID_ARGUMENT TO_BUILTIN(2)
#define ERROR_INVALID_INSTRUCTION_DATA TO_BUILTIN(3)
#define ERROR_INVALID_ACCOUNT_DATA TO_BUILTIN(4)
#define ERROR_ACCOUNT_DATA_TOO_SMALL TO_BUILTIN(5)
#define ERROR_INSUFFICIENT_FUNDS TO_BUILTIN(6)
#define ERROR_INCORRECT_PROGRAM_ID TO_BUILTIN(7)
#define ERROR_MISSING_REQUIRED_SIGNATURES TO_BUILTIN(8)
#define ERROR_ACCOUNT_ALREADY_INITIALIZED TO_BUILTIN(9)
#define ERROR_UNINITIALIZED_ACCOUNT TO_BUILTIN(10)
#define ERROR_NOT_ENOUGH_ACCOUNT_KEYS TO_BUILTIN(11)
#define ERROR_ACCOUNT_BORROW_FAILED TO_BUILTIN(12)
#define ERROR_MAX_SEED_LENGTH_EXCEEDED TO_BUILTIN(13)
#define ERROR_INVALID_SEEDS TO_BUILTIN(14)
#define ERROR_BORSH_IO_ERROR TO_BUILTIN(15)
#define ERROR_ACCOUNT_NOT_RENT_EXEMPT TO_BUILTIN(16)
#define ERROR_UNSUPPORTED_SYSVAR TO_BUILTIN(17)
#define ERROR_ILLEGAL_OWNER TO_BUILTIN(18)
#define ERROR_INVALID_ACCOUNT_OWNER TO_BUILTIN(23)
#define ERROR_ARITHMETIC_OVERFLOW TO_BUILTIN(24)
#define ERROR_IMMUTABLE TO_BUILTIN(25)
#define ERROR_INCORRECT_AUTHORITY TO_BUILTIN(26)

/* ---------------------------------------------------------------------------------------
 * ABI types. SolAccountInfo, SolAccountMeta, SolInstruction and the seed structs have
 * exactly the layout the runtime's C CPI (sol_invoke_signed_c) reads, so parsed accounts
 * can be handed to a CPI unchanged.
 */
typedef struct {
  uint8_t x[32];
} SolPubkey;

typedef struct {
  SolPubkey *key;
  uint64_t *lamports; /* points into the input buffer: writes change the account */
  uint64_t data_len;
  uint8_t *data;
  SolPubkey *owner;
  uint64_t rent_epoch;
  bool is_signer;
  bool is_writable;
  bool executable;
} SolAccountInfo;

typedef struct {
  SolPubkey *pubkey;
  bool is_writable;
  bool is_signer;
} SolAccountMeta;

typedef struct {
  SolPubkey *program_id;
  SolAccountMeta *accounts;
  uint64_t account_len;
  uint8_t *data;
  uint64_t data_len;
} SolInstruction;

typedef struct {
  const uint8_t *addr;
  uint64_t len;
} SolSignerSeed;

typedef struct {
  const SolSignerSeed *addr;
  uint64_t len;
} SolSignerSeeds;

/* Clock sysvar (sol_get_clock_sysvar). */
typedef struct {
  uint64_t slot;
  int64_t epoch_start_timestamp;
  uint64_t epoch;
  uint64_t leader_schedule_epoch;
  int64_t unix_timestamp;
} SolClock;

/* ---------------------------------------------------------------------------------------
 * Syscalls (resolved by the loader from the name's murmur3 hash).
 */
void sol_log_(const char *message, uint64_t len);
void sol_log_64_(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e);
void sol_log_pubkey(const SolPubkey *pubkey);
void sol_log_compute_units_(void);
void sol_memcpy_(void *dst, const void *src, uint64_t n);
void sol_memmove_(void *dst, const void *src, uint64_t n);
void sol_memset_(void *dst, uint8_t value, uint64_t n);
void sol_memcmp_(const void *a, const void *b, uint64_t n, int32_t *result);
uint64_t sol_invoke_signed_c(const SolInstruction *instruction, const SolAccountInfo *account_infos,
                             int account_infos_len, const SolSignerSeeds *signers_seeds, int signers_seeds_len);
uint64_t sol_create_program_address(const SolSignerSeed *seeds, int seeds_len, const SolPubkey *program_id,
                                    SolPubkey *address);
uint64_t sol_try_find_program_address(const SolSignerSeed *seeds, int seeds_len, const SolPubkey *program_id,
                                      SolPubkey *address, uint8_t *bump_seed);
uint64_t sol_get_clock_sysvar(SolClock *clock);
uint64_t sol_get_stack_height(void);
void sol_set_return_data(const uint8_t *data, uint64_t len);
uint64_t sol_get_return_data(uint8_t *data, uint64_t len, SolPubkey *program_id);

/* Log a string literal (length known at compile time, no strlen needed). */
#define sol_log(literal) sol_log_((literal), sizeof(literal) - 1)

/* The stack height of a top-level instruction (get_stack_height() == 1 means not a CPI). */
#define TRANSACTION_LEVEL_STACK_HEIGHT 1

/* ---------------------------------------------------------------------------------------
 * Heap. The runtime maps 32 KiB of zeroed, writable memory at 0x3_0000_0000 for every
 * instruction; with no allocator, it is carved statically: the parsed account array first,
 * then scratch space any program may use (e.g. CPI account metas).
 */
#define SOL_HEAP_START 0x300000000UL
#define SOL_HEAP_LENGTH (32 * 1024)
#define SOL_MAX_ACCOUNTS 64
#define SOL_HEAP_SCRATCH (SOL_HEAP_START + 4096) /* 64 * sizeof(SolAccountInfo) = 3584 fits below */
#define SOL_HEAP_SCRATCH_LEN (SOL_HEAP_LENGTH - 4096)

SOL_INLINE void *sol_heap_scratch(void) { return (void *)SOL_HEAP_SCRATCH; }

/* ---------------------------------------------------------------------------------------
 * Entrypoint input (the aligned serialization of the upgradeable / BPFLoader2 loaders):
 *   u64 n_accounts; per account: u8 dup marker (0xff = first occurrence, else index of the
 *   original), and for a first occurrence: u8 is_signer, u8 is_writable, u8 executable,
 *   u32 original_data_len, key[32], owner[32], u64 lamports, u64 data_len, data,
 *   10 KiB realloc room, pad to 8, u64 rent_epoch; a duplicate is followed by 7 pad bytes.
 *   Then u64 instruction data length, data, program id.
 */
#define SOL_NON_DUP_MARKER 0xff
#define SOL_MAX_PERMITTED_DATA_INCREASE (10 * 1024)

typedef struct {
  SolAccountInfo *ka; /* on the heap, SOL_MAX_ACCOUNTS entries at most */
  uint64_t ka_num;    /* accounts parsed into ka (the instruction may carry more; see ka_total) */
  uint64_t ka_total;  /* accounts in the instruction */
  const uint8_t *data;
  uint64_t data_len;
  const SolPubkey *program_id;
} SolParameters;

/* Parse the entrypoint input. Accounts beyond SOL_MAX_ACCOUNTS are skipped, not parsed. */
SOL_INLINE void sol_deserialize(const uint8_t *input, SolParameters *params) {
  SolAccountInfo *ka = (SolAccountInfo *)SOL_HEAP_START;
  uint64_t n = *(const uint64_t *)input;
  input += 8;
  uint64_t kept = 0;
  for (uint64_t i = 0; i < n; i++) {
    uint8_t dup = *input;
    input += 1;
    if (dup == SOL_NON_DUP_MARKER) {
      SolAccountInfo ai;
      ai.is_signer = *input != 0;
      ai.is_writable = *(input + 1) != 0;
      ai.executable = *(input + 2) != 0;
      input += 3 + 4; /* flags + original_data_len */
      ai.key = (SolPubkey *)input;
      input += 32;
      ai.owner = (SolPubkey *)input;
      input += 32;
      ai.lamports = (uint64_t *)input;
      input += 8;
      ai.data_len = *(const uint64_t *)input;
      input += 8;
      ai.data = (uint8_t *)input;
      input += ai.data_len + SOL_MAX_PERMITTED_DATA_INCREASE;
      input = (const uint8_t *)(((uint64_t)input + 7) & ~7UL);
      ai.rent_epoch = *(const uint64_t *)input;
      input += 8;
      if (i < SOL_MAX_ACCOUNTS) {
        ka[i] = ai;
        kept = i + 1;
      }
    } else {
      input += 7;
      /* A duplicate shares the original's pointers, so writes through either are one write. */
      if (i < SOL_MAX_ACCOUNTS) {
        ka[i] = ka[dup];
        kept = i + 1;
      }
    }
  }
  params->ka = ka;
  params->ka_num = kept;
  params->ka_total = n;
  params->data_len = *(const uint64_t *)input;
  input += 8;
  params->data = input;
  input += params->data_len;
  params->program_id = (const SolPubkey *)input;
}

/* ---------------------------------------------------------------------------------------
 * Bytes and pubkeys. Loops rather than syscalls for 32 bytes: a syscall costs more CU.
 */
SOL_INLINE bool sol_pubkey_eq(const SolPubkey *a, const SolPubkey *b) {
  const uint64_t *x = (const uint64_t *)a, *y = (const uint64_t *)b;
  return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3])) == 0;
}

/* Compare 32 bytes at an arbitrary (possibly unaligned) address with a pubkey. */
SOL_INLINE bool sol_pubkey_eq_bytes(const uint8_t *a, const SolPubkey *b) {
  uint8_t diff = 0;
  for (int i = 0; i < 32; i++) diff |= a[i] ^ b->x[i];
  return diff == 0;
}

SOL_INLINE void sol_pubkey_copy(SolPubkey *dst, const SolPubkey *src) {
  uint64_t *d = (uint64_t *)dst;
  const uint64_t *s = (const uint64_t *)src;
  d[0] = s[0]; d[1] = s[1]; d[2] = s[2]; d[3] = s[3];
}

/* Little-endian loads/stores at any alignment (instruction data and account fields are packed). */
SOL_INLINE uint16_t sol_load_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
SOL_INLINE uint32_t sol_load_u32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
SOL_INLINE int32_t sol_load_i32(const uint8_t *p) { return (int32_t)sol_load_u32(p); }
SOL_INLINE uint64_t sol_load_u64(const uint8_t *p) {
  return (uint64_t)sol_load_u32(p) | ((uint64_t)sol_load_u32(p + 4) << 32);
}
SOL_INLINE u128 sol_load_u128(const uint8_t *p) { return (u128)sol_load_u64(p) | ((u128)sol_load_u64(p + 8) << 64); }
SOL_INLINE void sol_store_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
SOL_INLINE void sol_store_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
SOL_INLINE void sol_store_i32(uint8_t *p, int32_t v) { sol_store_u32(p, (uint32_t)v); }
SOL_INLINE void sol_store_u64(uint8_t *p, uint64_t v) { sol_store_u32(p, (uint32_t)v); sol_store_u32(p + 4, (uint32_t)(v >> 32)); }
SOL_INLINE void sol_store_u128(uint8_t *p, u128 v) { sol_store_u64(p, (uint64_t)v); sol_store_u64(p + 8, (uint64_t)(v >> 64)); }

/* ---------------------------------------------------------------------------------------
 * Checked u64 arithmetic: return false on overflow (the caller picks the error to return).
 */
#define U64_MAX 0xffffffffffffffffUL
/* (u64_mul follows u128_mul64 below.) */
SOL_INLINE bool u64_add(uint64_t a, uint64_t b, uint64_t *out) { *out = a + b; return *out >= a; }
SOL_INLINE bool u64_sub(uint64_t a, uint64_t b, uint64_t *out) { *out = a - b; return a >= b; }

/* ---------------------------------------------------------------------------------------
 * 128-bit arithmetic without compiler libcalls. Native u128 +, -, <<, >>, comparisons are
 * fine; multiply and divide go through these.
 */
#define U128_MAX (~(u128)0)

/* a * b as a full 128-bit product, from four 32x32 partial products. */
SOL_INLINE u128 u128_mul64(uint64_t a, uint64_t b) {
  uint64_t a0 = a & 0xffffffffUL, a1 = a >> 32, b0 = b & 0xffffffffUL, b1 = b >> 32;
  uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffUL) + (p10 & 0xffffffffUL);
  uint64_t lo = (p00 & 0xffffffffUL) | (mid << 32);
  uint64_t hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
  return ((u128)hi << 64) | lo;
}

/* Checked u64 multiply. Not `a * b / a == b`: clang turns that idiom into an overflow
 * intrinsic that lowers to __multi3. */
SOL_INLINE bool u64_mul(uint64_t a, uint64_t b, uint64_t *out) {
  u128 p = u128_mul64(a, b);
  *out = (uint64_t)p;
  return (p >> 64) == 0;
}

SOL_INLINE bool u128_add(u128 a, u128 b, u128 *out) { *out = a + b; return *out >= a; }
SOL_INLINE bool u128_sub(u128 a, u128 b, u128 *out) { *out = a - b; return a >= b; }

/* a * b for u128 a, b; false if the product does not fit in 128 bits. */
SOL_INLINE bool u128_mul(u128 a, u128 b, u128 *out) {
  uint64_t a_lo = (uint64_t)a, a_hi = (uint64_t)(a >> 64), b_lo = (uint64_t)b, b_hi = (uint64_t)(b >> 64);
  if (a_hi != 0 && b_hi != 0) return false;
  u128 cross = u128_mul64(a_hi, b_lo) + u128_mul64(a_lo, b_hi); /* at most one term is non-zero */
  if ((cross >> 64) != 0) return false;
  return u128_add(u128_mul64(a_lo, b_lo), cross << 64, out);
}

/* Number of leading zero bits of a non-zero u64 (BPF has no clz instruction). */
SOL_INLINE uint64_t u64_clz(uint64_t x) {
  uint64_t n = 0;
  if ((x >> 32) == 0) { n += 32; x <<= 32; }
  if ((x >> 48) == 0) { n += 16; x <<= 16; }
  if ((x >> 56) == 0) { n += 8; x <<= 8; }
  if ((x >> 60) == 0) { n += 4; x <<= 4; }
  if ((x >> 62) == 0) { n += 2; x <<= 2; }
  if ((x >> 63) == 0) { n += 1; }
  return n;
}

/* (hi:lo) / d for hi < d (so the quotient fits in 64 bits); Knuth's algorithm D with 32-bit
 * digits, as in Hacker's Delight `divlu`. Only 64-bit unsigned divisions are used. */
SOL_INLINE uint64_t u128_divlu(uint64_t hi, uint64_t lo, uint64_t d, uint64_t *rem) {
  const uint64_t b = 1UL << 32;
  uint64_t s = u64_clz(d);
  d <<= s;
  uint64_t vn1 = d >> 32, vn0 = d & 0xffffffffUL;
  uint64_t un32 = s == 0 ? hi : (hi << s) | (lo >> (64 - s));
  uint64_t un10 = lo << s;
  uint64_t un1 = un10 >> 32, un0 = un10 & 0xffffffffUL;
  uint64_t q1 = un32 / vn1, rhat = un32 - q1 * vn1;
  while (q1 >= b || q1 * vn0 > b * rhat + un1) {
    q1 -= 1;
    rhat += vn1;
    if (rhat >= b) break;
  }
  uint64_t un21 = un32 * b + un1 - q1 * d;
  uint64_t q0 = un21 / vn1;
  rhat = un21 - q0 * vn1;
  while (q0 >= b || q0 * vn0 > b * rhat + un0) {
    q0 -= 1;
    rhat += vn1;
    if (rhat >= b) break;
  }
  if (rem) *rem = (un21 * b + un0 - q0 * d) >> s;
  return q1 * b + q0;
}

/* n / d and n % d for u128 n and u64 d != 0. */
SOL_INLINE u128 u128_divmod64(u128 n, uint64_t d, uint64_t *rem) {
  uint64_t hi = (uint64_t)(n >> 64), lo = (uint64_t)n;
  uint64_t q_hi = hi / d;
  uint64_t q_lo = u128_divlu(hi - q_hi * d, lo, d, rem);
  return ((u128)q_hi << 64) | q_lo;
}

/* n / d and n % d for u128 n, d with d != 0 (Hacker's Delight `divlu`-based 128/128). */
SOL_INLINE u128 u128_divmod(u128 n, u128 d, u128 *rem) {
  uint64_t d_hi = (uint64_t)(d >> 64);
  if (d_hi == 0) {
    uint64_t r;
    u128 q = u128_divmod64(n, (uint64_t)d, &r);
    if (rem) *rem = r;
    return q;
  }
  /* d >= 2^64, so the quotient fits in 64 bits. Estimate it from the top 64 bits of d
   * (normalised) and n >> 1, then correct by at most one. */
  /* Shifts by a variable amount are spelled on u64 halves: on u128 they become __ashlti3. */
  uint64_t s = u64_clz(d_hi);
  uint64_t v1 = s == 0 ? d_hi : (d_hi << s) | ((uint64_t)d >> (64 - s));
  u128 n1 = n >> 1;
  uint64_t q1 = u128_divlu((uint64_t)(n1 >> 64), (uint64_t)n1, v1, NULL);
  uint64_t q0 = q1 >> (63 - s); /* (q1 << s) >> 63, as s <= 63 */
  if (q0 != 0) q0 -= 1;
  /* q0 * d fits: q0 <= n / d. */
  u128 prod = u128_mul64(q0, (uint64_t)d) + (u128_mul64(q0, d_hi) << 64);
  u128 r = n - prod;
  if (r >= d) {
    q0 += 1;
    r -= d;
  }
  if (rem) *rem = r;
  return q0;
}

/* floor(a * b / c) into *out; false if c == 0 or the result exceeds u64. */
SOL_INLINE bool u64_mul_div_floor(uint64_t a, uint64_t b, uint64_t c, uint64_t *out) {
  if (c == 0) return false;
  u128 q = u128_divmod64(u128_mul64(a, b), c, NULL);
  if ((q >> 64) != 0) return false;
  *out = (uint64_t)q;
  return true;
}

/* ceil(a * b / c) into *out; false if c == 0 or the result exceeds u64. */
SOL_INLINE bool u64_mul_div_ceil(uint64_t a, uint64_t b, uint64_t c, uint64_t *out) {
  if (c == 0) return false;
  uint64_t r;
  u128 q = u128_divmod64(u128_mul64(a, b), c, &r);
  if (r != 0) q += 1;
  if ((q >> 64) != 0) return false;
  *out = (uint64_t)q;
  return true;
}

/* floor / ceil of a * b / c over u128; false if c == 0 or a * b overflows u128. */
SOL_INLINE bool u128_mul_div_floor(u128 a, u128 b, u128 c, u128 *out) {
  u128 p;
  if (c == 0 || !u128_mul(a, b, &p)) return false;
  *out = u128_divmod(p, c, NULL);
  return true;
}

SOL_INLINE bool u128_mul_div_ceil(u128 a, u128 b, u128 c, u128 *out) {
  u128 p, r;
  if (c == 0 || !u128_mul(a, b, &p)) return false;
  u128 q = u128_divmod(p, c, &r);
  *out = q + (r != 0);
  return true;
}

/* ---------------------------------------------------------------------------------------
 * Well-known ids.
 */
static const SolPubkey SPL_TOKEN_PROGRAM_ID = {{6,   221, 246, 225, 215, 101, 161, 147, 217, 203, 225,
                                                 70,  206, 235, 121, 172, 28,  180, 133, 237, 95,  91,
                                                 55,  145, 58,  140, 245, 133, 126, 255, 0,   169}};
static const SolPubkey SYSTEM_PROGRAM_ID = {{0}};
static const SolPubkey SYSVAR_INSTRUCTIONS_ID = {{6,   167, 213, 23,  24,  123, 209, 102, 53, 218, 212,
                                                   4,   85,  253, 194, 192, 193, 36,  198, 143, 33, 86,
                                                   117, 165, 219, 186, 203, 95,  8,   0,   0,   0}};

/* ---------------------------------------------------------------------------------------
 * Instructions sysvar (account Sysvar1nstructions1111111111111111111111111), serialised as:
 *   u16 n_instructions; u16 offset[n_instructions];
 *   per instruction: u16 n_accounts; (u8 flags [bit0 signer, bit1 writable], pubkey[32]) x n;
 *                    program_id[32]; u16 data_len; data
 *   and the index of the executing top-level instruction in the last 2 bytes.
 */
#define SOL_IX_META_SIGNER 1
#define SOL_IX_META_WRITABLE 2

typedef struct {
  const SolPubkey *program_id;
  const uint8_t *metas; /* n_accounts entries of 33 bytes: flags, pubkey */
  uint16_t n_accounts;
  const uint8_t *data;
  uint16_t data_len;
} SolIxView;

SOL_INLINE bool sol_ixs_count(const uint8_t *sysvar, uint64_t len, uint16_t *out) {
  if (len < 2) return false;
  *out = sol_load_u16(sysvar);
  return true;
}

SOL_INLINE bool sol_ixs_current_index(const uint8_t *sysvar, uint64_t len, uint16_t *out) {
  if (len < 2) return false;
  *out = sol_load_u16(sysvar + len - 2);
  return true;
}

/* Instruction `index` of the transaction; ERROR_INVALID_ARGUMENT when out of bounds, as the
 * runtime's load_instruction_at_checked. */
SOL_INLINE uint64_t sol_ixs_load(const uint8_t *sysvar, uint64_t len, uint16_t index, SolIxView *out) {
  if (len < 2) return ERROR_INVALID_ARGUMENT;
  uint16_t n = sol_load_u16(sysvar);
  if (index >= n || 2 + 2 * (uint64_t)n > len) return ERROR_INVALID_ARGUMENT;
  uint64_t off = sol_load_u16(sysvar + 2 + 2 * (uint64_t)index);
  if (off + 2 > len) return ERROR_INVALID_ARGUMENT;
  out->n_accounts = sol_load_u16(sysvar + off);
  off += 2;
  out->metas = sysvar + off;
  off += 33 * (uint64_t)out->n_accounts;
  if (off + 34 > len) return ERROR_INVALID_ARGUMENT;
  out->program_id = (const SolPubkey *)(sysvar + off); /* byte-aligned: compare with sol_pubkey_eq_bytes */
  off += 32;
  out->data_len = sol_load_u16(sysvar + off);
  off += 2;
  if (off + out->data_len > len) return ERROR_INVALID_ARGUMENT;
  out->data = sysvar + off;
  return SUCCESS;
}

/* Pubkey bytes (unaligned) and flags of account meta i of a loaded instruction. */
SOL_INLINE const uint8_t *sol_ix_meta_key(const SolIxView *ix, uint16_t i) { return ix->metas + 33 * (uint64_t)i + 1; }
SOL_INLINE uint8_t sol_ix_meta_flags(const SolIxView *ix, uint16_t i) { return ix->metas[33 * (uint64_t)i]; }

/* ---------------------------------------------------------------------------------------
 * SPL Token accounts: mint @0, owner @32, amount @64 (165 bytes in all).
 */
#define SPL_TOKEN_ACCOUNT_LEN 165
#define SPL_TOKEN_TRANSFER 3
#define SPL_MAX_SEEDS 4

SOL_INLINE bool spl_token_account_valid(const SolAccountInfo *ai) {
  return sol_pubkey_eq(ai->owner, &SPL_TOKEN_PROGRAM_ID) && ai->data_len >= SPL_TOKEN_ACCOUNT_LEN;
}
SOL_INLINE const uint8_t *spl_token_account_mint(const SolAccountInfo *ai) { return ai->data; }
SOL_INLINE const uint8_t *spl_token_account_owner(const SolAccountInfo *ai) { return ai->data + 32; }
SOL_INLINE uint64_t spl_token_account_amount(const SolAccountInfo *ai) { return sol_load_u64(ai->data + 64); }

typedef struct {
  const SolAccountInfo *token_program;
  const SolAccountInfo *source;
  const SolAccountInfo *destination;
  const SolAccountInfo *authority;
  uint64_t amount;
  const SolSignerSeed *seeds; /* seeds of the authority PDA without the bump; NULL when authority signed */
  uint64_t n_seeds;           /* at most SPL_MAX_SEEDS */
  uint8_t bump;               /* appended as the last seed, so no find_program_address is needed */
} SplTransfer;

/* SPL Token Transfer (tag 3, u64 amount) by CPI, signed by the PDA seeds + bump if given.
 * Not inlined: its ~370 bytes of locals would otherwise count against the caller's frame. */
static __attribute__((noinline, unused)) uint64_t spl_token_transfer(const SplTransfer *t) {
  if (!sol_pubkey_eq(t->token_program->key, &SPL_TOKEN_PROGRAM_ID)) return ERROR_INCORRECT_PROGRAM_ID;
  if (t->n_seeds > SPL_MAX_SEEDS) return ERROR_MAX_SEED_LENGTH_EXCEEDED;
  SolAccountMeta metas[3] = {
      {t->source->key, true, false},
      {t->destination->key, true, false},
      {t->authority->key, false, true},
  };
  uint8_t data[9];
  data[0] = SPL_TOKEN_TRANSFER;
  sol_store_u64(data + 1, t->amount);
  SolInstruction ix = {t->token_program->key, metas, 3, data, sizeof(data)};
  SolAccountInfo infos[3] = {*t->source, *t->destination, *t->authority};
  SolSignerSeed seeds[SPL_MAX_SEEDS + 1];
  uint8_t bump = t->bump;
  for (uint64_t i = 0; i < t->n_seeds; i++) seeds[i] = t->seeds[i];
  seeds[t->n_seeds].addr = &bump;
  seeds[t->n_seeds].len = 1;
  SolSignerSeeds signer = {seeds, t->n_seeds + 1};
  return sol_invoke_signed_c(&ix, infos, 3, &signer, t->seeds ? 1 : 0);
}

#endif /* ARBTUI_SOL_H */
