"""The router's EVM side: orders become exact-input swap requests, checked transactions go
through the EVM venue's transaction path (nonce manager, journal, approvals, receipt, fill),
and the venue's own pools quote alongside the aggregators (the ``direct`` source).

Duck-typed against ``tradewind_venue_evm.EvmVenue`` (``pool``, ``quote``, ``wallet``,
``was_sent``, ``send_swap_transaction``, ``fetch_fills``), so the core does not import the
plugin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import attrs

from tradewind.execution.quotes import (
    AggregatorError,
    KnownRouter,
    SwapQuote,
    SwapRequest,
    TxRequest,
)
from tradewind.execution.router import NotSent
from tradewind.model import Order, OrderReport, OrderStatus, Side

#: Gas a direct pool swap is estimated to use, by pool family (typical mainnet figures).
DIRECT_GAS = {
    "uniswap-v2": 120_000,
    "uniswap-v3": 150_000,
    "balancer-v2": 160_000,
    "curve": 180_000,
}


@attrs.frozen
class SwapOutcome:
    """What one routed swap did on chain."""

    tx_hash: str
    #: Output token received, in wei (from the fill: quantity, or quantity x price).
    realised_out: int
    report: OrderReport


def _family(pool: Any) -> str:
    if pool.family == "uniswap-v2":
        return "uniswap-v2"
    if pool.family == "uniswap-v3":
        kind = getattr(pool, "router_kind", "")
        if kind == "swap_router":
            return "uniswap-v3"
        if kind == "swap_router02":
            return "uniswap-v3-02"
    return "opaque"


class EvmSwapExecutor:
    """Sends a routed swap for a venue order and reports its realised output."""

    def __init__(self, venue: Any, *, chain_id: int) -> None:
        self.venue = venue
        self.chain_id = chain_id
        self._orders: dict[str, Order] = {}

    async def request_for(self, order: Order, *, slippage: str = "0.005") -> SwapRequest:
        """The exact-input request of a market ``order``: a sell sells its quantity of base;
        a buy spends what the venue's pool asks for the quantity (its exact-output quote)."""
        pool = self.venue.pool(order.instrument)
        amount_in, _ = await self.venue.quote(order.instrument, order.side, order.quantity)
        sell, buy = (pool.base, pool.quote) if order.side is Side.SELL else (pool.quote, pool.base)
        self._orders[order.client_order_id] = order
        return SwapRequest(
            client_order_id=order.client_order_id,
            chain_id=self.chain_id,
            sell_token=sell.address,
            buy_token=buy.address,
            sell_amount=int(amount_in),
            wallet=str(self.venue.wallet),
            slippage=slippage,
        )

    def order(self, client_order_id: str) -> Order:
        """The order behind a request made by :meth:`request_for`."""
        try:
            return self._orders[client_order_id]
        except KeyError:
            raise KeyError(
                f"no order {client_order_id}: requests come from EvmSwapExecutor.request_for"
            ) from None

    async def execute(self, request: SwapRequest, quote: SwapQuote, tx: TxRequest) -> SwapOutcome:
        """Approve (if needed), sign, send, wait, book; NotSent when nothing left the wallet."""
        order = self.order(request.client_order_id)
        cid = order.client_order_id
        if self.venue.was_sent(cid):
            raise RuntimeError(f"order {cid} was already sent; it is never sent twice")
        route = f"{quote.aggregator}: " + " > ".join(quote.route)
        try:
            report = await self.venue.send_swap_transaction(
                order,
                to=tx.to,
                data=tx.data,
                amount_in=request.sell_amount,
                spender=quote.spender or tx.to,
                expected_out=quote.buy_amount,
                min_out=quote.min_buy_amount,
                route=route,
            )
        except Exception as exc:
            if not self.venue.was_sent(cid):
                raise NotSent(f"{type(exc).__name__}: {exc}") from exc
            raise
        if report.status is not OrderStatus.FILLED:
            if not self.venue.was_sent(cid):
                raise NotSent(report.reason or report.status.value)
            err = RuntimeError(f"order {cid} sent but not filled: {report.reason}")
            err.tx_hash = report.venue_order_id  # type: ignore[attr-defined]
            raise err
        fills = await self.venue.fetch_fills(order.instrument, cid)
        pool = self.venue.pool(order.instrument)
        if order.side is Side.SELL:
            got = sum((f.quantity * f.price for f in fills), Decimal(0))
            realised = pool.quote.to_wei(
                got.quantize(Decimal(1).scaleb(-pool.quote.decimals), rounding=ROUND_FLOOR)
            )
        else:
            realised = pool.base.to_wei(sum((f.quantity for f in fills), Decimal(0)))
        return SwapOutcome(tx_hash=report.venue_order_id, realised_out=int(realised), report=report)


class DirectPoolSource:
    """The venue's own pool as a quote source (``name`` defaults to ``direct``)."""

    def __init__(
        self,
        executor: EvmSwapExecutor,
        *,
        name: str = "direct",
        deadline_s: int = 120,
        clock_s: Callable[[], int],
    ) -> None:
        self.name = name
        self.executor = executor
        self.deadline_s = deadline_s
        self._clock_s = clock_s

    def routers(self, chain_id: int) -> Sequence[KnownRouter]:
        """Every configured pool's router (the targets of the venue's own swaps)."""
        venue = self.executor.venue
        out = []
        for order in self.executor._orders.values():
            pool = venue.pool(order.instrument)
            out.append(KnownRouter(address=pool.spender(), family=_family(pool)))
        return out

    async def quote_swap(self, request: SwapRequest) -> SwapQuote:
        """The pool's quote and its swap call (through the pool's router)."""
        venue = self.executor.venue
        order = self.executor.order(request.client_order_id)
        pool = venue.pool(order.instrument)
        token_in = pool.base if order.side is Side.SELL else pool.quote
        try:
            out = int(await pool.quote_in(token_in, request.sell_amount, "latest"))
        except Exception as exc:
            raise AggregatorError(self.name, "api", f"pool quote failed: {exc}") from exc
        min_out = int(
            (Decimal(out) * (1 - Decimal(request.slippage))).to_integral_value(ROUND_FLOOR)
        )
        to, data = pool.swap_call(
            token_in,
            request.sell_amount,
            min_out,
            str(venue.wallet),
            self._clock_s() + self.deadline_s,
        )
        return SwapQuote(
            aggregator=self.name,
            chain_id=request.chain_id,
            sell_token=request.sell_token,
            buy_token=request.buy_token,
            sell_amount=request.sell_amount,
            buy_amount=out,
            min_buy_amount=min_out,
            gas=DIRECT_GAS.get(pool.family, 200_000),
            route=(f"{pool.family} {order.instrument}",),
            tx=TxRequest(to=to, data=data, value=0, sender=request.wallet),
            spender=pool.spender(),
        )
