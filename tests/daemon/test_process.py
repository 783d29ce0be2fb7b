"""The background engine gets the starter's exact configuration, secrets included."""

from __future__ import annotations

import json
from pathlib import Path

from core.config import AppConfig
from core.daemon.process import engine_config_json, ensure_engine
from tests.daemon.conftest import SCRIPTED, config_for, reap

AUTH = "123e4567-e89b-12d3-a456-426614174000"


def test_engine_config_json_keeps_secrets_and_validates_to_the_same_config(tmp_path: Path) -> None:
    config = config_for(tmp_path, **{"jito.auth_uuid": AUTH, "jito.tip_percent": 7})
    again = AppConfig.model_validate(json.loads(engine_config_json(config)))
    assert again.jito.auth_uuid.get_secret_value() == AUTH
    assert again.model_dump() == config.model_dump()


async def test_background_engine_starts_with_a_secret_in_its_configuration(tmp_path: Path) -> None:
    config = config_for(tmp_path, **{"jito.auth_uuid": AUTH})
    try:
        client = await ensure_engine(config, factory=SCRIPTED, start_cluster=False, timeout=30)
        assert client.state == "running"
        await client.close()
        assert AUTH not in (config.store.dir / "engine.log").read_text()
    finally:
        await reap(config.store.dir)


async def test_store_dir_deeper_than_a_unix_socket_path_allows_still_serves(tmp_path: Path) -> None:
    config = config_for(tmp_path / ("d" * 60) / ("e" * 60))
    assert len(str(config.store.dir / "engine.sock").encode()) > 108
    try:
        client = await ensure_engine(config, factory=SCRIPTED, start_cluster=False, timeout=30)
        assert client.state == "running"
        await client.close()
    finally:
        await reap(config.store.dir)
