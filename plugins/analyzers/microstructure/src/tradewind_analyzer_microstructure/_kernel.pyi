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
def run(
    mem: npt.NDArray[np.float64],
    open_: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    volume: npt.NDArray[np.float64],
    out: npt.NDArray[np.float64],
    start: int,
    resume: bool,
    /,
) -> int: ...
def todict(
    buf: npt.NDArray[np.float64], offset: int, keys: tuple[str, ...], nan: float, /
) -> dict[str, float]: ...
