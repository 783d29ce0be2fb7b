"""The engine as its own process per store directory, and the socket consoles attach to.

`lock.py` keeps one engine per store dir, `server.py` serves a `Runtime` on `<store>/engine.sock`,
`client.py` is the console's `EngineLink` over that socket, `process.py` starts the engine in the
background. The wire format (newline-delimited JSON) is in `protocol.py`.
"""

from __future__ import annotations

from pathlib import Path

SOCKET_NAME = "engine.sock"
LOCK_NAME = "engine.lock"
STDIO_LOG_NAME = "engine.log"  # the background engine's stdout/stderr (tracebacks before logging is up)


def socket_path(store_dir: Path) -> Path:
    return Path(store_dir).expanduser() / SOCKET_NAME


def lock_path(store_dir: Path) -> Path:
    return Path(store_dir).expanduser() / LOCK_NAME
