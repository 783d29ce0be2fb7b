"""Cycle search: the market model, the cycle index, optimal sizing and ranked opportunities.

`SearchEngine` is the entry point: feed it pool states with `upsert_pool` / `remove_pool`, read the
ranked opportunities with `top`.
"""

from core.search.dex_models import DexModel, HopLine
from core.search.engine import SearchEngine
from core.search.fees import FeeBreakdown, FeeModel
from core.search.opportunities import Opportunity, OpportunityEvent, OpportunityWithdrawn
from core.search.pools import Pool

__all__ = [
    "DexModel",
    "FeeBreakdown",
    "FeeModel",
    "HopLine",
    "Opportunity",
    "OpportunityEvent",
    "OpportunityWithdrawn",
    "Pool",
    "SearchEngine",
]
