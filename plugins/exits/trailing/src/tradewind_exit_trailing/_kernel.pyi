import numpy as np
import numpy.typing as npt

def first(
    prices: npt.NDArray[np.float64], best: float, long: bool, k: float, check: bool, /
) -> tuple[int, float] | None: ...
