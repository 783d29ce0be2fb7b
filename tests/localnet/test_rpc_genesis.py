"""The same seed gives the same genesis; the hash and accounts say so over RPC."""

from __future__ import annotations

from core.protocols import ids
from tests.localnet.conftest import start_localnet, stop_localnet
from tests.localnet.rpc_helpers import rpc


async def _snapshot(seed: int) -> tuple[str, list[object]]:
    net = await start_localnet(seed=seed)
    try:
        genesis = (await rpc(net.url, "getGenesisHash"))["result"]
        accounts = []
        for program in (ids.TOKEN_PROGRAM, ids.RAYDIUM_AMM_V4, ids.SOLEND):
            reply = await rpc(net.url, "getProgramAccounts", [str(program), {"encoding": "base64"}])
            accounts.append(reply["result"])
        return genesis, accounts
    finally:
        await stop_localnet(net)


async def test_same_seed_gives_same_genesis_hash_and_accounts() -> None:
    first = await _snapshot(11)
    second = await _snapshot(11)
    assert first == second
    assert first[1][0], "genesis holds at least the native mint"


async def test_different_seed_gives_different_genesis_hash() -> None:
    assert (await _snapshot(11))[0] != (await _snapshot(12))[0]
