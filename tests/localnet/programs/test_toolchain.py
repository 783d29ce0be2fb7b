"""The C toolchain: committed programs rebuild byte-identical; the linker refuses what cannot load."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.transaction_metadata import FailedTransactionMetadata
from solders.transaction_status import InstructionErrorCustom, InstructionErrorFieldless

from core.localnet.programs import PROGRAM_IDS, PROGRAMS_DIR, load_programs, so_path
from core.localnet.programs import build as build_mod
from core.localnet.programs.build import build_program, program_sources
from core.localnet.programs.linker import MM_PROGRAM_START, LinkError, link
from tests.localnet.programs.toolchain_support import compile_c, meta_of, require_clang, send

SOURCES = program_sources()


@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_every_program_rebuilds_byte_identical_to_the_committed_so(source: Path) -> None:
    require_clang()
    committed = source.with_suffix(".so")
    assert committed.exists(), (
        f"{committed.name} is not committed: run python -m core.localnet.programs.build"
    )
    assert build_program(source) == committed.read_bytes(), (
        f"{committed.name} is stale: run python -m core.localnet.programs.build and commit it"
    )


def test_build_check_exits_1_when_a_committed_so_differs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_clang()
    shutil.copy(PROGRAMS_DIR / "profit_guard.c", tmp_path)
    shutil.copytree(PROGRAMS_DIR / "include", tmp_path / "include")
    assert build_mod.main(["--dir", str(tmp_path), "--check"]) == 1  # not built yet
    assert build_mod.main(["--dir", str(tmp_path)]) == 0
    assert (tmp_path / "profit_guard.so").read_bytes() == (PROGRAMS_DIR / "profit_guard.so").read_bytes()
    assert build_mod.main(["--dir", str(tmp_path), "--check"]) == 0
    so = bytearray((tmp_path / "profit_guard.so").read_bytes())
    so[-1] ^= 1
    (tmp_path / "profit_guard.so").write_bytes(so)
    capsys.readouterr()
    assert build_mod.main(["--dir", str(tmp_path), "--check"]) == 1
    assert "profit_guard.so: differs" in capsys.readouterr().out


def test_build_without_clang_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(build_mod.shutil, "which", lambda name: None)
    assert build_mod.main(["--check"]) == 2
    assert "clang not found" in capsys.readouterr().err


def test_every_registered_program_with_a_source_loads_into_litesvm() -> None:
    svm = LiteSVM()
    loaded = load_programs(svm)
    for name in PROGRAM_IDS:
        if (PROGRAMS_DIR / f"{name}.c").exists():
            assert name in loaded
    for name in loaded:
        account = svm.get_account(PROGRAM_IDS[name])
        assert account is not None and account.executable


BPF_LOADER_2 = Pubkey.from_string("BPFLoader2111111111111111111111111111111111")


@pytest.mark.parametrize("setup", ["upgradeable", "mainnet-features", "bpf-loader-2"])
def test_linked_programs_run_under_mainnet_features_and_other_loaders(setup: str) -> None:
    svm = LiteSVM().with_mainnet_features() if setup == "mainnet-features" else LiteSVM()
    program = Pubkey.new_unique()
    so = so_path("cpi_relay").read_bytes()
    if setup == "bpf-loader-2":
        svm.add_program_with_loader(program, so, BPF_LOADER_2)
    else:
        svm.add_program(program, so)
    payer = Keypair()
    svm.airdrop(payer.pubkey(), 10**9)
    # Empty data: the relay parses its input and returns InvalidInstructionData.
    result = send(svm, payer, Instruction(program, b"", []))
    assert isinstance(result, FailedTransactionMetadata)
    assert result.err().err == InstructionErrorFieldless.InvalidInstructionData


def test_load_programs_refuses_an_unknown_name() -> None:
    with pytest.raises(KeyError):
        load_programs(LiteSVM(), ["no_such_program"])
    with pytest.raises(KeyError):
        so_path("no_such_program")


def _elf_sections(so: bytes) -> dict[str, tuple[int, int, int, int]]:
    """name → (type, flags, addr, offset) of every section of an ELF64."""
    shoff = struct.unpack_from("<Q", so, 40)[0]
    shnum, shstrndx = struct.unpack_from("<HH", so, 60)
    heads = [struct.unpack_from("<IIQQQQ", so, shoff + 64 * i) for i in range(shnum)]
    strtab_off = heads[shstrndx][4]
    out = {}
    for name, typ, flags, addr, off, _size in heads[1:]:
        end = so.index(b"\0", strtab_off + name)
        out[so[strtab_off + name : end].decode()] = (typ, flags, addr, off)
    return out


@pytest.mark.parametrize("name", ["profit_guard", "cpi_relay"])
def test_committed_programs_have_the_shape_the_sbpfv0_loader_requires(name: str) -> None:
    so = so_path(name).read_bytes()
    assert so[:4] == b"\x7fELF" and so[4] == 2 and so[5] == 1
    e_type, e_machine = struct.unpack_from("<HH", so, 16)
    assert (e_type, e_machine) == (3, 247)  # ET_DYN, EM_BPF
    assert struct.unpack_from("<I", so, 48)[0] == 0  # e_flags 0 = SBPFv0
    sections = _elf_sections(so)
    assert {".text", ".dynamic", ".dynsym", ".dynstr", ".rel.dyn"} <= set(sections)
    assert not any(n.startswith((".data", ".bss")) for n in sections)
    for n in (".text", ".rodata"):
        if n in sections:
            assert sections[n][2] == sections[n][3]  # address == file offset


# ---------------------------------------------------------------------------------------------
# The linker on small C snippets

MAIN_C = """
#include "sol.h"
uint64_t helper(uint64_t x);
static const char *const WORDS[] = {"even", "odd!"};
uint64_t entrypoint(const uint8_t *input) {
  SolParameters p;
  sol_deserialize(input, &p);
  uint64_t v = helper(p.data_len);
  sol_log_(WORDS[v & 1], 4);
  sol_log_64_(v, 0, 0, 0, 0);
  return 0;
}
"""
HELPER_C = """
#include "sol.h"
static const uint64_t TABLE[4] = {10, 20, 30, 41};
uint64_t helper(uint64_t x) { sol_log("helper"); return TABLE[x & 3]; }
"""


def test_linker_links_several_objects_with_cross_calls_strings_and_pointer_tables() -> None:
    main_o, helper_o = compile_c(MAIN_C, "main.c"), compile_c(HELPER_C, "helper.c")
    so = link([main_o, helper_o], ["main.o", "helper.o"])
    assert link([main_o, helper_o]) == so  # deterministic, independent of the object names
    svm = LiteSVM()
    program = Pubkey.new_unique()
    svm.add_program(program, so)
    payer = Keypair()
    svm.airdrop(payer.pubkey(), 10**9)
    result = send(svm, payer, Instruction(program, b"abc", []))
    assert not isinstance(result, FailedTransactionMetadata), result
    logs = meta_of(result).logs()
    assert "Program log: helper" in logs
    assert "Program log: 0x29, 0x0, 0x0, 0x0, 0x0" in logs  # TABLE[3] = 41
    assert "Program log: odd!" in logs  # pointer table in .rodata resolved to absolute addresses


def test_a_minimal_program_without_syscalls_or_rodata_loads_and_returns_its_error() -> None:
    so = link([compile_c("unsigned long entrypoint(const unsigned char *input) { return 42; }\n")])
    assert ".rodata" not in _elf_sections(so)
    svm = LiteSVM()
    program = Pubkey.new_unique()
    svm.add_program(program, so)
    payer = Keypair()
    svm.airdrop(payer.pubkey(), 10**9)
    result = send(svm, payer, Instruction(program, b"", []))
    assert isinstance(result, FailedTransactionMetadata)
    assert result.err().err == InstructionErrorCustom(42)


def test_linker_refuses_writable_data_naming_the_section_and_symbol() -> None:
    obj = compile_c(
        '#include "sol.h"\nuint64_t counter = 5;\n'
        "uint64_t entrypoint(const uint8_t *i) { return ++counter; }\n"
    )
    with pytest.raises(LinkError, match=r"writable section \.data.*counter"):
        link([obj])


def test_linker_refuses_zero_initialised_bss_naming_the_symbol() -> None:
    obj = compile_c(
        '#include "sol.h"\nstatic uint64_t scratch[4];\n'
        "uint64_t entrypoint(const uint8_t *i) { scratch[i[0] & 3] = 1; return scratch[1]; }\n"
    )
    with pytest.raises(LinkError, match=r"writable section \.bss.*scratch"):
        link([obj])


def test_linker_refuses_an_unsupported_relocation_naming_symbol_and_type() -> None:
    # A 32-bit absolute address in read-only data: what -fPIC lookup tables need, and what an
    # SBPFv0 program cannot have.
    obj = compile_c(
        '#include "sol.h"\n'
        "const uint64_t target = 7;\n"
        '__asm__(".section .rodata.table,\\"a\\"\\n.long target\\n");\n'
        "uint64_t entrypoint(const uint8_t *i) { return 0; }\n"
    )
    with pytest.raises(LinkError, match=r"R_BPF_64_ABS32 against target"):
        link([obj])


def test_linker_refuses_a_call_to_a_name_that_is_neither_defined_nor_a_syscall() -> None:
    obj = compile_c(
        '#include "sol.h"\nvoid sol_lgo_(const char *m, uint64_t n);\n'
        'uint64_t entrypoint(const uint8_t *i) { sol_lgo_("x", 1); return 0; }\n'
    )
    with pytest.raises(LinkError, match=r"R_BPF_64_32 against sol_lgo_.*undefined symbol sol_lgo_"):
        link([obj])


def test_linker_refuses_an_address_of_an_undefined_symbol() -> None:
    obj = compile_c(
        '#include "sol.h"\nextern const uint8_t elsewhere[8];\n'
        "uint64_t entrypoint(const uint8_t *i) { return elsewhere[i[0] & 7]; }\n"
    )
    with pytest.raises(LinkError, match=r"R_BPF_64_64 against elsewhere"):
        link([obj])


def test_linker_requires_the_entrypoint_symbol() -> None:
    obj = compile_c('#include "sol.h"\nuint64_t start(const uint8_t *i) { return 0; }\n')
    with pytest.raises(LinkError, match="entry symbol entrypoint"):
        link([obj])


def test_linker_refuses_duplicate_global_symbols() -> None:
    a = compile_c('#include "sol.h"\nuint64_t entrypoint(const uint8_t *i) { return 0; }\n', "a.c")
    with pytest.raises(LinkError, match="duplicate symbol entrypoint"):
        link([a, a])


def test_lddw_addresses_are_absolute_in_program_memory() -> None:
    so = link([compile_c(MAIN_C, "main.c"), compile_c(HELPER_C, "helper.c")])
    text = _elf_sections(so)[".text"]
    # No lddw (opcode 0x18) is left with a section-relative address; string/table loads point
    # into the program region (the others are constants such as the heap address).
    shoff = struct.unpack_from("<Q", so, 40)[0]
    size = struct.unpack_from("<Q", so, shoff + 64 * 1 + 32)[0]
    start = text[3]
    loads = [
        struct.unpack_from("<I", so, pc + 4)[0] | (struct.unpack_from("<I", so, pc + 12)[0] << 32)
        for pc in range(start, start + size, 8)
        if so[pc] == 0x18
    ]
    assert not any(a < len(so) for a in loads)
    assert sum(MM_PROGRAM_START <= a < MM_PROGRAM_START + len(so) for a in loads) >= 2
