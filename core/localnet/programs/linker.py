"""The project's own linker: clang's relocatable BPF objects → an SBPFv0 shared object.

Debian's ld.lld 14 cannot link Solana programs (it does not know R_BPF_64_32 and refuses
R_BPF_64_64 against local symbols), so this module does the little a Solana program needs:

* every input `.text` is concatenated into the one `.text` the loader requires;
* every read-only input section (`.rodata*`, `.data.rel.ro*`) is merged into one `.rodata`;
* writable sections (`.data`, `.bss`) are refused: SBPFv0 has no writable program memory;
* calls to functions defined in any input become pc-relative immediates;
* calls to undefined names must be known syscalls and become `imm = -1` plus a dynamic
  R_BPF_64_32 against a `.dynsym` entry, which the loader resolves by murmur3 hash;
* `lddw` address loads and pointer tables in `.rodata` get absolute addresses
  (program memory starts at 0x1_0000_0000), so no relative relocations are needed.

Sections are laid out with address == file offset, which the loader checks for SBPFv0.
The output depends only on the input bytes and their order (no dict/set iteration order, no
timestamps), so the same objects always give the same `.so`.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

MM_PROGRAM_START = 0x1_0000_0000

EM_BPF = 247
ET_REL, ET_DYN = 1, 3
SHT_NULL, SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA = 0, 1, 2, 3, 4
SHT_DYNAMIC, SHT_NOBITS, SHT_REL, SHT_DYNSYM = 6, 8, 9, 11
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4
SHN_UNDEF, SHN_ABS, SHN_COMMON = 0, 0xFFF1, 0xFFF2
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_NOTYPE, STT_FUNC, STT_SECTION = 0, 2, 3
PT_LOAD, PT_DYNAMIC = 1, 2
PF_X, PF_W, PF_R = 1, 2, 4
DT_NULL, DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SYMENT = 0, 5, 6, 10, 11
DT_REL, DT_RELSZ, DT_RELENT, DT_TEXTREL, DT_FLAGS = 17, 18, 19, 22, 30
DF_TEXTREL = 0x4

R_BPF_64_64 = 1
R_BPF_64_ABS64 = 2
R_BPF_64_32 = 10
RELOC_NAMES = {
    0: "R_BPF_NONE",
    1: "R_BPF_64_64",
    2: "R_BPF_64_ABS64",
    3: "R_BPF_64_ABS32",
    4: "R_BPF_64_NODYLD32",
    8: "R_BPF_64_RELATIVE",
    10: "R_BPF_64_32",
}

OP_LDDW = 0x18
OP_CALL = 0x85
INSN = 8

# Syscalls the runtime registers for SBPFv0 programs. A call to any other undefined name is
# a typo or a missing function: the loader would accept it and fail only when executed.
KNOWN_SYSCALLS = frozenset(
    {
        "abort",
        "sol_panic_",
        "sol_log_",
        "sol_log_64_",
        "sol_log_compute_units_",
        "sol_log_pubkey",
        "sol_log_data",
        "sol_create_program_address",
        "sol_try_find_program_address",
        "sol_sha256",
        "sol_keccak256",
        "sol_blake3",
        "sol_secp256k1_recover",
        "sol_poseidon",
        "sol_get_clock_sysvar",
        "sol_get_epoch_schedule_sysvar",
        "sol_get_fees_sysvar",
        "sol_get_rent_sysvar",
        "sol_get_last_restart_slot",
        "sol_get_epoch_rewards_sysvar",
        "sol_get_sysvar",
        "sol_get_epoch_stake",
        "sol_memcpy_",
        "sol_memmove_",
        "sol_memcmp_",
        "sol_memset_",
        "sol_invoke_signed_c",
        "sol_invoke_signed_rust",
        "sol_alloc_free_",
        "sol_set_return_data",
        "sol_get_return_data",
        "sol_get_stack_height",
        "sol_get_processed_sibling_instruction",
        "sol_remaining_compute_units",
        "sol_curve_validate_point",
        "sol_curve_group_op",
        "sol_curve_multiscalar_mul",
        "sol_alt_bn128_group_op",
        "sol_alt_bn128_compression",
        "sol_big_mod_exp",
    }
)


class LinkError(Exception):
    """An input the linker cannot turn into a loadable program; names the symbol and relocation."""


def reloc_name(r_type: int) -> str:
    return RELOC_NAMES.get(r_type, f"relocation type {r_type}")


# ---------------------------------------------------------------------------------------------
# Reading relocatable objects


@dataclass
class InSection:
    index: int
    name: str
    sh_type: int
    flags: int
    align: int
    data: bytearray
    size: int


@dataclass
class InSymbol:
    name: str
    value: int
    size: int
    bind: int
    sym_type: int
    shndx: int


@dataclass
class InReloc:
    offset: int
    r_type: int
    sym: int


@dataclass
class ObjectFile:
    name: str
    sections: list[InSection]
    symbols: list[InSymbol]
    relocs: dict[int, list[InReloc]] = field(default_factory=dict)  # target section → relocs


def _cstr(blob: bytes, off: int) -> str:
    end = blob.index(b"\0", off)
    return blob[off:end].decode("utf-8", "replace")


def read_object(data: bytes, name: str = "<object>") -> ObjectFile:
    if len(data) < 64 or data[:4] != b"\x7fELF":
        raise LinkError(f"{name}: not an ELF file")
    if data[4] != 2 or data[5] != 1:
        raise LinkError(f"{name}: not a 64-bit little-endian ELF (compile with -target bpfel)")
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    if e_type != ET_REL:
        raise LinkError(f"{name}: not a relocatable object (e_type {e_type})")
    if e_machine != EM_BPF:
        raise LinkError(f"{name}: machine {e_machine} is not EM_BPF ({EM_BPF})")
    (e_shoff,) = struct.unpack_from("<Q", data, 40)
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", data, 58)
    raw = [struct.unpack_from("<IIQQQQIIQQ", data, e_shoff + i * e_shentsize) for i in range(e_shnum)]
    shstr = data[raw[e_shstrndx][4] : raw[e_shstrndx][4] + raw[e_shstrndx][5]]
    sections = []
    for i, (sh_name, sh_type, flags, _addr, off, size, _link, _info, align, _ent) in enumerate(raw):
        body = bytearray() if sh_type == SHT_NOBITS else bytearray(data[off : off + size])
        sections.append(InSection(i, _cstr(shstr, sh_name), sh_type, flags, max(align, 1), body, size))

    symbols: list[InSymbol] = []
    symtab = next((r for r in raw if r[1] == SHT_SYMTAB), None)
    if symtab is not None:
        strtab = raw[symtab[6]]
        strs = data[strtab[4] : strtab[4] + strtab[5]]
        for j in range(symtab[5] // 24):
            st_name, st_info, _other, st_shndx, st_value, st_size = struct.unpack_from(
                "<IBBHQQ", data, symtab[4] + j * 24
            )
            sym_type = st_info & 0xF
            sname = _cstr(strs, st_name)
            if sym_type == STT_SECTION and st_shndx < len(sections):
                sname = sections[st_shndx].name
            symbols.append(InSymbol(sname, st_value, st_size, st_info >> 4, sym_type, st_shndx))

    obj = ObjectFile(name, sections, symbols)
    for _sh_name, sh_type, _flags, _addr, off, size, _link, info, _align, _ent in raw:
        if sh_type == SHT_RELA:
            raise LinkError(
                f"{name}: RELA relocations against section {sections[info].name} are not supported"
            )
        if sh_type == SHT_REL:
            relocs = obj.relocs.setdefault(info, [])
            for k in range(size // 16):
                r_offset, r_info = struct.unpack_from("<QQ", data, off + k * 16)
                relocs.append(InReloc(r_offset, r_info & 0xFFFFFFFF, r_info >> 32))
    return obj


# ---------------------------------------------------------------------------------------------
# Linking


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


def _is_rodata(sec: InSection) -> bool:
    return (
        sec.flags & SHF_ALLOC != 0
        and sec.flags & (SHF_WRITE | SHF_EXECINSTR) == 0
        and sec.sh_type == SHT_PROGBITS
    ) or (sec.name.startswith(".data.rel.ro") and sec.flags & SHF_ALLOC != 0)


def _symbols_in(obj: ObjectFile, shndx: int) -> str:
    names = sorted({s.name for s in obj.symbols if s.shndx == shndx and s.sym_type != STT_SECTION and s.name})
    return ", ".join(names) if names else "<no named symbol>"


@dataclass
class _Placed:
    obj: int
    section: int
    kind: str  # "text" or "rodata"
    offset: int  # offset inside the output section


def link(objects: Sequence[bytes], names: Sequence[str] | None = None, entry: str = "entrypoint") -> bytes:
    """Link BPF relocatable objects (in the given order) into an SBPFv0 shared object."""
    if not objects:
        raise LinkError("no input objects")
    names = list(names) if names is not None else [f"<object {i}>" for i in range(len(objects))]
    objs = [read_object(bytes(o), n) for o, n in zip(objects, names, strict=True)]

    # Place sections: text and rodata, refusing anything the loader cannot map.
    placed: dict[tuple[int, int], _Placed] = {}
    text_size = 0
    rodata_size = 0
    rodata_align = 1
    for oi, obj in enumerate(objs):
        for sec in obj.sections:
            if sec.flags & SHF_ALLOC == 0 or sec.size == 0:
                continue
            if sec.flags & SHF_EXECINSTR:
                if sec.name != ".text":
                    raise LinkError(
                        f"{obj.name}: code in section {sec.name} (symbols {_symbols_in(obj, sec.index)}); "
                        "the loader accepts exactly one .text — do not use -ffunction-sections"
                    )
                text_size = _align(text_size, INSN)
                placed[(oi, sec.index)] = _Placed(oi, sec.index, "text", text_size)
                text_size += sec.size
            elif sec.flags & SHF_WRITE and not sec.name.startswith(".data.rel.ro"):
                raise LinkError(
                    f"{obj.name}: writable section {sec.name} (symbols {_symbols_in(obj, sec.index)}); "
                    "SBPFv0 programs have no writable static memory — make it const or use the heap"
                )
            elif _is_rodata(sec):
                rodata_size = _align(rodata_size, sec.align)
                rodata_align = max(rodata_align, sec.align)
                placed[(oi, sec.index)] = _Placed(oi, sec.index, "rodata", rodata_size)
                rodata_size += sec.size
            else:
                raise LinkError(f"{obj.name}: cannot place section {sec.name} (type {sec.sh_type})")
    if text_size == 0:
        raise LinkError("no .text in the input objects")

    # Global symbol table across objects.
    globals_: dict[str, tuple[int, InSymbol]] = {}
    for oi, obj in enumerate(objs):
        for sym in obj.symbols:
            if sym.bind in (STB_GLOBAL, STB_WEAK) and sym.shndx != SHN_UNDEF and sym.name:
                if sym.shndx == SHN_COMMON:
                    raise LinkError(f"{obj.name}: common symbol {sym.name} is writable data; SBPFv0 has none")
                if sym.name in globals_:
                    prev_oi, prev = globals_[sym.name]
                    if prev.bind == STB_WEAK and sym.bind == STB_GLOBAL:
                        globals_[sym.name] = (oi, sym)
                    elif sym.bind != STB_WEAK:
                        raise LinkError(f"duplicate symbol {sym.name} in {objs[prev_oi].name} and {obj.name}")
                else:
                    globals_[sym.name] = (oi, sym)

    # Output layout (address == file offset for every allocated section).
    n_phdrs = 5
    text_off = _align(64 + 56 * n_phdrs, INSN)
    rodata_off = _align(text_off + text_size, max(rodata_align, 8))
    text = bytearray(text_size)
    rodata = bytearray(rodata_size)
    for (oi, si), p in placed.items():
        sec = objs[oi].sections[si]
        dest = text if p.kind == "text" else rodata
        dest[p.offset : p.offset + sec.size] = sec.data if sec.sh_type != SHT_NOBITS else bytes(sec.size)

    def section_addr(oi: int, shndx: int) -> int | None:
        p = placed.get((oi, shndx))
        if p is None:
            return None
        return (text_off if p.kind == "text" else rodata_off) + p.offset

    def resolve(oi: int, sym: InSymbol) -> tuple[int, str] | None:
        """Address and kind ("text"/"rodata") of a symbol, or None when undefined."""
        if sym.shndx == SHN_UNDEF:
            if sym.name in globals_:
                goi, gsym = globals_[sym.name]
                return resolve(goi, gsym)
            return None
        if sym.shndx == SHN_ABS:
            raise LinkError(f"{objs[oi].name}: absolute symbol {sym.name} is not supported")
        base = section_addr(oi, sym.shndx)
        if base is None:
            raise LinkError(
                f"{objs[oi].name}: symbol {sym.name} lives in section "
                f"{objs[oi].sections[sym.shndx].name}, which is not part of the program"
            )
        return base + sym.value, placed[(oi, sym.shndx)].kind

    # Apply relocations.
    syscalls: list[tuple[int, str]] = []  # (offset of the call in the output, syscall name)
    for oi, obj in enumerate(objs):
        for target_idx in sorted(obj.relocs):
            target = obj.sections[target_idx]
            p = placed.get((oi, target_idx))
            if p is None:
                continue  # relocations of debug info / BTF: not part of the program
            dest = text if p.kind == "text" else rodata
            dest_base = text_off if p.kind == "text" else rodata_off
            for rel in obj.relocs[target_idx]:
                sym = obj.symbols[rel.sym]
                where = p.offset + rel.offset
                what = (
                    f"{obj.name}: {reloc_name(rel.r_type)} against {sym.name or '<unnamed>'} in {target.name}"
                )
                if rel.r_type == R_BPF_64_32 and p.kind == "text":
                    if dest[where] != OP_CALL:
                        raise LinkError(f"{what}: not a call instruction")
                    (imm,) = struct.unpack_from("<i", dest, where + 4)
                    res = resolve(oi, sym)
                    if res is None:
                        if sym.name not in KNOWN_SYSCALLS:
                            raise LinkError(
                                f"{what}: undefined symbol {sym.name} is neither defined nor a syscall"
                            )
                        struct.pack_into("<i", dest, where + 4, -1)
                        syscalls.append((dest_base + where, sym.name))
                        continue
                    addr, kind = res
                    if kind != "text":
                        raise LinkError(f"{what}: call target {sym.name} is not code")
                    # The implicit addend of a BPF call is encoded as (imm + 1) instructions.
                    target_addr = addr + (imm + 1) * INSN
                    delta = target_addr - (dest_base + where + INSN)
                    if delta % INSN:
                        raise LinkError(f"{what}: misaligned call target")
                    struct.pack_into("<i", dest, where + 4, delta // INSN)
                elif rel.r_type == R_BPF_64_64 and p.kind == "text":
                    if dest[where] != OP_LDDW:
                        raise LinkError(f"{what}: not an lddw instruction")
                    (addend,) = struct.unpack_from("<I", dest, where + 4)
                    res = resolve(oi, sym)
                    if res is None:
                        raise LinkError(f"{what}: undefined symbol {sym.name}")
                    value = MM_PROGRAM_START + res[0] + addend
                    struct.pack_into("<I", dest, where + 4, value & 0xFFFFFFFF)
                    struct.pack_into("<I", dest, where + 12, value >> 32)
                elif rel.r_type == R_BPF_64_ABS64 and p.kind == "rodata":
                    (addend,) = struct.unpack_from("<Q", dest, where)
                    res = resolve(oi, sym)
                    if res is None:
                        raise LinkError(f"{what}: undefined symbol {sym.name}")
                    struct.pack_into("<Q", dest, where, MM_PROGRAM_START + res[0] + addend)
                else:
                    raise LinkError(f"{what}: cannot handle this relocation here")

    if entry not in globals_:
        raise LinkError(f"entry symbol {entry} is not defined (make it a non-static function)")
    eoi, esym = globals_[entry]
    eres = resolve(eoi, esym)
    assert eres is not None
    entry_addr, entry_kind = eres
    if entry_kind != "text":
        raise LinkError(f"entry symbol {entry} is not code")

    return _write_so(bytes(text), bytes(rodata), text_off, rodata_off, entry, entry_addr, syscalls)


def _write_so(
    text: bytes,
    rodata: bytes,
    text_off: int,
    rodata_off: int,
    entry: str,
    entry_addr: int,
    syscalls: list[tuple[int, str]],
) -> bytes:
    has_rodata = len(rodata) > 0
    # Section indices in file order: null, .text, [.rodata], .dynamic, .dynsym, .dynstr, .rel.dyn, .shstrtab
    names = [
        ".text",
        *([".rodata"] if has_rodata else []),
        ".dynamic",
        ".dynsym",
        ".dynstr",
        ".rel.dyn",
        ".shstrtab",
    ]
    idx = {n: i + 1 for i, n in enumerate(names)}

    # .dynstr / .dynsym: the entry point, then every syscall name (sorted for determinism).
    sys_names = sorted({n for _, n in syscalls})
    dynstr = bytearray(b"\0")
    name_off: dict[str, int] = {}
    for n in [entry, *sys_names]:
        name_off[n] = len(dynstr)
        dynstr += n.encode() + b"\0"
    dynsym = bytearray(24)
    dynsym += struct.pack(
        "<IBBHQQ", name_off[entry], (STB_GLOBAL << 4) | STT_FUNC, 0, idx[".text"], entry_addr, 0
    )
    sym_index = {}
    for n in sys_names:
        sym_index[n] = len(dynsym) // 24
        dynsym += struct.pack("<IBBHQQ", name_off[n], (STB_GLOBAL << 4) | STT_NOTYPE, 0, SHN_UNDEF, 0, 0)
    rel_dyn = bytearray()
    for off, n in sorted(syscalls):
        rel_dyn += struct.pack("<QQ", off, (sym_index[n] << 32) | R_BPF_64_32)

    end_ro = rodata_off + len(rodata) if has_rodata else text_off + len(text)
    dynamic_off = _align(end_ro, 8)
    n_dyn = 9 if rel_dyn else 5
    dynamic_size = 16 * n_dyn
    dynsym_off = dynamic_off + dynamic_size
    dynstr_off = dynsym_off + len(dynsym)
    rel_off = _align(dynstr_off + len(dynstr), 8)
    shstrtab_off = rel_off + len(rel_dyn)

    shstrtab = bytearray(b"\0")
    sh_name: dict[str, int] = {}
    for n in names:
        sh_name[n] = len(shstrtab)
        shstrtab += n.encode() + b"\0"
    shoff = _align(shstrtab_off + len(shstrtab), 8)
    shnum = len(names) + 1

    dyn_entries = [
        (DT_SYMTAB, dynsym_off),
        (DT_SYMENT, 24),
        (DT_STRTAB, dynstr_off),
        (DT_STRSZ, len(dynstr)),
    ]
    if rel_dyn:
        dyn_entries += [(DT_REL, rel_off), (DT_RELSZ, len(rel_dyn)), (DT_RELENT, 16), (DT_FLAGS, DF_TEXTREL)]
    dyn_entries.append((DT_NULL, 0))
    dynamic = b"".join(struct.pack("<QQ", t, v) for t, v in dyn_entries)
    assert len(dynamic) == dynamic_size

    out = bytearray(shoff + 64 * shnum)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    struct.pack_into(
        "<16sHHIQQQIHHHHHH",
        out,
        0,
        ident,
        ET_DYN,
        EM_BPF,
        1,
        entry_addr,
        64,
        shoff,
        0,
        64,
        56,
        5,
        64,
        shnum,
        idx[".shstrtab"],
    )
    # Program headers, ascending by address: code, read-only data, dynamic table, link metadata.
    ro_start = rodata_off if has_rodata else end_ro
    meta_end = rel_off + len(rel_dyn)
    phdrs = [
        (PT_LOAD, PF_R | PF_X, text_off, len(text), INSN),
        (PT_LOAD, PF_R, ro_start, len(rodata), 8),
        (PT_LOAD, PF_R | PF_W, dynamic_off, dynamic_size, 8),
        (PT_LOAD, PF_R, dynsym_off, meta_end - dynsym_off, 8),
        (PT_DYNAMIC, PF_R | PF_W, dynamic_off, dynamic_size, 8),
    ]
    for i, (p_type, flags, off, size, align) in enumerate(phdrs):
        struct.pack_into("<IIQQQQQQ", out, 64 + 56 * i, p_type, flags, off, off, off, size, size, align)

    out[text_off : text_off + len(text)] = text
    if has_rodata:
        out[rodata_off : rodata_off + len(rodata)] = rodata
    out[dynamic_off : dynamic_off + dynamic_size] = dynamic
    out[dynsym_off : dynsym_off + len(dynsym)] = dynsym
    out[dynstr_off : dynstr_off + len(dynstr)] = dynstr
    out[rel_off : rel_off + len(rel_dyn)] = rel_dyn
    out[shstrtab_off : shstrtab_off + len(shstrtab)] = shstrtab

    shdrs = [(0, SHT_NULL, 0, 0, 0, 0, 0, 0, 0)]
    shdrs.append(
        (sh_name[".text"], SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, text_off, len(text), 0, 0, INSN, 0)
    )
    if has_rodata:
        shdrs.append((sh_name[".rodata"], SHT_PROGBITS, SHF_ALLOC, rodata_off, len(rodata), 0, 0, 8, 0))
    shdrs.append(
        (
            sh_name[".dynamic"],
            SHT_DYNAMIC,
            SHF_ALLOC | SHF_WRITE,
            dynamic_off,
            dynamic_size,
            idx[".dynstr"],
            0,
            8,
            16,
        )
    )
    shdrs.append(
        (sh_name[".dynsym"], SHT_DYNSYM, SHF_ALLOC, dynsym_off, len(dynsym), idx[".dynstr"], 1, 8, 24)
    )
    shdrs.append((sh_name[".dynstr"], SHT_STRTAB, SHF_ALLOC, dynstr_off, len(dynstr), 0, 0, 1, 0))
    shdrs.append((sh_name[".rel.dyn"], SHT_REL, SHF_ALLOC, rel_off, len(rel_dyn), idx[".dynsym"], 0, 8, 16))
    shdrs.append((sh_name[".shstrtab"], SHT_STRTAB, 0, shstrtab_off, len(shstrtab), 0, 0, 1, 0))
    for i, (nm, typ, flags, off, size, link_, info, align, ent) in enumerate(shdrs):
        addr = off if flags & SHF_ALLOC else 0
        struct.pack_into(
            "<IIQQQQIIQQ", out, shoff + 64 * i, nm, typ, flags, addr, off, size, link_, info, align, ent
        )
    return bytes(out)
