"""Shared by the toolchain tests: clang-or-skip (never skip in CI), building C snippets, sending."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.transaction import Transaction
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata

from core.localnet.programs.build import CFLAGS, INCLUDE_DIR
from core.localnet.programs.linker import link


def require_clang() -> str:
    """clang's path; skips without it, except in CI (CI=…), where a missing clang is a failure."""
    clang = shutil.which("clang")
    if clang is None:
        if os.environ.get("CI"):
            pytest.fail("clang is required in CI (the .ci/run script installs it)")
        pytest.skip("clang not installed: C programs cannot be rebuilt here (CI always rebuilds them)")
    return clang


def compile_c(source: str, name: str = "snippet.c") -> bytes:
    """Compile C source text with the project's flags (sol.h on the include path) to an object."""
    import subprocess

    clang = require_clang()
    flags = [f"-I{INCLUDE_DIR}" if f == "-Iinclude" else f for f in CFLAGS]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / name
        src.write_text(source)
        obj = src.with_suffix(".o")
        proc = subprocess.run(
            [clang, *flags, "-c", src.name, "-o", obj.name],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise AssertionError(f"clang failed:\n{proc.stderr}")
        return obj.read_bytes()


def build_c(source: str, name: str = "snippet.c") -> bytes:
    return link([compile_c(source, name)], [name])


def send(
    svm: LiteSVM, payer: Keypair, *ixs: Instruction, signers: tuple[Keypair, ...] = ()
) -> TransactionMetadata | FailedTransactionMetadata:
    """Send one transaction and roll the blockhash so an identical next one is not a duplicate."""
    tx = Transaction([payer, *signers], Message(list(ixs), payer.pubkey()), svm.latest_blockhash())
    result = svm.send_transaction(tx)
    svm.expire_blockhash()
    return result


def meta_of(result: TransactionMetadata | FailedTransactionMetadata) -> TransactionMetadata:
    return result.meta() if isinstance(result, FailedTransactionMetadata) else result
