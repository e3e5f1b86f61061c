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
