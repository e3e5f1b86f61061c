"""Analyzers advanced on demand at a decision point: an analyzer the decision reads takes the
closed candles before the strategy decides, the others after the order has left, and every
value, signal, order and fill is the same as feeding every analyzer first (the old order).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import numpy as np
from tradewind.config import load_config
from tradewind.model import TickBatch
from tradewind.trading.engine import AnalyzerValues, Engine, _VenueValues


class _Counter:
    """Counts the candles it was given; its output is that count."""

    def __init__(self, log: list[str], name: str) -> None:
        self.log, self.name, self.seen = log, name, 0

    def on_candle(self, candle: object) -> None:
        self.seen += 1
        self.log.append(f"{self.name}:{candle}")

    def values(self) -> Mapping[str, float]:
        return {"seen": float(self.seen)}


def test_an_analyzer_takes_the_candles_when_read_and_the_rest_at_settle() -> None:
    log: list[str] = []
    a, b = _Counter(log, "a"), _Counter(log, "b")
    values = AnalyzerValues([("a", a), ("b", b)])
    values.feed(["1m", "5m"])
    assert log == []  # nothing read yet
    assert values["a.seen"] == 2.0
    assert log == ["a:1m", "a:5m"]  # in order, a only
    assert values["a.seen"] == 2.0 and log == ["a:1m", "a:5m"]  # once
    values.settle()
    assert log == ["a:1m", "a:5m", "b:1m", "b:5m"]
    values.settle()  # nothing left
    assert len(log) == 4 and values["b.seen"] == 2.0
    values.feed(["1m"])  # the next decision point: the mappings read before are forgotten
    assert values["b.seen"] == 3.0 and values["a.seen"] == 3.0


def test_a_new_feed_or_a_block_row_settles_what_was_left() -> None:
    log: list[str] = []
    a = _Counter(log, "a")
    values = AnalyzerValues([("a", a)])
    values.feed(["1m"])
    values.feed(["1m"])
    assert a.seen == 1  # the first feed's candles were handed over before the second's
    values.use_rows({"a": {"seen": 9.0}})
    assert a.seen == 2 and values["a.seen"] == 9.0


def test_a_venue_source_is_read_but_never_fed_candles() -> None:
    class Venue:
        def venue_values(self, instrument: str) -> Mapping[str, float]:
            return {"liquidity": 5.0}

    log: list[str] = []
    values = AnalyzerValues([("a", _Counter(log, "a"))])
    values.add_source("dex", _VenueValues(Venue(), "dex:A/B"))
    values.feed(["1m"])
    assert values["dex.liquidity"] == 5.0 and log == []
    assert set(values) == {"a.seen", "dex.liquidity"}  # reading every key feeds a
    assert log == ["a:1m"]
    values.settle()
    assert log == ["a:1m"]


CONFIG = """
mode = "backtest"
timeframes = ["1m", "5m", "15m"]
[run]
journal = "{journal}"
[[instruments]]
symbol = "BTCUSDT"
venue = "sim"
data = "replay"
kind = "perp"
tick_size = "0.1"
lot_size = "0.001"
min_notional = "5"
taker_fee = "0.0004"
[venues.sim]
starting_balance = "1000000"
latency_ms = 0
[venues.replay]
path = "unused.csv"
[analyzers.orderflow]
plugin = "orderflow"
[analyzers.regime]
plugin = "regime"
timeframe = "1m"
[analyzers.profile]
plugin = "profile"
[analyzers.micro]
plugin = "microstructure"
[strategy]
timeframe = "1m"
long = [{{ value = "orderflow.imbalance_1m", op = ">", threshold = 1.0 }}]
short = [{{ value = "orderflow.imbalance_1m", op = "<", threshold = 1.0 }}]
risk_pct = 0.00001
[exits.trailing]
trail_pct = 0.002
[exits.maxhold]
max_hold_minutes = 3
[notifiers.log]
min_severity = "critical"
"""


async def _run(tmp: Path, eager: bool, minutes: int = 40) -> tuple[list[str], dict[str, Any]]:
    """Feed ``minutes`` of random trades batch by batch (the paper/live path) and return the
    order of analyzer feeds against order sends, and what the run decided."""
    (tmp / "c.toml").write_text(CONFIG.format(journal=(tmp / "j.duckdb").as_posix()))
    engine = Engine(load_config(tmp / "c.toml"), run_id="deferred")
    events: list[str] = []
    sim = engine.venues["sim"]
    submit = sim.submit_order

    async def logged_submit(order: Any) -> Any:
        events.append("entry" if order.intent == "entry" else "submit")
        return await submit(order)

    sim.submit_order = logged_submit  # type: ignore[method-assign]
    st = next(iter(engine.state.values()))
    for name, analyzer in st.analyzers:
        on_candle = analyzer.on_candle

        def logged(c: Any, name: str = name, on_candle: Any = on_candle) -> None:
            events.append(name)
            on_candle(c)

        analyzer.on_candle = logged
    if eager:  # the order before: every analyzer fed before anything reads
        feed = st.values.feed

        def feed_all(candles: Any) -> None:
            feed(candles)
            st.values.settle()

        st.values.feed = feed_all  # type: ignore[method-assign]
    key = st.instrument.key
    rng = np.random.default_rng(7)
    minute = 60_000_000_000
    t0 = 1_700_000_000 * 1_000_000_000 // minute * minute
    price, tid = 50_000.0, 0
    from tradewind.journal.store import Journal
    from tradewind.trading.reconcile import prepare_session

    engine.journal = Journal(tmp / "j.duckdb", "deferred")
    engine.journal.start("backtest", str(tmp / "c.toml"), t0)
    engine.bus.subscribe("journal", engine.journal.record, lossless=True)
    await prepare_session(engine)
    read: list[tuple[int, float]] = []
    async with engine.bus:
        for k in range(minutes):
            n = 40
            ts = t0 + k * minute + np.sort(rng.integers(1, minute, n))
            prices = np.round(price * np.exp(np.cumsum(rng.normal(0, 4e-4, n))), 1)
            price = float(prices[-1])
            for part in np.array_split(np.arange(n), 4):  # a few batches a minute
                await engine.on_batch(
                    TickBatch.from_arrays(
                        key,
                        ts[part],
                        prices[part],
                        rng.lognormal(-3, 1, len(part)) + 0.001,
                        np.where(rng.random(len(part)) < 0.5, 1, -1),
                        part + tid,
                    )
                )
                events.append("batch")
            tid += n
            read.append((k, float(st.values.get("profile.poc"))))
        await engine.bus.close()
    engine.journal.close()
    result = {
        "signals": engine.signals,
        "entries": engine.entries_sent,
        "fills": [(f.client_order_id, f.price, f.quantity, f.ts_ns) for f in engine.orders.fills],
        "cash": engine.portfolio.cash,
        "regime": dict(st.values._of("regime")),
        "micro": dict(st.values._of("micro")),
        "poc": read,
    }
    return events, result


def test_the_decision_reads_its_analyzer_first_the_others_follow_the_order(
    tmp_path: Path,
) -> None:
    (tmp_path / "lazy").mkdir()
    (tmp_path / "eager").mkdir()
    events, lazy = anyio.run(_run, tmp_path / "lazy", False)
    eager_events, eager = anyio.run(_run, tmp_path / "eager", True)
    assert lazy["entries"] > 3, "the scenario sends orders"
    # Same signals, orders, fills, cash and analyzer outputs as feeding every analyzer first.
    # (repr: every float to its last bit, NaN equal to NaN)
    assert repr(lazy) == repr(eager)
    # At every send: orderflow (read by the strategy) was fed this close, the three others
    # only after the order left, and all four before the next batch.
    entries = [i for i, e in enumerate(events) if e == "entry"]
    for i in entries:
        marks = [j for j in range(i) if events[j] in ("batch", "submit", "entry")]
        here = events[marks[-1] + 1 : i]
        assert "orderflow" in here and not {"regime", "profile", "micro"} & set(here), here
        after = events[i + 1 : events.index("batch", i)]
        assert {"regime", "profile", "micro"} <= set(after), after
    assert len(entries) == lazy["entries"] > 3
    assert eager_events.count("regime") == events.count("regime")
    # The control: fed first, every analyzer shows up before its entry.
    first = eager_events.index("entry")
    assert {"orderflow", "regime", "profile", "micro"} <= set(eager_events[first - 4 : first])


class _Empty(_Counter):
    """An analyzer with no outputs yet."""

    def values(self) -> Mapping[str, float]:
        self.log.append(f"{self.name}:values")
        return {}


def test_the_truth_of_the_values_reads_analyzers_only_until_one_has_an_output() -> None:
    log: list[str] = []
    empty, a, b = _Empty(log, "e"), _Counter(log, "a"), _Counter(log, "b")
    values = AnalyzerValues([("e", empty), ("a", a), ("b", b)])
    values.feed(["1m"])
    assert values  # `not values`, every exit monitor's first check at a close
    assert log == ["e:1m", "e:values", "a:1m"]  # b is neither fed nor read for it
    assert bool(values) == (len(values) > 0)
    nothing = AnalyzerValues([("e", _Empty(log, "f"))])
    assert not nothing and len(nothing) == 0
    values.settle()
    assert values["b.seen"] == 1.0  # b took the candle at settle, as before


def test_get_with_its_names_kept_reads_what_partitioning_each_name_reads() -> None:
    # ``get`` keeps each name's split and looks the mapping read at this decision point up
    # first: over random reads, feeds, block rows and a venue source it returns what the
    # split of every name and its instance's mapping give (the default for a name no
    # analyzer reports), and feeds the same analyzers the same candles in the same order.
    rng = np.random.default_rng(7)
    log: list[str] = []
    ref_log: list[str] = []
    names = ["a.seen", "b.seen", "a.other", "c.seen", "seen", "a", ".seen", "a.seen.x", "v.x"]

    class _Source:
        def values(self) -> Mapping[str, float]:
            return {"x": 3.5}

    values = AnalyzerValues([("a", _Counter(log, "a")), ("b", _Counter(log, "b"))])
    values.add_source("v", _Source())
    refs = {"a": _Counter(ref_log, "a"), "b": _Counter(ref_log, "b")}
    sources: dict[str, Any] = {**refs, "v": _Source()}
    pending: dict[str, list[str]] = {}
    rows: dict[str, dict[str, float]] = {}

    def settle() -> None:
        for name, ref in refs.items():
            for c in pending.pop(name, []):
                ref.on_candle(c)

    for step in range(2_000):
        op = int(rng.integers(0, 10))
        if op == 0:
            candles = [f"c{step}", f"d{step}"][: 1 + int(rng.integers(0, 2))]
            values.feed(candles)
            settle()  # what the last feed left goes first
            pending = {name: list(candles) for name in refs}
            rows = {}
        elif op == 1:
            row = {"a": {"seen": float(step)}, "b": {"seen": -1.0, "other": 2.0}}
            values.use_rows(row)
            settle()
            rows = row
        else:
            name = names[int(rng.integers(0, len(names)))]
            default = float(rng.integers(0, 3)) if rng.integers(0, 2) else None
            got = values.get(name) if default is None else values.get(name, default)
            instance, _, key = name.partition(".")
            missing = np.nan if default is None else default
            if instance not in sources:
                want: Any = missing
            else:
                for c in pending.pop(instance, []):
                    refs[instance].on_candle(c)
                mapping = rows.get(instance) or sources[instance].values()
                want = mapping.get(key, missing)
            assert got == want or (got != got and want != want), (step, name)
            assert log == ref_log
    values.settle()
    settle()
    assert log == ref_log


def test_the_decision_curves_kept_per_instrument_are_the_engine_s_curves(tmp_path: Path) -> None:
    # The paper/live path (batches of a few trades, decisions at every close) with two
    # charted outputs: the curves the engine keeps per instrument are the ones its dicts
    # hold, the price and candle curves are every 1m candle of the tape (an aggregator of
    # its own over the same trades), and each charted series has a point at each of them.
    from tradewind.market.candles import CandleAggregator

    panes = ["orderflow.imbalance_1m", "profile.poc"]
    text = CONFIG.format(journal=(tmp_path / "j.duckdb").as_posix()).replace(
        "[run]\n", "[run]\npanes = [" + ", ".join(f'"{p}"' for p in panes) + "]\n"
    )
    (tmp_path / "c.toml").write_text(text)
    engine = Engine(load_config(tmp_path / "c.toml"), run_id="curves")
    st = next(iter(engine.state.values()))
    key = st.instrument.key
    minute = 60_000_000_000
    own = CandleAggregator(key, [minute])
    candles: list[Any] = []
    rng = np.random.default_rng(11)
    t0 = 1_700_000_000 * 1_000_000_000 // minute * minute
    price, tid = 50_000.0, 0

    async def main() -> None:
        nonlocal price, tid
        async with engine.bus:
            for k in range(30):
                n = 30
                ts = t0 + k * minute + np.sort(rng.integers(1, minute, n))
                prices = np.round(price * np.exp(np.cumsum(rng.normal(0, 4e-4, n))), 1)
                price = float(prices[-1])
                for part in np.array_split(np.arange(n), 3):
                    batch = TickBatch.from_arrays(
                        key,
                        ts[part],
                        prices[part],
                        rng.lognormal(-3, 1, len(part)) + 0.001,
                        np.where(rng.random(len(part)) < 0.5, 1, -1),
                        part + tid,
                    )
                    candles.extend(own.update(batch))
                    await engine.on_batch(batch)
                tid += n
            await engine.bus.close()

    anyio.run(main)
    assert st.curves is not None
    prices, candle_curve, charted = st.curves
    assert prices is engine.price_curve[key] and candle_curve is engine.candle_curve[key]
    assert [name for name, _ in charted] == panes
    assert all(curve is engine.series[key][name] for name, curve in charted)
    want = [(c.open_ts_ns, c.open, c.high, c.low, c.close, c.volume) for c in candles]
    assert len(want) == 29 and list(candle_curve) == want
    assert list(prices) == [(c.open_ts_ns + minute, c.close) for c in candles]
    for _, curve in charted:
        assert [t for t, _ in curve] == [t for t, _ in prices]


def test_the_mappings_read_before_are_let_go_of_at_settle_not_at_the_next_feed() -> None:
    """Freeing the last decision point's mappings is no part of the next decision: a new feed
    forgets them (the next read asks the analyzer again) and settle, after the decision,
    lets go of them."""
    freed: list[float] = []

    class Outputs(dict):  # type: ignore[type-arg]
        def __del__(self) -> None:
            freed.append(self["seen"])

    class Counting(_Counter):
        def values(self) -> Mapping[str, float]:
            return Outputs(seen=float(self.seen))

    log: list[str] = []
    values = AnalyzerValues([("a", Counting(log, "a"))])
    values.feed(["1m"])
    assert values["a.seen"] == 1.0
    values.settle()
    assert freed == []  # still the mapping of this decision point
    values.feed(["1m"])
    assert freed == []  # the decision reads the new one; the old one waits
    assert values["a.seen"] == 2.0
    values.settle()
    assert freed == [1.0]
    values.feed(["1m"])
    values.settle()  # nothing read at this point: the last mapping read goes here
    assert freed == [1.0, 2.0]
