"""`arbtui localnet`: the local cluster standalone, in the foreground, like a test validator.

Starts the JSON-RPC server (and PubSub, and the noise traders, when those modules are present),
prints the endpoints, and stops cleanly on Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
                        help="block engine port (default 8901; reserved for the block engine)")
    parser.add_argument("--seed", type=int, default=0, help="genesis scenario seed (default 0)")
    parser.add_argument("--slot-ms", type=float, default=400.0, help="slot duration in ms (default 400)")
    parser.add_argument("--ledger", type=Path, default=None, help="record every landed transaction here")
    parser.add_argument("--store-dir", type=Path, default=None,
                        help="where the operator keypair lives (default: the config's store.dir)")
    parser.add_argument("--no-traders", action="store_true", help="do not start the noise traders")
    parser.add_argument("--fault", action="append", default=[], metavar="K=V",
                        help=f"fault knob, repeatable; knobs: {', '.join(Faults.knob_names())}")


def build_faults(specs: list[str]) -> Faults:
    faults = Faults()
    for spec in specs:
        faults.set_from_spec(spec)
    return faults


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
        simulator = optional_module("core.localnet.simulator")
        if not args.no_traders and simulator is not None and cluster.scenario is not None and hasattr(
            simulator, "start_simulator"
        ) and not isinstance(cluster.scenario, dict):
            traders, traders_task = simulator.start_simulator(
                rpc.url, cluster.scenario, trader_flow(args, simulator), args.seed
            )
        _print_endpoints(args, rpc, pubsub, cluster, time.perf_counter() - started)
        await stop.wait()
        return 0
    finally:
        if traders is not None:
            traders.stop()
        if traders_task is not None:
            traders_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await traders_task
        if pubsub is not None:
            await pubsub.stop()
        await rpc.stop()
        await cluster.stop()
        print("arbtui localnet: stopped", flush=True)


def trader_flow(args: argparse.Namespace, simulator: Any) -> Any:
    """The noise traders' Flow: they trade once per slot, so their clock is --slot-ms too."""
    return simulator.Flow(slot_ms=args.slot_ms)


def _print_endpoints(args: argparse.Namespace, rpc: RpcServer, pubsub: Any, cluster: Cluster,
                     elapsed: float) -> None:
    ws = f"ws://{args.host}:{pubsub.port}" if pubsub is not None else "(not available)"
    lines = [
        f"arbtui localnet ready in {elapsed:.2f}s (seed {args.seed}, slot {args.slot_ms:g} ms)",
        f"  JSON RPC URL:   {rpc.url}",
        f"  WebSocket URL:  {ws}",
        f"  Block engine:   port {args.block_engine_port} (not served yet)",
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
