import numpy as np
import numpy.typing as npt

N_SCALARS: int
N_OUT: int

def step(
    mem: npt.NDArray[np.float64],
    open_: float,
    high: float,
    low: float,
    close: float,
    volume: float,
    /,
) -> int: ...
def finish(mem: npt.NDArray[np.float64], /) -> None: ...
def todict(
    buf: npt.NDArray[np.float64], offset: int, keys: tuple[str, ...], nan: float, /
) -> dict[str, float]: ...
