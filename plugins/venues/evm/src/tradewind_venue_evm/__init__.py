"""tradewind venue plugin for EVM DEX pools: Uniswap V2/V3 and forks, Balancer V2, Curve.

See docs/venues/evm.md for chains, DEXes, the wallet, gas, approvals and emulated limits.
"""

from tradewind_venue_evm.config import EvmConfig, PoolConfig
from tradewind_venue_evm.registry import Chain, Dex, builtin_chains
from tradewind_venue_evm.venue import EvmVenue

__all__ = ["Chain", "Dex", "EvmConfig", "EvmVenue", "PoolConfig", "builtin_chains"]
