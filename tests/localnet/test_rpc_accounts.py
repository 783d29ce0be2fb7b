"""Account reads over the local cluster's JSON-RPC: encodings, slices, filters, commitment views."""

from __future__ import annotations

import base64

import base58
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed, Processed
from solana.rpc.models import DataSliceOpts, MemcmpOpts, TokenAccountOpts
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from core.localnet.accounts import set_data_account, set_mint, set_token_account
from core.protocols import ids
from tests.localnet.conftest import Localnet
from tests.localnet.rpc_helpers import LAMPORTS_PER_SOL, freeze_clock, rpc

OWNER_PROGRAM = Pubkey.from_string("Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo")


def make_token_fixture(localnet: Localnet) -> tuple[Pubkey, Pubkey, Pubkey]:
    """A 6-decimal mint and one holder account with 1.5 tokens, written straight into the cluster."""
    mint, holder, owner = Keypair().pubkey(), Keypair().pubkey(), Keypair().pubkey()
    set_mint(localnet.cluster.svm, mint, 6, supply=10_000_000)
    set_token_account(localnet.cluster.svm, holder, mint, owner, 1_500_000)
    return mint, holder, owner


async def test_get_account_info_encodings(localnet: Localnet) -> None:
    key = Keypair().pubkey()
    data = bytes(range(100))
    set_data_account(localnet.cluster.svm, key, OWNER_PROGRAM, data)
    plain = (await rpc(localnet.url, "getAccountInfo", [str(key), {"commitment": "processed"}]))["result"]
    assert plain["value"]["data"] == base58.b58encode(data).decode()  # default is legacy "binary"
    assert plain["context"]["apiVersion"]
    b58 = await rpc(
        localnet.url, "getAccountInfo", [str(key), {"encoding": "base58", "commitment": "processed"}]
    )
    assert b58["result"]["value"]["data"] == [base58.b58encode(data).decode(), "base58"]
    b64 = await rpc(
        localnet.url, "getAccountInfo", [str(key), {"encoding": "base64", "commitment": "processed"}]
    )
    value = b64["result"]["value"]
    assert value["data"] == [base64.b64encode(data).decode(), "base64"]
    assert value["owner"] == str(OWNER_PROGRAM) and value["space"] == 100 and value["executable"] is False
    missing = await rpc(localnet.url, "getAccountInfo", [str(Keypair().pubkey()), {"encoding": "base64"}])
    assert missing["result"]["value"] is None


async def test_base58_over_128_bytes_is_refused_like_agave(localnet: Localnet) -> None:
    key = Keypair().pubkey()
    set_data_account(localnet.cluster.svm, key, OWNER_PROGRAM, bytes(129))
    reply = await rpc(
        localnet.url, "getAccountInfo", [str(key), {"encoding": "base58", "commitment": "processed"}]
    )
    assert reply["error"] == {
        "code": -32600,
        "message": "Encoded binary (base 58) data should be less than 128 bytes, please use Base64 encoding.",
    }
    sliced = await rpc(
        localnet.url,
        "getAccountInfo",
        [
            str(key),
            {"encoding": "base58", "commitment": "processed", "dataSlice": {"offset": 0, "length": 10}},
        ],
    )
    assert sliced["result"]["value"]["data"] == [base58.b58encode(bytes(10)).decode(), "base58"]


async def test_data_slice_returns_the_requested_window(localnet: Localnet, client: AsyncClient) -> None:
    key = Keypair().pubkey()
    set_data_account(localnet.cluster.svm, key, OWNER_PROGRAM, bytes(range(64)))
    info = await client.get_account_info(key, Processed, data_slice=DataSliceOpts(offset=8, length=4))
    assert info.value is not None and bytes(info.value.data) == bytes([8, 9, 10, 11])
    past_end = await client.get_account_info(key, Processed, data_slice=DataSliceOpts(offset=100, length=4))
    assert past_end.value is not None and bytes(past_end.value.data) == b""
    parsed = await rpc(
        localnet.url,
        "getAccountInfo",
        [str(key), {"encoding": "jsonParsed", "dataSlice": {"offset": 0, "length": 1}}],
    )
    assert parsed["error"]["code"] == -32600


async def test_json_parsed_token_account_and_mint(localnet: Localnet, client: AsyncClient) -> None:
    mint, holder, owner = make_token_fixture(localnet)
    reply = await rpc(
        localnet.url, "getAccountInfo", [str(holder), {"encoding": "jsonParsed", "commitment": "processed"}]
    )
    data = reply["result"]["value"]["data"]
    assert data["program"] == "spl-token" and data["space"] == 165
    assert data["parsed"]["type"] == "account"
    info = data["parsed"]["info"]
    assert info == {
        "isNative": False,
        "mint": str(mint),
        "owner": str(owner),
        "state": "initialized",
        "tokenAmount": {"uiAmount": 1.5, "decimals": 6, "amount": "1500000", "uiAmountString": "1.5"},
    }
    mint_reply = await rpc(
        localnet.url, "getAccountInfo", [str(mint), {"encoding": "jsonParsed", "commitment": "processed"}]
    )
    mint_info = mint_reply["result"]["value"]["data"]["parsed"]
    assert mint_info["type"] == "mint" and mint_info["info"]["decimals"] == 6
    assert mint_info["info"]["supply"] == "10000000"
    via_client = await client.get_account_info_json_parsed(holder, Processed)
    assert via_client.value is not None


async def test_token_balance_and_accounts_by_owner(localnet: Localnet, client: AsyncClient) -> None:
    mint, holder, owner = make_token_fixture(localnet)
    balance = (await client.get_token_account_balance(holder, Processed)).value
    assert balance.amount == "1500000" and balance.decimals == 6 and balance.ui_amount_string == "1.5"
    by_mint = (await client.get_token_accounts_by_owner(owner, TokenAccountOpts(mint=mint), Processed)).value
    assert [a.pubkey for a in by_mint] == [holder]
    by_program = (
        await client.get_token_accounts_by_owner(
            owner, TokenAccountOpts(program_id=ids.TOKEN_PROGRAM), Processed
        )
    ).value
    assert [a.pubkey for a in by_program] == [holder]
    not_token = await rpc(localnet.url, "getTokenAccountBalance", [str(mint), {"commitment": "processed"}])
    assert not_token["error"] == {"code": -32602, "message": "Invalid param: not a Token account"}
    unknown_mint = await rpc(
        localnet.url, "getTokenAccountsByOwner", [str(owner), {"mint": str(Keypair().pubkey())}]
    )
    assert unknown_mint["error"] == {"code": -32602, "message": "Invalid param: could not find mint"}


async def test_program_accounts_filters(localnet: Localnet, client: AsyncClient) -> None:
    program = Keypair().pubkey()
    a, b, c = (Keypair().pubkey() for _ in range(3))
    set_data_account(localnet.cluster.svm, a, program, b"\x01\x02\x03" + bytes(13))
    set_data_account(localnet.cluster.svm, b, program, b"\x01\x09\x09" + bytes(13))
    set_data_account(localnet.cluster.svm, c, program, b"\x01\x02\x03" + bytes(29))
    everything = (await client.get_program_accounts(program, Processed, encoding="base64")).value
    assert {x.pubkey for x in everything} == {a, b, c}
    sized = (await client.get_program_accounts(program, Processed, encoding="base64", filters=[16])).value
    assert {x.pubkey for x in sized} == {a, b}
    memcmp_b58 = MemcmpOpts(offset=1, bytes=base58.b58encode(b"\x02\x03").decode())
    both = (
        await client.get_program_accounts(program, Processed, encoding="base64", filters=[16, memcmp_b58])
    ).value
    assert [x.pubkey for x in both] == [a]
    reply = await rpc(
        localnet.url,
        "getProgramAccounts",
        [
            str(program),
            {
                "encoding": "base64",
                "commitment": "processed",
                "withContext": True,
                "filters": [
                    {
                        "memcmp": {
                            "offset": 1,
                            "bytes": base64.b64encode(b"\x09\x09").decode(),
                            "encoding": "base64",
                        }
                    }
                ],
            },
        ],
    )
    assert reply["result"]["context"]["slot"] >= 1
    assert [x["pubkey"] for x in reply["result"]["value"]] == [str(b)]
    too_many = await rpc(
        localnet.url, "getProgramAccounts", [str(program), {"filters": [{"dataSize": 1}] * 5}]
    )
    assert too_many["error"] == {"code": -32602, "message": "Too many filters provided; max 4"}
    bad_b58 = await rpc(
        localnet.url,
        "getProgramAccounts",
        [str(program), {"filters": [{"memcmp": {"offset": 0, "bytes": "0OIl"}}]}],
    )
    assert bad_b58["error"]["code"] == -32602 and bad_b58["error"]["message"].startswith(
        "Invalid param: Base58"
    )


async def test_min_context_slot_not_reached_is_32016(localnet: Localnet) -> None:
    ahead = localnet.cluster.slot + 10_000
    reply = await rpc(localnet.url, "getBalance", [str(Keypair().pubkey()), {"minContextSlot": ahead}])
    assert reply["error"]["code"] == -32016
    assert reply["error"]["message"] == "Minimum context slot has not been reached"
    assert reply["error"]["data"]["contextSlot"] <= localnet.cluster.slot
    ok = await rpc(
        localnet.url,
        "getBalance",
        [str(Keypair().pubkey()), {"commitment": "processed", "minContextSlot": 1}],
    )
    assert ok["result"]["value"] == 0


async def test_finalized_reads_lag_until_the_slot_is_rooted(localnet: Localnet, client: AsyncClient) -> None:
    kp = Keypair()
    await freeze_clock(localnet)
    for _ in range(40):
        localnet.cluster.advance_slot()
    sig = (await client.request_airdrop(kp.pubkey(), LAMPORTS_PER_SOL)).value
    landed = localnet.cluster.transaction(sig)
    assert landed is not None
    assert (await client.get_balance(kp.pubkey(), Processed)).value == LAMPORTS_PER_SOL
    assert (await client.get_balance(kp.pubkey(), Confirmed)).value == 0
    localnet.cluster.advance_slot()
    assert (await client.get_balance(kp.pubkey(), Confirmed)).value == LAMPORTS_PER_SOL
    finalized = await rpc(localnet.url, "getBalance", [str(kp.pubkey()), {"commitment": "finalized"}])
    assert finalized["result"]["value"] == 0
    while localnet.cluster.slot < landed.slot + 32:
        localnet.cluster.advance_slot()
    finalized = await rpc(localnet.url, "getBalance", [str(kp.pubkey()), {"commitment": "finalized"}])
    assert finalized["result"]["value"] == LAMPORTS_PER_SOL
    assert finalized["result"]["context"]["slot"] == landed.slot


async def test_multiple_accounts_caps_at_100(localnet: Localnet) -> None:
    keys = [str(Keypair().pubkey()) for _ in range(101)]
    reply = await rpc(localnet.url, "getMultipleAccounts", [keys])
    assert reply["error"] == {"code": -32602, "message": "Too many inputs provided; max 100"}
    ok = await rpc(localnet.url, "getMultipleAccounts", [keys[:3], {"commitment": "processed"}])
    assert ok["result"]["value"] == [None, None, None]


async def test_cluster_info_methods(localnet: Localnet, client: AsyncClient) -> None:
    assert (await rpc(localnet.url, "getHealth"))["result"] == "ok"
    assert (await client.get_genesis_hash()).value == localnet.cluster.genesis_hash
    assert (await client.get_identity()).value.identity == localnet.cluster.identity
    assert (await client.get_first_available_block()).value == 0
    assert (await client.get_minimum_balance_for_rent_exemption(165)).value == 2_039_280
    epoch = (await client.get_epoch_info(Processed)).value
    assert epoch.absolute_slot >= 1 and epoch.block_height == epoch.absolute_slot
    height = (await client.get_block_height(Processed)).value
    assert height >= epoch.block_height
