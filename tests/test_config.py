"""Configuration: precedence, flat legacy names, validation messages, derived endpoints, generated docs."""

from __future__ import annotations

import itertools
import os
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import (
    JITO_REGIONS,
    LEGACY_ENV_NAMES,
    AppConfig,
    ConfigError,
    config_toml,
    leaf_keys,
    load_config,
    redact_url,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_home(clean_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "arb.toml"
    path.write_text(text)
    return path


def problems_of(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return exc.value.lines()


def test_defaults_are_dry_run_on_localnet() -> None:
    config = load_config()
    assert config.mode.dry_run is True
    assert config.cluster.name == "localnet"
    assert config.cluster.rpc_url == "http://127.0.0.1:8899"
    assert config.cluster.ws_url == "ws://127.0.0.1:8900"
    assert config.jito.regions == {
        "ny": "http://127.0.0.1:8901/ny",
        "frankfurt": "http://127.0.0.1:8901/frankfurt",
        "tokyo": "http://127.0.0.1:8901/tokyo",
    }
    assert config.compute.max_compute_units == 1_400_000
    assert config.ui.refresh_hz == 10
    assert config.store.dir == Path.home() / ".local" / "share" / "arbtui"
    assert config.config_path is None
    assert all(config.source_of(k) in ("default", "derived from cluster.name") for k in leaf_keys())


def test_plan_defaults_for_tips_compute_and_retry() -> None:
    config = load_config()
    assert (config.jito.tip_percent, config.jito.min_tip_lamports) == (5, 10000)
    assert (config.jito.tip_history, config.jito.inclusion_window) == (100, 20)
    assert config.jito.inclusion_multiplier(0.49) == 1.5
    assert config.jito.inclusion_multiplier(0.81) == 0.8
    assert config.jito.inclusion_multiplier(0.65) == 1.0
    assert {config.jito.time_of_day_multiplier(h) for h in range(24)} == {0.9, 1.1, 1.3}
    fp = config.compute.fee_percentile
    assert (fp.low, fp.medium, fp.high, fp.critical) == (50, 75, 90, 95)
    assert (config.compute.default_cu_per_swap, config.compute.overhead_cu) == (150000, 50000)
    assert (config.retry.max_attempts, config.retry.base_delay_ms, config.retry.max_delay_ms) == (
        3,
        100,
        5000,
    )
    assert config.retry.fee_bump == 1.5


@pytest.mark.parametrize(
    ("successes", "cap"), [(0, 100), (9, 100), (10, 1000), (49, 1000), (50, 5000), (99, 5000), (100, 10000)]
)
def test_graduated_caps_follow_the_plan(successes: int, cap: int) -> None:
    assert load_config().flash_loan.cap_for(successes) == cap


def test_caps_never_exceed_max_amount() -> None:
    config = load_config(None, {"flash_loan.max_amount_usdc": 700})
    assert config.flash_loan.cap_for(1000) == 700
    assert config.flash_loan.cap_for(0) == 100


def test_toml_then_legacy_env_then_arb_env_then_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[flash_loan]\nmax_amount_usdc = 100\nmin_profit_usd = 7\n")
    config = load_config(path)
    assert config.flash_loan.max_amount_usdc == 100
    assert config.source_of("flash_loan.max_amount_usdc") == str(path)

    monkeypatch.setenv("MAX_FLASH_AMOUNT_USDC", "700")
    config = load_config(path)
    assert config.flash_loan.max_amount_usdc == 700
    assert config.source_of("flash_loan.max_amount_usdc") == "env MAX_FLASH_AMOUNT_USDC"

    monkeypatch.setenv("ARB_FLASH_LOAN__MAX_AMOUNT_USDC", "500")
    config = load_config(path)
    assert config.flash_loan.max_amount_usdc == 500
    assert config.source_of("flash_loan.max_amount_usdc") == "env ARB_FLASH_LOAN__MAX_AMOUNT_USDC"

    config = load_config(
        path, {"flash_loan.max_amount_usdc": 300}, cli_labels={"flash_loan.max_amount_usdc": "cli --x"}
    )
    assert config.flash_loan.max_amount_usdc == 300
    assert config.source_of("flash_loan.max_amount_usdc") == "cli --x"
    # Untouched keys keep their own layer.
    assert config.flash_loan.min_profit_usd == 7
    assert config.source_of("flash_loan.min_profit_usd") == str(path)
    assert config.source_of("jito.tip_percent") == "default"


@pytest.mark.parametrize(
    ("name", "raw", "dotted", "expected"),
    [
        ("ENABLE_FLASH_LOANS", "true", "flash_loan.enabled", True),
        ("FLASH_LOAN_PROVIDER", "MARGINFI", "flash_loan.provider", "marginfi"),
        ("MAX_FLASH_AMOUNT_USDC", "700", "flash_loan.max_amount_usdc", 700),
        ("MIN_FLASH_PROFIT_USD", "2.5", "flash_loan.min_profit_usd", 2.5),
        ("FLASH_LOAN_DRY_RUN", "false", "mode.dry_run", False),
        ("REQUIRE_VALIDATION", "false", "mode.require_validation", False),
        ("MAX_COMPUTE_UNITS", "1000000", "compute.max_compute_units", 1_000_000),
    ],
)
def test_flat_legacy_names_map_onto_the_same_fields(
    monkeypatch: pytest.MonkeyPatch, name: str, raw: str, dotted: str, expected: object
) -> None:
    monkeypatch.setenv(name, raw)
    config = load_config()
    section, key = dotted.split(".")
    assert getattr(getattr(config, section), key) == expected
    assert config.source_of(dotted) == f"env {name}"


def test_every_legacy_name_targets_an_existing_key() -> None:
    keys = set(leaf_keys())
    assert {f"{s}.{k}" for s, k in LEGACY_ENV_NAMES.values()} <= keys


def test_arb_name_wins_over_flat_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASH_LOAN_DRY_RUN", "false")
    monkeypatch.setenv("ARB_MODE__DRY_RUN", "true")
    assert load_config().mode.dry_run is True


def test_nested_env_names_reach_nested_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARB_COMPUTE__FEE_PERCENTILE__LOW", "10")
    monkeypatch.setenv("ARB_JITO__REGIONS", '{"ny": "https://ny.example.com"}')
    config = load_config()
    assert config.compute.fee_percentile.low == 10
    assert config.source_of("compute.fee_percentile.low") == "env ARB_COMPUTE__FEE_PERCENTILE__LOW"
    assert config.jito.regions == {"ny": "https://ny.example.com"}
    assert config.source_of("jito.regions") == "env ARB_JITO__REGIONS"


def test_tip_percent_above_100_names_key_and_value(tmp_path: Path) -> None:
    path = write(tmp_path, "[jito]\ntip_percent = 150\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert problems_of(exc) == [f"jito.tip_percent: must be ≤ 100 (got 150) [from {path}]"]


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    path = write(tmp_path, "[jito]\ntip_percnt = 3\n[flash_lone]\nenabled = true\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    lines = problems_of(exc)
    assert any(
        line.startswith("jito.tip_percnt: unknown key, did you mean 'jito.tip_percent'?") for line in lines
    )
    assert any(line.startswith("flash_lone: unknown key, did you mean 'flash_loan'?") for line in lines)


def test_unknown_env_section_is_reported_with_suggestion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARB_FLASHLOAN__ENABLED", "true")
    with pytest.raises(ConfigError) as exc:
        load_config()
    assert problems_of(exc)[0].startswith(
        "env ARB_FLASHLOAN__ENABLED: unknown section 'flashloan', did you mean"
    )


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[compute]\nmax_compute_units = 2000000\n[cluster]\nrpc_url = 'ftp://x'\n"
        "[flash_loan]\nprovider = 'aave'\n[metrics]\nbind = 'nope'\n",
    )
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    paths = sorted(p.path for p in exc.value.problems)
    assert paths == ["cluster.rpc_url", "compute.max_compute_units", "flash_loan.provider", "metrics.bind"]


@pytest.mark.parametrize(
    ("toml", "path"),
    [
        (
            "[flash_loan]\ncaps = [{until_successes=10, max_amount_usdc=100}, "
            "{until_successes=5, max_amount_usdc=200}]",
            "flash_loan.caps",
        ),
        (
            "[flash_loan]\ncaps = [{until_successes=10, max_amount_usdc=100}, {max_amount_usdc=50}]",
            "flash_loan.caps",
        ),
        ("[flash_loan]\ncaps = [{max_amount_usdc=100}, {max_amount_usdc=500}]", "flash_loan.caps"),
        ("[retry]\nbase_delay_ms = 500\nmax_delay_ms = 100", "retry"),
        ("[compute.fee_percentile]\nlow = 90\nmedium = 50", "compute.fee_percentile"),
        ("[jito]\ninclusion_low_threshold = 0.9", "jito"),
        (
            "[jito]\ntime_of_day = [{start_hour=0, end_hour=10, multiplier=1.0}, "
            "{start_hour=5, end_hour=12, multiplier=1.0}]",
            "jito.time_of_day",
        ),
        ("[jito]\nregions = {ny = 'not a url'}", "jito.regions"),
        ("[cluster]\nname = 'custom'", "cluster"),
        ("[cluster]\nws_url = 'http://x'", "cluster.ws_url"),
        ("[mode]\napproval = 'sometimes'", "mode.approval"),
        ("[ui]\nrefresh_hz = 0", "ui.refresh_hz"),
    ],
)
def test_invalid_values_are_rejected_with_their_key_path(tmp_path: Path, toml: str, path: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, toml + "\n"))
    assert [p.path for p in exc.value.problems] == [path]


def test_broken_toml_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, "[jito\ntip_percent = \n"))
    assert "invalid TOML" in problems_of(exc)[0]


def test_explicit_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path / "nope.toml")
    assert problems_of(exc)[0].startswith("--config: file not found")


def test_arb_toml_in_working_directory_is_found(tmp_path: Path) -> None:
    write(tmp_path, "[ui]\nrefresh_hz = 20\n")
    config = load_config()
    assert config.ui.refresh_hz == 20
    assert config.config_path == tmp_path / "arb.toml"


def test_user_config_is_the_fallback(tmp_path: Path) -> None:
    user = Path.home() / ".config" / "arbtui" / "arb.toml"
    user.parent.mkdir(parents=True)
    user.write_text("[ui]\nrefresh_hz = 30\n")
    assert load_config().ui.refresh_hz == 30


def test_mainnet_derives_real_block_engines() -> None:
    config = load_config(None, {"cluster.name": "mainnet-beta"})
    assert config.cluster.rpc_url == "https://api.mainnet-beta.solana.com"
    assert config.cluster.ws_url == "wss://api.mainnet-beta.solana.com"
    assert config.jito.regions["ny"] == "https://ny.mainnet.block-engine.jito.wtf"
    assert config.jito.regions["frankfurt"] == "https://frankfurt.mainnet.block-engine.jito.wtf"
    assert set(config.jito.regions) >= {"amsterdam", "frankfurt", "ny", "tokyo"}
    assert config.jito.regions == JITO_REGIONS["mainnet-beta"]


def test_custom_cluster_derives_ws_from_rpc_port_plus_one() -> None:
    config = load_config(None, {"cluster.name": "custom", "cluster.rpc_url": "http://10.0.0.5:7000"})
    assert config.cluster.ws_url == "ws://10.0.0.5:7001"
    assert config.jito.regions == {}
    assert config.source_of("cluster.ws_url") == "derived from cluster.rpc_url"


def test_json_view_redacts_credentials_in_urls() -> None:
    config = load_config(
        None, {"cluster.name": "custom", "cluster.rpc_url": "https://rpc.example.com/?api-key=s3cret"}
    )
    data = config.to_json_dict()
    assert "s3cret" not in str(data)
    assert data["cluster"]["rpc_url"] == "https://rpc.example.com/?api-key=***"
    assert (
        redact_url("https://u:pw@h.example/v2/abcdefghijklmnopqrstuvwxyz0123")
        == "https://u:***@h.example/v2/***"
    )


@settings(max_examples=100, deadline=None)
@given(st.floats(min_value=-1000, max_value=1000, allow_nan=False))
def test_tip_percent_accepted_exactly_in_0_to_100(value: float) -> None:
    if 0 <= value <= 100:
        assert (
            load_config(None, {"jito.tip_percent": value}, search_default_paths=False).jito.tip_percent
            == value
        )
    else:
        with pytest.raises(ConfigError) as exc:
            load_config(None, {"jito.tip_percent": value}, search_default_paths=False)
        assert exc.value.problems[0].path == "jito.tip_percent"


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=-10, max_value=3_000_000))
def test_max_compute_units_accepted_up_to_1_4_million(value: int) -> None:
    overrides = {"compute.max_compute_units": value}
    if 200_000 <= value <= 1_400_000:
        assert load_config(None, overrides, search_default_paths=False).compute.max_compute_units == value
    elif value < 1 or value > 1_400_000:
        with pytest.raises(ConfigError) as exc:
            load_config(None, overrides, search_default_paths=False)
        assert exc.value.problems[0].path == "compute.max_compute_units"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=100_000), min_size=1, max_size=5))
def test_caps_accepted_only_when_ascending(amounts: list[int]) -> None:
    caps = [{"until_successes": 10 * (i + 1), "max_amount_usdc": a} for i, a in enumerate(amounts)]
    caps[-1].pop("until_successes")
    ascending = all(a < b for a, b in itertools.pairwise(amounts))
    if ascending:
        config = load_config(None, {"flash_loan.caps": caps}, search_default_paths=False)
        assert [c.max_amount_usdc for c in config.flash_loan.caps] == amounts
    else:
        with pytest.raises(ConfigError):
            load_config(None, {"flash_loan.caps": caps}, search_default_paths=False)


def test_generated_toml_parses_to_the_defaults() -> None:
    data = tomllib.loads(config_toml())
    assert set(data) == set(AppConfig.model_fields)
    assert all(section == {} for section in data.values())


def test_repo_arb_toml_is_the_generated_one() -> None:
    assert (REPO / "arb.toml").read_text() == config_toml()


def test_repo_arb_toml_with_every_key_uncommented_loads_to_the_defaults(tmp_path: Path) -> None:
    # An operator uncomments a line to change it: each shown value must be a valid one.
    lines = []
    for line in (REPO / "arb.toml").read_text().splitlines():
        key, sep, value = line.removeprefix("# ").partition(" = ")
        lines.append(f"{key} = {value}" if line.startswith("# ") and sep and key.isidentifier() else line)
    path = tmp_path / "arb.toml"
    path.write_text("\n".join(lines) + "\n")
    uncommented = load_config(path, search_default_paths=False)
    assert uncommented.model_dump() == load_config(None, search_default_paths=False).model_dump()


def test_every_key_is_documented_in_repo_arb_toml() -> None:
    text = (REPO / "arb.toml").read_text()
    for key in leaf_keys():
        assert f"# {key.split('.')[1]} = " in text, key


@settings(max_examples=60, deadline=None)
@given(
    toml=st.none() | st.integers(1, 10**6),
    legacy=st.none() | st.integers(1, 10**6),
    arb=st.none() | st.integers(1, 10**6),
    cli=st.none() | st.integers(1, 10**6),
)
def test_highest_layer_that_sets_a_key_wins(
    tmp_path_factory: pytest.TempPathFactory,
    toml: int | None,
    legacy: int | None,
    arb: int | None,
    cli: int | None,
) -> None:
    directory = tmp_path_factory.mktemp("layers")
    path = directory / "arb.toml"
    path.write_text(f"[flash_loan]\nmax_amount_usdc = {toml}\n" if toml is not None else "")
    layers = [
        (toml, str(path)),
        (legacy, "env MAX_FLASH_AMOUNT_USDC"),
        (arb, "env ARB_FLASH_LOAN__MAX_AMOUNT_USDC"),
        (cli, "cli"),
    ]
    saved = {
        name: os.environ.pop(name, None)
        for name in ("MAX_FLASH_AMOUNT_USDC", "ARB_FLASH_LOAN__MAX_AMOUNT_USDC")
    }
    try:
        if legacy is not None:
            os.environ["MAX_FLASH_AMOUNT_USDC"] = str(legacy)
        if arb is not None:
            os.environ["ARB_FLASH_LOAN__MAX_AMOUNT_USDC"] = str(arb)
        config = load_config(path, {"flash_loan.max_amount_usdc": cli} if cli is not None else {})
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value
    set_layers = [(value, label) for value, label in layers if value is not None]
    expected, label = set_layers[-1] if set_layers else (10000, "default")
    assert config.flash_loan.max_amount_usdc == expected
    assert config.source_of("flash_loan.max_amount_usdc") == label


def test_validation_alone_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARB_UI__REFRESH_HZ", "20")
    assert AppConfig.model_validate({}).ui.refresh_hz == 10
    assert load_config().ui.refresh_hz == 20


def test_env_json_that_does_not_parse_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARB_JITO__REGIONS", "{bad")
    with pytest.raises(ConfigError) as exc:
        load_config()
    assert [line.split(":")[0] for line in problems_of(exc)] == ["env ARB_JITO__REGIONS"]
    assert "not valid JSON" in problems_of(exc)[0]


SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
KEY_NAMES = st.sampled_from(
    sorted({k.split(".")[-1] for k in leaf_keys()} | set(AppConfig.model_fields) | {"x", "regions", "ny"})
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEY_NAMES, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(AppConfig.model_fields)) | KEY_NAMES, VALUES, max_size=4))
def test_any_input_is_a_valid_config_or_a_config_error(data: dict[str, object]) -> None:
    try:
        load_config(None, dict(data), search_default_paths=False)
    except ConfigError as exc:
        assert exc.problems
        assert all(": " in line for line in exc.lines())


@pytest.mark.parametrize(
    "toml",
    [
        "cluster = 5\n",
        "[jito]\nregions = 5\n",
        "flash_loan = [1, 2]\n",
        "[flash_loan]\ncaps = 'many'\n",
        "[cluster]\nrpc_url = 'http://h:99999'\n",
        "[jito]\ntime_of_day = [1]\n",
    ],
)
def test_wrongly_shaped_toml_is_a_config_error(tmp_path: Path, toml: str) -> None:
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, toml))
