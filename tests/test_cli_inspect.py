"""`arbtui inspect --file`: every fixture decodes, unknown accounts exit 1, bad input exits 2."""

from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from solders.pubkey import Pubkey

from arbtui.cli import main
from core.inspect import (
    AccountData,
    UnknownAccountError,
    decode_account,
    detect_kind,
    load_account_file,
)
from core.protocols import ids
from core.protocols.whirlpool import encode_whirlpool

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"

# fixture file -> (kind, a few decoded fields the JSON must carry)
EXPECTED: dict[str, tuple[str, dict[str, object]]] = {
    "raydium_amm_v4_sol_usdc.json": (
        "raydium_amm_v4",
        {"status": 6, "nonce": 254, "coin_vault": "DQyrAcCrDXQ7NeoqGgDCZwBvWDcYmFCjSb9JtteuvPpz"},
    ),
    "whirlpool_sol_usdc_ts4.json": (
        "whirlpool",
        {"tick_spacing": 4, "fee_rate": 400, "sqrt_price": 9083581038406259417, "tick_current_index": -14170},
    ),
    "whirlpool_tick_array_sol_usdc_ts4_-14432.json": (
        "whirlpool_tick_array",
        {"start_tick_index": -14432, "whirlpool": "Czfq3xZZDmsdGdUyrNLtRhGc47cXcZtLG4crryfu44zE"},
    ),
    "localnet_solend_reserve_usdc.json": (
        "solend_reserve",
        {"liquidity_mint_pubkey": str(ids.USDC_MINT), "flash_loan_fee_wad": 500_000_000_000_000},
    ),
    "localnet_solend_lending_market.json": ("solend_lending_market", {"version": 1}),
    "localnet_spl_mint_usdc.json": ("spl_mint", {"decimals": 6, "is_initialized": True}),
    "localnet_spl_token_account_usdc_supply.json": (
        "spl_token_account",
        {"mint": str(ids.USDC_MINT), "state": "initialized", "delegate": None},
    ),
}


def write_account(tmp_path: Path, owner: Pubkey, data: bytes, name: str = "acct.json") -> Path:
    path = tmp_path / name
    doc = {
        "pubkey": str(Pubkey.new_unique()),
        "account": {
            "lamports": 1_000_000,
            "data": [base64.b64encode(data).decode(), "base64"],
            "owner": str(owner),
            "executable": False,
            "rentEpoch": 0,
            "space": len(data),
        },
    }
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_inspect_json_of_each_fixture_has_its_kind_and_fields(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    kind, fields = EXPECTED[name]
    assert main(["inspect", "--file", str(FIXTURES / name), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    doc = json.loads((FIXTURES / name).read_text())
    assert out["kind"] == kind
    assert out["address"] == doc["pubkey"]
    assert out["program"] == doc["account"]["owner"]
    for key, value in fields.items():
        assert out[key] == value, key


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_inspect_text_prints_aligned_field_value_lines(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--file", str(FIXTURES / name)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["kind:", EXPECTED[name][0]]
    value_columns = {len(line) - len(line.split(": ", 1)[1].lstrip()) for line in lines}
    assert len(value_columns) == 1  # every value starts in the same column


def test_inspect_json_keeps_u128_values_as_exact_integers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = decode_account(load_account_file(FIXTURES / "whirlpool_sol_usdc_ts4.json")).value
    big = dataclasses.replace(real, liquidity=2**127 + 1, fee_growth_global_b=2**128 - 1)
    path = write_account(tmp_path, ids.ORCA_WHIRLPOOL, encode_whirlpool(big))
    assert main(["inspect", "--file", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["liquidity"], out["fee_growth_global_b"]) == (2**127 + 1, 2**128 - 1)
    assert out["reward_infos"][0]["mint"] == str(real.reward_infos[0].mint)


def test_unknown_account_says_so_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_account(tmp_path, ids.SYSTEM_PROGRAM, b"")
    assert main(["inspect", "--file", str(path)]) == 1
    assert "unknown account" in capsys.readouterr().err


def test_account_of_a_known_program_with_an_unknown_size_is_unknown(tmp_path: Path) -> None:
    assert detect_kind(ids.RAYDIUM_AMM_V4, bytes(751)) is None
    with pytest.raises(UnknownAccountError):
        decode_account(AccountData(Pubkey.new_unique(), ids.SOLEND, 0, bytes(300)))


def test_malformed_account_of_a_known_kind_exits_1_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_account(tmp_path, ids.RAYDIUM_AMM_V4, bytes([9]) + bytes(751))  # status 9
    assert main(["inspect", "--file", str(path)]) == 1
    err = capsys.readouterr().err
    assert "status 9" in err and json.loads(path.read_text())["pubkey"] in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"pubkey": "x", "account": {}}', "not a base58 public key"),
        (json.dumps({"account": {"owner": str(ids.TOKEN_PROGRAM), "data": ["!!", "base64"]}}), "base64"),
        (json.dumps({"account": {"owner": str(ids.TOKEN_PROGRAM), "data": ["", "zstd"]}}), "encoding"),
        (json.dumps({"account": {"owner": str(ids.TOKEN_PROGRAM), "data": "abc"}}), "account.data"),
    ],
)
def test_bad_file_exits_2_with_a_clear_error(
    tmp_path: Path, content: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert main(["inspect", "--file", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_file_and_bad_pubkey_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--file", str(tmp_path / "absent.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["inspect", "not-a-key"]) == 2
    assert "not a base58 public key" in capsys.readouterr().err
    assert main(["inspect"]) == 2


def test_unreachable_rpc_exits_2_without_a_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "arbtui", "inspect", str(ids.USDC_MINT), "--url", "http://127.0.0.1:9"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "RPC http://127.0.0.1:9" in proc.stderr and "Traceback" not in proc.stderr
