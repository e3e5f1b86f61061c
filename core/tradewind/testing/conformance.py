"""Conformance suites, one per plugin kind.

Subclass the suite of your kind in your plugin's tests and set ``plugin_class``::

    pytest_plugins = "tradewind.testing"
    from tradewind.testing.conformance import AnalyzerConformance

    class TestConformance(AnalyzerConformance):
        plugin_class = MyAnalyzer

Override ``make_config`` when the default config is not usable. A venue suite runs only the
tests matching the capabilities the venue declares (``data``, ``execution``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Any, ClassVar

import anyio
import attrs
import pytest

from tradewind.model import (
    Event,
    ExitDecision,
    FillEvent,
    Instrument,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Severity,
    Side,
    Signal,
    SystemError,
    TickBatch,
    TimeInForce,
    Veto,
)
from tradewind.testing import default_instrument
from tradewind.testing.data import candle_path, tick_path
from tradewind.trading.portfolio import Portfolio


class _Suite:
    plugin_class: ClassVar[Any]

    def make_config(self) -> Any:
        """The config the suite builds the plugin with (default: the config class's defaults)."""
        return self.plugin_class.config_class()

    def test_declares_plugin_attributes(self) -> None:
        cls = self.plugin_class
        assert isinstance(cls.name, str) and cls.name == cls.name.lower() and cls.name
        assert attrs.has(cls.config_class)
        assert isinstance(cls.capabilities, frozenset)
        assert all(isinstance(c, str) for c in cls.capabilities)

    def test_config_class_forbids_unknown_keys(self) -> None:
        from tradewind._serde import structure
        from tradewind.errors import ConfigError

        with pytest.raises(ConfigError, match="unknown key"):
            structure({"surely_not_an_option": 1}, self.plugin_class.config_class)


class AnalyzerConformance(_Suite):
    """What every analyzer must do: stream candles (and ticks if declared), report floats."""

    def make_instrument(self) -> Instrument:
        """The instrument the analyzer is built for."""
        return default_instrument()

    def build(self) -> Any:
        """A fresh analyzer instance."""
        return self.plugin_class(config=self.make_config(), instrument=self.make_instrument())

    def feed(self, analyzer: Any, minutes: int = 240, seed: int = 3) -> Mapping[str, float]:
        inst = self.make_instrument()
        if "ticks" in self.plugin_class.capabilities:
            ticks = tick_path(inst.key, minutes=minutes, seed=seed)
        candles = candle_path(inst.key, minutes=minutes, seed=seed)
        ti = 0
        for c in candles:
            if "ticks" in self.plugin_class.capabilities:
                # Ticks strictly before the candle's close are delivered before it closes.
                tj = int(ticks.ts_ns.searchsorted(c.close_ts_ns))
                if tj > ti:
                    analyzer.on_ticks(ticks.slice(ti, tj))
                    ti = tj
            analyzer.on_candle(c)
        return dict(analyzer.values())

    def test_values_before_any_data_are_floats(self) -> None:
        values = self.build().values()
        assert isinstance(values, Mapping)
        assert all(isinstance(v, float) for v in values.values())

    def test_values_after_a_session_are_floats_and_keys_are_stable(self) -> None:
        analyzer = self.build()
        before = set(analyzer.values())
        values = self.feed(analyzer)
        assert values, "an analyzer must report at least one value after four hours of candles"
        assert all(isinstance(v, float) for v in values.values())
        assert all(not math.isinf(v) for v in values.values()), values
        if before:
            assert set(values) == before

    def test_values_stay_within_the_declared_outputs(self) -> None:
        """``outputs(config)`` names every key ``values()`` reports (config check relies on it)."""
        outputs = getattr(self.plugin_class, "outputs", None)
        if outputs is None:
            pytest.skip("the analyzer declares no outputs (rules naming it are not checked)")
        declared = set(outputs(self.make_config()))
        analyzer = self.build()
        assert set(analyzer.values()) <= declared, set(analyzer.values()) - declared
        assert set(self.feed(analyzer)) <= declared

    def test_block_gives_the_bits_of_the_per_candle_path(self) -> None:
        """``on_block`` (capability ``"block"``) yields, at each row, exactly the values the
        per-candle path gives fed the same trades and candles (backtests use blocks, paper and
        live the per-candle path: the same bits whatever the block size)."""
        import struct

        from tradewind.blocks import make_rows

        if "block" not in self.plugin_class.capabilities:
            pytest.skip("the analyzer declares no block method (capability 'block')")
        inst = self.make_instrument()
        ticks = tick_path(inst.key, minutes=240, seed=3)
        candles = sorted(
            candle_path(inst.key, minutes=240, seed=3),
            key=lambda c: (c.open_ts_ns + c.timeframe_ns, c.timeframe_ns),
        )
        rows = make_rows(ticks, candles)
        takes_ticks = "ticks" in self.plugin_class.capabilities
        one = self.build()
        got = self.build().on_block(ticks, rows)
        start = 0
        for n, row in enumerate(rows):
            if takes_ticks and row.tick_end > start:
                one.on_ticks(ticks.slice(start, row.tick_end))
                start = row.tick_end
            for c in row.candles:
                one.on_candle(c)
            expected = dict(one.values())
            actual = dict(next(got))
            assert actual.keys() == expected.keys(), n
            for k, v in expected.items():
                bits = struct.pack("<d", v), struct.pack("<d", actual[k])
                assert bits[0] == bits[1] or (math.isnan(v) and math.isnan(actual[k])), (n, k)
        assert next(got, None) is None, "on_block yielded more rows than it was given"

    def test_is_deterministic(self) -> None:
        a, b = self.feed(self.build()), self.feed(self.build())
        assert a.keys() == b.keys()
        for k in a:
            assert (a[k] == b[k]) or (math.isnan(a[k]) and math.isnan(b[k])), k


def _signal(inst: Instrument, side: Side = Side.BUY, intent: str = "open") -> Signal:
    return Signal(
        instrument=inst.key,
        side=side,
        entry=Decimal("50000"),
        stop=Decimal("49750"),
        score=1.0,
        ts_ns=1_600_000_000 * 10**9,
        quantity=Decimal("0.01"),
        intent=intent,
    )


class FilterConformance(_Suite):
    """A filter answers None or a Veto naming itself, and never mutates the signal."""

    def build(self) -> Any:
        """A fresh filter."""
        return self.plugin_class(config=self.make_config())

    def context(self) -> Portfolio:
        """A portfolio with 10,000 of cash, flat, marked at 50,000."""
        inst = default_instrument()
        pf = Portfolio({inst.key: inst}, Decimal(10_000))
        pf.mark(inst.key, 50_000.0, 1_600_000_000 * 10**9)
        return pf

    def test_check_returns_none_or_veto_naming_the_filter(self) -> None:
        flt = self.build()
        for side in Side:
            for intent in ("open", "close"):
                sig = _signal(default_instrument(), side, intent)
                out = flt.check(sig, self.context())
                assert out is None or (
                    isinstance(out, Veto) and out.filter == self.plugin_class.name
                )
                if out is not None:
                    assert out.reason and out.signal is sig

    def test_essential_flag_is_a_bool(self) -> None:
        assert isinstance(getattr(self.plugin_class, "essential", False), bool)


class ExitConformance(_Suite):
    """An exit monitor answers None or an ExitDecision naming itself."""

    def build(self) -> Any:
        """A fresh exit monitor."""
        return self.plugin_class(config=self.make_config())

    def test_on_ticks_and_on_candle_answer_none_or_a_decision(self) -> None:
        inst = default_instrument()
        ctx = Portfolio({inst.key: inst}, Decimal(10_000))
        mon = self.build()
        ticks = tick_path(inst.key, minutes=30, seed=11)
        pos = Position(
            instrument=inst.key,
            quantity=Decimal("0.01"),
            avg_price=Decimal(repr(float(ticks.price[0]))),
            opened_ts_ns=ticks.first_ts,
        )
        for i in range(0, len(ticks), 50):
            b = ticks.slice(i, i + 50)
            ctx.mark(inst.key, b.last_price, b.last_ts)
            out = mon.on_ticks(pos, b, ctx)
            assert out is None or (
                isinstance(out, ExitDecision) and out.monitor == self.plugin_class.name
            )
        for c in candle_path(inst.key, minutes=30, seed=11):
            out = mon.on_candle(pos, c, {}, ctx)
            assert out is None or isinstance(out, ExitDecision)
        mon.forget(inst.key)

    #: A scanning monitor's ``scan`` answers exactly the stepped checks' close (False: it
    #: may answer an earlier one, never a later one; the engine then steps from there).
    scan_exact: ClassVar[bool] = True
    #: The position the scan test holds, in base units.
    scan_quantity: ClassVar[str] = "0.01"

    def scan_columns(self, closes: int, rng: Any) -> Mapping[str, Any]:
        """The analyzer outputs the monitor reads, one float64 array of ``closes`` values
        (NaN = not known yet) drawn from ``rng``; none by default."""
        return {}

    def test_scan_answers_the_close_the_stepped_checks_exit_at(self) -> None:
        """On seeded random tapes, long and short, from a fresh position and from one the
        monitor has watched for a while: ``scan`` (capability ``"scan"``) answers the close
        where ``on_ticks``/``on_candle`` fed close by close first exit, and changes nothing."""
        import numpy as np

        from tradewind.testing.exit_scan import hold_window, stepped_trigger
        from tradewind.testing.portfolios import book_fill

        if "scan" not in self.plugin_class.capabilities:
            pytest.skip(f"{self.plugin_class.name} does not declare the capability 'scan'")
        inst = default_instrument()
        answered = 0
        for seed in range(24):
            rng = np.random.default_rng(seed)
            ticks = tick_path(inst.key, minutes=90, seed=seed, per_minute=int(rng.integers(1, 60)))
            side = Side.BUY if seed % 2 == 0 else Side.SELL
            ctx = Portfolio({inst.key: inst}, Decimal(10_000))
            book_fill(
                ctx,
                inst,
                side,
                self.scan_quantity,
                Decimal(repr(float(ticks.price[0]))),
                ts_ns=int(ticks.ts_ns[0]),
            )
            ctx.mark(inst.key, float(ticks.price[0]), int(ticks.ts_ns[0]))
            pos = ctx.position(inst.key)
            rest = ticks.slice(1, len(ticks))
            # Watched for a while first (a prefix stepped), or not at all.
            cut = int(rng.integers(0, len(rest) // 3)) if seed % 3 else 0
            mon = self.build()
            if cut:
                head = hold_window(rest.slice(0, cut))
                columns = self.scan_columns(len(head), rng)
                head = hold_window(rest.slice(0, cut), columns)
                if stepped_trigger(mon, pos, head, ctx) is not None:
                    continue  # it exited already: nothing left to scan
                rest = rest.slice(cut, len(rest))
            window = hold_window(rest)
            window = hold_window(rest, self.scan_columns(len(window), rng))
            scanned = mon.scan(pos, window, ctx)
            assert mon.scan(pos, window, ctx) == scanned  # a scan changes nothing
            stepped = stepped_trigger(mon, pos, window, ctx)
            if self.scan_exact:
                assert scanned == stepped, (seed, scanned, stepped)
            elif stepped is not None:  # never later than the stepped checks
                assert scanned is not None and scanned <= stepped, (seed, scanned, stepped)
            answered += stepped is not None
        assert answered > 0  # some paths exit: the test compared triggers, not only Nones

    def test_fold_leaves_the_monitor_as_on_ticks_leaves_it(self) -> None:
        """On seeded random tapes, long and short, for a monitor declaring ``"fold"`` (with
        ``"scan"``): over trades its scan clears (the walk's, up to a close before its
        answer), ``fold`` leaves it answering every later ``scan`` and stepped check as
        ``on_ticks`` over them (which does not trigger there) leaves it."""
        import numpy as np

        from tradewind.testing.exit_scan import hold_window, stepped_trigger
        from tradewind.testing.portfolios import book_fill

        caps = self.plugin_class.capabilities
        if "fold" not in caps or "scan" not in caps:
            pytest.skip(f"{self.plugin_class.name} does not declare 'fold' with 'scan'")
        inst = default_instrument()
        folded = answered = 0
        for seed in range(36):
            rng = np.random.default_rng(1000 + seed)
            ticks = tick_path(inst.key, minutes=90, seed=seed, per_minute=int(rng.integers(1, 60)))
            side = Side.BUY if seed % 2 == 0 else Side.SELL
            sides = []
            for _ in range(2):  # one by on_ticks, one by fold: each its own portfolio
                ctx = Portfolio({inst.key: inst}, Decimal(10_000))
                book_fill(
                    ctx,
                    inst,
                    side,
                    self.scan_quantity,
                    Decimal(repr(float(ticks.price[0]))),
                    ts_ns=int(ticks.ts_ns[0]),
                )
                ctx.mark(inst.key, float(ticks.price[0]), int(ticks.ts_ns[0]))
                sides.append((self.build(), ctx.position(inst.key), ctx))
            rest = ticks.slice(1, len(ticks))
            cut = int(rng.integers(0, len(rest) // 3)) if seed % 3 else 0
            if cut:
                head = hold_window(rest.slice(0, cut))
                head = hold_window(rest.slice(0, cut), self.scan_columns(len(head), rng))
                if any(stepped_trigger(m, p, head, c) is not None for m, p, c in sides):
                    continue
                rest = rest.slice(cut, len(rest))
            window = hold_window(rest)
            columns = self.scan_columns(len(window), rng)
            window = hold_window(rest, columns)
            (mon_a, pos_a, ctx_a), (mon_b, pos_b, ctx_b) = sides
            scanned = mon_a.scan(pos_a, window, ctx_a)
            assert mon_b.scan(pos_b, window, ctx_b) == scanned
            # The walk goes through closes before the scan's answer: up to close ``r``.
            last = len(window) - 1 if scanned is None else scanned - 1
            if last < 0:
                continue
            r = int(rng.integers(0, last + 1)) if seed % 4 else last
            w = int(window.row_ticks[r])
            if w == 0:
                continue
            walked = rest.slice(0, w)
            assert mon_a.on_ticks(pos_a, walked, ctx_a) is None
            mon_b.fold(pos_b, walked, ctx_b)
            for ctx in (ctx_a, ctx_b):  # the walk marks at its last trade
                ctx.mark(inst.key, walked.last_price, walked.last_ts)
            folded += 1
            after = rest.slice(w, len(rest))
            if len(after) == 0:
                continue
            later = {k: np.asarray(v)[r + 1 :] for k, v in columns.items()}
            window_a = hold_window(after, later)
            window_b = hold_window(after, later)
            assert len(window_a) == len(window) - r - 1
            assert mon_a.scan(pos_a, window_a, ctx_a) == mon_b.scan(pos_b, window_b, ctx_b)
            got_a = stepped_trigger(mon_a, pos_a, window_a, ctx_a)
            got_b = stepped_trigger(mon_b, pos_b, window_b, ctx_b)
            assert got_a == got_b, (seed, got_a, got_b)
            answered += got_a is not None
        if folded == 0:  # e.g. a scan answering the first close always: nothing is walked
            pytest.skip(f"{self.plugin_class.name}'s scan cleared no walk on these tapes")
        assert answered > 0  # walks were folded and later checks exited: not only Nones


class NotifierConformance(_Suite):
    """A notifier starts, takes every severity, and closes twice without error; an outbox
    notifier also delivers a fill through the host and the outbox to its receiver.

    Override :meth:`receiver` to start what the notifier delivers to (a local server) and
    yield ``(config, received)``: the config pointing at it, and a list that fills with what
    arrived (as text).
    """

    @contextlib.asynccontextmanager
    async def receiver(self) -> AsyncIterator[tuple[Any, list[Any]]]:
        """The config to build the notifier with and what its receiver got (default: none)."""
        yield self.make_config(), []

    def build(self, config: Any = None) -> Any:
        """A fresh notifier."""
        return self.plugin_class(config=self.make_config() if config is None else config)

    def events(self) -> list[Event]:
        """One event of each severity."""
        from tradewind.model import Fill

        fill = Fill(
            client_order_id="c1",
            instrument="sim:BTCUSDT",
            side=Side.BUY,
            quantity=Decimal("0.01"),
            price=Decimal("50000"),
            fee=Decimal("0.2"),
            ts_ns=1,
        )
        return [
            FillEvent(ts_ns=1, fill=fill, realized_pnl=Decimal("12.5")),
            SystemError(ts_ns=2, source="test", error="boom"),
        ]

    def test_lifecycle(self) -> None:
        async def go() -> None:
            async with self.receiver() as (config, _received):
                n = self.build(config)
                await n.start()
                for ev in self.events():
                    assert ev.severity in Severity
                    await n.notify(ev)
                await n.close()
                await n.close()

        anyio.run(go)

    def test_delivers_a_fill_through_the_outbox(self) -> None:
        from tradewind.notify.host import NotifierHost, is_outbox_notifier
        from tradewind.notify.outbox import Outbox

        if not is_outbox_notifier(self.build()):
            pytest.skip("not an outbox notifier (no 'outbox' capability)")

        async def go() -> tuple[list[Any], list[tuple[Any, ...]]]:
            import duckdb

            from tradewind.clock import SimClock

            outbox = Outbox(duckdb.connect(":memory:"))
            async with self.receiver() as (config, received):
                host = NotifierHost({"conformance": self.build(config)}, clock=SimClock(1),
                                    outbox=outbox)  # fmt: skip
                async with host:
                    host.channels["conformance"].on_event(self.events()[0])
                    assert await host.wait_idle(30)
                return list(received), list(outbox.rows())

        received, rows = anyio.run(go)
        assert [r[3] for r in rows] == ["sent"], rows
        assert received, "the receiver got nothing"
        text = " ".join(map(str, received))
        assert "sim:BTCUSDT" in text and "50000" in text and "12.5" in text


class VenueConformance(_Suite):
    """Venue behaviour by declared capability.

    Override :meth:`make_venue` (async; return a connected venue) and, for execution venues,
    :attr:`resting_buy_price` (a limit buy price that will not fill during the test).
    """

    resting_buy_price: ClassVar[Decimal] = Decimal("1000")

    async def make_venue(self) -> Any:
        """A connected venue; the default builds it from the default config."""
        venue = self.plugin_class(config=self.make_config(), instance=self.plugin_class.name)
        await venue.connect()
        return venue

    def _caps(self) -> frozenset[str]:
        return self.plugin_class.capabilities

    def test_declares_data_or_execution(self) -> None:
        assert self._caps() & {"data", "execution"}

    def test_instruments(self) -> None:
        async def go() -> None:
            v = await self.make_venue()
            try:
                insts = await v.instruments()
                assert insts and all(isinstance(i, Instrument) for i in insts)
            finally:
                await v.close()
                await v.close()

        anyio.run(go)

    def test_data_streams_sorted_batches(self) -> None:
        if "data" not in self._caps():
            pytest.skip("venue does not declare the 'data' capability")

        async def go() -> None:
            v = await self.make_venue()
            try:
                insts = list(await v.instruments())
                n = 0
                async for batch in v.stream_trades(insts[:1]):
                    assert isinstance(batch, TickBatch)
                    assert batch.instrument == insts[0].key
                    assert (batch.ts_ns[1:] >= batch.ts_ns[:-1]).all()
                    n += 1
                    if n >= 3:
                        break
                assert n >= 1
            finally:
                await v.close()

        anyio.run(go)

    def test_execution_is_idempotent_on_client_order_id(self) -> None:
        if "execution" not in self._caps():
            pytest.skip("venue does not declare the 'execution' capability")

        async def go() -> None:
            v = await self.make_venue()
            try:
                inst = next(iter(await v.instruments()))
                order = Order(
                    client_order_id="conf-1",
                    instrument=inst.key,
                    side=Side.BUY,
                    type=OrderType.LIMIT,
                    quantity=inst.lot_size * 10,
                    price=self.resting_buy_price,
                    time_in_force=TimeInForce.GTC,
                )
                first = await v.submit_order(order)
                assert first.status in (OrderStatus.ACCEPTED, OrderStatus.NEW)
                again = await v.submit_order(order)
                assert again.client_order_id == "conf-1" and again.status == first.status
                open_ids = [r.client_order_id for r in await v.fetch_open_orders()]
                assert open_ids.count("conf-1") == 1
                found = await v.fetch_order(inst.key, "conf-1")
                assert found is not None and found.client_order_id == "conf-1"
                assert await v.fetch_order(inst.key, "never-sent") is None
                cancelled = await v.cancel_order(inst.key, "conf-1")
                assert cancelled.status is OrderStatus.CANCELLED
                assert "conf-1" not in [r.client_order_id for r in await v.fetch_open_orders()]
            finally:
                await v.close()

        anyio.run(go)


class AggregatorConformance(_Suite):
    """What every aggregator must do (see :mod:`tradewind.execution`).

    Override :meth:`serving`: an async context manager yielding ``(aggregator, request)``
    with the aggregator talking to an API (a local server) in the given ``mode``:
    ``"ok"`` answers a quote with its transaction, ``"error"`` answers the API's own error
    body with a 4xx status, ``"malformed"`` answers a body that is not the API's JSON.
    """

    def serving(self, mode: str) -> Any:
        """``async with self.serving(mode) as (aggregator, request)``."""
        raise NotImplementedError("override serving(mode)")

    def test_quote_carries_a_transaction_to_a_known_router(self) -> None:
        async def go() -> None:
            async with self.serving("ok") as (agg, req):
                try:
                    q = await agg.quote_swap(req)
                finally:
                    await agg.close()
            known = {r.address for r in agg.routers(req.chain_id)}
            assert q.aggregator == self.plugin_class.name
            assert (q.sell_token, q.buy_token) == (req.sell_token, req.buy_token)
            assert q.sell_amount == req.sell_amount
            assert 0 < q.min_buy_amount <= q.buy_amount
            assert q.gas > 0
            assert q.tx is not None and q.tx.to in known and q.tx.data.startswith("0x")
            assert q.spender in known

        anyio.run(go)

    def test_an_unserved_chain_is_refused_without_asking(self) -> None:
        from tradewind.execution import AggregatorError

        async def go() -> None:
            async with self.serving("ok") as (agg, req):
                try:
                    with pytest.raises(AggregatorError, match="not configured") as info:
                        await agg.quote_swap(attrs.evolve(req, chain_id=987654321))
                finally:
                    await agg.close()
            assert info.value.kind == "unsupported"

        anyio.run(go)

    def test_the_apis_error_body_becomes_a_clear_error(self) -> None:
        from tradewind.execution import AggregatorError

        async def go() -> None:
            async with self.serving("error") as (agg, req):
                try:
                    with pytest.raises(AggregatorError) as info:
                        await agg.quote_swap(req)
                finally:
                    await agg.close()
            assert info.value.kind == "api"
            assert self.plugin_class.name in str(info.value) and "HTTP 400" in str(info.value)

        anyio.run(go)

    def test_a_malformed_body_is_a_malformed_error(self) -> None:
        from tradewind.execution import AggregatorError

        async def go() -> None:
            async with self.serving("malformed") as (agg, req):
                try:
                    with pytest.raises(AggregatorError) as info:
                        await agg.quote_swap(req)
                finally:
                    await agg.close()
            assert info.value.kind == "malformed"

        anyio.run(go)

    def test_close_is_idempotent(self) -> None:
        async def go() -> None:
            async with self.serving("ok") as (agg, _req):
                await agg.close()
                await agg.close()

        anyio.run(go)
