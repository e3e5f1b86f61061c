"""Synthetic trade ticks calibrated on a real sample, for volume (benchmarks, long backtests).

:func:`calibrate` turns a recorded :class:`TickBatch` into :class:`SynthParams`;
:func:`generate` draws any number of hours of ticks from them, deterministically per seed.

The model is a stationary block bootstrap (Politis & Romano 1994) of the sample's trade
*events*: each event is one trade's (gap since the previous trade, log-return since the
previous trade's price, size, aggressor side). Whole runs of consecutive events are copied,
with random start points and geometrically distributed lengths (mean ``mean_block`` events),
so the series keeps what a per-column bootstrap would lose: bursts of same-side fills
arriving within the same millisecond, the bid-ask bounce between aggressor sides, the link
between size, side and price impact, and clustering of activity. Prices are rebuilt as
``start_price * exp(cumsum(log-returns))`` and rounded to the tick size inferred from the
sample; sizes are the sample's own (so they stay on its lot grid).

Drift: the block start points are exponentially tilted (the least change to uniform
weights, in relative entropy) so that the expected log-return of a block is zero. A 2-hour
sample that fell 0.2 % does not become a 200-hour series that falls 20 %. Pass
``keep_drift=True`` to keep the sample's trend.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq
from scipy.signal import lfilter

from tradewind.errors import DataError
from tradewind.model.ticks import BUY, TickBatch

NS_PER_HOUR = 3_600_000_000_000
_MAX_DECIMALS = 12


@attrs.frozen(kw_only=True)
class SampleStats:
    """Summary statistics of a tick series; used to describe a sample and to check a synth.

    Returns are natural-log returns between consecutive trades; ``same_side`` is the
    probability that a trade has the aggressor side of the trade before it (persistence).
    """

    trades: int
    span_s: float
    trades_per_hour: float
    mean_gap_s: float
    zero_gap_fraction: float
    buy_fraction: float
    buy_volume_fraction: float
    same_side: float
    size_median: float
    size_mean: float
    log_size_mu: float
    log_size_sigma: float
    return_std: float
    zero_return_fraction: float
    return_autocorr: float
    drift_per_trade: float

    @classmethod
    def of(cls, batch: TickBatch) -> SampleStats:
        """The statistics of ``batch`` (needs at least 3 trades)."""
        n = len(batch)
        if n < 3:
            raise DataError(f"{batch.instrument}: need at least 3 trades for statistics, got {n}")
        ts, price, size, side = batch.ts_ns, batch.price, batch.size, batch.side
        gaps = np.diff(ts)
        r = np.diff(np.log(price))
        log_size = np.log(size)
        span = (int(ts[-1]) - int(ts[0])) / 1e9
        buy = side == BUY
        with np.errstate(invalid="ignore", divide="ignore"):
            ac = np.corrcoef(r[1:], r[:-1])[0, 1] if len(r) > 2 else 0.0
        return cls(
            trades=n,
            span_s=span,
            trades_per_hour=n / span * 3600 if span > 0 else math.inf,
            mean_gap_s=float(gaps.mean()) / 1e9,
            zero_gap_fraction=float(np.mean(gaps == 0)),
            buy_fraction=float(buy.mean()),
            buy_volume_fraction=float(size[buy].sum() / size.sum()),
            same_side=float(np.mean(side[1:] == side[:-1])),
            size_median=float(np.median(size)),
            size_mean=float(size.mean()),
            log_size_mu=float(log_size.mean()),
            log_size_sigma=float(log_size.std()),
            return_std=float(r.std()),
            zero_return_fraction=float(np.mean(r == 0)),
            return_autocorr=float(0.0 if not np.isfinite(ac) else ac),
            drift_per_trade=float(r.mean()),
        )


@attrs.frozen(kw_only=True, eq=False)
class SynthParams:
    """Everything :func:`generate` needs: the sample's events and how to resample them.

    Event ``i`` describes sample trade ``i + 1`` relative to trade ``i``. ``start_weights``
    are the probabilities of starting a block at each event (tilted for zero drift unless
    calibrated with ``keep_drift``). ``stats`` describes the sample.
    """

    instrument: str
    start_price: float
    start_ns: int
    tick_size: float
    price_decimals: int
    mean_block: float
    gap_ns: npt.NDArray[np.int64]
    log_return: npt.NDArray[np.float64]
    size: npt.NDArray[np.float64]
    side: npt.NDArray[np.int8]
    start_weights: npt.NDArray[np.float64]
    stats: SampleStats

    @property
    def events(self) -> int:
        """Number of events (sample trades minus one)."""
        return len(self.gap_ns)


def infer_tick_size(prices: npt.ArrayLike) -> tuple[float, int]:
    """The tick size of a price series and its number of decimals.

    The fewest decimals that write every price exactly, then the greatest common divisor of
    the price differences on that grid (so a 0.5 tick is found as 0.5, not 0.1).
    """
    p = np.unique(np.asarray(prices, dtype=np.float64))
    if len(p) == 0 or not np.all(np.isfinite(p)) or p[0] <= 0:
        raise DataError("cannot infer a tick size: prices must be positive and finite")
    for d in range(_MAX_DECIMALS + 1):
        scaled = p * 10.0**d
        if scaled[-1] >= 2.0**52:
            break
        ints = np.rint(scaled)
        # A price written with d decimals is within a few ulps of an integer once scaled.
        if np.all(np.abs(scaled - ints) <= 1e-6 + np.abs(scaled) * 1e-15):
            steps = np.diff(ints.astype(np.int64))
            g = int(np.gcd.reduce(steps)) if len(steps) else 1
            return round(max(g, 1) * 10.0**-d, d), d
    raise DataError(f"cannot infer a tick size: prices need more than {_MAX_DECIMALS} decimals")


def _block_sums(r: npt.NDArray[np.float64], stay: float) -> npt.NDArray[np.float64]:
    """Expected log-return of a block starting at each event (circular, geometric lengths).

    ``g[j] = sum_m stay**m * r[(j + m) % n]``: a block continues past each event with
    probability ``stay``.
    """
    n = len(r)
    doubled = np.concatenate([r, r])
    # lfilter on the reversed series computes y[k] = x[k] + stay * y[k-1].
    g = lfilter([1.0], [1.0, -stay], doubled[::-1])[::-1]
    return np.asarray(g[:n], dtype=np.float64)


def _tilt(g: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Weights ``w ~ exp(theta * g)`` with ``sum(w * g) == 0``; uniform if impossible."""
    n = len(g)
    uniform = np.full(n, 1.0 / n)
    scale = float(np.abs(g).max())
    if scale == 0.0 or g.min() >= 0 or g.max() <= 0:
        return uniform
    z = g / scale

    def weighted_mean(theta: float) -> float:
        e = np.exp(theta * z - np.max(theta * z))
        return float(np.dot(e, z) / e.sum())

    lo, hi = -1.0, 1.0
    while weighted_mean(lo) > 0:
        lo *= 2
        if lo < -1e6:
            return uniform
    while weighted_mean(hi) < 0:
        hi *= 2
        if hi > 1e6:
            return uniform
    theta = brentq(weighted_mean, lo, hi, xtol=1e-12)
    w = np.exp(theta * z - np.max(theta * z))
    return np.asarray(w / w.sum(), dtype=np.float64)


def calibrate(
    batch: TickBatch,
    *,
    mean_block: float = 200.0,
    keep_drift: bool = False,
) -> SynthParams:
    """Fit :class:`SynthParams` to a real tick sample.

    :param batch: the sample, sorted by time; at least 100 trades with positive prices/sizes.
    :param mean_block: mean number of consecutive sample events copied per block; longer
        blocks keep more of the short-range structure, shorter ones mix more.
    :param keep_drift: keep the sample's trend instead of tilting it to zero.
    """
    n = len(batch)
    if n < 100:
        raise DataError(f"{batch.instrument}: a synth sample needs at least 100 trades, got {n}")
    if mean_block < 1:
        raise ValueError(f"mean_block must be at least 1, got {mean_block}")
    if np.any(np.diff(batch.ts_ns) < 0):
        raise DataError(f"{batch.instrument}: the synth sample is not sorted by time")
    if np.any(batch.price <= 0) or np.any(batch.size <= 0):
        raise DataError(f"{batch.instrument}: the synth sample has non-positive prices or sizes")
    tick, decimals = infer_tick_size(batch.price)
    r = np.diff(np.log(batch.price))
    events = n - 1
    block = min(float(mean_block), float(events))
    if keep_drift:
        weights = np.full(events, 1.0 / events)
    else:
        weights = _tilt(_block_sums(r, 1.0 - 1.0 / block))
    return SynthParams(
        instrument=batch.instrument,
        start_price=float(batch.price[0]),
        start_ns=int(batch.ts_ns[0]),
        tick_size=tick,
        price_decimals=decimals,
        mean_block=block,
        gap_ns=np.diff(batch.ts_ns).astype(np.int64),
        log_return=r,
        size=np.array(batch.size[1:], dtype=np.float64),
        side=np.array(batch.side[1:], dtype=np.int8),
        start_weights=weights,
        stats=SampleStats.of(batch),
    )


def _event_index(
    params: SynthParams,
    count: int,
    rng: np.random.Generator,
) -> npt.NDArray[np.int64]:
    """``count`` event indices drawn by the stationary block bootstrap."""
    n = params.events
    p = 1.0 / params.mean_block
    pieces: list[npt.NDArray[np.int64]] = []
    have = 0
    cdf = np.cumsum(params.start_weights)
    cdf /= cdf[-1]
    while have < count:
        k = int((count - have) * p * 1.1) + 16
        lengths = rng.geometric(p, size=k).astype(np.int64)
        starts = np.searchsorted(cdf, rng.random(k), side="right").astype(np.int64)
        starts = np.minimum(starts, n - 1)
        total = int(lengths.sum())
        block_start = np.repeat(np.cumsum(lengths) - lengths, lengths)
        offsets = np.arange(total, dtype=np.int64) - block_start
        pieces.append((np.repeat(starts, lengths) + offsets) % n)
        have += total
    return np.concatenate(pieces)[:count]


def generate(
    params: SynthParams,
    hours: float,
    seed: int,
    instrument: str | None = None,
    start_ns: int | None = None,
) -> TickBatch:
    """Generate ``hours`` of synthetic trades; the same arguments give the same ticks.

    :param params: from :func:`calibrate`.
    :param hours: the span to cover; trades are generated until ``start_ns + hours``.
    :param seed: seeds numpy's PCG64 generator.
    :param instrument: the batch's instrument (default: the sample's).
    :param start_ns: time of the first trade (default: the sample's first trade).
    :returns: a batch sorted by time, prices on the sample's tick grid, ids from 1.
    """
    if not hours > 0 or not math.isfinite(hours):
        raise ValueError(f"hours must be positive and finite, got {hours}")
    start = params.start_ns if start_ns is None else int(start_ns)
    end = start + round(hours * NS_PER_HOUR)
    rng = np.random.Generator(np.random.PCG64(seed))
    mean_gap = max(float(params.gap_ns.mean()), 1.0)
    # Draw a few percent more events than the mean gap predicts, and more if still short.
    want = int((end - start) / mean_gap * 1.05) + 1000
    idx = _event_index(params, want, rng)
    gaps = params.gap_ns[idx]
    gaps[0] = 0
    ts = start + np.cumsum(gaps)
    while ts[-1] < end:
        more = _event_index(params, max(want // 10, 1000), rng)
        idx = np.concatenate([idx, more])
        ts = np.concatenate([ts, ts[-1] + np.cumsum(params.gap_ns[more])])
    count = int(np.searchsorted(ts, end, side="left"))
    idx, ts = idx[:count], ts[:count]

    log_ret = params.log_return[idx]
    log_ret[0] = 0.0
    raw = params.start_price * np.exp(np.cumsum(log_ret))
    ticks = np.maximum(np.rint(raw / params.tick_size), 1.0)
    price = np.round(ticks * params.tick_size, params.price_decimals)
    return TickBatch.from_arrays(
        instrument or params.instrument,
        ts,
        price,
        params.size[idx],
        params.side[idx],
        np.arange(1, count + 1, dtype=np.int64),
    )
