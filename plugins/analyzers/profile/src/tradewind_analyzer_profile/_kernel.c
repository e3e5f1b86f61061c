/* The profile analyzer's compiled kernels: the value area of a volume profile, and the
   per-close update of the profile's volume dict by a BlockWindow.

   Everything here is integer arithmetic on bin indices and volumes in quanta, so the results
   are exactly those of the pure-Python code in market_profile.py (value_area and
   BlockWindow.row), which the tests compare against. Anything that does not fit in 64 bits
   (or a volume that is not positive) returns NotImplemented and the caller takes the Python
   path.

   value_area(volume, num, den) -> None | (poc_bin, val_bin, vah_bin, total, value_area_total)
       volume: dict bin -> volume (ints); the value area holds at least num/den of the total.
   apply_ranges(volume, bins, qty, s0, s1, a0, a1) -> change of the total
       one close of a BlockWindow: trades s0..s1 leave, trades a0..a1 enter (int64 arrays). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    long long bin;
    long long vol;
} BinVol;

static int by_bin(const void *a, const void *b)
{
    long long x = ((const BinVol *)a)->bin, y = ((const BinVol *)b)->bin;
    return (x > y) - (x < y);
}

static PyObject *k_value_area(PyObject *self, PyObject *args)
{
    PyObject *volume;
    long long num, den;
    if (!PyArg_ParseTuple(args, "O!LL", &PyDict_Type, &volume, &num, &den)) return NULL;
    Py_ssize_t n = PyDict_Size(volume);
    if (n == 0) Py_RETURN_NONE;
    if (num < 0 || den <= 0) Py_RETURN_NOTIMPLEMENTED;
    BinVol *items = PyMem_Malloc((size_t)n * sizeof(BinVol));
    if (items == NULL) return PyErr_NoMemory();
    PyObject *result = NULL;
    long long *dense = NULL;
    BinVol *sorted = NULL;
    Py_ssize_t pos = 0, k = 0;
    PyObject *key, *value;
    long long lo_bin = 0, hi_bin = 0;
    while (PyDict_Next(volume, &pos, &key, &value)) {
        int o1 = 0, o2 = 0;
        long long b = PyLong_AsLongLongAndOverflow(key, &o1);
        long long v = PyLong_AsLongLongAndOverflow(value, &o2);
        if ((b == -1 || v == -1) && PyErr_Occurred()) goto done; /* not ints */
        if (o1 || o2 || v <= 0) {
            result = Py_NewRef(Py_NotImplemented);
            goto done;
        }
        items[k].bin = b;
        items[k].vol = v;
        if (k == 0 || b < lo_bin) lo_bin = b;
        if (k == 0 || b > hi_bin) hi_bin = b;
        k++;
    }
    /* Sorted by bin: by placing into a dense array when the bins are not too spread out
       (the usual case: a few hundred neighbouring bins), else by qsort. */
    unsigned long long span = (unsigned long long)hi_bin - (unsigned long long)lo_bin + 1ULL;
    if (span <= (unsigned long long)(8 * n + 4096)) {
        dense = PyMem_Calloc((size_t)span, sizeof(long long));
        if (dense == NULL) { PyErr_NoMemory(); goto done; }
        for (Py_ssize_t i = 0; i < n; i++) dense[items[i].bin - lo_bin] = items[i].vol;
        Py_ssize_t j = 0;
        for (unsigned long long s = 0; s < span; s++) {
            if (dense[s]) {
                items[j].bin = lo_bin + (long long)s;
                items[j].vol = dense[s];
                j++;
            }
        }
    } else {
        qsort(items, (size_t)n, sizeof(BinVol), by_bin);
    }
    sorted = items;
    /* total, best, and the POC: the first bin with the most volume; on a tie, the one
       closest to the middle of the range (twice the midpoint: stays an integer), then the
       lower one. */
    __int128 total = 0;
    long long best = 0;
    Py_ssize_t poc = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        total += sorted[i].vol;
        if (sorted[i].vol > best) { best = sorted[i].vol; poc = i; }
    }
    if (total > (__int128)LLONG_MAX) {
        result = Py_NewRef(Py_NotImplemented);
        goto done;
    }
    {
        __int128 mid2 = (__int128)sorted[0].bin + sorted[n - 1].bin;
        __int128 best_dist = -1;
        for (Py_ssize_t i = poc; i < n; i++) {
            if (sorted[i].vol != best) continue;
            __int128 dist = 2 * (__int128)sorted[i].bin - mid2;
            if (dist < 0) dist = -dist;
            if (best_dist < 0 || dist < best_dist) { best_dist = dist; poc = i; }
        }
    }
    /* need = ceil(num * total / den) */
    __int128 prod = (__int128)num * total;
    __int128 need = prod / den + (prod % den != 0);
    Py_ssize_t lo = poc, hi = poc, last = n - 1;
    __int128 acc = sorted[poc].vol;
    long long pb = sorted[poc].bin;
    while (acc < need) {
        if (hi < last) {
            if (lo > 0) {
                long long vu = sorted[hi + 1].vol, vd = sorted[lo - 1].vol;
                if (vu > vd
                    || (vu == vd
                        && (__int128)sorted[hi + 1].bin - pb < (__int128)pb - sorted[lo - 1].bin)) {
                    hi++;
                    acc += vu;
                } else {
                    lo--;
                    acc += vd;
                }
            } else {
                hi++;
                acc += sorted[hi].vol;
            }
        } else {
            lo--;
            acc += sorted[lo].vol;
        }
    }
    result = Py_BuildValue("(LLLLL)", sorted[poc].bin, sorted[lo].bin, sorted[hi].bin,
                           (long long)total, (long long)acc);
done:
    PyMem_Free(dense);
    PyMem_Free(items);
    return result;
}

/* Add `delta` to volume[b] (b, delta as C integers), deleting the bin when it reaches zero. */
static int bump(PyObject *volume, long long b, long long delta)
{
    PyObject *key = PyLong_FromLongLong(b);
    if (key == NULL) return -1;
    PyObject *old = PyDict_GetItemWithError(volume, key); /* borrowed */
    int err = -1;
    if (old == NULL && PyErr_Occurred()) goto done;
    PyObject *left;
    if (old == NULL) {
        left = PyLong_FromLongLong(delta);
    } else {
        PyObject *d = PyLong_FromLongLong(delta);
        if (d == NULL) goto done;
        left = PyNumber_Add(old, d);
        Py_DECREF(d);
    }
    if (left == NULL) goto done;
    int zero = PyObject_Not(left);
    if (zero < 0) { Py_DECREF(left); goto done; }
    err = zero ? PyDict_DelItem(volume, key) : PyDict_SetItem(volume, key, left);
    Py_DECREF(left);
done:
    Py_DECREF(key);
    return err;
}

/* apply_ranges(volume, bins, qty, s0, s1, a0, a1) -> change of the total.
   One close of a BlockWindow: the trades s0..s1 leave the window and the trades a0..a1 enter
   it (bins, qty: int64 arrays). The changes are netted per bin first (a dense scratch over the
   bins touched) and applied once per bin, skipping zero nets, deleting bins that reach zero:
   the volume dict ends as the Python path leaves it (integer sums; only the dict's insertion
   order may differ, which nothing reads). */
static PyObject *k_apply_ranges(PyObject *self, PyObject *args)
{
    PyObject *volume;
    Py_buffer bb, qb;
    Py_ssize_t s0, s1, a0, a1;
    if (!PyArg_ParseTuple(args, "O!y*y*nnnn", &PyDict_Type, &volume, &bb, &qb, &s0, &s1, &a0,
                          &a1))
        return NULL;
    PyObject *result = NULL;
    long long *scratch = NULL;
    Py_ssize_t n = bb.len / (Py_ssize_t)sizeof(long long);
    if (bb.itemsize != 8 || qb.itemsize != 8 || qb.len != bb.len || s0 < 0 || s1 > n
        || a0 < 0 || a1 > n) {
        PyErr_SetString(PyExc_ValueError,
                        "profile kernel: apply_ranges needs int64 bins and qty of one length "
                        "and ranges inside them");
        goto done;
    }
    const long long *bins = bb.buf, *qty = qb.buf;
    if (s1 < s0) s1 = s0;
    if (a1 < a0) a1 = a0;
    long long change = 0, lo = 0, hi = -1;
    Py_ssize_t count = (s1 - s0) + (a1 - a0);
    for (Py_ssize_t i = s0; i < s1; i++) {
        if (hi < lo) lo = hi = bins[i];
        if (bins[i] < lo) lo = bins[i];
        if (bins[i] > hi) hi = bins[i];
        change -= qty[i];
    }
    for (Py_ssize_t i = a0; i < a1; i++) {
        if (hi < lo) lo = hi = bins[i];
        if (bins[i] < lo) lo = bins[i];
        if (bins[i] > hi) hi = bins[i];
        change += qty[i];
    }
    if (count == 0) {
        result = PyLong_FromLong(0);
        goto done;
    }
    unsigned long long span = (unsigned long long)hi - (unsigned long long)lo + 1ULL;
    if (span <= (unsigned long long)(4 * count + 4096)) {
        scratch = PyMem_Calloc((size_t)span, sizeof(long long));
        if (scratch == NULL) { PyErr_NoMemory(); goto done; }
        for (Py_ssize_t i = s0; i < s1; i++) scratch[bins[i] - lo] -= qty[i];
        for (Py_ssize_t i = a0; i < a1; i++) scratch[bins[i] - lo] += qty[i];
        /* visit the touched bins through the trades; each net applied once, then cleared */
        for (int pass = 0; pass < 2; pass++) {
            Py_ssize_t from = pass ? a0 : s0, to = pass ? a1 : s1;
            for (Py_ssize_t i = from; i < to; i++) {
                long long net = scratch[bins[i] - lo];
                if (net == 0) continue;
                scratch[bins[i] - lo] = 0;
                if (bump(volume, bins[i], net) < 0) goto done;
            }
        }
    } else {
        /* bins too spread out for a scratch array: trade by trade (leaving ones first, so
           no volume goes below zero on the way) */
        for (Py_ssize_t i = s0; i < s1; i++)
            if (qty[i] && bump(volume, bins[i], -qty[i]) < 0) goto done;
        for (Py_ssize_t i = a0; i < a1; i++)
            if (qty[i] && bump(volume, bins[i], qty[i]) < 0) goto done;
    }
    result = PyLong_FromLongLong(change);
done:
    PyMem_Free(scratch);
    PyBuffer_Release(&bb);
    PyBuffer_Release(&qb);
    return result;
}

/* ---- the dense profile: volume per bin in an int64 array, dense[i] = volume of bin base + i.

   dense_add(dense, base, bins, qty, sign) -> change of the total | (lo, hi)
       Adds sign * qty[i] to the volume of bin bins[i] for every trade with a nonzero qty
       (sign is +1 or -1; bins and qty: lists of ints, or int64 arrays, of one length). When
       a bin falls outside the array nothing is changed and the range (lo, hi) of the bins
       the call needs is returned, for the caller to re-centre the array and call again. A
       bin's volume never goes below zero nor past 64 bits: the call then raises and leaves
       the array as it was.
   dense_levels(dense, base, num, den) -> None | NotImplemented | (poc, val, vah, total, va)
       value_area's result for the profile held in the array: the same rules, the same bins
       (the bins with volume are the nonzero entries, in order; distances between bins are
       distances between indices). NotImplemented when the total passes 64 bits. */

typedef struct {
    Py_buffer bb, qb;
    int have_buf;
    long long *bl, *ql; /* owned copies for lists */
    const long long *b, *q;
    Py_ssize_t n;
} Trades;

static void trades_release(Trades *t)
{
    if (t->have_buf) {
        PyBuffer_Release(&t->bb);
        PyBuffer_Release(&t->qb);
    }
    PyMem_Free(t->bl);
    PyMem_Free(t->ql);
}

static int trades_get(PyObject *bins, PyObject *qty, Trades *t)
{
    memset(t, 0, sizeof(*t));
    if (PyList_Check(bins) && PyList_Check(qty)) {
        Py_ssize_t n = PyList_GET_SIZE(bins);
        if (PyList_GET_SIZE(qty) != n) {
            PyErr_SetString(PyExc_ValueError, "profile kernel: bins and qty differ in length");
            return -1;
        }
        t->bl = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(long long));
        t->ql = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(long long));
        if (t->bl == NULL || t->ql == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            t->bl[i] = PyLong_AsLongLong(PyList_GET_ITEM(bins, i));
            if (t->bl[i] == -1 && PyErr_Occurred()) return -1;
            t->ql[i] = PyLong_AsLongLong(PyList_GET_ITEM(qty, i));
            if (t->ql[i] == -1 && PyErr_Occurred()) return -1;
        }
        t->b = t->bl;
        t->q = t->ql;
        t->n = n;
        return 0;
    }
    if (PyObject_GetBuffer(bins, &t->bb, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    if (PyObject_GetBuffer(qty, &t->qb, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyBuffer_Release(&t->bb);
        return -1;
    }
    t->have_buf = 1;
    if (t->bb.itemsize != 8 || t->qb.itemsize != 8 || t->bb.len != t->qb.len) {
        PyErr_SetString(PyExc_ValueError,
                        "profile kernel: bins and qty must be int64 arrays of one length");
        return -1;
    }
    t->b = t->bb.buf;
    t->q = t->qb.buf;
    t->n = t->bb.len / 8;
    return 0;
}

static PyObject *k_dense_add(PyObject *self, PyObject *args)
{
    Py_buffer db;
    long long base;
    PyObject *bins, *qty;
    int sign;
    if (!PyArg_ParseTuple(args, "w*LOOi", &db, &base, &bins, &qty, &sign)) return NULL;
    PyObject *result = NULL;
    Trades t;
    if (trades_get(bins, qty, &t) < 0) goto done;
    if (db.itemsize != 8 || (sign != 1 && sign != -1)) {
        PyErr_SetString(PyExc_ValueError, "profile kernel: dense_add needs an int64 array "
                                          "and a sign of +1 or -1");
        goto done;
    }
    long long *dense = db.buf;
    Py_ssize_t len = db.len / 8;
    long long need_lo = 0, need_hi = 0;
    int out = 0, any = 0;
    for (Py_ssize_t i = 0; i < t.n; i++) {
        if (t.q[i] == 0) continue;
        long long b = t.b[i];
        if (!any || b < need_lo) need_lo = b;
        if (!any || b > need_hi) need_hi = b;
        any = 1;
        /* b - base in unsigned arithmetic: no overflow, and below base wraps past len */
        if ((unsigned long long)b - (unsigned long long)base >= (unsigned long long)len
            || (b < base))
            out = 1;
    }
    if (out) {
        result = Py_BuildValue("(LL)", need_lo, need_hi);
        goto done;
    }
    __int128 change = 0;
    Py_ssize_t i = 0;
    for (; i < t.n; i++) {
        long long q = t.q[i];
        if (q == 0) continue;
        long long *v = &dense[t.b[i] - base];
        long long left;
        int bad = sign > 0 ? __builtin_add_overflow(*v, q, &left)
                           : __builtin_sub_overflow(*v, q, &left);
        if (bad || left < 0) {
            if (bad)
                PyErr_SetString(PyExc_OverflowError,
                                "profile analyzer: a price bin's volume passes 64 bits (in "
                                "volume quanta); set a larger volume_quantum");
            else
                PyErr_SetString(PyExc_ValueError,
                                "profile analyzer: a price bin's volume would go below zero "
                                "(a trade removed from the window that was never added)");
            /* undo the trades applied so far: the array is left as it was */
            for (Py_ssize_t j = i - 1; j >= 0; j--) {
                if (t.q[j] == 0) continue;
                if (sign > 0) dense[t.b[j] - base] -= t.q[j];
                else dense[t.b[j] - base] += t.q[j];
            }
            goto done;
        }
        *v = left;
        change += sign > 0 ? (__int128)q : -(__int128)q;
    }
    if (change > (__int128)LLONG_MAX || change < (__int128)LLONG_MIN) {
        PyErr_SetString(PyExc_OverflowError,
                        "profile analyzer: a batch's volume passes 64 bits (in volume quanta); "
                        "set a larger volume_quantum");
        for (Py_ssize_t j = t.n - 1; j >= 0; j--) {
            if (t.q[j] == 0) continue;
            if (sign > 0) dense[t.b[j] - base] -= t.q[j];
            else dense[t.b[j] - base] += t.q[j];
        }
        goto done;
    }
    result = PyLong_FromLongLong((long long)change);
done:
    trades_release(&t);
    PyBuffer_Release(&db);
    return result;
}

/* The value area of the profile d over the bins [i0, i1] (the first and last with volume)
   around the POC poc, grown as the per-candle path grows it (the larger neighbour with volume
   first; equal ones: the nearer the POC, then the lower) until it holds ceil(total * num / den);
   res = poc, val, vah (indices into d), total, value-area total. total is at most LLONG_MAX. */
static void grow_value_area(const long long *d, Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t poc,
                            __int128 total, long long num, long long den, long long res[5])
{
    __int128 prod = (__int128)num * total;
    __int128 need = prod / den + (prod % den != 0);
    __int128 acc = d[poc];
    Py_ssize_t lo = poc, hi = poc;
    /* the next bin with volume above the area (up) and below it (down); -1: none */
    Py_ssize_t up = -1, down = -1;
    for (Py_ssize_t j = hi + 1; j <= i1; j++) if (d[j]) { up = j; break; }
    for (Py_ssize_t j = lo - 1; j >= i0; j--) if (d[j]) { down = j; break; }
    while (acc < need) {
        int take_up;
        if (up < 0 && down < 0) break; /* every bin in: only if num/den > 1 */
        if (up >= 0 && down >= 0) {
            long long vu = d[up], vd = d[down];
            take_up = vu > vd || (vu == vd && (up - poc) < (poc - down));
        } else {
            take_up = up >= 0;
        }
        if (take_up) {
            hi = up;
            acc += d[up];
            up = -1;
            for (Py_ssize_t j = hi + 1; j <= i1; j++) if (d[j]) { up = j; break; }
        } else {
            lo = down;
            acc += d[down];
            down = -1;
            for (Py_ssize_t j = lo - 1; j >= i0; j--) if (d[j]) { down = j; break; }
        }
    }
    res[0] = (long long)poc;
    res[1] = (long long)lo;
    res[2] = (long long)hi;
    res[3] = (long long)total;
    res[4] = (long long)acc;
}

/* The levels of the profile held in d[0..len): 0 when it holds no volume, -1 when the total
   passes 64 bits (or num/den is not a fraction), else 1 with res = poc, val, vah (indices into
   d), total, value-area total; *bins (when not NULL) = the number of bins with volume. */
static int levels_of(const long long *d, Py_ssize_t len, long long num, long long den,
                     long long res[5], long long *bins)
{
    Py_ssize_t i0 = -1, i1 = -1;
    for (Py_ssize_t i = 0; i < len; i++)
        if (d[i]) { i0 = i; break; }
    if (i0 < 0) {
        if (bins != NULL) *bins = 0;
        return 0;
    }
    for (Py_ssize_t i = len - 1; i >= i0; i--)
        if (d[i]) { i1 = i; break; }
    if (num < 0 || den <= 0) return -1;
    __int128 total = 0;
    long long best = 0, held = 0;
    Py_ssize_t poc = i0;
    /* The POC: the largest volume; ties: nearest the middle of the range (twice the
       midpoint, in indices), then the lower: the first of equally near ones, scanning up
       (one pass: a larger volume starts over, an equal one wins only when strictly nearer). */
    long long mid2 = (long long)i0 + (long long)i1, best_dist = 0;
    for (Py_ssize_t i = i0; i <= i1; i++) {
        long long v = d[i];
        total += v;
        held += v != 0;
        if (v >= best && v > 0) {
            long long dist = 2 * (long long)i - mid2;
            if (dist < 0) dist = -dist;
            if (v > best || dist < best_dist) {
                best = v;
                poc = i;
                best_dist = dist;
            }
        }
    }
    if (total > (__int128)LLONG_MAX) return -1;
    if (bins != NULL) *bins = held;
    grow_value_area(d, i0, i1, poc, total, num, den, res);
    return 1;
}

/* levels_of's result for a profile d[0..len) whose first and last entries hold volume (the
   range dense_rows keeps trimmed) and whose total (at most LLONG_MAX) is known: the POC by a
   plain maximum (a branch-free pass), then, among the bins holding it, levels_of's tie rule
   (nearest the middle, then the lower: the first of the equally near ones); the value area
   as levels_of grows it. The same comparisons on the same integers: the same poc, val, vah,
   total and value-area total (the tests compare them). Returns 1, or -1 when num/den is not
   a fraction. */
static int levels_trimmed(const long long *d, Py_ssize_t len, long long total, long long num,
                          long long den, long long res[5])
{
    if (num < 0 || den <= 0) return -1;
    long long best = d[0];
    for (Py_ssize_t i = 1; i < len; i++) best = d[i] > best ? d[i] : best;
    if (best <= 0) return levels_of(d, len, num, den, res, NULL); /* no bin above zero */
    Py_ssize_t poc = 0;
    while (d[poc] != best) poc++;
    {
        const long long mid2 = (long long)len - 1; /* i0 + i1 with i0 = 0, i1 = len - 1 */
        long long best_dist = 2 * (long long)poc - mid2;
        if (best_dist < 0) best_dist = -best_dist;
        for (Py_ssize_t i = poc + 1; i < len; i++) {
            if (d[i] != best) continue;
            long long dist = 2 * (long long)i - mid2;
            if (dist < 0) dist = -dist;
            if (dist < best_dist) {
                poc = i;
                best_dist = dist;
            }
        }
    }
    grow_value_area(d, 0, len - 1, poc, total, num, den, res);
    return 1;
}

static PyObject *k_dense_levels(PyObject *self, PyObject *args)
{
    Py_buffer db;
    long long base, num, den;
    if (!PyArg_ParseTuple(args, "y*LLL", &db, &base, &num, &den)) return NULL;
    PyObject *result = NULL;
    if (db.itemsize != 8) {
        PyErr_SetString(PyExc_ValueError, "profile kernel: dense_levels needs an int64 array");
        goto done;
    }
    long long res[5];
    int got = levels_of(db.buf, db.len / 8, num, den, res, NULL);
    if (got == 0)
        result = Py_NewRef(Py_None);
    else if (got < 0)
        result = Py_NewRef(Py_NotImplemented);
    else
        result = Py_BuildValue("(LLLLL)", base + res[0], base + res[1], base + res[2], res[3],
                               res[4]);
done:
    PyBuffer_Release(&db);
    return result;
}

/* dense_poc(dense, base) -> None | poc
   The POC bin of the profile held in the array, as dense_levels reports it (the same rule on
   the same integers: the largest volume; ties: nearest the middle of the range of bins with
   volume, then the lower), without the value area or the total: what a read of the POC alone
   needs. None when the array holds no volume. */
static PyObject *k_dense_poc(PyObject *self, PyObject *args)
{
    Py_buffer db;
    long long base;
    if (!PyArg_ParseTuple(args, "y*L", &db, &base)) return NULL;
    PyObject *result = NULL;
    if (db.itemsize != 8) {
        PyErr_SetString(PyExc_ValueError, "profile kernel: dense_poc needs an int64 array");
        goto done;
    }
    const long long *d = db.buf;
    Py_ssize_t len = db.len / 8;
    /* the largest volume: a branch-free pass, four running maxima (no chain of dependent
       selects through the whole array) */
    long long m0 = 0, m1 = 0, m2 = 0, m3 = 0;
    Py_ssize_t i = 0;
    for (; i + 4 <= len; i += 4) {
        m0 = d[i] > m0 ? d[i] : m0;
        m1 = d[i + 1] > m1 ? d[i + 1] : m1;
        m2 = d[i + 2] > m2 ? d[i + 2] : m2;
        m3 = d[i + 3] > m3 ? d[i + 3] : m3;
    }
    for (; i < len; i++) m0 = d[i] > m0 ? d[i] : m0;
    m0 = m1 > m0 ? m1 : m0;
    m2 = m3 > m2 ? m3 : m2;
    long long best = m2 > m0 ? m2 : m0;
    if (best <= 0) {
        /* no bin above zero: levels_of's answer (no volume, or entries below zero, which
           dense_add never leaves) */
        long long res[5];
        int got = levels_of(d, len, 1, 1, res, NULL);
        result = got == 0 ? Py_NewRef(Py_None) : PyLong_FromLongLong(base + res[0]);
        goto done;
    }
    Py_ssize_t poc = 0, i1 = len - 1;
    while (d[poc] != best) poc++;
    Py_ssize_t again = poc + 1;
    while (again < len && d[again] != best) again++;
    if (again < len) {
        /* the largest volume in more than one bin: levels_of's tie rule over the range of
           bins with volume (its first and last nonzero entries) */
        Py_ssize_t i0 = 0;
        while (d[i0] == 0) i0++;
        while (d[i1] == 0) i1--;
        const long long mid2 = (long long)i0 + (long long)i1;
        long long best_dist = 2 * (long long)poc - mid2;
        if (best_dist < 0) best_dist = -best_dist;
        for (Py_ssize_t i = again; i <= i1; i++) {
            if (d[i] != best) continue;
            long long dist = 2 * (long long)i - mid2;
            if (dist < 0) dist = -dist;
            if (dist < best_dist) {
                poc = i;
                best_dist = dist;
            }
        }
    }
    result = PyLong_FromLongLong(base + (long long)poc);
done:
    PyBuffer_Release(&db);
    return result;
}

/* dense_rows(dense, base, bins, qty, ranges, num, den, out[, extent])
       -> None | (lo, hi) | NotImplemented
   A BlockWindow's closes in one call: for each row i of ranges (int64, n x 4: s0, s1, a0, a1)
   in turn, trades s0..s1 leave the profile and trades a0..a1 enter it (dense_add's rules:
   leaving first, trades with no quantity skipped), then row i of out (int64, n x 7) gets the
   levels: has (0: no volume, 1), poc, val, vah (bins), total, value-area total, and the
   number of bins with volume. Before anything is changed: (lo, hi), the bins needed, when one
   of the trades falls outside the array; NotImplemented when the total could pass 64 bits
   (the caller then takes the per-close path). extent, when given, is bin_trades' (lo, hi,
   qty) of a set of trades holding every trade of the ranges: the array's range and the
   total's bound are checked against it instead of a pass over the rows' trades, and (lo, hi)
   is the range returned (a wider one, at most, than the rows need: the volumes, so the
   levels, are the same wherever the array is centred). */
static PyObject *k_dense_rows(PyObject *self, PyObject *args)
{
    Py_buffer db, rb, ob;
    long long base, num, den;
    PyObject *bins, *qty, *extent = Py_None;
    if (!PyArg_ParseTuple(args, "w*LOOy*LLw*|O", &db, &base, &bins, &qty, &rb, &num, &den, &ob,
                          &extent))
        return NULL;
    PyObject *result = NULL;
    long long ext_lo = 0, ext_hi = -1, ext_q = 0;
    int have_extent = extent != Py_None;
    Trades t;
    if (trades_get(bins, qty, &t) < 0) goto done;
    if (have_extent
        && (!PyArg_ParseTuple(extent, "LLL;profile kernel: dense_rows' extent is (lo, hi, qty)",
                              &ext_lo, &ext_hi, &ext_q)))
        goto done;
    if (have_extent && ext_q < 0) {
        PyErr_SetString(PyExc_ValueError, "profile kernel: dense_rows' extent has a negative "
                                          "quantity bound");
        goto done;
    }
    Py_ssize_t n = rb.len / (4 * 8);
    if (db.itemsize != 8 || rb.itemsize != 8 || rb.len != n * 4 * 8 || ob.itemsize != 8
        || ob.len != n * 7 * 8) {
        PyErr_SetString(PyExc_ValueError, "profile kernel: dense_rows needs int64 arrays: "
                                          "dense, ranges (n x 4) and out (n x 7)");
        goto done;
    }
    long long *dense = db.buf, *out = ob.buf;
    const long long *rg = rb.buf;
    Py_ssize_t len = db.len / 8;
    long long need_lo = 0, need_hi = 0;
    int outside = 0, any = 0;
    __int128 total = 0;
    for (Py_ssize_t i = 0; i < len; i++) total += dense[i];
    if (have_extent) {
        /* bin_trades' extent of every trade with a quantity (a superset of the rows'
           trades): the array's range and the total's bound in O(1); only the ranges are
           checked here */
        for (Py_ssize_t r = 0; r < n; r++) {
            for (int side = 0; side < 2; side++) {
                long long from = rg[4 * r + 2 * side], to = rg[4 * r + 2 * side + 1];
                if (from < to && (from < 0 || to > t.n)) {
                    PyErr_SetString(PyExc_ValueError, "profile kernel: dense_rows range "
                                                      "outside the trades");
                    goto done;
                }
            }
        }
        if (ext_lo <= ext_hi) {
            need_lo = ext_lo;
            need_hi = ext_hi;
            if (ext_lo < base || (unsigned long long)ext_hi - (unsigned long long)base
                                     >= (unsigned long long)len)
                outside = 1;
        }
        total += ext_q;
    }
    for (Py_ssize_t r = 0; r < n && !have_extent; r++) {
        for (int side = 0; side < 2; side++) {
            long long from = rg[4 * r + 2 * side], to = rg[4 * r + 2 * side + 1];
            if (from < 0 || to > t.n || from > to) {
                if (from < to) {
                    PyErr_SetString(PyExc_ValueError, "profile kernel: dense_rows range "
                                                      "outside the trades");
                    goto done;
                }
                continue;
            }
            for (long long k = from; k < to; k++) {
                if (t.q[k] == 0) continue;
                long long b = t.b[k];
                if (!any || b < need_lo) need_lo = b;
                if (!any || b > need_hi) need_hi = b;
                any = 1;
                if (b < base || (unsigned long long)b - (unsigned long long)base
                                    >= (unsigned long long)len)
                    outside = 1;
                if (side == 1) total += t.q[k];
            }
        }
    }
    if (outside) {
        result = Py_BuildValue("(LL)", need_lo, need_hi);
        goto done;
    }
    if (total > (__int128)LLONG_MAX || num < 0 || den <= 0) {
        result = Py_NewRef(Py_NotImplemented);
        goto done;
    }
    /* From here on only the buffers are read and written: without the GIL (the profile's
       block set-up runs on a thread of its own beside the other analyzers': blocks.py). */
    int below_zero = 0;
    Py_BEGIN_ALLOW_THREADS
    /* The bins with volume lie in [nz0, nz1] (empty when nz0 > nz1): the levels scan that
       range, not the whole array (which spans the block's prices). */
    Py_ssize_t nz0 = len, nz1 = -1;
    for (Py_ssize_t i = 0; i < len; i++)
        if (dense[i]) { nz0 = i; break; }
    for (Py_ssize_t i = len - 1; i >= nz0; i--)
        if (dense[i]) { nz1 = i; break; }
    /* The total and the number of bins with volume, kept up to date trade by trade (the
       total stays within 64 bits: checked above). */
    long long tot = 0, held = 0;
    for (Py_ssize_t i = nz0; i <= nz1; i++) {
        tot += dense[i];
        held += dense[i] != 0;
    }
    for (Py_ssize_t r = 0; r < n; r++) {
        for (int side = 0; side < 2; side++) {
            long long from = rg[4 * r + 2 * side], to = rg[4 * r + 2 * side + 1];
            for (long long k = from; k < to; k++) {
                long long q = t.q[k];
                if (q == 0) continue;
                Py_ssize_t at = (Py_ssize_t)(t.b[k] - base);
                long long *v = &dense[at];
                long long was = *v;
                if (side == 1) {
                    if (at < nz0) nz0 = at;
                    if (at > nz1) nz1 = at;
                }
                if (side == 0) {
                    if (*v < q) {
                        below_zero = 1;
                        goto applied;
                    }
                    *v -= q;
                    tot -= q;
                } else {
                    *v += q; /* no overflow: every bin is at most the total, checked above */
                    tot += q;
                }
                held += (long long)(*v != 0) - (long long)(was != 0);
            }
        }
        while (nz0 <= nz1 && dense[nz0] == 0) nz0++;
        while (nz1 >= nz0 && dense[nz1] == 0) nz1--;
        long long res[5], *o = out + 7 * r;
        int got = nz0 > nz1 ? 0 : levels_trimmed(dense + nz0, nz1 - nz0 + 1, tot, num, den, res);
        o[0] = got;
        if (got == 1) {
            o[1] = base + (long long)nz0 + res[0];
            o[2] = base + (long long)nz0 + res[1];
            o[3] = base + (long long)nz0 + res[2];
            o[4] = res[3];
            o[5] = res[4];
        } else {
            o[1] = o[2] = o[3] = o[4] = o[5] = 0;
        }
        o[6] = got == 1 ? held : 0;
    }
applied:
    Py_END_ALLOW_THREADS
    if (below_zero) {
        PyErr_SetString(PyExc_ValueError,
                        "profile analyzer: a price bin's volume would go below zero (a trade "
                        "removed from the window that was never added)");
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    trades_release(&t);
    PyBuffer_Release(&db);
    PyBuffer_Release(&rb);
    PyBuffer_Release(&ob);
    return result;
}

/* bin_trades(ts, price, size, tick, bin_ticks, quantum, cutoffs, bins, qty, first)
       -> None | NotImplemented
   A BlockWindow's trades in one pass (what its numpy path computes, the same integers):
   bins[i] = floor(int64(rint(price[i] / tick)) / bin_ticks), qty[i] = int64(rint(size[i] /
   quantum)) (rint rounds half to even, as np.rint and round() do), and first (int64, rows +
   1): first[r] = the first trade whose time is before no more than r - 1 of the sorted
   cutoffs (numpy: searchsorted(leave, r) with leave = searchsorted(cutoffs, ts, "right")),
   the trade count when there is none. Returns the trades' extent (lo, hi, qty): the lowest
   and highest bins of the trades with a nonzero quantity (lo > hi when there is none) and
   the sum of the positive quantities (-1 when it passes 64 bits), for dense_rows.
   NotImplemented, with the outputs partly written, when the times are not sorted or a
   rounded value is not a finite int64 (numpy's cast of those is left to numpy). */
static PyObject *k_bin_trades(PyObject *self, PyObject *args)
{
    Py_buffer tb, pb, sb, cb, bb, qb, fb;
    double tick, quantum;
    long long bin_ticks;
    if (!PyArg_ParseTuple(args, "y*y*y*dLdy*w*w*w*", &tb, &pb, &sb, &tick, &bin_ticks, &quantum,
                          &cb, &bb, &qb, &fb))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = tb.len / 8, rows = cb.len / 8;
    if (tb.itemsize != 8 || pb.itemsize != 8 || sb.itemsize != 8 || cb.itemsize != 8
        || bb.itemsize != 8 || qb.itemsize != 8 || fb.itemsize != 8 || pb.len != tb.len
        || sb.len != tb.len || bb.len != tb.len || qb.len != tb.len
        || fb.len != (rows + 1) * 8 || bin_ticks < 1) {
        PyErr_SetString(PyExc_ValueError, "profile kernel: bin_trades' arrays do not match");
        goto done;
    }
    const long long *ts = tb.buf, *cut = cb.buf;
    const double *price = pb.buf, *size = sb.buf;
    long long *bins = bb.buf, *qty = qb.buf, *first = fb.buf;
    const double lim = 9223372036854775808.0; /* 2**63 */
    const double small = 2251799813685248.0;  /* 2**51 */
    const double kd = (double)bin_ticks;
    Py_ssize_t j = 0, r_next = 1;
    long long ext_lo = 0, ext_hi = -1;
    __int128 ext_q = 0;
    int unsorted_or_wide = 0;
    /* Only the buffers are read and written: without the GIL (see dense_rows). */
    Py_BEGIN_ALLOW_THREADS
    first[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        double b = price[i] / tick, q = size[i] / quantum;
        /* Below 2**51 in size, adding and taking away 1.5 * 2**52 rounds to the nearest
           integer, ties to even (the default rounding mode), as rint does without its call. */
        b = (b > -small && b < small) ? (b + 6755399441055744.0) - 6755399441055744.0 : rint(b);
        q = (q > -small && q < small) ? (q + 6755399441055744.0) - 6755399441055744.0 : rint(q);
        if (!(b >= -lim && b < lim && q >= -lim && q < lim)
            || (i > 0 && ts[i] < ts[i - 1])) {
            unsorted_or_wide = 1;
            break;
        }
        long long d;
        if (bin_ticks == 1) {
            d = (long long)b;
        } else if (b > -small && b < small) {
            /* floor(b / k) without a 64-bit integer division: |b| < 2**51 is an exact
               integer and b / k, correctly rounded, never rounds across an integer (the
               distance to the next one, at least 1/k, is more than the quotient's ulp) */
            double t = b / kd;
            d = (long long)t;
            if ((double)d > t) d -= 1;
        } else {
            long long x = (long long)b;
            d = x / bin_ticks;
            if (x % bin_ticks != 0 && x < 0) d -= 1; /* floor, as numpy's // */
        }
        bins[i] = d;
        qty[i] = (long long)q;
        if (qty[i] != 0) {
            if (ext_lo > ext_hi) ext_lo = ext_hi = d;
            if (d < ext_lo) ext_lo = d;
            if (d > ext_hi) ext_hi = d;
            if (qty[i] > 0) ext_q += qty[i];
        }
        while (j < rows && cut[j] <= ts[i]) j++;
        while (r_next <= j) first[r_next++] = i;
    }
    while (!unsorted_or_wide && r_next <= rows) first[r_next++] = n;
    Py_END_ALLOW_THREADS
    if (unsorted_or_wide) {
        result = Py_NewRef(Py_NotImplemented);
        goto done;
    }
    result = Py_BuildValue("(LLL)", ext_lo, ext_hi,
                           ext_q > (__int128)LLONG_MAX ? -1LL : (long long)ext_q);
done:
    PyBuffer_Release(&tb);
    PyBuffer_Release(&pb);
    PyBuffer_Release(&sb);
    PyBuffer_Release(&cb);
    PyBuffer_Release(&bb);
    PyBuffer_Release(&qb);
    PyBuffer_Release(&fb);
    return result;
}

/* ---- zones and gaps over a block's rows (zones.py's ZoneBook, fvg.py's GapBook, the
   analyzer's last price: ProfileAnalyzer.on_block's per-row steps, the same float operations
   in the same order, so the same bits).

   zone_gap_rows(ends, cand_i, cand_f, ts, price, nows, now0, sum, si, sf, pi, pf, zi, zf, gi,
                 gf, ring, out)
       -> tuple of the indices of the gap timeframe's candles of the block (its last three at
          most)
   ends: int64, each row's tick_end; the block's candles in the aggregator's order, cand_i
   int64 (n x 3): row, timeframe, open time; cand_f float64 (n x 5): open, high, low, close,
   volume; ts, price: the block's trades (int64, float64);
   nows: int64, the profile's now after each row; now0: before the block; sum: the builtin
   sum (ZoneBook re-sums its volumes with it every volume_period candles; the kernel calls
   it on the same floats, so whatever sum() does in this Python, the same bits).
   State in and out (numpy arrays, written back):
     si int64: nz, ng, ring_len, ring_head, updates, zone_seq, gap_seq, price_ts, n_last3,
               last3 close_ts x3
     sf float64: price, volume_sum, last3 high x3, last3 low x3
     zi int64 (cap_z x 5): kind (0 demand, 1 supply), created, tests, in_contact, seq
     zf float64 (cap_z x 3): low, high, volume_ratio
     gi int64 (cap_g x 3): bullish, created, seq;  gf float64 (cap_g x 3): bottom, top, extreme
     ring float64 (volume_period): the zone volumes, oldest at ring_head
   pi int64: zone_tf, gap_tf, gap_max_age, volume_period, max_zones, tested_max
   pf float64: volume_factor, wick_ratio, fresh, tested, weak, min_gap_pct
   out float64 (rows x 14): demand low, high, strength, distance; supply low, high, strength,
   distance; fvg bull low, high, fill; fvg bear low, high, fill (NaN where undefined). */

enum { S_NZ, S_NG, S_RLEN, S_RHEAD, S_UPD, S_ZSEQ, S_GSEQ, S_PTS, S_N3, S_L3TS };
enum { F_PRICE, F_VSUM, F_L3H, F_L3L = F_L3H + 3 };
#define ZG_OUT 14

typedef struct {
    long long *si, *zi, *gi;
    double *sf, *zf, *gf, *ring;
    Py_ssize_t cap_z, cap_g, period;
    long long zone_tf, gap_tf, max_age, max_zones, tested_max;
    double factor, wick, fresh, tested, weak, min_gap;
    PyObject *sum;
} ZG;

static double zg_strength(const ZG *s, long long tests)
{
    if (tests == 0) return s->fresh;
    return tests <= s->tested_max ? s->tested : s->weak;
}

static void zg_gaps_see(ZG *s, const long long *ts, const double *price, Py_ssize_t a,
                        Py_ssize_t b)
{
    /* GapBook.on_ticks over trades a..b (numpy's min/max: NaN if any is NaN) */
    long long ng = s->si[S_NG];
    if (b <= a || ng == 0) return;
    long long first = ts[a];
    double lo = 0, hi = 0;
    int have = 0;
    for (long long j = 0; j < ng; j++) {
        long long *g = s->gi + 3 * j;
        double *f = s->gf + 3 * j;
        double l, h;
        if (first >= g[1]) {
            if (!have) {
                lo = hi = price[a];
                for (Py_ssize_t k = a + 1; k < b; k++) {
                    double x = price[k];
                    if (isnan(lo)) break;
                    if (isnan(x)) { lo = hi = x; break; }
                    if (x < lo) lo = x;
                    if (x > hi) hi = x;
                }
                have = 1;
            }
            l = lo;
            h = hi;
        } else {
            Py_ssize_t lft = a, rgt = b; /* first trade at or after the gap's creation */
            while (lft < rgt) {
                Py_ssize_t mid = lft + (rgt - lft) / 2;
                if (ts[mid] < g[1]) lft = mid + 1; else rgt = mid;
            }
            if (lft >= b) continue;
            l = h = price[lft];
            for (Py_ssize_t k = lft + 1; k < b; k++) {
                double x = price[k];
                if (isnan(l)) break;
                if (isnan(x)) { l = h = x; break; }
                if (x < l) l = x;
                if (x > h) h = x;
            }
        }
        if (g[0]) { if (l < f[2]) f[2] = l; }
        else if (h > f[2]) f[2] = h;
    }
}

static void zg_gap_keep(ZG *s, long long from, long long to)
{
    if (from != to) {
        memcpy(s->gi + 3 * to, s->gi + 3 * from, 3 * sizeof(long long));
        memcpy(s->gf + 3 * to, s->gf + 3 * from, 3 * sizeof(double));
    }
}

static void zg_gaps_drop(ZG *s, long long now)
{
    long long ng = s->si[S_NG], kept = 0;
    for (long long j = 0; j < ng; j++) {
        const long long *g = s->gi + 3 * j;
        const double *f = s->gf + 3 * j;
        int filled = g[0] ? f[2] <= f[0] : f[2] >= f[1];
        if (!filled && now - g[1] < s->max_age) zg_gap_keep(s, j, kept++);
    }
    s->si[S_NG] = kept;
}

static int zg_gaps_candle(ZG *s, long long tf, long long opened, long long closed, double high,
                          double low)
{
    long long ng = s->si[S_NG];
    if (tf <= s->gap_tf && ng) {
        long long kept = 0;
        for (long long j = 0; j < ng; j++) {
            long long *g = s->gi + 3 * j;
            double *f = s->gf + 3 * j;
            if (g[0]) {
                if (opened >= g[1] && low < f[2]) f[2] = low;
                if (f[2] <= f[0]) continue;
            } else {
                if (opened >= g[1] && high > f[2]) f[2] = high;
                if (f[2] >= f[1]) continue;
            }
            if (closed - g[1] < s->max_age) zg_gap_keep(s, j, kept++);
        }
        s->si[S_NG] = kept;
    } else {
        zg_gaps_drop(s, closed);
    }
    if (tf != s->gap_tf) return 0;
    long long n3 = s->si[S_N3];
    if (n3 == 3) {
        for (int k = 0; k < 2; k++) {
            s->si[S_L3TS + k] = s->si[S_L3TS + k + 1];
            s->sf[F_L3H + k] = s->sf[F_L3H + k + 1];
            s->sf[F_L3L + k] = s->sf[F_L3L + k + 1];
        }
        n3 = 2;
    }
    s->si[S_L3TS + n3] = closed;
    s->sf[F_L3H + n3] = high;
    s->sf[F_L3L + n3] = low;
    s->si[S_N3] = ++n3;
    if (n3 < 3) return 0;
    double h1 = s->sf[F_L3H], l1 = s->sf[F_L3L], h3 = s->sf[F_L3H + 2], l3 = s->sf[F_L3L + 2];
    int bullish;
    double bottom, top;
    if (h1 < l3) { bullish = 1; bottom = h1; top = l3; }
    else if (l1 > h3) { bullish = 0; bottom = h3; top = l1; }
    else return 0;
    if (bottom > 0 && (top - bottom) / bottom < s->min_gap) return 0;
    ng = s->si[S_NG];
    if (ng >= s->cap_g) {
        PyErr_SetString(PyExc_RuntimeError, "profile kernel: gap capacity exceeded");
        return -1;
    }
    long long *g = s->gi + 3 * ng;
    double *f = s->gf + 3 * ng;
    g[0] = bullish;
    g[1] = closed;
    g[2] = s->si[S_GSEQ]++;
    f[0] = bottom;
    f[1] = top;
    f[2] = bullish ? top : bottom;
    s->si[S_NG] = ng + 1;
    return 0;
}

static int zg_zone_add(ZG *s, int kind, double low, double high, long long created, double ratio)
{
    long long nz = s->si[S_NZ];
    if (nz >= s->cap_z) {
        PyErr_SetString(PyExc_RuntimeError, "profile kernel: zone capacity exceeded");
        return -1;
    }
    long long *z = s->zi + 5 * nz;
    double *f = s->zf + 3 * nz;
    z[0] = kind;
    z[1] = created;
    z[2] = 0;
    z[3] = 1;
    z[4] = s->si[S_ZSEQ]++;
    f[0] = low;
    f[1] = high;
    f[2] = ratio;
    s->si[S_NZ] = ++nz;
    if (nz > s->max_zones) {
        /* min by (strength, created, seq): the first minimal one */
        long long v = 0;
        for (long long j = 1; j < nz; j++) {
            const long long *a = s->zi + 5 * j, *b = s->zi + 5 * v;
            double sa = zg_strength(s, a[2]), sb = zg_strength(s, b[2]);
            int less = sa != sb ? sa < sb : (a[1] != b[1] ? a[1] < b[1] : a[4] < b[4]);
            if (less) v = j;
        }
        memmove(s->zi + 5 * v, s->zi + 5 * (v + 1), (size_t)(nz - v - 1) * 5 * sizeof(long long));
        memmove(s->zf + 3 * v, s->zf + 3 * (v + 1), (size_t)(nz - v - 1) * 3 * sizeof(double));
        s->si[S_NZ] = nz - 1;
    }
    return 0;
}

static int zg_zones_candle(ZG *s, long long closed, double open, double high, double low,
                           double close, double volume)
{
    /* _meet */
    long long nz = s->si[S_NZ], kept = 0;
    for (long long j = 0; j < nz; j++) {
        long long *z = s->zi + 5 * j;
        double *f = s->zf + 3 * j;
        if (z[0] == 0 ? close < f[0] : close > f[1]) continue;
        int touching = low <= f[1] && high >= f[0];
        if (touching && !z[3]) z[2] += 1;
        z[3] = touching;
        if (kept != j) {
            memcpy(s->zi + 5 * kept, z, 5 * sizeof(long long));
            memcpy(s->zf + 3 * kept, f, 3 * sizeof(double));
        }
        kept++;
    }
    s->si[S_NZ] = kept;
    /* _create */
    Py_ssize_t P = s->period;
    if (s->si[S_RLEN] >= P) {
        double mean = s->sf[F_VSUM] / (double)P;
        double rng = high - low;
        if (volume > s->factor * mean && rng > 0) {
            double ratio = mean > 0 ? volume / mean : Py_NAN;
            double body_low = close < open ? close : open;
            double body_high = close > open ? close : open;
            if ((body_low - low) / rng >= s->wick
                && zg_zone_add(s, 0, low, body_low, closed, ratio) < 0)
                return -1;
            if ((high - body_high) / rng >= s->wick
                && zg_zone_add(s, 1, body_high, high, closed, ratio) < 0)
                return -1;
        }
    }
    /* _push_volume */
    long long len = s->si[S_RLEN], head = s->si[S_RHEAD];
    s->sf[F_VSUM] += volume;
    if (len < P) {
        s->ring[(head + len) % P] = volume;
        s->si[S_RLEN] = ++len;
    } else {
        double gone = s->ring[head];
        s->ring[head] = volume;
        s->si[S_RHEAD] = head = (head + 1) % P;
        s->sf[F_VSUM] -= gone;
    }
    s->si[S_UPD] += 1;
    if (s->si[S_UPD] % P == 0) {
        PyObject *list = PyList_New(len);
        if (list == NULL) return -1;
        for (long long k = 0; k < len; k++) {
            PyObject *x = PyFloat_FromDouble(s->ring[(head + k) % P]);
            if (x == NULL) {
                Py_DECREF(list);
                return -1;
            }
            PyList_SET_ITEM(list, k, x);
        }
        PyObject *got = PyObject_CallOneArg(s->sum, list);
        Py_DECREF(list);
        if (got == NULL) return -1;
        double v = PyFloat_AsDouble(got);
        Py_DECREF(got);
        if (v == -1.0 && PyErr_Occurred()) return -1;
        s->sf[F_VSUM] = v;
    }
    return 0;
}

static void zg_outputs(const ZG *s, double *o)
{
    for (int k = 0; k < ZG_OUT; k++) o[k] = Py_NAN;
    double price = s->sf[F_PRICE];
    long long nz = s->si[S_NZ], ng = s->si[S_NG];
    if (!isnan(price) && price > 0) {
        long long best = -1;
        double bk = 0, bs = 0;
        for (long long j = 0; j < nz; j++) { /* max by (min(high, price), strength, seq) */
            const long long *z = s->zi + 5 * j;
            const double *f = s->zf + 3 * j;
            if (z[0] != 0 || !(f[0] <= price)) continue;
            double k1 = price < f[1] ? price : f[1], k2 = zg_strength(s, z[2]);
            if (best < 0 || (k1 != bk ? k1 > bk : (k2 != bs ? k2 > bs : z[4] > s->zi[5 * best + 4]))) {
                best = j;
                bk = k1;
                bs = k2;
            }
        }
        if (best >= 0) {
            const double *f = s->zf + 3 * best;
            double d = price - f[1];
            o[0] = f[0];
            o[1] = f[1];
            o[2] = bs;
            o[3] = (d > 0.0 ? d : 0.0) / price;
        }
        best = -1;
        for (long long j = 0; j < nz; j++) { /* min by (max(low, price), -strength, -seq) */
            const long long *z = s->zi + 5 * j;
            const double *f = s->zf + 3 * j;
            if (z[0] != 1 || !(f[1] >= price)) continue;
            double k1 = price > f[0] ? price : f[0], k2 = -zg_strength(s, z[2]);
            if (best < 0
                || (k1 != bk ? k1 < bk
                             : (k2 != bs ? k2 < bs : -z[4] < -s->zi[5 * best + 4]))) {
                best = j;
                bk = k1;
                bs = k2;
            }
        }
        if (best >= 0) {
            const double *f = s->zf + 3 * best;
            double d = f[0] - price;
            o[4] = f[0];
            o[5] = f[1];
            o[6] = zg_strength(s, s->zi[5 * best + 2]);
            o[7] = (d > 0.0 ? d : 0.0) / price;
        }
    }
    long long bull = -1, bear = -1;
    double bt = 0, bb = 0;
    for (long long j = 0; j < ng; j++) {
        const long long *g = s->gi + 3 * j;
        const double *f = s->gf + 3 * j;
        if (g[0]) { /* max by (open_top, seq); open_top = min(top, extreme) */
            double k1 = f[2] < f[1] ? f[2] : f[1];
            if (bull < 0 || (k1 != bt ? k1 > bt : g[2] > s->gi[3 * bull + 2])) {
                bull = j;
                bt = k1;
            }
        } else { /* min by (open_bottom, -seq); open_bottom = max(bottom, extreme) */
            double k1 = f[2] > f[0] ? f[2] : f[0];
            if (bear < 0 || (k1 != bb ? k1 < bb : -g[2] < -s->gi[3 * bear + 2])) {
                bear = j;
                bb = k1;
            }
        }
    }
    if (bull >= 0) {
        const double *f = s->gf + 3 * bull;
        double y = (f[1] - f[2]) / (f[1] - f[0]);
        y = y > 0.0 ? y : 0.0;
        o[8] = f[0];
        o[9] = bt;
        o[10] = y < 1.0 ? y : 1.0;
    }
    if (bear >= 0) {
        const double *f = s->gf + 3 * bear;
        double y = (f[2] - f[0]) / (f[1] - f[0]);
        y = y > 0.0 ? y : 0.0;
        o[11] = bb;
        o[12] = f[1];
        o[13] = y < 1.0 ? y : 1.0;
    }
}

static PyObject *k_zone_gap_rows(PyObject *self, PyObject *args)
{
    PyObject *sum;
    Py_buffer eb, cib, cfb, tb, pb, nb, sib, sfb, pib, pfb, zib, zfb, gib, gfb, rb, ob;
    long long now0;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*LOw*w*y*y*w*w*w*w*w*w*", &eb, &cib, &cfb, &tb, &pb,
                          &nb, &now0, &sum, &sib, &sfb, &pib, &pfb, &zib, &zfb, &gib, &gfb, &rb,
                          &ob))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n_rows = eb.len / 8, n_ticks = tb.len / 8, n_candles = cib.len / (3 * 8);
    if (eb.itemsize != 8 || tb.itemsize != 8 || cib.itemsize != 8 || pb.len != tb.len
        || nb.len != n_rows * 8 || cib.len != n_candles * 3 * 8 || cfb.len != n_candles * 5 * 8
        || sib.len < 12 * 8 || sfb.len < 8 * 8 || pib.len < 6 * 8 || pfb.len < 6 * 8
        || ob.len != n_rows * ZG_OUT * 8 || zib.len / (5 * 8) != zfb.len / (3 * 8)
        || gib.len / (3 * 8) != gfb.len / (3 * 8)) {
        PyErr_SetString(PyExc_ValueError, "profile kernel: zone_gap_rows' arrays do not match");
        goto done;
    }
    const long long *pi = pib.buf;
    const double *pf = pfb.buf;
    ZG s = {
        .si = sib.buf, .zi = zib.buf, .gi = gib.buf, .sf = sfb.buf, .zf = zfb.buf,
        .gf = gfb.buf, .ring = rb.buf, .cap_z = zib.len / (5 * 8), .cap_g = gib.len / (3 * 8),
        .period = rb.len / 8, .zone_tf = pi[0], .gap_tf = pi[1], .max_age = pi[2],
        .max_zones = pi[4], .tested_max = pi[5], .factor = pf[0], .wick = pf[1],
        .fresh = pf[2], .tested = pf[3], .weak = pf[4], .min_gap = pf[5], .sum = sum,
    };
    if (s.period != pi[3] || s.period < 1) {
        PyErr_SetString(PyExc_ValueError, "profile kernel: the volume ring is not volume_period");
        goto done;
    }
    const long long *ends = eb.buf, *ts = tb.buf, *nows = nb.buf, *ci_ = cib.buf;
    const double *price = pb.buf, *cf = cfb.buf;
    double *out = ob.buf;
    long long now = now0;
    Py_ssize_t start = 0, k = 0;
    Py_ssize_t mine[3] = {-1, -1, -1}; /* the block's last three gap-timeframe candles */
    int n_mine = 0;
    for (Py_ssize_t r = 0; r < n_rows; r++) {
        long long end = ends[r];
        if (end < start || end > n_ticks) {
            PyErr_Format(PyExc_ValueError, "profile kernel: row %zd's tick_end %lld is outside "
                         "the block's trades", r, end);
            goto done;
        }
        if (k < n_candles && ci_[3 * k] < r) {
            PyErr_SetString(PyExc_ValueError, "profile kernel: the candles' rows are not sorted");
            goto done;
        }
        if (end > start) {
            long long last_ts = ts[end - 1];
            if (last_ts + 1 > now) now = last_ts + 1;
            if (s.si[S_NG]) {
                zg_gaps_see(&s, ts, price, start, (Py_ssize_t)end);
                zg_gaps_drop(&s, now);
            }
            if (last_ts + 1 >= s.si[S_PTS]) {
                s.sf[F_PRICE] = price[end - 1];
                s.si[S_PTS] = last_ts + 1;
            }
            start = (Py_ssize_t)end;
        }
        for (; k < n_candles && ci_[3 * k] == r; k++) {
            long long tf = ci_[3 * k + 1], opened = ci_[3 * k + 2];
            const double *c = cf + 5 * k; /* open, high, low, close, volume */
            long long closed = opened + tf;
            if (tf == s.zone_tf && zg_zones_candle(&s, closed, c[0], c[1], c[2], c[3], c[4]) < 0)
                goto done;
            if (zg_gaps_candle(&s, tf, opened, closed, c[1], c[2]) < 0) goto done;
            if (tf == s.gap_tf) {
                if (n_mine == 3) {
                    mine[0] = mine[1];
                    mine[1] = mine[2];
                    n_mine = 2;
                }
                mine[n_mine++] = k;
            }
            if (closed >= s.si[S_PTS]) {
                s.sf[F_PRICE] = c[3];
                s.si[S_PTS] = closed;
            }
        }
        if (nows[r] > now) now = nows[r];
        zg_outputs(&s, out + (Py_ssize_t)ZG_OUT * r);
    }
    if (k != n_candles) {
        PyErr_SetString(PyExc_ValueError, "profile kernel: a candle's row is past the last row");
        goto done;
    }
    result = PyTuple_New(n_mine);
    if (result == NULL) goto done;
    for (int j = 0; j < n_mine; j++) {
        PyObject *x = PyLong_FromSsize_t(mine[j]);
        if (x == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyTuple_SET_ITEM(result, j, x);
    }
done:
    PyBuffer_Release(&eb);
    PyBuffer_Release(&cib);
    PyBuffer_Release(&cfb);
    PyBuffer_Release(&tb);
    PyBuffer_Release(&pb);
    PyBuffer_Release(&nb);
    PyBuffer_Release(&sib);
    PyBuffer_Release(&sfb);
    PyBuffer_Release(&pib);
    PyBuffer_Release(&pfb);
    PyBuffer_Release(&zib);
    PyBuffer_Release(&zfb);
    PyBuffer_Release(&gib);
    PyBuffer_Release(&gfb);
    PyBuffer_Release(&rb);
    PyBuffer_Release(&ob);
    return result;
}

static PyMethodDef methods[] = {
    {"bin_trades", k_bin_trades, METH_VARARGS,
     "bin_trades(ts, price, size, tick, bin_ticks, quantum, cutoffs, bins, qty, first) -> "
     "(lo, hi, qty) | NotImplemented"},
    {"dense_add", k_dense_add, METH_VARARGS,
     "dense_add(dense, base, bins, qty, sign) -> change of the total | (lo, hi) needed"},
    {"dense_levels", k_dense_levels, METH_VARARGS,
     "dense_levels(dense, base, num, den) -> None | (poc_bin, val_bin, vah_bin, total, va)"},
    {"dense_poc", k_dense_poc, METH_VARARGS,
     "dense_poc(dense, base) -> None | poc_bin (dense_levels' POC alone)"},
    {"dense_rows", k_dense_rows, METH_VARARGS,
     "dense_rows(dense, base, bins, qty, ranges, num, den, out[, extent]) -> None | (lo, hi) "
     "| NotImplemented"},
    {"value_area", k_value_area, METH_VARARGS,
     "value_area(volume, num, den) -> None | (poc_bin, val_bin, vah_bin, total, va_total)"},
    {"apply_ranges", k_apply_ranges, METH_VARARGS,
     "apply_ranges(volume, bins, qty, s0, s1, a0, a1) -> change of the total"},
    {"zone_gap_rows", k_zone_gap_rows, METH_VARARGS,
     "zone_gap_rows(ends, cand_i, cand_f, ts, price, nows, now0, sum, si, sf, pi, pf, zi, zf, "
     "gi, gf, ring, out) -> indices of the block's last gap-timeframe candles"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernel", "The profile analyzer's compiled kernels.", -1, methods,
};

PyMODINIT_FUNC PyInit__kernel(void) { return PyModule_Create(&module); }
