"""`python -m core.daemon`: the background engine for one store dir (started by `core.daemon.process`).

The effective configuration arrives as JSON on stdin (secrets included, so never in argv, the
environment or a file), so the engine runs exactly the configuration of the command that started it.
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
from core.logs import ENGINE_LOG_FILE_NAME, configure_logging

EXIT_LOCKED = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.daemon")
    parser.add_argument("--factory", help="module:callable building the engine host (tests)")
    parser.add_argument("--no-cluster", action="store_true", help="do not start the local cluster")
    args = parser.parse_args(argv)
    raw = sys.stdin.read()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # nothing else will come from the starter
    os.close(devnull)
    try:
        config = AppConfig.model_validate(json.loads(raw))
    except ValueError as exc:  # json.JSONDecodeError and pydantic's ValidationError both
        print(f"core.daemon: no valid configuration on stdin: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.store.dir, file_name=ENGINE_LOG_FILE_NAME)
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
