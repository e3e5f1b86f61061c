"""The cascade-reversal exit on the seed's example (section 2.6.1), through the real analyzer.

The seed samples imbalances every 10 s; tradewind's order-flow analyzer measures them per
closed candle, so the seed's steps become successive 15-minute windows whose 1m, 5m and 15m
candles close together with the seed's imbalances.
"""

import math
from decimal import Decimal

import attrs
import numpy as np
import pytest
from tradewind.errors import ConfigError
from tradewind.model import Candle, Position
from tradewind.testing import assert_plugin_installed, default_instrument
from tradewind.testing.conformance import ExitConformance
from tradewind.timeframes import parse_timeframe
from tradewind_analyzer_orderflow import OrderFlowAnalyzer, OrderFlowConfig
from tradewind_exit_reversal.plugin import CascadeReversal, ReversalConfig

pytest_plugins = "tradewind.testing"

INSTRUMENT = default_instrument()
KEY = INSTRUMENT.key
MIN = 60 * 10**9
T0 = 1_582_329_600 * 10**9  # 2020-02-22 00:00 UTC, a 15m boundary


def flow(tf, open_ts, imbalance, close):
    """A candle whose buy/sell volume gives ``imbalance`` (sell 10, buy 10 × imbalance)."""
    buy, sell = 10 * imbalance, 10.0
    return Candle(
        instrument=KEY,
        timeframe_ns=parse_timeframe(tf),
        open_ts_ns=open_ts,
        open=close,
        high=close,
        low=close,
        close=close,
        volume=buy + sell,
        buy_volume=buy,
        sell_volume=sell,
        trades=2,
        buy_trades=1,
        sell_trades=1,
        vwap=close,
    )


def window(n, imb_1m, imb_5m, imb_15m, close):
    """The 1m, 5m and 15m candles closing together at the end of 15-minute window ``n``."""
    start = T0 + n * 15 * MIN
    return [
        flow("1m", start + 14 * MIN, imb_1m, close),
        flow("5m", start + 10 * MIN, imb_5m, close),
        flow("15m", start, imb_15m, close),
    ]


class Host:
    """The engine's order at a boundary: analyzers fold every closed candle, then each exit
    monitor sees each closed candle with the analyzers' values as ``<instance>.<output>``."""

    def __init__(self, monitor, instance="orderflow"):
        self.analyzer = OrderFlowAnalyzer(OrderFlowConfig(), INSTRUMENT)
        self.instance = instance
        self.monitor = monitor

    def boundary(self, position, candles):
        for c in candles:
            self.analyzer.on_candle(c)
        values = {f"{self.instance}.{k}": v for k, v in self.analyzer.values().items()}
        for c in candles:
            d = self.monitor.on_candle(position, c, values, None)
            if d is not None:
                return d
        return None


def long(entry="50000"):
    return Position(instrument=KEY, quantity=Decimal("0.1"), avg_price=Decimal(entry))


def short(entry="50000"):
    return Position(instrument=KEY, quantity=Decimal("-0.1"), avg_price=Decimal(entry))


def test_plugin_is_installed():
    assert_plugin_installed("exits", "reversal", CascadeReversal)


def test_seed_example_holds_while_bullish_and_exits_at_51800_on_0_4_0_6_0_9():
    host = Host(CascadeReversal(ReversalConfig()))
    pos = long("50000")
    # Entry cascade 3.5 > 2.8 > 1.8 (the long was entered on it): nothing to exit.
    assert host.boundary(pos, window(0, 3.5, 2.8, 1.8, 50_000)) is None
    assert host.boundary(pos, window(1, 3.2, 2.7, 1.9, 50_900)) is None  # HOLD (still bullish)
    assert host.boundary(pos, window(2, 2.8, 2.5, 1.8, 51_400)) is None  # HOLD (still bullish)
    d = host.boundary(pos, window(3, 0.4, 0.6, 0.9, 51_800))  # cascade reversed
    assert d is not None
    assert (d.ts_ns, d.price) == (T0 + 4 * 15 * MIN, 51_800)
    assert d.monitor == "reversal"
    assert d.reason == (
        "order-flow cascade reversed, sellers accelerating: "
        "imbalance_1m 0.40 < imbalance_5m 0.60 < imbalance_15m 0.90"
    )
    assert float((Decimal(d.price) - pos.avg_price) / pos.avg_price) == pytest.approx(0.036)


def test_the_same_flow_keeps_a_short():
    host = Host(CascadeReversal(ReversalConfig()))
    assert host.boundary(short(), window(0, 0.4, 0.6, 0.9, 49_000)) is None


def test_short_exits_when_buyers_accelerate():
    host = Host(CascadeReversal(ReversalConfig()))
    d = host.boundary(short(), window(0, 2.5, 1.6, 1.2, 49_500))
    assert d is not None and d.price == 49_500
    assert d.reason.endswith("imbalance_1m 2.50 > imbalance_5m 1.60 > imbalance_15m 1.20")


@pytest.mark.parametrize(
    "imbs",
    [(0.5, 0.6, 0.9), (0.4, 0.9, 0.6), (0.6, 0.7, 0.9)],
    ids=["0.5 is not below 0.5", "chain broken", "1m not beyond 2:1 selling"],
)
def test_no_exit_without_a_full_reversal(imbs):
    host = Host(CascadeReversal(ReversalConfig()))
    assert host.boundary(long(), window(0, *imbs, 50_000)) is None


def test_no_exit_until_every_timeframe_has_closed_a_candle():
    host = Host(CascadeReversal(ReversalConfig()))
    only_1m = window(0, 0.4, 0.6, 0.9, 50_000)[:1]
    assert host.boundary(long(), only_1m) is None
    assert math.isnan(host.analyzer.values()["cascade_reversal_long"])


def test_reads_the_configured_analyzer_instance():
    host = Host(CascadeReversal(ReversalConfig(analyzer="flow")), instance="flow")
    assert host.boundary(long(), window(0, 0.4, 0.6, 0.9, 50_000)) is not None


def test_a_misspelt_instance_fails_fast_naming_what_is_there():
    host = Host(CascadeReversal(ReversalConfig(analyzer="orderflw")))
    with pytest.raises(ConfigError, match=r"'orderflw\.cascade_reversal_long'.*: orderflow"):
        host.boundary(long(), window(0, 3.5, 2.8, 1.8, 50_000))


def test_trades_alone_never_exit():
    from tradewind.testing.data import tick_path

    mon = CascadeReversal(ReversalConfig())
    assert mon.on_ticks(long(), tick_path(KEY, minutes=5, seed=1), None) is None


class TestConformance(ExitConformance):
    plugin_class = CascadeReversal

    def scan_columns(self, closes, rng):
        def verdicts():
            v = (rng.random(closes) < 0.04).astype(np.float64)
            v[: int(rng.integers(0, 15))] = np.nan  # not every timeframe has closed yet
            return v

        return {
            "orderflow.cascade_reversal_long": verdicts(),
            "orderflow.cascade_reversal_short": verdicts(),
        }


def test_the_scan_reads_the_verdict_column_of_the_positions_side():
    from tradewind.testing.data import tick_path
    from tradewind.testing.exit_scan import hold_window

    mon = CascadeReversal(ReversalConfig())
    ticks = tick_path(KEY, minutes=10, seed=3)
    n = len(hold_window(ticks))
    longs, shorts = np.full(n, np.nan), np.zeros(n)
    longs[3:] = 0.0
    longs[7] = 1.0
    shorts[2] = 1.0
    cols = {"orderflow.cascade_reversal_long": longs, "orderflow.cascade_reversal_short": shorts}
    window = hold_window(ticks, cols)
    assert mon.scan(long(), window, None) == 7
    assert mon.scan(attrs.evolve(long(), quantity=-long().quantity), window, None) == 2
    # Not known ahead (an analyzer without a table): the engine steps from the first close.
    assert mon.scan(long(), hold_window(ticks), None) == 0


class _CountingValues(dict):
    """The analyzers' values, counting each value read (as the engine's lazy values would
    compute an analyzer's outputs on first read)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reads: list[str] = []

    def __getitem__(self, key):
        self.reads.append(key)
        return super().__getitem__(key)

    def items(self):
        for k in self:
            yield k, self[k]


def test_the_exit_reason_reads_only_the_imbalances():
    """Other analyzers' outputs (the profile's value area, zones and gaps are computed on
    first read) are not read for the reason string, which names only the imbalances."""
    host = Host(CascadeReversal(ReversalConfig()))
    pos = long("50000")
    candles = window(3, 0.4, 0.6, 0.9, 51_800)
    for c in candles:
        host.analyzer.on_candle(c)
    values = _CountingValues({f"orderflow.{k}": v for k, v in host.analyzer.values().items()})
    values.update({"profile.poc": 50_000.0, "profile.vah": 50_100.0, "profile.demand_low": 1.0})
    d = None
    for c in candles:
        d = d or host.monitor.on_candle(pos, c, values, None)
    assert d is not None
    assert d.reason == (
        "order-flow cascade reversed, sellers accelerating: "
        "imbalance_1m 0.40 < imbalance_5m 0.60 < imbalance_15m 0.90"
    )
    assert not [k for k in values.reads if not k.startswith("orderflow.")]
    assert {k for k in values.reads if "imbalance_" in k} == {
        "orderflow.imbalance_1m",
        "orderflow.imbalance_5m",
        "orderflow.imbalance_15m",
    }


class _Outputs:
    """An analyzer of fixed outputs, counting its ``values()`` reads."""

    def __init__(self, outputs):
        self.outputs = dict(outputs)
        self.reads = 0

    def values(self):
        self.reads += 1
        return self.outputs

    def on_candle(self, candle):
        pass


def _plain_walk(monitor, values):
    """The imbalances as walking every name of a mapping finds them (the generic path)."""
    prefix = monitor._imbalance_prefix
    n = len(monitor.config.analyzer) + 1
    return [(k[n:], values[k]) for k in values if k.startswith(prefix)]


@pytest.mark.parametrize(
    "names",
    [
        ("profile", "orderflow", "regime"),
        ("orderflow",),
        ("profile", "regime"),  # the instance is missing: no imbalances
        ("orderflow", "orderflow2", "flow"),  # a name that starts like it, with no dot
    ],
)
def test_the_engines_values_give_the_imbalances_of_walking_every_name(names):
    """Through the engine's :class:`AnalyzerValues` the reason reads one analyzer's outputs:
    the same imbalances in the same order as walking every name, and every analyzer's
    outputs read (in order) as the walk reads them."""
    from tradewind.trading.engine import AnalyzerValues

    outputs = {
        "profile": {"poc": 1.0, "imbalance_x": 9.0, "vah": 2.0},
        "orderflow": {
            "imbalance_5m": 0.6,
            "cascade_reversal_long": 1.0,
            "imbalance_1m": 0.4,
            "imbalance_15m": math.nan,
        },
        "orderflow2": {"imbalance_1m": 3.0},
        "flow": {"imbalance_1m": 4.0},
        "regime": {"trend": -1.0},
    }

    def build():
        analyzers = [(n, _Outputs(outputs[n])) for n in names]
        return AnalyzerValues(analyzers), analyzers

    monitor = CascadeReversal(ReversalConfig())
    fast, fast_an = build()
    walked, walked_an = build()
    got = monitor._imbalances(fast)
    want = _plain_walk(monitor, walked)
    assert repr(got) == repr(want)  # NaN compares by its repr
    assert [a.reads for _, a in fast_an] == [a.reads for _, a in walked_an] == [1] * len(names)
    if "orderflow" in names:
        assert [k for k, _ in got] == ["imbalance_5m", "imbalance_1m", "imbalance_15m"]


def test_a_dotted_instance_name_walks_every_name():
    """Another instance named ``"<analyzer>.<...>"`` makes names ambiguous: the reason walks
    every name, as any mapping's (and fails as that does)."""
    from tradewind.trading.engine import AnalyzerValues

    values = AnalyzerValues(
        [
            ("orderflow", _Outputs({"imbalance_1m": 0.4})),
            ("orderflow.imbalance_x", _Outputs({"y": 1.0})),
        ]
    )
    monitor = CascadeReversal(ReversalConfig())
    with pytest.raises(KeyError):
        _plain_walk(monitor, values)
    with pytest.raises(KeyError):
        monitor._imbalances(values)
