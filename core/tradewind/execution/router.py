"""The best-execution router: ask every quote source in parallel with a deadline, rank the
answers by net output, send the best, fall back to the next when it fails before sending.

Net output is the quoted output minus the gas it costs, valued in the output token at the
caller's mark price (output-token wei per native wei). With an explicit ``order`` (the
config's ``primary`` / ``fallback``), quotes are tried in that order instead.

One client order id is sent at most once: after a transaction was handed to the executor
(successfully or not, once it may have been broadcast) the router never sends another for
that id, in this process or, through the journal's ``quotes`` table, after a restart.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Protocol

import anyio
import attrs

from tradewind.execution.quotes import (
    AggregatorError,
    KnownRouter,
    SwapQuote,
    SwapRequest,
    TxRequest,
    UnsafeTransaction,
    check_transaction,
)


class NotSent(Exception):
    """The executor failed before anything was broadcast: the next quote may be tried."""


class QuoteSource(Protocol):
    """An aggregator (or a venue's direct pool) as the router sees it."""

    name: str

    async def quote_swap(self, request: SwapRequest) -> SwapQuote:
        """A quote with the transaction to send; AggregatorError when there is none."""

    def routers(self, chain_id: int) -> Sequence[KnownRouter]:
        """The router contracts this source's transactions may target on ``chain_id``."""


class Executor(Protocol):
    """Sends a checked transaction: approval (when needed), swap, receipt, fill."""

    async def execute(self, request: SwapRequest, quote: SwapQuote, tx: TxRequest) -> Any:
        """The outcome (with ``tx_hash`` and ``realised_out`` attributes); NotSent when it
        failed before broadcasting."""


@attrs.define
class Considered:
    """One source's part in one routing decision (one row of the ``quotes`` table)."""

    aggregator: str
    quote: SwapQuote | None = None
    error: str = ""
    gas_cost_out: int = 0
    net_out: int | None = None
    rank: int = 0
    #: quoted | failed | chosen | refused | send_failed | filled | not_tried
    status: str = "quoted"
    tx_hash: str = ""
    realised_out: int | None = None
    latency_ns: int = 0


@attrs.frozen
class RouteResult:
    """What the router did for one client order id."""

    client_order_id: str
    considered: tuple[Considered, ...]
    chosen: str
    outcome: Any


class RoutingFailed(Exception):
    """No source could be sent; the message lists each source's failure."""


class BestExecutionRouter:
    """Routes exact-input swaps to the best net quote (see the module doc)."""

    def __init__(
        self,
        sources: Sequence[QuoteSource],
        executor: Executor,
        *,
        deadline_s: float = 2.0,
        order: Sequence[str] | None = None,
        journal: Any | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        names = [s.name for s in sources]
        if len(set(names)) != len(names):
            raise ValueError(f"quote sources must have distinct names, got {names}")
        if order is not None:
            unknown = [n for n in order if n not in names]
            if unknown:
                raise ValueError(f"order names unknown quote sources {unknown}; known: {names}")
        self.sources = list(sources)
        self.executor = executor
        self.deadline_s = deadline_s
        self.order = list(order) if order is not None else None
        self.journal = journal
        self._clock = clock or time.time_ns
        self._sent: dict[str, RouteResult | None] = {}

    # -- quoting -------------------------------------------------------------------------------
    async def _ask(self, source: QuoteSource, request: SwapRequest, out: Considered) -> None:
        t0 = time.perf_counter_ns()
        try:
            with anyio.fail_after(self.deadline_s):
                out.quote = await source.quote_swap(request)
        except TimeoutError:
            out.status, out.error = "failed", f"timeout: no quote within {self.deadline_s}s"
        except AggregatorError as exc:
            out.status, out.error = "failed", str(exc)
        except Exception as exc:  # a plugin's bug must not stop the other quotes
            out.status, out.error = "failed", f"{type(exc).__name__}: {exc}"
        out.latency_ns = time.perf_counter_ns() - t0

    async def gather(
        self, request: SwapRequest, *, gas_price_wei: int, out_per_native: Decimal
    ) -> list[Considered]:
        """Every source's quote (or failure), ranked: best first, failures last."""
        considered = [Considered(aggregator=s.name) for s in self.sources]
        async with anyio.create_task_group() as tg:
            for source, slot in zip(self.sources, considered, strict=True):
                tg.start_soon(self._ask, source, request, slot)
        for c in considered:
            if c.quote is not None:
                cost = Decimal(c.quote.gas * gas_price_wei) * out_per_native
                c.gas_cost_out = math.ceil(cost)
                c.net_out = c.quote.buy_amount - c.gas_cost_out
        return self.rank(considered)

    def rank(self, considered: list[Considered]) -> list[Considered]:
        """Best first: by net output, or by the configured order; failures last."""
        ok = [c for c in considered if c.quote is not None]
        failed = [c for c in considered if c.quote is None]
        if self.order is not None:
            pos = {n: i for i, n in enumerate(self.order)}
            ok = [c for c in ok if c.aggregator in pos]
            ok.sort(key=lambda c: pos[c.aggregator])
            skipped = [c for c in considered if c.quote is not None and c.aggregator not in pos]
            for c in skipped:
                c.status = "not_tried"
            failed += skipped
        else:
            ok.sort(key=lambda c: -(c.net_out or 0))
        ranked = ok + failed
        for i, c in enumerate(ranked, 1):
            c.rank = i
        return ranked

    # -- sending -------------------------------------------------------------------------------
    def _already_sent(self, cid: str) -> bool:
        if cid in self._sent:
            return True
        if self.journal is None:
            return False
        rows = self.journal.query(
            "SELECT count(*) FROM quotes WHERE client_order_id = ? AND tx_hash <> ''", [cid]
        )
        return bool(rows and rows[0][0])

    async def execute(
        self, request: SwapRequest, *, gas_price_wei: int, out_per_native: Decimal
    ) -> RouteResult:
        """Quote, rank, check and send ``request``; RoutingFailed when nothing could be sent.

        A second call for a client order id already sent raises RoutingFailed and sends
        nothing.
        """
        cid = request.client_order_id
        if self._already_sent(cid):
            raise RoutingFailed(f"order {cid} was already sent once; it is never sent again")
        ranked = await self.gather(
            request, gas_price_wei=gas_price_wei, out_per_native=out_per_native
        )
        by_name = {s.name: s for s in self.sources}
        result: RouteResult | None = None
        try:
            for c in ranked:
                if c.quote is None or c.status == "not_tried":
                    continue
                if result is not None:
                    c.status = "not_tried"
                    continue
                try:
                    tx = check_transaction(
                        c.quote, request, by_name[c.aggregator].routers(request.chain_id)
                    )
                except UnsafeTransaction as exc:
                    c.status, c.error = "refused", str(exc)
                    continue
                c.status = "chosen"
                self._sent[cid] = None  # from here on, never a second send
                try:
                    outcome = await self.executor.execute(request, c.quote, tx)
                except NotSent as exc:
                    del self._sent[cid]
                    c.status, c.error = "send_failed", str(exc)
                    continue
                except Exception as exc:
                    c.status, c.error = "send_failed", f"{type(exc).__name__}: {exc}"
                    c.tx_hash = getattr(exc, "tx_hash", "") or "unknown"
                    raise
                c.status = "filled"
                c.tx_hash = str(getattr(outcome, "tx_hash", ""))
                c.realised_out = getattr(outcome, "realised_out", None)
                result = RouteResult(cid, tuple(ranked), c.aggregator, outcome)
                self._sent[cid] = result
        finally:
            self._journal(request, ranked)
        if result is None:
            why = "; ".join(f"{c.aggregator}: {c.status} {c.error}".strip() for c in ranked)
            raise RoutingFailed(f"order {cid}: no quote could be sent ({why})")
        return result

    def _journal(self, request: SwapRequest, ranked: Sequence[Considered]) -> None:
        if self.journal is None:
            return
        ts = self._clock()
        for c in ranked:
            self.journal.record_quote(request, c, ts_ns=ts)
