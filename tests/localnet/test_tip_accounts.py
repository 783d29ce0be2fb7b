"""Genesis holds mainnet's 8 Jito tip accounts, so tips and simulateBundle work with no block engine."""

from __future__ import annotations

import base64
import hashlib

from solders.account import Account
from solders.pubkey import Pubkey

from core.localnet.accounts import TIP_ACCOUNT_DATA_LEN, set_tip_accounts
from core.protocols import ids
from tests.localnet.bundle_helpers import funded, tip_tx
from tests.localnet.conftest import Localnet, start_block_engine, stop_block_engine
from tests.localnet.rpc_helpers import rpc

MIN_TIP = 1_000  # the smallest tip the block engine accepts; far below the rent-exempt minimum


async def account_info(net: Localnet, address: Pubkey) -> dict:
    config = {"encoding": "base64", "commitment": "processed"}
    reply = await rpc(net.url, "getAccountInfo", [str(address), config])
    return reply["result"]["value"]


async def test_genesis_creates_the_eight_mainnet_tip_accounts_rent_exempt_and_owned_by_tip_payment(
    localnet: Localnet,
) -> None:
    rent = localnet.cluster.svm.minimum_balance_for_rent_exemption(TIP_ACCOUNT_DATA_LEN)
    discriminator = hashlib.sha256(b"account:TipPaymentAccount").digest()[:8]
    assert len(ids.JITO_TIP_ACCOUNTS) == 8
    for address in ids.JITO_TIP_ACCOUNTS:
        info = await account_info(localnet, address)
        assert info is not None, address
        assert info["owner"] == str(ids.JITO_TIP_PAYMENT_PROGRAM)
        assert info["lamports"] == rent
        assert base64.b64decode(info["data"][0]) == discriminator
        assert info["executable"] is False


async def test_simulate_bundle_with_a_minimum_tip_succeeds_without_a_block_engine(localnet: Localnet) -> None:
    cluster = localnet.cluster
    payer = funded(cluster)
    tx = tip_tx(cluster, payer, MIN_TIP, to=ids.JITO_TIP_ACCOUNTS[5])
    reply = await rpc(localnet.url, "simulateBundle",
                      [{"encodedTransactions": [base64.b64encode(bytes(tx)).decode()]}])
    value = reply["result"]["value"]
    assert value["summary"] == "succeeded", value["summary"]
    (result,) = value["transactionResults"]
    assert result["err"] is None


async def test_a_tip_sent_before_the_block_engine_starts_is_kept_when_it_starts(localnet: Localnet) -> None:
    cluster = localnet.cluster
    tip_account = ids.JITO_TIP_ACCOUNTS[2]
    before = cluster.get_account(tip_account).lamports
    payer = funded(cluster)
    tx = tip_tx(cluster, payer, MIN_TIP, to=tip_account)
    reply = await rpc(localnet.url, "sendTransaction",
                      [base64.b64encode(bytes(tx)).decode(),
                       {"encoding": "base64", "preflightCommitment": "processed"}])
    assert "result" in reply, reply
    assert cluster.get_account(tip_account).lamports == before + MIN_TIP

    engine = await start_block_engine(localnet)  # creates missing tip accounts, never resets one
    try:
        assert cluster.get_account(tip_account).lamports == before + MIN_TIP
    finally:
        await stop_block_engine(engine)


async def test_set_tip_accounts_recreates_a_missing_one_only(localnet: Localnet) -> None:
    svm = localnet.cluster.svm
    kept, missing = ids.JITO_TIP_ACCOUNTS[0], ids.JITO_TIP_ACCOUNTS[7]
    kept_account = svm.get_account(kept)
    richer = Account(kept_account.lamports + 42, kept_account.data, kept_account.owner, False, 0)
    svm.set_account(kept, richer)
    svm.set_account(missing, Account(0, b"", ids.SYSTEM_PROGRAM, False, 0))  # as LiteSVM deletes one
    set_tip_accounts(svm)
    assert svm.get_account(kept).lamports == kept_account.lamports + 42
    assert svm.get_account(missing).owner == ids.JITO_TIP_PAYMENT_PROGRAM
