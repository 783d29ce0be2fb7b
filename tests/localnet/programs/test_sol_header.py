"""sol.h held to Python's integers and to the runtime, through the test-only program c/sol_probe.c."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction
from solders.transaction_metadata import FailedTransactionMetadata

from core.localnet.accounts import set_mint, set_token_account, token_amount
from core.localnet.programs import load_programs
from core.protocols import ids
from tests.localnet.programs.toolchain_support import build_c, meta_of, send

PROBE_ID = Pubkey.from_string("SoLProbe11111111111111111111111111111111111")
U64 = (1 << 64) - 1
U128 = (1 << 128) - 1

u64s = st.one_of(
    st.integers(0, U64), st.sampled_from([0, 1, 2, U64, U64 - 1, 1 << 32, (1 << 32) - 1, 1 << 63])
)
u128s = st.one_of(
    st.integers(0, U128),
    st.integers(0, U64),
    st.builds(lambda hi, lo: (hi << 64) | lo, st.integers(1, 2**16), u64s),
    st.sampled_from([U128, 1 << 64, (1 << 64) + 1, 1 << 127, (1 << 127) - 1, U64 << 64]),
)


@pytest.fixture(scope="module")
def probe_so() -> bytes:
    return build_c((Path(__file__).parent / "c" / "sol_probe.c").read_text(), "sol_probe.c")


class Probe:
    def __init__(self, so: bytes) -> None:
        self.svm = LiteSVM()
        self.svm.add_program(PROBE_ID, so)
        self.payer = Keypair()
        self.svm.airdrop(self.payer.pubkey(), 10**12)

    def call(self, data: bytes, accounts: list[AccountMeta] | None = None) -> bytes:
        ix = Instruction(PROBE_ID, data, accounts or [])
        tx = Transaction([self.payer], Message([ix], self.payer.pubkey()), self.svm.latest_blockhash())
        result = self.svm.simulate_transaction(tx)
        assert not isinstance(result, FailedTransactionMetadata), result
        return bytes(result.meta().return_data().data)


@pytest.fixture(scope="module")
def probe(probe_so: bytes) -> Probe:
    return Probe(probe_so)


def le(v: int, n: int) -> bytes:
    return v.to_bytes(n, "little")


def from_le(b: bytes) -> int:
    return int.from_bytes(b, "little")


HYP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@HYP
@given(a=u64s, b=u64s)
def test_u128_mul64_is_the_full_product(probe: Probe, a: int, b: int) -> None:
    assert from_le(probe.call(b"\0" + le(a, 8) + le(b, 8))) == a * b


@HYP
@given(n=u128s, d=u64s.filter(lambda d: d > 0))
def test_u128_divmod64_matches_python(probe: Probe, n: int, d: int) -> None:
    out = probe.call(b"\1" + le(n, 16) + le(d, 8))
    assert (from_le(out[:16]), from_le(out[16:24])) == divmod(n, d)


@HYP
@given(n=u128s, d=u128s.filter(lambda d: d > 0))
def test_u128_divmod_matches_python(probe: Probe, n: int, d: int) -> None:
    out = probe.call(b"\2" + le(n, 16) + le(d, 16))
    assert (from_le(out[:16]), from_le(out[16:32])) == divmod(n, d)


@HYP
@given(a=u64s, b=u64s, c=u64s)
def test_u64_mul_div_floor_and_ceil_match_python_or_report_overflow(
    probe: Probe, a: int, b: int, c: int
) -> None:
    for op, expect in ((3, lambda: a * b // c), (4, lambda: -(-a * b // c))):
        out = probe.call(bytes([op]) + le(a, 8) + le(b, 8) + le(c, 8))
        if c == 0 or expect() > U64:
            assert out[0] == 0
        else:
            assert (out[0], from_le(out[1:9])) == (1, expect())


@HYP
@given(a=u128s, b=u128s)
def test_u128_mul_is_checked(probe: Probe, a: int, b: int) -> None:
    out = probe.call(b"\5" + le(a, 16) + le(b, 16))
    if a * b > U128:
        assert out[0] == 0
    else:
        assert (out[0], from_le(out[1:17])) == (1, a * b)


@HYP
@given(a=u128s, b=u128s, c=u128s)
def test_u128_mul_div_floor_and_ceil_match_python_or_report_overflow(
    probe: Probe, a: int, b: int, c: int
) -> None:
    for op, expect in ((6, lambda: a * b // c), (7, lambda: -(-a * b // c))):
        out = probe.call(bytes([op]) + le(a, 16) + le(b, 16) + le(c, 16))
        if c == 0 or a * b > U128:
            assert out[0] == 0
        else:
            assert (out[0], from_le(out[1:17])) == (1, expect())


@HYP
@given(a=u64s, b=u64s)
def test_checked_u64_add_sub_mul_flag_overflow(probe: Probe, a: int, b: int) -> None:
    out = probe.call(b"\x08" + le(a, 8) + le(b, 8))
    assert (out[0], from_le(out[1:9])) == (int(a + b <= U64), (a + b) & U64)
    assert (out[9], from_le(out[10:18])) == (int(a >= b), (a - b) & U64)
    assert (out[18], from_le(out[19:27])) == (int(a * b <= U64), (a * b) & U64)


def test_deserialize_gives_duplicates_the_original_account_and_keeps_flags(probe: Probe) -> None:
    svm = probe.svm
    data_acc = Pubkey.new_unique()
    mint = Pubkey.new_unique()
    set_mint(svm, mint, 6)
    set_token_account(svm, data_acc, mint, probe.payer.pubkey(), 7)
    lamports = svm.get_account(data_acc).lamports
    ro = Pubkey.new_unique()  # absent account: zero lamports, no data
    metas = [
        AccountMeta(data_acc, False, True),
        AccountMeta(ro, False, False),
        AccountMeta(data_acc, False, True),
        AccountMeta(ids.TOKEN_PROGRAM, False, False),
    ]
    out = probe.call(b"\x09", metas)
    # The payer is not in the instruction's accounts; the instruction has exactly the 4 given.
    assert from_le(out[:8]) == 4
    rows = [out[8 + 25 * i : 8 + 25 * (i + 1)] for i in range(4)]
    assert rows[0] == rows[2]
    assert rows[0][:8] == bytes(data_acc)[:8]
    assert rows[0][8] == 0b010 and from_le(rows[0][9:17]) == 165 and from_le(rows[0][17:25]) == lamports
    assert rows[1][:8] == bytes(ro)[:8] and rows[1][8] == 0 and from_le(rows[1][9:25]) == 0
    assert rows[3][8] & 0b100  # the token program is executable


def test_instructions_sysvar_helpers_read_count_current_index_and_each_instruction(probe: Probe) -> None:
    svm = probe.svm
    other = Pubkey.new_unique()
    probe_ix = Instruction(
        PROBE_ID,
        b"\x0a\x01",
        [AccountMeta(ids.SYSVAR_INSTRUCTIONS, False, False), AccountMeta(other, False, True)],
    )
    ixs = [set_compute_unit_limit(400_000), set_compute_unit_price(7), probe_ix]
    tx = Transaction([probe.payer], Message(ixs, probe.payer.pubkey()), svm.latest_blockhash())
    result = svm.simulate_transaction(tx)
    assert not isinstance(result, FailedTransactionMetadata), result
    out = bytes(result.meta().return_data().data)
    assert from_le(out[:2]) == 3  # three instructions
    assert from_le(out[2:4]) == 2  # the probe is the third
    assert out[4:36] == bytes(ids.COMPUTE_BUDGET_PROGRAM)  # instruction 1
    assert from_le(out[36:38]) == 0
    assert from_le(out[38:40]) == len(bytes(ixs[1].data)) and out[40:] == bytes(ixs[1].data)

    # The probe's own instruction (index 2): metas with flags, and its data.
    probe_ix2 = Instruction(PROBE_ID, b"\x0a\x02", probe_ix.accounts)
    tx = Transaction(
        [probe.payer], Message([*ixs[:2], probe_ix2], probe.payer.pubkey()), svm.latest_blockhash()
    )
    out = bytes(svm.simulate_transaction(tx).meta().return_data().data)
    assert out[4:36] == bytes(PROBE_ID) and from_le(out[36:38]) == 2
    assert out[38] == 0 and out[39:71] == bytes(ids.SYSVAR_INSTRUCTIONS)
    assert out[71] == 2 and out[72:104] == bytes(other)  # writable, not signer
    assert from_le(out[104:106]) == 2 and out[106:108] == b"\x0a\x02"


def test_instructions_sysvar_load_out_of_range_is_invalid_argument(probe: Probe) -> None:
    from solders.transaction_status import InstructionErrorFieldless

    ix = Instruction(PROBE_ID, b"\x0a\x05", [AccountMeta(ids.SYSVAR_INSTRUCTIONS, False, False)])
    result = send(probe.svm, probe.payer, ix)
    assert isinstance(result, FailedTransactionMetadata)
    assert result.err().err == InstructionErrorFieldless.InvalidArgument


def test_spl_token_transfer_helper_moves_tokens_signed_by_a_pda_with_the_given_bump(probe: Probe) -> None:
    svm = probe.svm
    authority, bump = Pubkey.find_program_address([b"probe"], PROBE_ID)
    mint = Pubkey.new_unique()
    set_mint(svm, mint, 6)
    src, dst = Pubkey.new_unique(), Pubkey.new_unique()
    set_token_account(svm, src, mint, authority, 1_000)
    set_token_account(svm, dst, mint, probe.payer.pubkey(), 0)
    metas = [
        AccountMeta(ids.TOKEN_PROGRAM, False, False),
        AccountMeta(src, False, True),
        AccountMeta(dst, False, True),
        AccountMeta(authority, False, False),
    ]
    ok = send(svm, probe.payer, Instruction(PROBE_ID, b"\x0b" + le(400, 8) + bytes([bump]), metas))
    assert not isinstance(ok, FailedTransactionMetadata), ok
    assert (token_amount(svm, src), token_amount(svm, dst)) == (600, 400)
    # PDA-signed transfer CPI: about 3,100 CU per the toolchain notes; hold it to a bound.
    assert meta_of(ok).compute_units_consumed() < 6_000

    wrong_bump = send(
        svm, probe.payer, Instruction(PROBE_ID, b"\x0b" + le(1, 8) + bytes([(bump - 1) % 256]), metas)
    )
    assert isinstance(wrong_bump, FailedTransactionMetadata)
    assert (token_amount(svm, src), token_amount(svm, dst)) == (600, 400)


def test_stack_height_is_one_at_top_level_and_clock_reads_the_slot(probe: Probe) -> None:
    probe.svm.warp_to_slot(1234)
    out = probe.call(b"\x0c")
    assert (from_le(out[:8]), from_le(out[8:16])) == (1, 1234)


def test_stack_height_is_two_when_called_through_cpi_relay(probe: Probe) -> None:
    load_programs(probe.svm, ["cpi_relay"])
    relay = Instruction(ids.CPI_RELAY, b"\x00\x0c", [AccountMeta(PROBE_ID, False, False)])
    tx = Transaction([probe.payer], Message([relay], probe.payer.pubkey()), probe.svm.latest_blockhash())
    result = probe.svm.simulate_transaction(tx)
    assert not isinstance(result, FailedTransactionMetadata), result
    assert from_le(bytes(result.meta().return_data().data)[:8]) == 2
