"""Best execution in the running host: the ``[aggregators.*]`` instances and, for each
execution venue declaring ``swap:evm``, a :class:`BestExecutionRouter` through which the
order manager sends that venue's market orders.

For each routed order the aggregators configured for the venue's chain and the venue's own
pool (``direct``, unless ``[routing] direct = false``) are asked in parallel within
``[routing] deadline_s``; the best net quote (or the chain's ``primary`` / ``fallback``
order) is checked and sent through the venue's transaction path; every quote is journaled
in the ``quotes`` table. An order the router cannot send ends rejected with each source's
failure named; one that may have been broadcast is never sent again (the order manager looks
it up at the venue). Limit orders (emulated by the venue) are not routed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from tradewind.config_check import building
from tradewind.errors import ConfigError, OrderRejectedError
from tradewind.execution.config import DIRECT
from tradewind.execution.evm import DirectPoolSource, EvmSwapExecutor
from tradewind.execution.router import BestExecutionRouter, RoutingFailed
from tradewind.model import Order, OrderReport, OrderType

if TYPE_CHECKING:
    from tradewind.trading.engine import Engine

log = logging.getLogger(__name__)

SWAP_CAPABILITY = "swap:evm"


class _ChainTime:
    """The chain's time in seconds as of the current route's start."""

    def __init__(self) -> None:
        self.seconds = 0

    def __call__(self) -> int:
        return self.seconds


class RoutedSubmitter:
    """Sends one venue's market orders through its router (``OrderManager.submitters``)."""

    def __init__(
        self,
        venue: Any,
        router: BestExecutionRouter,
        executor: EvmSwapExecutor,
        *,
        slippage: str,
        chain_time: _ChainTime | None = None,
    ) -> None:
        self.venue = venue
        self.router = router
        self.executor = executor
        self.slippage = slippage
        #: The chain time a direct pool quote's deadline counts from (set before each route).
        self.chain_time = chain_time or _ChainTime()

    async def __call__(self, order: Order) -> OrderReport:
        """Route ``order`` (a market order) or hand it to the venue (anything else, or an id
        the venue already knows: it answers with the order's state and sends nothing)."""
        cid = order.client_order_id
        if order.type is not OrderType.MARKET or self.venue.was_sent(cid):
            return await self.venue.submit_order(order)  # type: ignore[no-any-return]
        self.chain_time.seconds = await self.venue.chain_time_ns() // 1_000_000_000
        request = await self.executor.request_for(order, slippage=self.slippage)
        gas_price, out_per_native = await self.venue.swap_terms(order.instrument, order.side)
        try:
            result = await self.router.execute(
                request, gas_price_wei=gas_price, out_per_native=out_per_native
            )
        except RoutingFailed as exc:
            if self.venue.was_sent(cid):
                raise  # outcome unknown: the order manager looks it up, never resends
            raise OrderRejectedError(str(exc)) from exc
        return result.outcome.report  # type: ignore[no-any-return]


def build_aggregators(engine: Engine) -> dict[str, Any]:
    """The ``[aggregators.<key>]`` instances, by key."""
    cfg = engine.config
    out: dict[str, Any] = {}
    for key, inst in cfg.instances("aggregators").items():
        cls = cfg.host.plugin_class("aggregators", inst.plugin)
        with building(inst, cfg.path.name):
            out[key] = cls(config=inst.config, instance=key)
    return out


def install_routers(engine: Engine, aggregators: dict[str, Any]) -> dict[str, RoutedSubmitter]:
    """A router per connected execution venue declaring ``swap:evm``, installed in the order
    manager; a venue whose chain no aggregator serves is routed to its own pool alone (or,
    with ``direct = false``, refused here)."""
    routing = engine.config.routing
    used = {st.instrument.venue for st in engine.state.values()}
    installed: dict[str, RoutedSubmitter] = {}
    for key, venue in engine.venues.items():
        if key not in used or SWAP_CAPABILITY not in venue.capabilities:
            continue
        chain_id = int(venue.swap_chain_id())
        executor = EvmSwapExecutor(venue, chain_id=chain_id)
        sources: list[Any] = [a for a in aggregators.values() if a.serves(chain_id)]
        # The direct pool's swap deadline counts from the chain time of the route's start.
        chain_time = _ChainTime()
        if routing.direct:
            sources.append(DirectPoolSource(executor, name=DIRECT, clock_s=chain_time))
        if not sources:
            raise ConfigError(
                f"venue '{key}' (chain {chain_id}) has no quote source: no aggregator serves "
                f"the chain and [routing] direct = false @ $.routing.direct"
            )
        try:
            order = routing.order_for(chain_id)
            router = BestExecutionRouter(
                sources,
                executor,
                deadline_s=routing.deadline_s,
                order=order,
                journal=engine.journal,
                clock=engine.clock.now_ns,
            )
        except ValueError as exc:
            raise ConfigError(f"{exc} @ $.routing.chains.{chain_id}") from exc
        submitter = RoutedSubmitter(
            venue, router, executor, slippage=routing.slippage, chain_time=chain_time
        )
        engine.orders.submitters[key] = submitter
        installed[key] = submitter
        log.info(
            "venue '%s' routes market orders on chain %d through: %s",
            key,
            chain_id,
            ", ".join(s.name for s in sources),
        )
    return installed


@contextlib.asynccontextmanager
async def routing_service(engine: Engine) -> AsyncIterator[dict[str, RoutedSubmitter]]:
    """Build the aggregators and routers once the venues are connected; close on exit."""
    aggregators = build_aggregators(engine)
    try:
        yield install_routers(engine, aggregators)
    finally:
        for key in list(engine.orders.submitters):
            engine.orders.submitters.pop(key, None)
        for agg in aggregators.values():
            try:
                await agg.close()
            except Exception:  # closing one must not keep the others open
                log.exception("aggregator '%s' did not close cleanly", agg.instance)
