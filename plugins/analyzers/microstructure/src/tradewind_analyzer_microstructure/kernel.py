"""The microstructure analyzer's state and its compiled per-candle kernel (``_kernel.c``).

:class:`MicroKernel` keeps the rolling windows and the last candle's measures in one float64
array and folds a candle in with the C kernel, which performs the same floating-point
operations in the same order as :func:`~tradewind_analyzer_microstructure.shape.candle_shape`
and the classes of :mod:`tradewind_analyzer_microstructure.rolling`; the tests compare every
output bit for bit. The exact recomputations of the rolling state (``math.fsum`` over the
window, every ``n`` updates or when a sum of squares collapses) run here, in Python, as the
rolling classes do them: the kernel flags them and :meth:`MicroKernel.step` runs them before
the kernel finishes the candle.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

try:
    from tradewind_analyzer_microstructure import _kernel
except ImportError as exc:  # pragma: no cover - an environment installed before the kernel
    raise ImportError(
        "tradewind_analyzer_microstructure: its compiled kernel (_kernel.c) is not built in this "
        "environment; reinstall the plugin (pip install -e plugins/analyzers/microstructure, or "
        "tox -r for a tox env made before the kernel existed); it needs a C compiler and "
        f"Python's headers: {exc}"
    ) from exc
from tradewind_analyzer_microstructure.config import MicrostructureConfig
from tradewind_analyzer_microstructure.rolling import COLLAPSE

#: The scalar slots of the state array, in the order of the enum in ``_kernel.c``.
SCALARS: tuple[str, ...] = (
    "C_VOL_N", "C_Z_N", "C_P_N", "C_WW", "C_BR", "C_CM", "C_COLLAPSE",
    "O_VBUF", "O_ZBUF", "O_PXBUF", "O_PYBUF", "O_OUT",
    "V_LEN", "V_HEAD", "V_SUM", "V_SINCE",
    "Z_LEN", "Z_HEAD", "Z_K", "Z_MEAN", "Z_M2", "Z_PEAK", "Z_SINCE",
    "P_LEN", "P_HEAD", "P_KX", "P_KY", "P_MX", "P_MY", "P_M2X", "P_M2Y", "P_CXY", "P_PKX",
    "P_PKY", "P_SINCE",
    "L_HAS", "L_LAST",
    "A_HAS_CLOSE", "A_LAST_CLOSE", "A_HAS_SHAPE", "A_LOWER", "A_UPPER", "A_BODY", "A_POS",
    "A_BLONG", "A_BSHORT", "A_REJ", "A_SPIKE", "A_VMEAN", "A_ZSCORE", "A_CLOSE",
    "K_NEED_V", "K_NEED_Z", "K_NEED_P",
)  # fmt: skip
_I = {name: i for i, name in enumerate(SCALARS)}
if len(SCALARS) != _kernel.N_SCALARS:  # pragma: no cover - a build out of step with this file
    raise ImportError(
        f"tradewind_analyzer_microstructure._kernel has {_kernel.N_SCALARS} state slots, "
        f"kernel.py {len(SCALARS)}: rebuild the plugin "
        f"(pip install -e plugins/analyzers/microstructure)"
    )
N_OUT: int = _kernel.N_OUT
_NAN_SLOTS = ("A_SPIKE", "A_VMEAN", "A_ZSCORE")


class MicroKernel:
    """The analyzer's state; :attr:`out` holds :meth:`values`' 13 floats in key order."""

    __slots__ = ("_mem", "_o_out", "_px", "_py", "_v", "_z", "out")

    def __init__(self, config: MicrostructureConfig) -> None:
        nv, nz, npairs = config.volume_period, config.zscore_period, config.autocorr_window - 1
        o_v = len(SCALARS)
        o_z = o_v + nv
        o_px = o_z + nz
        o_py = o_px + npairs
        o_out = o_py + npairs
        mem = np.zeros(o_out + N_OUT, dtype=np.float64)
        for name, value in {
            "C_VOL_N": nv,
            "C_Z_N": nz,
            "C_P_N": npairs,
            "C_WW": config.bounce_wick_weight,
            "C_BR": config.rejection_body_ratio,
            "C_CM": config.rejection_close_min,
            "C_COLLAPSE": COLLAPSE,
            "O_VBUF": o_v,
            "O_ZBUF": o_z,
            "O_PXBUF": o_px,
            "O_PYBUF": o_py,
            "O_OUT": o_out,
        }.items():
            mem[_I[name]] = value
        for name in _NAN_SLOTS:
            mem[_I[name]] = math.nan
        mem[o_out:] = math.nan
        self._mem = mem
        self._v = mem[o_v:o_z]
        self._z = mem[o_z:o_px]
        self._px = mem[o_px:o_py]
        self._py = mem[o_py:o_out]
        self._o_out = o_out
        self.out = mem[o_out:]

    def values(self, keys: tuple[str, ...]) -> dict[str, float]:
        """:attr:`out` as a dict under ``keys``, each NaN the object ``math.nan``."""
        return _kernel.todict(self._mem, self._o_out, keys, math.nan)

    def step(self, open_: float, high: float, low: float, close: float, volume: float) -> None:
        """Fold in one candle of the analyzer's timeframe (a recompute that is due done by
        the kernel, as :meth:`run` does it; here only where the kernel leaves it)."""
        mem = self._mem
        if _kernel.step(mem, open_, high, low, close, volume):
            self._recompute()
            _kernel.finish(mem)

    def run(
        self,
        open_: npt.NDArray[np.float64],
        high: npt.NDArray[np.float64],
        low: npt.NDArray[np.float64],
        close: npt.NDArray[np.float64],
        volume: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]:
        """:meth:`step` over candles given as contiguous float64 arrays; the (n, 13) values
        after each (:attr:`out` then holds the last row)."""
        n = len(high)
        out = np.empty((n, N_OUT), dtype=np.float64)
        mem = self._mem
        i = _kernel.run(mem, open_, high, low, close, volume, out, 0, False)
        while i < n:
            self._recompute()
            i = _kernel.run(mem, open_, high, low, close, volume, out, i, True)
        return out

    def _ordered(self, ring: np.ndarray, length: str, head: str) -> list[float]:  # type: ignore[type-arg]
        """The values of a ring, oldest first (the rolling classes' deque)."""
        mem = self._mem
        n = int(mem[_I[length]])
        h = int(mem[_I[head]])
        values: list[float] = ring.tolist()
        return (values[h:] + values[:h])[:n] if n == len(values) else values[:n]

    def _recompute(self) -> None:
        """The recomputations the kernel flagged, exactly as rolling.py does them."""
        mem = self._mem
        fsum = math.fsum
        if mem[_I["K_NEED_V"]]:  # RollingSum.push
            mem[_I["V_SUM"]] = fsum(self._ordered(self._v, "V_LEN", "V_HEAD"))
            mem[_I["V_SINCE"]] = 0.0
        if mem[_I["K_NEED_Z"]]:  # RollingMoments.recompute
            buf = self._ordered(self._z, "Z_LEN", "Z_HEAD")
            k = buf[0]
            ys = [x - k for x in buf]
            mean = fsum(ys) / len(ys)
            m2 = fsum((y - mean) ** 2 for y in ys)
            mem[_I["Z_K"]], mem[_I["Z_MEAN"]], mem[_I["Z_M2"]] = k, mean, m2
            mem[_I["Z_PEAK"]] = m2
            mem[_I["Z_SINCE"]] = 0.0
        if mem[_I["K_NEED_P"]]:  # RollingCovariance.recompute
            xs = self._ordered(self._px, "P_LEN", "P_HEAD")
            ys = self._ordered(self._py, "P_LEN", "P_HEAD")
            kx, ky = xs[0], ys[0]
            us = [x - kx for x in xs]
            vs = [y - ky for y in ys]
            c = len(us)
            mx, my = fsum(us) / c, fsum(vs) / c
            du = [u - mx for u in us]
            dv = [v - my for v in vs]
            m2x = fsum(a * a for a in du)
            m2y = fsum(b * b for b in dv)
            cxy = fsum(a * b for a, b in zip(du, dv, strict=True))
            for name, value in (
                ("P_KX", kx), ("P_KY", ky), ("P_MX", mx), ("P_MY", my), ("P_M2X", m2x),
                ("P_M2Y", m2y), ("P_CXY", cxy), ("P_PKX", m2x), ("P_PKY", m2y),
                ("P_SINCE", 0.0),
            ):  # fmt: skip
                mem[_I[name]] = value
