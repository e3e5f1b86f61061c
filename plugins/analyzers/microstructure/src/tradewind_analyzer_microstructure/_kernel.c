/* The microstructure analyzer's per-candle kernel, compiled.

   The same floating-point operations, in the same order, as the pure-Python code of this
   package (shape.candle_shape, rolling.RollingSum / RollingMoments / RollingCovariance /
   Lag1Autocorrelation, plugin.MicrostructureAnalyzer.on_candle and values), so every output
   is the same bits. Built without fast-math and with -ffp-contract=off (setup.py).

   The exact recomputations of the rolling state (math.fsum over the window, every n updates
   or when a sum of squares collapses) stay in Python (kernel.py): when one is due the kernel
   sets a flag and leaves it to the caller, who recomputes and then calls finish() for what
   on_candle computes after the pushes (the z-score).

   step(mem, open, high, low, close, volume) -> 1 if a recompute is due (call finish after it)
   finish(mem) -> None: the z-score and the output row (mem's output slots).
   run(mem, open, high, low, close, volume, out, start, resume) -> the index of the candle
   whose recompute is due (call run again from it with resume=1 after the recompute), or n
   when all are done: step (and finish) over float64 arrays, the output row after candle i
   copied to out's row i (out: (n, 13) float64); resume=1 finishes candle ``start`` first. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

enum {
    /* configuration */
    C_VOL_N, C_Z_N, C_P_N, C_WW, C_BR, C_CM, C_COLLAPSE,
    /* offsets of the rings and of the output row */
    O_VBUF, O_ZBUF, O_PXBUF, O_PYBUF, O_OUT,
    /* RollingSum of volumes */
    V_LEN, V_HEAD, V_SUM, V_SINCE,
    /* RollingMoments of closes */
    Z_LEN, Z_HEAD, Z_K, Z_MEAN, Z_M2, Z_PEAK, Z_SINCE,
    /* RollingCovariance of consecutive log returns */
    P_LEN, P_HEAD, P_KX, P_KY, P_MX, P_MY, P_M2X, P_M2Y, P_CXY, P_PKX, P_PKY, P_SINCE,
    /* Lag1Autocorrelation's last value */
    L_HAS, L_LAST,
    /* the analyzer */
    A_HAS_CLOSE, A_LAST_CLOSE, A_HAS_SHAPE, A_LOWER, A_UPPER, A_BODY, A_POS, A_BLONG,
    A_BSHORT, A_REJ, A_SPIKE, A_VMEAN, A_ZSCORE, A_CLOSE,
    /* pending recomputations */
    K_NEED_V, K_NEED_Z, K_NEED_P,
    N_SCALARS
};

#define N_OUT 13

#define OFF(m, o) ((m) + (Py_ssize_t)(m)[o])

static void shape(double *m, double o, double h, double lo, double c)
{
    double rng = h - lo, lower, upper, body, pos;
    if (rng <= 0.0) {
        lower = upper = body = 0.0;
        pos = 0.5;
    } else {
        lower = ((c < o ? c : o) - lo) / rng; /* min(o, c): o unless c < o */
        upper = (h - (c > o ? c : o)) / rng;  /* max(o, c): o unless c > o */
        body = fabs(c - o) / rng;
        pos = (c - lo) / rng;
    }
    double rejection = 0.0;
    if (rng > 0.0) {
        if (lower > m[C_BR] * body && c > o && pos > m[C_CM]) rejection = 1.0;
        else if (upper > m[C_BR] * body && c < o && 1.0 - pos > m[C_CM]) rejection = -1.0;
    }
    double w = m[C_WW];
    m[A_HAS_SHAPE] = 1.0;
    m[A_LOWER] = lower; m[A_UPPER] = upper; m[A_BODY] = body; m[A_POS] = pos;
    m[A_BLONG] = w * lower + (1.0 - w) * pos;
    m[A_BSHORT] = w * upper + (1.0 - w) * (1.0 - pos);
    m[A_REJ] = rejection;
}

static double pymax(double a, double b) { return b > a ? b : a; } /* max(a, b) */

static void sum_push(double *m, double x)
{
    double n = m[C_VOL_N];
    double *buf = OFF(m, O_VBUF);
    Py_ssize_t head = (Py_ssize_t)m[V_HEAD];
    m[V_SUM] += x;
    if (m[V_LEN] < n) {
        buf[((Py_ssize_t)m[V_LEN] + head) % (Py_ssize_t)n] = x;
        m[V_LEN] += 1.0;
    } else {
        double oldest = buf[head];
        buf[head] = x;
        m[V_HEAD] = (double)((head + 1) % (Py_ssize_t)n);
        m[V_SUM] -= oldest;
    }
    m[V_SINCE] += 1.0;
    if (m[V_SINCE] >= n) m[K_NEED_V] = 1.0;
}

static void moments_push(double *m, double x)
{
    double n = m[C_Z_N];
    double *buf = OFF(m, O_ZBUF);
    Py_ssize_t head = (Py_ssize_t)m[Z_HEAD];
    if (m[Z_LEN] == 0.0) m[Z_K] = x;
    double y = x - m[Z_K];
    if (m[Z_LEN] < n) {
        buf[((Py_ssize_t)m[Z_LEN] + head) % (Py_ssize_t)n] = x;
        m[Z_LEN] += 1.0;
        double d = y - m[Z_MEAN];
        m[Z_MEAN] += d / m[Z_LEN];
        m[Z_M2] += d * (y - m[Z_MEAN]);
    } else {
        double yo = buf[head] - m[Z_K];
        buf[head] = x;
        m[Z_HEAD] = (double)((head + 1) % (Py_ssize_t)n);
        double mean = m[Z_MEAN] + (y - yo) / n;
        m[Z_M2] += (y - yo) * (y - mean + yo - m[Z_MEAN]);
        m[Z_MEAN] = mean;
    }
    m[Z_SINCE] += 1.0;
    m[Z_PEAK] = pymax(m[Z_PEAK], m[Z_M2]);
    if (m[Z_SINCE] >= n || m[Z_M2] < m[C_COLLAPSE] * m[Z_PEAK]) m[K_NEED_Z] = 1.0;
}

static void cov_push(double *m, double x, double y)
{
    double n = m[C_P_N];
    double *bx = OFF(m, O_PXBUF), *by = OFF(m, O_PYBUF);
    Py_ssize_t head = (Py_ssize_t)m[P_HEAD];
    if (m[P_LEN] == 0.0) { m[P_KX] = x; m[P_KY] = y; }
    double u = x - m[P_KX], v = y - m[P_KY];
    if (m[P_LEN] < n) {
        Py_ssize_t at = ((Py_ssize_t)m[P_LEN] + head) % (Py_ssize_t)n;
        bx[at] = x; by[at] = y;
        m[P_LEN] += 1.0;
        double c = m[P_LEN];
        double du = u - m[P_MX], dv = v - m[P_MY];
        m[P_MX] += du / c;
        m[P_MY] += dv / c;
        m[P_M2X] += du * (u - m[P_MX]);
        m[P_M2Y] += dv * (v - m[P_MY]);
        m[P_CXY] += du * (v - m[P_MY]);
    } else {
        double uo = bx[head] - m[P_KX], vo = by[head] - m[P_KY];
        bx[head] = x; by[head] = y;
        m[P_HEAD] = (double)((head + 1) % (Py_ssize_t)n);
        double du = u - uo, dv = v - vo;
        double mx = m[P_MX] + du / n;
        double my = m[P_MY] + dv / n;
        m[P_M2X] += du * (u - mx + uo - m[P_MX]);
        m[P_M2Y] += dv * (v - my + vo - m[P_MY]);
        m[P_CXY] += du * (v - my) + dv * (uo - m[P_MX]);
        m[P_MX] = mx; m[P_MY] = my;
    }
    m[P_SINCE] += 1.0;
    m[P_PKX] = pymax(m[P_PKX], m[P_M2X]);
    m[P_PKY] = pymax(m[P_PKY], m[P_M2Y]);
    if (m[P_SINCE] >= n || m[P_M2X] < m[C_COLLAPSE] * m[P_PKX]
        || m[P_M2Y] < m[C_COLLAPSE] * m[P_PKY])
        m[K_NEED_P] = 1.0;
}

/* on_candle up to the z-score (everything but what needs the closes' recompute). */
static int candle_push(double *m, double o, double h, double lo, double c, double volume)
{
    shape(m, o, h, lo, c);
    double mean = m[V_LEN] == m[C_VOL_N] ? m[V_SUM] / m[C_VOL_N] : NAN;
    m[A_VMEAN] = mean;
    m[A_SPIKE] = mean > 0.0 ? volume / mean : NAN;
    sum_push(m, volume);
    moments_push(m, c);
    m[A_CLOSE] = c;
    if (m[A_HAS_CLOSE] != 0.0 && m[A_LAST_CLOSE] > 0.0 && c > 0.0) {
        double r = log(c / m[A_LAST_CLOSE]);
        if (m[L_HAS] != 0.0) cov_push(m, m[L_LAST], r);
        m[L_HAS] = 1.0;
        m[L_LAST] = r;
    }
    m[A_HAS_CLOSE] = 1.0;
    m[A_LAST_CLOSE] = c;
    return m[K_NEED_V] != 0.0 || m[K_NEED_Z] != 0.0 || m[K_NEED_P] != 0.0;
}

/* The rest of on_candle (the z-score), then values() into the output row. */
static void candle_finish(double *m)
{
    m[K_NEED_V] = m[K_NEED_Z] = m[K_NEED_P] = 0.0;
    int full = m[Z_LEN] == m[C_Z_N];
    double std = NAN;
    if (m[Z_LEN] > 0.0) {
        double m2 = 0.0 > m[Z_M2] ? 0.0 : m[Z_M2]; /* max(m2, 0.0): m2 unless 0.0 > m2 */
        std = sqrt(m2 / m[Z_LEN]);
    }
    if (full) {
        double dev = (m[A_CLOSE] - m[Z_K]) - m[Z_MEAN];
        m[A_ZSCORE] = std > 0.0 ? dev / std : 0.0;
    }
    double *out = OFF(m, O_OUT);
    int s = m[A_HAS_SHAPE] != 0.0;
    out[0] = s ? m[A_LOWER] : NAN;
    out[1] = s ? m[A_UPPER] : NAN;
    out[2] = s ? m[A_BODY] : NAN;
    out[3] = s ? m[A_POS] : NAN;
    out[4] = s ? m[A_BLONG] : NAN;
    out[5] = s ? m[A_BSHORT] : NAN;
    out[6] = s ? m[A_REJ] : NAN;
    out[7] = m[A_SPIKE];
    out[8] = m[A_VMEAN];
    out[9] = m[A_ZSCORE];
    out[10] = full ? m[Z_K] + m[Z_MEAN] : NAN;
    out[11] = full ? std : NAN;
    double ac = NAN;
    if (m[P_LEN] == m[C_P_N] && !(m[P_LEN] < 2.0 || m[P_M2X] <= 0.0 || m[P_M2Y] <= 0.0)) {
        double r = m[P_CXY] / sqrt(m[P_M2X] * m[P_M2Y]);
        double lo = r > -1.0 ? r : -1.0; /* max(-1.0, r) */
        ac = lo < 1.0 ? lo : 1.0;        /* min(1.0, lo) */
    }
    out[12] = ac;
}

static double *state_of(Py_buffer *b)
{
    Py_ssize_t n = b->len / (Py_ssize_t)sizeof(double);
    if (b->itemsize != (Py_ssize_t)sizeof(double) || n < N_SCALARS) {
        PyErr_SetString(PyExc_ValueError,
                        "microstructure kernel: mem must be a float64 state array");
        return NULL;
    }
    double *m = (double *)b->buf;
    if (m[O_OUT] + N_OUT > (double)n) {
        PyErr_SetString(PyExc_ValueError, "microstructure kernel: mem is shorter than its layout");
        return NULL;
    }
    return m;
}

static int recompute_c(double *m);

static PyObject *k_step(PyObject *self, PyObject *args)
{
    Py_buffer mb;
    double o, h, lo, c, volume;
    if (!PyArg_ParseTuple(args, "w*ddddd", &mb, &o, &h, &lo, &c, &volume)) return NULL;
    double *m = state_of(&mb);
    if (m == NULL) { PyBuffer_Release(&mb); return NULL; }
    /* A recompute that is due is done here (recompute_c: the same bits as kernel.py's, as
       run does it), or left to the caller when this cannot (1: recompute, then finish). */
    int pending = candle_push(m, o, h, lo, c, volume) && recompute_c(m);
    if (!pending) candle_finish(m);
    PyBuffer_Release(&mb);
    return PyLong_FromLong(pending);
}

static PyObject *k_finish(PyObject *self, PyObject *args)
{
    Py_buffer mb;
    if (!PyArg_ParseTuple(args, "w*", &mb)) return NULL;
    double *m = state_of(&mb);
    if (m == NULL) { PyBuffer_Release(&mb); return NULL; }
    candle_finish(m);
    PyBuffer_Release(&mb);
    Py_RETURN_NONE;
}

/* math.fsum of x[0..n) for finite inputs: CPython's algorithm (Shewchuk's partials, then
   the half-even fix-up across partials), so the same bits. Returns 0, or -1 when a value or
   an intermediate sum is not finite or the partials outgrow the buffer (the caller then
   leaves the recompute to Python, whose math.fsum handles those cases). */
#define FSUM_PARTIALS 64
static int fsum_c(const double *xs, Py_ssize_t count, double *out)
{
    double p[FSUM_PARTIALS];
    Py_ssize_t n = 0;
    for (Py_ssize_t k = 0; k < count; k++) {
        double x = xs[k], y, t, hi, yr, lo;
        if (!isfinite(x)) return -1;
        Py_ssize_t i = 0;
        for (Py_ssize_t j = 0; j < n; j++) {
            y = p[j];
            if (fabs(x) < fabs(y)) { t = x; x = y; y = t; }
            hi = x + y;
            yr = hi - x;
            lo = y - yr;
            if (lo != 0.0) p[i++] = lo;
            x = hi;
        }
        n = i;
        if (x != 0.0) {
            if (!isfinite(x) || n >= FSUM_PARTIALS) return -1;
            p[n++] = x;
        }
    }
    double hi = 0.0, lo = 0.0, x, y, yr;
    if (n > 0) {
        hi = p[--n];
        while (n > 0) {
            x = hi;
            y = p[--n];
            hi = x + y;
            yr = hi - x;
            lo = y - yr;
            if (lo != 0.0) break;
        }
        if (n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0))) {
            y = lo * 2.0;
            x = hi + y;
            yr = x - hi;
            if (y == yr) hi = x;
        }
    }
    *out = hi;
    return 0;
}

/* libm's pow called at run time (never folded to x * x): what Python's float ** 2 calls. */
static double (*volatile libm_pow)(double, double) = pow;

/* Python's (d ** 2) for a float d: 0.0 for zero, 1.0 for |d| == 1, else pow(|d|, 2.0);
   -1 when the result is not finite (Python raises there). */
static int square_py(double d, double *out)
{
    if (!isfinite(d)) return -1;
    double a = fabs(d);
    double r = a == 0.0 ? 0.0 : a == 1.0 ? 1.0 : libm_pow(a, 2.0);
    if (!isfinite(r)) return -1;
    *out = r;
    return 0;
}

/* A ring's values oldest first (kernel.py's _ordered). */
static void ordered(const double *ring, Py_ssize_t cap, Py_ssize_t len, Py_ssize_t head,
                    double *out)
{
    for (Py_ssize_t i = 0; i < len; i++) out[i] = len == cap ? ring[(head + i) % cap] : ring[i];
}

/* kernel.py's MicroKernel._recompute in C, the same operations in the same order (math.fsum
   as fsum_c). Returns 0, or -1 with mem unchanged when Python must do it (a non-finite value,
   an empty window, no memory). */
static int recompute_c(double *m)
{
    Py_ssize_t cv = (Py_ssize_t)m[C_VOL_N], cz = (Py_ssize_t)m[C_Z_N], cp = (Py_ssize_t)m[C_P_N];
    Py_ssize_t cap = cv > cz ? cv : cz;
    if (cp > cap) cap = cp;
    double *w = PyMem_Malloc((size_t)(6 * (cap > 0 ? cap : 1)) * sizeof(double));
    if (w == NULL) return -1;
    double *a = w, *b = w + cap, *c = w + 2 * cap, *d = w + 3 * cap, *e = w + 4 * cap,
           *f = w + 5 * cap;
    int rc = -1;
    double v_sum = 0.0, z_k = 0.0, z_mean = 0.0, z_m2 = 0.0;
    double kx = 0.0, ky = 0.0, mx = 0.0, my = 0.0, m2x = 0.0, m2y = 0.0, cxy = 0.0;
    int need_v = m[K_NEED_V] != 0.0, need_z = m[K_NEED_Z] != 0.0, need_p = m[K_NEED_P] != 0.0;
    if (need_v) {
        Py_ssize_t len = (Py_ssize_t)m[V_LEN];
        ordered(OFF(m, O_VBUF), cv, len, (Py_ssize_t)m[V_HEAD], a);
        if (fsum_c(a, len, &v_sum)) goto done;
    }
    if (need_z) {
        Py_ssize_t len = (Py_ssize_t)m[Z_LEN];
        if (len == 0) goto done;
        ordered(OFF(m, O_ZBUF), cz, len, (Py_ssize_t)m[Z_HEAD], a);
        z_k = a[0];
        for (Py_ssize_t i = 0; i < len; i++) b[i] = a[i] - z_k;
        double s;
        if (fsum_c(b, len, &s)) goto done;
        z_mean = s / (double)len;
        for (Py_ssize_t i = 0; i < len; i++)
            if (square_py(b[i] - z_mean, &c[i])) goto done;
        if (fsum_c(c, len, &z_m2)) goto done;
    }
    if (need_p) {
        Py_ssize_t len = (Py_ssize_t)m[P_LEN];
        if (len == 0) goto done;
        ordered(OFF(m, O_PXBUF), cp, len, (Py_ssize_t)m[P_HEAD], a);
        ordered(OFF(m, O_PYBUF), cp, len, (Py_ssize_t)m[P_HEAD], b);
        kx = a[0];
        ky = b[0];
        for (Py_ssize_t i = 0; i < len; i++) { a[i] -= kx; b[i] -= ky; }
        double su, sv;
        if (fsum_c(a, len, &su) || fsum_c(b, len, &sv)) goto done;
        mx = su / (double)len;
        my = sv / (double)len;
        for (Py_ssize_t i = 0; i < len; i++) { a[i] -= mx; b[i] -= my; }
        for (Py_ssize_t i = 0; i < len; i++) {
            c[i] = a[i] * a[i];
            d[i] = b[i] * b[i];
            e[i] = a[i] * b[i];
        }
        if (fsum_c(c, len, &m2x) || fsum_c(d, len, &m2y) || fsum_c(e, len, &cxy)) goto done;
    }
    (void)f;
    if (need_v) { m[V_SUM] = v_sum; m[V_SINCE] = 0.0; }
    if (need_z) {
        m[Z_K] = z_k; m[Z_MEAN] = z_mean; m[Z_M2] = z_m2; m[Z_PEAK] = z_m2; m[Z_SINCE] = 0.0;
    }
    if (need_p) {
        m[P_KX] = kx; m[P_KY] = ky; m[P_MX] = mx; m[P_MY] = my; m[P_M2X] = m2x;
        m[P_M2Y] = m2y; m[P_CXY] = cxy; m[P_PKX] = m2x; m[P_PKY] = m2y; m[P_SINCE] = 0.0;
    }
    rc = 0;
done:
    PyMem_Free(w);
    return rc;
}

static PyObject *k_run(PyObject *self, PyObject *args)
{
    Py_buffer mb, obuf, hb, lb, cb, vb, outb;
    Py_ssize_t start;
    int resume;
    if (!PyArg_ParseTuple(args, "w*y*y*y*y*y*w*np", &mb, &obuf, &hb, &lb, &cb, &vb, &outb,
                          &start, &resume))
        return NULL;
    PyObject *result = NULL;
    double *m = state_of(&mb);
    if (m == NULL) goto done;
    Py_ssize_t n = hb.len / (Py_ssize_t)sizeof(double);
    if (hb.itemsize != (Py_ssize_t)sizeof(double) || obuf.len != hb.len || lb.len != hb.len
        || cb.len != hb.len || vb.len != hb.len || outb.len != hb.len * N_OUT || start < 0
        || start > n || (resume && start >= n)) {
        PyErr_SetString(PyExc_ValueError,
                        "microstructure kernel: run needs float64 open/high/low/close/volume of "
                        "one length, an (n, 13) float64 output and 0 <= start <= n");
        goto done;
    }
    const double *o = obuf.buf, *h = hb.buf, *lo = lb.buf, *c = cb.buf, *v = vb.buf;
    double *out = outb.buf;
    const double *row = OFF(m, O_OUT);
    Py_ssize_t i = start;
    if (resume) {
        candle_finish(m);
        memcpy(out + i * N_OUT, row, N_OUT * sizeof(double));
        i++;
    }
    for (; i < n; i++) {
        /* A recompute that is due is done here (the same bits as kernel.py's), or by the
           caller when this cannot (run returns i, the caller recomputes, resumes at i). */
        if (candle_push(m, o[i], h[i], lo[i], c[i], v[i]) && recompute_c(m)) break;
        candle_finish(m);
        memcpy(out + i * N_OUT, row, N_OUT * sizeof(double));
    }
    result = PyLong_FromSsize_t(i);
done:
    PyBuffer_Release(&mb); PyBuffer_Release(&obuf); PyBuffer_Release(&hb);
    PyBuffer_Release(&lb); PyBuffer_Release(&cb); PyBuffer_Release(&vb);
    PyBuffer_Release(&outb);
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
    {"step", k_step, METH_VARARGS,
     "step(mem, open, high, low, close, volume) -> 1 if a recompute is left to Python"},
    {"finish", k_finish, METH_VARARGS, "finish(mem): the z-score and the output row"},
    {"run", k_run, METH_VARARGS,
     "run(mem, open, high, low, close, volume, out, start, resume) -> pending index, or n"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernel", "The microstructure analyzer's compiled kernel.", -1,
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
