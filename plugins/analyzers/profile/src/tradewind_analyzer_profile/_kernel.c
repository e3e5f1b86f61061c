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

static PyMethodDef methods[] = {
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
