"""The replay data source: trades from a data file or the market store, as tick batches.

Replay yields large batches in time order across instruments; the engine slices them at its
decision points. With ``speed`` set (paper mode), batches are paced against the wall clock.
"""

from __future__ import annotations

import heapq
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import ClassVar

import anyio
import attrs

from tradewind.errors import DataError
from tradewind.hookspecs import hookimpl
from tradewind.model import Instrument, TickBatch


@attrs.frozen(kw_only=True)
class ReplayConfig:
    """Options of the replay source. Exactly one of ``path`` and ``store`` is set."""

    #: A trades file in any importable format (see docs/data.md).
    path: str | None = None
    #: A market-store folder (hive-partitioned parquet).
    store: str | None = None
    #: Store partition keys when reading from ``store``.
    exchange: str | None = None
    market: str | None = None
    #: Ticks per yielded batch.
    chunk_ticks: int = 1_000_000
    #: Pace batches in real time at this multiple of market time (paper mode); None = max speed.
    speed: float | None = None
    #: Base folder for relative paths (set by the engine to the config file's folder).
    base_dir: str = "."

    def __attrs_post_init__(self) -> None:
        if (self.path is None) == (self.store is None):
            raise ValueError("set exactly one of 'path' (a data file) and 'store' (a store folder)")
        if self.chunk_ticks <= 0:
            raise ValueError("chunk_ticks must be positive")


class ReplayVenue:
    """A data venue replaying recorded trades."""

    name: ClassVar[str] = "replay"
    config_class: ClassVar[type] = ReplayConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"data", "replay"})

    def __init__(
        self, config: ReplayConfig, instance: str = "replay", instruments: Sequence[Instrument] = ()
    ) -> None:
        self.config = config
        self.instance = instance
        self._instruments = list(instruments)
        self._data: dict[str, TickBatch] | None = None
        self.rejected: dict[str, dict[str, int]] = {}
        self.bad_rows: list[object] = []

    def _resolve(self, p: str) -> Path:
        path = Path(p)
        return path if path.is_absolute() else Path(self.config.base_dir) / path

    def add_instruments(self, instruments: Sequence[Instrument]) -> None:
        """Declare the instruments to replay (their symbols must be in the data)."""
        self._instruments.extend(instruments)

    async def connect(self) -> None:
        """Load the data (a file is read whole; a store is read per instrument)."""
        if self.config.path is not None:
            from tradewind.market.importers import load

            path = self._resolve(self.config.path)
            result = load(path)
            self.bad_rows = list(result.bad_rows)
            self._data = dict(result.batches)
            if not self._instruments:
                # Bare replay (conformance tests): every symbol of the file on this venue.
                for symbol in self._data:
                    self._instruments.append(Instrument(venue=self.instance, symbol=symbol))
        else:
            from tradewind.market.store import MarketStore

            store = MarketStore(self._resolve(self.config.store))  # type: ignore[arg-type]
            if not self.config.exchange or not self.config.market:
                raise DataError(
                    f"venue '{self.instance}' (replay): reading a store needs 'exchange' "
                    f"and 'market'"
                )
            self._data = {
                inst.symbol: store.read_ticks(self.config.exchange, self.config.market, inst.symbol)
                for inst in self._instruments
            }

    async def close(self) -> None:
        """Drop the loaded data."""
        self._data = None

    def total_ticks(self) -> int | None:
        """Trades that will be replayed for the configured instruments (after connect)."""
        if self._data is None:
            return None
        return sum(len(self._data[i.symbol]) for i in self._instruments if i.symbol in self._data)

    async def instruments(self) -> Sequence[Instrument]:
        """The configured instruments."""
        return list(self._instruments)

    def set_sink(self, sink: object) -> None:
        """Where feed events would go; replay has none (its data is validated at import)."""
        self._sink = sink

    async def stream_trades(self, instruments: Sequence[Instrument]) -> AsyncIterator[TickBatch]:
        """Yield chunks of every instrument's trades, merged in time order."""
        if self._data is None:
            await self.connect()
        assert self._data is not None
        heap: list[tuple[int, int, str, int]] = []
        series: dict[str, TickBatch] = {}
        for n, inst in enumerate(instruments):
            batch = self._data.get(inst.symbol)
            if batch is None:
                have = ", ".join(sorted(self._data)) or "none"
                raise DataError(
                    f"venue '{self.instance}' (replay): no trades for {inst.symbol} in the data "
                    f"(symbols present: {have})"
                )
            series[inst.key] = batch
            if len(batch):
                heap.append((batch.first_ts, n, inst.key, 0))
        heapq.heapify(heap)
        chunk = self.config.chunk_ticks
        wall0: float | None = None
        market0 = 0
        while heap:
            _, n, key, start = heapq.heappop(heap)
            src = series[key]
            stop = min(start + chunk, len(src))
            if heap:
                # Never run past the next instrument's first pending trade: keeps time order.
                stop = min(stop, max(start + 1, int(src.ts_ns.searchsorted(heap[0][0], "right"))))
            if stop < len(src):
                # Never split the trades of one timestamp between two batches.
                stop = int(src.ts_ns.searchsorted(src.ts_ns[stop - 1], "right"))
            piece = src.slice(start, stop)
            out = TickBatch(
                instrument=key,
                ts_ns=piece.ts_ns,
                price=piece.price,
                size=piece.size,
                side=piece.side,
                trade_id=piece.trade_id,
            )
            if self.config.speed:
                if wall0 is None:
                    wall0, market0 = anyio.current_time(), out.first_ts
                due = wall0 + (out.first_ts - market0) / 1e9 / self.config.speed
                delay = due - anyio.current_time()
                if delay > 0:
                    await anyio.sleep(delay)
            yield out
            if stop < len(src):
                heapq.heappush(heap, (int(src.ts_ns[stop]), n, key, stop))


@hookimpl
def tradewind_register_venues(registry):  # type: ignore[no-untyped-def]
    """Register the replay source."""
    registry.add(ReplayVenue)
