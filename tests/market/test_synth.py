"""Synthetic ticks: calibrated on a real sample, statistics match, deterministic per seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tradewind.errors import DataError
from tradewind.market.importers import load
from tradewind.market.synth import (
    NS_PER_HOUR,
    SampleStats,
    calibrate,
    generate,
    infer_tick_size,
)
from tradewind.model.ticks import TickBatch

DATA = Path(__file__).resolve().parents[1] / "data"
TARDIS = DATA / "tardis_binance-futures_BTCUSDT_trades.csv"
FT_JSON = DATA / "freqtrade" / "binance" / "XRP_ETH-trades.json.gz"


@pytest.fixture(scope="module")
def sample() -> TickBatch:
    """2 h 06 min of Binance USD-M BTCUSDT trades (Tardis), 9,999 ticks."""
    return load(TARDIS).batches["BTCUSDT"]


@pytest.fixture(scope="module")
def synth(sample: TickBatch) -> TickBatch:
    """200 hours (~950k ticks) calibrated on the sample."""
    return generate(calibrate(sample), hours=200, seed=42)


def minute_returns(batch: TickBatch) -> np.ndarray:
    """Log-returns between the last trade prices of consecutive minutes."""
    minute = batch.ts_ns // 60_000_000_000
    last = np.flatnonzero(np.diff(minute))
    closes = np.r_[batch.price[last], batch.price[-1]]
    return np.diff(np.log(closes))


def test_infer_tick_size() -> None:
    assert infer_tick_size([9682.0, 9681.99, 9666.87]) == (0.01, 2)
    assert infer_tick_size([63943.9, 63959.9, 63944.0]) == (0.1, 1)
    assert infer_tick_size([100.5, 101.0, 99.5]) == (0.5, 1)
    assert infer_tick_size([0.00141342, 0.00141266, 0.00141267]) == (1e-08, 8)
    assert infer_tick_size([0.00141342, 0.00141266]) == (7.6e-07, 8)  # all the sample shows
    assert infer_tick_size([105055.0, 105054.0, 105050.0]) == (1.0, 0)
    assert infer_tick_size([9682.0, 9682.0]) == (1.0, 0)
    with pytest.raises(DataError, match="positive"):
        infer_tick_size([1.0, -1.0])


def test_calibrate_describes_the_sample(sample: TickBatch) -> None:
    params = calibrate(sample)
    assert (params.instrument, params.tick_size, params.price_decimals) == ("BTCUSDT", 0.01, 2)
    assert params.start_price == 9682.0 and params.start_ns == sample.first_ts
    assert params.events == len(sample) - 1
    assert params.stats == SampleStats.of(sample)
    assert params.stats.trades == 9999
    assert params.start_weights.sum() == pytest.approx(1.0)
    # Zero drift: the expected block return under the tilted start weights vanishes.
    assert np.all(params.start_weights > 0)


# Tolerances: absolute for fractions and correlations, relative for rates, sizes, volatility.
ABSOLUTE = {
    "zero_gap_fraction": 0.01,
    "buy_fraction": 0.02,
    "buy_volume_fraction": 0.03,
    "same_side": 0.01,
    "zero_return_fraction": 0.01,
    "return_autocorr": 0.02,
    "log_size_mu": 0.05,
    "log_size_sigma": 0.05,
}
RELATIVE = {
    "trades_per_hour": 0.03,
    "mean_gap_s": 0.03,
    "size_median": 0.05,
    "size_mean": 0.05,
    "return_std": 0.05,
}


@pytest.mark.parametrize("name", sorted(ABSOLUTE))
def test_synthetic_fractions_match_the_sample(
    sample: TickBatch, synth: TickBatch, name: str
) -> None:
    want, got = getattr(SampleStats.of(sample), name), getattr(SampleStats.of(synth), name)
    assert got == pytest.approx(want, abs=ABSOLUTE[name]), name


@pytest.mark.parametrize("name", sorted(RELATIVE))
def test_synthetic_rates_and_sizes_match_the_sample(
    sample: TickBatch, synth: TickBatch, name: str
) -> None:
    want, got = getattr(SampleStats.of(sample), name), getattr(SampleStats.of(synth), name)
    assert got == pytest.approx(want, rel=RELATIVE[name]), name


def test_minute_volatility_matches(sample: TickBatch, synth: TickBatch) -> None:
    """Blocks (mean 200 trades, ~2.5 min) keep the minute-scale volatility within 20 %."""
    assert minute_returns(synth).std() == pytest.approx(minute_returns(sample).std(), rel=0.20)


def test_synthetic_series_is_well_formed(sample: TickBatch, synth: TickBatch) -> None:
    start = sample.first_ts
    assert synth.instrument == "BTCUSDT"
    assert synth.first_ts == start and synth.last_ts < start + 200 * NS_PER_HOUR
    assert synth.last_ts > start + 199 * NS_PER_HOUR
    assert np.all(np.diff(synth.ts_ns) >= 0)
    np.testing.assert_array_equal(synth.trade_id, np.arange(1, len(synth) + 1))
    assert set(np.unique(synth.side)) == {-1, 1}
    assert np.all(np.isin(synth.size, sample.size))  # sizes stay on the sample's lot grid
    cents = synth.price * 100
    np.testing.assert_allclose(cents, np.rint(cents), atol=1e-6)  # on the 0.01 tick grid
    assert synth.price[0] == 9682.0


def test_drift_is_removed_by_default_and_kept_on_request(
    sample: TickBatch, synth: TickBatch
) -> None:
    minutes = minute_returns(synth)
    total = float(np.log(synth.price[-1] / synth.price[0]))
    # A driftless walk ends within 4 sigma of its start.
    assert abs(total) < 4 * minutes.std() * np.sqrt(len(minutes))
    kept = generate(calibrate(sample, keep_drift=True), hours=200, seed=42)
    per_trade = np.diff(np.log(kept.price)).mean()
    sample_drift = SampleStats.of(sample).drift_per_trade
    assert per_trade == pytest.approx(sample_drift, rel=0.5)
    assert abs(SampleStats.of(synth).drift_per_trade) < abs(sample_drift) / 2


def test_same_seed_same_ticks_other_seed_other_ticks(sample: TickBatch) -> None:
    params = calibrate(sample)
    a = generate(params, hours=5, seed=7)
    b = generate(calibrate(sample), hours=5, seed=7)
    for col in ("ts_ns", "price", "size", "side", "trade_id"):
        np.testing.assert_array_equal(getattr(a, col), getattr(b, col))
    c = generate(params, hours=5, seed=8)
    assert len(a) != len(c) or not np.array_equal(a.price, c.price)


def test_instrument_and_start_are_chosen_by_the_caller(sample: TickBatch) -> None:
    start = 1_704_067_200_000_000_000  # 2024-01-01 00:00 UTC
    out = generate(calibrate(sample), hours=1, seed=1, instrument="SYNTH-BTC", start_ns=start)
    assert out.instrument == "SYNTH-BTC"
    assert out.first_ts == start and out.last_ts < start + NS_PER_HOUR


def test_other_market_regime_xrp_eth() -> None:
    """A thin spot pair with an 8-decimal tick: 59 h sample, one trade every 17 s."""
    sample = load(FT_JSON).batches["XRPETH"]
    params = calibrate(sample)
    assert (params.tick_size, params.price_decimals) == (1e-08, 8)
    out = generate(params, hours=500, seed=3)
    want, got = SampleStats.of(sample), SampleStats.of(out)
    assert got.trades_per_hour == pytest.approx(want.trades_per_hour, rel=0.05)
    assert got.same_side == pytest.approx(want.same_side, abs=0.02)
    assert got.return_std == pytest.approx(want.return_std, rel=0.10)
    assert got.zero_return_fraction == pytest.approx(want.zero_return_fraction, abs=0.02)
    units = out.price * 1e8
    np.testing.assert_allclose(units, np.rint(units), atol=1e-4)


def test_sample_too_small_or_bad_hours(sample: TickBatch) -> None:
    with pytest.raises(DataError, match="at least 100 trades, got 50"):
        calibrate(sample.slice(0, 50))
    with pytest.raises(ValueError, match="hours must be positive"):
        generate(calibrate(sample), hours=0, seed=1)


@pytest.mark.slow
def test_ten_million_ticks_at_the_calibrated_rate(sample: TickBatch) -> None:
    # The speed of this is a benchmark (bench/bench_synth.py), never a timed test.
    params = calibrate(sample)
    hours = 10_000_000 / SampleStats.of(sample).trades_per_hour
    out = generate(params, hours=hours, seed=1)
    assert len(out) == pytest.approx(10_000_000, rel=0.02)
