"""A local Jito block engine: JSON-RPC over HTTP per region, auction, competitors, tip floor.

    engine = BlockEngine(cluster, BlockEngineConfig(...), faults)
    await engine.start()
    server = BlockEngineServer(engine, "127.0.0.1", 8901)
    await server.start()          # server.region_url("ny") -> "http://127.0.0.1:8901/ny/api/v1"
"""

from core.localnet.block_engine.config import (
    DEFAULT_REGION,
    DEFAULT_REGIONS,
    BlockEngineConfig,
    CompetitorConfig,
    Region,
)
from core.localnet.block_engine.engine import BlockEngine
from core.localnet.block_engine.server import BlockEngineServer

__all__ = [
    "DEFAULT_REGION",
    "DEFAULT_REGIONS",
    "BlockEngine",
    "BlockEngineConfig",
    "BlockEngineServer",
    "CompetitorConfig",
    "Region",
]
