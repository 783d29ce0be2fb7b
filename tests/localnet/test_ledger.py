"""`--ledger`: what landed is recorded, and a replay against a fresh genesis ends in the same state."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Processed
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.signature import Signature

from core.localnet.cluster import Cluster
from core.localnet.faults import Faults
from core.localnet.genesis import build_genesis
from core.localnet.ledger import (
    LedgerError,
    account_hash,
    account_hashes,
    read_ledger,
    replay,
    replay_async,
)
from core.localnet.rpc_server import RpcServer
from core.localnet.simulator import Flow, start_simulator
from core.protocols import ids

WAIT = 60.0


async def _wait_for(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _recorded_run(path: Path, seed: int, swaps: int) -> Cluster:
    cluster = Cluster(seed=seed, slot_ms=50, faults=Faults(seed=1), ledger_path=path)
    await cluster.start()
    rpc = RpcServer(cluster, "127.0.0.1", 0)
    await rpc.start()
    try:
        traders, task = start_simulator(rpc.url, cluster.scenario, Flow(slot_ms=50, trades_per_slot=5))
        async with AsyncClient(rpc.url) as client:
            await client.request_airdrop(Keypair().pubkey(), 3 * 10**9, Processed)
        await _wait_for(lambda: cluster.transaction_count >= swaps, f"{swaps} landed transactions")
        traders.stop()
        await task
    finally:
        await rpc.stop()
        await cluster.stop()
    return cluster


async def test_replaying_a_recorded_run_reproduces_every_pool_and_vault_exactly(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    cluster = await _recorded_run(path, seed=21, swaps=80)
    header, lines = read_ledger(path)
    assert header["seed"] == 21
    txs = [line for line in lines if line["type"] == "tx"]
    assert len(txs) == cluster.transaction_count
    slots = [line["slot"] for line in txs]
    assert slots == sorted(slots)
    for line in txs:
        record = cluster.transaction(Signature.from_string(line["signature"]))
        assert base64.b64decode(line["tx"]) == bytes(record.tx) and line["slot"] == record.slot
    for prev, cur in itertools.pairwise(txs):
        assert cur["index"] == (prev["index"] + 1 if cur["slot"] == prev["slot"] else 0)

    replayed = await replay_async(path)
    live = account_hashes(cluster.get_account, [Pubkey.from_string(k) for k in replayed])
    assert replayed == live
    pools = cluster.scenario.raydium_pools
    genesis = _genesis_hashes(21, [p.coin_vault for p in pools])
    moved = [p for p in pools if replayed[str(p.coin_vault)] != genesis[p.coin_vault]]
    assert len(moved) >= 5  # the run really changed the pools it is compared on
    for p in pools:
        for key in (p.address, p.coin_vault, p.pc_vault):
            assert replayed[str(key)] == live[str(key)]


async def test_replay_against_another_seed_does_not_reproduce_the_run(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    await _recorded_run(path, seed=22, swaps=10)
    with pytest.raises(LedgerError):
        await replay_async(path, seed=23)  # its pools are elsewhere: the first swap cannot land


def test_replay_works_outside_an_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_text(json.dumps({"type": "genesis", "version": 1, "seed": 4, "wallet": None}) + "\n")
    hashes = replay(path)
    assert hashes and all(isinstance(v, str) for v in hashes.values())


@pytest.mark.parametrize(
    "content",
    [
        "",
        "not json\n",
        '{"type": "tx", "slot": 1}\n',
        '{"type": "genesis", "version": 99, "seed": 1}\n',
        '{"type": "genesis", "version": 1, "seed": 1}\n{"type": "genesis", "version": 1, "seed": 1}\n',
        '{"type": "genesis", "version": 1, "seed": 1}\n{"type": "weird"}\n',
    ],
)
def test_a_malformed_ledger_is_a_ledger_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(LedgerError):
        read_ledger(path)


async def test_a_ledger_with_a_corrupt_transaction_is_a_ledger_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        json.dumps({"type": "genesis", "version": 1, "seed": 1}) + "\n"
        + json.dumps({"type": "tx", "slot": 2, "index": 0, "signature": "x", "tx": "!!notbase64"}) + "\n"
    )
    with pytest.raises(LedgerError):
        await replay_async(path)


def _genesis_hashes(seed: int, keys: list[Pubkey]) -> dict[Pubkey, str]:
    svm = LiteSVM()
    build_genesis(svm, seed, None)
    return {k: account_hash(svm.get_account(k)) for k in keys}


def test_native_mint_is_part_of_what_replay_hashes(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_text(json.dumps({"type": "genesis", "version": 1, "seed": 4, "wallet": None}) + "\n")
    assert str(ids.NATIVE_MINT) in replay(path)


async def test_replay_refuses_a_genesis_whose_operator_wallet_differs(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_text(json.dumps({"type": "genesis", "version": 1, "seed": 4,
                                "wallet": str(Keypair().pubkey())}) + "\n")
    with pytest.raises(LedgerError, match="store dir"):
        await replay_async(path)


async def test_localnet_replay_command_prints_the_same_digest_as_the_recorded_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import hashlib

    from core.localnet.cli import main as localnet_main

    path = tmp_path / "ledger.jsonl"
    cluster = await _recorded_run(path, seed=3, swaps=4)
    keys = [Pubkey.from_string(k) for k in await replay_async(path)]
    live = account_hashes(cluster.get_account, keys)
    digest = hashlib.sha256("".join(f"{k}={v}\n" for k, v in sorted(live.items())).encode()).hexdigest()
    assert await asyncio.to_thread(localnet_main, ["--replay", str(path)]) == 0
    assert f"{len(keys)} accounts; state digest {digest}" in capsys.readouterr().out
    path.write_text("not json\n")
    assert await asyncio.to_thread(localnet_main, ["--replay", str(path)]) == 2
