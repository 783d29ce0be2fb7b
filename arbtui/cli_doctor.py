"""`arbtui doctor`: one line per pre-flight check with ✓/✗ and a fix; exit 0 only when all pass."""

from __future__ import annotations

import argparse
import asyncio
import json

from arbtui.cli import EXIT_FAILURE, EXIT_OK, Handler, subcommand
from core.config import AppConfig, ConfigError


@subcommand("doctor", "pre-flight checks: RPC, websocket, block engines, tip accounts, wallet, store, clock")
def _doctor(parser: argparse.ArgumentParser) -> Handler:
    parser.add_argument("--json", action="store_true", help="machine-readable JSON")

    def run(args: argparse.Namespace, config: AppConfig) -> int:
        from core.doctor import diagnose

        checks = asyncio.run(diagnose(config))
        if args.json:
            print(json.dumps([c.to_json() for c in checks], indent=2, ensure_ascii=False))
        else:
            for check in checks:
                print(check.line())
        return EXIT_OK if all(c.ok for c in checks) else EXIT_FAILURE

    def config_error(args: argparse.Namespace, error: ConfigError) -> int:
        from core.doctor import Check

        fix = "correct the value where the line says it came from; the other checks need a valid config"
        checks = [Check("config", False, line, fix) for line in error.lines()]
        if args.json:
            print(json.dumps([c.to_json() for c in checks], indent=2, ensure_ascii=False))
        else:
            for check in checks:
                print(check.line())
        return EXIT_FAILURE

    run.config_error = config_error  # type: ignore[attr-defined]
    return run
