"""Kamino (klend) as a flash-loan provider: [borrow] before the swaps, [repay] after them.

Encodings and fee math come from core/protocols/kamino.py. The repay's `borrow_instruction_index`
is the absolute index the builder hands over (`before_index`), never computed here. No referrer:
both optional referrer slots carry the program-id placeholder, so the whole fee goes to the
reserve's fee vault and `fee()` is the full cost.
"""

from __future__ import annotations

from collections.abc import Mapping

from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Processed
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
from core.protocols import ids, kamino
from core.protocols.errors import DecodeError


class KaminoProviderError(Exception):
    """The provider cannot serve `mint` (no reserve configured, or its state was never loaded)."""


class KaminoProvider:
    """Flash loans from Kamino reserves, one reserve per mint (`reserves`: mint -> reserve address).

    The lending market's emergency mode refuses every flash loan; `refresh` reads the market too
    and reports it through `health`.
    """

    name = "kamino"
    before_count = 1
    after_count = 1

    def __init__(self, reserves: Mapping[Pubkey, Pubkey], *, program_id: Pubkey = ids.KAMINO_LEND) -> None:
        self.program_id = program_id
        self._reserves: PerMint[kamino.Reserve] = PerMint(
            reserves, provider="kamino", configured="Kamino reserve", what="reserve",
            error=KaminoProviderError,
        )
        self._emergency: dict[Pubkey, bool] = {}  # by mint: its market is in emergency mode

    # -- state ----------------------------------------------------------------------------------

    def set_reserve(self, mint: Pubkey, reserve: kamino.Reserve, *, emergency_mode: bool = False) -> None:
        """Use an already decoded reserve (what `refresh` stores)."""
        if reserve.liquidity_mint_pubkey != mint:
            raise KaminoProviderError(f"reserve lends {reserve.liquidity_mint_pubkey}, not {mint}")
        self._reserves.store(mint, reserve)
        self._emergency[mint] = emergency_mode

    def _fail(self, mint: Pubkey, reason: str) -> None:
        self._reserves.fail(mint, reason)

    async def refresh(self, client: AsyncClient, mint: Pubkey) -> None:
        address = self._address(mint)
        try:
            reserve = await fetch_owned(client, address, self.program_id, "reserve", kamino.decode_reserve)
        except UnusableAccount as exc:
            return self._fail(mint, str(exc))
        if reserve.liquidity_mint_pubkey != mint:
            return self._fail(mint, f"reserve {address} lends {reserve.liquidity_mint_pubkey}, not {mint}")
        market_resp = await client.get_account_info(reserve.lending_market, commitment=Processed)
        market_account = market_resp.value
        if market_account is None or market_account.owner != self.program_id:
            return self._fail(mint, f"lending market {reserve.lending_market} is missing or not klend's")
        try:
            market = kamino.decode_lending_market(bytes(market_account.data), reserve.lending_market)
        except DecodeError as exc:
            return self._fail(mint, str(exc))
        self.set_reserve(mint, reserve, emergency_mode=market.emergency_mode != 0)

    def reserve(self, mint: Pubkey) -> kamino.Reserve:
        return self._reserves.require(mint)

    def _address(self, mint: Pubkey) -> Pubkey:
        return self._reserves.address(mint)

    # -- the interface --------------------------------------------------------------------------

    def supports(self, mint: Pubkey) -> bool:
        return self._reserves.configured(mint)

    def available_liquidity(self, mint: Pubkey) -> int:
        state = self._reserves.get(mint)
        return 0 if state is None else state.liquidity_total_available_amount

    def fee(self, mint: Pubkey, amount: int) -> int:
        return kamino.flash_loan_cost(self.reserve(mint), amount)

    def health(self, mint: Pubkey) -> ReserveHealth:
        state = self._reserves.get(mint)
        if state is None:
            return not_loaded(self._reserves.missing_reason(mint))
        fee_ok = state.flash_loans_enabled
        reasons = []
        if not fee_ok:
            reasons.append("flash_loan_fee_sf is u64::MAX (flash loans disabled)")
        if state.version != kamino.PROGRAM_VERSION:
            reasons.append(f"reserve version {state.version} (deprecated)")
        if state.config_status == kamino.ReserveStatus.OBSOLETE:
            reasons.append("reserve is obsolete")
        if self._emergency.get(mint, False):
            reasons.append("lending market is in emergency mode")
        if state.liquidity_total_available_amount == 0:
            reasons.append("no available liquidity")
        return ReserveHealth(not reasons, fee_ok, state.utilization_bps, "; ".join(reasons))

    def accounts(self, mint: Pubkey, owner: Pubkey) -> list[Pubkey]:
        state = self.reserve(mint)
        authority = kamino.lending_market_authority(state.lending_market, self.program_id)[0]
        return [
            self.program_id,  # also the referrer placeholder
            self._address(mint),
            state.lending_market,
            authority,
            state.liquidity_mint_pubkey,
            state.liquidity_supply_vault,
            state.liquidity_fee_vault,
            ids.SYSVAR_INSTRUCTIONS,
            state.token_program,
        ]

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
        borrow, repay = kamino.flash_loan_instructions(
            reserve_address=self._address(mint),
            reserve=self.reserve(mint),
            liquidity_amount=amount,
            borrow_instruction_index=before_index,
            user_token_account=owner_token,
            user_transfer_authority=owner,
            program_id=self.program_id,
        )
        return FlashLoanLegs(before=[borrow], after=[repay])

    def setup_instructions(self, owner: Pubkey) -> list[Instruction]:
        return []


def repay_borrow_index(data: bytes) -> int | None:
    """The `borrow_instruction_index` a flash_repay_reserve_liquidity's data names (None if not one)."""
    if len(data) == 17 and data[:8] == kamino.FLASH_REPAY_DISCRIMINATOR:
        return data[16]
    return None


def is_flash_borrow(data: bytes) -> bool:
    return len(data) == 16 and data[:8] == kamino.FLASH_BORROW_DISCRIMINATOR
