"""MarginFi v2 as a flash-loan provider: [start, borrow] before the swaps, [repay_all, end] after.

Encodings and fee math come from core/protocols/marginfi.py. `end_index` is derived from the
absolute index the builder hands over (`after_index` is the repay, the end follows it), never
computed here from a guessed layout. The flash loan needs a MarginfiAccount owned by the wallet,
created once outside the arbitrage transaction (`setup_instructions`).

What a flash loan costs: the bank's `protocol_origination_fee` on the borrowed amount, rounded up
by repay_all (0 on banks without one). `fee` uses the bank as last refreshed; the borrow accrues
interest first, which on a bank with debt can move repay_all's rounding by one base unit.
The end's health check reads the account's other active balances (bank + oracle each, in
balance order); `refresh` loads them so the end carries them.
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
    decode_owned,
    not_loaded,
)
from core.protocols import ids
from core.protocols import marginfi as mf
from core.protocols.errors import DecodeError
from core.protocols.spl_token import decode_token_account


class MarginfiProviderError(Exception):
    """The provider cannot serve `mint` (no bank configured, state not loaded, or no account)."""


class MarginfiProvider:
    """Flash loans from MarginFi banks, one bank per mint, through the wallet's MarginfiAccount.

    `banks` maps a mint to its bank address. `marginfi_account` is the wallet's account; when
    `refresh` finds it missing, `setup_instructions` returns its `marginfi_account_initialize`
    (then the `marginfi_account` key must also sign: pass a fresh keypair's pubkey here).
    """

    name = "marginfi"
    before_count = 2
    after_count = 2

    def __init__(
        self,
        banks: Mapping[Pubkey, Pubkey],
        marginfi_account: Pubkey,
        *,
        program_id: Pubkey = ids.MARGINFI_V2,
        token_program: Pubkey = ids.TOKEN_PROGRAM,
    ) -> None:
        self.program_id = program_id
        self.token_program = token_program
        self.marginfi_account = marginfi_account
        self._banks: PerMint[mf.Bank] = PerMint(
            banks, provider="marginfi", configured="MarginFi bank", what="bank", error=MarginfiProviderError
        )
        self._vault_amount: dict[Pubkey, int] = {}  # by mint
        self._account: mf.MarginfiAccount | None = None
        self._account_missing = False
        self._other_banks: dict[Pubkey, mf.Bank] = {}  # banks of the account's active balances
        self._account_error = ""

    # -- state ----------------------------------------------------------------------------------

    def set_bank(self, mint: Pubkey, bank: mf.Bank, vault_amount: int) -> None:
        """Use an already decoded bank and its vault balance (what `refresh` stores)."""
        if bank.mint != mint:
            raise MarginfiProviderError(f"bank lends {bank.mint}, not {mint}")
        self._banks.store(mint, bank)
        self._vault_amount[mint] = vault_amount

    def set_account(
        self, account: mf.MarginfiAccount | None, banks: Mapping[Pubkey, mf.Bank] | None = None
    ) -> None:
        """The wallet's MarginfiAccount (None: it does not exist yet) and the banks of its balances."""
        self._account = account
        self._account_missing = account is None
        self._account_error = ""
        self._other_banks = dict(banks or {})

    def _fail(self, mint: Pubkey, reason: str) -> None:
        self._banks.fail(mint, reason)
        self._vault_amount.pop(mint, None)

    async def refresh(self, client: AsyncClient, mint: Pubkey) -> None:
        address = self._address(mint)
        infos = (
            await client.get_multiple_accounts([address, self.marginfi_account], commitment=Processed)
        ).value
        bank_info, account_info = infos[0], infos[1]
        try:
            bank = decode_owned(bank_info, address, self.program_id, "bank", mf.decode_bank)
        except UnusableAccount as exc:
            return self._fail(mint, str(exc))
        if bank.mint != mint:
            return self._fail(mint, f"bank {address} lends {bank.mint}, not {mint}")
        vault = (await client.get_account_info(bank.liquidity_vault, commitment=Processed)).value
        if vault is None:
            return self._fail(mint, f"liquidity vault {bank.liquidity_vault} does not exist")
        try:
            vault_amount = decode_token_account(bytes(vault.data)).amount
        except (DecodeError, ValueError) as exc:
            return self._fail(mint, f"liquidity vault {bank.liquidity_vault}: {exc}")
        self.set_bank(mint, bank, vault_amount)
        await self._refresh_account(client, account_info)

    async def _refresh_account(self, client: AsyncClient, info: object) -> None:
        if info is None:
            self.set_account(None)
            return
        try:
            account = mf.decode_marginfi_account(bytes(info.data), self.marginfi_account)  # type: ignore[attr-defined]
        except DecodeError as exc:
            self.set_account(None)
            self._account_missing = False  # it exists but is unusable: initializing would fail
            self._account_error = str(exc)
            return
        keys = [b.bank_pk for b in account.active_balances()]
        banks: dict[Pubkey, mf.Bank] = {}
        if keys:
            for key, acc in zip(
                keys, (await client.get_multiple_accounts(keys, commitment=Processed)).value, strict=True
            ):
                if acc is not None:
                    banks[key] = mf.decode_bank(bytes(acc.data), key)
        self.set_account(account, banks)

    def bank(self, mint: Pubkey) -> mf.Bank:
        return self._banks.require(mint)

    def _address(self, mint: Pubkey) -> Pubkey:
        return self._banks.address(mint)

    def end_health_accounts(self, mint: Pubkey) -> list[Pubkey]:
        """Bank + oracle of every active balance other than the loan's own bank (repay_all closes
        that one before the end), in the account's balance order."""
        if self._account is None:
            return []
        loan_bank = self._address(mint)
        out: list[Pubkey] = []
        for b in self._account.active_balances():
            if b.bank_pk == loan_bank:
                continue
            bank = self._other_banks.get(b.bank_pk)
            if bank is None:
                raise MarginfiProviderError(f"bank {b.bank_pk} of an active balance is not loaded")
            out += [b.bank_pk, bank.config.oracle_keys[0]]
        return out

    # -- the interface --------------------------------------------------------------------------

    def supports(self, mint: Pubkey) -> bool:
        return self._banks.configured(mint)

    def available_liquidity(self, mint: Pubkey) -> int:
        state = self._banks.get(mint)
        return 0 if state is None else mf.available_liquidity(state, self._vault_amount[mint])

    def fee(self, mint: Pubkey, amount: int) -> int:
        return mf.flash_loan_fee(self.bank(mint), amount)

    def health(self, mint: Pubkey) -> ReserveHealth:
        state = self._banks.get(mint)
        if state is None:
            return not_loaded(self._banks.missing_reason(mint))
        assets, liabilities = state.asset_amount(), state.liability_amount()
        utilization_bps = 0 if assets <= 0 else max(liabilities, 0) * 10_000 // assets
        reasons = []
        if state.config.operational_state != mf.OperationalState.OPERATIONAL:
            reasons.append(
                f"bank operational_state {state.config.operational_state} (borrows need Operational)"
            )
        if self._vault_amount.get(mint, 0) == 0:
            reasons.append("no liquidity in the vault")
        if self._account_error:
            reasons.append(f"marginfi account: {self._account_error}")
        if self._account is not None and self._account.disabled:
            reasons.append(f"marginfi account {self.marginfi_account} is disabled")
        if self._account is not None and self._account.in_flashloan:
            reasons.append(f"marginfi account {self.marginfi_account} is flagged in a flash loan")
        # MarginFi has no "flash loans disabled" fee sentinel: a fee can always be computed.
        return ReserveHealth(not reasons, True, utilization_bps, "; ".join(reasons))

    def accounts(self, mint: Pubkey, owner: Pubkey) -> list[Pubkey]:
        state = self.bank(mint)
        address = self._address(mint)
        keys = [
            self.program_id,
            state.group,
            self.marginfi_account,
            address,
            state.liquidity_vault,
            mf.liquidity_vault_authority(address, self.program_id)[0],
            ids.SYSVAR_INSTRUCTIONS,
            self.token_program,
        ]
        keys += [k for k in self.end_health_accounts(mint) if k not in keys]
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
        if after_index < before_index + self.before_count:
            raise ValueError(f"repay index {after_index} must follow start and borrow at {before_index}")
        state = self.bank(mint)
        address = self._address(mint)
        end_index = after_index + 1  # legs.after = [repay, end]
        start = mf.lending_account_start_flashloan(
            marginfi_account=self.marginfi_account,
            authority=owner,
            end_index=end_index,
            program_id=self.program_id,
        )
        borrow = mf.lending_account_borrow(
            group=state.group,
            marginfi_account=self.marginfi_account,
            authority=owner,
            bank=address,
            destination_token_account=owner_token,
            amount=amount,
            token_program=self.token_program,
            program_id=self.program_id,
        )
        repay = mf.lending_account_repay(
            group=state.group,
            marginfi_account=self.marginfi_account,
            authority=owner,
            bank=address,
            signer_token_account=owner_token,
            amount=0,
            repay_all=True,
            token_program=self.token_program,
            program_id=self.program_id,
        )
        end = mf.lending_account_end_flashloan(
            marginfi_account=self.marginfi_account,
            authority=owner,
            health_accounts=self.end_health_accounts(mint),
            program_id=self.program_id,
        )
        return FlashLoanLegs(before=[start, borrow], after=[repay, end])

    def setup_instructions(self, owner: Pubkey) -> list[Instruction]:
        """`marginfi_account_initialize` when `refresh` found no account (the new account's key
        must sign that transaction); [] once it exists."""
        if not self._account_missing:
            return []
        group = next((b.group for b in self._banks.loaded()), None)
        if group is None:
            raise MarginfiProviderError("no bank loaded: refresh one first to know the group")
        return [
            mf.marginfi_account_initialize(
                group=group,
                marginfi_account=self.marginfi_account,
                authority=owner,
                fee_payer=owner,
                program_id=self.program_id,
            )
        ]


def end_flashloan_index(data: bytes) -> int | None:
    """The `end_index` a start_flashloan's data names (None if not a start)."""
    if len(data) == 16 and data[:8] == mf.START_FLASHLOAN_DISCRIMINATOR:
        return int.from_bytes(data[8:16], "little")
    return None


def is_end_flashloan(data: bytes) -> bool:
    return bytes(data[:8]) == mf.END_FLASHLOAN_DISCRIMINATOR
