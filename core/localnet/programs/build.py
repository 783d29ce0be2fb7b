"""Rebuild every C program in this directory: `python -m core.localnet.programs.build [--check]`.

Each `<name>.c` is one program and builds to `<name>.so` next to it. The `.so` files are
committed, so running the product needs no compiler; `--check` rebuilds in memory and exits 1
when any committed `.so` differs (CI runs it through tests/localnet/programs/test_toolchain.py).

Builds are deterministic: fixed flags, no debug info, sources compiled by relative name from
this directory, and a linker whose output depends only on the object bytes.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from core.localnet.programs.linker import LinkError, link

PROGRAMS_DIR = Path(__file__).resolve().parent
INCLUDE_DIR = PROGRAMS_DIR / "include"

CFLAGS: tuple[str, ...] = (
    "-target",
    "bpfel",
    "-mcpu=v2",  # v3 emits 32-bit jumps the SBPFv0 verifier rejects
    "-O2",
    "-fno-builtin",
    "-ffreestanding",
    "-fno-stack-protector",
    "-g0",  # no debug info: nothing path- or machine-dependent reaches the object
    "-std=c11",
    "-Wall",
    "-Wextra",
    "-Wno-unused-parameter",
    # A misspelt call would otherwise be taken for a syscall; make it a compile error.
    "-Werror=implicit-function-declaration",
    "-Werror=int-conversion",
    "-Werror=incompatible-pointer-types",
    "-Werror=return-type",
    "-Iinclude",
)


class ToolchainMissing(RuntimeError):
    """clang is not installed, so programs cannot be rebuilt."""


class CompileError(RuntimeError):
    """clang rejected a program; carries clang's diagnostics."""


def find_clang() -> str:
    clang = shutil.which("clang")
    if clang is None:
        raise ToolchainMissing(
            "clang not found: install it (Debian: apt-get install -y clang) to rebuild the C programs; "
            "the committed .so files work without it"
        )
    return clang


def program_sources(directory: Path = PROGRAMS_DIR) -> list[Path]:
    return sorted(directory.glob("*.c"))


def compile_object(source: Path, out: Path, clang: str | None = None) -> None:
    """Compile one C file (relative to its directory, so no absolute path reaches the object)."""
    clang = clang or find_clang()
    proc = subprocess.run(
        [clang, *CFLAGS, "-c", source.name, "-o", str(out)],
        cwd=source.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise CompileError(f"clang failed on {source.name}:\n{proc.stderr}")
    if proc.stderr:
        print(proc.stderr, end="", file=sys.stderr)  # warnings: shown, not fatal


def build_program(source: Path, clang: str | None = None) -> bytes:
    """The .so bytes for one program source."""
    with tempfile.TemporaryDirectory(prefix="arbtui-sbf-") as tmp:
        obj = Path(tmp) / (source.stem + ".o")
        compile_object(source, obj, clang)
        return link([obj.read_bytes()], [source.name])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.localnet.programs.build", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="compare fresh builds with the committed .so files"
    )
    parser.add_argument("programs", nargs="*", help="program names (default: every *.c here)")
    parser.add_argument("--dir", type=Path, default=PROGRAMS_DIR, help=argparse.SUPPRESS)  # for tests
    args = parser.parse_args(argv)

    try:
        clang = find_clang()
    except ToolchainMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sources = program_sources(args.dir)
    if args.programs:
        wanted = set(args.programs)
        unknown = wanted - {s.stem for s in sources}
        if unknown:
            print(f"error: no such program: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        sources = [s for s in sources if s.stem in wanted]

    failed = False
    for source in sources:
        target = source.with_suffix(".so")
        try:
            so = build_program(source, clang)
        except (CompileError, LinkError) as exc:
            print(f"error: {source.name}: {exc}", file=sys.stderr)
            failed = True
            continue
        if args.check:
            if not target.exists():
                print(f"{target.name}: not built (run python -m core.localnet.programs.build)")
                failed = True
            elif target.read_bytes() != so:
                print(f"{target.name}: differs from a fresh build of {source.name}")
                failed = True
            else:
                print(f"{target.name}: up to date ({len(so)} bytes)")
        else:
            if not target.exists() or target.read_bytes() != so:
                target.write_bytes(so)
            print(f"{target.name}: {len(so)} bytes")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
