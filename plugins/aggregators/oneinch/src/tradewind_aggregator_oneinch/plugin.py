"""1inch Swap API v6: ``GET /swap/v6.0/{chain}/swap`` answers with the output amount, the
route (``protocols``) and the transaction (``tx``); the spender is the router itself
(``GET /swap/v6.0/{chain}/approve/spender``, the AggregationRouterV6 on every chain).

Key: ``Authorization: Bearer <api_key>``. Errors come as
``{"error": "Bad Request", "description": "...", "statusCode": 400, ...}``.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    slippage_percent,
)
from tradewind.execution.http import field, integer

NAME = "oneinch"
#: AggregationRouterV6, the same address on every chain 1inch serves.
ROUTER_V6 = "0x111111125421ca6dc452d289314280a0f8842a65"
CHAINS = (1, 10, 56, 100, 137, 8453, 42161, 43114)


def _default_routers() -> dict[str, tuple[RouterEntry, ...]]:
    entry = RouterEntry(address=ROUTER_V6, family="oneinch-v6")
    return {str(c): (entry,) for c in CHAINS}


@attrs.frozen(kw_only=True)
class OneInchConfig(AggregatorConfig):
    """``[aggregators.oneinch]``: defaults for api.1inch.dev."""

    base_url: str = "https://api.1inch.dev"
    routers: Mapping[str, tuple[RouterEntry, ...]] = attrs.field(factory=_default_routers)


def _route(protocols: Any) -> tuple[str, ...]:
    """``protocols`` is a list of routes, each a list of hops, each a list of parts."""
    out: list[str] = []
    if not isinstance(protocols, list):
        return ()
    for route in protocols:
        for hop in route if isinstance(route, list) else ():
            for part in hop if isinstance(hop, list) else ():
                if isinstance(part, Mapping) and "name" in part:
                    out.append(f"{part['name']} {part.get('part', 100)}%")
    return tuple(out)


def parse_swap(data: Any, request: SwapRequest) -> SwapQuote:
    """The core's quote from a ``/swap`` answer."""
    amount = integer(data, "dstAmount", aggregator=NAME, what="swap response")
    tx = field(data, "tx", aggregator=NAME, what="swap response")
    to = str(field(tx, "to", aggregator=NAME, what="swap tx"))
    return SwapQuote(
        aggregator=NAME,
        chain_id=request.chain_id,
        sell_token=request.sell_token,
        buy_token=request.buy_token,
        sell_amount=request.sell_amount,
        buy_amount=amount,
        min_buy_amount=min_out(amount, request.slippage),
        gas=hex_or_int(tx.get("gas", 0)),
        route=_route(data.get("protocols")),
        tx=TxRequest(
            to=to,
            data=str(field(tx, "data", aggregator=NAME, what="swap tx")),
            value=hex_or_int(tx.get("value", 0)),
            sender=str(tx.get("from", "")),
            gas=hex_or_int(tx.get("gas", 0)),
        ),
        spender=to,
        raw=data,
    )


class OneInchAggregator(HttpAggregator):
    """1inch Swap API v6."""

    name: ClassVar[str] = NAME
    config_class: ClassVar[type] = OneInchConfig
    key_header: ClassVar[str] = "Authorization"
    key_prefix: ClassVar[str] = "Bearer "

    async def fetch_quote(self, request: SwapRequest) -> SwapQuote:
        """``GET /swap/v6.0/{chain}/swap`` with the protocols included."""
        data = await self.api.request(
            "GET",
            f"/swap/v6.0/{request.chain_id}/swap",
            params={
                "src": request.sell_token,
                "dst": request.buy_token,
                "amount": str(request.sell_amount),
                "from": request.wallet,
                "origin": request.wallet,
                "receiver": request.wallet,
                "slippage": slippage_percent(request.slippage),
                "includeProtocols": "true",
                "includeGas": "true",
                "disableEstimate": "true",
            },
        )
        if not isinstance(data, Mapping):
            raise AggregatorError(NAME, "malformed", "the swap response is not an object")
        return parse_swap(data, request)


@hookimpl
def tradewind_register_aggregators(registry: Any) -> None:
    """Register the 1inch aggregator."""
    registry.add(OneInchAggregator)
