"""The profile analyzer's block as a table: every output at every row of a block, computed
ahead by the compiled kernel (see :meth:`ProfileAnalyzer.on_block`).

- The market profile: :class:`BlockWindow` moves the window close by close (one kernel call,
  ``dense_rows``, for the closes after the trades from before the block have left), giving
  each close's POC and value area as bins; their prices are the per-candle path's Decimal
  conversions, done once per distinct bin, or as one float division where that is the same
  correctly rounded number (:func:`scaled`).
- Zones, gaps and the last price: ``_kernel.zone_gap_rows`` runs :class:`ZoneBook`,
  :class:`GapBook` and the last-price rule over the block's trades and candles row by row
  (the same float operations in the same order as zones.py and fvg.py) and writes each
  row's nearest zones and gaps; the books' state goes in before and comes back after.
  The rows are read as arrays (:class:`RowArrays`: a :class:`~tradewind.blocks.BlockRows`'
  own arrays, no row or candle objects made but the gap book's last three candles).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from decimal import Decimal
from itertools import count
from typing import TYPE_CHECKING

import attrs
import numpy as np
import numpy.typing as npt
from tradewind.blocks import BlockRows

from tradewind_analyzer_profile import _kernel
from tradewind_analyzer_profile.fvg import Gap, GapBook
from tradewind_analyzer_profile.zones import Zone, ZoneBook, ZoneKind

if TYPE_CHECKING:
    from tradewind.blocks import BlockRow
    from tradewind.model import Candle

#: NaN as the one object ``values()`` and the table's columns hold (``math.nan``).
NAN = math.nan

#: The candle fields the zone and gap books read, in the kernel's order.
_CANDLE_FLOATS = ("open", "high", "low", "close", "volume")

#: The outputs the kernel's zone_gap_rows writes, in its column order.
ZONE_GAP_KEYS: tuple[str, ...] = (
    "demand_low",
    "demand_high",
    "demand_strength",
    "demand_distance_pct",
    "supply_low",
    "supply_high",
    "supply_strength",
    "supply_distance_pct",
    "fvg_bull_low",
    "fvg_bull_high",
    "fvg_bull_fill",
    "fvg_bear_low",
    "fvg_bear_high",
    "fvg_bear_fill",
)

_EXACT = 1 << 53


def scaled(
    ints: npt.NDArray[np.int64], unit: Decimal, half: bool = False
) -> npt.NDArray[np.float64]:
    """``float(Decimal(i) * unit)`` (``/ 2`` too with ``half``) for every ``i``: the per-candle
    path's conversion of bins and volumes to prices and sizes.

    With ``unit = m * 10**-e``, that is the correctly rounded value of ``i * m / 10**e``
    (``float(Decimal)`` rounds correctly; the Decimal product is exact); when ``i * m`` and
    the denominator are exact doubles one IEEE division gives that same number. Otherwise
    the Decimals themselves, once per distinct value."""
    if len(ints) == 0:
        return np.empty(0, dtype=np.float64)
    sign, digits, exp = unit.as_tuple()
    if isinstance(exp, int) and unit.is_finite():
        m = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
        if exp >= 0:
            m, den = m * 10**exp, 1
        else:
            den = 10**-exp
        if half:
            den *= 2
        top = max(abs(int(ints.min())), abs(int(ints.max()))) * abs(m)
        if top < _EXACT and den < 2**70 and float(den) == den:
            return (ints * m).astype(np.float64) / float(den)
    values, inverse = np.unique(ints, return_inverse=True)
    two = Decimal(2)
    conv = np.array(
        [
            float(Decimal(v) * unit / two) if half else float(Decimal(v) * unit)
            for v in values.tolist()
        ],
        dtype=np.float64,
    )
    return conv[inverse.reshape(-1)]


def level_columns(
    levels: npt.NDArray[np.int64],
    bin_ticks: int,
    tick_size: Decimal,
    quantum: Decimal,
) -> dict[str, npt.NDArray[np.float64]]:
    """``poc``, ``vah``, ``val``, ``profile_volume`` at each row from the levels in bins
    (:meth:`BlockWindow.run`'s rows: has volume, poc, val, vah, total, value-area total),
    what :meth:`VolumeProfile.levels` reports (NaN where the window holds no volume)."""
    n = len(levels)
    has = levels[:, 0] == 1
    grid = levels[has, 1:6]
    k = bin_ticks
    out: dict[str, npt.NDArray[np.float64]] = {}
    parts = (
        ("poc", 2 * grid[:, 0] * k + (k - 1), tick_size, True),
        ("vah", grid[:, 2] * k + (k - 1), tick_size, False),
        ("val", grid[:, 1] * k, tick_size, False),
        ("profile_volume", grid[:, 3], quantum, False),
    )
    for key, ints, unit, half in parts:
        column = np.full(n, NAN, dtype=np.float64)
        column[has] = scaled(ints, unit, half)
        out[key] = column
    return out


@attrs.frozen
class RowArrays:
    """A block's rows as the kernel reads them: ``ends`` (each row's ``tick_end``), ``closes``
    (its close time), ``cand_i`` (int64, candles x 3: row, timeframe, open time) and
    ``cand_f`` (float64, candles x 5: open, high, low, close, volume), the candles in the
    rows' order; ``candle(k)`` gives candle ``k`` as the rows' own :class:`Candle` object."""

    ends: npt.NDArray[np.int64]
    closes: npt.NDArray[np.int64]
    cand_i: npt.NDArray[np.int64]
    cand_f: npt.NDArray[np.float64]
    candle: Callable[[int], Candle]

    @classmethod
    def of(cls, rows: Sequence[BlockRow]) -> RowArrays:
        """A :class:`BlockRows`' arrays as they are; any other sequence of rows read once."""
        if isinstance(rows, BlockRows):
            return cls._of_block_rows(rows)
        flat = [c for row in rows for c in row.candles]
        counts = [len(row.candles) for row in rows]
        cand_i = np.empty((len(flat), 3), dtype=np.int64)
        cand_f = np.empty((len(flat), 5), dtype=np.float64)
        if flat:
            cand_i[:, 0] = np.repeat(np.arange(len(rows), dtype=np.int64), counts)
            cand_i[:, 1] = [c.timeframe_ns for c in flat]
            cand_i[:, 2] = [c.open_ts_ns for c in flat]
            for j, key in enumerate(_CANDLE_FLOATS):
                cand_f[:, j] = [getattr(c, key) for c in flat]
        n = len(rows)
        return cls(
            ends=np.fromiter((r.tick_end for r in rows), dtype=np.int64, count=n),
            closes=np.fromiter((r.close_ns for r in rows), dtype=np.int64, count=n),
            cand_i=cand_i,
            cand_f=cand_f,
            candle=flat.__getitem__,
        )

    @classmethod
    def _of_block_rows(cls, rows: BlockRows) -> RowArrays:
        candles = rows.candles
        n_c = len(candles)
        cand_i = np.empty((n_c, 3), dtype=np.int64)
        cand_i[:, 0] = rows.candle_row
        cand_i[:, 1] = rows.candle_tf
        cand_i[:, 2] = candles["open_ts_ns"]
        cand_f = np.empty((n_c, 5), dtype=np.float64)
        for j, key in enumerate(_CANDLE_FLOATS):
            cand_f[:, j] = candles[key]
        offsets, rows_of = rows.offsets, rows.candle_row

        def candle(k: int) -> Candle:
            r = int(rows_of[k])
            return rows[r].candles[k - int(offsets[r])]

        return cls(
            ends=np.asarray(rows.tick_end, dtype=np.int64),
            closes=np.asarray(rows.close_ns, dtype=np.int64),
            cand_i=cand_i,
            cand_f=cand_f,
            candle=candle,
        )


def zone_gap_columns(
    zones: ZoneBook,
    gaps: GapBook,
    price: tuple[float, int],
    ticks_ts: npt.NDArray[np.int64],
    ticks_price: npt.NDArray[np.float64],
    rows: RowArrays,
    nows: npt.NDArray[np.int64],
    now0: int,
) -> tuple[npt.NDArray[np.float64], tuple[float, int]]:
    """The zone and gap outputs at each row (columns of :data:`ZONE_GAP_KEYS`), the books
    advanced over the block's rows as the per-candle path advances them, and the last price
    (price, its time) after the last row."""
    n = len(rows.ends)
    period = zones.volume_period
    cap_z = zones.max_zones + 2
    cap_g = len(gaps.gaps) + n + 1  # at most one gap per gap-timeframe candle, one per row
    zi = np.zeros((cap_z, 5), dtype=np.int64)
    zf = np.zeros((cap_z, 3), dtype=np.float64)
    for j, z in enumerate(zones.zones):
        zi[j] = (z.kind is ZoneKind.SUPPLY, z.created_ts_ns, z.tests, z.in_contact, z.seq)
        zf[j] = (z.low, z.high, z.volume_ratio)
    gi = np.zeros((cap_g, 3), dtype=np.int64)
    gf = np.zeros((cap_g, 3), dtype=np.float64)
    for j, g in enumerate(gaps.gaps):
        gi[j] = (g.bullish, g.created_ts_ns, g.seq)
        gf[j] = (g.bottom, g.top, g.extreme)
    ring = np.zeros(period, dtype=np.float64)
    vols = list(zones._volumes)
    ring[: len(vols)] = vols
    last3 = list(gaps._last3)
    si = np.zeros(12, dtype=np.int64)
    sf = np.zeros(8, dtype=np.float64)
    si[:9] = (
        len(zones.zones),
        len(gaps.gaps),
        len(vols),
        0,
        zones._updates,
        next(zones._seq),
        next(gaps._seq),
        price[1],
        len(last3),
    )
    sf[0], sf[1] = price[0], zones._volume_sum
    for j, c in enumerate(last3):
        si[9 + j] = c.close_ts_ns
        sf[2 + j], sf[5 + j] = c.high, c.low
    pi = np.array(
        (
            zones.timeframe_ns,
            gaps.timeframe_ns,
            gaps.max_age_ns,
            period,
            zones.max_zones,
            zones.strength.tested_max,
        ),
        dtype=np.int64,
    )
    rule = zones.strength
    pf = np.array(
        (
            zones.volume_factor,
            zones.wick_ratio,
            rule.fresh,
            rule.tested,
            rule.weak,
            gaps.min_gap_pct,
        ),
        dtype=np.float64,
    )
    out = np.empty((n, len(ZONE_GAP_KEYS)), dtype=np.float64)
    mine = _kernel.zone_gap_rows(
        rows.ends,
        rows.cand_i,
        rows.cand_f,
        np.ascontiguousarray(ticks_ts, dtype=np.int64),
        np.ascontiguousarray(ticks_price, dtype=np.float64),
        np.asarray(nows, dtype=np.int64),
        now0,
        sum,
        si,
        sf,
        pi,
        pf,
        zi,
        zf,
        gi,
        gf,
        ring,
        out,
    )
    # The state back into the books (Python objects, as the per-candle path keeps them).
    nz, ng, rlen, rhead, updates, zseq, gseq, price_ts = (int(x) for x in si[:8])
    demand, supply = ZoneKind.DEMAND, ZoneKind.SUPPLY
    zones.zones = [
        Zone(
            kind=supply if row_i[0] else demand,
            low=row_f[0],
            high=row_f[1],
            created_ts_ns=row_i[1],
            volume_ratio=row_f[2],
            tests=row_i[2],
            in_contact=bool(row_i[3]),
            seq=row_i[4],
        )
        for row_i, row_f in zip(zi[:nz].tolist(), zf[:nz].tolist(), strict=True)
    ]
    zones._volumes = deque(ring[(np.arange(rlen) + rhead) % period].tolist())
    zones._volume_sum = float(sf[1])
    zones._updates = updates
    zones._seq = count(zseq)
    gaps.gaps = [
        Gap(
            bullish=bool(row_i[0]),
            bottom=row_f[0],
            top=row_f[1],
            created_ts_ns=row_i[1],
            extreme=row_f[2],
            seq=row_i[2],
        )
        for row_i, row_f in zip(gi[:ng].tolist(), gf[:ng].tolist(), strict=True)
    ]
    gaps._seq = count(gseq)
    gaps._last3.extend(rows.candle(k) for k in mine)
    return out, (float(sf[0]), price_ts)
