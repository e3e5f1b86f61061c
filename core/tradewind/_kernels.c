/* The core's compiled kernels: the candle aggregator's (tradewind.market.candles).

   Candles have exact sums (docs/market-data.md): volume, buy/sell volume and the sum of the
   products fl(price * size) are the exact sums of their ticks' values, rounded once to float64
   (round half to even). Here each sum is an exact integer: every value is an integer multiple
   of 2**beta, beta the exponent of the ulp of the smallest value that can occur (the smallest
   size, or fl(min price * min size) for the products: rounding is monotonic), and the
   multiples are added in unsigned 128-bit integers. A batch whose values span too many binary
   orders of magnitude for that (bits of the largest multiple plus bits of the tick count over
   125), or whose products overflow, or whose rounded sums would be subnormal (where scaling
   could round twice) is not handled here: the functions return None and the caller takes the
   numpy/Python path (the reference), whose sums are exact too, so the bits are the same.

   Everything else is the reference's: open/close are the first/last price of a bucket, high
   and low the extremes, counts by aggressor side (+1 buy, -1 sell, anything else neither),
   vwap = min(max(pv / volume, low), high) with pv and volume the rounded sums.

   Functions
   ---------
   candles(ts, price, size, side, tfs, cur_open, watermark)
       The vectorised path of CandleAggregator._feed for one batch: the ticks are bucketed at
       the timeframes' common divisor (``tfs[0]``; ``tfs[1:]`` are the timeframes, ascending)
       and every timeframe's candles are merged from those buckets. Returns an int (1 backwards, 2 earlier than the watermark, 3 a non-finite or
       non-positive value), None (not exact here: see above) or
       (rows, tf, per_tf) where rows/tf are bytearrays of the closed candles (CANDLE_DTYPE
       records and their timeframes) in close-time-then-timeframe order, with a hole for each
       forming candle the caller holds (``cur_open[j]`` its open time, or None) that closes
       in the batch or merges with the batch's first candle; per_tf[j] is
       (slot, first_row, first, last): slot = index of the hole for the caller's forming
       candle closed before the batch's first bucket (or -1); if the forming candle is the
       batch's first bucket, ``first`` is that bucket's part as a state tuple (for the caller
       to merge) and first_row the index where the merged candle goes (-1 if it is still
       forming); ``last`` is the state tuple of the new forming candle (the batch's last
       bucket).
   bucket(ts, price, size, side, watermark)
       The state tuple of ticks that all fall in one bucket (the caller checks that), or an
       int/None as above.

   row(open_ts, open, high, low, close, trades, buy_trades, sell_trades, other, buy, sell, pv)
       A forming candle's record as a tuple of CANDLE_DTYPE (_Open.row): the exact sums, as
       integers of 2**-1074 units, rounded once to float64 (``n / 2**1074``, correctly
       rounded: the mantissa of ``n`` rounded half to even to 53 bits, then scaled by a power
       of two, exact while the quotient is a normal float), vwap as above. None where the
       reference must say it (a quotient that would be subnormal or overflow, a zero volume,
       a low or high that is not a float): the caller computes the record in Python then.

   A state tuple is (open_ts, open, high, low, close, trades, buy_trades, sell_trades,
   other_volume, buy_volume, sell_volume, pv) with the four sums as integers of 2**-1074
   units (CandleAggregator's _Open). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef unsigned __int128 u128;

/* One CANDLE_DTYPE record: 12 fields of 8 bytes, no padding. */
typedef struct {
    int64_t open_ts;
    double open, high, low, close, volume, buy_volume, sell_volume;
    int64_t trades, buy_trades, sell_trades;
    double vwap;
} Row;

/* A bucket's partial candle: sums as multiples of 2**beta (beta per quantity, per call). */
typedef struct {
    int64_t open_ts;
    double open, high, low, close;
    int64_t n, nb, ns;
    u128 other, buy, sell, pv;
} Part;

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;
    return q;
}

/* x (finite, >= 0) = mant * 2**exp with mant < 2**53; exp is the exponent of x's ulp. */
static void split(double x, uint64_t *mant, int *exp)
{
    uint64_t bits;
    memcpy(&bits, &x, 8);
    int e = (int)((bits >> 52) & 0x7ff);
    uint64_t f = bits & ((1ULL << 52) - 1);
    if (e == 0) {
        *mant = f;
        *exp = -1074;
    } else {
        *mant = f | (1ULL << 52);
        *exp = e - 1075;
    }
}

static int ulp_exp(double x)
{
    uint64_t m;
    int e;
    split(x, &m, &e);
    return e;
}

static int bit_length(uint64_t v)
{
    int b = 0;
    while (v) {
        b++;
        v >>= 1;
    }
    return b;
}

static inline u128 multiple(double x, int beta)
{
    uint64_t m;
    int e;
    split(x, &m, &e);
    return ((u128)m) << (e - beta);
}

/* m * 2**beta rounded once to float64 (half to even); 0 if m is 0. Sets *bad when the result
   is below 2**-1000 (ldexp could round a second time there) or overflows. */
static double round_sum(u128 m, int beta, int *bad)
{
    if (m == 0) return 0.0;
    int shift = 0;
    uint64_t top;
    uint64_t hi = (uint64_t)(m >> 64);
    if (hi == 0) {
        top = (uint64_t)m;
    } else {
        shift = bit_length(hi); /* keep the top 64 bits, the rest as a sticky bit */
        top = (uint64_t)(m >> shift);
        if (m & ((((u128)1) << shift) - 1)) top |= 1;
    }
    /* A uint64 with at least 11 bits below the rounding position: its conversion rounds
       once, correctly (the sticky bit only breaks exact ties it did not create). */
    double d = (double)top;
    double r = ldexp(d, beta + shift);
    if (r < 0x1p-1000 || !(r < INFINITY)) *bad = 1;
    return r;
}

/* m * 2**beta as a Python int of 2**-1074 units. */
static PyObject *units(u128 m, int beta)
{
    PyObject *out = NULL, *a = NULL, *b = NULL, *s64 = NULL, *lo = NULL;
    if (m >> 64) {
        a = PyLong_FromUnsignedLongLong((unsigned long long)(m >> 64));
        s64 = PyLong_FromLong(64);
        lo = PyLong_FromUnsignedLongLong((unsigned long long)m);
        PyObject *hi = (a && s64 && lo) ? PyNumber_Lshift(a, s64) : NULL;
        if (hi) b = PyNumber_Or(hi, lo);
        Py_XDECREF(hi);
    } else {
        b = PyLong_FromUnsignedLongLong((unsigned long long)m);
    }
    if (b) {
        PyObject *sh = PyLong_FromLong(beta + 1074);
        if (sh) out = PyNumber_Lshift(b, sh);
        Py_XDECREF(sh);
    }
    Py_XDECREF(a);
    Py_XDECREF(b);
    Py_XDECREF(s64);
    Py_XDECREF(lo);
    return out;
}

static PyObject *state_tuple(const Part *p, int bs, int bp)
{
    return Py_BuildValue("LddddLLLNNNN", (long long)p->open_ts, p->open, p->high, p->low,
                         p->close, (long long)p->n, (long long)p->nb, (long long)p->ns,
                         units(p->other, bs), units(p->buy, bs), units(p->sell, bs),
                         units(p->pv, bp));
}

typedef struct {
    const int64_t *ts;
    const double *price, *size;
    const int8_t *side;
    Py_ssize_t n;
    int bs, bp; /* the exponents of the units of sizes and of products */
    /* 2**-bs and 2**-bp when both are normal doubles (else 0): a size or product times its
       scale is then its multiple of the unit exactly, as a double (see accumulate). */
    double scale_s, scale_p;
} Ticks;

/* Checks as CandleAggregator._check (backwards, earlier, values, in that priority) and
   chooses the units. Returns 0 (ok), 1/2/3 (refusal), -1 (not exact here). */
static int scan(Ticks *t, int have_wm, int64_t watermark)
{
    const int64_t *ts = t->ts;
    const double *price = t->price, *size = t->size;
    Py_ssize_t n = t->n;
    /* One pass: whether a time goes backwards, the extremes, and ``odd``, a sum of
       ``x - x`` over the values: 0 while they are all finite, NaN from the first NaN or
       infinity on. Every value is positive and finite iff odd is 0 and both minima are
       above 0 (a NaN never becomes an extreme, but it makes odd NaN). */
    double pmin = INFINITY, pmax = 0.0, smin = INFINITY, smax = 0.0, odd = 0.0;
    int64_t prev = ts[0];
    int back = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t s = ts[i];
        back |= s < prev;
        prev = s;
        double p = price[i], q = size[i];
        odd += (p - p) + (q - q);
        pmin = p < pmin ? p : pmin;
        pmax = p > pmax ? p : pmax;
        smin = q < smin ? q : smin;
        smax = q > smax ? q : smax;
    }
    if (back) return 1;
    if (have_wm && ts[0] < watermark) return 2;
    if (!(odd == 0.0 && pmin > 0.0 && smin > 0.0)) return 3;
    double lo = pmin * smin, hi = pmax * smax; /* every fl(p * q) lies in [lo, hi] */
    if (!(hi < INFINITY)) return -1;
    int nbits = bit_length((uint64_t)n);
    t->bs = ulp_exp(smin);
    if (ulp_exp(smax) - t->bs + 53 + nbits > 125) return -1;
    t->bp = lo > 0.0 ? ulp_exp(lo) : -1074;
    if (ulp_exp(hi) - t->bp + 53 + nbits > 125) return -1;
    int scaled = t->bs > -1022 && t->bp > -1022;
    t->scale_s = scaled ? ldexp(1.0, -t->bs) : 0.0;
    t->scale_p = scaled ? ldexp(1.0, -t->bp) : 0.0;
    return 0;
}

/* The scan of a call's ticks against the watermark (None: no watermark): 0 to go on; 1 with
 * *result set to the refusal the Python side reads (the scan's code, or None); -1 with an
 * exception set (a watermark or an earlier argument that was not an int64). */
static int scan_refusal(Ticks *t, PyObject *wm_obj, PyObject **result)
{
    int have_wm = wm_obj != Py_None;
    int64_t wm = have_wm ? PyLong_AsLongLong(wm_obj) : 0;
    if (PyErr_Occurred()) return -1;
    int rc = scan(t, have_wm, wm);
    if (rc == 0) return 0;
    *result = rc > 0 ? PyLong_FromLong(rc) : Py_NewRef(Py_None);
    return 1;
}

/* Ticks [lo, hi) of one bucket into *p.

   A value's multiple of its unit (multiple(q, bs)) is an integer below 2**125. When the
   units are normal doubles (scale_s, scale_p set by scan) it is also q * 2**-bs computed in
   double: a product by a power of two, exact (no overflow: below 2**125; no underflow: at
   least 1), so where it is below 2**63 the conversion to int64 is that integer, without the
   128-bit shift; larger ones take the shift. The sums are integer sums, so the same whatever
   the path of each term. The side picks one of three sums (sell, neither, buy) by index. */
static void accumulate(const Ticks *t, Py_ssize_t lo, Py_ssize_t hi, int64_t open_ts, Part *p)
{
    const double *price = t->price, *size = t->size;
    const int8_t *side = t->side;
    int bs = t->bs, bp = t->bp;
    double high = price[lo], low = price[lo];
    u128 sums[3] = {0, 0, 0}, pv = 0;
    int64_t counts[3] = {0, 0, 0};
    const double ss = t->scale_s, sp = t->scale_p, big = 0x1p63;
    if (ss != 0.0) {
        for (Py_ssize_t i = lo; i < hi; i++) {
            double x = price[i], q = size[i], xq = x * q;
            high = x > high ? x : high;
            low = x < low ? x : low;
            double vq = q * ss, vp = xq * sp;
            u128 v = vq < big ? (u128)(int64_t)vq : multiple(q, bs);
            int d = side[i];
            int k = 1 + (d == 1) - (d == -1);
            sums[k] += v;
            counts[k] += 1;
            pv += vp < big ? (u128)(int64_t)vp : multiple(xq, bp);
        }
    } else {
        for (Py_ssize_t i = lo; i < hi; i++) {
            double x = price[i], q = size[i];
            high = x > high ? x : high;
            low = x < low ? x : low;
            int d = side[i];
            int k = 1 + (d == 1) - (d == -1);
            sums[k] += multiple(q, bs);
            counts[k] += 1;
            pv += multiple(x * q, bp);
        }
    }
    p->open_ts = open_ts;
    p->open = price[lo];
    p->high = high;
    p->low = low;
    p->close = price[hi - 1];
    p->n = hi - lo;
    p->nb = counts[2];
    p->ns = counts[0];
    p->other = sums[1];
    p->buy = sums[2];
    p->sell = sums[0];
    p->pv = pv;
}

static void add_part(Part *a, const Part *b)
{
    if (b->high > a->high) a->high = b->high;
    if (b->low < a->low) a->low = b->low;
    a->close = b->close;
    a->n += b->n;
    a->nb += b->nb;
    a->ns += b->ns;
    a->other += b->other;
    a->buy += b->buy;
    a->sell += b->sell;
    a->pv += b->pv;
}

static void to_row(const Part *p, int bs, int bp, Row *r, int *bad)
{
    r->open_ts = p->open_ts;
    r->open = p->open;
    r->high = p->high;
    r->low = p->low;
    r->close = p->close;
    r->volume = round_sum(p->other + p->buy + p->sell, bs, bad);
    r->buy_volume = round_sum(p->buy, bs, bad);
    r->sell_volume = round_sum(p->sell, bs, bad);
    r->trades = p->n;
    r->buy_trades = p->nb;
    r->sell_trades = p->ns;
    double v = round_sum(p->pv, bp, bad) / r->volume;
    if (p->low > v) v = p->low; /* Python's max(v, low), then min(., high) */
    if (v > p->high) v = p->high;
    r->vwap = v;
}

static int get_ticks(Ticks *t, Py_buffer *bt, Py_buffer *bpr, Py_buffer *bsz, Py_buffer *bsd)
{
    Py_ssize_t n = bt->len / 8;
    if (bpr->len != n * 8 || bsz->len != n * 8 || bsd->len != n || n == 0) {
        PyErr_SetString(PyExc_ValueError, "candles: ts/price/size/side lengths differ or are 0");
        return -1;
    }
    t->ts = (const int64_t *)bt->buf;
    t->price = (const double *)bpr->buf;
    t->size = (const double *)bsz->buf;
    t->side = (const int8_t *)bsd->buf;
    t->n = n;
    return 0;
}

#define MAX_TF 32

static PyObject *py_candles(PyObject *self, PyObject *args)
{
    Py_buffer bt, bpr, bsz, bsd;
    PyObject *tfs_obj, *cur_obj, *wm_obj;
    if (!PyArg_ParseTuple(args, "y*y*y*y*O!O!O", &bt, &bpr, &bsz, &bsd, &PyTuple_Type, &tfs_obj,
                          &PyTuple_Type, &cur_obj, &wm_obj))
        return NULL;
    PyObject *result = NULL;
    Part *base_parts = NULL, *parts[MAX_TF] = {0};
    Py_ssize_t g[MAX_TF] = {0};
    Ticks t;
    Py_ssize_t k = PyTuple_GET_SIZE(tfs_obj) - 1;
    int64_t tf[MAX_TF], cur_open[MAX_TF];
    int has_cur[MAX_TF];
    if (get_ticks(&t, &bt, &bpr, &bsz, &bsd) < 0) goto done;
    if (k < 1 || k > MAX_TF || PyTuple_GET_SIZE(cur_obj) != k) {
        PyErr_SetString(PyExc_ValueError, "candles: bad timeframes");
        goto done;
    }
    int64_t base = PyLong_AsLongLong(PyTuple_GET_ITEM(tfs_obj, 0));
    for (Py_ssize_t j = 0; j < k; j++) {
        tf[j] = PyLong_AsLongLong(PyTuple_GET_ITEM(tfs_obj, j + 1));
        PyObject *c = PyTuple_GET_ITEM(cur_obj, j);
        has_cur[j] = c != Py_None;
        cur_open[j] = has_cur[j] ? PyLong_AsLongLong(c) : 0;
    }
    if (scan_refusal(&t, wm_obj, &result) != 0) goto done;
    /* The buckets of the common divisor (a division only where one ends). */
    Py_ssize_t n = t.n, nbase = 1;
    int64_t prev = floordiv(t.ts[0], base);
    int64_t next = (prev + 1) * base;
    for (Py_ssize_t i = 1; i < n; i++) {
        if (t.ts[i] >= next) {
            prev = floordiv(t.ts[i], base);
            next = (prev + 1) * base;
            nbase++;
        }
    }
    base_parts = PyMem_Malloc(sizeof(Part) * nbase);
    if (!base_parts) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t lo = 0, gb = 0;
    prev = floordiv(t.ts[0], base);
    next = (prev + 1) * base;
    for (Py_ssize_t i = 1; i < n; i++) {
        if (t.ts[i] >= next) {
            accumulate(&t, lo, i, prev * base, &base_parts[gb++]);
            lo = i;
            prev = floordiv(t.ts[i], base);
            next = (prev + 1) * base;
        }
    }
    accumulate(&t, lo, n, prev * base, &base_parts[gb++]);
    /* Every timeframe's candles from the buckets. */
    Py_ssize_t total = 0;
    for (Py_ssize_t j = 0; j < k; j++) {
        if (tf[j] == base) {
            parts[j] = base_parts;
            g[j] = nbase;
        } else {
            Py_ssize_t groups = 1;
            int64_t last_open = floordiv(base_parts[0].open_ts, tf[j]);
            for (Py_ssize_t i = 1; i < nbase; i++) {
                int64_t o = floordiv(base_parts[i].open_ts, tf[j]);
                groups += o != last_open;
                last_open = o;
            }
            parts[j] = PyMem_Malloc(sizeof(Part) * groups);
            if (!parts[j]) {
                PyErr_NoMemory();
                goto done;
            }
            Py_ssize_t m = 0;
            for (Py_ssize_t i = 0; i < nbase; i++) {
                int64_t o = floordiv(base_parts[i].open_ts, tf[j]) * tf[j];
                if (m > 0 && parts[j][m - 1].open_ts == o) {
                    add_part(&parts[j][m - 1], &base_parts[i]);
                } else {
                    parts[j][m] = base_parts[i];
                    parts[j][m].open_ts = o;
                    m++;
                }
            }
            g[j] = m;
        }
        /* Emitted: the caller's closed candle (a hole), then every part but the last. */
        int merge = has_cur[j] && cur_open[j] == parts[j][0].open_ts;
        total += (has_cur[j] && !merge) + g[j] - 1;
    }
    PyObject *rows = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)sizeof(Row) * total);
    PyObject *tfcol = PyByteArray_FromStringAndSize(NULL, 8 * total);
    PyObject *per_tf = PyTuple_New(k);
    if (!rows || !tfcol || !per_tf) {
        Py_XDECREF(rows);
        Py_XDECREF(tfcol);
        Py_XDECREF(per_tf);
        goto done;
    }
    Row *out = (Row *)PyByteArray_AS_STRING(rows);
    int64_t *out_tf = (int64_t *)PyByteArray_AS_STRING(tfcol);
    /* Merge the timeframes' streams by close time, then timeframe (ascending: ties go to the
       finer one). Position -1 of a stream is the caller's closed candle. */
    Py_ssize_t pos[MAX_TF], end[MAX_TF], slot[MAX_TF], first_row[MAX_TF];
    int merge[MAX_TF];
    for (Py_ssize_t j = 0; j < k; j++) {
        merge[j] = has_cur[j] && cur_open[j] == parts[j][0].open_ts;
        pos[j] = has_cur[j] && !merge[j] ? -1 : 0;
        end[j] = g[j] - 1;
        slot[j] = -1;
        first_row[j] = -1;
    }
    int bad = 0;
    for (Py_ssize_t r = 0; r < total; r++) {
        Py_ssize_t best = -1;
        int64_t best_close = 0;
        for (Py_ssize_t j = 0; j < k; j++) {
            if (pos[j] >= end[j]) continue;
            int64_t close = (pos[j] < 0 ? cur_open[j] : parts[j][pos[j]].open_ts) + tf[j];
            if (best < 0 || close < best_close) {
                best = j;
                best_close = close;
            }
        }
        out_tf[r] = tf[best];
        if (pos[best] < 0) {
            slot[best] = r;
            memset(&out[r], 0, sizeof(Row));
        } else {
            if (pos[best] == 0 && merge[best]) first_row[best] = r;
            to_row(&parts[best][pos[best]], t.bs, t.bp, &out[r], &bad);
        }
        pos[best]++;
    }
    if (bad) {
        Py_DECREF(rows);
        Py_DECREF(tfcol);
        Py_DECREF(per_tf);
        result = Py_NewRef(Py_None);
        goto done;
    }
    for (Py_ssize_t j = 0; j < k; j++) {
        PyObject *first = merge[j] ? state_tuple(&parts[j][0], t.bs, t.bp) : Py_NewRef(Py_None);
        PyObject *last = state_tuple(&parts[j][g[j] - 1], t.bs, t.bp);
        PyObject *item = (first && last) ? Py_BuildValue("nnNN", slot[j], first_row[j], first, last)
                                         : NULL;
        if (!item) {
            Py_XDECREF(first);
            Py_XDECREF(last);
            Py_DECREF(rows);
            Py_DECREF(tfcol);
            Py_DECREF(per_tf);
            goto done;
        }
        PyTuple_SET_ITEM(per_tf, j, item);
    }
    result = Py_BuildValue("NNN", rows, tfcol, per_tf);
done:
    for (Py_ssize_t j = 0; j < MAX_TF; j++)
        if (parts[j] && parts[j] != base_parts) PyMem_Free(parts[j]);
    PyMem_Free(base_parts);
    PyBuffer_Release(&bt);
    PyBuffer_Release(&bpr);
    PyBuffer_Release(&bsz);
    PyBuffer_Release(&bsd);
    return result;
}

static PyObject *py_bucket(PyObject *self, PyObject *args)
{
    Py_buffer bt, bpr, bsz, bsd;
    long long open_ts;
    PyObject *wm_obj;
    if (!PyArg_ParseTuple(args, "y*y*y*y*LO", &bt, &bpr, &bsz, &bsd, &open_ts, &wm_obj))
        return NULL;
    PyObject *result = NULL;
    Ticks t;
    if (get_ticks(&t, &bt, &bpr, &bsz, &bsd) < 0) goto done;
    if (scan_refusal(&t, wm_obj, &result) != 0) goto done;
    Part p;
    accumulate(&t, 0, t.n, open_ts, &p);
    result = state_tuple(&p, t.bs, t.bp);
done:
    PyBuffer_Release(&bt);
    PyBuffer_Release(&bpr);
    PyBuffer_Release(&bsz);
    PyBuffer_Release(&bsd);
    return result;
}

/* n / 2**1074 for an int n, as Python's true division rounds it, into *out: 0 done, 1 not
   here (the quotient is not a normal float, or n is not an int: the caller's Python does it),
   -1 error. _PyLong_Frexp rounds n's mantissa half to even to 53 bits (what PyLong_AsDouble
   does); scaling a normal float by a power of two is exact. */
static int den_quotient(PyObject *n, double *out)
{
#if PY_VERSION_HEX < 0x030D0000
    if (!PyLong_CheckExact(n)) return 1;
    Py_ssize_t e = 0;
    double m = _PyLong_Frexp((PyLongObject *)n, &e);
    if (m == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 1;
    }
    if (m == 0.0) {
        *out = 0.0;
        return 0;
    }
    /* m in [0.5, 1): the quotient m * 2**(e - 1074) is normal for e - 1075 >= -1022 and
       finite for e - 1074 <= 1024. */
    if (e < 53 || e > 2098) return 1;
    *out = ldexp(m, (int)(e - 1074));
    return 0;
#else
    (void)n;
    (void)out;
    return 1;
#endif
}

static PyObject *py_row(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 12) {
        PyErr_SetString(PyExc_TypeError, "row() takes 12 arguments");
        return NULL;
    }
    PyObject *low = args[3], *high = args[2];
    if (!PyFloat_CheckExact(low) || !PyFloat_CheckExact(high)) Py_RETURN_NONE;
    PyObject *total = PyNumber_Add(args[8], args[9]);
    if (!total) return NULL;
    PyObject *sum = PyNumber_Add(total, args[10]);
    Py_DECREF(total);
    if (!sum) return NULL;
    double volume, buy, sell, pv;
    int r = den_quotient(sum, &volume);
    Py_DECREF(sum);
    if (r < 0) return NULL;
    if (r == 0) r = den_quotient(args[9], &buy);
    if (r == 0) r = den_quotient(args[10], &sell);
    if (r == 0) r = den_quotient(args[11], &pv);
    if (r != 0 || volume == 0.0) Py_RETURN_NONE;
    /* min(max(pv / volume, low), high), as Python's max and min pick. */
    double lo = PyFloat_AS_DOUBLE(low), hi = PyFloat_AS_DOUBLE(high);
    double q = pv / volume;
    PyObject *vwap;
    double m = lo > q ? lo : q;
    if (hi < m)
        vwap = Py_NewRef(high);
    else if (lo > q)
        vwap = Py_NewRef(low);
    else
        vwap = PyFloat_FromDouble(q);
    if (!vwap) return NULL;
    PyObject *v = PyFloat_FromDouble(volume), *b = PyFloat_FromDouble(buy),
             *s = PyFloat_FromDouble(sell);
    PyObject *out = (v && b && s) ? PyTuple_New(12) : NULL;
    if (!out) {
        Py_XDECREF(v);
        Py_XDECREF(b);
        Py_XDECREF(s);
        Py_DECREF(vwap);
        return NULL;
    }
    static const int from_args[12] = {0, 1, 2, 3, 4, -1, -1, -1, 5, 6, 7, -1};
    for (int i = 0; i < 12; i++)
        if (from_args[i] >= 0) PyTuple_SET_ITEM(out, i, Py_NewRef(args[from_args[i]]));
    PyTuple_SET_ITEM(out, 5, v);
    PyTuple_SET_ITEM(out, 6, b);
    PyTuple_SET_ITEM(out, 7, s);
    PyTuple_SET_ITEM(out, 11, vwap);
    return out;
}

static PyMethodDef methods[] = {
    {"candles", py_candles, METH_VARARGS, "A batch's candles for several timeframes."},
    {"bucket", py_bucket, METH_VARARGS, "The exact state of one bucket's ticks."},
    {"row", (PyCFunction)(void (*)(void))py_row, METH_FASTCALL, "A forming candle's record."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", NULL, -1, methods};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
