"""Flash-loan arbitrage: providers, the atomic transaction builder, profitability, validation."""
