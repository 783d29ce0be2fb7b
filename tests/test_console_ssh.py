"""End to end over SSH: a real sshd on loopback, `arbtui` inside tmux, keys sent with send-keys.

The console starts the embedded local cluster itself, exactly as README's first command does.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path

import pytest

from core.daemon.process import stop_engine
from core.store import StoreReader
from tests.sshd import SshServer, Tmux, console_command, free_port

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.timeout(240)


def arbtui_command(store: Path, rpc_port: int, *, term: str = "xterm-256color") -> str:
    overrides = [
        f"store.dir={store}",
        f"cluster.rpc_url=http://127.0.0.1:{rpc_port}",
        f"cluster.ws_url=ws://127.0.0.1:{rpc_port + 1}",
    ]
    return console_command(store, (word for o in overrides for word in ("--set", o)), term=term)


def cluster_port() -> int:
    rpc_port = free_port()
    while rpc_port + 2 > 65535:
        rpc_port = free_port()
    return rpc_port


def test_operator_approves_and_flips_to_live_over_ssh_with_the_typed_word(
    sshd: SshServer, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    tmux = Tmux(sshd, f"arb{os.getpid()}")
    tmux.start(arbtui_command(store, cluster_port()))
    try:
        tmux.wait_for("DRY-RUN", timeout=60)
        tmux.wait_for("running", timeout=90)  # cluster up, engine started
        assert (store / "localnet-operator.json").exists()
        tmux.wait_for("wait ", timeout=90)  # a validated trade pending approval, sorted first
        tmux.send("g")  # first row: pending rows sort first; the cursor then stays on that row as others move
        tmux.send("a")
        screen = tmux.wait_for("approved ", timeout=30)  # "approved N" or "not approved N: reason"
        tmux.send("d")
        tmux.wait_for("SWITCH TO LIVE")
        tmux.send("Enter")  # focus starts on Cancel: Enter alone never confirms
        screen = tmux.wait_for("still DRY-RUN")
        assert "LIVE " not in screen.splitlines()[0]
        tmux.send("d")
        tmux.wait_for("SWITCH TO LIVE")
        tmux.send("Tab")  # Cancel → the word
        tmux.send("l", "i", "v", "e", "Enter")
        screen = tmux.wait_for(" LIVE ")
        deadline = time.monotonic() + 60  # the modal's title also says LIVE: wait for the header
        while "DRY-RUN" in screen.splitlines()[0] and time.monotonic() < deadline:
            time.sleep(0.3)
            screen = tmux.capture()
        assert "DRY-RUN" not in screen.splitlines()[0]
        tmux.send("d")  # back to dry-run: one key
        tmux.wait_for("back to DRY-RUN")
        secret = (store / "localnet-operator.json").read_text()
        assert secret[:20] not in tmux.capture()
        tmux.send("q")
        deadline = time.monotonic() + 20
        while tmux.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not tmux.alive(), "q did not quit the console"
    finally:
        tmux.kill()
        asyncio.run(stop_engine(store))  # q only detaches: the background engine outlives the console
    with StoreReader(store, "dry-run") as reader:
        decisions = [a for a in reader.approvals() if a.key == "a"]
        assert len(decisions) == 1 and decisions[0].decision in ("approved", "rejected")
        if decisions[0].decision == "approved":  # dry-run: simulated and recorded, never sent
            attempts = reader.attempts_for(decisions[0].opportunity_id)
            assert attempts and attempts[-1].state in ("simulated", "settled", "failed")
    with StoreReader(store, "live") as reader:
        assert [(c.from_mode, c.to_mode) for c in reader.mode_changes()] == [
            ("dry-run", "live"),
            ("live", "dry-run"),
        ]


EXTENDED_COLOUR = re.compile(r"\x1b\[[0-9;]*[34]8;[25];")  # 256-colour or truecolour SGR
BASIC_COLOUR = re.compile(r"\x1b\[(?:[0-9]+;)*(?:3[0-7]|4[0-7]|9[0-7]|10[0-7])[;m]")


def test_over_ssh_colours_degrade_on_term_xterm_and_a_resize_keeps_the_state(
    sshd: SshServer, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    tmux = Tmux(sshd, f"arbx{os.getpid()}")
    tmux.start(arbtui_command(store, cluster_port(), term="xterm"))
    try:
        tmux.wait_for("running", timeout=90)
        tmux.wait_for("wait ", timeout=90)  # opportunities and a pending trade on screen
        coloured = tmux.capture(escapes=True)
        assert BASIC_COLOUR.search(coloured), "no colour at all on TERM=xterm"
        assert not EXTENDED_COLOUR.search(coloured), "256-colour or truecolour sent to TERM=xterm"

        tmux.send("d")  # state to keep across the resizes: the live modal, open
        tmux.wait_for("SWITCH TO LIVE")
        tmux.resize(80, 24)
        screen = tmux.wait_for("SWITCH TO LIVE")
        assert max(len(line) for line in screen.splitlines()) <= 80
        tmux.send("Escape")
        tmux.wait_for("still DRY-RUN")
        tmux.resize(160, 48)
        screen = tmux.wait_for("Opportunities (")
        assert "DRY-RUN" in screen.splitlines()[0] and "running" in screen.splitlines()[0]
        assert len(screen.splitlines()) > 30  # the panes took the new height
        tmux.send("q")
        deadline = time.monotonic() + 20
        while tmux.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        tmux.kill()
        asyncio.run(stop_engine(store))
    with StoreReader(store, "live") as reader:
        assert reader.mode_changes() == []  # the modal was cancelled: never live
