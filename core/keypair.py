"""Loading the operator's signer from a Solana CLI keypair file, without ever exposing the secret.

A Solana CLI keypair file is a JSON array of 64 integers: the 32-byte ed25519 seed followed by the
32-byte public key. `load_keypair` checks every way such a file can be wrong and says which, never
quoting the file's content. The returned `Signer` shows only its public key in repr/str (solders'
own `str(Keypair)` is the base58 secret, so the Keypair never leaves this wrapper by accident).
"""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path
from typing import NoReturn

from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction, VersionedTransaction

log = logging.getLogger(__name__)

LOCALNET_KEYPAIR_NAME = "localnet-operator.json"
MAX_KEYPAIR_FILE_BYTES = 4096


class KeypairError(Exception):
    """The keypair file cannot be used; the message names the file and the reason, never the secret."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"keypair {path}: {reason}")


def short_pubkey(pubkey: Pubkey | str, edge: int = 4) -> str:
    text = str(pubkey)
    return text if len(text) <= 2 * edge + 1 else f"{text[:edge]}…{text[-edge:]}"


class Signer:
    """The loaded keypair. Only the public key is ever shown."""

    __slots__ = ("_keypair", "path")

    def __init__(self, keypair: Keypair, path: Path | None = None) -> None:
        self._keypair = keypair
        self.path = path

    @property
    def pubkey(self) -> Pubkey:
        return self._keypair.pubkey()

    @property
    def short(self) -> str:
        return short_pubkey(self.pubkey)

    def sign_message(self, message: bytes) -> Signature:
        return self._keypair.sign_message(message)

    def sign_v0(self, message: MessageV0) -> VersionedTransaction:
        return VersionedTransaction(message, [self._keypair])

    def sign_legacy(self, message: Message, blockhash: Hash) -> Transaction:
        return Transaction([self._keypair], message, blockhash)

    def solders_keypair(self) -> Keypair:
        """The raw solders Keypair, for signing APIs that need it. Its str() is the secret: never log it."""
        return self._keypair

    def __repr__(self) -> str:
        return f"Signer(pubkey={self.pubkey})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Signer is not serialisable")


def _fail(path: Path, reason: str) -> NoReturn:
    raise KeypairError(path, reason)


def unsafe_permissions(path: Path) -> bool:
    """True when group or others may read or write the file."""
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def load_keypair(path: Path, *, for_live: bool = False) -> Signer:
    """Load and check a Solana CLI keypair file.

    With `for_live=True` a file that group or others can access is refused (it must be 0600 or
    stricter); otherwise that is only logged as a warning.
    """
    path = Path(path).expanduser()
    try:
        info = path.stat()
    except FileNotFoundError:
        _fail(path, "file not found")
    except OSError as exc:
        _fail(path, f"cannot stat: {exc.strerror}")
    if not stat.S_ISREG(info.st_mode):
        _fail(path, "not a regular file")
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        mode = stat.S_IMODE(info.st_mode)
        if for_live:
            _fail(path, f"permissions {mode:04o} let group/others access it; run chmod 600 on it")
        log.warning("keypair %s has permissions %04o; live mode will refuse it until chmod 600", path, mode)
    if info.st_size > MAX_KEYPAIR_FILE_BYTES:
        _fail(path, f"too large for a keypair file ({info.st_size} bytes)")
    try:
        text = path.read_text(encoding="utf-8")
    except PermissionError:
        _fail(path, "not readable by this user")
    except UnicodeDecodeError:
        _fail(path, "not a text file (expected a JSON array of 64 integers)")
    except OSError as exc:
        _fail(path, f"cannot read: {exc.strerror}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # Position only: the message of JSONDecodeError never includes the document, but be explicit.
        _fail(path, f"not valid JSON (line {exc.lineno}, column {exc.colno})")
    if not isinstance(data, list):
        _fail(path, f"expected a JSON array of 64 integers, got a JSON {type(data).__name__}")
    if len(data) != 64:
        _fail(path, f"expected 64 integers, got {len(data)}")
    for index, value in enumerate(data):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
            _fail(path, f"element {index} is not an integer in 0..255")
    raw = bytes(data)
    derived = Keypair.from_seed(raw[:32])
    if bytes(derived.pubkey()) != raw[32:]:
        _fail(path, "public key does not match the secret key (last 32 bytes are not the seed's public key)")
    return Signer(derived, path)


def localnet_keypair_path(store_dir: Path) -> Path:
    return Path(store_dir).expanduser() / LOCALNET_KEYPAIR_NAME


def generate_localnet_keypair(store_dir: Path) -> Path:
    """Create the localnet operator keypair (0600) in the store dir if absent; return its path.

    Only ever for the local cluster: it lives in the store dir, never at a mainnet wallet path.
    """
    path = localnet_keypair_path(store_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return path
    keypair = Keypair()
    payload = json.dumps(list(bytes(keypair))).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path  # another process created it first
    with os.fdopen(fd, "wb") as fh:
        fh.write(payload)
    os.chmod(path, 0o600)
    log.info("generated localnet keypair %s (%s)", path, keypair.pubkey())
    return path
