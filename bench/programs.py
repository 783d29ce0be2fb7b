"""On-chain programs benchmark: compute units per instruction and the flash-arbitrage transaction.

In one LiteSVM holding the local cluster's genesis (the C emulators at the mainnet program ids):
  * compute units of each instruction the bot sends: Raydium swap_base_in / swap_base_out (17- and
    18-account forms) and their V2 forms, Whirlpool swap both directions, Solend flash borrow and
    flash repay, the profit guard;
  * the same for the whole route, one v0 transaction: flash borrow USDC → Raydium USDC→SOL →
    Raydium SOL→USDC on a dearer pool → repay → guard (per instruction, from the program logs);
  * wall time to quote + build + sign that transaction and to execute it in LiteSVM (p50/p99),
    side by side with a plain SPL Token transfer transaction in the same LiteSVM (the floor any
    transaction pays), with the ratio.
The last line is one JSON object with units in its key names.

    .venv/bin/python bench/programs.py [--runs 300] [--seed 11]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from solders.instruction import Instruction
from solders.litesvm import LiteSVM
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import TransactionMetadata
from spl.token.instructions import transfer as spl_transfer
from spl.token.models import TransferParams

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.localnet.accounts import set_token_account  # noqa: E402
from core.localnet.flash_route import FlashRoute, genesis_route, quote_route, route_instructions  # noqa: E402
from core.localnet.genesis import RaydiumPool, Scenario, build_genesis, operator_keypair  # noqa: E402
from core.localnet.programs import load_programs  # noqa: E402
from core.protocols import ids, raydium_amm, whirlpool  # noqa: E402

SOL = 10**9
USD = 10**6
DEPTH_SOL = 100_000
BORROW = 20_000 * USD

_INVOKE = re.compile(r"^Program (\w+) invoke \[(\d+)\]$")
_CONSUMED = re.compile(r"^Program (\w+) consumed (\d+) of \d+ compute units$")


def top_level_units(logs: list[str]) -> list[tuple[str, int]]:
    """(program id, compute units) of each top-level instruction that logs its consumption
    (builtins such as ComputeBudget do not), in order."""
    out: list[tuple[str, int]] = []
    depth = 0
    for line in logs:
        if m := _INVOKE.match(line):
            depth = int(m.group(2))
        elif m := _CONSUMED.match(line):
            if depth == 1:
                out.append((m.group(1), int(m.group(2))))
            depth -= 1
    return out


class Bench:
    def __init__(self, seed: int) -> None:
        self.svm = LiteSVM()
        load_programs(self.svm)
        self.scenario: Scenario = build_genesis(self.svm, seed)
        self.wallet, _ = operator_keypair(seed, None)
        self.host = Pubkey.new_unique()
        set_token_account(self.svm, self.host, ids.USDC_MINT, Pubkey.new_unique(), 0)
        self.route: FlashRoute = genesis_route(self.scenario, "USDC", "SOL", host_fee_receiver=self.host)

    def set_prices(self) -> None:
        for pool, price in ((self.route.first, 200), (self.route.second, 204)):
            set_token_account(self.svm, pool.coin_vault, pool.coin_mint, pool.authority, DEPTH_SOL * SOL)
            set_token_account(self.svm, pool.pc_vault, pool.pc_mint, pool.authority, DEPTH_SOL * price * USD)

    def sign(self, ixs: list[Instruction]) -> VersionedTransaction:
        self.svm.expire_blockhash()  # a fresh blockhash: repeated transactions get new signatures
        message = MessageV0.try_compile(self.wallet.pubkey(), ixs, [], self.svm.latest_blockhash())
        return VersionedTransaction(message, [self.wallet])

    def run(self, ixs: list[Instruction]) -> TransactionMetadata:
        result = self.svm.send_transaction(self.sign(ixs))
        if not isinstance(result, TransactionMetadata):
            logs = "\n".join(result.meta().logs())
            raise SystemExit(f"benchmark transaction failed: {result.err()}\n{logs}")
        return result

    def units_of(self, ixs: list[Instruction], program: Pubkey) -> int:
        """Compute units of the first top-level instruction of `program` in a transaction of `ixs`."""
        for pid, units in top_level_units(list(self.run(ixs).logs())):
            if pid == str(program):
                return units
        raise SystemExit(f"no compute-unit log line for {program}")

    # -- instructions ------------------------------------------------------------------------

    def raydium_swap(self, pool: RaydiumPool, tag: int) -> Instruction:
        acc = self.svm.get_account(pool.address)
        assert acc is not None
        info = raydium_amm.decode_amm_info(bytes(acc.data), pool.address)
        market = raydium_amm.MarketKeys(
            pool.market_bids, pool.market_asks, pool.market_event_queue, pool.market_coin_vault,
            pool.market_pc_vault, pool.market_vault_signer,
        )
        usdc, wsol, owner = self.route.loan_account, self.route.other_account, self.wallet.pubkey()
        if tag == raydium_amm.SWAP_BASE_IN_TAG:
            return raydium_amm.swap_base_in(pool.address, info, market, usdc, wsol, owner, 1_000 * USD, 1)
        if tag == raydium_amm.SWAP_BASE_OUT_TAG:
            return raydium_amm.swap_base_out(
                pool.address, info, market, usdc, wsol, owner, 1_000 * USD, SOL, with_target_orders=True
            )
        if tag == raydium_amm.SWAP_BASE_IN_V2_TAG:
            return raydium_amm.swap_base_in_v2(pool.address, info, usdc, wsol, owner, 1_000 * USD, 1)
        return raydium_amm.swap_base_out_v2(pool.address, info, usdc, wsol, owner, 1_000 * USD, SOL)

    def whirlpool_swap(self, a_to_b: bool) -> Instruction:
        wp = next(
            p for p in self.scenario.whirlpools
            if {p.token_mint_a, p.token_mint_b} == {ids.NATIVE_MINT, ids.USDC_MINT}
        )
        acc = self.svm.get_account(wp.address)
        assert acc is not None
        pool = whirlpool.decode_whirlpool(bytes(acc.data), wp.address)
        atas = self.scenario.wallet_token_accounts
        amount = SOL if pool.token_mint_a == ids.NATIVE_MINT else 100 * USD
        return whirlpool.swap_for_pool(
            wp.address, pool, token_authority=self.wallet.pubkey(),
            token_owner_account_a=atas[wp.symbol_a], token_owner_account_b=atas[wp.symbol_b],
            amount=amount if a_to_b else 100 * USD if pool.token_mint_b == ids.USDC_MINT else SOL,
            other_amount_threshold=0, a_to_b=a_to_b,
        )

    def spl_transfer(self) -> Instruction:
        return spl_transfer(TransferParams(
            program_id=ids.TOKEN_PROGRAM, source=self.route.loan_account, dest=self.host,
            owner=self.wallet.pubkey(), amount=1,
        ))


def timed(fn: Callable[[], Any], runs: int, setup: Callable[[], None] | None = None) -> list[float]:
    samples = []
    for _ in range(runs):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e6)
    return samples


def p(samples: list[float], q: float) -> float:
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300, help="transactions timed per kind")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    b = Bench(args.seed)
    b.set_prices()
    pool = b.route.first
    cu: dict[str, int] = {
        "raydium_swap_base_in": b.units_of([b.raydium_swap(pool, 9)], ids.RAYDIUM_AMM_V4),
        "raydium_swap_base_out": b.units_of([b.raydium_swap(pool, 11)], ids.RAYDIUM_AMM_V4),
        "raydium_swap_base_in_v2": b.units_of([b.raydium_swap(pool, 16)], ids.RAYDIUM_AMM_V4),
        "raydium_swap_base_out_v2": b.units_of([b.raydium_swap(pool, 17)], ids.RAYDIUM_AMM_V4),
        "whirlpool_swap_a_to_b": b.units_of([b.whirlpool_swap(True)], ids.ORCA_WHIRLPOOL),
        "whirlpool_swap_b_to_a": b.units_of([b.whirlpool_swap(False)], ids.ORCA_WHIRLPOOL),
        "spl_transfer": b.units_of([b.spl_transfer()], ids.TOKEN_PROGRAM),
    }
    b.set_prices()

    # The route: per-instruction units from the logs of one landed transaction.
    quote = quote_route(b.svm, b.route, BORROW)
    route_ixs = route_instructions(b.svm, b.route, quote)
    landed = b.run(route_ixs)
    per_ix = top_level_units(list(landed.logs()))
    names = ["solend_flash_borrow", "route_swap_1", "route_swap_2", "solend_flash_repay", "profit_guard"]
    if len(per_ix) != len(names):
        raise SystemExit(f"expected {len(names)} logged instructions, got {per_ix}")
    route_cu = dict(zip(names, (u for _, u in per_ix), strict=True))
    cu |= {k: v for k, v in route_cu.items() if not k.startswith("route_")}
    route_total = landed.compute_units_consumed()

    # Wall time: quote + build + sign, then execute; pools reset before each so every run is the
    # same profitable arbitrage.
    built: list[VersionedTransaction] = []

    def build() -> None:
        q = quote_route(b.svm, b.route, BORROW)
        built.append(b.sign(route_instructions(b.svm, b.route, q)))

    def execute() -> None:
        result = b.svm.send_transaction(built.pop())
        assert isinstance(result, TransactionMetadata), result.err()

    build_us: list[float] = []
    exec_us: list[float] = []
    for _ in range(args.runs):
        b.set_prices()
        build_us += timed(build, 1)
        exec_us += timed(execute, 1)

    transfer_ix = b.spl_transfer()
    transfers: list[VersionedTransaction] = []
    transfer_us = timed(lambda: b.svm.send_transaction(transfers.pop()), args.runs,
                        setup=lambda: transfers.append(b.sign([transfer_ix])))
    transfer_tx_cu = b.run([transfer_ix]).compute_units_consumed()

    print("compute units per instruction (C emulators at the mainnet ids, LiteSVM):")
    for name, units in cu.items():
        print(f"    {name:<26} {units:>8,} CU")
    size = len(bytes(b.sign(route_ixs)))
    print(f"flash arbitrage, one v0 tx ({len(route_ixs)} instructions, {size} bytes):")
    print(f"    borrow {quote.amount / USD:,.0f} USDC → {quote.middle_out / SOL:,.4f} SOL → "
          f"{quote.out / USD:,.6f} USDC, fee {quote.fee / USD:,.6f}, net {quote.net / USD:+,.6f} USDC")
    print("    per instruction: " + ", ".join(f"{n} {u:,}" for n, u in route_cu.items()))
    print(f"    total {route_total:,} CU vs one SPL transfer tx {transfer_tx_cu:,} CU "
          f"({route_total / transfer_tx_cu:,.1f}x)")
    print(f"    execute in LiteSVM: p50 {p(exec_us, 50):,.0f} µs, p99 {p(exec_us, 99):,.0f} µs  "
          f"(quote + build + sign: p50 {p(build_us, 50):,.0f} µs)")
    print(f"    SPL transfer tx:    p50 {p(transfer_us, 50):,.0f} µs, p99 {p(transfer_us, 99):,.0f} µs  "
          f"→ the route costs {p(exec_us, 50) / p(transfer_us, 50):,.1f}x a transfer")

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result: dict[str, Any] = {f"{k}_cu": v for k, v in cu.items()}
    result |= {
        "route_tx_cu": route_total,
        "route_instructions": len(route_ixs),
        "route_net_usdc_units": quote.net,
        "route_exec_p50_us": round(p(exec_us, 50), 1),
        "route_exec_p99_us": round(p(exec_us, 99), 1),
        "route_build_p50_us": round(p(build_us, 50), 1),
        "spl_transfer_tx_cu": transfer_tx_cu,
        "spl_transfer_exec_p50_us": round(p(transfer_us, 50), 1),
        "route_vs_transfer_exec_x": round(p(exec_us, 50) / p(transfer_us, 50), 2),
        "runs": args.runs,
        "peak_rss_mb": round(peak_mb, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
