"""Unix socket paths, the peer-credential check and long-path handling shared by server and client."""

from __future__ import annotations

import contextlib
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

# sun_path holds 108 bytes with the NUL; deep store dirs are reached through /proc/self/fd.
MAX_SUN_PATH = 107


@contextlib.contextmanager
def reachable(path: Path) -> Iterator[str]:
    """A path string bind/connect accept for `path`, however long its directory's path is."""
    text = str(path)
    if len(text.encode()) <= MAX_SUN_PATH:
        yield text
        return
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def peer_uid(sock: socket.socket | object) -> int | None:
    """The uid of the process at the other end of a connected Unix socket (SO_PEERCRED)."""
    getsockopt = getattr(sock, "getsockopt", None)
    if getsockopt is None:
        return None
    raw = getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)
