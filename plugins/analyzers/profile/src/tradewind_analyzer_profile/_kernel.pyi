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
