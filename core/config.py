"""Configuration: one pydantic model per `arb.toml` section, validating and documenting at once.

Layers, lowest to highest: built-in defaults < arb.toml < flat legacy env names (the plan's `.env`)
< `ARB_<SECTION>__<KEY>` env names < CLI flags. `load_config` merges them, remembers which layer
set each value (for `arbtui config show --sources`), and turns every validation failure into one
`ConfigError` listing `key.path: message (got value)` lines, so no command ever shows a traceback
for a bad setting.

`python -m core.config --markdown` prints the configuration reference pasted into README.md and
`python -m core.config --toml` prints the documented `arb.toml`; both come from the models below,
so the docs cannot drift from what is validated.
"""

from __future__ import annotations

import difflib
import itertools
import json
import os
import sys
import tomllib
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from solders.pubkey import Pubkey

from core.protocols import ids

ENV_PREFIX = "ARB_"
ENV_DELIMITER = "__"

LOCALNET_RPC_URL = "http://127.0.0.1:8899"
LOCALNET_WS_URL = "ws://127.0.0.1:8900"
LOCALNET_BLOCK_ENGINE_URL = "http://127.0.0.1:8901"

CLUSTER_ENDPOINTS: dict[str, tuple[str, str]] = {
    "localnet": (LOCALNET_RPC_URL, LOCALNET_WS_URL),
    "mainnet-beta": ("https://api.mainnet-beta.solana.com", "wss://api.mainnet-beta.solana.com"),
    "devnet": ("https://api.devnet.solana.com", "wss://api.devnet.solana.com"),
}

# The local block engine serves several "regions" on one port under a path prefix each, so the
# multi-region code paths run unchanged against it.
JITO_REGIONS: dict[str, dict[str, str]] = {
    "localnet": {
        "ny": f"{LOCALNET_BLOCK_ENGINE_URL}/ny",
        "frankfurt": f"{LOCALNET_BLOCK_ENGINE_URL}/frankfurt",
        "tokyo": f"{LOCALNET_BLOCK_ENGINE_URL}/tokyo",
    },
    "mainnet-beta": {
        region: f"https://{region}.mainnet.block-engine.jito.wtf"
        for region in ("amsterdam", "frankfurt", "ny", "tokyo", "slc", "london", "singapore")
    },
    # Jito runs no block engine for devnet; bundles there need explicitly configured regions.
    "devnet": {},
    "custom": {},
}

LEGACY_ENV_NAMES: dict[str, tuple[str, str]] = {
    "ENABLE_FLASH_LOANS": ("flash_loan", "enabled"),
    "FLASH_LOAN_PROVIDER": ("flash_loan", "provider"),
    "MAX_FLASH_AMOUNT_USDC": ("flash_loan", "max_amount_usdc"),
    "MIN_FLASH_PROFIT_USD": ("flash_loan", "min_profit_usd"),
    "FLASH_LOAN_DRY_RUN": ("mode", "dry_run"),
    "REQUIRE_VALIDATION": ("mode", "require_validation"),
    "MAX_COMPUTE_UNITS": ("compute", "max_compute_units"),
}

MAX_COMPUTE_UNITS_PER_TX = 1_400_000
DERIVED = "derived"
# Loan tokens `search.loan_mints` may name by symbol.
FEED_DEXES = ("raydium_amm_v4", "whirlpool")  # the dexes core/feed can load (core.search dex names)
LOAN_MINT_SYMBOLS: dict[str, Pubkey] = {"USDC": ids.USDC_MINT, "SOL": ids.NATIVE_MINT, "USDT": ids.USDT_MINT}
# Raydium AMM v4 SOL/USDC (protocols.md §5 V4): prices lamports in USD on mainnet-beta.
MAINNET_SOL_USDC_POOL = "58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2"
# Lending accounts protocols.md documents as real mainnet accounts, by cluster (empty elsewhere).
# MarginFi's USDT bank is marginfi-v2's bank_sample_3 fixture (§5 V9): it decodes to the USDT mint
# in the main group 4qp6Fx… (§3.1). No Solend or Kamino reserve address is documented there.
MARGINFI_BANKS: dict[str, dict[str, str]] = {
    "mainnet-beta": {"USDT": "HmpMfL8942u22htC4EMiWgLX931g3sacXFR6KjuLgKLV"},
}


def resolve_mint(text: str) -> Pubkey:
    """A mint named by symbol (`USDC`, `SOL`, `USDT`, any case) or base58; ValueError otherwise."""
    return LOAN_MINT_SYMBOLS.get(text.strip().upper()) or Pubkey.from_string(text.strip())


def _check_pubkey(value: str) -> str:
    text = value.strip()
    try:
        Pubkey.from_string(text)
    except ValueError:
        raise PydanticCustomError("pubkey", "not a base58 public key") from None
    return text


def _optional_pubkey(value: str) -> str:
    return _check_pubkey(value) if value.strip() else ""


# A base58 public key, or empty for "not set".
OptionalPubkey = Annotated[str, AfterValidator(_optional_pubkey)]


def _check_mint_table(table: dict[str, str], what: str) -> dict[str, str]:
    """mint (symbol or base58) → base58 address; each mint at most once once symbols are resolved."""
    seen: dict[Pubkey, str] = {}
    out: dict[str, str] = {}
    for mint, address in table.items():
        try:
            key = resolve_mint(mint)
        except ValueError:
            raise PydanticCustomError(
                "mint", "'{mint}' is neither USDC, SOL, USDT nor a base58 mint", {"mint": mint}
            ) from None
        if key in seen:
            raise PydanticCustomError(
                "mint", "'{mint}' and '{other}' name the same mint", {"mint": mint, "other": seen[key]}
            )
        seen[key] = mint
        try:
            out[mint] = _check_pubkey(str(address))
        except PydanticCustomError:
            raise PydanticCustomError(
                "pubkey", "{mint}: '{address}' is not a base58 {what} address",
                {"mint": mint, "address": address, "what": what},
            ) from None
    return out


def mint_table_keys(table: Mapping[str, str]) -> dict[Pubkey, Pubkey]:
    """A validated mint table as pubkeys: mint → address."""
    return {resolve_mint(mint): Pubkey.from_string(address) for mint, address in table.items()}


def default_store_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "arbtui"


def default_config_candidates() -> list[Path]:
    return [Path.cwd() / "arb.toml", Path.home() / ".config" / "arbtui" / "arb.toml"]


def _check_url(value: str, schemes: tuple[str, ...]) -> str:
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises on a non-numeric or out-of-range port
    except ValueError as exc:
        raise PydanticCustomError("url", "not a valid URL: {reason}", {"reason": str(exc)}) from exc
    if parts.scheme not in schemes or not parts.hostname:
        raise PydanticCustomError(
            "url", "must be an {schemes} URL", {"schemes": " or ".join(f"{s}://" for s in schemes)}
        )
    return value


def redact_url(value: str) -> str:
    """Hide credentials an RPC provider puts in a URL (password, api-key style query values)."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    netloc = parts.netloc
    if parts.password:
        netloc = netloc.replace(f":{parts.password}@", ":***@")
    query = urlencode([(k, "***") for k, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    path = parts.path
    # Providers also put the key in the path (".../v2/<key>"): hide long opaque path segments.
    segments = ["***" if len(seg) >= 24 and seg.isalnum() else seg for seg in path.split("/")]
    return urlunsplit((parts.scheme, netloc, "/".join(segments), query, parts.fragment))


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ClusterConfig(Section):
    """Which Solana cluster the engine talks to."""

    name: Literal["localnet", "mainnet-beta", "devnet", "custom"] = Field(
        "localnet",
        description="Cluster moniker. `localnet` is the embedded local cluster the console starts itself; "
        "`custom` needs `rpc_url`.",
    )
    rpc_url: str = Field(
        "",
        description="JSON-RPC endpoint. Empty: derived from `name` (localnet http://127.0.0.1:8899).",
        json_schema_extra={DERIVED: True},
    )
    ws_url: str = Field(
        "",
        description="PubSub websocket endpoint. Empty: derived from `name`, or from `rpc_url` "
        "(ws scheme, port + 1) when only that is set.",
        json_schema_extra={DERIVED: True},
    )

    @field_validator("rpc_url")
    @classmethod
    def _rpc_url_parses(cls, value: str) -> str:
        return _check_url(value, ("http", "https")) if value else value

    @field_validator("ws_url")
    @classmethod
    def _ws_url_parses(cls, value: str) -> str:
        return _check_url(value, ("ws", "wss")) if value else value

    @model_validator(mode="after")
    def _derive_endpoints(self) -> ClusterConfig:
        if not self.rpc_url:
            if self.name == "custom":
                raise PydanticCustomError("custom_needs_rpc", "cluster.name = 'custom' needs cluster.rpc_url")
            object.__setattr__(self, "rpc_url", CLUSTER_ENDPOINTS[self.name][0])
            if not self.ws_url:
                object.__setattr__(self, "ws_url", CLUSTER_ENDPOINTS[self.name][1])
        if not self.ws_url:
            object.__setattr__(self, "ws_url", ws_url_for(self.rpc_url))
        return self


def ws_url_for(rpc_url: str) -> str:
    """Solana's convention: the PubSub port is the RPC port + 1, same host."""
    parts = urlsplit(rpc_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    netloc = parts.netloc
    if parts.port is not None:
        host = netloc.rsplit(":", 1)[0]
        netloc = f"{host}:{parts.port + 1}"
    return urlunsplit((scheme, netloc, parts.path, parts.query, ""))


class WalletConfig(Section):
    """The signer. Only read when the engine is in live mode; dry-run never loads a secret."""

    keypair: Path = Field(
        Path("~/.config/solana/id.json"),
        description="Solana CLI keypair file (JSON array of 64 integers), mode 0600. "
        "On localnet a generated keypair in `store.dir` is used instead.",
    )

    pubkey: OptionalPubkey = Field(
        "",
        description="The operator wallet's PUBLIC key (base58). Needed to build and dry-run flash loans on "
        "any cluster but localnet without reading the secret; in live mode the keypair's public key "
        "must equal it. Empty: not trading on non-local clusters.",
    )

    @property
    def keypair_path(self) -> Path:
        return self.keypair.expanduser()


class ModeConfig(Section):
    """Rehearsal versus real money, and who approves a trade."""

    dry_run: bool = Field(
        True, description="Simulate and record, never submit. Legacy env: FLASH_LOAN_DRY_RUN."
    )
    require_validation: bool = Field(
        True,
        description="Run the flash-loan validation checks before any submission. "
        "Legacy env: REQUIRE_VALIDATION.",
    )
    approval: Literal["manual", "auto"] = Field(
        "manual",
        description="`manual`: every validated opportunity waits for a keypress. "
        "`auto`: approved when within `auto_max_amount_usdc` and above `auto_min_profit_usd`.",
    )
    approval_ttl_slots: int = Field(
        20, ge=1, le=1000, description="Slots a pending approval lives before it expires."
    )
    auto_max_amount_usdc: int = Field(
        1000, ge=0, description="Largest flash amount (USDC) auto approval may accept."
    )
    auto_min_profit_usd: float = Field(
        5.0, ge=0, description="Smallest expected net profit (USD) auto approval may accept (the "
        "default is flash_loan.min_profit_usd's: the first graduated cap, 100 USDC, rarely clears more)."
    )


class CapStep(Section):
    """One rung of the graduated flash-loan size caps."""

    until_successes: int | None = Field(
        None,
        ge=1,
        description="This cap applies until this many successful flash loans; omit on the last rung.",
    )
    max_amount_usdc: int = Field(..., gt=0, description="Largest flash amount (USDC) on this rung.")


def _default_caps() -> list[CapStep]:
    return [
        CapStep(until_successes=10, max_amount_usdc=100),
        CapStep(until_successes=50, max_amount_usdc=1000),
        CapStep(until_successes=100, max_amount_usdc=5000),
        CapStep(max_amount_usdc=10000),
    ]


class FlashLoanConfig(Section):
    """Flash-loan borrowing: provider, size limits and the graduated caps."""

    enabled: bool | None = Field(
        None,
        description="Borrow via flash loans at all. Unset: on for `localnet` (its genesis funds the lending "
        "reserves), off for every other cluster until you opt in. Legacy env: ENABLE_FLASH_LOANS.",
        json_schema_extra={DERIVED: True},
    )
    provider: Literal["solend", "marginfi", "kamino", "auto"] = Field(
        "solend",
        description="Lending protocol to borrow from; `auto` picks the cheapest with liquidity. "
        "Legacy env: FLASH_LOAN_PROVIDER.",
    )
    max_amount_usdc: int = Field(
        10000, gt=0, description="Hard ceiling on any flash amount (USDC). Legacy env: MAX_FLASH_AMOUNT_USDC."
    )
    min_profit_usd: float = Field(
        5.0,
        ge=0,
        description="Smallest expected net profit (USD) worth a flash loan. "
        "Legacy env: MIN_FLASH_PROFIT_USD.",
    )
    caps: list[CapStep] = Field(
        default_factory=_default_caps,
        description="Graduated caps by number of successes: 100 USDC until 10, 1000 until 50, "
        "5000 until 100, "
        "then 10000. Ascending; the effective cap is never above `max_amount_usdc`.",
    )

    solend_reserves: dict[str, str] = Field(
        default_factory=dict,
        description="Solend reserves to borrow from off localnet: mint (`USDC`, `SOL`, `USDT` or base58) → "
        "reserve address (base58). Localnet reads its genesis instead.",
    )
    kamino_reserves: dict[str, str] = Field(
        default_factory=dict,
        description="Kamino (klend) reserves to borrow from off localnet: mint → reserve address (base58).",
    )
    marginfi_banks: dict[str, str] = Field(
        default_factory=dict,
        description="MarginFi v2 banks to borrow from off localnet: mint → bank address (base58). Empty: "
        "derived from `cluster.name` (mainnet-beta: the USDT bank "
        "HmpMfL8942u22htC4EMiWgLX931g3sacXFR6KjuLgKLV; elsewhere none). Used only with `marginfi_account`.",
        json_schema_extra={DERIVED: True},
    )
    marginfi_account: OptionalPubkey = Field(
        "",
        description="Your existing MarginFi account (base58; create it once with the MarginFi app or CLI, "
        "owned by `wallet.pubkey`). Empty: MarginFi is not used off localnet.",
    )
    profit_guard_program: OptionalPubkey = Field(
        "",
        description="Program id of the deployed profit guard (core/localnet/programs/profit_guard.c; every "
        "flash-loan transaction ends with its check). Empty: derived — the local cluster's "
        "ArbGuard111…; no default elsewhere: off localnet nothing is traded until it is set.",
        json_schema_extra={DERIVED: True},
    )
    def guard_program(self) -> Pubkey:
        """The profit guard the builder calls and the validator looks for (the local cluster's when
        unset: off localnet the pipeline is not built without one)."""
        if not self.profit_guard_program:
            return ids.PROFIT_GUARD
        return Pubkey.from_string(self.profit_guard_program)

    sol_usdc_pool: str = Field(
        MAINNET_SOL_USDC_POOL,
        description="Raydium AMM v4 SOL/USDC pool whose price converts lamport costs to USDC and USD off "
        "localnet (default: mainnet's 58oQ… pool).",
    )
    sol_pools: dict[str, str] = Field(
        default_factory=dict,
        description="Raydium AMM v4 SOL/<mint> pools pricing loan mints other than SOL and USDC off "
        "localnet: mint → pool address. A loan mint without one is not traded.",
    )

    @field_validator("solend_reserves", "kamino_reserves", "marginfi_banks", "sol_pools")
    @classmethod
    def _mint_tables(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        what = {"marginfi_banks": "bank", "sol_pools": "pool"}.get(info.field_name or "", "reserve")
        return _check_mint_table(value, what)

    @field_validator("sol_usdc_pool")
    @classmethod
    def _sol_usdc_pool_base58(cls, value: str) -> str:
        return _check_pubkey(value)

    @field_validator("provider", mode="before")
    @classmethod
    def _provider_lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("caps")
    @classmethod
    def _caps_ascending(cls, caps: list[CapStep]) -> list[CapStep]:
        if not caps:
            raise PydanticCustomError("caps", "needs at least one rung")
        for i, (lower, upper) in enumerate(itertools.pairwise(caps)):
            if lower.until_successes is None:
                raise PydanticCustomError(
                    "caps", "only the last rung may omit until_successes (rung {i})", {"i": i}
                )
            if upper.until_successes is not None and upper.until_successes <= lower.until_successes:
                raise PydanticCustomError("caps", "until_successes must ascend (rung {i})", {"i": i + 1})
            if upper.max_amount_usdc <= lower.max_amount_usdc:
                raise PydanticCustomError("caps", "max_amount_usdc must ascend (rung {i})", {"i": i + 1})
        return caps

    def cap_for(self, successes: int) -> int:
        """Largest flash amount (USDC) allowed after `successes` successful flash loans."""
        for step in self.caps:
            if step.until_successes is None or successes < step.until_successes:
                return min(step.max_amount_usdc, self.max_amount_usdc)
        return min(self.caps[-1].max_amount_usdc, self.max_amount_usdc)


class TimeOfDayBand(Section):
    """Tip multiplier for a band of UTC hours [start_hour, end_hour)."""

    start_hour: int = Field(..., ge=0, le=23, description="First UTC hour of the band.")
    end_hour: int = Field(..., ge=1, le=24, description="UTC hour the band ends (exclusive).")
    multiplier: float = Field(..., gt=0, le=10, description="Tip multiplier inside the band.")

    @model_validator(mode="after")
    def _ordered(self) -> TimeOfDayBand:
        if self.end_hour <= self.start_hour:
            raise PydanticCustomError("band", "end_hour must be after start_hour")
        return self


def _default_bands() -> list[TimeOfDayBand]:
    # Busiest when US and EU overlap, quiet in the Asian night.
    return [
        TimeOfDayBand(start_hour=0, end_hour=8, multiplier=0.9),
        TimeOfDayBand(start_hour=8, end_hour=13, multiplier=1.1),
        TimeOfDayBand(start_hour=13, end_hour=21, multiplier=1.3),
        TimeOfDayBand(start_hour=21, end_hour=24, multiplier=1.1),
    ]


class JitoConfig(Section):
    """Jito bundle submission and the dynamic tip policy."""

    regions: dict[str, str] = Field(
        default_factory=dict,
        description="Region name → block-engine URL. Empty: derived from `cluster.name` (mainnet: the real "
        "Jito regional block engines; localnet: the local block engine on port 8901).",
        json_schema_extra={DERIVED: True},
    )
    rate_limit_per_s: float = Field(
        1.0, gt=0, le=1000,
        description="Requests per second the client allows itself per region (one token bucket each), so "
        "it waits for its turn instead of earning HTTP 429. Jito's default is 1 per IP; raise it only "
        "with an approved `auth_uuid`.",
    )
    auth_uuid: SecretStr = Field(
        SecretStr(""),
        description="Jito auth UUID sent as the `x-jito-auth` header (approved keys get a higher rate "
        "limit). Empty: none. A secret: shown as `**********`, never logged.",
    )
    tip_percent: float = Field(5.0, ge=0, le=100, description="Base tip as a percentage of expected profit.")
    min_tip_lamports: int = Field(10000, ge=0, description="Never tip less than this.")
    tip_floor_percentile: Literal[25, 50, 75, 95, 99] = Field(
        50, description="Never tip less than this percentile of Jito's landed-tip floor."
    )
    tip_history: int = Field(
        100, ge=1, le=100_000, description="Bundle outcomes remembered for the tip policy."
    )
    inclusion_window: int = Field(
        20, ge=1, le=10_000, description="Recent bundles the inclusion rate is measured over."
    )
    inclusion_low_threshold: float = Field(
        0.5, ge=0, le=1, description="Below this inclusion rate, raise the tip."
    )
    inclusion_low_multiplier: float = Field(
        1.5, gt=0, le=10, description="Tip multiplier when inclusion is low."
    )
    inclusion_high_threshold: float = Field(
        0.8, ge=0, le=1, description="Above this inclusion rate, lower the tip."
    )
    inclusion_high_multiplier: float = Field(
        0.8, gt=0, le=10, description="Tip multiplier when inclusion is high."
    )
    time_of_day: list[TimeOfDayBand] = Field(
        default_factory=_default_bands,
        description="UTC hour bands with a tip multiplier each "
        "(default 0.9 for 0–8, 1.1 for 8–13, 1.3 for 13–21, "
        "1.1 for 21–24); hours outside every band use 1.0. Bands may not overlap.",
    )

    @field_validator("regions")
    @classmethod
    def _region_urls_parse(cls, regions: dict[str, str]) -> dict[str, str]:
        for name, url in regions.items():
            try:
                _check_url(url, ("http", "https"))
            except PydanticCustomError as exc:
                raise PydanticCustomError(
                    "url", "region {name}: {msg}", {"name": name, "msg": exc.message()}
                ) from exc
        return regions

    @field_validator("auth_uuid")
    @classmethod
    def _auth_uuid_is_a_uuid(cls, value: SecretStr) -> SecretStr:
        text = value.get_secret_value().strip()
        if text:
            try:
                uuid.UUID(text)
            except ValueError:
                raise PydanticCustomError("uuid", "must be a UUID (the key Jito issued)") from None
        return SecretStr(text)

    @field_validator("time_of_day")
    @classmethod
    def _bands_disjoint(cls, bands: list[TimeOfDayBand]) -> list[TimeOfDayBand]:
        ordered = sorted(bands, key=lambda b: b.start_hour)
        for earlier, later in itertools.pairwise(ordered):
            if later.start_hour < earlier.end_hour:
                raise PydanticCustomError(
                    "bands",
                    "bands overlap ({a}–{b} and {c}–{d})",
                    {
                        "a": earlier.start_hour,
                        "b": earlier.end_hour,
                        "c": later.start_hour,
                        "d": later.end_hour,
                    },
                )
        return bands

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> JitoConfig:
        if self.inclusion_low_threshold >= self.inclusion_high_threshold:
            raise PydanticCustomError(
                "thresholds", "inclusion_low_threshold must be below inclusion_high_threshold"
            )
        return self

    def time_of_day_multiplier(self, utc_hour: int) -> float:
        for band in self.time_of_day:
            if band.start_hour <= utc_hour < band.end_hour:
                return band.multiplier
        return 1.0

    def inclusion_multiplier(self, inclusion_rate: float) -> float:
        if inclusion_rate < self.inclusion_low_threshold:
            return self.inclusion_low_multiplier
        if inclusion_rate > self.inclusion_high_threshold:
            return self.inclusion_high_multiplier
        return 1.0


class FeePercentiles(Section):
    """Priority-fee percentile of recent fees, per urgency."""

    low: int = Field(50, ge=0, le=100, description="Percentile for low urgency.")
    medium: int = Field(75, ge=0, le=100, description="Percentile for medium urgency.")
    high: int = Field(90, ge=0, le=100, description="Percentile for high urgency.")
    critical: int = Field(95, ge=0, le=100, description="Percentile for critical urgency.")

    @model_validator(mode="after")
    def _ascending(self) -> FeePercentiles:
        if not self.low <= self.medium <= self.high <= self.critical:
            raise PydanticCustomError("percentiles", "must ascend: low ≤ medium ≤ high ≤ critical")
        return self


class ComputeConfig(Section):
    """Compute-unit limits, priority fees and the lookup tables transactions compile with."""

    max_compute_units: int = Field(
        MAX_COMPUTE_UNITS_PER_TX,
        ge=1,
        le=MAX_COMPUTE_UNITS_PER_TX,
        description="Upper bound for any transaction's CU limit (Solana's maximum is 1,400,000). "
        "Legacy env: MAX_COMPUTE_UNITS.",
    )
    default_cu_per_swap: int = Field(
        150000, ge=1, le=MAX_COMPUTE_UNITS_PER_TX, description="CU per swap before history exists."
    )
    overhead_cu: int = Field(
        50000,
        ge=0,
        le=MAX_COMPUTE_UNITS_PER_TX,
        description="CU for the flash loan and tip around the swaps.",
    )
    history: int = Field(50, ge=1, le=100_000, description="Measured CU samples kept per route shape.")
    margin: float = Field(1.1, ge=1.0, le=5.0, description="Multiplier on the p95 of measured CU.")
    fee_percentile: FeePercentiles = Field(
        default_factory=FeePercentiles, description="Priority-fee percentiles."
    )
    lookup_table_idle_hours: float = Field(
        24.0, gt=0, description="A lookup table no build has used for this long is deactivated, and "
        "closed 512 slots later to recover its rent (live only)."
    )


class RetryConfig(Section):
    """Retries of retryable failures, with replacement bundles."""

    max_attempts: int = Field(3, ge=1, le=50, description="Attempts per opportunity, the first included.")
    base_delay_ms: int = Field(100, ge=1, description="First back-off delay.")
    max_delay_ms: int = Field(5000, ge=1, description="Longest back-off delay.")
    fee_bump: float = Field(1.5, ge=1.0, le=10.0, description="Tip and priority-fee multiplier per retry.")

    @model_validator(mode="after")
    def _delays_ordered(self) -> RetryConfig:
        if self.max_delay_ms < self.base_delay_ms:
            raise PydanticCustomError("delays", "max_delay_ms must be ≥ base_delay_ms")
        return self


class RiskConfig(Section):
    """Kill-switch thresholds; crossing any one stops the engine."""

    max_drawdown_usd: float = Field(
        100.0, gt=0, description="Stop when realised P&L falls this far below its peak."
    )
    max_tip_spend_sol_per_hour: float = Field(
        0.5, gt=0, description="Stop when tips paid in the last hour exceed this."
    )
    max_failure_rate: float = Field(
        0.5, gt=0, le=1, description="Stop when this share of the last `failure_window` attempts failed."
    )
    failure_window: int = Field(
        20, ge=1, le=10_000, description="Attempts the failure rate is measured over."
    )
    max_consecutive_failures: int = Field(
        5, ge=1, le=10_000, description="Stop after this many failures in a row."
    )


class StoreConfig(Section):
    """Where the trade store, logs and the localnet keypair live."""

    dir: Path = Field(
        default_factory=default_store_dir,
        description="Directory for `trades-dry-run.sqlite3`, `trades-live.sqlite3`, logs "
        "and the localnet keypair "
        "(default `$XDG_DATA_HOME/arbtui`, i.e. `~/.local/share/arbtui`).",
    )

    @field_validator("dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()


class MetricsConfig(Section):
    """Prometheus metrics endpoint."""

    enabled: bool = Field(False, description="Serve metrics at all.")
    bind: str = Field(
        "127.0.0.1:9464", description="host:port to serve `/metrics` on (port 0: any free port)."
    )

    @field_validator("bind")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise PydanticCustomError("bind", "must be host:port")
        return value

    @property
    def host(self) -> str:
        return self.bind.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.bind.rpartition(":")[2])


class SearchConfig(Section):
    """Market feed and opportunity search."""

    loan_mints: list[str] = Field(
        default_factory=lambda: ["USDC", "SOL"],
        description="Tokens every cycle starts and ends in (the flash-loaned token): `USDC`, `SOL`, "
        "`USDT` or a base58 mint.",
    )
    dexes: list[str] = Field(
        default_factory=lambda: list(FEED_DEXES),
        description="Programs whose pools the market feed loads and follows: `raydium_amm_v4`, `whirlpool`.",
    )
    max_state_age_slots: int = Field(
        4,
        ge=1,
        le=10_000,
        description="Never act on market state older than this many slots: past it the feed reports "
        "stale and the engine hands no opportunity on.",
    )
    reconnect_min_ms: int = Field(100, ge=1, le=60_000, description="First websocket reconnect delay.")
    reconnect_max_ms: int = Field(
        5000, ge=1, le=600_000, description="Longest websocket reconnect delay (exponential, with jitter)."
    )

    @field_validator("dexes")
    @classmethod
    def _some_dex(cls, value: list[str]) -> list[str]:
        if not value:
            raise PydanticCustomError("dexes", "needs at least one dex")
        for dex in value:
            if dex not in FEED_DEXES:
                raise PydanticCustomError(
                    "dexes", "'{dex}' is not one of {known}", {"dex": dex, "known": ", ".join(FEED_DEXES)}
                )
        return list(dict.fromkeys(value))

    @field_validator("loan_mints")
    @classmethod
    def _loan_mints_known(cls, value: list[str]) -> list[str]:
        if not value:
            raise PydanticCustomError("loan_mints", "needs at least one mint")
        for item in value:
            if item.upper() not in LOAN_MINT_SYMBOLS:
                try:
                    Pubkey.from_string(item)
                except ValueError:
                    raise PydanticCustomError(
                        "loan_mints", "'{item}' is neither USDC, SOL, USDT nor a base58 mint", {"item": item}
                    ) from None
        return value

    def loan_mint_keys(self) -> list[Pubkey]:
        """The loan mints as pubkeys, in order, without duplicates."""
        keys = [resolve_mint(m) for m in self.loan_mints]
        return list(dict.fromkeys(keys))


class UiConfig(Section):
    """The operator console."""

    refresh_hz: float = Field(10.0, ge=1, le=60, description="Console redraws per second.")


SECTIONS: dict[str, type[Section]] = {
    "cluster": ClusterConfig,
    "wallet": WalletConfig,
    "mode": ModeConfig,
    "flash_loan": FlashLoanConfig,
    "jito": JitoConfig,
    "compute": ComputeConfig,
    "retry": RetryConfig,
    "risk": RiskConfig,
    "store": StoreConfig,
    "metrics": MetricsConfig,
    "search": SearchConfig,
    "ui": UiConfig,
}


class AppConfig(BaseSettings):
    """The whole configuration. Build it with `load_config`, which layers the sources itself.

    Validation reads nothing but its input: the layers (toml, env, CLI) are merged by `load_config`
    with pydantic-settings' own sources, so each value's origin is known.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_DELIMITER, extra="forbid", validate_assignment=True
    )

    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    wallet: WalletConfig = Field(default_factory=WalletConfig)
    mode: ModeConfig = Field(default_factory=ModeConfig)
    flash_loan: FlashLoanConfig = Field(default_factory=FlashLoanConfig)
    jito: JitoConfig = Field(default_factory=JitoConfig)
    compute: ComputeConfig = Field(default_factory=ComputeConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    ui: UiConfig = Field(default_factory=UiConfig)

    _sources: dict[str, str] = PrivateAttr(default_factory=dict)
    _config_path: Path | None = PrivateAttr(default=None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

    @model_validator(mode="after")
    def _derive_regions(self) -> AppConfig:
        if not self.jito.regions:
            object.__setattr__(self.jito, "regions", dict(JITO_REGIONS[self.cluster.name]))
        if self.flash_loan.enabled is None:
            object.__setattr__(self.flash_loan, "enabled", self.cluster.name == "localnet")
        if not self.flash_loan.profit_guard_program and self.cluster.name == "localnet":
            object.__setattr__(self.flash_loan, "profit_guard_program", str(ids.PROFIT_GUARD))
        if not self.flash_loan.marginfi_banks:
            banks = dict(MARGINFI_BANKS.get(self.cluster.name, {}))
            object.__setattr__(self.flash_loan, "marginfi_banks", banks)
        if self.compute.default_cu_per_swap + self.compute.overhead_cu > self.compute.max_compute_units:
            raise PydanticCustomError(
                "compute",
                "compute.default_cu_per_swap + compute.overhead_cu must fit in compute.max_compute_units",
            )
        return self

    @property
    def sources(self) -> dict[str, str]:
        """Dotted key → where its value came from (default, arb.toml path, env NAME, cli FLAG, derived)."""
        return dict(self._sources)

    @property
    def config_path(self) -> Path | None:
        return self._config_path

    def source_of(self, key: str) -> str:
        return self._sources.get(key, "default")

    def to_json_dict(self) -> dict[str, Any]:
        """Effective values as nested JSON-ready dicts, with credentials in URLs redacted."""
        data = self.model_dump(mode="json")
        data["cluster"]["rpc_url"] = redact_url(data["cluster"]["rpc_url"])
        data["cluster"]["ws_url"] = redact_url(data["cluster"]["ws_url"])
        data["jito"]["regions"] = {k: redact_url(v) for k, v in data["jito"]["regions"].items()}
        return data


# ---------------------------------------------------------------- errors


@dataclass(frozen=True)
class ConfigProblem:
    path: str
    message: str
    value: Any = None
    has_value: bool = True
    source: str | None = None

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}"
        if self.has_value:
            text += f" (got {_show(self.value)})"
        if self.source and self.source != "default":
            text += f" [from {self.source}]"
        return text


class ConfigError(Exception):
    """Every problem found in the configuration, each naming its key path and offending value."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _fields_at(loc: tuple[str | int, ...]) -> list[str] | None:
    """Field names of the model found at `loc` below AppConfig, if `loc` names a model."""
    model: Any = AppConfig
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return None
        annotation = fields[part].annotation
        inner = getattr(annotation, "__args__", None)
        if inner and isinstance(inner[0], type) and issubclass(inner[0], BaseModel):
            annotation = inner[0]  # list[CapStep] → CapStep
        model = annotation
    fields = getattr(model, "model_fields", None)
    return list(fields) if fields else None


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_MESSAGES: dict[str, str] = {
    "less_than_equal": "must be ≤ {le}",
    "greater_than_equal": "must be ≥ {ge}",
    "less_than": "must be < {lt}",
    "greater_than": "must be > {gt}",
    "int_parsing": "must be an integer",
    "int_type": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "list_type": "must be a list",
    "missing": "is required",
    "literal_error": "must be one of {expected}",
    "path_type": "must be a path",
}


REDACTED = "**********"  # what pydantic's SecretStr shows


def secret_keys() -> frozenset[str]:
    """Dotted keys holding secrets (SecretStr): shown redacted everywhere, in errors too."""
    return frozenset(
        dotted
        for section_name, section in SECTIONS.items()
        for dotted, model, name in _section_rows(section, f"{section_name}.")
        if model.model_fields[name].annotation is SecretStr
    )


def _problems_from(exc: ValidationError, sources: Mapping[str, str]) -> list[ConfigProblem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = _dotted(loc) or "<root>"
        kind = err["type"]
        ctx = err.get("ctx") or {}
        secret = path in secret_keys()
        if kind == "extra_forbidden":
            known = _fields_at(loc[:-1]) or []
            close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
            suggestion = ".".join([*map(str, loc[:-1]), close[0]]) if close else ""
            message = "unknown key" + (f", did you mean '{suggestion}'?" if close else "")
            secret = suggestion in secret_keys()  # a misspelt secret key still holds the secret
        elif kind in _MESSAGES:
            message = _MESSAGES[kind].format(**{k: _bound(v) for k, v in ctx.items()})
        else:
            message = err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        # A check over a whole section gets the section as input; its message names the keys.
        whole_section = isinstance(value, dict) and kind != "extra_forbidden"
        has_value = kind != "missing" and not whole_section
        if secret:
            value = REDACTED
        problems.append(ConfigProblem(path, message, value, has_value, _source_for(path, sources)))
    return problems


def _bound(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _source_for(path: str, sources: Mapping[str, str]) -> str | None:
    best = None
    for key, source in sources.items():
        if (
            path == key
            or path.startswith(key + ".")
            or path.startswith(key + "[")
            or key.startswith(path + ".")
        ):
            if source != "default":
                best = source
            if path == key:
                return source
    return best


# ---------------------------------------------------------------- layers


def _leaf_keys(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _leaf_keys(annotation, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def leaf_keys() -> list[str]:
    """Every documented key, dotted (`jito.tip_percent`, `compute.fee_percentile.low`)."""
    return list(_leaf_keys(AppConfig))


def _deep_merge(into: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict) and key != "regions":
            _deep_merge(into[key], value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value


def _record(sources: dict[str, str], layer: Mapping[str, Any], label: str | Any, prefix: str = "") -> None:
    """Mark every leaf key that `layer` sets with `label` (a string or a function of the key)."""
    leaves = set(leaf_keys())
    for key, value in layer.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and dotted not in leaves:
            _record(sources, value, label, dotted + ".")
        else:
            sources[dotted] = label(dotted) if callable(label) else label


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError([ConfigProblem("--config", "file not found", str(path))]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigProblem(str(path), f"invalid TOML: {exc}", has_value=False)]) from None
    except OSError as exc:
        raise ConfigError(
            [ConfigProblem(str(path), f"cannot read: {exc.strerror}", has_value=False)]
        ) from None


def _arb_env_layer() -> tuple[dict[str, Any], list[ConfigProblem]]:
    """ARB_<SECTION>__<KEY> names, parsed by pydantic-settings; unknown sections reported here."""
    problems = []
    for name in os.environ:
        if not name.upper().startswith(ENV_PREFIX) or ENV_DELIMITER not in name:
            continue
        section = name[len(ENV_PREFIX) :].split(ENV_DELIMITER, 1)[0].lower()
        if section not in SECTIONS:
            close = difflib.get_close_matches(section, list(SECTIONS), n=1, cutoff=0.6)
            hint = f", did you mean {ENV_PREFIX}{close[0].upper()}{ENV_DELIMITER}…?" if close else ""
            problems.append(
                ConfigProblem(f"env {name}", f"unknown section '{section}'{hint}", os.environ[name])
            )
        elif os.environ[name].lstrip()[:1] in ("[", "{"):
            try:
                json.loads(os.environ[name])
            except json.JSONDecodeError as exc:
                problems.append(
                    ConfigProblem(
                        f"env {name}", f"not valid JSON ({exc.msg}, column {exc.colno})", os.environ[name]
                    )
                )
    if problems:
        return {}, problems
    try:
        layer = EnvSettingsSource(AppConfig)()
    except Exception as exc:  # pydantic-settings raises SettingsError for values it cannot parse
        problems.append(ConfigProblem(f"env {ENV_PREFIX}*", str(exc), has_value=False))
        layer = {}
    return layer, problems


def _arb_env_name(dotted: str) -> str:
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ENV_PREFIX + ENV_DELIMITER.join(parts[:n]).upper()
        for name in os.environ:
            if name.upper() == candidate:
                return f"env {name}"
    return f"env {ENV_PREFIX}{ENV_DELIMITER.join(parts).upper()}"


def _legacy_env_layer() -> tuple[dict[str, Any], dict[str, str]]:
    layer: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, (section, key) in LEGACY_ENV_NAMES.items():
        value = os.environ.get(name)
        if value is None or value == "":
            continue
        layer.setdefault(section, {})[key] = value.strip()
        sources[f"{section}.{key}"] = f"env {name}"
    return layer, sources


def _overrides_layer(overrides: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """CLI overrides as dotted keys (`{"store.dir": "/x"}`) or nested dicts; values keep their label."""
    layer: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, value in overrides.items():
        if isinstance(value, Mapping) and "." not in key:
            _deep_merge(layer, {key: value})
            _record(sources, {key: value}, "cli")
            continue
        parts = key.split(".")
        node = layer
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
        sources[key] = "cli"
    return layer, sources


def find_config_file(path: Path | None) -> Path | None:
    """The file `--config` names, else ./arb.toml, else ~/.config/arbtui/arb.toml, else None."""
    if path is not None:
        return path
    for candidate in default_config_candidates():
        if candidate.is_file():
            return candidate
    return None


def load_config(
    path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    cli_labels: Mapping[str, str] | None = None,
    search_default_paths: bool = True,
) -> AppConfig:
    """Merge defaults < arb.toml < legacy env < ARB_ env < overrides and validate.

    `path` is an explicit `--config` (must exist); None searches the default locations unless
    `search_default_paths` is False. `overrides` maps dotted keys to values (CLI flags);
    `cli_labels` optionally names the flag per key for `--sources` (e.g. `cli --store-dir`).
    Raises ConfigError listing every problem.
    """
    overrides = overrides or {}
    config_path = find_config_file(path) if (path is not None or search_default_paths) else None

    merged: dict[str, Any] = {}
    sources: dict[str, str] = dict.fromkeys(leaf_keys(), "default")
    for key in ("cluster.rpc_url", "cluster.ws_url", "jito.regions", "flash_loan.enabled",
                "flash_loan.marginfi_banks"):
        sources[key] = "derived from cluster.name"

    problems: list[ConfigProblem] = []
    if config_path is not None:
        toml_layer = _read_toml(config_path)
        _deep_merge(merged, toml_layer)
        _record(sources, toml_layer, str(config_path))

    legacy_layer, legacy_sources = _legacy_env_layer()
    _deep_merge(merged, legacy_layer)
    sources.update(legacy_sources)

    env_layer, env_problems = _arb_env_layer()
    problems.extend(env_problems)
    _deep_merge(merged, env_layer)
    _record(sources, env_layer, _arb_env_name)

    cli_layer, cli_sources = _overrides_layer(overrides)
    _deep_merge(merged, cli_layer)
    for key in cli_sources:
        sources[key] = (cli_labels or {}).get(key, "cli")

    cluster = merged.get("cluster") if isinstance(merged.get("cluster"), dict) else {}
    jito = merged.get("jito") if isinstance(merged.get("jito"), dict) else {}
    if cluster.get("rpc_url") and not cluster.get("ws_url"):
        sources["cluster.ws_url"] = "derived from cluster.rpc_url"
    if cluster.get("name") == "custom" and not jito.get("regions"):
        sources["jito.regions"] = "derived from cluster.name (none for custom)"

    try:
        config = AppConfig.model_validate(merged)
    except ValidationError as exc:
        problems.extend(_problems_from(exc, sources))
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    config._sources = sources
    config._config_path = config_path
    return config


# ---------------------------------------------------------------- generated docs


def _default_of(section: type[BaseModel], name: str) -> Any:
    field = section.model_fields[name]
    if field.json_schema_extra and field.json_schema_extra.get(DERIVED):
        return None
    if name == "dir" and section is StoreConfig:
        return "~/.local/share/arbtui"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [
            v.model_dump(mode="json", exclude_none=True) if isinstance(v, BaseModel) else v for v in value
        ]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, SecretStr):
        return value.get_secret_value()  # the built-in default, never a configured secret
    return value


def _type_name(annotation: Any) -> str:
    simple = {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path",
              SecretStr: "string (secret)"}
    if annotation in simple:
        return simple[annotation]
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " \\| ".join(json.dumps(a) for a in args)
    if origin is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return f"list of tables ({', '.join(args[0].model_fields)})"
    if origin is dict:
        return f"table of {_type_name(args[1])}s"
    return str(annotation)


def _legacy_name(dotted: str) -> str | None:
    for name, (section, key) in LEGACY_ENV_NAMES.items():
        if f"{section}.{key}" == dotted:
            return name
    return None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return str(value)


def _section_rows(section: type[BaseModel], prefix: str) -> Iterator[tuple[str, type[BaseModel], str]]:
    for name, field in section.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _section_rows(annotation, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", section, name


def config_markdown() -> str:
    """The configuration reference table, generated from the models."""
    out = [
        "| Key | Type | Default | Environment | Description |",
        "|---|---|---|---|---|",
    ]
    for section_name, section in SECTIONS.items():
        for dotted, model, name in _section_rows(section, f"{section_name}."):
            field = model.model_fields[name]
            default = _default_of(model, name)
            default_text = (
                "derived" if default is None and field.json_schema_extra else f"`{_toml_value(default)}`"
            )
            if default is None and not field.json_schema_extra:
                default_text = "—"
            env = f"`{ENV_PREFIX}{ENV_DELIMITER.join(dotted.split('.')).upper()}`"
            legacy = _legacy_name(dotted)
            if legacy:
                env += f", `{legacy}`"
            description = (field.description or "").replace("|", "\\|").replace("\n", " ")
            out.append(
                f"| `{dotted}` | {_type_name(field.annotation)} | {default_text} | {env} | {description} |"
            )
    return "\n".join(out) + "\n"


def config_toml() -> str:
    """A documented arb.toml: every key commented out at its default."""
    out = [
        "# arbtui configuration. Every key is shown commented out at its built-in default.",
        "# Precedence: CLI flags > ARB_<SECTION>__<KEY> environment > legacy flat env names",
        "#             > this file > built-in defaults.",
        "# Generated by `python -m core.config --toml`; README's reference table comes from the same models.",
    ]
    for section_name, section in SECTIONS.items():
        out += ["", f"# {section.__doc__.strip() if section.__doc__ else ''}", f"[{section_name}]"]
        for name, field in section.model_fields.items():
            out += [f"# {line}" for line in _wrap(field.description or "")]
            default = _default_of(section, name)
            if default is None:
                out.append(f"# {name} = {_derived_placeholder(section_name, name)}")
            else:
                out.append(f"# {name} = {_toml_value(default)}")
    return "\n".join(out) + "\n"


def _derived_placeholder(section_name: str, name: str) -> str:
    """A value that is valid TOML for the key when uncommented: empty where empty means derived,
    else (booleans) the value derived for the default cluster."""
    value = getattr(getattr(AppConfig(), section_name), name)
    if isinstance(value, bool):
        return f"{_toml_value(value)}  # unset: derived (this is {AppConfig().cluster.name}'s)"
    if isinstance(value, dict):
        return "{}  # empty: derived"
    return '""  # empty: derived'


def _wrap(text: str, width: int = 100) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return lines


def _main(argv: list[str]) -> int:
    if argv == ["--markdown"]:
        sys.stdout.write(config_markdown())
        return 0
    if argv == ["--toml"]:
        sys.stdout.write(config_toml())
        return 0
    sys.stderr.write("usage: python -m core.config --markdown | --toml\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
