"""Keypair loading: every broken file gets its own clear error, and the secret never shows."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from solders.keypair import Keypair

from core.keypair import (
    KeypairError,
    Signer,
    generate_localnet_keypair,
    load_keypair,
    localnet_keypair_path,
)


def write_keypair(path: Path, content: str | bytes, mode: int = 0o600) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    os.chmod(path, mode)
    return path


def good_file(tmp_path: Path, mode: int = 0o600) -> tuple[Path, Keypair]:
    keypair = Keypair()
    return write_keypair(tmp_path / "id.json", json.dumps(list(bytes(keypair))), mode), keypair


def test_loads_a_solana_cli_keypair(tmp_path: Path) -> None:
    path, keypair = good_file(tmp_path)
    signer = load_keypair(path, for_live=True)
    assert signer.pubkey == keypair.pubkey()
    message = b"hello"
    assert signer.sign_message(message) == keypair.sign_message(message)


def test_repr_and_str_show_only_the_public_key(tmp_path: Path) -> None:
    path, keypair = good_file(tmp_path)
    signer = load_keypair(path)
    secret_b58 = str(keypair)
    for text in (repr(signer), str(signer), f"{signer}", repr([signer])):
        assert str(keypair.pubkey()) in text
        assert secret_b58 not in text
        assert str(list(bytes(keypair))[:8])[1:-1] not in text
    assert signer.short == f"{str(keypair.pubkey())[:4]}…{str(keypair.pubkey())[-4:]}"


def test_signer_cannot_be_pickled(tmp_path: Path) -> None:
    import pickle

    signer = load_keypair(good_file(tmp_path)[0])
    with pytest.raises(TypeError):
        pickle.dumps(signer)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeypairError, match="file not found"):
        load_keypair(tmp_path / "nope.json")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("[1, 2, 3", "not valid JSON"),
        ("", "not valid JSON"),
        ('{"secret": 1}', "expected a JSON array of 64 integers, got a JSON dict"),
        (json.dumps(list(range(63))), "expected 64 integers, got 63"),
        (json.dumps(list(range(65))), "expected 64 integers, got 65"),
        (json.dumps([0] * 63 + [256]), "element 63 is not an integer in 0..255"),
        (json.dumps([-1] + [0] * 63), "element 0 is not an integer in 0..255"),
        (json.dumps([1.5] + [0] * 63), "element 0 is not an integer in 0..255"),
        (json.dumps([True] + [0] * 63), "element 0 is not an integer in 0..255"),
        (b"\xff\xfe\x00garbage", "not a text file"),
    ],
)
def test_malformed_files_are_named_precisely(tmp_path: Path, content: str | bytes, reason: str) -> None:
    path = write_keypair(tmp_path / "id.json", content)
    with pytest.raises(KeypairError) as exc:
        load_keypair(path)
    assert reason in str(exc.value)
    assert str(path) in str(exc.value)


def test_pubkey_not_matching_secret_is_refused(tmp_path: Path) -> None:
    mixed = bytes(Keypair())[:32] + bytes(Keypair().pubkey())
    path = write_keypair(tmp_path / "id.json", json.dumps(list(mixed)))
    with pytest.raises(KeypairError, match="public key does not match"):
        load_keypair(path)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o606])
def test_group_or_other_access_is_refused_for_live(tmp_path: Path, mode: int) -> None:
    path, _ = good_file(tmp_path, mode)
    with pytest.raises(KeypairError, match="chmod 600"):
        load_keypair(path, for_live=True)


def test_loose_permissions_only_warn_outside_live(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path, keypair = good_file(tmp_path, 0o644)
    with caplog.at_level(logging.WARNING):
        assert load_keypair(path).pubkey == keypair.pubkey()
    assert "0644" in caplog.text


def test_error_messages_never_quote_the_secret(tmp_path: Path) -> None:
    keypair = Keypair()
    raw = list(bytes(keypair))
    path = write_keypair(tmp_path / "id.json", json.dumps(raw)[:-1])  # truncated JSON
    with pytest.raises(KeypairError) as exc:
        load_keypair(path)
    assert str(raw[:4])[1:-1] not in str(exc.value)


def test_directory_is_not_a_keypair(tmp_path: Path) -> None:
    with pytest.raises(KeypairError, match="not a regular file"):
        load_keypair(tmp_path)


def test_generated_localnet_keypair_is_0600_and_stable(tmp_path: Path) -> None:
    store = tmp_path / "store"
    path = generate_localnet_keypair(store)
    assert path == localnet_keypair_path(store)
    assert (path.stat().st_mode & 0o777) == 0o600
    first = load_keypair(path, for_live=True)
    assert generate_localnet_keypair(store) == path
    assert load_keypair(path, for_live=True).pubkey == first.pubkey
    assert isinstance(first, Signer)
