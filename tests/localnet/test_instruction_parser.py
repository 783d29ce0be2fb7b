"""jsonParsed instructions: the shapes agave's parsers give for the programs arbitrage uses."""

from __future__ import annotations

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from spl.token.instructions import create_idempotent_associated_token_account as create_ata
from spl.token.instructions import get_associated_token_address, sync_native, transfer, transfer_checked
from spl.token.models import SyncNativeParams, TransferCheckedParams, TransferParams

from core.localnet.instruction_parser import parse_instruction
from core.protocols import ids


def _parse(ix) -> dict | None:  # type: ignore[no-untyped-def]
    return parse_instruction(ix.program_id, [m.pubkey for m in ix.accounts], bytes(ix.data), lambda _: 6)


def test_token_transfer_checked_has_ui_token_amount() -> None:
    src, mint, dst, owner = (Keypair().pubkey() for _ in range(4))
    ix = transfer_checked(
        TransferCheckedParams(
            program_id=ids.TOKEN_PROGRAM,
            source=src,
            mint=mint,
            dest=dst,
            owner=owner,
            amount=1_250_000,
            decimals=6,
        )
    )
    assert _parse(ix) == {
        "program": "spl-token",
        "programId": str(ids.TOKEN_PROGRAM),
        "parsed": {
            "info": {
                "source": str(src),
                "mint": str(mint),
                "destination": str(dst),
                "authority": str(owner),
                "tokenAmount": {
                    "uiAmount": 1.25,
                    "decimals": 6,
                    "amount": "1250000",
                    "uiAmountString": "1.25",
                },
            },
            "type": "transferChecked",
        },
    }


def test_token_transfer_and_sync_native() -> None:
    src, dst, owner = (Keypair().pubkey() for _ in range(3))
    ix = transfer(TransferParams(program_id=ids.TOKEN_PROGRAM, source=src, dest=dst, owner=owner, amount=42))
    parsed = _parse(ix)
    assert parsed is not None and parsed["parsed"] == {
        "info": {"source": str(src), "destination": str(dst), "authority": str(owner), "amount": "42"},
        "type": "transfer",
    }
    sync = _parse(sync_native(SyncNativeParams(program_id=ids.TOKEN_PROGRAM, account=src)))
    assert sync is not None and sync["parsed"] == {"info": {"account": str(src)}, "type": "syncNative"}


def test_multisig_transfer_stays_partially_decoded() -> None:
    src, dst, owner, signer = (Keypair().pubkey() for _ in range(4))
    ix = transfer(
        TransferParams(
            program_id=ids.TOKEN_PROGRAM, source=src, dest=dst, owner=owner, amount=1, signers=[signer]
        )
    )
    assert _parse(ix) is None


def test_create_idempotent_ata() -> None:
    payer, wallet = Keypair().pubkey(), Keypair().pubkey()
    ix = create_ata(payer, wallet, ids.NATIVE_MINT)
    parsed = _parse(ix)
    assert parsed is not None and parsed["program"] == "spl-associated-token-account"
    assert parsed["parsed"]["type"] == "createIdempotent"
    assert parsed["parsed"]["info"]["account"] == str(get_associated_token_address(wallet, ids.NATIVE_MINT))
    assert parsed["parsed"]["info"]["wallet"] == str(wallet)


def test_memo_parses_to_its_text_and_unknown_programs_do_not_parse() -> None:
    assert parse_instruction(ids.MEMO_PROGRAM, [], b"gm", lambda _: None) == {
        "program": "spl-memo",
        "programId": str(ids.MEMO_PROGRAM),
        "parsed": "gm",
    }
    assert parse_instruction(Pubkey.new_unique(), [], b"\x01", lambda _: None) is None
    assert parse_instruction(ids.SYSTEM_PROGRAM, [], b"\x02", lambda _: None) is None
