"""Price samples on trade time, and the run of adverse moves ending at each sample.

The seed checks a position every 2 s and counts how many consecutive price changes went against
it (section 2.6.2). A live timer reads the wall clock, which a backtest does not have; sampling
on the trades' own timestamps gives backtest and live the same samples from the same tape,
however the tape is cut into batches.

Definitions (``I`` = the interval, ``t0`` = the position's open time):

* grid instants ``t_k = t0 + k·I``; bucket ``k`` is ``[t_k, t_{k+1})``;
* sample 0 is the entry price; sample ``k ≥ 1`` is the price of the **first trade in bucket
  k**, taken at that trade (so the check never waits for, or looks at, a later trade);
* a bucket with no trade repeats the previous sample (the price did not move), as a live timer
  in a silent market would read an unchanged price;
* a **move** is the change from one sample to the next; it is **adverse** when it goes against
  the position (down for a long, up for a short); an unchanged price is not adverse;
* the **run** at sample ``k`` is the number of consecutive adverse moves ending at ``k``, so a
  non-adverse move, or a silent bucket, ends it.

:func:`scan` computes the new samples of a batch and their runs in a few numpy passes; the
runs are a difference of indices against a running maximum of "reset" positions.
"""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt


@attrs.define
class SampleState:
    """Where the sampling of one position stands after the trades seen so far."""

    #: The grid's origin: the position's open time (ns).
    anchor_ns: int
    #: Bucket index of the last sample (0 = the entry).
    bucket: int
    #: Price of the last sample.
    price: float
    #: Adverse moves ending at the last sample (not capped by the window).
    run: int = 0


@attrs.frozen(kw_only=True, eq=False)
class Samples:
    """The samples one batch adds, in time order."""

    #: Row in the batch of each sample's trade.
    row: npt.NDArray[np.intp]
    #: Bucket index of each sample.
    bucket: npt.NDArray[np.int64]
    #: Sample price.
    price: npt.NDArray[np.float64]
    #: Consecutive adverse moves ending at each sample (not capped by the window).
    run: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.row)


def scan(
    ts_ns: npt.NDArray[np.int64],
    price: npt.NDArray[np.float64],
    state: SampleState,
    interval_ns: int,
    direction: int,
) -> Samples:
    """The samples in a batch of trades (``ts_ns`` sorted) after ``state``.

    ``direction`` is +1 for a long (falling prices are adverse), -1 for a short. Trades before
    the anchor are ignored. ``state`` is not changed; see :func:`advance`.
    """
    # A scan of the tape ahead of a held position runs at every hold window (~1,000 per
    # 2 M trades): few numpy calls, each on the same values as the definition's.
    start = int(ts_ns.searchsorted(state.anchor_ns, side="left"))
    buckets = (ts_ns[start:] - state.anchor_ns) // interval_ns
    n = len(buckets)
    if n == 0 or buckets[-1] <= state.bucket:
        return _none()
    # A trade is a sample when its bucket is past the one before it (the state's for the
    # first).
    new = np.empty(n, dtype=np.bool_)
    new[0] = buckets[0] > state.bucket
    np.greater(buckets[1:], buckets[:-1], out=new[1:])
    first_of_bucket = new.nonzero()[0]
    s_bucket = buckets[first_of_bucket]
    s_price = price[start:][first_of_bucket]
    m = len(s_bucket)
    # The move into each sample (from the state's sample for the first): only its sign is
    # read, and the silent buckets before it.
    change = np.empty(m, dtype=np.float64)
    change[0] = s_price[0] - state.price
    np.subtract(s_price[1:], s_price[:-1], out=change[1:])
    adverse = change < 0 if direction > 0 else change > 0
    silent = np.empty(m, dtype=np.bool_)
    silent[0] = s_bucket[0] - state.bucket > 1
    np.greater(s_bucket[1:] - s_bucket[:-1], 1, out=silent[1:])
    k = np.arange(m, dtype=np.int64)
    # run[k] = k - (position of the last reset at or before k). A non-adverse move resets at k
    # (run 0); an adverse move after a silent bucket resets just before k (run 1); with no reset
    # yet the run continues the carried one: a virtual reset at -1 - carry.
    reset = k - (adverse & silent)
    reset[adverse > silent] = -1 - state.run  # adverse, not after a silent bucket
    run = k - np.maximum.accumulate(reset)
    return Samples(row=start + first_of_bucket, bucket=s_bucket, price=s_price, run=run)


def advance(state: SampleState, samples: Samples, upto: int | None = None) -> None:
    """Move ``state`` to the last of ``samples`` (or to sample ``upto``, inclusive)."""
    if len(samples) == 0:
        return
    i = len(samples) - 1 if upto is None else upto
    state.bucket = int(samples.bucket[i])
    state.price = float(samples.price[i])
    state.run = int(samples.run[i])


def _none() -> Samples:
    return Samples(
        row=np.empty(0, dtype=np.intp),
        bucket=np.empty(0, dtype=np.int64),
        price=np.empty(0, dtype=np.float64),
        run=np.empty(0, dtype=np.int64),
    )
