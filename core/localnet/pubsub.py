"""Solana PubSub over websockets for the local cluster: the subscriptions mainnet nodes serve.

A cluster listener turns landed transactions and slot / commitment events into notifications with
the shapes agave sends. Notifications at `processed` go out as a transaction lands; `confirmed` and
`finalized` ones wait in a per-slot buffer until the cluster reports that slot reached that level.
Every connection has a bounded send queue drained by its own task, so a client that stops reading is
dropped instead of stalling the cluster or anyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from solders.account import Account
from solders.pubkey import Pubkey
from solders.signature import Signature
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from core.localnet.account_encoding import (
    AccountEncoding,
    AccountFilter,
    encode_account,
    parse_account_encoding,
    parse_filters,
)
from core.localnet.cluster import ClusterEvent, CommitmentEvent, SlotEvent, TxEvent
from core.localnet.faults import Faults
from core.localnet.rpc_errors import RpcError, invalid_params
from core.localnet.rpc_params import (
    COMMITMENT_ALIASES,
    commitment_option,
    config_at,
    subscription_pubkey_param,
)
from core.localnet.token_balances import MintDecimals
from core.localnet.tx_errors import error_json
from core.protocols import ids

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024
# Signatures remembered so a subscription made just after landing still gets its answer.
_RECENT_SIGNATURES = 200_000
_RECEIVED = "receivedSignature"
_DELETED = Account(lamports=0, data=b"", owner=ids.SYSTEM_PROGRAM, executable=False, rent_epoch=0)
_MAX_PENDING_SLOTS = 128


# --------------------------------------------------------------------------------------------
# Subscriptions and connections.


@dataclass(eq=False)
class Subscription:
    id: int
    kind: str  # "account" | "program" | "signature" | "slot" | "root" | "logs"
    conn: Connection
    commitment: str = "finalized"
    key: Any = None  # Pubkey (account/program/logs mentions), Signature, or None
    encoding: AccountEncoding = field(default_factory=AccountEncoding)
    filters: tuple[AccountFilter, ...] = ()
    received_notification: bool = False


class Connection:
    """One websocket client: its subscriptions and a bounded queue its writer task drains."""

    def __init__(self, ws: ServerConnection, max_queue: int) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[tuple[float, str]] = asyncio.Queue(max_queue)
        self.subs: dict[int, Subscription] = {}
        self.dropped = False

    def push(self, message: str, due: float) -> bool:
        """Queue a message; False (and the connection is dropped) when the client fell behind."""
        if self.dropped:
            return False
        try:
            self.queue.put_nowait((due, message))
        except asyncio.QueueFull:
            self.drop()
            return False
        return True

    def drop(self) -> None:
        if not self.dropped:
            self.dropped = True
            # Abort, not close: a closing handshake would wait on the very client that stopped reading.
            transport = getattr(self.ws, "transport", None)
            if transport is not None:
                transport.abort()


_METHOD_KINDS = {
    "accountSubscribe": "account", "programSubscribe": "program", "signatureSubscribe": "signature",
    "slotSubscribe": "slot", "rootSubscribe": "root", "logsSubscribe": "logs",
}
_UNSUBSCRIBE_KINDS = {
    "accountUnsubscribe": "account", "programUnsubscribe": "program",
    "signatureUnsubscribe": "signature", "slotUnsubscribe": "slot", "rootUnsubscribe": "root",
    "logsUnsubscribe": "logs",
}
_NOTIFICATION_METHOD = {
    "account": "accountNotification", "program": "programNotification",
    "signature": "signatureNotification", "slot": "slotNotification", "root": "rootNotification",
    "logs": "logsNotification",
}


class PubSubServer:
    """The cluster's websocket endpoint (`ws://host:port`)."""

    def __init__(
        self, cluster: Any, host: str = "127.0.0.1", port: int = 8900, faults: Faults | None = None,
        *, max_queue: int = 4096, max_subscriptions: int = 1_000_000,
    ) -> None:
        self.cluster = cluster
        self.host = host
        self.port = port
        self.faults = faults if faults is not None else Faults()
        self.max_queue = max_queue
        self.max_subscriptions = max_subscriptions
        self._server: Server | None = None
        self._ids = itertools.count(0)
        self._conns: set[Connection] = set()
        self._subs: dict[int, Subscription] = {}
        self._by_account: dict[Pubkey, dict[int, Subscription]] = defaultdict(dict)
        self._by_program: dict[Pubkey, dict[int, Subscription]] = defaultdict(dict)
        self._by_signature: dict[Signature, dict[int, Subscription]] = defaultdict(dict)
        self._by_mention: dict[Pubkey, dict[int, Subscription]] = defaultdict(dict)
        self._logs_all: dict[int, Subscription] = {}
        self._slot_subs: dict[int, Subscription] = {}
        self._root_subs: dict[int, Subscription] = {}
        # Transactions per slot, replayed to confirmed / finalized subscribers when the slot gets there.
        self._pending: dict[int, list[TxEvent]] = defaultdict(list)
        self._reached = {"processed": 0, "confirmed": -1, "finalized": -1}
        self._recent: OrderedDict[Signature, tuple[int, Any]] = OrderedDict()
        self._last_root = -1
        self._decimals = MintDecimals(cluster.get_account)
        self.notifications_sent = 0
        self.connections_dropped = 0

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await serve(
            self._handle, self.host, self.port, max_size=MAX_MESSAGE_BYTES, ping_interval=20,
            ping_timeout=20, close_timeout=2,
            # No permessage-deflate: validators don't offer it, and it costs CPU per notification.
            compression=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]  # the real one when port 0 was asked
        self.cluster.add_listener(self.on_event)

    async def stop(self) -> None:
        with contextlib.suppress(ValueError, KeyError):
            self.cluster.remove_listener(self.on_event)
        for conn in list(self._conns):
            conn.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def drop_connections(self) -> int:
        """Fault injection: cut every client at once; returns how many were cut."""
        conns = list(self._conns)
        for conn in conns:
            conn.drop()
        self.connections_dropped += len(conns)
        return len(conns)

    # ---- connection handling

    async def _handle(self, ws: ServerConnection) -> None:
        conn = Connection(ws, self.max_queue)
        self._conns.add(conn)
        writer = asyncio.create_task(self._writer(conn))
        try:
            async for message in ws:
                reply = self._dispatch(conn, message)
                if reply is not None:
                    conn.push(reply, 0.0)
        except ConnectionClosed:
            pass
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self._forget(conn)

    async def _writer(self, conn: Connection) -> None:
        try:
            while True:
                due, message = await conn.queue.get()
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await conn.ws.send(message)
        except ConnectionClosed:
            pass

    def _forget(self, conn: Connection) -> None:
        self._conns.discard(conn)
        for sub in list(conn.subs.values()):
            self._remove(sub)

    def _due(self) -> float:
        latency_ms = self.faults.latency_ms
        return time.monotonic() + latency_ms / 1000.0 if latency_ms > 0 else 0.0

    # ---- requests

    def _dispatch(self, conn: Connection, message: str | bytes) -> str | None:
        if isinstance(message, bytes):
            try:
                message = message.decode()
            except UnicodeDecodeError:
                return _error_reply(None, -32700, "Parse error")
        try:
            request = json.loads(message)
        except ValueError:
            return _error_reply(None, -32700, "Parse error")
        if isinstance(request, list):
            if not request:
                return _error_reply(None, -32600, "Invalid request")
            replies = [self._call(conn, r) for r in request]
            return "[" + ",".join(r for r in replies if r is not None) + "]"
        return self._call(conn, request)

    def _call(self, conn: Connection, request: Any) -> str:
        if not isinstance(request, dict):
            return _error_reply(None, -32600, "Invalid request")
        req_id = request.get("id")
        if not isinstance(req_id, (int, str)) or isinstance(req_id, bool):
            req_id = None
        method = request.get("method")
        if request.get("jsonrpc") != "2.0" or not isinstance(method, str):
            return _error_reply(req_id, -32600, "Invalid request")
        params = request.get("params", [])
        if params is None:
            params = []
        if not isinstance(params, list):
            return _error_reply(req_id, -32602, "Invalid params: expected an array.")
        try:
            if method in _METHOD_KINDS:
                result: Any = self._subscribe(conn, _METHOD_KINDS[method], params)
            elif method in _UNSUBSCRIBE_KINDS:
                result = self._unsubscribe(conn, _UNSUBSCRIBE_KINDS[method], params)
            else:
                return _error_reply(req_id, -32601, "Method not found")
        except RpcError as exc:
            return _error_reply(req_id, exc.code, exc.message)
        return json.dumps({"jsonrpc": "2.0", "result": result, "id": req_id})

    def _subscribe(self, conn: Connection, kind: str, params: list[Any]) -> int:
        if len(self._subs) >= self.max_subscriptions:
            # agave's `max_active_subscriptions` refusal.
            raise RpcError(-32603, "Internal Error: Subscription refused. Node subscription limit reached")
        sub = Subscription(next(self._ids), kind, conn)
        if kind in ("account", "program"):
            if not params:
                what = "pubkey" if kind == "account" else "program id"
                raise invalid_params(f"Invalid params: missing {what}.")
            sub.key = subscription_pubkey_param(params[0])
            cfg = config_at(params, 1)
            # agave defaults subscriptions to `binary` (a bare base58 string), as getAccountInfo.
            sub.commitment, sub.encoding = commitment_option(cfg), parse_account_encoding(cfg, "binary")
            if kind == "program":
                sub.filters = parse_filters(cfg.get("filters"))
        elif kind == "signature":
            if not params or not isinstance(params[0], str):
                raise invalid_params("Invalid params: missing signature.")
            try:
                sub.key = Signature.from_string(params[0])
            except ValueError:
                raise invalid_params("Invalid Request: Invalid signature provided") from None
            cfg = config_at(params, 1)
            sub.commitment = commitment_option(cfg)
            sub.received_notification = bool(cfg.get("enableReceivedNotification", False))
        elif kind == "logs":
            if not params:
                raise invalid_params("Invalid params: missing filter.")
            flt = params[0]
            if flt in ("all", "allWithVotes"):
                sub.key = None
            elif isinstance(flt, dict) and isinstance(flt.get("mentions"), list):
                if len(flt["mentions"]) != 1:
                    raise invalid_params("Invalid Request: Only 1 address supported")
                sub.key = subscription_pubkey_param(flt["mentions"][0], "mention")
            else:
                raise invalid_params("Invalid params: unknown logs filter.")
            sub.commitment = commitment_option(config_at(params, 1))
        elif params:
            raise invalid_params("Invalid params: this method takes no parameters.")
        self._add(sub)
        if kind == "signature":
            # A signature that already landed is answered now, as the confirmation race needs.
            known = self._recent.get(sub.key)
            if known is not None and self._reached[sub.commitment] >= known[0]:
                self._schedule_signature_answer(sub, known)
        return sub.id

    def _schedule_signature_answer(self, sub: Subscription, known: tuple[int, Any]) -> None:
        # After the subscribe reply: clients expect the id before its first notification.
        slot, err = known
        asyncio.get_running_loop().call_soon(self._send_signature, sub, slot, err)

    def _unsubscribe(self, conn: Connection, kind: str, params: list[Any]) -> bool:
        if len(params) != 1 or not isinstance(params[0], int) or isinstance(params[0], bool):
            raise invalid_params("Invalid params: expected a subscription id.")
        sub = conn.subs.get(params[0])
        if sub is None or sub.kind != kind:
            raise invalid_params("Invalid subscription id.")
        self._remove(sub)
        return True

    def _index(self, sub: Subscription) -> dict[int, Subscription]:
        if sub.kind == "account":
            return self._by_account[sub.key]
        if sub.kind == "program":
            return self._by_program[sub.key]
        if sub.kind == "signature":
            return self._by_signature[sub.key]
        if sub.kind == "logs":
            return self._logs_all if sub.key is None else self._by_mention[sub.key]
        if sub.kind == "slot":
            return self._slot_subs
        return self._root_subs

    def _add(self, sub: Subscription) -> None:
        self._subs[sub.id] = sub
        sub.conn.subs[sub.id] = sub
        self._index(sub)[sub.id] = sub

    def _remove(self, sub: Subscription) -> None:
        self._subs.pop(sub.id, None)
        sub.conn.subs.pop(sub.id, None)
        index = self._index(sub)
        index.pop(sub.id, None)
        if not index and sub.kind in ("account", "program", "signature", "logs") and sub.key is not None:
            table = {"account": self._by_account, "program": self._by_program,
                     "signature": self._by_signature, "logs": self._by_mention}[sub.kind]
            table.pop(sub.key, None)

    @property
    def subscription_count(self) -> int:
        return len(self._subs)

    # ---- cluster events

    def on_event(self, event: ClusterEvent) -> None:
        """The cluster listener: never blocks, only formats and queues."""
        if self.faults.take_ws_drop_all():
            self.drop_connections()
        try:
            if isinstance(event, TxEvent):
                self._on_tx(event)
            elif isinstance(event, CommitmentEvent):
                self._on_commitment(event)
            elif isinstance(event, SlotEvent):
                self._on_slot(event)
        except Exception:  # a bad event must not take the cluster's slot clock down with it
            log.exception("pubsub failed on %r", type(event).__name__)

    def _on_tx(self, ev: TxEvent) -> None:
        self._recent[ev.signature] = (ev.slot, ev.err)
        if len(self._recent) > _RECENT_SIGNATURES:
            self._recent.popitem(last=False)
        self._reached["processed"] = max(self._reached["processed"], ev.slot)
        self._pending[ev.slot].append(ev)
        for sub in list(self._by_signature.get(ev.signature, {}).values()):
            if sub.received_notification:
                self._notify(sub, ev.slot, json.dumps(_RECEIVED))
        if self._subs:
            self._deliver(ev.slot, [ev], "processed")

    def _on_commitment(self, ev: CommitmentEvent) -> None:
        level = COMMITMENT_ALIASES.get(ev.commitment, ev.commitment)
        if level not in ("confirmed", "finalized"):
            return
        start = self._reached[level] + 1
        self._reached[level] = max(self._reached[level], ev.slot)
        for slot in sorted(s for s in self._pending if start <= s <= ev.slot):
            self._deliver(slot, self._pending[slot], level)
        if level == "finalized":
            for slot in [s for s in self._pending if s <= ev.slot]:
                del self._pending[slot]

    def _on_slot(self, ev: SlotEvent) -> None:
        self._reached["processed"] = max(self._reached["processed"], ev.slot)
        if self._slot_subs:
            body = json.dumps({"parent": ev.parent, "root": ev.root, "slot": ev.slot})
            for sub in list(self._slot_subs.values()):
                self._notify(sub, None, body)
        if ev.root != self._last_root:
            self._last_root = ev.root
            for sub in list(self._root_subs.values()):
                self._notify(sub, None, str(ev.root))
        # Finalization normally empties the buffer; this bounds it if a commitment event never comes.
        for slot in [s for s in self._pending if s < ev.slot - _MAX_PENDING_SLOTS]:
            del self._pending[slot]

    def _deliver(self, slot: int, events: list[TxEvent], level: str) -> None:
        """Send what `events` (all in `slot`) mean to every subscription at `level`."""
        if not self._subs:
            return
        latest: dict[Pubkey, Account | None] = {}
        for ev in events:
            for sub in list(self._by_signature.get(ev.signature, {}).values()):
                if sub.commitment == level:
                    self._send_signature(sub, slot, ev.err)
            if self._logs_all or self._by_mention:
                self._send_logs(ev, slot, level)
            latest.update(ev.accounts)
        # One notification per account per slot at confirmed/finalized, as a bank shows it;
        # at processed one per transaction (each `events` list holds one).
        for pubkey, account in latest.items():
            for sub in list(self._by_account.get(pubkey, {}).values()):
                if sub.commitment == level:
                    value = self._encode(account, sub.encoding)
                    self._notify(sub, slot, json.dumps(value))
            if account is None:
                continue
            for sub in list(self._by_program.get(account.owner, {}).values()):
                if sub.commitment != level:
                    continue
                data = bytes(account.data)
                if all(f.matches(data) for f in sub.filters):
                    value = {"pubkey": str(pubkey),
                             "account": self._encode(account, sub.encoding)}
                    self._notify(sub, slot, json.dumps(value))

    def _send_logs(self, ev: TxEvent, slot: int, level: str) -> None:
        targets: Iterable[Subscription] = list(self._logs_all.values())
        if self._by_mention:
            targets = itertools.chain(targets, *(self._by_mention.get(k, {}).values() for k in ev.mentions))
        body: str | None = None
        for sub in list(targets):
            if sub.commitment != level:
                continue
            if body is None:
                body = json.dumps({"signature": str(ev.signature), "err": error_json(ev.err),
                                   "logs": list(ev.logs)})
            self._notify(sub, slot, body)

    def _send_signature(self, sub: Subscription, slot: int, err: Any) -> None:
        if sub.id not in self._subs:
            return
        self._notify(sub, slot, json.dumps({"err": error_json(err)}))
        self._remove(sub)  # signature subscriptions are one-shot, as in agave

    def _encode(self, account: Account | None, enc: AccountEncoding) -> dict[str, Any]:
        """`UiAccount` JSON; a deleted account reads as agave shows it (0 lamports, system-owned)."""
        if account is None:
            account = _DELETED
        return encode_account(account, enc, self._decimals.get, limit_base58=False)

    def _notify(self, sub: Subscription, slot: int | None, value_json: str) -> None:
        conn = sub.conn
        if conn.dropped:
            return
        if self.faults.roll(self.faults.ws_drop_rate):
            conn.drop()
            self.connections_dropped += 1
            self._forget(conn)
            return
        if self.faults.roll(self.faults.skip_notification_rate):
            return
        result = value_json if slot is None else f'{{"context":{{"slot":{slot}}},"value":{value_json}}}'
        message = (f'{{"jsonrpc":"2.0","method":"{_NOTIFICATION_METHOD[sub.kind]}",'
                   f'"params":{{"result":{result},"subscription":{sub.id}}}}}')
        if conn.push(message, self._due()):
            self.notifications_sent += 1
        else:
            self.connections_dropped += 1
            self._forget(conn)


def _error_reply(req_id: Any, code: int, message: str) -> str:
    return json.dumps({"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": req_id})
