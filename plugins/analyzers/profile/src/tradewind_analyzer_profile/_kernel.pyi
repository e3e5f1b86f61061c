from collections.abc import Callable
from types import NotImplementedType

import numpy as np
import numpy.typing as npt

def value_area(
    volume: dict[int, int], num: int, den: int, /
) -> tuple[int, int, int, int, int] | NotImplementedType | None: ...
def apply_ranges(
    volume: dict[int, int],
    bins: npt.NDArray[np.int64],
    qty: npt.NDArray[np.int64],
    s0: int,
    s1: int,
    a0: int,
    a1: int,
    /,
) -> int: ...
def dense_add(
    dense: npt.NDArray[np.int64],
    base: int,
    bins: npt.NDArray[np.int64] | list[int],
    qty: npt.NDArray[np.int64] | list[int],
    sign: int,
    /,
) -> int | tuple[int, int]: ...
def dense_levels(
    dense: npt.NDArray[np.int64], base: int, num: int, den: int, /
) -> tuple[int, int, int, int, int] | NotImplementedType | None: ...
def dense_poc(dense: npt.NDArray[np.int64], base: int, /) -> int | None: ...
def zone_gap_rows(
    ends: npt.NDArray[np.int64],
    cand_i: npt.NDArray[np.int64],
    cand_f: npt.NDArray[np.float64],
    ts: npt.NDArray[np.int64],
    price: npt.NDArray[np.float64],
    nows: npt.NDArray[np.int64],
    now0: int,
    sum: Callable[[list[float]], float],
    si: npt.NDArray[np.int64],
    sf: npt.NDArray[np.float64],
    pi: npt.NDArray[np.int64],
    pf: npt.NDArray[np.float64],
    zi: npt.NDArray[np.int64],
    zf: npt.NDArray[np.float64],
    gi: npt.NDArray[np.int64],
    gf: npt.NDArray[np.float64],
    ring: npt.NDArray[np.float64],
    out: npt.NDArray[np.float64],
    /,
) -> tuple[int, ...]: ...
def dense_rows(
    dense: npt.NDArray[np.int64],
    base: int,
    bins: npt.NDArray[np.int64],
    qty: npt.NDArray[np.int64],
    ranges: npt.NDArray[np.int64],
    num: int,
    den: int,
    out: npt.NDArray[np.int64],
    extent: tuple[int, int, int] | None = None,
    /,
) -> tuple[int, int] | NotImplementedType | None: ...
def bin_trades(
    ts: npt.NDArray[np.int64],
    price: npt.NDArray[np.float64],
    size: npt.NDArray[np.float64],
    tick: float,
    bin_ticks: int,
    quantum: float,
    cutoffs: npt.NDArray[np.int64],
    bins: npt.NDArray[np.int64],
    qty: npt.NDArray[np.int64],
    first: npt.NDArray[np.int64],
    /,
) -> tuple[int, int, int] | NotImplementedType: ...
