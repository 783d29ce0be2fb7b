"""One engine per store directory: an flock'd lock file that also names the holder's pid.

The kernel drops an flock when its holder dies, however it dies, so a crashed engine's lock is
free at once and the next engine takes it over (and rewrites the pid); the pid in the file is
for people and for `arbtui stop`, never the source of truth. A pid that no longer exists with the
lock still held cannot happen; a pid that exists with the lock free is a recycled pid, ignored.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from core.daemon import lock_path


class EngineLocked(Exception):
    """Another engine holds the store dir."""

    def __init__(self, path: Path, pid: int | None) -> None:
        self.path = path
        self.pid = pid
        who = f"pid {pid}" if pid else "another process"
        super().__init__(f"an engine ({who}) already runs for {path.parent}")


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, someone else's
    return True


class EngineLock:
    """`acquire()` or raise EngineLocked; `release()` (or process exit) frees it."""

    def __init__(self, store_dir: Path) -> None:
        self.path = lock_path(store_dir)
        self._fd: int | None = None
        self.stale_pid: int | None = None  # the crashed engine whose lock was taken over, if any

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise EngineLocked(self.path, read_pid(self.path)) from None
            raise
        previous = read_pid(self.path)
        if previous is not None and previous != os.getpid():
            self.stale_pid = previous
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)  # a clean stop leaves no pid behind
        os.close(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> EngineLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(store_dir: Path) -> int | None:
    """The pid of the engine holding the store dir, or None when no engine holds it."""
    path = lock_path(store_dir)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return read_pid(path) or -1
        raise
    finally:
        os.close(fd)  # closing drops the probe's shared lock, if it got one
    return None
