"""The analyzer as the engine drives it: config from TOML tables, ticks and candles in order."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tradewind._serde import structure
from tradewind.errors import ConfigError
from tradewind.model import Candle, TickBatch

from profile_data import binance_btcusdt
from tradewind_analyzer_profile import ProfileAnalyzer, ProfileConfig
from tradewind_analyzer_profile.plugin import VALUE_KEYS

MIN = 60 * 10**9


def bars(ticks: TickBatch, tf: int) -> list[Candle]:
    """Candles of ``tf`` built from the tape (only the fields the analyzer reads matter)."""
    out = []
    bucket = ticks.ts_ns // tf
    edges = np.flatnonzero(np.diff(bucket)) + 1
    for s, e in zip(np.r_[0, edges], np.r_[edges, len(ticks)], strict=True):
        b = ticks.slice(int(s), int(e))
        vol = float(b.size.sum())
        out.append(
            Candle(
                instrument=ticks.instrument,
                timeframe_ns=tf,
                open_ts_ns=int(bucket[s] * tf),
                open=float(b.price[0]),
                high=float(b.price.max()),
                low=float(b.price.min()),
                close=float(b.price[-1]),
                volume=vol,
                buy_volume=float(b.size[b.side > 0].sum()),
                sell_volume=float(b.size[b.side < 0].sum()),
                trades=len(b),
                buy_trades=int((b.side > 0).sum()),
                sell_trades=int((b.side < 0).sum()),
                vwap=float((b.price * b.size).sum() / vol),
            )
        )
    return out


def test_config_from_a_toml_table() -> None:
    cfg = structure({"window": "4h", "bin_size": 0.5, "zone_timeframe": "5m"}, ProfileConfig)
    assert cfg.window_ns == 4 * 60 * MIN and cfg.fvg_timeframe_ns == 5 * MIN
    assert str(cfg.bin_size) == "0.5"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"window": "15x"}, "window: '15x' is not a duration"),
        ({"value_area_pct": 1.5}, r"value_area_pct must be in \(0, 1\]"),
        ({"zone_timeframe": "7m"}, "zone_timeframe: timeframe '7m' must be between"),
        ({"bin_ticks": 0}, "bin_ticks must be positive"),
    ],
)
def test_bad_options_are_refused_with_their_name(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        structure(table, ProfileConfig, path="$.analyzers.profile")


def test_values_have_every_key_and_are_nan_before_data() -> None:
    a = ProfileAnalyzer(config=ProfileConfig(), instrument=binance_btcusdt())
    v = a.values()
    assert tuple(v) == VALUE_KEYS
    assert all(isinstance(x, float) and math.isnan(x) for x in v.values())


def test_recorded_session_driven_like_the_engine(tardis_trades: TickBatch) -> None:
    """Ticks before each close, then the closes of 1m, 5m and 15m candles in close order."""
    inst = binance_btcusdt()
    # Zones and gaps on 1m, so the two hours of tape make some of each.
    a = ProfileAnalyzer(
        config=ProfileConfig(zone_timeframe="1m", fvg_min_gap_pct=0.0), instrument=inst
    )
    candles = sorted(
        (c for tf in (MIN, 5 * MIN, 15 * MIN) for c in bars(tardis_trades, tf)),
        key=lambda c: (c.close_ts_ns, c.timeframe_ns),
    )
    i = 0
    seen = dict.fromkeys(("demand_low", "supply_low", "fvg_bull_low", "fvg_bear_low"), 0)
    for c in candles:
        j = int(np.searchsorted(tardis_trades.ts_ns, c.close_ts_ns))
        if j > i:
            a.on_ticks(tardis_trades.slice(i, j))
            i = j
        a.on_candle(c)
        v = a.values()
        assert set(v) == set(VALUE_KEYS)
        for key in seen:
            seen[key] += not math.isnan(v[key])
        if not math.isnan(v["poc"]):
            assert v["val"] <= v["poc"] <= v["vah"]
        for side in ("demand", "supply"):
            if not math.isnan(v[f"{side}_low"]):
                assert v[f"{side}_low"] < v[f"{side}_high"]
                assert v[f"{side}_strength"] in (100.0, 70.0, 40.0)
                assert v[f"{side}_distance_pct"] >= 0.0
        if not math.isnan(v["demand_high"]):
            assert v["demand_low"] <= a.last_price
        if not math.isnan(v["fvg_bull_high"]):
            assert v["fvg_bull_high"] <= a.last_price and 0.0 <= v["fvg_bull_fill"] < 1.0
    assert all(seen.values()), seen  # every kind of level turned up at some point
    last = candles[-1]
    assert a.last_price == last.close
    # The 15m profile at the end is that of the trades of the last 15 minutes of the tape.
    end = a.values()
    recent = tardis_trades.slice(
        int(np.searchsorted(tardis_trades.ts_ns, last.close_ts_ns - 15 * MIN)), len(tardis_trades)
    )
    assert end["profile_volume"] == pytest.approx(float(recent.size.sum()), abs=1e-9)
    assert float(recent.price.min()) - 0.1 <= end["val"] <= end["poc"] <= end["vah"]
    assert end["vah"] <= float(recent.price.max()) + 0.1


def _bits(v: float) -> str:
    return "nan" if math.isnan(v) else v.hex()


@pytest.mark.parametrize(
    "order",
    [
        ("poc",),  # the walk's chart: the POC alone, then everything
        ("poc", "vah"),
        ("vah", "poc"),
        ("demand_low", "poc"),
        ("poc", "fvg_bull_low", "profile_volume"),
        (),  # the keys first
    ],
)
def test_any_reading_order_gives_the_same_outputs(
    tardis_trades: TickBatch, order: tuple[str, ...]
) -> None:
    """The lazy mapping (POC alone, levels, zones and gaps, each on first read) reports the
    same floats, to the bit, whichever key is read first."""
    config = ProfileConfig(zone_timeframe="1m", fvg_min_gap_pct=0.0)
    eager = ProfileAnalyzer(config=config, instrument=binance_btcusdt())
    lazy = ProfileAnalyzer(config=config, instrument=binance_btcusdt())
    i = 0
    defined = 0
    for c in bars(tardis_trades, MIN):
        j = int(np.searchsorted(tardis_trades.ts_ns, c.close_ts_ns))
        for a in (eager, lazy):
            if j > i:
                a.on_ticks(tardis_trades.slice(i, j))
            a.on_candle(c)
        i = j
        want = {k: eager.values()[k] for k in VALUE_KEYS}  # every key read, in order
        got = lazy.values()
        first = {k: got.get(k) if k == "poc" else got[k] for k in order}
        assert got.get("no_such_output", -1.0) == -1.0 and got.get("no_such_output") is None
        if not order:
            assert tuple(got) == VALUE_KEYS
        assert len(got) == len(VALUE_KEYS)
        for k, v in first.items():
            assert _bits(v) == _bits(want[k]), (c.close_ts_ns, k)
        assert [_bits(got[k]) for k in VALUE_KEYS] == [_bits(want[k]) for k in VALUE_KEYS]
        assert all(got[k] is want[k] for k in VALUE_KEYS if math.isnan(want[k]))  # math.nan
        defined += not math.isnan(want["fvg_bull_low"]) and not math.isnan(want["poc"])
    assert defined > 0
