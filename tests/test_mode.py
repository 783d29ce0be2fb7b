"""Going live needs the typed word and a safe keypair; every switch is audited in both store files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from solders.keypair import Keypair

from core.config import load_config
from core.keypair import generate_localnet_keypair, load_keypair
from core.mode import ModeController, ModeSwitchRefused, StoreSet, confirmation_word
from core.store import StoreReader


def config_for(tmp_path: Path, **overrides: object):  # type: ignore[no-untyped-def]
    return load_config(None, {"store.dir": str(tmp_path), **overrides}, search_default_paths=False)


def test_confirmation_word_is_live_on_localnet_and_the_cluster_name_elsewhere() -> None:
    assert confirmation_word("localnet") == "live"
    assert confirmation_word("mainnet-beta") == "mainnet-beta"


async def test_dry_run_holds_no_signer_and_live_needs_the_word(tmp_path: Path) -> None:
    generate_localnet_keypair(tmp_path)
    stores = StoreSet(tmp_path)
    changes: list[str] = []
    ctl = ModeController(config_for(tmp_path), stores, on_change=lambda m, r: changes.append(m))
    await ctl.start()
    assert ctl.mode == "dry-run" and ctl.signer is None
    with pytest.raises(ModeSwitchRefused, match="'live'"):
        await ctl.switch_to_live("yes")
    assert ctl.mode == "dry-run" and ctl.signer is None
    signer = await ctl.switch_to_live("live")
    assert ctl.mode == "live" and ctl.signer is signer
    await ctl.switch_to_dry_run()
    assert ctl.mode == "dry-run" and ctl.signer is None
    assert changes == ["live", "dry-run"]
    await stores.close()
    for mode in ("dry-run", "live"):
        with StoreReader(tmp_path, mode) as reader:
            assert [(c.from_mode, c.to_mode) for c in reader.mode_changes()] == [
                ("dry-run", "live"),
                ("live", "dry-run"),
            ]


async def test_live_refused_with_group_readable_keypair(tmp_path: Path) -> None:
    path = generate_localnet_keypair(tmp_path)
    os.chmod(path, 0o644)
    ctl = ModeController(config_for(tmp_path), StoreSet(tmp_path))
    assert ctl.preview_live().problem
    with pytest.raises(ModeSwitchRefused):
        await ctl.switch_to_live("live")
    assert ctl.mode == "dry-run" and ctl.signer is None
    await ctl.stores.close()


async def test_live_refused_without_keypair_and_nothing_recorded(tmp_path: Path) -> None:
    ctl = ModeController(config_for(tmp_path), StoreSet(tmp_path))
    with pytest.raises(ModeSwitchRefused, match=r"localnet-operator\.json"):
        await ctl.switch_to_live("live")
    await ctl.stores.close()
    assert not (tmp_path / "trades-live.sqlite3").exists()


async def test_configured_live_goes_through_the_keypair_checks(tmp_path: Path) -> None:
    generate_localnet_keypair(tmp_path)
    ctl = ModeController(config_for(tmp_path, **{"mode.dry_run": False}), StoreSet(tmp_path))
    await ctl.start()
    assert ctl.mode == "live" and ctl.signer is not None
    preview = ctl.preview_live()
    assert preview.word == "live" and preview.cluster == "localnet" and "USDC" in preview.caps
    await ctl.stores.close()


async def test_live_off_localnet_refuses_a_keypair_that_is_not_the_configured_wallet(tmp_path: Path) -> None:
    path = generate_localnet_keypair(tmp_path)  # a 0600 keypair file, used here as wallet.keypair
    other = str(Keypair().pubkey())
    overrides = {"cluster.name": "custom", "cluster.rpc_url": "http://127.0.0.1:1",
                 "wallet.keypair": str(path)}
    ctl = ModeController(config_for(tmp_path, **overrides, **{"wallet.pubkey": other}), StoreSet(tmp_path))
    assert "not wallet.pubkey" in ctl.preview_live().problem
    with pytest.raises(ModeSwitchRefused, match=r"not wallet\.pubkey"):
        await ctl.switch_to_live("custom")
    assert ctl.mode == "dry-run" and ctl.signer is None
    await ctl.stores.close()

    mine = str(load_keypair(path, for_live=True).pubkey)
    ctl = ModeController(config_for(tmp_path, **overrides, **{"wallet.pubkey": mine}), StoreSet(tmp_path))
    assert ctl.preview_live().problem == ""
    await ctl.switch_to_live("custom")
    assert ctl.mode == "live"
    await ctl.stores.close()
