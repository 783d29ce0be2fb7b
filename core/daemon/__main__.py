"""`python -m core.daemon`: the background engine for one store dir (started by `core.daemon.process`).

The effective configuration arrives as JSON in the environment (ENGINE_CONFIG_ENV), so the
engine runs exactly the configuration of the command that started it, with no file to leave behind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys

from core.config import AppConfig
from core.daemon.host import host_engine, load_factory
from core.daemon.lock import EngineLock, EngineLocked
from core.logs import configure_logging

ENGINE_CONFIG_ENV = "ARBTUI_ENGINE_CONFIG"
EXIT_LOCKED = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.daemon")
    parser.add_argument("--factory", help="module:callable building the engine host (tests)")
    parser.add_argument("--no-cluster", action="store_true", help="do not start the local cluster")
    args = parser.parse_args(argv)
    raw = os.environ.pop(ENGINE_CONFIG_ENV, None)
    if raw is None:
        print(f"core.daemon: {ENGINE_CONFIG_ENV} is not set", file=sys.stderr)
        return 2
    config = AppConfig.model_validate(json.loads(raw))
    configure_logging(config.store.dir)
    for name in ("httpx", "httpx2"):
        logging.getLogger(name).setLevel(logging.WARNING)
    lock = EngineLock(config.store.dir)
    try:
        lock.acquire()
    except EngineLocked as exc:
        print(f"core.daemon: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    factory = load_factory(args.factory) if args.factory else None
    try:
        return asyncio.run(host_engine(config, factory=factory, start_cluster=not args.no_cluster, lock=lock))
    except Exception:
        logging.getLogger("core.daemon").exception("engine failed")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
