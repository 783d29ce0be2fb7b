"""The engine side of the process-kill crash test: a Submitter loop in its own process.

    python -m tests.execution.crash_child --rpc URL --regions JSON --store DIR --keypair FILE --trades N

Reconciles the store first (as the engine does on start-up), prints `ready`, then takes trades
0..N-1 that the store does not know yet, one at a time: a tipped one-off transfer (`trade_tx`), submitted
to every region, replaced with a fresh blockhash when retryable. Prints `done` after the last one.
The test SIGKILLs it at random moments and starts it again on the same store.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from pathlib import Path

import httpx
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import (
    CreateAccountWithSeedParams,
    TransferParams,
    create_account_with_seed,
    transfer,
)
from solders.transaction import VersionedTransaction

from core.config import RetryConfig, RiskConfig
from core.execution.jito_client import JitoClient
from core.execution.kill_switch import KillSwitch
from core.execution.lifecycle import Lifecycle
from core.execution.rpc import JsonRpc
from core.execution.submitter import Replacement, Submitter
from core.protocols import ids
from core.store import StoreReader, StoreWriter

RETRY = RetryConfig(max_attempts=3, base_delay_ms=10, max_delay_ms=50, fee_bump=1.5)
EXPECTED_PROFIT = 10**6


def trade_tx(payer: Keypair, index: int, tip: int, blockhash: Hash) -> VersionedTransaction:
    """Trade `index`: fund a per-trade account derived from the wallet, and tip.

    As two bundles for one arbitrage compete for the same pool state, the original and its
    replacement exclude each other: the account can be created once, so whichever lands second
    fails (atomically, nothing charged), as a flash arbitrage's second copy fails its guard."""
    owner = payer.pubkey()
    seed = f"trade-{index}"
    ixs = [
        create_account_with_seed(CreateAccountWithSeedParams(
            from_pubkey=owner, to_pubkey=Pubkey.create_with_seed(owner, seed, ids.SYSTEM_PROGRAM), base=owner,
            seed=seed, lamports=1_000_000 + index, space=0, owner=ids.SYSTEM_PROGRAM,
        )),
        transfer(TransferParams(from_pubkey=owner, to_pubkey=ids.JITO_TIP_ACCOUNTS[index % 8], lamports=tip)),
    ]
    return VersionedTransaction(MessageV0.try_compile(owner, ixs, [], blockhash), [payer])


async def run(args: argparse.Namespace) -> None:
    payer = Keypair.from_bytes(bytes(json.loads(Path(args.keypair).read_text())))
    store = Path(args.store)
    http = httpx.AsyncClient(timeout=10)
    writer = await StoreWriter.open(store, "live")
    kill = KillSwitch(RiskConfig(max_failure_rate=1.0, max_consecutive_failures=10_000), mode="live",
                      writer=writer)
    with StoreReader(store, "live") as reader:
        kill.load(reader)
    rpc = JsonRpc(http)
    submitter = Submitter(
        jito=JitoClient(json.loads(args.regions), http, rate_per_s=100.0),
        rpc=rpc, rpc_url=args.rpc, lifecycle=Lifecycle(writer), kill_switch=kill, retry=RETRY,
        wallet=payer.pubkey(), poll_interval_s=0.01,
    )
    await submitter.start()  # reconcile whatever the killed run left behind, before anything new
    with StoreReader(store, "live") as reader:
        known = {a.opportunity_id for a in reader.iter_attempts()}
    print("ready", flush=True)
    for index in range(args.trades):
        if str(index) in known:
            continue
        latest = await rpc.call(args.rpc, "getLatestBlockhash", [{"commitment": "confirmed"}])
        blockhash = Hash.from_string(latest["value"]["blockhash"])
        tip = 10_000 + index

        async def rebuild(r: Replacement, index: int = index) -> VersionedTransaction:
            return trade_tx(payer, index, r.tip_lamports, r.blockhash)

        outcome = await submitter.submit(
            trade_tx(payer, index, tip, blockhash), opportunity_id=str(index),
            expected_profit_lamports=EXPECTED_PROFIT, tip_lamports=tip,
            last_valid_block_height=int(latest["value"]["lastValidBlockHeight"]), rebuild=rebuild,
        )
        print(json.dumps({"trade": index, "state": outcome.state, "attempts": outcome.attempts}), flush=True)
    await submitter.drain()
    await submitter.close()
    await writer.close()
    await http.aclose()
    print("done", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rpc", required=True)
    parser.add_argument("--regions", required=True, help="JSON object: region name → base URL")
    parser.add_argument("--store", required=True)
    parser.add_argument("--keypair", required=True)
    parser.add_argument("--trades", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
