"""What the venue asks of the aggregator that quotes and builds its swaps (Jupiter).

An aggregator plugin serving Solana implements :class:`SwapSource`; the venue loads it by
entry-point name (``aggregator = "jupiter"``) and never imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import attrs


@attrs.frozen(kw_only=True)
class SolSwapQuote:
    """A quote for one swap, amounts in base units of the mints."""

    input_mint: str
    output_mint: str
    #: ``ExactIn`` (sell ``in_amount``) or ``ExactOut`` (buy ``out_amount``).
    swap_mode: str
    in_amount: int
    out_amount: int
    #: With slippage: the least received (ExactIn) or the most paid (ExactOut).
    other_amount_threshold: int
    slippage_bps: int
    #: What the route goes through, e.g. ("RFQ 100%",).
    route: tuple[str, ...] = ()
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class SolSwapTx:
    """The transaction an aggregator asks the wallet to sign (base64 VersionedTransaction),
    other parties' signatures already applied."""

    tx_b64: str
    last_valid_block_height: int
    compute_unit_limit: int = 0
    prioritization_fee_lamports: int = 0


@runtime_checkable
class SwapSource(Protocol):
    """A Solana swap aggregator as the venue sees it."""

    name: str

    async def quote_sol(
        self,
        *,
        input_mint: str,
        output_mint: str,
        amount: int,
        swap_mode: str,
        slippage_bps: int,
    ) -> SolSwapQuote:
        """Quote a swap (``amount`` is the input for ExactIn, the output for ExactOut)."""

    async def swap_sol(
        self,
        quote: SolSwapQuote,
        *,
        user: str,
        compute_unit_limit: int,
        compute_unit_price_micro_lamports: int,
        wrap_and_unwrap_sol: bool = False,
    ) -> SolSwapTx:
        """The transaction of ``quote`` for ``user`` (``compute_unit_limit`` 0: dynamic). With
        ``wrap_and_unwrap_sol`` (a side is native SOL) the transaction wraps the SOL it spends
        into the wallet's wrapped-SOL account and closes that account after the swap."""

    def sol_programs(self) -> frozenset[str]:
        """Program ids this source's transactions may call besides the token programs."""

    async def close(self) -> None:
        """Release connections; idempotent."""
