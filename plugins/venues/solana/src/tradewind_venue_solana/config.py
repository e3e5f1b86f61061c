"""The Solana venue's config (``[venues.<name>]`` with ``plugin = "solana"``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from tradewind.secrets import Secret

from .constants import COMMITMENTS, MAX_COMPUTE_UNITS, NATIVE_SOL, TOKEN_PROGRAMS

#: Kinds of pool the venue swaps through directly when the aggregator fails.
DIRECT_POOL_KINDS = ("whirlpool", "cpmm", "amm_v4")


@attrs.frozen(kw_only=True)
class TokenEntry:
    """An SPL token the account tracks: ``{mint = "...", program = "token-2022"}``."""

    #: The mint address (base58).
    mint: str
    #: ``token`` (SPL Token) or ``token-2022``.
    program: str = "token"

    def __attrs_post_init__(self) -> None:
        if self.program not in TOKEN_PROGRAMS:
            raise ValueError(
                f"token program {self.program!r} is not one of {', '.join(TOKEN_PROGRAMS)}"
            )


@attrs.frozen(kw_only=True)
class MarketEntry:
    """A traded pair: ``{symbol = "MEME/USDC", base = "MEME", quote = "USDC"}`` (token names
    from ``tokens``)."""

    symbol: str
    base: str
    quote: str
    #: Smallest order step and price step of the instrument.
    lot_size: str = "0.000001"
    tick_size: str = "0.000001"


@attrs.frozen(kw_only=True)
class PoolEntry:
    """A pool streamed as market data for a market: the token accounts holding its reserves
    (Raydium's and Orca's pool vaults, or a market maker's accounts)."""

    symbol: str
    base_vault: str
    quote_vault: str


@attrs.frozen(kw_only=True)
class DirectPool:
    """A pool the venue quotes and swaps through itself when the aggregator fails or misses
    ``aggregator_deadline_s``: ``{symbol = "SOL/USDC", kind = "whirlpool", address = "..."}``
    (the pool account; its mints must be the market's). Kinds: ``whirlpool`` (Orca
    Whirlpool), ``cpmm`` (Raydium CPMM), ``amm_v4`` (Raydium AMM v4)."""

    symbol: str
    kind: str
    address: str
    #: Compute-unit limit of the direct swap transaction.
    compute_unit_limit: int = 300_000

    def __attrs_post_init__(self) -> None:
        if self.kind not in DIRECT_POOL_KINDS:
            raise ValueError(
                f"direct pool {self.symbol}: kind {self.kind!r} is not one of "
                f"{', '.join(DIRECT_POOL_KINDS)}"
            )


def _commitment(_: Any, attribute: Any, value: str) -> None:
    if value not in COMMITMENTS:
        raise ValueError(f"{attribute.name} must be one of {', '.join(COMMITMENTS)}, got {value!r}")


@attrs.frozen(kw_only=True)
class SolanaConfig:
    """Keys of a Solana venue."""

    #: The JSON-RPC endpoint, as env:NAME (RPC URLs often carry an API key).
    rpc_url: Secret
    #: The wallet's secret key, as env:NAME: a JSON array of 64 bytes (the Solana CLI's
    #: keypair file content) or the base58 string wallets export.
    keypair: Secret
    #: Tokens by name. SOL itself is always tracked (the fee currency); markets name native
    #: SOL as ``SOL`` without a tokens entry (it is wrapped for the swap and unwrapped after).
    tokens: Mapping[str, TokenEntry] = attrs.field(factory=dict)
    #: Traded pairs of those tokens.
    markets: tuple[MarketEntry, ...] = ()
    #: Pools streamed as trades (capability "data") and measured (price, liquidity: "values").
    pools: tuple[PoolEntry, ...] = ()
    #: End the trade stream once the cluster passed this slot (a bounded recording or
    #: replay of a slot range); None streams until closed.
    until_slot: int | None = None
    #: The aggregator plugin that quotes and builds swaps (``tradewind.aggregators`` entry
    #: point) and its config table.
    aggregator: str = "jupiter"
    aggregator_config: Mapping[str, Any] = attrs.field(factory=dict)
    #: Pools swapped through directly when the aggregator fails or is too slow (one per
    #: market at most); their programs are allowed in those swaps only.
    direct_pools: tuple[DirectPool, ...] = ()
    #: Seconds the aggregator has to quote and build a swap before a direct pool is used
    #: (markets without a direct pool wait for the aggregator's own timeout).
    aggregator_deadline_s: float = 3.0
    #: SOL the wallet keeps for fees and rent, in SOL: a market with SOL as its base reports
    #: as its position only the SOL above this (the rest is the wallet's fee float).
    sol_reserve: str = "0"
    #: Slippage bound of a market order, in basis points.
    slippage_bps: int = 50
    #: When a landed transaction counts as filled: processed, confirmed or finalized.
    commitment: str = attrs.field(default="confirmed", validator=_commitment)
    #: Compute-unit limit of a swap; 0 lets the aggregator size it (simulated units + margin).
    compute_unit_limit: int = 0
    #: Priority fee in micro-lamports per compute unit; with ``priority_fee = "recent"`` the
    #: median of getRecentPrioritizationFees is used, capped by ``max_priority_fee``.
    priority_fee_micro_lamports: int = 0
    priority_fee: str = "fixed"
    max_priority_fee_micro_lamports: int = 1_000_000
    #: Further program ids a swap transaction may call (a DEX program the aggregator routes
    #: through); besides these only System, Compute Budget, the token programs and ATA.
    programs: tuple[str, ...] = ()
    #: The write-ahead journal of signed transactions (relative to the working directory).
    tx_journal: str = "solana-transactions.jsonl"
    #: Seconds between signature status polls, and before an unconfirmed order is reported
    #: as unknown (never re-sent while its blockhash is still valid).
    poll_interval_s: float = 0.2
    confirm_timeout_s: float = 90.0

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.compute_unit_limit <= MAX_COMPUTE_UNITS:
            raise ValueError(f"compute_unit_limit must be 0..{MAX_COMPUTE_UNITS}")
        if self.priority_fee not in ("fixed", "recent"):
            raise ValueError(f"priority_fee must be fixed or recent, got {self.priority_fee!r}")
        symbols = {m.symbol for m in self.markets}
        for p in self.pools:
            if p.symbol not in symbols:
                raise ValueError(
                    f"pool {p.symbol} is not one of markets "
                    f"({', '.join(sorted(symbols)) or 'none'})"
                )
        seen: set[str] = set()
        for d in self.direct_pools:
            if d.symbol not in symbols or d.symbol in seen:
                raise ValueError(
                    f"direct pool {d.symbol}: not one of markets "
                    f"({', '.join(sorted(symbols)) or 'none'}) or listed twice"
                )
            seen.add(d.symbol)
        if NATIVE_SOL in self.tokens:
            raise ValueError(
                f"tokens.{NATIVE_SOL}: native SOL needs no tokens entry (markets "
                f"name it {NATIVE_SOL}; wrapped SOL is handled by the venue)"
            )
        for m in self.markets:
            if m.base == m.quote:
                raise ValueError(f"market {m.symbol}: base and quote are both {m.base}")
            for name in (m.base, m.quote):
                if name not in self.tokens and name != NATIVE_SOL:
                    raise ValueError(
                        f"market {m.symbol} names token {name!r}, which is not in tokens "
                        f"({', '.join(self.tokens) or 'none'})"
                    )
