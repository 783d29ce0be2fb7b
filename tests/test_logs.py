"""Logging goes to a rotating file in the store dir, with secret-shaped material masked."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from logging.handlers import RotatingFileHandler
from pathlib import Path

import pytest
from solders.keypair import Keypair

from core.logs import REDACTED, configure_logging, redact


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    path = configure_logging(tmp_path)
    yield path
    for handler in list(root.handlers):
        if handler not in before:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_log_file_lives_in_store_dir_and_rotates(log_file: Path, tmp_path: Path) -> None:
    assert log_file.parent == tmp_path
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, RotatingFileHandler)]
    assert any(Path(h.baseFilename) == log_file and h.backupCount > 0 and h.maxBytes > 0 for h in handlers)
    assert configure_logging(tmp_path) == log_file
    assert len([h for h in logging.getLogger().handlers if isinstance(h, RotatingFileHandler)]) == len(
        handlers
    )


def test_secret_arrays_and_base58_secrets_never_reach_the_file(log_file: Path) -> None:
    keypair = Keypair()
    array = json.dumps(list(bytes(keypair)))
    logger = logging.getLogger("arbtui.test")
    logger.info("loaded %s", array)
    logger.warning("key=%s", str(keypair))
    try:
        raise ValueError(f"bad {keypair}")
    except ValueError:
        logger.exception("failure")
    logger.info("pubkey %s stays", keypair.pubkey())
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = log_file.read_text()
    assert str(keypair) not in text
    assert array not in text
    assert text.count(REDACTED) >= 3
    assert str(keypair.pubkey()) in text


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "slot 123 pool 58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2 amounts [1, 2, 3]"
    assert redact(text) == text
    assert redact(json.dumps(list(range(64)))) == REDACTED
