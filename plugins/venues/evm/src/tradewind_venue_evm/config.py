"""The options of a ``[venues.<instance>]`` table with ``plugin = "evm"``.

Example::

    [venues.uni]
    plugin = "evm"
    chain = "arbitrum"                        # a chain of data/registry.toml or of [chains]
    rpc_url = "env:ARB_RPC_URL"               # your node (a secret: URLs often embed API keys)
    private_key = "env:ARB_PRIVATE_KEY"       # the wallet that swaps
    tx_journal = "state/uni-transactions.jsonl"
    slippage = "0.003"

    [[venues.uni.pools]]
    symbol = "WETH/USDC"
    dex = "uniswap-v3"
    base = "0x82aF49447D8a07e3bd95BD0d56f35241523fBab1"
    quote = "0xaf88d065e77c8cC2239327C5EDb3A432268e5831"
    fee_tier = 500
"""

from __future__ import annotations

from decimal import Decimal

import attrs
from tradewind.secrets import Secret

from tradewind_venue_evm.constants import (
    APPROVAL_POLICIES,
    DEFAULT_FEE_BUMP,
    DEFAULT_GAS_LIMIT_CAP,
    DEFAULT_GAS_MULTIPLIER,
    DEFAULT_REORG_WINDOW,
    DEFAULT_SLIPPAGE,
    V3_ROUTERS,
)
from tradewind_venue_evm.registry import Chain, Dex


@attrs.frozen(kw_only=True)
class PoolConfig:
    """One pool traded as a spot instrument ``<venue>:<symbol>`` (base priced in quote)."""

    #: The instrument symbol, e.g. "WETH/USDC".
    symbol: str
    #: The DEX entry of the chain the pool belongs to (e.g. "uniswap-v3", "sushiswap").
    dex: str
    #: ERC-20 address of the base token (the quantity of an order is in it).
    base: str
    #: ERC-20 address of the quote token (prices are quote per base).
    quote: str
    #: Uniswap V3: the pool's fee tier in hundredths of a basis point (500 = 0.05 %).
    fee_tier: int | None = None
    #: The pool's address. Uniswap V2/V3: optional (computed by CREATE2 and checked against
    #: the factory); Balancer V2 and Curve: required.
    address: str | None = None
    #: Uniswap V3: which router swaps go through, "swap_router" or "swap_router02" (default:
    #: SwapRouter02 when the DEX has one).
    router: str | None = None
    #: Price and size quantisation of the instrument (the venue itself is exact to the wei).
    tick_size: Decimal = Decimal("0.000001")
    lot_size: Decimal = Decimal("0.000001")

    def __attrs_post_init__(self) -> None:
        if self.router is not None and self.router not in V3_ROUTERS:
            raise ValueError(f"router must be one of {', '.join(V3_ROUTERS)}, got {self.router!r}")


@attrs.frozen(kw_only=True)
class EvmConfig:
    """Options of the EVM venue. Secrets are ``env:NAME`` references, never values."""

    #: The chain traded on: a name of the shipped registry (ethereum, arbitrum, optimism, base,
    #: zksync, polygon, bsc, avalanche, fantom) or of :attr:`chains`.
    chain: str = "ethereum"
    #: ``env:NAME`` of the JSON-RPC URL read from and (without private_rpc_url) sent to.
    #: Default: the chain's public RPC from the registry.
    rpc_url: Secret | None = None
    #: ``env:NAME`` of a private submission endpoint (e.g. a MEV-protected RPC), used only to
    #: send signed transactions; reads still go to rpc_url.
    private_rpc_url: Secret | None = None
    #: ``env:NAME`` of the wallet's private key (hex). Without it the venue serves data only.
    private_key: Secret | None = None
    #: Pools traded and streamed.
    pools: tuple[PoolConfig, ...] = ()
    #: Chains added to or overriding the shipped registry (same keys as data/registry.toml).
    chains: dict[str, Chain] = attrs.Factory(dict)
    #: DEXes added to the chain (a fork is a new entry of a known family), by name.
    dexes: dict[str, Dex] = attrs.Factory(dict)
    #: The worst price a market swap may realise, as a fraction below its fresh quote:
    #: amountOutMinimum = quote x (1 - slippage). Always set; 0 < slippage < 0.5.
    slippage: Decimal = DEFAULT_SLIPPAGE
    #: Accept limit orders and trigger them as market swaps when the pool price crosses the
    #: limit (the venue watches its own Swap events); they are flagged "emulated" in the
    #: journal. Off: a limit order is rejected.
    emulate_limits: bool = False
    #: "exact": approve each swap's input amount (default); "unlimited": approve 2**256-1 once.
    approvals: str = "exact"
    #: Gas limit = estimate x gas_multiplier, refused above gas_limit_cap.
    gas_multiplier: Decimal = DEFAULT_GAS_MULTIPLIER
    gas_limit_cap: int = DEFAULT_GAS_LIMIT_CAP
    #: Refuse to send when the fee per gas would exceed this many gwei (None: no cap).
    max_fee_per_gas_gwei: Decimal | None = None
    #: A transaction unmined after this many seconds is replaced (same nonce, fees raised by
    #: fee_bump); it is replaced again each time the interval passes.
    replace_after_s: float = 30.0
    fee_bump: Decimal = DEFAULT_FEE_BUMP
    #: Give up waiting for a receipt after this many seconds (the order stays pending and is
    #: found again on the next start).
    receipt_timeout_s: float = 300.0
    #: Seconds between polls for new blocks (Swap events, receipts).
    poll_interval_s: float = 1.0
    #: First block whose Swap events are streamed (default: the next block after connect).
    #: With until_block, the venue replays a past range of the chain (a backtest on real swaps).
    from_block: int | None = None
    #: Last block streamed; the stream ends after it (default: stream forever).
    until_block: int | None = None
    #: Most blocks one eth_getLogs asks for (public RPCs refuse large ranges); a backlog is
    #: read in pieces of this size.
    log_range: int = 2000
    #: Swap deadline for routers that take one (Uniswap V2 Router02, V3 SwapRouter, Balancer).
    deadline_s: int = 300
    #: The write-ahead transaction journal (JSON lines): every signed transaction is written
    #: and flushed here before it is sent, so a restart finds it again by nonce and hash.
    tx_journal: str = "evm-transactions.jsonl"
    #: Blocks of history whose hashes are kept to notice a reorg of delivered Swap events.
    reorg_window: int = DEFAULT_REORG_WINDOW
    #: Measure each pool's liquidity (quote held + base held x price) at every block range
    #: streamed and report it as ``<instance>.liquidity`` for the ``liquidity`` exit (two
    #: or three RPC calls per pool per poll).
    measure_liquidity: bool = True
    #: Maker and taker fee of the instruments (the pool fee is charged inside the swap and
    #: reported on each fill; these are the engine's sizing assumptions).
    taker_fee: Decimal = Decimal("0.003")

    def __attrs_post_init__(self) -> None:
        if not Decimal(0) < self.slippage < Decimal("0.5"):
            raise ValueError(f"slippage must be in (0, 0.5), got {self.slippage}")
        if self.approvals not in APPROVAL_POLICIES:
            raise ValueError(
                f"approvals must be one of {', '.join(APPROVAL_POLICIES)}, got {self.approvals!r}"
            )
        if self.gas_multiplier < 1:
            raise ValueError(f"gas_multiplier must be at least 1, got {self.gas_multiplier}")
        if self.fee_bump < Decimal("0.1"):
            raise ValueError(
                f"fee_bump must be at least 0.1 (nodes refuse smaller replacements), "
                f"got {self.fee_bump}"
            )
        if self.log_range < 1:
            raise ValueError(f"log_range must be at least 1, got {self.log_range}")
        for name in ("replace_after_s", "receipt_timeout_s", "poll_interval_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        symbols = [p.symbol for p in self.pools]
        dup = sorted({s for s in symbols if symbols.count(s) > 1})
        if dup:
            raise ValueError(f"pools: symbol {dup[0]!r} is configured twice")
