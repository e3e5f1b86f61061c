"""Odos Smart Order Router: ``POST /sor/quote/v2`` answers with ``outAmounts``,
``gasEstimate`` and a ``pathId`` (valid 60 s); ``POST /sor/assemble`` with that pathId answers
with the ``transaction`` (to, from, data, value, gas) for the Odos router, which is also the
spender.

Key (optional): ``x-api-key``. Errors: ``{"detail": "...", "traceId": "...",
"errorCode": 4001}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

import attrs
from tradewind import hookimpl
from tradewind.execution import AggregatorError, SwapQuote, SwapRequest, TxRequest
from tradewind.execution.aggregator import (
    AggregatorConfig,
    HttpAggregator,
    RouterEntry,
    hex_or_int,
    min_out,
)
from tradewind.execution.http import field, integer

NAME = "odos"
#: Odos Router V2 per chain id.
ROUTERS_V2 = {
    1: "0xcf5540fffcdc3d510b18bfca6d2b9987b0772559",
    10: "0xca423977156bb05b13a2ba3b76bc5419e2fe9680",
    56: "0x89b8aa89fdd0507a99d334cbe3c808fafc7d850e",
    137: "0x4e3288c9ca110bcc82bf38f09a7b425c095d92bf",
    8453: "0x19ceead7105607cd444f5ad10dd51356436095a1",
    42161: "0xa669e7a0d4b3e4fa48af2de86bd4cd7126be4e13",
    43114: "0x88de50b233052e4fb783d4f6db78cc34fea3e9fc",
}


def _default_routers() -> dict[str, tuple[RouterEntry, ...]]:
    return {str(c): (RouterEntry(address=a, family="odos-v2"),) for c, a in ROUTERS_V2.items()}


@attrs.frozen(kw_only=True)
class OdosConfig(AggregatorConfig):
    """``[aggregators.odos]``: defaults for api.odos.xyz."""

    base_url: str = "https://api.odos.xyz"
    routers: Mapping[str, tuple[RouterEntry, ...]] = attrs.field(factory=_default_routers)


def parse_quote(data: Any) -> tuple[str, int, int]:
    """(pathId, output amount, gas estimate) of a ``/sor/quote/v2`` answer."""
    what = "quote response"
    path_id = str(field(data, "pathId", aggregator=NAME, what=what))
    out = integer(data, "outAmounts", 0, aggregator=NAME, what=what)
    gas = field(data, "gasEstimate", aggregator=NAME, what=what)
    try:
        gas_units = int(Decimal(str(gas)))
    except ArithmeticError as exc:
        raise AggregatorError(NAME, "malformed", f"gasEstimate is not a number: {gas!r}") from exc
    return path_id, out, gas_units


def parse_assemble(data: Any, request: SwapRequest, out: int, gas: int, path_id: str) -> SwapQuote:
    """The core's quote from the assembled transaction."""
    what = "assemble response"
    tx = field(data, "transaction", aggregator=NAME, what=what)
    outputs = data.get("outputTokens") or []
    if outputs and isinstance(outputs[0], Mapping) and "amount" in outputs[0]:
        out = integer(outputs[0], "amount", aggregator=NAME, what="outputTokens[0]")
    to = str(field(tx, "to", aggregator=NAME, what="transaction"))
    return SwapQuote(
        aggregator=NAME,
        chain_id=request.chain_id,
        sell_token=request.sell_token,
        buy_token=request.buy_token,
        sell_amount=request.sell_amount,
        buy_amount=out,
        min_buy_amount=min_out(out, request.slippage),
        gas=gas,
        route=(f"odos path {path_id}",),
        tx=TxRequest(
            to=to,
            data=str(field(tx, "data", aggregator=NAME, what="transaction")),
            value=hex_or_int(tx.get("value") or 0),
            sender=str(tx.get("from", "")),
            gas=hex_or_int(tx.get("gas") or 0),
        ),
        spender=to,
        raw=data,
    )


class OdosAggregator(HttpAggregator):
    """Odos SOR: quote v2, then assemble."""

    name: ClassVar[str] = NAME
    config_class: ClassVar[type] = OdosConfig
    key_header: ClassVar[str] = "x-api-key"

    async def fetch_quote(self, request: SwapRequest) -> SwapQuote:
        """``POST /sor/quote/v2`` then ``POST /sor/assemble``."""
        quote = await self.api.request(
            "POST",
            "/sor/quote/v2",
            body={
                "chainId": request.chain_id,
                "inputTokens": [
                    {"tokenAddress": request.sell_token, "amount": str(request.sell_amount)}
                ],
                "outputTokens": [{"tokenAddress": request.buy_token, "proportion": 1}],
                "userAddr": request.wallet,
                "slippageLimitPercent": float(Decimal(request.slippage) * 100),
                # The decodable swap(...) form, not swapCompact: checked before signing.
                "compact": False,
            },
        )
        path_id, out, gas = parse_quote(quote)
        data = await self.api.request(
            "POST",
            "/sor/assemble",
            body={
                "userAddr": request.wallet,
                "pathId": path_id,
                "simulate": False,
                "receiver": request.wallet,
            },
        )
        return parse_assemble(data, request, out, gas, path_id)


@hookimpl
def tradewind_register_aggregators(registry: Any) -> None:
    """Register the Odos aggregator."""
    registry.add(OdosAggregator)
