import numpy as np
import numpy.typing as npt

def first(
    ts: npt.NDArray[np.int64],
    prices: npt.NDArray[np.float64],
    anchor: int,
    interval: int,
    bucket: int,
    price: float,
    run: int,
    long: bool,
    max_moves: int,
    least: int,
    bounds: npt.NDArray[np.float64],
    moves: npt.NDArray[np.int64],
    check: bool,
    /,
) -> tuple[int, int, int, int, float, int] | None: ...
