"""The console ⇄ engine wire format: one JSON object per line over the store dir's Unix socket.

Client → engine:  {"kind": "hello", "version": V}  first, then
                  {"kind": "command", "id": N, "command": NAME, "args": {...}}
Engine → client:  {"kind": "hello", "version": V, "pid": P}  then {"kind": "snapshot", ...}
                  (or {"kind": "refused", "reason": ...} and the connection closes),
                  then {"kind": "event", "event": {...}}, {"kind": "status", "status": {...}} and
                  {"kind": "result", "id": N, "ok": true, "value": ...} /
                  {"kind": "result", "id": N, "ok": false, "error": CLASS, "reason": TEXT},
                  and {"kind": "bye", "reason": ...} before the engine stops.

Events are `core.events.to_json_dict` objects, the same the log and `run --headless --json` carry.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from core.approvals import Outcome
from core.mode import LivePreview

PROTOCOL_VERSION = 1
MAX_LINE_BYTES = 16 * 1024 * 1024  # a snapshot of 200 opportunities is far below this

COMMANDS = (
    "approve", "approve_all", "reject", "preview_live", "switch_to_live", "switch_to_dry_run",
    "pause", "resume", "kill", "status", "stop",
)


class ProtocolError(Exception):
    """A line that is not a message of this protocol."""


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(message, dict) or not isinstance(message.get("kind"), str):
        raise ProtocolError("expected an object with a 'kind'")
    return message


def outcome_to_json(outcome: Outcome) -> dict[str, Any]:
    return dataclasses.asdict(outcome)


def outcome_from_json(data: Any) -> Outcome:
    if not isinstance(data, dict) or not isinstance(data.get("opportunity_id"), int):
        raise ProtocolError(f"not an outcome: {data!r:.80}")
    return Outcome(data["opportunity_id"], data.get("decision"), str(data.get("reason", "")))


def preview_to_json(preview: LivePreview) -> dict[str, Any]:
    return dataclasses.asdict(preview)


def preview_from_json(data: Any) -> LivePreview:
    if not isinstance(data, dict):
        raise ProtocolError(f"not a live preview: {data!r:.80}")
    fields = {f.name for f in dataclasses.fields(LivePreview)}
    return LivePreview(**{k: str(v) for k, v in data.items() if k in fields})
