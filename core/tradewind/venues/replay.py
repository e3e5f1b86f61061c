"""The replay data source: trades from a data file or the market store, as tick batches.

Replay yields large batches in time order across instruments; the engine slices them at its
decision points. With ``speed`` set (paper mode), batches are paced against the wall clock.
``start``/``end`` (normally ``[run] start``/``end``, see :func:`apply_run_bounds`) keep only
the trades in ``[start, end)``.
"""

from __future__ import annotations

import datetime as dt
import heapq
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import anyio
import attrs
import numpy as np

from tradewind.config_check import path_option
from tradewind.errors import ConfigError, DataError
from tradewind.hookspecs import hookimpl
from tradewind.journal.postgres import is_url, redact
from tradewind.model import Instrument, TickBatch
from tradewind.secrets import Secret

if TYPE_CHECKING:
    from tradewind.config import Config

_FRACTION = re.compile(r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})\.(\d{1,9})(.*)$")


def parse_time_bound(text: str) -> int:
    """Nanoseconds since the epoch of an ISO date or datetime; UTC unless it has an offset.

    ``2020-02-22`` is that day's midnight; fractions of a second keep up to 9 digits.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO date or datetime string, got {text!r}")
    extra_ns = 0
    m = _FRACTION.match(text.strip())
    core = text.strip()
    if m:
        core = m.group(1) + m.group(3)
        extra_ns = int(m.group(2).ljust(9, "0"))
    try:
        stamp = dt.datetime.fromisoformat(core)
    except ValueError:
        raise ValueError(
            f"'{text}' is not an ISO date or datetime (e.g. 2024-01-31 or 2024-01-31T12:00:00Z)"
        ) from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    delta = stamp - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + extra_ns


@attrs.frozen(kw_only=True)
class ReplayConfig:
    """Options of the replay source. Exactly one of ``path`` and ``store`` is set."""

    #: A trades file in any importable format (see docs/data.md).
    path: str | None = path_option("data-file")
    #: A market-store folder (hive-partitioned parquet), or a market store on PostgreSQL:
    #: ``postgresql://USER@HOST:PORT/DATABASE`` (docs/deployment.md).
    store: str | None = path_option("data-dir")
    #: The password of a PostgreSQL ``store``, as ``env:NAME`` (never written in the url).
    store_password: Secret | None = None
    #: Store partition keys when reading from ``store``.
    exchange: str | None = None
    market: str | None = None
    #: Ticks per yielded batch.
    chunk_ticks: int = 1_000_000
    #: Pace batches in real time at this multiple of market time (paper mode); None = max speed.
    speed: float | None = None
    #: Replay only trades at or after ``start`` and before ``end`` (ISO dates or datetimes,
    #: UTC unless an offset is given); ``[run] start``/``end`` narrow these further.
    start: str | None = None
    end: str | None = None
    #: Reading ``path``: how far (milliseconds) a trade may go back behind an earlier line's
    #: timestamp and still be sorted into place (venues that publish slightly out of order);
    #: further back it is a bad row. Bad rows are journaled and counted in the summary.
    max_backwards_ms: float = 0.0
    #: Honour the engine's subscribe / unsubscribe (capability ``subscribe``; with
    #: ``[watchlist] drives_instruments``): an unsubscribed instrument's trades are skipped,
    #: interval by interval of the decision grid, as a live feed would not deliver them.
    subscribe: bool = False

    def __attrs_post_init__(self) -> None:
        if self.max_backwards_ms < 0:
            raise ValueError(f"max_backwards_ms must be >= 0, got {self.max_backwards_ms}")
        if (self.path is None) == (self.store is None):
            raise ValueError("set exactly one of 'path' (a data file) and 'store' (a store folder)")
        if self.store is not None and is_url(self.store) and redact(self.store) != self.store:
            raise ValueError(
                'store must not hold the password: give it as store_password = "env:NAME" @ $.store'
            )
        if self.chunk_ticks <= 0:
            raise ValueError(
                f"chunk_ticks must be positive, got {self.chunk_ticks} @ $.chunk_ticks"
            )
        if self.speed is not None and not self.speed > 0:
            raise ValueError(
                f"speed is a multiple of market time and must be positive (omit it for maximum "
                f"speed), got {self.speed} @ $.speed"
            )
        lo, hi = self.bounds_ns()
        if lo is not None and hi is not None and lo >= hi:
            raise ValueError(f"start ({self.start}) must be before end ({self.end})")

    def max_backwards_ns(self) -> int:
        """``max_backwards_ms`` in nanoseconds, as the file's load takes it."""
        return int(self.max_backwards_ms * 1_000_000)

    def bounds_ns(self) -> tuple[int | None, int | None]:
        """``(start, end)`` in nanoseconds, None where unbounded."""
        return (
            None if self.start is None else parse_time_bound(self.start),
            None if self.end is None else parse_time_bound(self.end),
        )


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
        if config.subscribe:
            self.capabilities = type(self).capabilities | {"subscribe"}  # type: ignore[misc]
        self._instruments = list(instruments)
        #: Instrument keys whose trades are not delivered (``unsubscribe``).
        self.unsubscribed: set[str] = set()
        self._data: dict[str, TickBatch] | None = None
        self.rejected: dict[str, dict[str, int]] = {}
        self.bad_rows: list[object] = []

    @staticmethod
    def _resolve(p: str) -> Path:
        # ``path`` and ``store`` are path options: load_config resolved them against the
        # config file's folder already (joining that folder again doubled a relative one).
        return Path(p)

    def add_instruments(self, instruments: Sequence[Instrument]) -> None:
        """Declare the instruments to replay (their symbols must be in the data)."""
        self._instruments.extend(instruments)

    def subscribe(self, instruments: Sequence[Instrument]) -> None:
        """Deliver these instruments' trades again, from the next grid interval on."""
        self.unsubscribed.difference_update(i.key for i in instruments)

    def unsubscribe(self, instruments: Sequence[Instrument]) -> None:
        """Skip these instruments' trades from the next grid interval on."""
        self.unsubscribed.update(i.key for i in instruments)

    async def connect(self) -> None:
        """Load the data (a file is read whole; a store is read per instrument)."""
        if self.config.path is not None:
            from tradewind.market import preload

            path = self._resolve(self.config.path)
            max_backwards_ns = self.config.max_backwards_ns()
            # Read ahead on a thread by the CLI (tradewind.market.preload), or read here.
            result = preload.take(path, max_backwards_ns)
            if result is None:
                from tradewind.market.importers import load

                result = load(path, max_backwards_ns=max_backwards_ns)
            self.bad_rows = list(result.bad_rows)
            self._data = dict(result.batches)
            if not self._instruments:
                # Bare replay (conformance tests): every symbol of the file on this venue.
                for symbol in self._data:
                    self._instruments.append(Instrument(venue=self.instance, symbol=symbol))
        else:
            from tradewind.market.importers._base import small_pages
            from tradewind.market.store import open_store

            if not self.config.exchange or not self.config.market:
                raise DataError(
                    f"venue '{self.instance}' (replay): reading a store needs 'exchange' "
                    f"and 'market'"
                )
            secret = self.config.store_password
            target = self.config.store
            with (
                small_pages(),  # the series' arrays, as a file's load (importers.load)
                open_store(
                    target if is_url(target) else self._resolve(target),  # type: ignore[arg-type]
                    password=None if secret is None else secret.reveal(),
                ) as store,
            ):
                self._data = {
                    inst.symbol: store.read_ticks(
                        self.config.exchange, self.config.market, inst.symbol
                    )
                    for inst in self._instruments
                }
        lo, hi = self.config.bounds_ns()
        if lo is not None or hi is not None:
            whole = self._data
            self._data = {s: _bounded(b, lo, hi) for s, b in whole.items()}
            _check_window(self.instance, self.config, self._instruments, whole, self._data)

    def data_files(self) -> list[Path]:
        """The files (or store folders) this venue replays, for the run id of a backtest."""
        if self.config.path is not None:
            return [self._resolve(self.config.path)]
        from urllib.parse import quote

        if is_url(self.config.store):
            return []  # a database: see data_digest
        # The store's layout (tradewind.market.store): percent-encoded hive folders.
        root = self._resolve(self.config.store)  # type: ignore[arg-type]
        base = (
            root
            / f"exchange={quote(self.config.exchange or '', safe='')}"
            / f"market={quote(self.config.market or '', safe='')}"
        )
        return [base / f"symbol={quote(inst.symbol, safe='')}" for inst in self._instruments]

    def data_digest(self) -> bytes:
        """What identifies the ticks a PostgreSQL store holds for these instruments (empty for
        files, which :meth:`data_files` names), for the run id of a backtest."""
        if self.config.store is None or not is_url(self.config.store):
            return b""
        from tradewind.market.postgres import PgMarketStore

        secret = self.config.store_password
        with PgMarketStore(
            self.config.store, password=None if secret is None else secret.reveal()
        ) as store:
            return b"".join(
                store.fingerprint(self.config.exchange or "", self.config.market or "", i.symbol)
                for i in self._instruments
            )

    def missing_symbol(self, symbol: str) -> DataError:
        """The error for an instrument whose symbol the loaded data does not have."""
        have = ", ".join(sorted(self._data or {})) or "none"
        return DataError(
            f"venue '{self.instance}' (replay): no trades for {symbol} in the data "
            f"(symbols present: {have})"
        )

    def check_symbols(self) -> None:
        """Raise :meth:`missing_symbol` for the first configured instrument not in the data."""
        for inst in self._instruments:
            if self._data is not None and inst.symbol not in self._data:
                raise self.missing_symbol(inst.symbol)

    async def close(self) -> None:
        """Drop the loaded data."""
        self._data = None

    def tape(self, key: str) -> TickBatch | None:
        """The whole series the stream delivers for instrument ``key`` (after connect), as
        one batch under that key: what a backtest may read ahead of the feed (see
        tradewind.trading.block_lookahead). None when the stream may skip trades of it
        (subscriptions), paces them (``speed``), or it is not configured here."""
        if self._data is None or self.config.subscribe or self.config.speed:
            return None
        for inst in self._instruments:
            if inst.key == key:
                batch = self._data.get(inst.symbol)
                return None if batch is None else _keyed(batch, key)
        return None

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

    def set_decision_step(self, step_ns: int) -> None:
        """The engine's decision grid (the gcd of its timeframes), for multi-instrument replay."""
        self._step_ns = step_ns

    async def _paced(self, out: TickBatch, clock: list[float]) -> TickBatch:
        """Wait until ``out`` is due in real time when ``speed`` is set (paper mode)."""
        if self.config.speed:
            if not clock:
                clock.extend((anyio.current_time(), float(out.first_ts)))
            due = clock[0] + (out.first_ts - clock[1]) / 1e9 / self.config.speed
            delay = due - anyio.current_time()
            if delay > 0:
                await anyio.sleep(delay)
        return out

    async def stream_trades(self, instruments: Sequence[Instrument]) -> AsyncIterator[TickBatch]:
        """Yield every instrument's trades in time order.

        One instrument: batches of ``chunk_ticks`` (the engine slices them at its decision
        points). Several: for each interval of the engine's decision grid, each instrument's
        trades of that interval in turn. An instrument deciding at a grid time has then seen
        every other instrument's trades before that time and none after it, and batches stay
        as large as the grid allows (a strict trade-by-trade merge of 100 instruments would
        make batches of one or two trades).
        """
        if self._data is None:
            await self.connect()
        assert self._data is not None
        heap: list[tuple[int, int, str, int]] = []
        series: dict[str, TickBatch] = {}
        for n, inst in enumerate(instruments):
            batch = self._data.get(inst.symbol)
            if batch is None:
                raise self.missing_symbol(inst.symbol)
            series[inst.key] = batch
            if len(batch):
                heap.append((batch.first_ts, n, inst.key, 0))
        heapq.heapify(heap)
        clock: list[float] = []
        step = getattr(self, "_step_ns", None)
        # Subscriptions change at decision points: cut every instrument at the grid then.
        if step and (len(heap) > 1 or (self.config.subscribe and heap)):
            async for out in self._by_interval(series, step, clock):
                yield out
            return
        chunk = self.config.chunk_ticks
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
            yield await self._paced(_keyed(src.slice(start, stop), key), clock)
            if stop < len(src):
                heapq.heappush(heap, (int(src.ts_ns[stop]), n, key, stop))

    async def _by_interval(
        self, series: dict[str, TickBatch], step: int, clock: list[float]
    ) -> AsyncIterator[TickBatch]:
        for batch in _interval_batches(series, step, self.unsubscribed):
            yield await self._paced(batch, clock)

    def interval_batches(self, instruments: Sequence[Instrument]) -> Iterator[TickBatch] | None:
        """The batches :meth:`stream_trades` yields for several instruments, as a plain
        iterator: what a backtest's engine reads directly (no task, no stream hand-over per
        batch). None when the stream does more than cut the series at the decision grid
        (``speed`` paces it, ``subscribe`` may skip an instrument's trades), has one series or
        none to merge, or the venue is not connected or has no grid."""
        step = getattr(self, "_step_ns", None)
        if self._data is None or not step or self.config.subscribe or self.config.speed:
            return None
        series: dict[str, TickBatch] = {}
        for inst in instruments:
            batch = self._data.get(inst.symbol)
            if batch is None:
                raise self.missing_symbol(inst.symbol)
            series[inst.key] = batch
        if sum(1 for b in series.values() if len(b)) < 2:
            return None
        return _interval_batches(series, step, self.unsubscribed)


async def merge_by_interval(
    streams: Sequence[AsyncIterator[TickBatch]], step: int
) -> AsyncIterator[TickBatch]:
    """Batches of several replay streams, interval by interval of the decision grid.

    Each stream is in time order. The result holds every batch of every stream, cut at grid
    times, such that all trades of one grid interval (from every stream) come before any
    trade of a later one: an instrument deciding at a grid time has seen the others' trades
    before it and none after it.
    """
    heads: list[tuple[int, int, TickBatch]] = []
    iters = list(streams)

    async def pull(n: int) -> None:
        while True:
            try:
                batch = await anext(iters[n])
            except StopAsyncIteration:
                return
            if len(batch):
                heapq.heappush(heads, (batch.first_ts, n, batch))
                return

    for n in range(len(iters)):
        await pull(n)
    while heads:
        first, n, batch = heapq.heappop(heads)
        hi = (first // step + 1) * step
        if batch.last_ts < hi:
            yield batch
            await pull(n)
            continue
        cut = int(batch.ts_ns.searchsorted(hi, "left"))
        yield batch.slice(0, cut)
        rest = batch.slice(cut, len(batch))
        heapq.heappush(heads, (rest.first_ts, n, rest))


def _check_window(
    instance: str,
    config: ReplayConfig,
    instruments: Sequence[Instrument],
    whole: dict[str, TickBatch],
    bounded: dict[str, TickBatch],
) -> None:
    """Raise when the window leaves none of the instruments' trades (the run would do nothing)."""
    symbols = [i.symbol for i in instruments if i.symbol in whole] or list(whole)
    if not symbols or any(len(bounded[s]) for s in symbols):
        return
    present = [whole[s] for s in symbols if len(whole[s])]
    if not present:
        return
    first = min(b.first_ts for b in present)
    last = max(b.last_ts for b in present)
    raise ConfigError(
        f"the replay window {config.start or '(open)'} .. {config.end or '(open)'} of "
        f"[venues.{instance}] holds no trade of {', '.join(symbols)}: the data runs from "
        f"{_utc(first)} to {_utc(last)} UTC; move [run] start/end into that span @ $.run.start"
    )


def _utc(ts_ns: int) -> str:
    return dt.datetime.fromtimestamp(ts_ns // 1_000_000_000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _interval_batches(
    series: dict[str, TickBatch], step: int, unsubscribed: set[str]
) -> Iterator[TickBatch]:
    """Every series cut at the decision grid, interval by interval and, inside an interval,
    in the order of ``series``: each instrument's trades of the interval as one batch (none
    for an instrument without trades in it). An instrument in ``unsubscribed`` when its batch
    is due is skipped (its trades are dropped, as a live feed would not deliver them).

    The order is computed once, vectorised: each series' interval numbers (``ts // step``)
    give its cut points, and all pieces are sorted by (interval, instrument). Time order
    holds: every trade of an interval comes before any trade of a later one.
    """
    keys = list(series)
    keyed = {k: _keyed(b, k) for k, b in series.items()}
    bins: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    stops: list[np.ndarray] = []
    for n, key in enumerate(keys):
        ts = series[key].ts_ns
        if not len(ts):
            continue
        interval = ts // step
        cuts = np.flatnonzero(interval[1:] != interval[:-1]) + 1
        first = np.concatenate(([0], cuts))
        bins.append(interval[first])
        owners.append(np.full(len(first), n, dtype=np.int64))
        starts.append(first)
        stops.append(np.concatenate((cuts, [len(ts)])))
    if not bins:
        return
    interval_of = np.concatenate(bins)
    owner = np.concatenate(owners)
    order = np.lexsort((owner, interval_of))
    owner_l = owner[order].tolist()
    start_l = np.concatenate(starts)[order].tolist()
    stop_l = np.concatenate(stops)[order].tolist()
    del interval_of, order, bins, owners, starts, stops
    sources = [keyed.get(k) for k in keys]
    for n, start, stop in zip(owner_l, start_l, stop_l, strict=True):
        key = keys[n]
        if unsubscribed and key in unsubscribed:
            continue
        src = sources[n]
        assert src is not None
        yield src.slice(start, stop)


def _keyed(piece: TickBatch, key: str) -> TickBatch:
    """``piece`` under the engine's instrument key (views, no copy)."""
    return TickBatch(
        instrument=key,
        ts_ns=piece.ts_ns,
        price=piece.price,
        size=piece.size,
        side=piece.side,
        trade_id=piece.trade_id,
    )


def _bounded(batch: TickBatch, lo: int | None, hi: int | None) -> TickBatch:
    """The trades of ``batch`` (sorted by time) in ``[lo, hi)``."""
    i = 0 if lo is None else int(batch.ts_ns.searchsorted(lo, "left"))
    j = len(batch) if hi is None else int(batch.ts_ns.searchsorted(hi, "left"))
    return batch.slice(i, max(i, j))


def data_files(config: Config) -> list[tuple[Path, int]]:
    """The data files the replay venues that instruments read from load at ``connect``, with
    their ``max_backwards_ns``: what a backtest may read ahead (tradewind.market.preload)."""
    keys = {sec.data or sec.venue for sec in config.instruments}
    return [
        (Path(inst.config.path), inst.config.max_backwards_ns())
        for key, inst in config.instances("venues").items()
        if key in keys and isinstance(inst.config, ReplayConfig) and inst.config.path is not None
    ]


def apply_run_bounds(config: Config) -> Config:
    """``config`` with ``[run] start``/``end`` applied to every replay venue instance.

    A replay instance's own ``start``/``end`` are kept where they are narrower. Raises
    :class:`ConfigError` naming ``$.run.start``/``$.run.end`` when a bound does not parse, the
    window is empty, or no instrument reads its data from a replay venue.
    """
    run = config.run
    if run.start is None and run.end is None:
        return config
    bounds: dict[str, int | None] = {}
    for key in ("start", "end"):
        text = getattr(run, key)
        try:
            bounds[key] = None if text is None else parse_time_bound(text)
        except ValueError as exc:
            raise ConfigError(f"{exc} @ $.run.{key}") from None
    if bounds["start"] is not None and bounds["end"] is not None:
        if bounds["start"] >= bounds["end"]:
            raise ConfigError(f"start ({run.start}) must be before end ({run.end}) @ $.run.start")
    venues = dict(config.instances("venues"))
    data_keys = {sec.data or sec.venue for sec in config.instruments}
    bounded = False
    for key, inst in venues.items():
        cfg = inst.config
        if not isinstance(cfg, ReplayConfig):
            continue
        lo, hi = cfg.bounds_ns()
        run_lo, run_hi = bounds["start"], bounds["end"]
        start = run.start if lo is None or (run_lo is not None and run_lo > lo) else cfg.start
        end = run.end if hi is None or (run_hi is not None and run_hi < hi) else cfg.end
        try:
            cfg = attrs.evolve(cfg, start=start, end=end)
        except ValueError as exc:
            raise ConfigError(
                f"{exc}: [run] and [venues.{key}] leave no time to replay @ $.run.start"
            ) from exc
        venues[key] = attrs.evolve(inst, config=cfg)
        bounded = bounded or key in data_keys
    if not bounded:
        raise ConfigError(
            "[run] start/end bound replayed data, but no instrument reads its data from a "
            "replay venue @ $.run.start"
        )
    plugins = dict(config.plugins)
    plugins["venues"] = venues
    return attrs.evolve(config, plugins=plugins)


@hookimpl
def tradewind_register_venues(registry):  # type: ignore[no-untyped-def]
    """Register the replay source."""
    registry.add(ReplayVenue)
