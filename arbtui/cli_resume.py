"""`arbtui resume`: resume the store dir's background engine; `--reset` clears a tripped kill switch.

A killed engine (a `[risk]` threshold, or the K key) stays killed across restarts until an operator
resets it here, saying why; who (`--by`, default the OS user) and why are persisted with the reset.
Without `--reset` this resumes a paused engine only, as the console's `p` does.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path

from arbtui.cli import EXIT_FAILURE, EXIT_OK, Handler, subcommand
from core.config import AppConfig

EXIT_NOT_RUNNING = 3


@subcommand("resume", "resume the engine; --reset clears a tripped kill switch (who and why kept)")
def _resume(parser: argparse.ArgumentParser) -> Handler:
    parser.add_argument("--reset", action="store_true",
                        help="clear a tripped kill switch (needs --reason); without it only a pause lifts")
    parser.add_argument("--reason", default="", help="why the kill switch may be cleared (recorded)")
    parser.add_argument("--by", default="", help="who resets it (recorded; default: the OS user)")

    def run(args: argparse.Namespace, config: AppConfig) -> int:
        if args.reset and not args.reason.strip():
            print("arbtui resume: --reset needs --reason WHY (recorded with the reset)", file=sys.stderr)
            return EXIT_FAILURE
        by = args.by.strip() or f"{getpass.getuser()} (arbtui resume)"
        return asyncio.run(resume_engine(config.store.dir, reset=args.reset, by=by, reason=args.reason))

    return run


async def resume_engine(store_dir: Path, *, reset: bool, by: str, reason: str) -> int:
    from core.daemon.client import CommandFailed, EngineClient, EngineUnavailable

    try:
        client = await EngineClient.connect(store_dir)
    except EngineUnavailable as exc:
        print(f"arbtui resume: no engine answers for {store_dir} ({exc}); start it (a killed engine "
              "comes back killed), then resume it", file=sys.stderr)
        return EXIT_NOT_RUNNING
    try:
        before = client.state
        try:
            await client.resume(reset=reset, by=by, reason=reason)
        except CommandFailed as exc:
            print(f"arbtui resume: {exc.reason}", file=sys.stderr)
            return EXIT_FAILURE
        status = await client.engine_status()
    finally:
        await client.close()
    after = str(status.get("state", "?"))
    if after == "running":
        print(f"engine {before} → running" + (f" (reset by {by}: {reason})" if before == "killed" else ""))
        return EXIT_OK
    why = f": {status['reason']}" if status.get("reason") else ""
    print(f"engine still {after}{why}", file=sys.stderr)
    return EXIT_FAILURE
