"""0x Swap API v2 (AllowanceHolder): ``GET /swap/allowance-holder/quote`` answers with
``buyAmount``, ``minBuyAmount``, ``route.fills`` (source and share of each fill),
``issues.allowance`` (the spender to approve when the allowance is short) and
``transaction`` (to, data, gas, value).

Headers: ``0x-api-key`` and ``0x-version: v2``. ``liquidityAvailable: false`` is an error
(no route); error bodies are ``{"name": "INPUT_INVALID", "message": "...", "data": {...}}``.
The transaction's target is the AllowanceHolder contract, which is also the spender.
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
)
from tradewind.execution.http import field, integer

NAME = "zeroex"
#: AllowanceHolder (Cancun chains) and its variant on chains without Cancun.
ALLOWANCE_HOLDER = "0x0000000000001ff3684f28c67538d4d072c22734"
ALLOWANCE_HOLDER_LONDON = "0x0000000000005e88410ccdfade4a5efae4b49562"
CHAINS = (1, 10, 56, 137, 8453, 42161, 43114)


def _default_routers() -> dict[str, tuple[RouterEntry, ...]]:
    entry = RouterEntry(address=ALLOWANCE_HOLDER, family="zeroex-allowance-holder")
    return {str(c): (entry,) for c in CHAINS}


@attrs.frozen(kw_only=True)
class ZeroExConfig(AggregatorConfig):
    """``[aggregators.zeroex]``: defaults for api.0x.org."""

    base_url: str = "https://api.0x.org"
    routers: Mapping[str, tuple[RouterEntry, ...]] = attrs.field(factory=_default_routers)


def parse_quote(data: Any, request: SwapRequest) -> SwapQuote:
    """The core's quote from a ``/swap/allowance-holder/quote`` answer."""
    if not isinstance(data, Mapping):
        raise AggregatorError(NAME, "malformed", "the quote response is not an object")
    if data.get("liquidityAvailable") is False:
        raise AggregatorError(NAME, "api", "liquidityAvailable is false: no route for the pair")
    what = "quote response"
    tx = field(data, "transaction", aggregator=NAME, what=what)
    fills = field(data, "route", "fills", aggregator=NAME, what=what)
    route = tuple(
        f"{f.get('source', '?')} {int(f.get('proportionBps', 0)) / 100:g}%"
        for f in fills
        if isinstance(f, Mapping)
    )
    issues = data.get("issues") or {}
    allowance = issues.get("allowance") if isinstance(issues, Mapping) else None
    to = str(field(tx, "to", aggregator=NAME, what="transaction"))
    spender = str(allowance.get("spender", to)) if isinstance(allowance, Mapping) else to
    return SwapQuote(
        aggregator=NAME,
        chain_id=request.chain_id,
        sell_token=str(field(data, "sellToken", aggregator=NAME, what=what)),
        buy_token=str(field(data, "buyToken", aggregator=NAME, what=what)),
        sell_amount=integer(data, "sellAmount", aggregator=NAME, what=what),
        buy_amount=integer(data, "buyAmount", aggregator=NAME, what=what),
        min_buy_amount=integer(data, "minBuyAmount", aggregator=NAME, what=what),
        gas=hex_or_int(tx.get("gas") or 0),
        route=route,
        tx=TxRequest(
            to=to,
            data=str(field(tx, "data", aggregator=NAME, what="transaction")),
            value=hex_or_int(tx.get("value") or 0),
            sender=request.wallet,
            gas=hex_or_int(tx.get("gas") or 0),
        ),
        spender=spender,
        raw=data,
    )


class ZeroExAggregator(HttpAggregator):
    """0x Swap API v2 through AllowanceHolder."""

    name: ClassVar[str] = NAME
    config_class: ClassVar[type] = ZeroExConfig
    key_header: ClassVar[str] = "0x-api-key"
    extra_headers: ClassVar[Mapping[str, str]] = {"0x-version": "v2"}

    async def fetch_quote(self, request: SwapRequest) -> SwapQuote:
        """``GET /swap/allowance-holder/quote``."""
        from decimal import Decimal

        bps = int(Decimal(request.slippage) * 10_000)
        data = await self.api.request(
            "GET",
            "/swap/allowance-holder/quote",
            params={
                "chainId": str(request.chain_id),
                "sellToken": request.sell_token,
                "buyToken": request.buy_token,
                "sellAmount": str(request.sell_amount),
                "taker": request.wallet,
                "recipient": request.wallet,
                "slippageBps": str(bps),
            },
        )
        return parse_quote(data, request)


@hookimpl
def tradewind_register_aggregators(registry: Any) -> None:
    """Register the 0x aggregator."""
    registry.add(ZeroExAggregator)
