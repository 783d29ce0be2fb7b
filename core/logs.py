"""Logging to a rotating file in the store dir (the console owns the terminal).

A redacting filter is defence in depth: secrets are never passed to a logger in the first place,
but if one slipped through as a 64-integer array or a base58 string of secret-key length
(87–88 characters) it is masked before it reaches the file.
"""

from __future__ import annotations

import logging
import re
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOG_FILE_NAME = "arbtui.log"
# The background engine's own (core.daemon): a console in the same store dir writes arbtui.log,
# and two processes rotating one file would rename it under each other.
ENGINE_LOG_FILE_NAME = "arbtui-engine.log"
REDACTED = "[REDACTED]"

_BYTE = r"\s*(?:25[0-5]|2[0-4]\d|1?\d?\d)\s*"
_INT_ARRAY = re.compile(r"\[" + (_BYTE + ",") * 63 + _BYTE + r"\]")
_B58 = "1-9A-HJ-NP-Za-km-z"
_B58_SECRET = re.compile(rf"(?<![{_B58}])[{_B58}]{{87,88}}(?![{_B58}])")


def redact(text: str) -> str:
    return _B58_SECRET.sub(REDACTED, _INT_ARRAY.sub(REDACTED, text))


class RedactingFilter(logging.Filter):
    """Masks secret-looking material in the fully formatted message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now so it passes through the redactor too.
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
            record.exc_info = None
        return True


def configure_logging(
    store_dir: Path, *, level: int = logging.INFO, max_bytes: int = 10_000_000, backups: int = 5,
    file_name: str = LOG_FILE_NAME,
) -> Path:
    """Send the root logger to `<store_dir>/<file_name>` (rotated); returns the file path."""
    store_dir = Path(store_dir).expanduser()
    store_dir.mkdir(parents=True, exist_ok=True)
    path = store_dir / file_name
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, RotatingFileHandler) and Path(handler.baseFilename) == path:
            return path
    handler = RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    return path


EVENT_LOG_NAME = "events.jsonl"
EVENT_LOGGER = "arbtui.events"


def configure_event_log(
    store_dir: Path, *, max_bytes: int = 50_000_000, backups: int = 3
) -> logging.Logger:
    """The engine's event stream as JSON lines in `<store_dir>/events.jsonl` (rotated).

    Its own file: the market reprices many times a second, and those lines would otherwise push the
    operator's warnings out of `arbtui.log` within minutes. Lines are exactly the socket's and
    `run --headless --json`'s objects, one per line, for jq.
    """
    store_dir = Path(store_dir).expanduser()
    store_dir.mkdir(parents=True, exist_ok=True)
    path = store_dir / EVENT_LOG_NAME
    logger = logging.getLogger(EVENT_LOGGER)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    if not any(
        isinstance(h, RotatingFileHandler) and Path(h.baseFilename) == path for h in logger.handlers
    ):
        handler = RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.addFilter(RedactingFilter())
        logger.addHandler(handler)
    return logger
