"""One engine per store dir: the lock is exclusive, names its holder, and a dead holder's lock is free."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.daemon import lock_path
from core.daemon.lock import EngineLock, EngineLocked, holder

HOLD = "import sys, time; from core.daemon.lock import EngineLock; EngineLock(sys.argv[1]).acquire(); " \
       "print('held', flush=True); time.sleep(60)"


def test_second_lock_on_the_same_store_dir_is_refused_naming_the_holder(tmp_path: Path) -> None:
    with EngineLock(tmp_path):
        assert holder(tmp_path) == os.getpid()
        with pytest.raises(EngineLocked, match=f"pid {os.getpid()}"):
            EngineLock(tmp_path).acquire()
    assert holder(tmp_path) is None
    assert lock_path(tmp_path).read_text() == ""  # a clean release leaves no pid behind


def test_lock_of_a_sigkilled_holder_is_taken_over_and_its_pid_reported_stale(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[2])
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        assert holder(tmp_path) == child.pid
        with pytest.raises(EngineLocked):
            EngineLock(tmp_path).acquire()
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert lock_path(tmp_path).read_text().strip() == str(child.pid)  # the crash left its pid behind
    assert holder(tmp_path) is None
    lock = EngineLock(tmp_path)
    lock.acquire()
    try:
        assert lock.stale_pid == child.pid
        assert holder(tmp_path) == os.getpid()
    finally:
        lock.release()
