"""The real engine, in the background on the local cluster it starts: opportunities reach consoles."""

from __future__ import annotations

import asyncio
import json

import pytest
from solders.pubkey import Pubkey

from core.config import AppConfig
from core.daemon.client import EngineClient
from core.daemon.lock import holder
from core.daemon.process import ensure_engine, stop_engine
from core.events import to_json_dict
from core.localnet.launcher import is_listening
from core.search.opportunities import Opportunity
from tests.daemon.conftest import config_for, reap
from tests.daemon.ports import free_port_triple, localnet_settings

pytestmark = pytest.mark.timeout(120)


async def test_real_engine_on_localnet_reaches_attached_consoles_and_its_log(tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = free_port_triple()
    config: AppConfig = config_for(tmp_path, **localnet_settings(port))
    store = config.store.dir
    try:
        first = await ensure_engine(config, timeout=60)  # starts the engine, which starts the cluster
        watching = first.subscribe()
        async with asyncio.timeout(40):
            while not isinstance(opp := await watching.get(), Opportunity):
                pass
        assert opp.net > 0 and isinstance(opp.loan_mint, Pubkey) and opp.route
        second = await EngineClient.connect(store)
        assert any(isinstance(e, Opportunity) for e in second.snapshot())  # a new console sees it at once
        assert second.engine_pid == first.engine_pid == holder(store)
        await first.close()
        await second.close()
        assert is_listening("127.0.0.1", port)  # consoles gone, engine and cluster still up
        pid = await stop_engine(store)
        assert pid is not None
    finally:
        await reap(store)
    assert not is_listening("127.0.0.1", port), "the cluster the engine started stops with it"
    # The event log carries the very event the consoles got, in the same JSON, one per line.
    line = json.dumps(to_json_dict(opp), separators=(",", ":"))
    assert line in (store / "events.jsonl").read_text().splitlines()
