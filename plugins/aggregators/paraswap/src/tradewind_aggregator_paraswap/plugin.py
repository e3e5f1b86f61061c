"""ParaSwap (Velora) API v6.2: ``GET /prices?version=6.2`` answers with a ``priceRoute``
(``destAmount``, ``gasCost``, ``bestRoute`` with each swap's exchanges, the
``contractAddress`` of Augustus v6.2, which is also the ``tokenTransferProxy`` to approve);
``POST /transactions/{network}`` with that priceRoute answers with the transaction
(from, to, value, data, gas).

Key (optional): ``X-API-KEY``. Errors: ``{"error": "..."}``.
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

NAME = "paraswap"
#: Augustus v6.2, the same address on every chain ParaSwap serves.
AUGUSTUS_V6_2 = "0x6a000f20005980200259b80c5102003040001068"
CHAINS = (1, 10, 56, 100, 137, 146, 8453, 42161, 43114)


def _default_routers() -> dict[str, tuple[RouterEntry, ...]]:
    entry = RouterEntry(address=AUGUSTUS_V6_2, family="paraswap-v6.2")
    return {str(c): (entry,) for c in CHAINS}


@attrs.frozen(kw_only=True)
class ParaSwapConfig(AggregatorConfig):
    """``[aggregators.paraswap]``: defaults for api.paraswap.io."""

    base_url: str = "https://api.paraswap.io"
    routers: Mapping[str, tuple[RouterEntry, ...]] = attrs.field(factory=_default_routers)
    #: Partner name sent with every request.
    partner: str = "tradewind"
    #: Token decimals by address (ParaSwap needs them; 18 when not listed).
    decimals: Mapping[str, int] = attrs.field(factory=dict)


def parse_price(data: Any) -> Mapping[str, Any]:
    """The ``priceRoute`` of a ``/prices`` answer, checked for the fields used."""
    route = field(data, "priceRoute", aggregator=NAME, what="prices response")
    for key in ("destAmount", "srcAmount", "gasCost", "contractAddress"):
        field(route, key, aggregator=NAME, what="priceRoute")
    return route  # type: ignore[no-any-return]


def _route(price_route: Mapping[str, Any]) -> tuple[str, ...]:
    out = []
    for leg in price_route.get("bestRoute") or ():
        for swap in leg.get("swaps") or ():
            for ex in swap.get("swapExchanges") or ():
                out.append(f"{ex.get('exchange', '?')} {ex.get('percent', 100)}%")
    return tuple(out)


def parse_transaction(data: Any, price_route: Mapping[str, Any], request: SwapRequest) -> SwapQuote:
    """The core's quote from a priceRoute and the ``/transactions`` answer."""
    what = "transactions response"
    amount = integer(price_route, "destAmount", aggregator=NAME, what="priceRoute")
    gas = integer(price_route, "gasCost", aggregator=NAME, what="priceRoute")
    return SwapQuote(
        aggregator=NAME,
        chain_id=request.chain_id,
        sell_token=str(field(price_route, "srcToken", aggregator=NAME, what="priceRoute")),
        buy_token=str(field(price_route, "destToken", aggregator=NAME, what="priceRoute")),
        sell_amount=integer(price_route, "srcAmount", aggregator=NAME, what="priceRoute"),
        buy_amount=amount,
        min_buy_amount=min_out(amount, request.slippage),
        gas=gas,
        route=_route(price_route),
        tx=TxRequest(
            to=str(field(data, "to", aggregator=NAME, what=what)),
            data=str(field(data, "data", aggregator=NAME, what=what)),
            value=hex_or_int(data.get("value") or 0),
            sender=str(data.get("from", "")),
            gas=hex_or_int(data.get("gas") or 0),
        ),
        spender=str(price_route.get("tokenTransferProxy") or price_route["contractAddress"]),
        raw={"priceRoute": price_route, "transaction": data},
    )


class ParaSwapAggregator(HttpAggregator):
    """ParaSwap API v6.2: prices, then transactions."""

    name: ClassVar[str] = NAME
    config_class: ClassVar[type] = ParaSwapConfig
    key_header: ClassVar[str] = "X-API-KEY"

    def _decimals(self, token: str) -> int:
        cfg: ParaSwapConfig = self.config  # type: ignore[assignment]
        return int({k.lower(): v for k, v in cfg.decimals.items()}.get(token, 18))

    async def fetch_quote(self, request: SwapRequest) -> SwapQuote:
        """``GET /prices`` then ``POST /transactions/{network}``."""
        cfg: ParaSwapConfig = self.config  # type: ignore[assignment]
        src_dec, dst_dec = self._decimals(request.sell_token), self._decimals(request.buy_token)
        prices = await self.api.request(
            "GET",
            "/prices",
            params={
                "srcToken": request.sell_token,
                "srcDecimals": str(src_dec),
                "destToken": request.buy_token,
                "destDecimals": str(dst_dec),
                "amount": str(request.sell_amount),
                "side": "SELL",
                "network": str(request.chain_id),
                "version": "6.2",
                "userAddress": request.wallet,
                "partner": cfg.partner,
            },
        )
        price_route = parse_price(prices)
        bps = int(Decimal(request.slippage) * 10_000)
        data = await self.api.request(
            "POST",
            f"/transactions/{request.chain_id}",
            params={"ignoreChecks": "true"},
            body={
                "srcToken": request.sell_token,
                "srcDecimals": src_dec,
                "destToken": request.buy_token,
                "destDecimals": dst_dec,
                "srcAmount": str(request.sell_amount),
                "slippage": bps,
                "priceRoute": price_route,
                "userAddress": request.wallet,
                "receiver": request.wallet,
                "partner": cfg.partner,
            },
        )
        if not isinstance(data, Mapping):
            raise AggregatorError(NAME, "malformed", "the transactions response is not an object")
        return parse_transaction(data, price_route, request)


@hookimpl
def tradewind_register_aggregators(registry: Any) -> None:
    """Register the ParaSwap aggregator."""
    registry.add(ParaSwapAggregator)
