"""The `arbtui` command line, run as a real subprocess: help, exit codes, config errors, report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import LEGACY_ENV_NAMES
from core.store import BundleAttempt, StoreWriter


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARB_") and k not in LEGACY_ENV_NAMES}
    clean["HOME"] = str(tmp_path / "home")
    clean.pop("XDG_DATA_HOME", None)
    return clean


def arbtui(
    tmp_path: Path, env: dict[str, str], *args: str, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "arbtui", *args],
        cwd=tmp_path,
        env={**env, **extra_env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_lists_every_subcommand(tmp_path: Path, env: dict[str, str]) -> None:
    result = arbtui(tmp_path, env, "--help")
    assert result.returncode == 0
    for name in ("console", "config", "report", "localnet"):
        assert name in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("console", "--help"),
        ("config", "--help"),
        ("config", "check", "--help"),
        ("config", "show", "--help"),
        ("report", "--help"),
    ],
)
def test_each_subcommand_has_help(tmp_path: Path, env: dict[str, str], args: tuple[str, ...]) -> None:
    result = arbtui(tmp_path, env, *args)
    assert result.returncode == 0, result.stderr
    assert "--config" in result.stdout and "--store-dir" in result.stdout


def test_localnet_help_shows_its_own_and_the_common_options(tmp_path: Path, env: dict[str, str]) -> None:
    result = arbtui(tmp_path, env, "localnet", "--help")
    assert result.returncode == 0, result.stderr
    assert "--rpc-port" in result.stdout and "--config" in result.stdout and "--store-dir" in result.stdout


def test_localnet_without_its_module_says_not_available(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from arbtui.cli import main

    monkeypatch.setitem(sys.modules, "core.localnet.cli", None)  # import now fails as if absent
    monkeypatch.chdir(tmp_path)
    assert main(["localnet"]) == 1
    assert "not available yet" in capsys.readouterr().err


def test_importing_the_cli_does_not_import_textual(env: dict[str, str], tmp_path: Path) -> None:
    code = "import sys, arbtui.cli; print('textual' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.stdout.strip() == "False"


def test_config_check_on_defaults_is_ok(tmp_path: Path, env: dict[str, str]) -> None:
    result = arbtui(tmp_path, env, "config", "check")
    assert result.returncode == 0
    assert "built-in defaults" in result.stdout


def test_broken_config_exits_2_naming_the_key_without_traceback(tmp_path: Path, env: dict[str, str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[jito]\ntip_percent = 150\ntip_percnt = 1\n")
    result = arbtui(tmp_path, env, "config", "check", "--config", str(bad))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert any("jito.tip_percent: must be ≤ 100 (got 150)" in line for line in lines)
    assert any("jito.tip_percnt: unknown key, did you mean 'jito.tip_percent'?" in line for line in lines)
    assert len(lines) == 2


@pytest.mark.parametrize("args", [(), ("console",), ("report",), ("config", "show", "--json")])
def test_every_command_refuses_bad_config_with_exit_2(
    tmp_path: Path, env: dict[str, str], args: tuple[str, ...]
) -> None:
    (tmp_path / "arb.toml").write_text("[compute]\nmax_compute_units = 2000000\n")
    result = arbtui(tmp_path, env, *args)
    assert result.returncode == 2
    assert "compute.max_compute_units: must be ≤ 1400000 (got 2000000)" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_env_value_exits_2(tmp_path: Path, env: dict[str, str]) -> None:
    result = arbtui(tmp_path, env, "config", "check", ARB_JITO__TIP_PERCENT="lots")
    assert result.returncode == 2
    assert "jito.tip_percent: must be a number" in result.stderr


def test_missing_config_file_exits_2(tmp_path: Path, env: dict[str, str]) -> None:
    result = arbtui(tmp_path, env, "config", "check", "--config", str(tmp_path / "missing.toml"))
    assert result.returncode == 2
    assert "file not found" in result.stderr


def test_arb_env_name_shows_in_config_show_json(tmp_path: Path, env: dict[str, str]) -> None:
    result = arbtui(tmp_path, env, "config", "show", "--json", ARB_FLASH_LOAN__MAX_AMOUNT_USDC="500")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["flash_loan"]["max_amount_usdc"] == 500


def test_flat_legacy_name_shows_in_config_show_json(tmp_path: Path, env: dict[str, str]) -> None:
    result = arbtui(tmp_path, env, "config", "show", "--json", MAX_FLASH_AMOUNT_USDC="700")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["flash_loan"]["max_amount_usdc"] == 700


def test_config_show_names_sources(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "arb.toml").write_text("[jito]\ntip_percent = 7\n")
    result = arbtui(
        tmp_path,
        env,
        "config",
        "show",
        "--sources",
        "--store-dir",
        str(tmp_path / "s"),
        MAX_FLASH_AMOUNT_USDC="700",
    )
    assert result.returncode == 0, result.stderr
    lines = {line.split("=")[0].strip(): line for line in result.stdout.splitlines() if "=" in line}
    assert lines["tip_percent"].endswith(f"# {tmp_path / 'arb.toml'}")
    assert lines["max_amount_usdc"].endswith("# env MAX_FLASH_AMOUNT_USDC")
    assert lines["dir"].endswith("# cli --store-dir")
    assert lines["min_tip_lamports"].endswith("# default")


def test_config_show_json_sources(tmp_path: Path, env: dict[str, str]) -> None:
    result = arbtui(tmp_path, env, "config", "show", "--json", "--sources", "--set", "ui.refresh_hz=20")
    data = json.loads(result.stdout)
    assert data["values"]["ui"]["refresh_hz"] == 20
    assert data["sources"]["ui.refresh_hz"] == "cli --set"
    assert data["sources"]["cluster.rpc_url"] == "derived from cluster.name"


def test_report_on_empty_store_says_so_and_exits_0(tmp_path: Path, env: dict[str, str]) -> None:
    result = arbtui(tmp_path, env, "report", "--store-dir", str(tmp_path / "store"))
    assert result.returncode == 0
    assert "No trades recorded" in result.stdout
    result = arbtui(tmp_path, env, "report", "--json", "--store-dir", str(tmp_path / "store"))
    assert json.loads(result.stdout)["empty"] is True


def test_report_on_populated_store(tmp_path: Path, env: dict[str, str]) -> None:
    store = tmp_path / "store"
    writer = StoreWriter(store, "live")
    writer.save_attempt(
        BundleAttempt(
            id="a1",
            opportunity_id="o1",
            mode="live",
            created_at=1_767_225_600.0,
            state="settled",
            flash_amount_usd=2500.0,
            realised_profit_usd=3.25,
            tip_lamports=50_000,
            fee_lamports=10_000,
            landed_at=1_767_225_601.0,
        )
    )
    writer.close_sync()
    result = arbtui(tmp_path, env, "report", "--mode", "live", "--json", "--store-dir", str(store))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["daily"] == [
        {
            "date": "2026-01-01",
            "attempts": 1,
            "successes": 1,
            "success_rate": 1.0,
            "volume_usd": 2500.0,
            "profit_usd": 3.25,
            "tips_sol": 0.00005,
            "fees_sol": 0.00001,
        }
    ]
    assert {b["bucket"]: b["attempts"] for b in data["by_size"]} == {"<1k": 0, "1k-10k": 1, ">10k": 0}
    text = arbtui(tmp_path, env, "report", "--mode", "live", "--store-dir", str(store)).stdout
    assert "2026-01-01" in text and "100.0%" in text
    # The dry-run store is a different file and is empty.
    assert "No trades recorded" in arbtui(tmp_path, env, "report", "--store-dir", str(store)).stdout


def test_report_bad_since_exits_2(tmp_path: Path, env: dict[str, str]) -> None:
    result = arbtui(tmp_path, env, "report", "--since", "last-week", "--store-dir", str(tmp_path / "s"))
    assert result.returncode == 2
    assert "--since" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_subcommand_is_a_usage_error(tmp_path: Path, env: dict[str, str]) -> None:
    result = arbtui(tmp_path, env, "frobnicate")
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_closed_stdout_pipe_is_not_a_traceback(tmp_path: Path, env: dict[str, str]) -> None:
    reader = subprocess.Popen(
        [sys.executable, "-m", "arbtui", "config", "show", "--sources"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.close()  # like `| head -0`
    stderr = reader.stderr.read().decode()
    reader.wait(timeout=60)
    assert "Traceback" not in stderr


def test_config_check_in_live_mode_checks_the_keypair(tmp_path: Path, env: dict[str, str]) -> None:
    keypair = tmp_path / "id.json"
    keypair.write_text(json.dumps(list(range(64))))
    keypair.chmod(0o644)
    args = (
        "config",
        "check",
        "--set",
        "mode.dry_run=false",
        "--set",
        "cluster.name=devnet",
        "--set",
        f"wallet.keypair={json.dumps(str(keypair))}",
    )
    result = arbtui(tmp_path, env, *args)
    assert result.returncode == 2
    assert "wallet.keypair: permissions 0644" in result.stderr
    keypair.chmod(0o600)
    result = arbtui(tmp_path, env, *args)
    assert result.returncode == 2
    assert "wallet.keypair: public key does not match" in result.stderr
    assert "Traceback" not in result.stderr


def test_corrupt_store_is_one_line_not_a_traceback(tmp_path: Path, env: dict[str, str]) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (store / "trades-dry-run.sqlite3").write_bytes(b"not a database" * 100)
    result = arbtui(tmp_path, env, "report", "--store-dir", str(store))
    assert result.returncode == 1
    assert result.stderr.startswith("arbtui: store: ")
    assert "Traceback" not in result.stderr
