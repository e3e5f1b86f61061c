"""The regime analyzer's state and its compiled per-candle kernel (``_kernel.c``).

:class:`RegimeKernel` holds every indicator's state in one float64 array and advances it with
the C kernel: one candle at a time (``on_candle``, paper and live) or a whole block's candles
in one call (``on_block``, backtests). Both run the same C step, which performs the same
floating-point operations in the same order as the pure-Python classes of this package
(:class:`~tradewind_analyzer_regime.adx.Adx`, :class:`~tradewind_analyzer_regime.ema.Ema`, ...),
so the outputs are the same bits; the tests compare them candle by candle.

The exact recomputations of the Hurst and mean-reversion running sums (every ``window``
updates) use numpy's summation (``mean``, ``sum``, ``@``), whose order the C code does not
reproduce; the kernel stops at the candle that needs one, :meth:`RegimeKernel._recompute`
runs the same numpy expressions as the Python classes, and the kernel finishes the candle.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

try:
    from tradewind_analyzer_regime import _kernel
except ImportError as exc:  # pragma: no cover - an environment installed before the kernel
    raise ImportError(
        "tradewind_analyzer_regime: its compiled kernel (_kernel.c) is not built in this "
        "environment; reinstall the plugin (pip install -e plugins/analyzers/regime, or "
        "tox -r for a tox env made before the kernel existed); it needs a C compiler and "
        f"Python's headers: {exc}"
    ) from exc
from tradewind_analyzer_regime.config import RegimeConfig

#: The scalar slots of the state array, in the order of the enum in ``_kernel.c``.
SCALARS: tuple[str, ...] = (
    # configuration
    "C_ADX_P", "C_ATR_P", "C_ATR_A", "C_ATR_B", "C_RSI_P", "C_RSI_INV", "C_EF_P", "C_EF_K",
    "C_ES_P", "C_ES_K", "C_ST_N", "C_H_W", "C_H_L", "C_M_W", "C_M_HOR", "C_ADX_TREND",
    "C_ADX_RANGE", "C_H_MIN", "C_MR_MAX", "C_MIN_ATR",
    # offsets of the arrays
    "O_HBUF", "O_HSQ", "O_HW", "O_HN", "O_HBACK", "O_HAHEAD", "O_MXS", "O_MYS", "O_OUT",
    # ADX
    "A_BARS", "A_PH", "A_PL", "A_PC", "A_PDM", "A_MDM", "A_TR", "A_SUMDX", "A_VAL", "A_PDI",
    "A_MDI",
    # ATR
    "T_PC", "T_COUNT", "T_SUM", "T_VAL",
    # RSI
    "R_PREV", "R_COUNT", "R_GAIN", "R_LOSS", "R_VAL",
    # EMAs
    "EF_COUNT", "EF_SUM", "EF_VAL", "ES_COUNT", "ES_SUM", "ES_VAL",
    # structure
    "S_SEEN", "S_HIGH", "S_LOW", "S_UP", "S_DOWN", "S_VAL",
    # Hurst
    "H_POS", "H_COUNT", "H_SINCE", "H_VAL", "H_STALE",
    # mean reversion
    "M_PREV", "M_ANCHOR", "M_POS", "M_COUNT", "M_SINCE", "M_SX", "M_SY", "M_SXX", "M_SXY",
    "M_SLOPE", "M_VAL",
    # the candle in progress, pending recomputations
    "K_CLOSE", "K_NEED_H", "K_NEED_M",
)  # fmt: skip
_I = {name: i for i, name in enumerate(SCALARS)}
if len(SCALARS) != _kernel.N_SCALARS:  # pragma: no cover - a build out of step with this file
    raise ImportError(
        f"tradewind_analyzer_regime._kernel has {_kernel.N_SCALARS} state slots, kernel.py "
        f"{len(SCALARS)}: rebuild the plugin (pip install -e plugins/analyzers/regime)"
    )
N_OUT: int = _kernel.N_OUT
#: ``todict(buf, offset, keys, nan)``: a row of outputs as a dict, each NaN the object ``nan``.
todict = _kernel.todict
NAN = math.nan

# Slots that start as NaN (everything else starts at 0).
_NAN_SLOTS = (
    "A_PH", "A_PL", "A_PC", "A_VAL", "A_PDI", "A_MDI", "T_PC", "T_VAL", "R_PREV", "R_VAL",
    "EF_VAL", "ES_VAL", "S_HIGH", "S_LOW", "S_VAL", "H_VAL", "M_PREV", "M_ANCHOR", "M_SLOPE",
    "M_VAL",
)  # fmt: skip


class RegimeKernel:
    """Every indicator of the regime analyzer, advanced by the compiled kernel.

    :attr:`out` is the output row after the latest candle (the 13 values of
    :data:`tradewind_analyzer_regime.plugin.KEYS`, in order).
    """

    __slots__ = (
        "_hbuf", "_hsq", "_lags", "_mem", "_mxs", "_mys", "_o_out", "h_window", "m_window", "out"
    )  # fmt: skip

    def __init__(self, config: RegimeConfig) -> None:
        lags = list(range(config.hurst_min_lag, config.hurst_max_lag + 1))
        hw, mw, nl = config.hurst_window, config.mean_reversion_window, len(lags)
        self.h_window, self.m_window = hw, mw
        self._lags = lags
        o_hbuf = len(SCALARS)
        o_hsq = o_hbuf + 2 * hw
        o_hw = o_hsq + nl
        o_hn = o_hw + nl
        o_hback = o_hn + nl
        o_hahead = o_hback + nl
        o_mxs = o_hahead + nl
        o_mys = o_mxs + mw
        o_out = o_mys + mw
        mem = np.zeros(o_out + N_OUT, dtype=np.float64)
        for name in _NAN_SLOTS:
            mem[_I[name]] = NAN
        mem[o_out:] = NAN
        atr_a = float(config.atr_period - 1) / float(config.atr_period)
        settings = {
            "C_ADX_P": config.adx_period,
            "C_ATR_P": config.atr_period,
            "C_ATR_A": atr_a,
            "C_ATR_B": 1.0 - atr_a,
            "C_RSI_P": config.rsi_period,
            "C_RSI_INV": 1.0 / float(config.rsi_period),
            "C_EF_P": config.ema_fast,
            "C_EF_K": 2.0 / float(config.ema_fast + 1),
            "C_ES_P": config.ema_slow,
            "C_ES_K": 2.0 / float(config.ema_slow + 1),
            "C_ST_N": config.structure_candles,
            "C_H_W": hw,
            "C_H_L": nl,
            "C_M_W": mw,
            "C_M_HOR": config.mean_reversion_horizon,
            "C_ADX_TREND": config.adx_trending,
            "C_ADX_RANGE": config.adx_ranging,
            "C_H_MIN": config.hurst_min,
            "C_MR_MAX": config.mean_reversion_max,
            "C_MIN_ATR": config.min_atr_pct,
            "O_HBUF": o_hbuf,
            "O_HSQ": o_hsq,
            "O_HW": o_hw,
            "O_HN": o_hn,
            "O_HBACK": o_hback,
            "O_HAHEAD": o_hahead,
            "O_MXS": o_mxs,
            "O_MYS": o_mys,
            "O_OUT": o_out,
        }
        for name, value in settings.items():
            mem[_I[name]] = value
        # RollingHurst's weights, computed by the same Python expressions.
        logs = [math.log(lag) for lag in lags]
        mean = sum(logs) / len(logs)
        sxx = sum((x - mean) ** 2 for x in logs)
        mem[o_hw:o_hn] = [0.5 * (x - mean) / sxx for x in logs]
        mem[o_hn:o_hback] = [hw - lag for lag in lags]
        mem[o_hback:o_hahead] = [hw - lag for lag in lags]
        mem[o_hahead:o_mxs] = lags
        self._mem = mem
        self._hbuf = mem[o_hbuf:o_hsq]
        self._hsq = mem[o_hsq:o_hw]
        self._mxs = mem[o_mxs:o_mys]
        self._mys = mem[o_mys:o_out]
        self._o_out = o_out
        self.out = mem[o_out:]

    def values(self, keys: tuple[str, ...]) -> dict[str, float]:
        """:attr:`out` as a dict under ``keys``, each NaN the object ``math.nan``."""
        return _kernel.todict(self._mem, self._o_out, keys, NAN)

    def step(self, high: float, low: float, close: float) -> None:
        """Fold in one candle (:attr:`out` then holds the values after it)."""
        mem = self._mem
        if _kernel.step(mem, high, low, close):
            self._recompute()
            _kernel.finish(mem)

    def run(
        self,
        high: npt.NDArray[np.float64],
        low: npt.NDArray[np.float64],
        close: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]:
        """Fold in candles given as float64 arrays; the (n, 13) values after each."""
        n = len(high)
        out = np.empty((n, N_OUT), dtype=np.float64)
        if n == 0:
            return out
        mem = self._mem
        i = _kernel.run(mem, high, low, close, out, 0)
        while i < n:
            self._recompute()
            i = _kernel.run(mem, high, low, close, out, i)
        self.out[:] = out[-1]
        return out

    def _recompute(self) -> None:
        """The exact recomputations the kernel stopped for, as the Python classes do them
        (the same numpy operations on the same values; sums as ``np.add.reduce``, what
        ``ndarray.sum`` and ``ndarray.mean`` reduce with, without their Python wrappers)."""
        mem = self._mem
        if mem[_K_NEED_H]:
            # RollingHurst._recompute: the window oldest first, each lag's d . d (d a new
            # array: p itself is only read).
            pos = int(mem[_H_POS])
            p = self._hbuf[pos : pos + self.h_window]
            hsq = self._hsq
            for i, lag in enumerate(self._lags):
                d = p[lag:] - p[:-lag]
                hsq[i] = float(_vdot(d, d))
            mem[_H_SINCE] = 0.0
        if mem[_K_NEED_M]:
            # RollingMeanReversion._recompute. ndarray.mean is add.reduce's float64 divided
            # by the count (an exact double): the same division of the same two doubles.
            xs = self._mxs.copy()
            ys = self._mys.copy()
            anchor = float(_add_reduce(xs)) / len(xs)
            xa = xs - anchor
            mem[_M_ANCHOR] = anchor
            mem[_M_SX] = float(_add_reduce(xa))
            mem[_M_SY] = float(_add_reduce(ys))
            mem[_M_SXX] = float(_vdot(xa, xa))
            mem[_M_SXY] = float(_vdot(xa, ys))
            mem[_M_SINCE] = 0.0


_add_reduce = np.add.reduce
#: The dot product of two 1-D float64 arrays: numpy's float64 ``dotfunc`` called directly (the
#: BLAS ``ddot`` where numpy has one), the function ``a @ b`` reaches through the ``matmul``
#: gufunc's set-up (~1,400 instructions more a call of 100 values; the Hurst exponent's
#: recomputation makes one per lag). The same function on the same values: the same bits.
_vdot = np.vdot
_K_NEED_H, _K_NEED_M = _I["K_NEED_H"], _I["K_NEED_M"]
_H_POS, _H_SINCE = _I["H_POS"], _I["H_SINCE"]
_M_ANCHOR, _M_SX, _M_SY = _I["M_ANCHOR"], _I["M_SX"], _I["M_SY"]
_M_SXX, _M_SXY, _M_SINCE = _I["M_SXX"], _I["M_SXY"], _I["M_SINCE"]
