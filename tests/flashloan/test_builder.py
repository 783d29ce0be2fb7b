"""Builder layout as a property: whatever leads the swaps (0–2 compute-budget instructions, 0–3
ATA creations) and whichever provider, the flash instructions sit where the layout says, carry
the indexes of where they really are, the guard precedes the tip and the tip is last. Checked
in process against the genesis state (no RPC) and, for a sample, by LiteSVM executing it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.transaction_metadata import FailedTransactionMetadata

from core.flashloan.builder import BuildError, FlashLoanTxBuilder, min_out_for, quote_route
from core.flashloan.solend import SolendProvider, repay_borrow_index
from core.flashloan.validator import FlashLoanValidator
from core.flashloan.venues import Venue, venues_from_accounts
from core.localnet.genesis import Scenario, build_genesis, operator_keypair
from core.localnet.programs import load_programs
from core.protocols import ids, solend
from core.search.dex_raydium import RAYDIUM_AMM_V4
from core.search.opportunities import Hop

SEED = 7


@dataclass
class Env:
    svm: LiteSVM
    scenario: Scenario
    payer: Keypair
    provider: SolendProvider
    route: tuple[Hop, ...]
    venues: dict[Pubkey, Venue]


def _hop(pool: Any, mint_in: Pubkey) -> Hop:
    a_to_b = mint_in == pool.coin_mint
    return Hop(pool.address, RAYDIUM_AMM_V4, a_to_b, mint_in, pool.pc_mint if a_to_b else pool.coin_mint)


@pytest.fixture(scope="module")
def env() -> Env:
    svm = LiteSVM()
    load_programs(svm)
    scenario = build_genesis(svm, SEED)
    for tip in ids.JITO_TIP_ACCOUNTS:
        svm.airdrop(tip, 10**9)
    pools = [p for p in scenario.raydium_pools if (p.coin_symbol, p.pc_symbol) == ("SOL", "USDC")]
    route = (_hop(pools[1], ids.USDC_MINT), _hop(pools[0], ids.NATIVE_MINT))
    venues = venues_from_accounts(
        [(h.pool, h.dex) for h in route], lambda keys: [svm.get_account(k) for k in keys]
    )
    r = next(r for r in scenario.solend_reserves if r.liquidity_mint == ids.USDC_MINT)
    provider = SolendProvider({ids.USDC_MINT: r.address})
    account = svm.get_account(r.address)
    assert account is not None
    provider.set_reserve(ids.USDC_MINT, solend.decode_reserve(bytes(account.data)))
    return Env(svm, scenario, operator_keypair(SEED, None)[0], provider, route, venues)


def build(
    env: Env, *, cu_limit: int | None, cu_price: int | None, creates: list[Pubkey], amount: int = 10**9
) -> Any:
    builder = FlashLoanTxBuilder(env.payer, slippage_bps=10_000)  # min-out 0: the cycle need not pay
    legs = builder.quote(env.route, env.venues, amount)
    return builder.build(
        provider=env.provider, loan_mint=ids.USDC_MINT, amount=amount, legs=legs,
        recent_blockhash=env.svm.latest_blockhash(), tip_lamports=5_000, loan_balance_before=0,
        cu_limit=cu_limit, cu_price_micro_lamports=cu_price, create_token_accounts=creates, min_gain=0,
    )


MINTS = [ids.USDC_MINT, ids.NATIVE_MINT, ids.USDT_MINT]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cu_limit=st.none() | st.integers(min_value=200_000, max_value=1_400_000),
    cu_price=st.none() | st.integers(min_value=0, max_value=10**6),
    n_creates=st.integers(min_value=0, max_value=3),
)
def test_layout_indexes_are_where_the_instructions_are(
    env: Env, cu_limit: int | None, cu_price: int | None, n_creates: int
) -> None:
    built = build(env, cu_limit=cu_limit, cu_price=cu_price, creates=MINTS[:n_creates])
    layout = built.layout
    n_budget = (cu_limit is not None) + (cu_price is not None)
    assert layout.compute_budget == n_budget and layout.ata_count == n_creates
    assert layout.before_index == n_budget + n_creates
    message = built.tx.message
    keys = message.account_keys
    programs = [keys[ix.program_id_index] for ix in message.instructions]
    assert programs[:n_budget] == [ids.COMPUTE_BUDGET_PROGRAM] * n_budget
    assert programs[layout.ata_start:layout.before_index] == [ids.ASSOCIATED_TOKEN_PROGRAM] * n_creates
    assert programs[layout.before_index] == programs[layout.after_index] == ids.SOLEND
    assert programs[layout.swaps_start:layout.after_index] == [ids.RAYDIUM_AMM_V4] * 2
    assert programs[layout.guard_index] == ids.PROFIT_GUARD
    assert programs[-1] == ids.SYSTEM_PROGRAM and layout.tip_index == len(programs) - 1
    assert repay_borrow_index(bytes(message.instructions[layout.after_index].data)) == layout.before_index
    structural = FlashLoanValidator(None, min_profit_usd=0, max_compute_units=1_400_000,
                                    slippage_bps=0).structural(built, env.provider)
    assert all(c.passed for c in structural), [c for c in structural if not c.passed]


@pytest.mark.parametrize(("cu_limit", "cu_price", "n_creates"), [(None, None, 0), (600_000, None, 1),
                                                                  (None, 7, 2), (600_000, 7, 3)])
def test_litesvm_executes_every_layout(
    env: Env, cu_limit: int | None, cu_price: int | None, n_creates: int
) -> None:
    # Min-out 0 and a zero floor: the wallet's own USDC covers the cycle's loss, so only a wrong
    # index or account order could make it fail.
    built = build(env, cu_limit=cu_limit, cu_price=cu_price, creates=MINTS[:n_creates])
    result = env.svm.simulate_transaction(built.tx)
    assert not isinstance(result, FailedTransactionMetadata), result.err()  # type: ignore[union-attr]


def test_route_must_chain_mints_and_start_at_the_loan(env: Env) -> None:
    with pytest.raises(BuildError, match="hop 1 spends"):
        quote_route((env.route[0], env.route[0]), env.venues, 10**9)  # USDC→SOL twice: no chain
    wrong_side = Hop(env.route[0].pool, RAYDIUM_AMM_V4, True, ids.USDC_MINT, ids.NATIVE_MINT)
    with pytest.raises(BuildError, match="the route says"):
        quote_route((wrong_side,), env.venues, 10**9)  # a_to_b means SOL in on a SOL/USDC pool
    builder = FlashLoanTxBuilder(env.payer)
    legs = builder.quote(env.route, env.venues, 10**9)
    with pytest.raises(BuildError, match="first hop spends"):
        builder.build(provider=env.provider, loan_mint=ids.USDC_MINT, amount=10**9 + 1, legs=legs,
                      recent_blockhash=env.svm.latest_blockhash(), tip_lamports=5_000, loan_balance_before=0)
    with pytest.raises(BuildError, match="tip"):
        builder.build(provider=env.provider, loan_mint=ids.USDC_MINT, amount=10**9, legs=legs,
                      recent_blockhash=env.svm.latest_blockhash(), tip_lamports=0, loan_balance_before=0)
    with pytest.raises(BuildError, match="not a configured tip account"):
        builder.build(provider=env.provider, loan_mint=ids.USDC_MINT, amount=10**9, legs=legs,
                      recent_blockhash=env.svm.latest_blockhash(), tip_lamports=1, loan_balance_before=0,
                      tip_account=Pubkey.new_unique())


def test_quote_failure_is_a_build_error(env: Env) -> None:
    with pytest.raises(BuildError, match="quote on"):
        quote_route(env.route, env.venues, 1)  # one atom in, nothing out: the program's InvalidInput
    with pytest.raises(BuildError, match="u64"):
        quote_route(env.route, env.venues, 2**64)


@settings(max_examples=200)
@given(expected=st.integers(min_value=0, max_value=2**64 - 1), bps=st.integers(min_value=0, max_value=10_000))
def test_min_out_never_exceeds_the_tolerance(expected: int, bps: int) -> None:
    m = min_out_for(expected, bps)
    assert 0 <= m <= expected
    assert m * 10_000 <= expected * (10_000 - bps) < (m + 1) * 10_000
