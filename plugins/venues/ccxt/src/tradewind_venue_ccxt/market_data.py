"""Public trades of a ccxt.pro exchange, one ``watch_trades`` per symbol, with the instrument
set changed while streaming (capability ``"subscribe"``).

Each streamed symbol has a task of its own awaiting ``watch_trades`` (ccxt.pro keeps one
websocket per exchange and multiplexes the symbols' subscriptions on it) and putting what
arrives, as a :class:`TickBatch`, on one queue the stream reads. ``unsubscribe`` ends the
symbol's task and sends the exchange's unsubscribe (``un_watch_trades``) where ccxt offers it;
``subscribe`` starts the task again. From an ``unsubscribe`` on, no batch of that instrument
leaves the stream, even one already queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from tradewind.model import Instrument, TickBatch

log = logging.getLogger("tradewind_venue_ccxt")


def trades_batch(key: str, trades: Sequence[Mapping[str, Any]], size_mult: Decimal) -> TickBatch:
    """ccxt trade structures (``timestamp`` ms, ``price``, ``amount`` in contracts,
    ``side`` of the taker, ``id``) as one batch of ``key``, sizes in base units."""
    mult = float(size_mult)
    ts, price, size, side, ids = [], [], [], [], []
    for i, t in enumerate(trades):
        ts.append(int(t["timestamp"]) * 1_000_000)
        price.append(float(t["price"]))
        size.append(float(t["amount"]) * mult)
        side.append(1 if t.get("side") == "buy" else -1)
        raw_id = str(t.get("id") or "")
        ids.append(int(raw_id) if raw_id.isdigit() else i)
    return TickBatch.from_arrays(key, ts, price, size, side, ids)


class TradeStreams:
    """The public trades of the instruments given to :meth:`stream`, changeable while it runs."""

    def __init__(
        self,
        exchange: Any,
        symbol_of: Callable[[str], str],
        size_mult: Callable[[str], Decimal],
        *,
        retry_s: float,
        on_problem: Callable[[BaseException, str], None],
    ) -> None:
        self._exchange = exchange
        self._symbol_of = symbol_of
        self._size_mult = size_mult
        self._retry_s = retry_s
        self._on_problem = on_problem
        self._queue: asyncio.Queue[TickBatch] | None = None
        self._instruments: dict[str, Instrument] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._cleanup: set[asyncio.Task[Any]] = set()
        #: Symbols whose stream failed and has not delivered since (one report per outage).
        self._down: set[str] = set()
        #: Instrument keys not streamed now (``unsubscribe``).
        self.unsubscribed: set[str] = set()

    @property
    def watching(self) -> set[str]:
        """The instrument keys whose trades are watched now."""
        return {k for k, t in self._tasks.items() if not t.done()}

    async def stream(self, instruments: Sequence[Instrument]) -> AsyncIterator[TickBatch]:
        """Batches of the instruments' trades as they arrive, until cancelled."""
        self._queue = asyncio.Queue()
        self._instruments = {i.key: i for i in instruments}
        for key in self._instruments:
            if key not in self.unsubscribed:
                self._start(key)
        try:
            while True:
                batch = await self._queue.get()
                if batch.instrument in self.unsubscribed or len(batch) == 0:
                    continue
                yield batch
        finally:
            await self.close()

    def subscribe(self, instruments: Sequence[Instrument]) -> None:
        """Watch these instruments' trades again."""
        for inst in instruments:
            self.unsubscribed.discard(inst.key)
            if self._queue is not None and inst.key in self._instruments:
                self._start(inst.key)

    def unsubscribe(self, instruments: Sequence[Instrument]) -> None:
        """Stop watching these instruments' trades (and tell the exchange)."""
        for inst in instruments:
            self.unsubscribed.add(inst.key)
            task = self._tasks.pop(inst.key, None)
            if task is None:
                continue
            task.cancel()
            if self._exchange.has.get("unWatchTrades"):
                done = asyncio.get_running_loop().create_task(self._unwatch(inst.key))
                self._cleanup.add(done)
                done.add_done_callback(self._cleanup.discard)

    def _start(self, key: str) -> None:
        task = self._tasks.get(key)
        if task is not None and not task.done():
            return
        self._tasks[key] = asyncio.get_running_loop().create_task(
            self._watch(key), name=f"ccxt watch_trades {key}"
        )

    async def _unwatch(self, key: str) -> None:
        symbol = self._symbol_of(key)
        try:
            await self._exchange.un_watch_trades(symbol)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the task is ended either way; the stream drops the rest
            log.info("un_watch_trades(%s) failed: %s: %s", symbol, type(exc).__name__, exc)

    async def _watch(self, key: str) -> None:
        import ccxt

        symbol = self._symbol_of(key)
        mult = self._size_mult(key)
        queue = self._queue
        assert queue is not None
        while True:
            try:
                trades = await self._exchange.watch_trades(symbol)
            except asyncio.CancelledError:
                raise
            except ccxt.BaseError as exc:
                if key not in self._down:  # once per outage; ccxt.pro reconnects on the retry
                    self._down.add(key)
                    self._on_problem(exc, f"watch_trades({symbol})")
                await asyncio.sleep(self._retry_s)
                continue
            self._down.discard(key)
            if key in self.unsubscribed:
                return
            if trades:
                queue.put_nowait(trades_batch(key, trades, mult))

    async def close(self) -> None:
        """End every symbol's task."""
        tasks = [*self._tasks.values(), *self._cleanup]
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._queue = None
