"""The local cluster's on-chain programs: C sources here, built to committed `.so` files.

`PROGRAM_IDS` maps each program's name (its `<name>.c` / `<name>.so` file stem) to the
address it runs at; adding a program is one entry. `load_programs` puts them into a LiteSVM.

A registered program whose `.so` is not built yet is skipped when loading *all* programs (so
a program can be registered before its first build lands without breaking everyone else) but
is an error when asked for by name, so a test never runs against a program that is not there.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey

from core.protocols import ids

PROGRAMS_DIR = Path(__file__).resolve().parent

PROGRAM_IDS: dict[str, Pubkey] = {
    "profit_guard": ids.PROFIT_GUARD,
    "cpi_relay": ids.CPI_RELAY,
    "raydium_amm": ids.RAYDIUM_AMM_V4,
    "solend": ids.SOLEND,
    "whirlpool": ids.ORCA_WHIRLPOOL,
    "marginfi": ids.MARGINFI_V2,
    "kamino": ids.KAMINO_LEND,
}


class ProgramNotBuilt(FileNotFoundError):
    """A program was asked for by name but its .so is not in the tree."""


def so_path(name: str) -> Path:
    if name not in PROGRAM_IDS:
        raise KeyError(f"unknown program {name!r}; registered: {', '.join(sorted(PROGRAM_IDS))}")
    return PROGRAMS_DIR / f"{name}.so"


def program_bytes(name: str) -> bytes:
    path = so_path(name)
    if not path.exists():
        raise ProgramNotBuilt(f"{path.name} is not built: run python -m core.localnet.programs.build")
    return path.read_bytes()


def load_programs(svm: LiteSVM, names: Iterable[str] | None = None) -> list[str]:
    """Add programs to `svm` at their ids; returns the names loaded.

    `names=None` loads every registered program that is built; explicit names must all be built.
    """
    wanted = [n for n in PROGRAM_IDS if so_path(n).exists()] if names is None else list(names)
    for name in wanted:
        so = program_bytes(name)  # raises for an unknown or unbuilt name before touching svm
        svm.add_program(PROGRAM_IDS[name], so)
    return wanted
