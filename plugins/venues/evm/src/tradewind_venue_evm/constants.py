"""Fixed values of the EVM venue: event topics, defaults, and the names the registry accepts."""

from __future__ import annotations

from decimal import Decimal

#: Protocol families a DEX entry may name.
FAMILIES = ("uniswap-v2", "uniswap-v3", "balancer-v2", "curve")
#: How a chain prices gas.
GAS_MODES = ("eip1559", "legacy")
#: How an L2 charges its L1 data fee (see data/registry.toml).
L1_FEE_MODES = ("none", "op-stack", "in-gas")
#: Which Uniswap V3 router a pool's swaps go through.
V3_ROUTERS = ("swap_router", "swap_router02")
#: Token approval policies: the exact amount of each swap, or the maximum uint256 once.
APPROVAL_POLICIES = ("exact", "unlimited")

MAX_UINT256 = 2**256 - 1

#: keccak256 of the event signatures the venue decodes.
TOPIC_TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
#: Swap(address indexed sender, uint amount0In, uint amount1In, uint amount0Out,
#: uint amount1Out, address indexed to) of a Uniswap V2 pair.
TOPIC_SWAP_V2 = "0xd78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822"
#: Swap(address indexed sender, address indexed recipient, int256 amount0, int256 amount1,
#: uint160 sqrtPriceX96, uint128 liquidity, int24 tick) of a Uniswap V3 pool.
TOPIC_SWAP_V3 = "0xc42079f94a6350d7e6235f29174924f928cc2ac818eb64fed8004e115fbcca67"
#: Swap(bytes32 indexed poolId, address indexed tokenIn, address indexed tokenOut,
#: uint256 amountIn, uint256 amountOut) of the Balancer V2 Vault.
TOPIC_SWAP_BALANCER = "0x2170c741c41531aec20e7c107c24eecfdd15e69c9bb0a8dd37b1840b9e0b207b"
#: TokenExchange(address indexed buyer, int128 sold_id, uint256 tokens_sold, int128 bought_id,
#: uint256 tokens_bought) of a Curve pool.
TOPIC_TOKEN_EXCHANGE_CURVE = "0x8b3e96f2b889fa771c53c981b40daf005f63f637f1869f707052d15a3dd97140"

#: The selector of Solidity's Error(string) revert payload.
ERROR_STRING_SELECTOR = "0x08c379a0"

DEFAULT_SLIPPAGE = Decimal("0.005")
#: Nodes refuse a replacement that raises the fees by less than 10 %; this bumps by 12.5 %
#: (geth's default price bump is 10 %, some nodes ask more).
DEFAULT_FEE_BUMP = Decimal("0.125")
#: Gas estimates are multiplied by this before the cap applies. 1.5 because an estimate runs on
#: the pending block's timestamp, and a swap mined in a later second can write more storage than
#: the estimate saw (a Uniswap V2 pair's first price-accumulator update costs ~45,000 gas more).
DEFAULT_GAS_MULTIPLIER = Decimal("1.5")
DEFAULT_GAS_LIMIT_CAP = 1_500_000
#: Block hashes kept to detect a reorg of the blocks whose Swap events were delivered.
DEFAULT_REORG_WINDOW = 64
WEI_PER_GWEI = 10**9
