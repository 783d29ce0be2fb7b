"""The `arbtui` command line.

Each subcommand is one function decorated with `@subcommand(name, help)`: it receives its own
argparse parser (already carrying the common `--config`, `--store-dir`, `--set` options), adds
its options, and returns the handler `(args, config) -> exit code`. Heavy imports (Textual, the
local cluster, the engine) happen inside handlers so `arbtui --help` stays instant.

Any ConfigError from any command prints one line per problem on stderr and exits 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core.config import AppConfig, ConfigError, ConfigProblem, load_config
from core.store import StoreError

Handler = Callable[[argparse.Namespace, AppConfig], int]
# A builder returns None only for a passthrough subcommand whose module cannot be loaded.
Builder = Callable[[argparse.ArgumentParser], Handler | None]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2

_SUBCOMMANDS: dict[str, tuple[str, Builder, bool]] = {}


def subcommand(name: str, help: str, *, passthrough: bool = False) -> Callable[[Builder], Builder]:
    """Register `builder` as `arbtui <name>`.

    `passthrough=True` leaves option parsing to the builder at run time (for subcommands whose
    options live in a lazily imported module, such as `localnet`).
    """

    def register(builder: Builder) -> Builder:
        _SUBCOMMANDS[name] = (help, builder, passthrough)
        return builder

    return register


def add_common_options(parser: argparse.ArgumentParser, *, suppress_defaults: bool = False) -> None:
    default = argparse.SUPPRESS if suppress_defaults else None
    group = parser.add_argument_group("common options")
    group.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        default=default,
        help="arb.toml to read (default: ./arb.toml, else ~/.config/arbtui/arb.toml, else built-in defaults)",
    )
    group.add_argument(
        "--store-dir",
        type=Path,
        metavar="PATH",
        default=default,
        help="directory for the trade store and logs",
    )
    group.add_argument(
        "--set",
        dest="settings",
        action="append",
        metavar="KEY=VALUE",
        default=default,
        help="override one setting, e.g. --set jito.tip_percent=7 "
        "(repeatable; VALUE is a TOML value or a string)",
    )


def config_from_args(args: argparse.Namespace) -> AppConfig:
    """Load the configuration the common options describe; raises ConfigError."""
    overrides: dict[str, Any] = {}
    labels: dict[str, str] = {}
    for item in getattr(args, "settings", None) or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError([ConfigProblem("--set", "expected KEY=VALUE", item)])
        overrides[key.strip()] = _parse_value(raw.strip())
        labels[key.strip()] = "cli --set"
    store_dir = getattr(args, "store_dir", None)
    if store_dir is not None:
        overrides["store.dir"] = str(store_dir)
        labels["store.dir"] = "cli --store-dir"
    return load_config(getattr(args, "config", None), overrides, cli_labels=labels)


def _parse_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arbtui",
        description="Operator console for Solana flash-loan arbitrage with Jito bundles. "
        "Without a subcommand, starts the console.",
    )
    add_common_options(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, builder, passthrough) in _SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text, add_help=not passthrough)
        if passthrough:
            sub.set_defaults(_builder=builder, _passthrough=True)
            continue
        add_common_options(sub, suppress_defaults=True)
        sub.set_defaults(_handler=builder(sub), _passthrough=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "_passthrough", False):
        # "resolve": the delegated module may define a common option itself (localnet has --store-dir).
        sub = argparse.ArgumentParser(
            prog=f"arbtui {args.command}",
            description=_SUBCOMMANDS[args.command][0],
            conflict_handler="resolve",
        )
        add_common_options(sub)
        handler = args._builder(sub)
        if handler is None:
            return EXIT_FAILURE
        args = sub.parse_args(extra, namespace=argparse.Namespace(command=args.command, **_common_of(args)))
    else:
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        handler = getattr(args, "_handler", None) or _SUBCOMMANDS["console"][1](argparse.ArgumentParser())
    try:
        config = config_from_args(args)
        return handler(args, config)
    except ConfigError as exc:
        # A command that reports a bad configuration its own way (doctor: a ✗ line) says so.
        own_report = getattr(handler, "config_error", None)
        if own_report is not None:
            return int(own_report(args, exc))
        for line in exc.lines():
            print(f"arbtui: config: {line}", file=sys.stderr)
        return EXIT_CONFIG
    except StoreError as exc:
        print(f"arbtui: store: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `arbtui config show | head`: the reader went away; say nothing more (Python's advice).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILURE


def _common_of(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k, None) for k in ("config", "store_dir", "settings")}


# ---------------------------------------------------------------- subcommands


@subcommand("console", "start the operator console (the default)")
def _console(parser: argparse.ArgumentParser) -> Handler:
    def run(args: argparse.Namespace, config: AppConfig) -> int:
        from arbtui.app import run_console

        return run_console(config)

    return run


@subcommand("config", "check or show the effective configuration")
def _config(parser: argparse.ArgumentParser) -> Handler:
    actions = parser.add_subparsers(dest="config_action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate the configuration; exit 2 naming each bad key")
    add_common_options(check, suppress_defaults=True)
    show = actions.add_parser("show", help="print the effective configuration and where each value came from")
    add_common_options(show, suppress_defaults=True)
    show.add_argument("--json", action="store_true", help="nested JSON (secrets redacted)")
    show.add_argument("--sources", action="store_true", help="list every key with the layer that set it")

    def run(args: argparse.Namespace, config: AppConfig) -> int:
        if args.config_action == "check":
            problem = live_wallet_problem(config)
            if problem:
                print(f"arbtui: config: {problem}", file=sys.stderr)
                return EXIT_CONFIG
            where = str(config.config_path) if config.config_path else "built-in defaults"
            print(f"config ok ({where})")
            return EXIT_OK
        if args.json:
            data: dict[str, Any] = config.to_json_dict()
            if args.sources:
                data = {"values": data, "sources": config.sources}
            print(json.dumps(data, indent=2))
            return EXIT_OK
        print(render_config_text(config, all_sources=args.sources))
        return EXIT_OK

    return run


def live_wallet_problem(config: AppConfig) -> str | None:
    """In live mode off localnet the keypair must load and be 0600; in dry-run it is never read."""
    if config.mode.dry_run or config.cluster.name == "localnet":
        return None
    from core.keypair import KeypairError, load_keypair

    try:
        load_keypair(config.wallet.keypair_path, for_live=True)
    except KeypairError as exc:
        return f"wallet.keypair: {exc.reason} (got {str(exc.path)!r})"
    return None


def render_config_text(config: AppConfig, *, all_sources: bool) -> str:
    """TOML-like listing; each value not from the defaults names its layer."""
    data = config.to_json_dict()
    where = str(config.config_path) if config.config_path else "none (built-in defaults)"
    lines = [f"# config file: {where}"]
    for section, values in data.items():
        lines.append(f"\n[{section}]")
        for key, value in _flatten(values):
            dotted = f"{section}.{key}"
            source = config.source_of(dotted)
            text = f"{key} = {json.dumps(value)}"
            if all_sources or source != "default":
                text = f"{text:<60} # {source}"
            lines.append(text)
    return "\n".join(lines)


def _flatten(values: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in values.items():
        if isinstance(value, dict) and key == "fee_percentile":
            out.extend(_flatten(value, f"{prefix}{key}."))
        else:
            out.append((f"{prefix}{key}", value))
    return out


@subcommand("report", "daily performance and success rate by flash size from the trade store")
def _report(parser: argparse.ArgumentParser) -> Handler:
    parser.add_argument(
        "--mode", choices=("dry-run", "live"), help="which store to read (default: the configured mode)"
    )
    parser.add_argument(
        "--since", metavar="DATE", help="only attempts on or after this UTC date (YYYY-MM-DD)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable JSON")

    def run(args: argparse.Namespace, config: AppConfig) -> int:
        from core.report import ReportError, build_report, render_report

        mode = args.mode or ("dry-run" if config.mode.dry_run else "live")
        try:
            report = build_report(config.store.dir, mode, since=args.since)
        except ReportError as exc:
            print(f"arbtui report: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        if args.json:
            print(json.dumps(report.to_dict(), indent=2))
        else:
            print(render_report(report))
        return EXIT_OK

    return run


@subcommand("localnet", "run the embedded local cluster standalone, in the foreground", passthrough=True)
def _localnet(parser: argparse.ArgumentParser) -> Handler | None:
    try:
        module = importlib.import_module("core.localnet.cli")
    except ModuleNotFoundError as exc:
        if exc.name not in ("core.localnet.cli", "core.localnet"):
            raise
        print("arbtui localnet: not available yet (core.localnet.cli is not installed)", file=sys.stderr)
        return None
    module.add_arguments(parser)

    def run(args: argparse.Namespace, config: AppConfig) -> int:
        args.app_config = config
        return int(module.run(args))

    return run


# Subcommands kept in their own modules register themselves on import.
from arbtui import cli_doctor, cli_engine, cli_inspect, cli_resume, cli_run  # noqa: E402, F401

if __name__ == "__main__":
    raise SystemExit(main())
