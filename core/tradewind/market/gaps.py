"""Data gaps: holes in an instrument's tape longer than ``[run] max_gap``.

A backtest must not trade across a hole in its data as if the market had been watched: a stop
that the price crossed during the hole was never checked there. The engine finds gaps with
:func:`gap_starts`, journals each as a :class:`~tradewind.model.DataGap` and applies
``[run] gap_policy`` to the instrument's open position (see docs/data.md):

- ``hold``: keep it; exits are evaluated on the first trade after the gap, and an exit that
  triggers there (a stop the price jumped across) fills at that trade's price.
- ``flatten``: close it before the gap, at the last price before the gap.
- ``halt``: stop the run at the first gap; open positions stay open, marked at the last price.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

#: ``[run] gap_policy`` values.
GAP_POLICIES: tuple[str, ...] = ("hold", "flatten", "halt")

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_NS = {"s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9, "d": 86400 * 10**9}


def parse_duration(text: str) -> int:
    """Nanoseconds in a duration like ``90s``, ``45m``, ``2h`` or ``3d`` (positive)."""
    m = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"'{text}' is not a positive duration (use e.g. 90s, 45m, 2h, 3d)")
    return int(m.group(1)) * _UNIT_NS[m.group(2)]


#: The default ``max_gap`` in candles of the longest configured timeframe.
DEFAULT_GAP_CANDLES = 3


def default_max_gap(timeframes_ns: Sequence[int]) -> int:
    """The default ``max_gap``: three candles of the longest configured timeframe (45 minutes
    for 1m/5m/15m) — quiet spells of a thin market pass, a hole in the data does not."""
    return DEFAULT_GAP_CANDLES * max(timeframes_ns)


def gap_starts(ts: npt.NDArray[np.int64], prev_ts: int | None, max_gap: int) -> list[int]:
    """Indices ``i`` of ``ts`` whose trade follows a hole longer than ``max_gap``.

    ``prev_ts`` is the instrument's last trade before ``ts`` (None: none yet). Index 0 counts
    when the hole is between ``prev_ts`` and ``ts[0]``.
    """
    n = len(ts)
    if n == 0:
        return []
    out: list[int] = []
    # ``item``: the Python int of an int64 (``int(ts[0])``'s value, no numpy scalar made).
    if prev_ts is not None and ts.item(0) - prev_ts > max_gap:
        out.append(0)
    # A batch shorter than max_gap cannot hold a gap: skip the scan (the common case).
    if n > 1 and ts.item(-1) - ts.item(0) > max_gap:
        out.extend((np.flatnonzero(np.diff(ts) > max_gap) + 1).tolist())
    return out
