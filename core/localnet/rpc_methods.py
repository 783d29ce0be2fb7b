"""The Solana JSON-RPC methods of the local cluster, answered as agave answers them.

Each method takes the request's positional `params` list and returns the JSON `result`, or raises
`RpcError`. All of them are synchronous: they read LiteSVM on the event loop thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from solders.account import Account
from solders.message import MessageV0, from_bytes_versioned
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from core.localnet import bundle_simulation
from core.localnet import rpc_errors as E
from core.localnet.account_encoding import (
    AccountEncoding,
    encode_account,
    parse_account_encoding,
    parse_filters,
)
from core.localnet.cluster import Cluster, TxRejected
from core.localnet.rpc_errors import RpcError, invalid_params
from core.localnet.rpc_params import (
    MESSAGE_TYPE,
    bool_option,
    commitment_option,
    config_at,
    decode_and_deserialize,
    decode_transaction,
    hash_param,
    list_param,
    param,
    pubkey_param,
    signature_param,
    tx_encoding_option,
    ui_transaction_encoding_config,
    uint_param,
)
from core.localnet.token_balances import TOKEN_PROGRAMS, ui_token_amount
from core.localnet.tx_errors import error_text
from core.localnet.tx_inspect import LoadedKeys, active_lookup_addresses, lookup_table
from core.localnet.tx_json import accounts_only, encoded_with_meta, status_json
from core.protocols import ids
from core.protocols.errors import DecodeError
from core.protocols.spl_token import MINT_LEN, TOKEN_ACCOUNT_LEN, decode_mint, decode_token_account

API_VERSION = "2.2.0"
FEATURE_SET = 3_294_202_862
MAX_MULTIPLE_ACCOUNTS = 100
MAX_SIGNATURE_STATUSES = 256
MAX_PRIORITIZATION_FEE_ADDRESSES = 128
MAX_SIGNATURES_FOR_ADDRESS = 1000
MAX_BLOCKS_RANGE = 500_000


class RpcMethods:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.table: dict[str, Callable[[list[Any]], Any]] = {
            name: getattr(self, name)
            for name in (
                "getHealth", "getVersion", "getSlot", "getBlockHeight", "getEpochInfo",
                "getLatestBlockhash", "isBlockhashValid", "getAccountInfo", "getMultipleAccounts",
                "getProgramAccounts", "getBalance", "getTokenAccountBalance", "getTokenAccountsByOwner",
                "getMinimumBalanceForRentExemption", "getFeeForMessage", "sendTransaction",
                "simulateTransaction", "getSignatureStatuses", "getTransaction",
                "getRecentPrioritizationFees", "requestAirdrop", "getFirstAvailableBlock",
                "getGenesisHash", "getIdentity", "getTransactionCount", "getEpochSchedule",
                "minimumLedgerSlot", "getBlockTime", "getTokenSupply", "getSignaturesForAddress",
                "getSlotLeader", "getBlock", "getBlocks", "getBlocksWithLimit", "simulateBundle",
                "arbtui_getScenario",
            )
        }

    # -- shared pieces ---------------------------------------------------------------------------
    def _bank_slot(self, cfg: dict[str, Any], commitment_key: str = "commitment") -> tuple[str, int]:
        commitment = commitment_option(cfg, commitment_key)
        slot = self.cluster.commitment_slot(commitment)
        min_slot = cfg.get("minContextSlot")
        if min_slot is not None and slot < uint_param(min_slot):
            raise E.min_context_slot_not_reached(slot)
        return commitment, slot

    @staticmethod
    def _context(slot: int, value: Any) -> dict[str, Any]:
        return {"context": {"slot": slot, "apiVersion": API_VERSION}, "value": value}

    def _encode(self, account: Account, enc: AccountEncoding, commitment: str) -> dict[str, Any]:
        return encode_account(account, enc, self.cluster.mint_decimals)

    # -- cluster state -----------------------------------------------------------------------------
    def arbtui_getScenario(self, params: list[Any]) -> dict[str, Any]:
        """Not a Solana method: the genesis scenario (public keys only), so an engine attached to
        this cluster finds its pools, lenders and operator wallet without sharing a process."""
        scenario = self.cluster.scenario
        if hasattr(scenario, "to_dict"):
            return scenario.to_dict()
        return dict(scenario) if isinstance(scenario, dict) else {}

    def getHealth(self, params: list[Any]) -> str:
        if not self.cluster.ready:
            raise E.node_unhealthy()
        return "ok"

    def getVersion(self, params: list[Any]) -> dict[str, Any]:
        return {"solana-core": API_VERSION, "feature-set": FEATURE_SET}

    def getSlot(self, params: list[Any]) -> int:
        return self._bank_slot(config_at(params, 0))[1]

    def getBlockHeight(self, params: list[Any]) -> int:
        return self.cluster.block_height_at(self._bank_slot(config_at(params, 0))[1])

    def getEpochInfo(self, params: list[Any]) -> dict[str, int]:
        commitment, _ = self._bank_slot(config_at(params, 0))
        return self.cluster.epoch_info(commitment)

    def getEpochSchedule(self, params: list[Any]) -> dict[str, Any]:
        schedule = self.cluster.svm.get_epoch_schedule()
        return {
            "firstNormalEpoch": schedule.first_normal_epoch,
            "firstNormalSlot": schedule.first_normal_slot,
            "leaderScheduleSlotOffset": schedule.leader_schedule_slot_offset,
            "slotsPerEpoch": schedule.slots_per_epoch,
            "warmup": schedule.warmup,
        }

    def getTransactionCount(self, params: list[Any]) -> int:
        return self.cluster.transaction_count

    def getLatestBlockhash(self, params: list[Any]) -> dict[str, Any]:
        commitment, slot = self._bank_slot(config_at(params, 0))
        blockhash, last_valid = self.cluster.latest_blockhash(commitment)
        return self._context(slot, {"blockhash": str(blockhash), "lastValidBlockHeight": last_valid})

    def isBlockhashValid(self, params: list[Any]) -> dict[str, Any]:
        blockhash = hash_param(param(params, 0, "blockhash"))
        commitment, slot = self._bank_slot(config_at(params, 1))
        return self._context(slot, self.cluster.is_blockhash_valid(blockhash, commitment))

    def getGenesisHash(self, params: list[Any]) -> str:
        return str(self.cluster.genesis_hash)

    def getIdentity(self, params: list[Any]) -> dict[str, str]:
        return {"identity": str(self.cluster.identity)}

    def getFirstAvailableBlock(self, params: list[Any]) -> int:
        return self.cluster.first_available_slot

    def minimumLedgerSlot(self, params: list[Any]) -> int:
        return self.cluster.first_available_slot

    def getSlotLeader(self, params: list[Any]) -> str:
        self._bank_slot(config_at(params, 0))
        return str(self.cluster.identity)

    def getBlockTime(self, params: list[Any]) -> int:
        slot = uint_param(param(params, 0, "slot"))
        confirmed = slot <= self.cluster.commitment_slot("confirmed")
        block_time = self.cluster.block_time(slot) if confirmed else None
        if block_time is None:
            raise RpcError(E.BLOCK_NOT_AVAILABLE, f"Block not available for slot {slot}")
        return block_time

    def getMinimumBalanceForRentExemption(self, params: list[Any]) -> int:
        size = uint_param(param(params, 0, "data length"), "usize")
        self._bank_slot(config_at(params, 1))
        return self.cluster.svm.minimum_balance_for_rent_exemption(size)

    # -- accounts ----------------------------------------------------------------------------------
    def getAccountInfo(self, params: list[Any]) -> dict[str, Any]:
        pubkey = pubkey_param(param(params, 0, "pubkey"))
        cfg = config_at(params, 1)
        commitment, slot = self._bank_slot(cfg)
        enc = parse_account_encoding(cfg, "binary")
        account = self.cluster.get_account(pubkey, commitment)
        return self._context(slot, None if account is None else self._encode(account, enc, commitment))

    def getMultipleAccounts(self, params: list[Any]) -> dict[str, Any]:
        keys = [pubkey_param(k) for k in list_param(param(params, 0, "pubkeys"), MAX_MULTIPLE_ACCOUNTS)]
        cfg = config_at(params, 1)
        commitment, slot = self._bank_slot(cfg)
        enc = parse_account_encoding(cfg, "base64")
        values = []
        for key in keys:
            account = self.cluster.get_account(key, commitment)
            values.append(None if account is None else self._encode(account, enc, commitment))
        return self._context(slot, values)

    def getBalance(self, params: list[Any]) -> dict[str, Any]:
        pubkey = pubkey_param(param(params, 0, "pubkey"))
        commitment, slot = self._bank_slot(config_at(params, 1))
        account = self.cluster.get_account(pubkey, commitment)
        return self._context(slot, 0 if account is None else account.lamports)

    def getProgramAccounts(self, params: list[Any]) -> Any:
        program = pubkey_param(param(params, 0, "program id"))
        cfg = config_at(params, 1)
        commitment, slot = self._bank_slot(cfg)
        enc = parse_account_encoding(cfg, "binary")
        filters = parse_filters(cfg.get("filters"))
        with_context = bool_option(cfg, "withContext")
        out = []
        for pubkey, account in sorted(self.cluster.program_accounts(program, commitment),
                                      key=lambda kv: bytes(kv[0])):
            data = bytes(account.data)
            if all(f.matches(data) for f in filters):
                out.append({"pubkey": str(pubkey), "account": self._encode(account, enc, commitment)})
        return self._context(slot, out) if with_context else out

    def getTokenAccountBalance(self, params: list[Any]) -> dict[str, Any]:
        pubkey = pubkey_param(param(params, 0, "pubkey"))
        commitment, slot = self._bank_slot(config_at(params, 1))
        account = self.cluster.get_account(pubkey, commitment)
        if account is None:
            raise invalid_params("Invalid param: could not find account")
        if account.owner not in TOKEN_PROGRAMS or len(account.data) != TOKEN_ACCOUNT_LEN:
            raise invalid_params("Invalid param: not a Token account")
        try:
            token = decode_token_account(bytes(account.data), pubkey)
        except DecodeError:
            raise invalid_params("Invalid param: not a Token account") from None
        decimals = self.cluster.mint_decimals(token.mint)
        if decimals is None:
            raise invalid_params("Invalid param: could not find mint")
        return self._context(slot, ui_token_amount(token.amount, decimals))

    def getTokenSupply(self, params: list[Any]) -> dict[str, Any]:
        mint = pubkey_param(param(params, 0, "mint"))
        commitment, slot = self._bank_slot(config_at(params, 1))
        account = self.cluster.get_account(mint, commitment)
        if account is None:
            raise invalid_params("Invalid param: could not find account")
        if account.owner not in TOKEN_PROGRAMS:
            raise invalid_params("Invalid param: not a Token mint")
        try:
            decoded = decode_mint(bytes(account.data)[:MINT_LEN], mint)
        except DecodeError:
            raise invalid_params("Invalid param: mint could not be unpacked") from None
        return self._context(slot, ui_token_amount(decoded.supply, decoded.decimals))

    def getTokenAccountsByOwner(self, params: list[Any]) -> dict[str, Any]:
        owner = pubkey_param(param(params, 0, "owner"))
        selector = param(params, 1, "token account filter")
        cfg = config_at(params, 2)
        commitment, slot = self._bank_slot(cfg)
        enc = parse_account_encoding(cfg, "binary")
        if not isinstance(selector, dict) or len(selector) != 1 or not (
            "mint" in selector or "programId" in selector
        ):
            raise invalid_params(
                "Invalid params: data did not match any variant of untagged enum RpcTokenAccountsFilter."
            )
        mint: Pubkey | None = None
        if "mint" in selector:
            mint = pubkey_param(selector["mint"])
            mint_account = self.cluster.get_account(mint, commitment)
            if mint_account is None:
                raise invalid_params("Invalid param: could not find mint")
            program = mint_account.owner
        else:
            program = pubkey_param(selector["programId"])
        if program not in TOKEN_PROGRAMS:
            raise invalid_params("Invalid param: unrecognized Token program id")
        out = []
        for pubkey, account in sorted(self.cluster.program_accounts(program, commitment),
                                      key=lambda kv: bytes(kv[0])):
            data = bytes(account.data)
            if len(data) != TOKEN_ACCOUNT_LEN or data[32:64] != bytes(owner):
                continue
            if mint is not None and data[0:32] != bytes(mint):
                continue
            out.append({"pubkey": str(pubkey), "account": self._encode(account, enc, commitment)})
        return self._context(slot, out)

    # -- fees --------------------------------------------------------------------------------------
    def getFeeForMessage(self, params: list[Any]) -> dict[str, Any]:
        encoded = param(params, 0, "message")
        commitment, slot = self._bank_slot(config_at(params, 1))
        _, message = decode_and_deserialize(encoded, "base64", MESSAGE_TYPE, from_bytes_versioned)
        return self._context(slot, self.cluster.fee_for_message(message, commitment))

    def getRecentPrioritizationFees(self, params: list[Any]) -> list[dict[str, int]]:
        raw = params[0] if params and params[0] is not None else []
        keys = [pubkey_param(k) for k in list_param(raw, MAX_PRIORITIZATION_FEE_ADDRESSES)]
        fees = self.cluster.prioritization_fees(keys)
        return [{"slot": slot, "prioritizationFee": fee} for slot, fee in fees]

    # -- transactions ------------------------------------------------------------------------------
    def _check_lookups(self, tx: VersionedTransaction, commitment: str) -> None:
        """Address loading happens while sanitizing, before any preflight: its errors are -32602."""
        message = tx.message
        if not isinstance(message, MessageV0):
            return
        for lookup in message.address_table_lookups:
            account = self.cluster.get_account(lookup.account_key, commitment)
            if account is None:
                reason = "AddressLookupTableNotFound"
            elif account.owner != ids.ADDRESS_LOOKUP_TABLE_PROGRAM:
                reason = "InvalidAddressLookupTableOwner"
            else:
                table = lookup_table(account)
                if table is None:
                    reason = "InvalidAddressLookupTableData"
                else:
                    usable = active_lookup_addresses(table, self.cluster.slot)
                    indexes = [*bytes(lookup.writable_indexes), *bytes(lookup.readonly_indexes)]
                    if all(i < usable for i in indexes):
                        continue
                    reason = "InvalidAddressLookupTableIndex"
            raise invalid_params(f"invalid transaction: {error_text(reason)}")

    @staticmethod
    def _sanitize(tx: VersionedTransaction) -> None:
        try:
            tx.sanitize()
        except Exception as exc:  # solders raises its own SanitizeError type
            raise invalid_params(f"invalid transaction: {error_text('SanitizeFailure')}") from exc
        if len(tx.signatures) != tx.message.header.num_required_signatures:
            raise invalid_params(f"invalid transaction: {error_text('SanitizeFailure')}")

    def sendTransaction(self, params: list[Any]) -> str:
        cfg = config_at(params, 1)
        _, tx = decode_transaction(param(params, 0, "transaction"), tx_encoding_option(cfg))
        skip_preflight = bool_option(cfg, "skipPreflight")
        if cfg.get("maxRetries") is not None:
            uint_param(cfg["maxRetries"], "usize")
        preflight_cfg = dict(cfg)
        if skip_preflight:
            preflight_cfg["preflightCommitment"] = "processed"
        commitment, _ = self._bank_slot(preflight_cfg, "preflightCommitment")
        self._sanitize(tx)
        self._check_lookups(tx, commitment)
        signature = tx.signatures[0]
        if not skip_preflight:
            if not all(tx.verify_with_results()):
                raise E.signature_verification_failure()
            # Signatures were just verified: the simulation need not verify them again.
            sim = self.cluster.simulate(tx, commitment=commitment, detail=False)
            if sim.err is not None:
                raise E.preflight_failure(
                    f"Transaction simulation failed: {error_text(sim.err_json)}",
                    {
                        "err": sim.err_json,
                        "logs": sim.logs,
                        "accounts": None,
                        "unitsConsumed": sim.units_consumed,
                        "returnData": sim.return_data,
                        "innerInstructions": None,
                        "replacementBlockhash": None,
                    },
                )
        # As on mainnet, a rejected transaction was still accepted by the RPC node: the leader
        # drops it and its status never appears.
        with contextlib.suppress(TxRejected):
            self.cluster.submit(tx, signatures_verified=not skip_preflight)
        return str(signature)

    def simulateTransaction(self, params: list[Any]) -> dict[str, Any]:
        cfg = config_at(params, 1)
        _, tx = decode_transaction(param(params, 0, "transaction"), tx_encoding_option(cfg))
        commitment, slot = self._bank_slot(cfg)
        sig_verify = bool_option(cfg, "sigVerify")
        replace = bool_option(cfg, "replaceRecentBlockhash")
        if sig_verify and replace:
            raise invalid_params("sigVerify may not be used with replaceRecentBlockhash")
        inner = bool_option(cfg, "innerInstructions")
        accounts_cfg = cfg.get("accounts")
        self._sanitize(tx)
        self._check_lookups(tx, commitment)
        if sig_verify and not all(tx.verify_with_results()):
            raise E.signature_verification_failure()
        sim = self.cluster.simulate(
            tx, commitment=commitment, sig_verify=sig_verify, replace_blockhash=replace
        )
        accounts = None
        if accounts_cfg is not None:
            accounts = self._simulated_accounts(accounts_cfg, sim.post_accounts, sim.loaded, commitment)
        replacement = None
        if sim.replacement_blockhash is not None:
            blockhash, last_valid = sim.replacement_blockhash
            replacement = {"blockhash": str(blockhash), "lastValidBlockHeight": last_valid}
        value = {
            "err": sim.err_json,
            "logs": sim.logs,
            "accounts": accounts,
            "unitsConsumed": sim.units_consumed,
            "returnData": sim.return_data,
            "innerInstructions": sim.inner_instructions if inner else None,
            "replacementBlockhash": replacement,
            "fee": sim.fee if sim.err is None else None,
            "preBalances": sim.pre_balances or None,
            "postBalances": sim.post_balances or None,
        }
        return self._context(slot, value)

    def simulateBundle(self, params: list[Any]) -> dict[str, Any]:
        """Jito-Solana's bundle simulation (core/localnet/bundle_simulation.py)."""
        request = bundle_simulation.parse_request(self.cluster, params)
        for tx in request.txs:
            self._check_lookups(tx, "processed")
        value = bundle_simulation.simulate(
            self.cluster,
            request.txs,
            request.pre_configs,
            request.post_configs,
            skip_sig_verify=request.skip_sig_verify,
            replace_recent_blockhash=request.replace_recent_blockhash,
        )
        return self._context(request.bank_slot, value)

    def _simulated_accounts(
        self, cfg: Any, post: dict[Pubkey, Account | None], loaded: LoadedKeys | None, commitment: str
    ) -> list[Any]:
        if not isinstance(cfg, dict) or not isinstance(cfg.get("addresses"), list):
            raise invalid_params(
                "Invalid params: invalid type: expected struct RpcSimulateTransactionAccountsConfig."
            )
        enc = parse_account_encoding(cfg, "base64")
        if enc.encoding in ("binary", "base58"):
            raise invalid_params("base58 encoding not supported")
        max_accounts = len(loaded.keys) if loaded is not None else 0
        if len(cfg["addresses"]) > max_accounts:
            raise invalid_params(f"Too many accounts provided; max {max_accounts}")
        out = []
        for raw in cfg["addresses"]:
            key = pubkey_param(raw)
            account = post[key] if key in post else self.cluster.get_account(key, commitment)
            out.append(None if account is None else self._encode(account, enc, commitment))
        return out

    def getSignatureStatuses(self, params: list[Any]) -> dict[str, Any]:
        raw = list_param(param(params, 0, "signatures"), MAX_SIGNATURE_STATUSES)
        sigs = [signature_param(s) for s in raw]
        search = bool_option(config_at(params, 1), "searchTransactionHistory")
        values: list[Any] = []
        for sig in sigs:
            record = self.cluster.transaction(sig)
            if record is None or (not search and not self.cluster.status_cache_has(record)):
                values.append(None)
                continue
            status = self.cluster.confirmation_status(record.slot)
            values.append(
                {
                    "slot": record.slot,
                    "confirmations": None if status == "finalized" else self.cluster.slot - record.slot,
                    "err": record.err_json,
                    "status": status_json(record),
                    "confirmationStatus": status,
                }
            )
        return self._context(self.cluster.slot, values)

    def getTransaction(self, params: list[Any]) -> Any:
        sig = signature_param(param(params, 0, "signature"))
        cfg, encoding = ui_transaction_encoding_config(params, 1)
        commitment = commitment_option(cfg)
        if commitment == "processed":
            raise invalid_params("Method does not support commitment below `confirmed`")
        max_version = cfg.get("maxSupportedTransactionVersion")
        if max_version is not None:
            uint_param(max_version, "u8")
        record = self.cluster.transaction(sig)
        if record is None or record.slot > self.cluster.commitment_slot(commitment):
            return None
        result: dict[str, Any] = {"slot": record.slot}
        result.update(encoded_with_meta(record, encoding, max_version))
        result["blockTime"] = record.block_time
        return result

    def getBlock(self, params: list[Any]) -> Any:
        slot = uint_param(param(params, 0, "slot"))
        cfg, encoding = ui_transaction_encoding_config(params, 1)
        details = cfg.get("transactionDetails") or "full"
        if details not in ("full", "signatures", "none", "accounts"):
            raise invalid_params(
                f"Invalid params: unknown variant `{details}`, expected one of `full`, `signatures`, "
                "`none`, `accounts`."
            )
        rewards = cfg.get("rewards")
        rewards = True if rewards is None else bool_option(cfg, "rewards")
        commitment = commitment_option(cfg)
        if commitment == "processed":
            raise invalid_params("Method does not support commitment below `confirmed`")
        max_version = cfg.get("maxSupportedTransactionVersion")
        if max_version is not None:
            uint_param(max_version, "u8")
        if slot < self.cluster.first_available_slot:
            raise RpcError(
                E.BLOCK_CLEANED_UP,
                f"Block {slot} cleaned up, does not exist on node. First available block: "
                f"{self.cluster.first_available_slot}",
            )
        block = self.cluster.block(slot) if slot <= self.cluster.commitment_slot(commitment) else None
        if block is None:
            raise RpcError(E.BLOCK_NOT_AVAILABLE, f"Block not available for slot {slot}")
        result: dict[str, Any] = {
            "blockHeight": block.block_height,
            "blockTime": block.block_time,
            "blockhash": str(block.blockhash),
            "parentSlot": block.parent_slot,
            "previousBlockhash": str(block.previous_blockhash),
        }
        if details == "full":
            result["transactions"] = [encoded_with_meta(r, encoding, max_version) for r in block.transactions]
        elif details == "accounts":
            result["transactions"] = [accounts_only(r, max_version) for r in block.transactions]
        elif details == "signatures":
            result["signatures"] = [str(r.signature) for r in block.transactions]
        if rewards:
            result["rewards"] = []
        return result

    def getBlocks(self, params: list[Any]) -> list[int]:
        start = uint_param(param(params, 0, "start slot"))
        # The second parameter is the end slot or, when it is an object, the config.
        second = params[1] if len(params) > 1 else None
        if isinstance(second, dict):
            end_raw, cfg = None, second
        else:
            end_raw, cfg = second, config_at(params, 2)
        commitment = commitment_option(cfg)
        if commitment == "processed":
            raise invalid_params("Method does not support commitment below `confirmed`")
        highest = self.cluster.commitment_slot(commitment)
        end = highest if end_raw is None else min(uint_param(end_raw), highest)
        if end - start > MAX_BLOCKS_RANGE:
            raise invalid_params(f"Slot range too large; max {MAX_BLOCKS_RANGE}")
        return list(range(max(start, self.cluster.first_available_slot), end + 1))

    def getBlocksWithLimit(self, params: list[Any]) -> list[int]:
        start = uint_param(param(params, 0, "start slot"))
        limit = uint_param(param(params, 1, "limit"), "usize")
        if limit > MAX_BLOCKS_RANGE:
            raise invalid_params(f"Limit too large; max {MAX_BLOCKS_RANGE}")
        commitment = commitment_option(config_at(params, 2))
        if commitment == "processed":
            raise invalid_params("Method does not support commitment below `confirmed`")
        highest = self.cluster.commitment_slot(commitment)
        first = max(start, self.cluster.first_available_slot)
        return list(range(first, min(first + limit, highest + 1)))

    def getSignaturesForAddress(self, params: list[Any]) -> list[dict[str, Any]]:
        address = pubkey_param(param(params, 0, "address"))
        cfg = config_at(params, 1)
        commitment, _ = self._bank_slot(cfg)
        if commitment == "processed":
            raise invalid_params("Method does not support commitment below `confirmed`")
        limit = cfg.get("limit")
        limit = MAX_SIGNATURES_FOR_ADDRESS if limit is None else uint_param(limit, "usize")
        if not 1 <= limit <= MAX_SIGNATURES_FOR_ADDRESS:
            raise invalid_params(f"Invalid limit; max {MAX_SIGNATURES_FOR_ADDRESS}")
        before = signature_param(cfg["before"]) if cfg.get("before") is not None else None
        until = signature_param(cfg["until"]) if cfg.get("until") is not None else None
        highest = self.cluster.commitment_slot(commitment)
        out: list[dict[str, Any]] = []
        started = before is None
        for record in self.cluster.signatures_for_address(address):
            if not started:
                started = record.signature == before
                continue
            if record.signature == until or len(out) >= limit:
                break
            if record.slot > highest:
                continue
            out.append(
                {
                    "signature": str(record.signature),
                    "slot": record.slot,
                    "err": record.err_json,
                    "memo": None,
                    "blockTime": record.block_time,
                    "confirmationStatus": self.cluster.confirmation_status(record.slot),
                }
            )
        return out

    def requestAirdrop(self, params: list[Any]) -> str:
        pubkey = pubkey_param(param(params, 0, "pubkey"))
        lamports = uint_param(param(params, 1, "lamports"))
        self._bank_slot(config_at(params, 2))
        try:
            record = self.cluster.airdrop(pubkey, lamports)
        except TxRejected as exc:
            raise RpcError(E.INTERNAL_ERROR, f"airdrop request failed: {exc.text}") from None
        if record.err is not None:
            raise RpcError(E.INTERNAL_ERROR, f"airdrop request failed: {error_text(record.err_json)}")
        return str(record.signature)
