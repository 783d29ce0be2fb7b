"""`arbtui localnet`: the local cluster standalone, in the foreground, like a test validator.

Starts the JSON-RPC server (and PubSub, the local Jito block engine and the noise traders, when
those modules are present), prints the endpoints, and stops cleanly on Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

from core.localnet.cluster import Cluster, optional_module
from core.localnet.faults import Faults, FaultSpecError
from core.localnet.rpc_server import RpcServer

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--rpc-port", type=int, default=8899, help="JSON-RPC port (default 8899)")
    parser.add_argument("--ws-port", type=int, default=8900, help="PubSub websocket port (default 8900)")
    parser.add_argument("--block-engine-port", type=int, default=8901,
                        help="local Jito block engine port (default 8901); regions /ny, /frankfurt, /tokyo")
    parser.add_argument("--no-block-engine", action="store_true", help="do not start the block engine")
    parser.add_argument("--be-rate-limit", type=float, default=1.0, metavar="RPS",
                        help="block engine requests/s per region per client IP (default 1; 0 = no limit)")
    parser.add_argument("--be-auth-uuid", action="append", default=[], metavar="UUID",
                        help="an x-jito-auth UUID that gets --be-auth-rate-limit (repeatable)")
    parser.add_argument("--be-auth-rate-limit", type=float, default=10.0, metavar="RPS",
                        help="rate limit of a known x-jito-auth UUID (default 10)")
    parser.add_argument("--competitors", type=int, default=3,
                        help="competing searchers (default 3; 0 = none)")
    parser.add_argument("--competitor-aggressiveness", type=float, default=0.5,
                        help="mean share of profit the searchers tip (default 0.5)")
    parser.add_argument("--competitor-skill", type=float, default=0.7,
                        help="probability a searcher spots an opportunity (default 0.7)")
    parser.add_argument("--seed", type=int, default=0, help="genesis scenario seed (default 0)")
    parser.add_argument("--slot-ms", type=float, default=400.0, help="slot duration in ms (default 400)")
    parser.add_argument("--ledger", type=Path, default=None, help="record every landed transaction here")
    parser.add_argument("--replay", type=Path, default=None, metavar="LEDGER",
                        help="re-execute a recorded ledger on a fresh cluster of its seed, print the final "
                        "state digest and exit (nothing is served)")
    parser.add_argument("--store-dir", type=Path, default=None,
                        help="where the operator keypair lives (default: the config's store.dir)")
    parser.add_argument("--no-traders", action="store_true", help="do not start the noise traders")
    parser.add_argument("--fault", action="append", default=[], metavar="K=V",
                        help=f"fault knob, repeatable; knobs: {', '.join(Faults.knob_names())}")


def replay_ledger(path: Path, store_dir: Path | None) -> int:
    """`--replay`: the same transactions on the same genesis must give the same state, bit for bit."""
    from core.localnet.ledger import LedgerError, read_ledger, replay

    try:
        _, lines = read_ledger(path)
        hashes = replay(path, store_dir=store_dir)
    except (LedgerError, OSError) as exc:
        print(f"arbtui localnet: {exc}", file=sys.stderr)
        return 2
    digest = hashlib.sha256("".join(f"{k}={v}\n" for k, v in sorted(hashes.items())).encode()).hexdigest()
    txs = sum(1 for line in lines if line.get("type") != "slot")
    print(f"replayed {txs} transactions; {len(hashes)} accounts; state digest {digest}")
    return 0


def build_faults(specs: list[str]) -> Faults:
    faults = Faults()
    for spec in specs:
        faults.set_from_spec(spec)
    return faults


def build_block_engine_config(args: argparse.Namespace) -> Any:
    """The block engine's config from the CLI options (defaults for options a caller left out)."""
    from core.localnet.block_engine import BlockEngineConfig, CompetitorConfig

    rate = getattr(args, "be_rate_limit", 1.0)
    count = getattr(args, "competitors", 3)
    competitors = CompetitorConfig(
        count=count,
        aggressiveness=getattr(args, "competitor_aggressiveness", 0.5),
        skill=getattr(args, "competitor_skill", 0.7),
        seed=getattr(args, "seed", 0),
    ) if count > 0 else None
    return BlockEngineConfig(
        rate_limit_per_s=rate if rate > 0 else None,
        auth_uuids=frozenset(getattr(args, "be_auth_uuid", [])),
        auth_rate_limit_per_s=getattr(args, "be_auth_rate_limit", 10.0),
        competitors=competitors,
        seed=getattr(args, "seed", 0),
    )


def run(args: argparse.Namespace) -> int:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        faults = build_faults(args.fault)
    except FaultSpecError as exc:
        print(f"arbtui localnet: {exc}", file=sys.stderr)
        return 2
    store_dir = args.store_dir
    app_config = getattr(args, "app_config", None)
    if store_dir is None and app_config is not None:
        store_dir = app_config.store.dir
    if getattr(args, "replay", None) is not None:
        return replay_ledger(args.replay, store_dir)
    try:
        return asyncio.run(_serve(args, faults, store_dir))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        print(f"arbtui localnet: {exc}", file=sys.stderr)
        return 1


async def _serve(args: argparse.Namespace, faults: Faults, store_dir: Path | None) -> int:
    started = time.perf_counter()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    cluster = Cluster(seed=args.seed, slot_ms=args.slot_ms, store_dir=store_dir, faults=faults,
                      ledger_path=args.ledger)
    rpc = RpcServer(cluster, args.host, args.rpc_port, faults)
    pubsub: Any = None
    engine: Any = None
    be_server: Any = None
    traders: Any = None
    traders_task: asyncio.Task[None] | None = None
    try:
        # RPC first so getHealth answers "unhealthy" while genesis loads, then "ok".
        await rpc.start()
        await cluster.start()
        pubsub_module = optional_module("core.localnet.pubsub")
        if pubsub_module is not None and hasattr(pubsub_module, "PubSubServer"):
            pubsub = pubsub_module.PubSubServer(cluster, args.host, args.ws_port, faults)
            await pubsub.start()
        else:
            log.warning("core.localnet.pubsub not available: no websocket endpoint")
        block_engine = optional_module("core.localnet.block_engine")
        if getattr(args, "no_block_engine", False):
            pass
        elif block_engine is not None and hasattr(block_engine, "BlockEngineServer"):
            engine = block_engine.BlockEngine(cluster, build_block_engine_config(args), faults)
            await engine.start()
            be_server = block_engine.BlockEngineServer(engine, args.host, args.block_engine_port)
            try:
                await be_server.start()
            except OSError as exc:  # the cluster is still useful without bundles
                log.error("block engine not started on port %s: %s", args.block_engine_port, exc)
                await be_server.stop()
                be_server = None
        else:
            log.warning("core.localnet.block_engine not available: no block engine")
        simulator = optional_module("core.localnet.simulator")
        if not args.no_traders and simulator is not None and cluster.scenario is not None and hasattr(
            simulator, "start_simulator"
        ) and not isinstance(cluster.scenario, dict):
            traders, traders_task = simulator.start_simulator(
                rpc.url, cluster.scenario, trader_flow(args, simulator), args.seed
            )
        _print_endpoints(args, rpc, pubsub, cluster, time.perf_counter() - started, be_server)
        await stop.wait()
        return 0
    finally:
        if traders is not None:
            traders.stop()
        if traders_task is not None:
            traders_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await traders_task
        if be_server is not None:
            await be_server.stop()
        if engine is not None:
            await engine.stop()
        if pubsub is not None:
            await pubsub.stop()
        await rpc.stop()
        await cluster.stop()
        print("arbtui localnet: stopped", flush=True)


def trader_flow(args: argparse.Namespace, simulator: Any) -> Any:
    """The noise traders' Flow: they trade once per slot, so their clock is --slot-ms too."""
    return simulator.Flow(slot_ms=args.slot_ms)


def _print_endpoints(args: argparse.Namespace, rpc: RpcServer, pubsub: Any, cluster: Cluster,
                     elapsed: float, be_server: Any = None) -> None:
    ws = f"ws://{args.host}:{pubsub.port}" if pubsub is not None else "(not available)"
    if be_server is not None:
        regions = ", ".join(f"/{r.name}" for r in be_server.engine.config.regions if r.name != "default")
        engine_line = f"{be_server.url}/api/v1 (regions: {regions}, e.g. {be_server.region_url('ny')})"
    else:
        engine_line = "(not running)"
    lines = [
        f"arbtui localnet ready in {elapsed:.2f}s (seed {args.seed}, slot {args.slot_ms:g} ms)",
        f"  JSON RPC URL:   {rpc.url}",
        f"  WebSocket URL:  {ws}",
        f"  Block engine:   {engine_line}",
        f"  Genesis hash:   {cluster.genesis_hash}",
        f"  Identity:       {cluster.identity}",
    ]
    operator = getattr(cluster.scenario, "wallet", None)
    if operator is None and isinstance(cluster.scenario, dict):
        operator = cluster.scenario.get("operator")
    if operator is not None:
        lines.append(f"  Operator:       {operator}")
    if args.ledger is not None:
        lines.append(f"  Ledger:         {args.ledger}")
    print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.localnet", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))
