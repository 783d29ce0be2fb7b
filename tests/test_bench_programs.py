"""bench/programs.py runs end to end and its last line is the JSON summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_programs_bench_prints_units_per_instruction_and_the_route_as_json() -> None:
    proc = subprocess.run(
        [sys.executable, "bench/programs.py", "--runs", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    per_instruction = [
        "raydium_swap_base_in_cu", "raydium_swap_base_out_cu", "whirlpool_swap_a_to_b_cu",
        "solend_flash_borrow_cu", "solend_flash_repay_cu", "profit_guard_cu", "spl_transfer_cu",
    ]
    assert all(summary[k] > 0 for k in per_instruction)
    # The route's total is its instructions' units plus the builtin compute-budget instruction.
    route = ("solend_flash_borrow_cu", "solend_flash_repay_cu", "profit_guard_cu")
    assert summary["route_tx_cu"] > sum(summary[k] for k in route)
    assert summary["route_instructions"] == 6
    assert summary["route_net_usdc_units"] > 0
    assert summary["runs"] == 3 and summary["peak_rss_mb"] > 0
