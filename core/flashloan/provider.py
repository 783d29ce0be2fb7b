"""The one interface every flash-loan provider (Solend, MarginFi, Kamino) implements.

The builder fixes the whole instruction order first and only then asks a provider for its legs,
giving it the absolute indexes its instructions will have, so `borrow_instruction_index` /
`end_index` can never be computed before compute-budget instructions are added.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, runtime_checkable

from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Processed
from solders.account import Account
from solders.instruction import Instruction
from solders.pubkey import Pubkey

from core.protocols.errors import DecodeError

_State = TypeVar("_State")


@dataclass(frozen=True)
class ReserveHealth:
    enabled: bool  # reserve/bank accepts flash loans right now
    fee_ok: bool  # fee is not the "disabled" sentinel (u64::MAX on Solend)
    utilization_bps: int  # borrowed / (borrowed + available), basis points
    reason: str = ""  # why not healthy, for the validator's message

    @property
    def healthy(self) -> bool:
        return self.enabled and self.fee_ok and 0 <= self.utilization_bps <= 10_000


@dataclass(frozen=True)
class FlashLoanLegs:
    # Right before the swaps (Solend: [borrow]; MarginFi: [start, borrow]; Kamino: [borrow]).
    before: list[Instruction]
    # Right after the swaps (Solend: [repay]; MarginFi: [repay, end]; Kamino: [repay]).
    after: list[Instruction]


@runtime_checkable
class FlashLoanProvider(Protocol):
    name: str  # "solend" | "marginfi" | "kamino"
    program_id: Pubkey
    before_count: int  # len(legs.before), fixed per provider
    after_count: int

    async def refresh(self, client: AsyncClient, mint: Pubkey) -> None:
        """(Re)load reserve/bank state over RPC."""
        ...

    def supports(self, mint: Pubkey) -> bool: ...

    def available_liquidity(self, mint: Pubkey) -> int:
        """Base units the provider can lend now."""
        ...

    def fee(self, mint: Pubkey, amount: int) -> int:
        """Fee the repay charges for `amount`, with the program's exact rounding."""
        ...

    def health(self, mint: Pubkey) -> ReserveHealth: ...

    def accounts(self, mint: Pubkey, owner: Pubkey) -> list[Pubkey]:
        """Every account the legs touch (for lookup tables)."""
        ...

    def legs(
        self,
        mint: Pubkey,
        amount: int,
        owner: Pubkey,
        owner_token: Pubkey,
        before_index: int,
        after_index: int,
    ) -> FlashLoanLegs:
        """Borrow/repay legs; `before_index` / `after_index` are the absolute indexes of
        legs.before[0] / legs.after[0] in the final message."""
        ...

    def setup_instructions(self, owner: Pubkey) -> list[Instruction]:
        """One-time setup (a MarginFi account); [] if none."""
        ...


def not_loaded(reason: str) -> ReserveHealth:
    """The health of a reserve/bank whose state is not loaded (`reason` says why)."""
    return ReserveHealth(enabled=False, fee_ok=False, utilization_bps=0, reason=reason)


class PerMint(Generic[_State]):
    """What a provider knows per mint: the account configured for it (a reserve or a bank), that
    account's state as last loaded, or why there is none."""

    def __init__(
        self,
        addresses: Mapping[Pubkey, Pubkey],
        *,
        provider: str,
        configured: str,
        what: str,
        error: Callable[[str], Exception],
    ) -> None:
        self._addresses = dict(addresses)
        self._state: dict[Pubkey, _State] = {}
        self._why: dict[Pubkey, str] = {}
        self._provider = provider  # "kamino": prefixes the error of a state never loaded
        self._configured = configured  # "Kamino reserve": what a mint has no address for
        self._what = what  # "reserve"
        self._error = error

    def configured(self, mint: Pubkey) -> bool:
        return mint in self._addresses

    def address(self, mint: Pubkey) -> Pubkey:
        try:
            return self._addresses[mint]
        except KeyError:
            raise self._error(f"no {self._configured} configured for {mint}") from None

    def get(self, mint: Pubkey) -> _State | None:
        return self._state.get(mint)

    def require(self, mint: Pubkey) -> _State:
        state = self._state.get(mint)
        if state is None:
            reason = self._why.get(mint, f"{self._what} not loaded (call refresh first)")
            raise self._error(f"{self._provider} {mint}: {reason}")
        return state

    def loaded(self) -> list[_State]:
        return list(self._state.values())

    def store(self, mint: Pubkey, state: _State) -> None:
        self._state[mint] = state
        self._why.pop(mint, None)

    def fail(self, mint: Pubkey, reason: str) -> None:
        self._state.pop(mint, None)
        self._why[mint] = reason

    def missing_reason(self, mint: Pubkey) -> str:
        """Why the mint has no state (for `not_loaded`)."""
        return self._why.get(mint, f"{self._what} not loaded")


class UnusableAccount(Exception):
    """An account read over RPC that cannot be the reserve/bank configured: the provider's reason."""


def decode_owned(
    info: Account | None,
    address: Pubkey,
    owner: Pubkey,
    what: str,
    decode: Callable[[bytes, Pubkey], _State],
) -> _State:
    """Decode a fetched account that must exist and belong to `owner`; UnusableAccount says why not."""
    if info is None:
        raise UnusableAccount(f"{what} {address} does not exist")
    if info.owner != owner:
        raise UnusableAccount(f"{what} {address} is owned by {info.owner}, not {owner}")
    try:
        return decode(bytes(info.data), address)
    except DecodeError as exc:
        # A reserve that changed layout is unusable until someone updates the decoder.
        raise UnusableAccount(str(exc)) from None


async def fetch_owned(
    client: AsyncClient, address: Pubkey, owner: Pubkey, what: str, decode: Callable[[bytes, Pubkey], _State]
) -> _State:
    """`decode_owned` of the account at `address` as the cluster holds it now."""
    info = (await client.get_account_info(address, commitment=Processed)).value
    return decode_owned(info, address, owner, what, decode)


class NoProviderError(Exception):
    """No provider can lend `amount` of `mint` right now; `reasons` says why for each one."""

    def __init__(self, mint: Pubkey, amount: int, reasons: dict[str, str]) -> None:
        self.mint = mint
        self.amount = amount
        self.reasons = reasons
        detail = "; ".join(f"{k}: {v}" for k, v in reasons.items()) or "no provider configured"
        super().__init__(f"no flash-loan provider for {amount} of {mint}: {detail}")


def select_provider(providers: Iterable[FlashLoanProvider], mint: Pubkey, amount: int) -> FlashLoanProvider:
    """`provider = "auto"`: the cheapest provider with enough liquidity and a healthy reserve.

    Ties go to the first provider in `providers` (config order). Raises NoProviderError with
    each provider's reason when none qualifies.
    """
    best: FlashLoanProvider | None = None
    best_fee = 0
    reasons: dict[str, str] = {}
    for p in providers:
        if not p.supports(mint):
            reasons[p.name] = "mint not supported"
            continue
        health = p.health(mint)
        if not health.healthy:
            reasons[p.name] = health.reason or "reserve unhealthy"
            continue
        available = p.available_liquidity(mint)
        if available < amount:
            reasons[p.name] = f"liquidity {available} < {amount}"
            continue
        try:
            fee = p.fee(mint, amount)
        except Exception as exc:  # a provider's own refusal (e.g. SolendError) disqualifies it
            reasons[p.name] = f"fee: {exc}"
            continue
        if best is None or fee < best_fee:
            best, best_fee = p, fee
    if best is None:
        raise NoProviderError(mint, amount, reasons)
    return best


__all__ = [
    "FlashLoanLegs",
    "FlashLoanProvider",
    "NoProviderError",
    "PerMint",
    "ReserveHealth",
    "UnusableAccount",
    "decode_owned",
    "fetch_owned",
    "not_loaded",
    "select_provider",
]
