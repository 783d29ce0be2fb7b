"""PubSub over real websockets against a real cluster + JSON-RPC on loopback."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import socket
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Processed
from solana.rpc.models import TxOpts
from solana.rpc.websocket_api import SolanaWsClient
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.rpc.responses import (
    AccountNotification,
    LogsNotification,
    SignatureNotification,
    SlotNotification,
    parse_websocket_message,
)
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction
from websockets.exceptions import ConnectionClosed

from core.localnet.cluster import FINALIZATION_DEPTH, Cluster
from core.localnet.genesis import RaydiumPool, Scenario
from core.localnet.pubsub import Connection, PubSubServer
from core.localnet.simulator import swap_transaction
from core.protocols import ids, raydium_amm
from core.quote.raydium_amm import quote_pool_base_in
from tests.localnet.conftest import Localnet, start_localnet, stop_localnet

WAIT = 20.0  # seconds any single expected message may take on a loaded 2-core machine


@dataclass
class Net:
    local: Localnet
    pubsub: PubSubServer

    @property
    def scenario(self) -> Scenario:
        return self.local.cluster.scenario


async def _start(max_queue: int = 4096) -> Net:
    local = await start_localnet()
    pubsub = PubSubServer(local.cluster, "127.0.0.1", 0, local.faults, max_queue=max_queue)
    await pubsub.start()
    return Net(local, pubsub)


async def _stop(net: Net) -> None:
    await net.pubsub.stop()
    await stop_localnet(net.local)


@pytest.fixture
async def net() -> AsyncIterator[Net]:
    n = await _start()
    try:
        yield n
    finally:
        await _stop(n)


class Ws:
    """A raw JSON-RPC websocket client that keeps notifications read while waiting for replies."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.ids = iter(range(1, 1_000_000))
        self.notes: deque[dict[str, Any]] = deque()
        self.raw: dict[int, str] = {}

    async def _read(self) -> dict[str, Any] | list[Any]:
        text = await asyncio.wait_for(self.ws.recv(), WAIT)
        msg = json.loads(text)
        if isinstance(msg, dict) and "method" in msg:
            msg["_raw"] = text
            self.notes.append(msg)
        return msg

    async def call(self, method: str, params: Any = None) -> dict[str, Any]:
        req_id = next(self.ids)
        req: dict[str, Any] = {"jsonrpc": "2.0", "id": req_id, "method": method}
        if params is not None:
            req["params"] = params
        await self.ws.send(json.dumps(req))
        return await self.reply(req_id)

    async def reply(self, req_id: Any) -> dict[str, Any]:
        while True:
            msg = await self._read()
            if isinstance(msg, dict) and "method" not in msg and msg.get("id") == req_id:
                return msg

    async def send_raw(self, text: str) -> Any:
        await self.ws.send(text)
        while True:
            msg = await self._read()
            if not (isinstance(msg, dict) and "method" in msg):
                return msg

    async def subscribe(self, method: str, params: Any = None) -> int:
        reply = await self.call(method, params)
        assert "result" in reply, reply
        assert isinstance(reply["result"], int)
        return reply["result"]

    async def note(self, sub: int, method: str | None = None) -> dict[str, Any]:
        """The next notification for subscription `sub` (others stay queued)."""
        while True:
            for msg in list(self.notes):
                if msg["params"]["subscription"] == sub:
                    self.notes.remove(msg)
                    if method is not None:
                        assert msg["method"] == method
                    return msg
            await self._read()


async def _connect(net: Net, **kwargs: Any) -> Ws:
    return Ws(await websockets.connect(net.pubsub.url, **kwargs))


def _pool(scenario: Scenario, coin: str = "SOL", pc: str = "USDC") -> RaydiumPool:
    return next(p for p in scenario.raydium_pools if (p.coin_symbol, p.pc_symbol) == (coin, pc))


async def _swap(client: AsyncClient, net: Net, pool: RaydiumPool, amount_in: int, trader: int = 0) -> str:
    """Send a real SwapBaseIn (coin → pc) through JSON-RPC; returns its signature."""
    keys = [pool.address, pool.coin_vault, pool.pc_vault]
    infos = (await client.get_multiple_accounts(keys, Processed)).value
    info = raydium_amm.decode_amm_info(bytes(infos[0].data))
    coin = int.from_bytes(bytes(infos[1].data)[64:72], "little")
    pc = int.from_bytes(bytes(infos[2].data)[64:72], "little")
    out = quote_pool_base_in(info, coin, pc, amount_in, True)
    blockhash = (await client.get_latest_blockhash(Processed)).value.blockhash
    tx = swap_transaction(pool, info, net.scenario.traders[trader], amount_in, True, min_out=out * 99 // 100,
                          blockhash=blockhash)
    resp = await client.send_raw_transaction(bytes(tx), TxOpts(preflight_commitment=Processed))
    return str(resp.value)


async def _transfer(client: AsyncClient, payer: Keypair, to: Pubkey, lamports: int) -> Transaction:
    blockhash = (await client.get_latest_blockhash(Processed)).value.blockhash
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=lamports))
    return Transaction([payer], Message([ix], payer.pubkey()), blockhash)


async def _wait_for(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


# -- signatures ---------------------------------------------------------------------------------


async def test_airdrop_then_transfer_are_confirmed_by_signature_subscribe(net: Net) -> None:
    ws = await _connect(net)
    payer, dest = Keypair(), Keypair()
    async with net.local.client() as client:
        airdrop = (await client.request_airdrop(payer.pubkey(), 2 * 10**9, Processed)).value
        sub = await ws.subscribe("signatureSubscribe", [str(airdrop), {"commitment": "confirmed"}])
        note = await ws.note(sub, "signatureNotification")
        assert note["params"]["result"]["value"] == {"err": None}
        assert isinstance(parse_websocket_message(note["_raw"])[0], SignatureNotification)
        landed = net.local.cluster.transaction(airdrop).slot
        assert note["params"]["result"]["context"]["slot"] == landed
        # One-shot: the subscription is gone after its notification, as in agave.
        gone = await ws.call("signatureUnsubscribe", [sub])
        assert gone["error"]["code"] == -32602

        tx = await _transfer(client, payer, dest.pubkey(), 1_000_000)
        sig = tx.signatures[0]
        sub = await ws.subscribe(
            "signatureSubscribe", [str(sig), {"commitment": "confirmed", "enableReceivedNotification": True}]
        )
        await client.send_raw_transaction(bytes(tx), TxOpts(preflight_commitment=Processed))
        received = await ws.note(sub)
        assert received["params"]["result"]["value"] == "receivedSignature"
        done = await ws.note(sub)
        assert done["params"]["result"]["value"] == {"err": None}
        done_slot = done["params"]["result"]["context"]["slot"]
        assert net.local.cluster.confirmation_status(done_slot) != "processed"
        balance = (await client.get_balance(dest.pubkey(), Processed)).value
        assert balance == 1_000_000
    await ws.ws.close()


async def test_finalized_signature_notification_waits_for_finalization(net: Net) -> None:
    ws = await _connect(net)
    async with net.local.client() as client:
        sig = (await client.request_airdrop(Keypair().pubkey(), 10**9, Processed)).value
        sub = await ws.subscribe("signatureSubscribe", [str(sig), {"commitment": "finalized"}])
        await ws.note(sub, "signatureNotification")
        landed = net.local.cluster.transaction(sig).slot
        assert net.local.cluster.slot - FINALIZATION_DEPTH >= landed
    await ws.ws.close()


async def test_solana_py_ws_client_parses_every_notification_kind(net: Net) -> None:
    pool = _pool(net.scenario)
    async with SolanaWsClient(net.pubsub.url) as wsc, net.local.client() as client:
        await wsc.slot_subscribe()
        await wsc.account_subscribe(pubkey=pool.coin_vault, commitment="processed", encoding="base64")
        await wsc.logs_subscribe(commitment="processed")
        sig = await _swap(client, net, pool, 10**9)
        await wsc.signature_subscribe(signature=_sig(sig), commitment="processed")
        seen: set[type] = set()
        while len(seen) < 4:
            seen.add(type(await asyncio.wait_for(wsc.recv(), WAIT)))
        assert seen == {SlotNotification, AccountNotification, LogsNotification, SignatureNotification}


def _sig(text: str) -> Signature:
    return Signature.from_string(text)


# -- accounts and programs ----------------------------------------------------------------------


async def test_account_subscribe_sees_a_swap_on_a_pool_found_with_get_program_accounts(net: Net) -> None:
    ws = await _connect(net)
    async with net.local.client() as client:
        pools = (await client.get_program_accounts(ids.RAYDIUM_AMM_V4, Processed, "base64",
                                                   filters=[raydium_amm.AMM_INFO_LEN])).value
        assert len(pools) >= 20
        address = _pool(net.scenario).address
        found = next(p for p in pools if p.pubkey == address)
        info = raydium_amm.decode_amm_info(bytes(found.account.data))
        parsed_cfg = {"commitment": "processed", "encoding": "jsonParsed"}
        vault_sub = await ws.subscribe("accountSubscribe", [str(info.coin_vault), parsed_cfg])
        b64_sub = await ws.subscribe("accountSubscribe", [str(info.pc_vault),
                                                          {"commitment": "processed", "encoding": "base64"}])
        before = int((await client.get_token_account_balance(info.coin_vault, Processed)).value.amount)
        sig = await _swap(client, net, _pool(net.scenario), 2 * 10**9)
        note = await ws.note(vault_sub, "accountNotification")
        value = note["params"]["result"]["value"]
        assert value["owner"] == str(ids.TOKEN_PROGRAM)
        parsed = value["data"]["parsed"]["info"]
        assert parsed["mint"] == str(ids.NATIVE_MINT)
        assert int(parsed["tokenAmount"]["amount"]) == before + 2 * 10**9
        assert parsed["tokenAmount"]["decimals"] == 9
        pc_note = await ws.note(b64_sub, "accountNotification")
        data, encoding = pc_note["params"]["result"]["value"]["data"]
        assert encoding == "base64" and len(base64.b64decode(data)) == 165
        assert pc_note["params"]["result"]["context"]["slot"] == net.local.cluster.transaction(_sig(sig)).slot
        assert isinstance(parse_websocket_message(pc_note["_raw"])[0], AccountNotification)
    await ws.ws.close()


async def test_confirmed_account_notification_carries_the_state_of_its_slot(net: Net) -> None:
    ws = await _connect(net)
    pool = _pool(net.scenario)
    async with net.local.client() as client:
        sub = await ws.subscribe("accountSubscribe", [str(pool.coin_vault),
                                                      {"commitment": "confirmed", "encoding": "base64"}])
        sig = await _swap(client, net, pool, 10**9)
        note = await ws.note(sub, "accountNotification")
        slot = note["params"]["result"]["context"]["slot"]
        assert slot == net.local.cluster.transaction(_sig(sig)).slot
        assert net.local.cluster.slot > slot  # only sent once the slot was confirmed
    await ws.ws.close()


async def test_program_subscribe_applies_data_size_and_memcmp_filters(net: Net) -> None:
    ws = await _connect(net)
    pool = _pool(net.scenario)
    usdc = base64.b64encode(bytes(ids.USDC_MINT)).decode()
    sub = await ws.subscribe("programSubscribe", [str(ids.TOKEN_PROGRAM), {
        "commitment": "processed", "encoding": "base64",
        "filters": [{"dataSize": 165}, {"memcmp": {"offset": 0, "bytes": usdc, "encoding": "base64"}}],
    }])
    pools_sub = await ws.subscribe("programSubscribe", [str(ids.RAYDIUM_AMM_V4), {
        "commitment": "processed", "encoding": "base64", "filters": [{"dataSize": 752}],
    }])
    async with net.local.client() as client:
        await _swap(client, net, pool, 10**9)
    note = await ws.note(sub, "programNotification")
    value = note["params"]["result"]["value"]
    raw = base64.b64decode(value["account"]["data"][0])
    assert len(raw) == 165 and raw[:32] == bytes(ids.USDC_MINT)
    assert value["pubkey"] in {str(pool.pc_vault), str(net.scenario.traders[0].token_accounts["USDC"])}
    # Only USDC accounts: the SOL vault and the trader's wSOL account changed too but never show.
    for msg in list(ws.notes):
        if msg["params"]["subscription"] == sub:
            assert base64.b64decode(msg["params"]["result"]["value"]["account"]["data"][0])[:32] == bytes(
                ids.USDC_MINT)
    pool_note = await ws.note(pools_sub, "programNotification")
    assert pool_note["params"]["result"]["value"]["pubkey"] == str(pool.address)
    await ws.ws.close()


# -- slots and logs -----------------------------------------------------------------------------


async def test_slot_subscribe_reports_every_slot_with_parent_and_root(net: Net) -> None:
    ws = await _connect(net)
    sub = await ws.subscribe("slotSubscribe")
    slots = [(await ws.note(sub, "slotNotification"))["params"]["result"] for _ in range(6)]
    for prev, cur in itertools.pairwise(slots):
        assert cur["slot"] == prev["slot"] + 1
    for s in slots:
        assert s["parent"] == s["slot"] - 1
        assert s["root"] == max(s["slot"] - FINALIZATION_DEPTH, 0)
    await ws.ws.close()


async def test_root_subscribe_reports_each_new_root_as_a_bare_slot_number(net: Net) -> None:
    ws = await _connect(net)
    sub = await ws.subscribe("rootSubscribe")
    roots = [(await ws.note(sub, "rootNotification"))["params"]["result"] for _ in range(3)]
    assert all(isinstance(r, int) for r in roots)
    assert roots == sorted(set(roots))
    assert roots[-1] <= max(net.local.cluster.slot - FINALIZATION_DEPTH, 0)
    await ws.ws.close()


async def test_logs_subscribe_mentions_only_matches_transactions_that_load_the_account(net: Net) -> None:
    ws = await _connect(net)
    pool = _pool(net.scenario)
    processed = {"commitment": "processed"}
    mention = await ws.subscribe("logsSubscribe", [{"mentions": [str(pool.address)]}, processed])
    everything = await ws.subscribe("logsSubscribe", ["all", {"commitment": "processed"}])
    async with net.local.client() as client:
        payer = net.scenario.traders[1].keypair
        tx = await _transfer(client, payer, Keypair().pubkey(), 10**6)
        sent = await client.send_raw_transaction(bytes(tx), TxOpts(preflight_commitment=Processed))
        transfer_sig = str(sent.value)
        swap_sig = await _swap(client, net, pool, 10**9)
    seen_all = set()
    while len(seen_all) < 2:
        logged = await ws.note(everything, "logsNotification")
        seen_all.add(logged["params"]["result"]["value"]["signature"])
    assert seen_all == {transfer_sig, swap_sig}
    note = await ws.note(mention, "logsNotification")
    value = note["params"]["result"]["value"]
    assert value["signature"] == swap_sig and value["err"] is None
    assert any(str(ids.RAYDIUM_AMM_V4) in line for line in value["logs"])
    assert not [m for m in ws.notes if m["params"]["subscription"] == mention]
    assert isinstance(parse_websocket_message(note["_raw"])[0], LogsNotification)
    await ws.ws.close()


# -- unsubscribes and bad requests --------------------------------------------------------------


async def test_each_unsubscribe_stops_its_notifications_and_rejects_a_second_time(net: Net) -> None:
    ws = await _connect(net)
    pool = _pool(net.scenario)
    subs = {
        "slotUnsubscribe": await ws.subscribe("slotSubscribe"),
        "accountUnsubscribe": await ws.subscribe("accountSubscribe", [str(pool.coin_vault)]),
        "programUnsubscribe": await ws.subscribe("programSubscribe", [str(ids.RAYDIUM_AMM_V4)]),
        "logsUnsubscribe": await ws.subscribe("logsSubscribe", ["all"]),
        "signatureUnsubscribe": await ws.subscribe("signatureSubscribe",
                                                   [str(Keypair().sign_message(b"never sent"))]),
        "rootUnsubscribe": await ws.subscribe("rootSubscribe"),
    }
    assert len(set(subs.values())) == len(subs)
    keeper = await ws.subscribe("slotSubscribe")
    for method, sub in subs.items():
        assert (await ws.call(method, [sub]))["result"] is True
        again = await ws.call(method, [sub])
        assert again["error"] == {"code": -32602, "message": "Invalid subscription id."}
    ws.notes.clear()
    async with net.local.client() as client:
        await _swap(client, net, pool, 10**9)
    for _ in range(3):
        await ws.note(keeper, "slotNotification")
    assert all(m["params"]["subscription"] == keeper for m in ws.notes)
    assert net.pubsub.subscription_count == 1
    await ws.ws.close()


async def test_unsubscribe_of_another_kind_is_an_invalid_id(net: Net) -> None:
    ws = await _connect(net)
    sub = await ws.subscribe("slotSubscribe")
    assert (await ws.call("accountUnsubscribe", [sub]))["error"]["code"] == -32602
    assert (await ws.call("slotUnsubscribe", [sub]))["result"] is True
    await ws.ws.close()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", -32700),
        ("[]", -32600),
        ('{"id": 1, "method": "slotSubscribe"}', -32600),
        ('{"jsonrpc": "2.0", "id": 1, "method": "blockSubscribeX"}', -32601),
        ('{"jsonrpc": "2.0", "id": 1, "method": "accountSubscribe", "params": ["not-a-key"]}', -32602),
        ('{"jsonrpc": "2.0", "id": 1, "method": "accountSubscribe"}', -32602),
        ('{"jsonrpc": "2.0", "id": 1, "method": "accountSubscribe", '
         '"params": ["11111111111111111111111111111111", {"commitment": "soon"}]}', -32602),
        ('{"jsonrpc": "2.0", "id": 1, "method": "accountSubscribe", '
         '"params": ["11111111111111111111111111111111", {"encoding": "hex"}]}', -32602),
        ('{"jsonrpc": "2.0", "id": 1, "method": "programSubscribe", "params": '
         '["11111111111111111111111111111111", {"filters": [{"dataSize": 1}, {"dataSize": 2}, '
         '{"dataSize": 3}, {"dataSize": 4}, {"dataSize": 5}]}]}', -32602),
        ('{"jsonrpc": "2.0", "id": 1, "method": "programSubscribe", "params": '
         '["11111111111111111111111111111111", {"filters": [{"memcmp": {"offset": 0, "bytes": "0OIl"}}]}]}',
         -32602),
        ('{"jsonrpc": "2.0", "id": 1, "method": "logsSubscribe", "params": [{"mentions": '
         '["11111111111111111111111111111111", "11111111111111111111111111111111"]}]}', -32602),
        ('{"jsonrpc": "2.0", "id": 1, "method": "signatureSubscribe", "params": ["xyz"]}', -32602),
        ('{"jsonrpc": "2.0", "id": 1, "method": "slotUnsubscribe", "params": ["a"]}', -32602),
        ('{"jsonrpc": "2.0", "id": 1, "method": "slotSubscribe", "params": {"a": 1}}', -32602),
    ],
)
async def test_bad_requests_get_the_json_rpc_error_and_the_connection_stays_usable(
    net: Net, text: str, code: int
) -> None:
    ws = await _connect(net)
    reply = await ws.send_raw(text)
    assert reply["jsonrpc"] == "2.0" and reply["error"]["code"] == code
    assert isinstance(reply["error"]["message"], str)
    assert isinstance(await ws.subscribe("slotSubscribe"), int)
    await ws.ws.close()


async def test_subscriptions_past_the_node_limit_are_refused_until_one_is_freed() -> None:
    local = await start_localnet()
    pubsub = PubSubServer(local.cluster, "127.0.0.1", 0, local.faults, max_subscriptions=3)
    await pubsub.start()
    net = Net(local, pubsub)
    try:
        ws = await _connect(net)
        subs = [await ws.subscribe("slotSubscribe") for _ in range(3)]
        refused = await ws.call("slotSubscribe")
        assert refused["error"]["code"] == -32603 and "limit" in refused["error"]["message"]
        assert (await ws.call("slotUnsubscribe", [subs[0]]))["result"] is True
        assert isinstance(await ws.subscribe("slotSubscribe"), int)
        await ws.ws.close()
    finally:
        await _stop(net)


async def test_a_batch_of_requests_gets_a_batch_of_replies(net: Net) -> None:
    ws = await _connect(net)
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "slotSubscribe"},
             {"jsonrpc": "2.0", "id": 2, "method": "nope"}]
    replies = await ws.send_raw(json.dumps(batch))
    assert isinstance(replies, list) and [r["id"] for r in replies] == [1, 2]
    assert isinstance(replies[0]["result"], int) and replies[1]["error"]["code"] == -32601
    await ws.ws.close()


# -- slow clients and faults --------------------------------------------------------------------


async def test_a_client_that_never_reads_is_dropped_and_does_not_stall_others() -> None:
    net = await _start(max_queue=5_000)
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", net.pubsub.port))
        slow = Ws(await websockets.connect(net.pubsub.url, sock=sock, max_queue=1))
        # 2,000 slot subscriptions: ~4 MB/s of notifications, enough to fill any loopback buffer fast.
        for start in range(0, 2_000, 500):  # batches under the 64 KiB message limit
            ids_ = range(start, start + 500)
            batch = [{"jsonrpc": "2.0", "id": i, "method": "slotSubscribe"} for i in ids_]
            replies = await slow.send_raw(json.dumps(batch))
            assert all(isinstance(r["result"], int) for r in replies)
        slow.ws.transport.pause_reading()  # from here on the client never reads its socket
        healthy = await _connect(net)
        sub = await healthy.subscribe("slotSubscribe")
        await _wait_for(lambda: net.pubsub.connections_dropped >= 1, "the slow client to be dropped")
        start = net.local.cluster.slot
        got = [(await healthy.note(sub))["params"]["result"]["slot"]]
        while got[-1] < start + 3:
            got.append((await healthy.note(sub))["params"]["result"]["slot"])
        # The healthy client saw every slot, before, during and after the slow one's drop.
        assert got == list(range(got[0], got[0] + len(got)))
        assert net.pubsub.subscription_count == 1  # the dropped client's 2,000 are gone
        await healthy.ws.close()
    finally:
        await _stop(net)


async def test_fault_latency_delays_every_notification_by_at_least_the_knob(net: Net) -> None:
    created: dict[int, float] = {}
    net.local.cluster.add_listener(lambda ev: created.setdefault(getattr(ev, "slot", -1), time.monotonic()))
    ws = await _connect(net)
    sub = await ws.subscribe("slotSubscribe")
    net.local.faults.latency_ms = 300
    await ws.note(sub)  # may have been queued before the knob changed
    for _ in range(3):
        note = await ws.note(sub)
        slot = note["params"]["result"]["slot"]
        if slot in created:
            # ≥ 300 ms after the slot began (less a hair: this listener runs just after PubSub's).
            assert time.monotonic() - created[slot] >= 0.29
    net.local.faults.latency_ms = 0
    await ws.ws.close()


async def test_fault_skip_notification_rate_one_silences_and_zero_restores(net: Net) -> None:
    ws = await _connect(net)
    net.local.faults.skip_notification_rate = 1.0
    sub = await ws.subscribe("slotSubscribe")
    start = net.local.cluster.slot
    await _wait_for(lambda: net.local.cluster.slot >= start + 5, "five slots")
    resumed_after = net.local.cluster.slot
    net.local.faults.skip_notification_rate = 0.0
    first = (await ws.note(sub))["params"]["result"]["slot"]
    assert first > resumed_after
    await ws.ws.close()


async def test_fault_skip_notification_rate_half_leaves_gaps(net: Net) -> None:
    ws = await _connect(net)
    sub = await ws.subscribe("slotSubscribe")
    net.local.faults.skip_notification_rate = 0.5
    await ws.note(sub)
    slots = [(await ws.note(sub))["params"]["result"]["slot"] for _ in range(20)]
    net.local.faults.skip_notification_rate = 0.0
    assert slots[-1] - slots[0] + 1 > len(slots)  # some slots were skipped
    await ws.ws.close()


async def test_fault_ws_drop_rate_closes_the_connection_instead_of_notifying(net: Net) -> None:
    ws = await _connect(net)
    sub = await ws.subscribe("slotSubscribe")
    net.local.faults.ws_drop_rate = 1.0
    with pytest.raises(ConnectionClosed):
        while True:
            await ws.note(sub)
    net.local.faults.ws_drop_rate = 0.0
    again = await _connect(net)
    sub = await again.subscribe("slotSubscribe")
    assert (await again.note(sub))["method"] == "slotNotification"
    await again.ws.close()


async def test_fault_ws_drop_all_cuts_every_client_once(net: Net) -> None:
    clients = [await _connect(net) for _ in range(3)]
    subs = [await c.subscribe("slotSubscribe") for c in clients]
    net.local.faults.ws_drop_all = True
    for c, sub in zip(clients, subs, strict=True):
        with pytest.raises(ConnectionClosed):
            while True:
                await c.note(sub)
    assert net.local.faults.ws_drop_all is False
    fresh = await _connect(net)
    sub = await fresh.subscribe("slotSubscribe")
    assert (await fresh.note(sub))["method"] == "slotNotification"
    await fresh.ws.close()


_scalar = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
           | st.text(max_size=50))
_json = st.recursive(
    _scalar,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4),
    max_leaves=12,
)
_key = st.sampled_from([str(ids.TOKEN_PROGRAM), str(ids.USDC_MINT), str(Signature.default()), "all"])
_config = st.dictionaries(
    st.sampled_from(["commitment", "encoding", "filters", "dataSlice", "enableReceivedNotification",
                     "mentions"]),
    _json | st.sampled_from(["processed", "confirmed", "jsonParsed", "base58", "base64+zstd"]),
    max_size=4,
)
_params = _json | st.tuples(_key).map(list) | st.tuples(_key, _config).map(list) | st.tuples(
    st.fixed_dictionaries({"mentions": st.lists(_key, max_size=2)}), _config).map(list)
_methods = st.sampled_from([
    "accountSubscribe", "programSubscribe", "signatureSubscribe", "slotSubscribe", "rootSubscribe",
    "logsSubscribe", "accountUnsubscribe", "programUnsubscribe", "signatureUnsubscribe", "slotUnsubscribe",
    "rootUnsubscribe", "logsUnsubscribe", "voteSubscribe",
])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=_methods, params=_params, req_id=_json)
def test_any_request_gets_a_json_rpc_reply_never_an_exception(method: str, params: Any, req_id: Any) -> None:
    server = PubSubServer(_IDLE_CLUSTER, "127.0.0.1", 0)
    conn = Connection(None, 16)  # type: ignore[arg-type]  # replies are returned, not sent
    text = json.dumps({"jsonrpc": "2.0", "id": req_id, "method": method, "params": params})
    reply = json.loads(server._dispatch(conn, text))
    assert reply["jsonrpc"] == "2.0"
    assert ("result" in reply) != ("error" in reply)
    if "error" in reply:
        assert reply["error"]["code"] in (-32600, -32601, -32602)


_IDLE_CLUSTER = Cluster(seed=0)
