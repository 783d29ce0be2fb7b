"""A throwaway sshd on a loopback port with a test key, and tmux driven through it.

Used by the console's end-to-end test: the operator's real path is `ssh -tt box`, `arbtui` inside
tmux, keys typed into the pane. Nothing here listens beyond 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tools_missing() -> str | None:
    for tool in (SSHD, "ssh", "ssh-keygen", "tmux"):
        if shutil.which(tool) is None and not Path(tool).exists():
            return tool
    return None


@dataclass
class SshServer:
    port: int
    key: Path
    process: subprocess.Popen[bytes]
    workdir: Path

    def ssh_args(self, *, tty: bool = False) -> list[str]:
        args = [
            "ssh", "-p", str(self.port), "-i", str(self.key),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
        ]  # fmt: skip
        if tty:
            args.append("-tt")
        return [*args, "127.0.0.1"]

    def run(self, command: str, *, tty: bool = False, timeout: float = 30) -> str:
        done = subprocess.run(
            [*self.ssh_args(tty=tty), command], capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"ssh {command!r} exited {done.returncode}: {done.stderr.decode(errors='replace')}"
            )
        return done.stdout.decode(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_sshd(workdir: Path) -> SshServer:
    workdir.mkdir(parents=True, exist_ok=True)
    host_key = workdir / "host_ed25519"
    client_key = workdir / "client_ed25519"
    for key in (host_key, client_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    authorized = workdir / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    authorized.chmod(0o600)
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege-separation dir sshd insists on
    port = free_port()
    config = workdir / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {authorized}",
                f"PidFile {workdir / 'sshd.pid'}",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "PermitRootLogin prohibit-password",
                "StrictModes no",
                "UsePAM no",
                "PermitUserEnvironment no",
                "",
            ]
        )
    )
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
    server = SshServer(port, client_key, process, workdir)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"sshd exited {process.returncode}: {err}")
        try:
            server.run("true", timeout=5)
            return server
        except (RuntimeError, subprocess.TimeoutExpired):
            time.sleep(0.2)
    server.stop()
    raise RuntimeError("sshd did not accept the test key in time")


class Tmux:
    """One tmux session on the far side of the ssh connection."""

    def __init__(self, server: SshServer, session: str) -> None:
        self.server = server
        self.session = session

    def start(self, command: str, *, width: int = 100, height: int = 30) -> None:
        self.server.run(
            f"tmux new-session -d -s {self.session} -x {width} -y {height} {shlex.quote(command)}", tty=True
        )

    def send(self, *keys: str) -> None:
        self.server.run(f"tmux send-keys -t {self.session} " + " ".join(shlex.quote(k) for k in keys))

    def capture(self, *, escapes: bool = False) -> str:
        """The pane's text; with `escapes`, with the SGR sequences of the colours it holds."""
        flags = "-p -e" if escapes else "-p"
        return self.server.run(f"tmux capture-pane {flags} -t {self.session}")

    def resize(self, width: int, height: int) -> None:
        self.server.run(f"tmux resize-window -t {self.session} -x {width} -y {height}")

    def wait_for(self, needle: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture()
            if needle in screen:
                return screen
            time.sleep(0.3)
        raise AssertionError(f"{needle!r} never appeared; last screen:\n{screen}")

    def alive(self) -> bool:
        try:
            self.server.run(f"tmux has-session -t {self.session}")
        except RuntimeError:
            return False
        return True

    def kill(self) -> None:
        """Idempotent: the session is gone already when the console quit on its own."""
        with contextlib.suppress(RuntimeError):
            self.server.run(f"tmux kill-session -t {self.session}")


def console_command(store: Path, args: Iterable[str], *, term: str = "xterm-256color") -> str:
    """The shell line that runs `arbtui console <args>` next to `store` inside an ssh session.

    A login shell over ssh has none of the test's environment: everything is said explicitly.
    """
    arbtui = Path(sys.executable).with_name("arbtui")
    words = " ".join(shlex.quote(arg) for arg in args)
    return f"cd {shlex.quote(str(store.parent))} && TERM={shlex.quote(term)} {arbtui} console {words}"
