"""Solend (Save) as a flash-loan provider: [borrow] before the swaps, [repay] after them.

Encodings and fee math come from core/protocols/solend.py. The repay's `borrow_instruction_index`
is the absolute index the builder hands over (`before_index`), never computed here.
"""

from __future__ import annotations

from collections.abc import Mapping

from solana.rpc.async_api import AsyncClient
from solders.instruction import Instruction
from solders.pubkey import Pubkey

from core.flashloan.provider import (
    FlashLoanLegs,
    PerMint,
    ReserveHealth,
    UnusableAccount,
    fetch_owned,
    not_loaded,
)
from core.protocols import ids, solend


class SolendProviderError(Exception):
    """The provider cannot serve `mint` (no reserve configured, or its state was never loaded)."""


class SolendProvider:
    """Flash loans from Solend reserves, one reserve per mint.

    `reserves` maps a liquidity mint to its reserve address. `host_fee_receivers` optionally maps
    a mint to the token account that receives the host share of the fee (default: the reserve's
    own fee receiver, so the whole fee leaves the wallet and `fee()` is the full cost).
    """

    name = "solend"
    before_count = 1
    after_count = 1

    def __init__(
        self,
        reserves: Mapping[Pubkey, Pubkey],
        *,
        host_fee_receivers: Mapping[Pubkey, Pubkey] | None = None,
        program_id: Pubkey = ids.SOLEND,
        token_program: Pubkey = ids.TOKEN_PROGRAM,
    ) -> None:
        self.program_id = program_id
        self.token_program = token_program
        self._reserves: PerMint[solend.Reserve] = PerMint(
            reserves, provider="solend", configured="Solend reserve", what="reserve",
            error=SolendProviderError,
        )
        self._host = dict(host_fee_receivers or {})

    # -- state ----------------------------------------------------------------------------------

    def set_reserve(self, mint: Pubkey, reserve: solend.Reserve) -> None:
        """Use an already decoded reserve (what `refresh` stores)."""
        if reserve.liquidity_mint_pubkey != mint:
            raise SolendProviderError(f"reserve lends {reserve.liquidity_mint_pubkey}, not {mint}")
        self._reserves.store(mint, reserve)

    def _fail(self, mint: Pubkey, reason: str) -> None:
        self._reserves.fail(mint, reason)

    async def refresh(self, client: AsyncClient, mint: Pubkey) -> None:
        address = self._address(mint)
        try:
            reserve = await fetch_owned(client, address, self.program_id, "reserve", solend.decode_reserve)
        except UnusableAccount as exc:
            return self._fail(mint, str(exc))
        if reserve.liquidity_mint_pubkey != mint:
            return self._fail(mint, f"reserve {address} lends {reserve.liquidity_mint_pubkey}, not {mint}")
        self.set_reserve(mint, reserve)

    def reserve(self, mint: Pubkey) -> solend.Reserve:
        return self._reserves.require(mint)

    def _address(self, mint: Pubkey) -> Pubkey:
        return self._reserves.address(mint)

    # -- the interface --------------------------------------------------------------------------

    def supports(self, mint: Pubkey) -> bool:
        return self._reserves.configured(mint)

    def available_liquidity(self, mint: Pubkey) -> int:
        state = self._reserves.get(mint)
        return 0 if state is None else state.available_amount

    def fee(self, mint: Pubkey, amount: int) -> int:
        total, _host = solend.flash_loan_cost(self.reserve(mint), amount)
        return total

    def health(self, mint: Pubkey) -> ReserveHealth:
        state = self._reserves.get(mint)
        if state is None:
            return not_loaded(self._reserves.missing_reason(mint))
        fee_ok = state.flash_loans_enabled
        try:
            utilization_bps = solend.utilization_rate(state) * 10_000 // solend.WAD
        except solend.SolendError as exc:
            return ReserveHealth(False, fee_ok, 10_001, f"utilization: {exc}")
        reasons = []
        if not fee_ok:
            reasons.append("flash_loan_fee_wad is u64::MAX (flash loans disabled)")
        if state.available_amount == 0:
            reasons.append("no available liquidity")
        enabled = fee_ok and state.available_amount > 0
        return ReserveHealth(enabled, fee_ok, utilization_bps, "; ".join(reasons))

    def accounts(self, mint: Pubkey, owner: Pubkey) -> list[Pubkey]:
        state = self.reserve(mint)
        authority = solend.lending_market_authority(state.lending_market, self.program_id)[0]
        keys = [
            self.program_id,
            self._address(mint),
            state.liquidity_supply_pubkey,
            state.fee_receiver,
            state.lending_market,
            authority,
            ids.SYSVAR_INSTRUCTIONS,
            self.token_program,
        ]
        host = self._host.get(mint)
        if host is not None and host not in keys:
            keys.append(host)
        return keys

    def legs(
        self,
        mint: Pubkey,
        amount: int,
        owner: Pubkey,
        owner_token: Pubkey,
        before_index: int,
        after_index: int,
    ) -> FlashLoanLegs:
        if after_index <= before_index:
            raise ValueError(f"repay index {after_index} must follow borrow index {before_index}")
        state = self.reserve(mint)
        borrow, repay = solend.flash_loan_instructions(
            reserve_address=self._address(mint),
            reserve=state,
            liquidity_amount=amount,
            borrow_instruction_index=before_index,
            user_token_account=owner_token,
            user_transfer_authority=owner,
            host_fee_receiver=self._host.get(mint, state.fee_receiver),
            token_program=self.token_program,
            program_id=self.program_id,
        )
        return FlashLoanLegs(before=[borrow], after=[repay])

    def setup_instructions(self, owner: Pubkey) -> list[Instruction]:
        return []


def repay_borrow_index(data: bytes) -> int | None:
    """The `borrow_instruction_index` a FlashRepayReserveLiquidity's data names (None if not a repay)."""
    if len(data) == 10 and data[0] == solend.FLASH_REPAY_RESERVE_LIQUIDITY_TAG:
        return data[9]
    return None


def is_flash_borrow(data: bytes) -> bool:
    return len(data) == 9 and data[0] == solend.FLASH_BORROW_RESERVE_LIQUIDITY_TAG
