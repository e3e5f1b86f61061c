"""One routed order on the local chain: the four aggregators (and the venue's own pool) behind
local servers, the EVM venue as executor, a DuckDB journal."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
from agg_servers import AggServer, Backend, Behaviour, serve
from agg_setup import make_aggregator
from evm_chain import CHAIN_ID, LocalChain
from evm_testkit import connected, pool
from tradewind.execution import BestExecutionRouter
from tradewind.execution.evm import DirectPoolSource, EvmSwapExecutor
from tradewind.journal.store import Journal
from tradewind.model import Order, OrderType, Side

#: Where each server routes by default: ParaSwap through the second V2 deployment, whose pool
#: prices WETH highest (the best gross output for a sell), the others through V2 or V3.
DEFAULT_VENUES = {"oneinch": "v3", "zeroex": "v2", "paraswap": "fork", "odos": "v2"}


@attrs.define
class Routed:
    router: BestExecutionRouter
    venue: Any
    executor: EvmSwapExecutor
    servers: dict[str, AggServer]
    journal: Journal
    aggregators: list[Any]


def market(cid: str, side: Side = Side.SELL, qty: str = "1") -> Order:
    return Order(
        client_order_id=cid,
        instrument="dex:WETH/USD",
        side=side,
        type=OrderType.MARKET,
        quantity=Decimal(qty),
    )


@contextlib.asynccontextmanager
async def routed(
    chain: LocalChain,
    tmp: Path,
    behaviours: dict[str, Behaviour] | None = None,
    *,
    deadline_s: float = 2.0,
    direct: bool = True,
    order: list[str] | None = None,
) -> AsyncIterator[Routed]:
    """Everything needed to route one order, torn down on exit."""
    behaviours = behaviours or {}
    backend = Backend(chain)
    servers = {
        k: AggServer(k, backend, behaviours.get(k, Behaviour(venue=v)))
        for k, v in DEFAULT_VENUES.items()
    }
    async with contextlib.AsyncExitStack() as stack:
        for s in servers.values():
            await stack.enter_async_context(serve(s))
        venue = await connected(chain, [pool(chain, "uniswap-v2")])
        stack.push_async_callback(venue.close)
        aggs = [make_aggregator(k, s, timeout_s=deadline_s + 1) for k, s in servers.items()]
        for a in aggs:
            stack.push_async_callback(a.close)
        executor = EvmSwapExecutor(venue, chain_id=CHAIN_ID)
        sources: list[Any] = list(aggs)
        if direct:
            ts = int(chain.w3.eth.get_block("latest")["timestamp"])
            sources.append(DirectPoolSource(executor, clock_s=lambda: ts))
        journal = Journal(tmp / "journal.duckdb", "run-1", durable=True)
        stack.callback(journal.close)
        router = BestExecutionRouter(
            sources, executor, deadline_s=deadline_s, journal=journal, order=order
        )
        yield Routed(router, venue, executor, servers, journal, aggs)


def quotes(journal: Journal, cid: str) -> dict[str, dict[str, Any]]:
    """The journaled quotes of ``cid`` by aggregator."""
    cols = [
        "aggregator",
        "buy_amount",
        "net_out",
        "gas",
        "rank",
        "status",
        "error",
        "tx_hash",
        "realised_out",
        "gas_cost_out",
    ]
    rows = journal.query(f"SELECT {', '.join(cols)} FROM quotes WHERE client_order_id = ?", [cid])
    return {r[0]: dict(zip(cols, r, strict=True)) for r in rows}
