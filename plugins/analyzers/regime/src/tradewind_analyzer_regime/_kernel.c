/* The regime analyzer's per-candle kernel, compiled.

   The same floating-point operations, in the same order, as the pure-Python classes of this
   package (adx.py, true_range.py, rsi.py, ema.py, structure.py, hurst.py, mean_reversion.py,
   verdict.py), so every output is the same bits. Built without fast-math and with
   -ffp-contract=off (setup.py): no operation is fused or reordered; ATR's fused multiply-add
   is C's fma(), which is what the Python path computes exactly.

   All state lives in one float64 array (``mem``) laid out by kernel.py: scalars at fixed
   indices, then the Hurst and mean-reversion windows and the output row. The two exact
   recomputations of the rolling sums (every ``window`` updates) use numpy's summation order,
   so they stay in Python: when one is due, the kernel stops after the candle's pushes with a
   flag set, kernel.py recomputes, and the next call finishes that candle first.

   Functions: step(mem, high, low, close) -> 1 if a recompute is pending, else 0 (outputs in
   mem's output row); finish(mem) completes a pending candle; run(mem, high, low, close, out,
   start) -> index of the pending candle, or len(high) when all are done (outputs in out's
   rows). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>

/* Scalar layout of mem: keep in sync with kernel.py. */
enum {
    /* configuration */
    C_ADX_P, C_ATR_P, C_ATR_A, C_ATR_B, C_RSI_P, C_RSI_INV, C_EF_P, C_EF_K, C_ES_P, C_ES_K,
    C_ST_N, C_H_W, C_H_L, C_M_W, C_M_HOR, C_ADX_TREND, C_ADX_RANGE, C_H_MIN, C_MR_MAX,
    C_MIN_ATR,
    /* offsets of the arrays */
    O_HBUF, O_HSQ, O_HW, O_HN, O_HBACK, O_HAHEAD, O_MXS, O_MYS, O_OUT,
    /* ADX */
    A_BARS, A_PH, A_PL, A_PC, A_PDM, A_MDM, A_TR, A_SUMDX, A_VAL, A_PDI, A_MDI,
    /* ATR */
    T_PC, T_COUNT, T_SUM, T_VAL,
    /* RSI */
    R_PREV, R_COUNT, R_GAIN, R_LOSS, R_VAL,
    /* EMAs */
    EF_COUNT, EF_SUM, EF_VAL, ES_COUNT, ES_SUM, ES_VAL,
    /* structure */
    S_SEEN, S_HIGH, S_LOW, S_UP, S_DOWN, S_VAL,
    /* Hurst */
    H_POS, H_COUNT, H_SINCE, H_VAL, H_STALE,
    /* mean reversion */
    M_PREV, M_ANCHOR, M_POS, M_COUNT, M_SINCE, M_SX, M_SY, M_SXX, M_SXY, M_SLOPE, M_VAL,
    /* the candle in progress and the pending recomputations */
    K_CLOSE, K_NEED_H, K_NEED_M,
    N_SCALARS
};

#define N_OUT 13

static double true_range(double high, double low, double prev_close)
{
    double tr = high - low;
    double up = fabs(prev_close - high);
    if (up > tr) tr = up;
    double down = fabs(prev_close - low);
    if (down > tr) tr = down;
    return tr;
}

static void adx_update(double *m, double high, double low, double close)
{
    double bar = m[A_BARS];
    m[A_BARS] = bar + 1.0;
    if (bar == 0.0) {
        m[A_PH] = high; m[A_PL] = low; m[A_PC] = close;
        return;
    }
    double period = m[C_ADX_P];
    double up = high - m[A_PH];
    double down = m[A_PL] - low;
    double tr = true_range(high, low, m[A_PC]);
    m[A_PH] = high; m[A_PL] = low; m[A_PC] = close;
    if (bar < period) {
        if (down > 0 && up < down) m[A_MDM] += down;
        else if (up > 0 && up > down) m[A_PDM] += up;
        m[A_TR] += tr;
        return;
    }
    m[A_MDM] -= m[A_MDM] / period;
    m[A_PDM] -= m[A_PDM] / period;
    if (down > 0 && up < down) m[A_MDM] += down;
    else if (up > 0 && up > down) m[A_PDM] += up;
    m[A_TR] = m[A_TR] - (m[A_TR] / period) + tr;
    double str = m[A_TR];
    double minus_di, plus_di;
    if (str != 0.0) {
        minus_di = 100.0 * (m[A_MDM] / str);
        plus_di = 100.0 * (m[A_PDM] / str);
    } else {
        minus_di = plus_di = 0.0;
    }
    m[A_MDI] = minus_di; m[A_PDI] = plus_di;
    double di_sum = minus_di + plus_di;
    int valid = str != 0.0 && di_sum != 0.0;
    double last = 2.0 * period - 1.0;
    if (bar < last) {
        if (valid) m[A_SUMDX] += 100.0 * (fabs(minus_di - plus_di) / di_sum);
    } else if (bar == last) {
        if (valid) m[A_SUMDX] += 100.0 * (fabs(minus_di - plus_di) / di_sum);
        m[A_VAL] = m[A_SUMDX] / period;
    } else if (valid) {
        double dx = 100.0 * (fabs(minus_di - plus_di) / di_sum);
        m[A_VAL] = (m[A_VAL] * (period - 1.0) + dx) / period;
    }
}

static void atr_update(double *m, double high, double low, double close)
{
    double prev_close = m[T_PC];
    m[T_PC] = close;
    if (prev_close != prev_close) return;
    double tr = true_range(high, low, prev_close);
    double period = m[C_ATR_P];
    if (m[T_COUNT] < period) {
        m[T_COUNT] += 1.0;
        m[T_SUM] += tr;
        if (m[T_COUNT] == period) m[T_VAL] = m[T_SUM] / period;
        return;
    }
    m[T_VAL] = fma(m[T_VAL], m[C_ATR_A], tr * m[C_ATR_B]);
}

static void rsi_update(double *m, double close)
{
    double prev = m[R_PREV];
    m[R_PREV] = close;
    if (prev != prev) return;
    double change = close - prev;
    double period = m[C_RSI_P];
    double inv = m[C_RSI_INV];
    if (m[R_COUNT] < period) {
        m[R_COUNT] += 1.0;
        if (change < 0.0) m[R_LOSS] -= change;
        else m[R_GAIN] += change;
        if (m[R_COUNT] < period) return;
        m[R_LOSS] *= inv;
        m[R_GAIN] *= inv;
    } else {
        double loss = m[R_LOSS] * (period - 1.0);
        double gain = m[R_GAIN] * (period - 1.0);
        if (change < 0.0) loss -= change;
        else gain += change;
        m[R_LOSS] = loss * inv;
        m[R_GAIN] = gain * inv;
    }
    double total = m[R_GAIN] + m[R_LOSS];
    m[R_VAL] = total != 0.0 ? 100.0 * (m[R_GAIN] / total) : 0.0;
}

static void ema_update(double *m, int count, int sum, int val, double period, double k,
                       double x)
{
    if (m[count] < period) {
        m[count] += 1.0;
        m[sum] += x;
        if (m[count] == period) m[val] = m[sum] / period;
        return;
    }
    m[val] = (x - m[val]) * k + m[val];
}

static void structure_update(double *m, double high, double low)
{
    m[S_UP] = (high > m[S_HIGH] && low > m[S_LOW]) ? m[S_UP] + 1.0 : 0.0;
    m[S_DOWN] = (high < m[S_HIGH] && low < m[S_LOW]) ? m[S_DOWN] + 1.0 : 0.0;
    m[S_HIGH] = high; m[S_LOW] = low;
    double candles = m[C_ST_N];
    if (m[S_SEEN] < candles) {
        m[S_SEEN] += 1.0;
        if (m[S_SEEN] < candles) return;
    }
    double need = candles - 1.0;
    m[S_VAL] = m[S_UP] >= need ? 1.0 : (m[S_DOWN] >= need ? -1.0 : 0.0);
}

/* RollingHurst.push; sets K_NEED_H instead of recomputing. */
static void hurst_push(double *m, double x)
{
    Py_ssize_t size = (Py_ssize_t)m[C_H_W], nlags = (Py_ssize_t)m[C_H_L];
    Py_ssize_t pos = (Py_ssize_t)m[H_POS];
    double *buf = m + (Py_ssize_t)m[O_HBUF], *sq = m + (Py_ssize_t)m[O_HSQ];
    const double *back = m + (Py_ssize_t)m[O_HBACK], *ahead = m + (Py_ssize_t)m[O_HAHEAD];
    int full = m[H_COUNT] == (double)size;
    if (full) {
        double oldest = buf[pos];
        for (Py_ssize_t i = 0; i < nlags; i++) {
            double nw = x - buf[pos + (Py_ssize_t)back[i]];
            double old = buf[pos + (Py_ssize_t)ahead[i]] - oldest;
            sq[i] += nw * nw - old * old;
        }
    } else {
        double have = m[H_COUNT];
        for (Py_ssize_t i = 0; i < nlags; i++) {
            double lag = ahead[i];
            if (have >= lag) {
                double nw = x - buf[pos + size - (Py_ssize_t)lag];
                sq[i] += nw * nw;
            }
        }
        m[H_COUNT] = have + 1.0;
    }
    buf[pos] = buf[pos + size] = x;
    m[H_POS] = (double)(pos + 1 < size ? pos + 1 : 0);
    if (full) {
        m[H_SINCE] += 1.0;
        if (m[H_SINCE] >= (double)size) m[K_NEED_H] = 1.0;
    }
    m[H_STALE] = 1.0;
}

static double hurst_value(double *m)
{
    if (m[H_STALE] == 0.0) return m[H_VAL];
    m[H_STALE] = 0.0;
    double h;
    if (m[H_COUNT] < m[C_H_W]) {
        h = NAN;
    } else {
        Py_ssize_t nlags = (Py_ssize_t)m[C_H_L];
        const double *w = m + (Py_ssize_t)m[O_HW], *sq = m + (Py_ssize_t)m[O_HSQ];
        const double *n = m + (Py_ssize_t)m[O_HN];
        h = 0.0;
        for (Py_ssize_t i = 0; i < nlags; i++) {
            double total = sq[i];
            if (!(total > 0.0)) { h = NAN; break; }
            h += w[i] * log(total / n[i]);
        }
    }
    m[H_VAL] = h;
    return h;
}

static void mr_update_value(double *m)
{
    double n = m[C_M_W];
    double den = n * m[M_SXX] - m[M_SX] * m[M_SX];
    if (!(den > 0.0)) {
        m[M_SLOPE] = m[M_VAL] = NAN;
        return;
    }
    double b = (n * m[M_SXY] - m[M_SX] * m[M_SY]) / den;
    m[M_SLOPE] = b;
    if (b >= 0.0) m[M_VAL] = 0.0;
    else if (b <= -1.0) m[M_VAL] = 1.0;
    else m[M_VAL] = 1.0 - pow(1.0 + b, m[C_M_HOR]);
}

/* RollingMeanReversion.push; sets K_NEED_M (and leaves the value update to finish) instead
   of recomputing. */
static void mr_push(double *m, double p)
{
    double prev = m[M_PREV];
    m[M_PREV] = p;
    if (prev != prev) {
        m[M_ANCHOR] = p;
        return;
    }
    double window = m[C_M_W];
    double x = prev, y = p - prev;
    double xa = x - m[M_ANCHOR];
    Py_ssize_t pos = (Py_ssize_t)m[M_POS];
    double *xs = m + (Py_ssize_t)m[O_MXS], *ys = m + (Py_ssize_t)m[O_MYS];
    if (m[M_COUNT] == window) {
        double ox = xs[pos] - m[M_ANCHOR];
        double oy = ys[pos];
        m[M_SX] -= ox;
        m[M_SY] -= oy;
        m[M_SXX] -= ox * ox;
        m[M_SXY] -= ox * oy;
    } else {
        m[M_COUNT] += 1.0;
    }
    xs[pos] = x; ys[pos] = y;
    m[M_POS] = (double)((pos + 1) % (Py_ssize_t)window);
    m[M_SX] += xa;
    m[M_SY] += y;
    m[M_SXX] += xa * xa;
    m[M_SXY] += xa * y;
    if (m[M_COUNT] < window) return;
    m[M_SINCE] += 1.0;
    if (m[M_SINCE] >= window) {
        m[K_NEED_M] = 1.0;
        return;
    }
    mr_update_value(m);
}

/* The first half of RegimeAnalyzer.on_candle: every update and both pushes. Returns 1 when
   a recomputation is due before the candle can be finished. */
static int candle_push(double *m, double high, double low, double close)
{
    adx_update(m, high, low, close);
    atr_update(m, high, low, close);
    rsi_update(m, close);
    ema_update(m, EF_COUNT, EF_SUM, EF_VAL, m[C_EF_P], m[C_EF_K], close);
    ema_update(m, ES_COUNT, ES_SUM, ES_VAL, m[C_ES_P], m[C_ES_K], close);
    structure_update(m, high, low);
    m[K_CLOSE] = close;
    if (close > 0.0) {
        double log_close = log(close);
        hurst_push(m, log_close);
        mr_push(m, log_close);
    }
    return m[K_NEED_H] != 0.0 || m[K_NEED_M] != 0.0;
}

/* The second half: the values after the candle, into out[0..13). */
static void candle_finish(double *m, double *out)
{
    if (m[K_NEED_M] != 0.0) mr_update_value(m);
    m[K_NEED_H] = m[K_NEED_M] = 0.0;
    double close = m[K_CLOSE];
    double adx = m[A_VAL], atr = m[T_VAL], fast = m[EF_VAL], slow = m[ES_VAL];
    double structure = m[S_VAL];
    double hurst = hurst_value(m);
    double mr = m[M_VAL];
    double atr_pct = close > 0.0 ? 100.0 * atr / close : NAN;
    double aligned;
    if (isnan(fast) || isnan(slow)) aligned = NAN;
    else if (close > fast && fast > slow) aligned = 1.0;
    else if (close < fast && fast < slow) aligned = -1.0;
    else aligned = 0.0;
    double verdict;
    if (isnan(adx)) verdict = NAN;
    else if (adx < m[C_ADX_RANGE]) verdict = 0.0;
    else if (isnan(hurst) || isnan(mr) || isnan(aligned) || isnan(atr_pct) || isnan(structure))
        verdict = NAN;
    else if (!(adx > m[C_ADX_TREND] && hurst > m[C_H_MIN] && mr < m[C_MR_MAX]
               && atr_pct >= m[C_MIN_ATR]))
        verdict = 0.0;
    else if (aligned == 1.0 && structure == 1.0) verdict = 1.0;
    else if (aligned == -1.0 && structure == -1.0) verdict = -1.0;
    else verdict = 0.0;
    out[0] = adx; out[1] = m[A_PDI]; out[2] = m[A_MDI]; out[3] = atr; out[4] = atr_pct;
    out[5] = fast; out[6] = slow; out[7] = aligned; out[8] = m[R_VAL]; out[9] = hurst;
    out[10] = mr; out[11] = structure; out[12] = verdict;
}

static double *state_of(Py_buffer *b)
{
    Py_ssize_t n = b->len / (Py_ssize_t)sizeof(double);
    if (b->itemsize != (Py_ssize_t)sizeof(double) || n < N_SCALARS) {
        PyErr_SetString(PyExc_ValueError, "regime kernel: mem must be a float64 state array");
        return NULL;
    }
    double *m = (double *)b->buf;
    if (m[O_OUT] + N_OUT > (double)n) {
        PyErr_SetString(PyExc_ValueError, "regime kernel: mem is shorter than its layout");
        return NULL;
    }
    return m;
}

static PyObject *k_step(PyObject *self, PyObject *args)
{
    Py_buffer mb;
    double high, low, close;
    if (!PyArg_ParseTuple(args, "w*ddd", &mb, &high, &low, &close)) return NULL;
    double *m = state_of(&mb);
    if (m == NULL) { PyBuffer_Release(&mb); return NULL; }
    int pending = candle_push(m, high, low, close);
    if (!pending) candle_finish(m, m + (Py_ssize_t)m[O_OUT]);
    PyBuffer_Release(&mb);
    return PyLong_FromLong(pending);
}

static PyObject *k_finish(PyObject *self, PyObject *args)
{
    Py_buffer mb;
    if (!PyArg_ParseTuple(args, "w*", &mb)) return NULL;
    double *m = state_of(&mb);
    if (m == NULL) { PyBuffer_Release(&mb); return NULL; }
    candle_finish(m, m + (Py_ssize_t)m[O_OUT]);
    PyBuffer_Release(&mb);
    Py_RETURN_NONE;
}

static PyObject *k_run(PyObject *self, PyObject *args)
{
    Py_buffer mb, hb, lb, cb, ob;
    Py_ssize_t start;
    if (!PyArg_ParseTuple(args, "w*y*y*y*w*n", &mb, &hb, &lb, &cb, &ob, &start)) return NULL;
    PyObject *result = NULL;
    double *m = state_of(&mb);
    if (m == NULL) goto done;
    Py_ssize_t n = hb.len / (Py_ssize_t)sizeof(double);
    if (hb.itemsize != (Py_ssize_t)sizeof(double) || lb.len != hb.len || cb.len != hb.len
        || ob.len != hb.len * N_OUT || start < 0 || start > n) {
        PyErr_SetString(PyExc_ValueError,
                        "regime kernel: run needs float64 high/low/close of one length, an "
                        "(n, 13) float64 output and 0 <= start <= n");
        goto done;
    }
    const double *high = hb.buf, *low = lb.buf, *close = cb.buf;
    double *out = ob.buf;
    Py_ssize_t i = start;
    if (i < n && (m[K_NEED_H] != 0.0 || m[K_NEED_M] != 0.0)) {
        candle_finish(m, out + i * N_OUT);
        i++;
    }
    for (; i < n; i++) {
        if (candle_push(m, high[i], low[i], close[i])) break;
        candle_finish(m, out + i * N_OUT);
    }
    result = PyLong_FromSsize_t(i);
done:
    PyBuffer_Release(&mb); PyBuffer_Release(&hb); PyBuffer_Release(&lb);
    PyBuffer_Release(&cb); PyBuffer_Release(&ob);
    return result;
}

/* todict(buf, offset, keys, nan) -> {keys[i]: buf[offset + i]}, every NaN given as the object
   ``nan`` (math.nan): the Python path reported its NaN constant, and equality of lists of
   outputs (``[nan] == [nan]`` holds only for the same object) must not change. */
static PyObject *k_todict(PyObject *self, PyObject *args)
{
    Py_buffer b;
    Py_ssize_t offset;
    PyObject *keys, *nan;
    if (!PyArg_ParseTuple(args, "y*nO!O", &b, &offset, &PyTuple_Type, &keys, &nan)) return NULL;
    Py_ssize_t nkeys = PyTuple_GET_SIZE(keys);
    PyObject *d = NULL;
    if (b.itemsize != (Py_ssize_t)sizeof(double) || offset < 0
        || (offset + nkeys) * (Py_ssize_t)sizeof(double) > b.len) {
        PyErr_SetString(PyExc_ValueError, "todict: the keys run past the float64 buffer");
        goto done;
    }
    const double *v = (const double *)b.buf + offset;
    /* Sized for the keys up front (no resize on the way: the same dict, in insertion order). */
    d = _PyDict_NewPresized(nkeys);
    if (d == NULL) goto done;
    for (Py_ssize_t i = 0; i < nkeys; i++) {
        PyObject *f = isnan(v[i]) ? Py_NewRef(nan) : PyFloat_FromDouble(v[i]);
        if (f == NULL || PyDict_SetItem(d, PyTuple_GET_ITEM(keys, i), f) < 0) {
            Py_XDECREF(f);
            Py_CLEAR(d);
            goto done;
        }
        Py_DECREF(f);
    }
done:
    PyBuffer_Release(&b);
    return d;
}

static PyMethodDef methods[] = {
    {"todict", k_todict, METH_VARARGS, "todict(buf, offset, keys, nan) -> dict"},
    {"step", k_step, METH_VARARGS, "step(mem, high, low, close) -> 1 if a recompute is due"},
    {"finish", k_finish, METH_VARARGS, "finish(mem): complete the pending candle"},
    {"run", k_run, METH_VARARGS,
     "run(mem, high, low, close, out, start) -> index of the pending candle, or n"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernel", "The regime analyzer's compiled per-candle kernel.", -1,
    methods,
};

PyMODINIT_FUNC PyInit__kernel(void)
{
    PyObject *mod = PyModule_Create(&module);
    if (mod == NULL) return NULL;
    if (PyModule_AddIntConstant(mod, "N_SCALARS", N_SCALARS) < 0
        || PyModule_AddIntConstant(mod, "N_OUT", N_OUT) < 0) {
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
