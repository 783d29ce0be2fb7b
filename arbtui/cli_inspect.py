"""`arbtui inspect`: print a pool, tick array, token account, mint or Solend account decoded.

    arbtui inspect PUBKEY [--url URL] [--json]
    arbtui inspect --file ACCOUNT.json [--json]     # `solana account --output json` format

Exit codes: 0 decoded; 1 the account is unknown, missing or malformed for its kind;
2 the input could not be read (bad file, bad JSON, bad pubkey, RPC failure).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from arbtui.cli import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, Handler, subcommand
from core.config import AppConfig


@subcommand("inspect", "fetch an account (or read a JSON file) and print it decoded")
def _inspect(parser: argparse.ArgumentParser) -> Handler:
    parser.add_argument("pubkey", nargs="?", metavar="PUBKEY", help="account address (base58)")
    parser.add_argument("--url", metavar="URL", help="JSON-RPC endpoint (default: cluster.rpc_url)")
    parser.add_argument(
        "--file", type=Path, metavar="ACCOUNT.json", help="decode a `solana account --output json` file"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object with a `kind` field")

    def run(args: argparse.Namespace, config: AppConfig) -> int:
        return inspect_command(args.pubkey, args.file, args.url or config.cluster.rpc_url, as_json=args.json)

    return run


def inspect_command(pubkey: str | None, file: Path | None, url: str, *, as_json: bool) -> int:
    from core.inspect import (
        DecodeError,
        InspectError,
        UnknownAccountError,
        decode_account,
        fetch_account,
        load_account_file,
        parse_pubkey,
        render_text,
    )

    if (pubkey is None) == (file is None):
        return _fail("give either PUBKEY or --file ACCOUNT.json", EXIT_CONFIG)
    try:
        if file is not None:
            account = load_account_file(file)
        else:
            address = parse_pubkey(pubkey or "")
            fetched = asyncio.run(fetch_account(url, address))
            if fetched is None:
                return _fail(f"no account at {address} on {url}", EXIT_FAILURE)
            account = fetched
        inspected = decode_account(account)
    except InspectError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    except UnknownAccountError as exc:
        return _fail(str(exc), EXIT_FAILURE)
    except DecodeError as exc:
        return _fail(f"not a valid {exc.kind}: {exc}", EXIT_FAILURE)
    print(json.dumps(inspected.to_dict()) if as_json else render_text(inspected))
    return EXIT_OK


def _fail(message: str, code: int) -> int:
    print(f"arbtui inspect: {message}", file=sys.stderr)
    return code
