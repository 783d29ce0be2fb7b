"""The [search] section: loan mints by symbol or mint, the feed's dexes, the state-age bound."""

from __future__ import annotations

import pytest
from solders.pubkey import Pubkey

from core.config import ConfigError, load_config
from core.protocols import ids


def test_default_loan_mints_are_usdc_then_sol() -> None:
    config = load_config(search_default_paths=False)
    assert config.search.loan_mint_keys() == [ids.USDC_MINT, ids.NATIVE_MINT]
    assert config.search.dexes == ["raydium_amm_v4", "whirlpool"]


def test_loan_mints_take_symbols_and_base58_mints_without_duplicates() -> None:
    mint = Pubkey.new_unique()
    config = load_config(search_default_paths=False,
                         overrides={"search.loan_mints": ["sol", str(mint), "SOL", "USDT"]})
    assert config.search.loan_mint_keys() == [ids.NATIVE_MINT, mint, ids.USDT_MINT]


@pytest.mark.parametrize(("key", "value", "says"), [
    ("search.loan_mints", ["BTC?"], "'BTC?' is neither USDC, SOL, USDT nor a base58 mint"),
    ("search.loan_mints", [], "needs at least one mint"),
    ("search.dexes", ["orca"], "'orca' is not one of raydium_amm_v4, whirlpool"),
    ("search.max_state_age_slots", 0, "search.max_state_age_slots"),
])
def test_bad_search_settings_are_config_errors(key: str, value: object, says: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(search_default_paths=False, overrides={key: value})
    assert any(says in line for line in exc.value.lines())
