"""Jupiter's Swap API v1: ``GET /quote`` answers a route with ``inAmount``, ``outAmount``,
``otherAmountThreshold`` and its ``routePlan``; ``POST /swap`` with that quote and the user's
public key answers ``swapTransaction``, a base64 VersionedTransaction for the wallet to sign
(with ``lastValidBlockHeight``, ``computeUnitLimit`` and ``prioritizationFeeLamports``).

Key (optional, the paid host): ``x-api-key``. Errors: ``{"error": "...", "errorCode": "..."}``.

Jupiter quotes Solana only: the EVM quote methods of the core's aggregator Protocol refuse
(``serves`` is False for every chain id) and the Solana venue calls :meth:`quote_sol` and
:meth:`swap_sol` (its :class:`~tradewind_venue_solana.swapsource.SwapSource`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import attrs
from tradewind import hookimpl
from tradewind.execution import AggregatorError, KnownRouter, SwapQuote, SwapRequest
from tradewind.execution.http import JsonApi, field, integer
from tradewind.registry import KindRegistry
from tradewind.secrets import Secret
from tradewind_venue_solana.swapsource import SolSwapQuote, SolSwapTx

NAME = "jupiter"
#: Jupiter Aggregator v6, the program its swap transactions call.
JUPITER_V6 = "JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4"


@attrs.frozen(kw_only=True)
class JupiterConfig:
    """``aggregator_config`` of a Solana venue using Jupiter."""

    #: The API key for the paid host (``https://api.jup.ag/swap/v1``), as env:NAME.
    api_key: Secret | None = None
    #: The API's base URL (the free host by default; a local server in tests).
    base_url: str = "https://lite-api.jup.ag/swap/v1"
    #: Program ids Jupiter's transactions may call besides the token programs (the venue
    #: refuses any other before signing).
    programs: tuple[str, ...] = (JUPITER_V6,)
    #: Ask Jupiter to simulate and size the compute-unit limit when the venue sets none.
    dynamic_compute_unit_limit: bool = True
    #: Restrict routes to these DEX labels (``dexes`` query parameter); empty: any.
    dexes: tuple[str, ...] = ()
    timeout_s: float = 5.0
    max_retries: int = 2
    max_retry_after_s: float = 5.0


def parse_quote(data: Any) -> SolSwapQuote:
    """A ``/quote`` answer in the venue's quote model."""

    def num(*path: str | int) -> int:
        return integer(data, *path, aggregator=NAME, what="quote")

    route = []
    for step in field(data, "routePlan", aggregator=NAME, what="quote"):
        label = field(step, "swapInfo", "label", aggregator=NAME, what="quote routePlan step")
        route.append(f"{label} {step.get('percent', 100)}%")
    return SolSwapQuote(
        input_mint=field(data, "inputMint", aggregator=NAME, what="quote"),
        output_mint=field(data, "outputMint", aggregator=NAME, what="quote"),
        swap_mode=field(data, "swapMode", aggregator=NAME, what="quote"),
        in_amount=num("inAmount"),
        out_amount=num("outAmount"),
        other_amount_threshold=num("otherAmountThreshold"),
        slippage_bps=num("slippageBps"),
        route=tuple(route),
        raw=data,
    )


def parse_swap(data: Any) -> SolSwapTx:
    """A ``/swap`` answer: the transaction and its block-height bound."""
    if data.get("simulationError"):
        raise AggregatorError(NAME, "api", f"/swap: simulation failed: {data['simulationError']}")
    return SolSwapTx(
        tx_b64=field(data, "swapTransaction", aggregator=NAME, what="swap"),
        last_valid_block_height=integer(data, "lastValidBlockHeight", aggregator=NAME, what="swap"),
        compute_unit_limit=int(data.get("computeUnitLimit") or 0),
        prioritization_fee_lamports=int(data.get("prioritizationFeeLamports") or 0),
    )


class JupiterAggregator:
    """Jupiter Swap API v1 client (see the module doc)."""

    name: ClassVar[str] = NAME
    config_class: ClassVar[type] = JupiterConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"quote", "transaction", "solana"})

    def __init__(self, *, config: JupiterConfig, instance: str = "") -> None:
        self.config = config
        self.instance = instance or NAME
        if not config.base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"aggregator '{self.instance}' needs base_url = \"http(s)://...\", "
                f"got {config.base_url!r}"
            )
        headers = {"x-api-key": config.api_key.reveal()} if config.api_key else {}
        self.api = JsonApi(
            NAME,
            config.base_url,
            headers=headers,
            timeout_s=config.timeout_s,
            max_retries=config.max_retries,
            max_retry_after_s=config.max_retry_after_s,
        )

    def __repr__(self) -> str:
        return f"<JupiterAggregator {self.instance} {self.config.base_url}>"

    # -- Solana ---------------------------------------------------------------------------
    async def quote_sol(
        self, *, input_mint: str, output_mint: str, amount: int, swap_mode: str, slippage_bps: int
    ) -> SolSwapQuote:
        """``GET /quote``."""
        params: dict[str, Any] = {
            "inputMint": input_mint,
            "outputMint": output_mint,
            "amount": str(amount),
            "swapMode": swap_mode,
            "slippageBps": str(slippage_bps),
        }
        if self.config.dexes:
            params["dexes"] = ",".join(self.config.dexes)
        return parse_quote(await self.api.request("GET", "/quote", params=params))

    async def swap_sol(
        self,
        quote: SolSwapQuote,
        *,
        user: str,
        compute_unit_limit: int,
        compute_unit_price_micro_lamports: int,
        wrap_and_unwrap_sol: bool = False,
    ) -> SolSwapTx:
        """``POST /swap`` for ``quote`` (the quote's own JSON is sent back, as the API wants);
        ``wrapAndUnwrapSol`` when a side is native SOL (the venue asks for it then only)."""
        body: dict[str, Any] = {
            "userPublicKey": user,
            "quoteResponse": dict(quote.raw),
            "wrapAndUnwrapSol": wrap_and_unwrap_sol,
            "dynamicComputeUnitLimit": self.config.dynamic_compute_unit_limit
            and not compute_unit_limit,
            "computeUnitPriceMicroLamports": compute_unit_price_micro_lamports,
        }
        if compute_unit_limit:
            body["computeUnitLimit"] = compute_unit_limit
        return parse_swap(await self.api.request("POST", "/swap", body=body))

    def sol_programs(self) -> frozenset[str]:
        """Program ids Jupiter's transactions may call."""
        return frozenset(self.config.programs)

    # -- the core's EVM aggregator Protocol: Jupiter serves no EVM chain --------------------
    def serves(self, chain_id: int) -> bool:
        """False: Jupiter quotes Solana only."""
        return False

    def routers(self, chain_id: int) -> Sequence[KnownRouter]:
        """No EVM routers."""
        return []

    async def quote_swap(self, request: SwapRequest) -> SwapQuote:
        """Refused: an EVM swap request (Jupiter is used through the Solana venue)."""
        raise AggregatorError(
            NAME,
            "unsupported",
            f"chain {request.chain_id} is not configured: Jupiter quotes "
            "Solana swaps through the solana venue",
        )

    async def close(self) -> None:
        """Close the HTTP session (idempotent)."""
        await self.api.close()


@hookimpl
def tradewind_register_aggregators(registry: KindRegistry) -> None:
    """Register Jupiter."""
    registry.add(JupiterAggregator)
