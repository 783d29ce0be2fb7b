"""`arbtui localnet --slot-ms N`: the noise traders trade on the cluster's slot clock."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any

import pytest

from core.localnet import cli, simulator
from core.localnet.faults import Faults


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_trader_flow_takes_its_slot_from_slot_ms() -> None:
    flow = cli.trader_flow(parse(["--slot-ms", "125"]), simulator)
    assert isinstance(flow, simulator.Flow)
    assert flow.slot_ms == 125.0
    assert cli.trader_flow(parse([]), simulator).slot_ms == 400.0  # the default slot


async def test_localnet_starts_noise_traders_with_the_slot_ms_it_was_given(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: asyncio.Queue[Any] = asyncio.Queue()
    real_start = simulator.start_simulator

    def recording_start(*a: Any, **kw: Any) -> Any:
        traders, task = real_start(*a, **kw)
        started.put_nowait(traders)
        return traders, task

    monkeypatch.setattr(simulator, "start_simulator", recording_start)
    # Every port ephemeral: the test must not collide with a cluster already running here.
    ports = ["--rpc-port", "0", "--ws-port", "0", "--block-engine-port", "0"]
    args = parse([*ports, "--slot-ms", "60", "--seed", "3"])
    serve = asyncio.create_task(cli._serve(args, Faults(), None))
    try:
        traders = await asyncio.wait_for(started.get(), timeout=30)
        assert traders.flow.slot_ms == 60.0
        assert traders.flow.trades_per_slot == simulator.Flow().trades_per_slot
        assert "slot 60 ms" in capsys.readouterr().out
    finally:
        serve.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serve
