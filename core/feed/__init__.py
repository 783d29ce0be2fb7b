"""The market feed: pools of the configured dexes loaded over RPC and kept current over websockets.

`MarketFeed` is the entry point; its listeners get `FeedBatch` (search Pools to upsert / remove),
`FeedHealth` and `SlotTick` events.
"""

from core.feed.feed import FeedBatch, FeedEvent, FeedStats, MarketFeed
from core.feed.market_state import AccountUpdate, MarketState

__all__ = ["AccountUpdate", "FeedBatch", "FeedEvent", "FeedStats", "MarketFeed", "MarketState"]
