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
    for (Py_ssize_t i = i0; i <= i1; i++) {
        total += d[i];
        held += d[i] != 0;
        if (d[i] > best) { best = d[i]; poc = i; }
    }
    if (total > (__int128)LLONG_MAX) return -1;
    if (bins != NULL) *bins = held;
    {
        /* ties: nearest the middle of the range (twice the midpoint, in indices), then the
           lower: the first of equally near ones, scanning up */
        long long mid2 = (long long)i0 + (long long)i1, best_dist = -1;
        for (Py_ssize_t i = poc; i <= i1; i++) {
            if (d[i] != best) continue;
            long long dist = 2 * (long long)i - mid2;
            if (dist < 0) dist = -dist;
            if (best_dist < 0 || dist < best_dist) { best_dist = dist; poc = i; }
        }
    }
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

/* dense_rows(dense, base, bins, qty, ranges, num, den, out) -> None | (lo, hi) | NotImplemented
   A BlockWindow's closes in one call: for each row i of ranges (int64, n x 4: s0, s1, a0, a1)
   in turn, trades s0..s1 leave the profile and trades a0..a1 enter it (dense_add's rules:
   leaving first, trades with no quantity skipped), then row i of out (int64, n x 7) gets the
   levels: has (0: no volume, 1), poc, val, vah (bins), total, value-area total, and the
   number of bins with volume. Before anything is changed: (lo, hi), the bins needed, when one
   of the trades falls outside the array; NotImplemented when the total could pass 64 bits
   (the caller then takes the per-close path). */
static PyObject *k_dense_rows(PyObject *self, PyObject *args)
{
    Py_buffer db, rb, ob;
    long long base, num, den;
    PyObject *bins, *qty;
    if (!PyArg_ParseTuple(args, "w*LOOy*LLw*", &db, &base, &bins, &qty, &rb, &num, &den, &ob))
        return NULL;
    PyObject *result = NULL;
    Trades t;
    if (trades_get(bins, qty, &t) < 0) goto done;
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
    for (Py_ssize_t r = 0; r < n; r++) {
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
    /* The bins with volume lie in [nz0, nz1] (empty when nz0 > nz1): the levels scan that
       range, not the whole array (which spans the block's prices). */
    Py_ssize_t nz0 = len, nz1 = -1;
    for (Py_ssize_t i = 0; i < len; i++)
        if (dense[i]) { nz0 = i; break; }
    for (Py_ssize_t i = len - 1; i >= nz0; i--)
        if (dense[i]) { nz1 = i; break; }
    for (Py_ssize_t r = 0; r < n; r++) {
        for (int side = 0; side < 2; side++) {
            long long from = rg[4 * r + 2 * side], to = rg[4 * r + 2 * side + 1];
            for (long long k = from; k < to; k++) {
                long long q = t.q[k];
                if (q == 0) continue;
                Py_ssize_t at = (Py_ssize_t)(t.b[k] - base);
                long long *v = &dense[at];
                if (side == 1) {
                    if (at < nz0) nz0 = at;
                    if (at > nz1) nz1 = at;
                }
                if (side == 0) {
                    if (*v < q) {
                        PyErr_SetString(PyExc_ValueError,
                                        "profile analyzer: a price bin's volume would go below "
                                        "zero (a trade removed from the window that was never "
                                        "added)");
                        goto done;
                    }
                    *v -= q;
                } else {
                    *v += q; /* no overflow: every bin is at most the total, checked above */
                }
            }
        }
        while (nz0 <= nz1 && dense[nz0] == 0) nz0++;
        while (nz1 >= nz0 && dense[nz1] == 0) nz1--;
        long long res[5], held = 0, *o = out + 7 * r;
        int got = nz0 > nz1 ? 0 : levels_of(dense + nz0, nz1 - nz0 + 1, num, den, res, &held);
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
        o[6] = held;
    }
    result = Py_NewRef(Py_None);
done:
    trades_release(&t);
    PyBuffer_Release(&db);
    PyBuffer_Release(&rb);
    PyBuffer_Release(&ob);
    return result;
}

static PyMethodDef methods[] = {
    {"dense_add", k_dense_add, METH_VARARGS,
     "dense_add(dense, base, bins, qty, sign) -> change of the total | (lo, hi) needed"},
    {"dense_levels", k_dense_levels, METH_VARARGS,
     "dense_levels(dense, base, num, den) -> None | (poc_bin, val_bin, vah_bin, total, va)"},
    {"dense_rows", k_dense_rows, METH_VARARGS,
     "dense_rows(dense, base, bins, qty, ranges, num, den, out) -> None | (lo, hi) | "
     "NotImplemented"},
    {"value_area", k_value_area, METH_VARARGS,
     "value_area(volume, num, den) -> None | (poc_bin, val_bin, vah_bin, total, va_total)"},
    {"apply_ranges", k_apply_ranges, METH_VARARGS,
     "apply_ranges(volume, bins, qty, s0, s1, a0, a1) -> change of the total"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernel", "The profile analyzer's compiled kernels.", -1, methods,
};

PyMODINIT_FUNC PyInit__kernel(void) { return PyModule_Create(&module); }
