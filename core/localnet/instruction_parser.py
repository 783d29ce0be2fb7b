"""jsonParsed instructions as agave's `parse_instruction` shows them, for the programs arbitrage uses.

System (transfer, createAccount, assign, allocate), SPL Token (transfer / transferChecked,
initializeAccount 1-3, syncNative, closeAccount, approve, mintTo, burn), the Associated Token
Account program (create / createIdempotent) and Memo. Anything else — or a multisig form — is
left to the caller's partially decoded form, as agave does for programs it cannot parse.
Decoding uses solders' and solana-py's own instruction decoders.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import spl.token.instructions as token_ix
from solders import system_program
from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from core.localnet.token_balances import ui_token_amount
from core.protocols import ids

MEMO_V1 = Pubkey.from_string("Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo")

Decimals = Callable[[Pubkey], int | None]


def parse_instruction(
    program_id: Pubkey, accounts: list[Pubkey], data: bytes, decimals: Decimals
) -> dict[str, Any] | None:
    """`{"program", "programId", "parsed"}` or None when agave would not parse it either."""
    try:
        if program_id == ids.SYSTEM_PROGRAM:
            return _wrap("system", program_id, _system(program_id, accounts, data))
        if program_id == ids.TOKEN_PROGRAM:
            return _wrap("spl-token", program_id, _token(program_id, accounts, data, decimals))
        if program_id == ids.ASSOCIATED_TOKEN_PROGRAM:
            return _wrap("spl-associated-token-account", program_id, _ata(accounts, data))
        if program_id in (ids.MEMO_PROGRAM, MEMO_V1):
            return _wrap("spl-memo", program_id, data.decode("utf-8"))
    except (ValueError, IndexError, UnicodeDecodeError, struct.error):
        return None
    return None


def _wrap(program: str, program_id: Pubkey, parsed: Any) -> dict[str, Any] | None:
    if parsed is None:
        return None
    return {"program": program, "programId": str(program_id), "parsed": parsed}


def _instruction(program_id: Pubkey, accounts: list[Pubkey], data: bytes) -> Instruction:
    return Instruction(program_id, data, [AccountMeta(k, False, False) for k in accounts])


def _system(program_id: Pubkey, accounts: list[Pubkey], data: bytes) -> dict[str, Any] | None:
    if len(data) < 4:
        return None
    (kind,) = struct.unpack_from("<I", data)
    ix = _instruction(program_id, accounts, data)
    if kind == 0:
        p = system_program.decode_create_account(ix)
        info = {
            "source": p["from_pubkey"],
            "newAccount": p["to_pubkey"],
            "lamports": p["lamports"],
            "space": p["space"],
            "owner": p["owner"],
        }
        return {"info": _strs(info), "type": "createAccount"}
    if kind == 1:
        p = system_program.decode_assign(ix)
        return {"info": _strs({"account": p["pubkey"], "owner": p["owner"]}), "type": "assign"}
    if kind == 2:
        p = system_program.decode_transfer(ix)
        info = {"source": p["from_pubkey"], "destination": p["to_pubkey"], "lamports": p["lamports"]}
        return {"info": _strs(info), "type": "transfer"}
    if kind == 8:
        p = system_program.decode_allocate(ix)
        return {"info": _strs({"account": p["pubkey"], "space": p["space"]}), "type": "allocate"}
    return None


def _token(
    program_id: Pubkey, accounts: list[Pubkey], data: bytes, decimals: Decimals
) -> dict[str, Any] | None:
    if not data:
        return None
    kind = data[0]
    ix = _instruction(program_id, accounts, data)
    single = {3: 3, 4: 3, 7: 3, 8: 3, 9: 3, 12: 4}  # accounts before any multisig signers
    if kind in single and len(accounts) != single[kind]:
        return None  # the multisig form: leave it partially decoded
    if kind == 3:
        p = token_ix.decode_transfer(ix)
        info: dict[str, Any] = {
            "source": p.source,
            "destination": p.dest,
            "authority": p.owner,
            "amount": str(p.amount),
        }
        return {"info": _strs(info), "type": "transfer"}
    if kind == 12:
        p = token_ix.decode_transfer_checked(ix)
        info = _strs({"source": p.source, "mint": p.mint, "destination": p.dest, "authority": p.owner})
        info["tokenAmount"] = ui_token_amount(p.amount, p.decimals)
        return {"info": info, "type": "transferChecked"}
    if kind in (1, 16, 18):
        decode = {
            1: token_ix.decode_initialize_account,
            16: token_ix.decode_initialize_account2,
            18: token_ix.decode_initialize_account3,
        }[kind]
        p = decode(ix)
        info = _strs({"account": p.account, "mint": p.mint, "owner": p.owner})
        if kind in (1, 16):
            info["rentSysvar"] = str(accounts[3] if kind == 1 else accounts[2])
        name = {1: "initializeAccount", 16: "initializeAccount2", 18: "initializeAccount3"}[kind]
        return {"info": info, "type": name}
    if kind == 17:
        return {"info": {"account": str(token_ix.decode_sync_native(ix).account)}, "type": "syncNative"}
    if kind == 9:
        p = token_ix.decode_close_account(ix)
        return {
            "info": _strs({"account": p.account, "destination": p.dest, "owner": p.owner}),
            "type": "closeAccount",
        }
    if kind == 4:
        p = token_ix.decode_approve(ix)
        info = {"source": p.source, "delegate": p.delegate, "owner": p.owner, "amount": str(p.amount)}
        return {"info": _strs(info), "type": "approve"}
    if kind == 7:
        p = token_ix.decode_mint_to(ix)
        info = {"mint": p.mint, "account": p.dest, "mintAuthority": p.mint_authority, "amount": str(p.amount)}
        return {"info": _strs(info), "type": "mintTo"}
    if kind == 8:
        p = token_ix.decode_burn(ix)
        info = {"account": p.account, "mint": p.mint, "authority": p.owner, "amount": str(p.amount)}
        return {"info": _strs(info), "type": "burn"}
    return None


def _ata(accounts: list[Pubkey], data: bytes) -> dict[str, Any] | None:
    if data not in (b"", b"\x00", b"\x01") or len(accounts) < 6:
        return None
    names = ("source", "account", "wallet", "mint", "systemProgram", "tokenProgram")
    info = {name: str(key) for name, key in zip(names, accounts, strict=False)}
    return {"info": info, "type": "createIdempotent" if data == b"\x01" else "create"}


def _strs(info: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Pubkey) else v) for k, v in info.items()}
