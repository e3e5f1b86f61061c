/* The profile analyzer's compiled kernels: the value area of a volume profile, and the
   per-close update of the profile's volume dict by a BlockWindow.

   Everything here is integer arithmetic on bin indices and volumes in quanta, so the results
   are exactly those of the pure-Python code in market_profile.py (value_area and
   BlockWindow.row), which the tests compare against. Anything that does not fit in 64 bits
   (or a volume that is not positive) returns NotImplemented and the caller takes the Python
   path.

   value_area(volume, num, den) -> None | (poc_bin, val_bin, vah_bin, total, value_area_total)
       volume: dict bin -> volume (ints); the value area holds at least num/den of the total.
   apply(volume, bins, qty, lo, hi) -> change of the total
       volume[bins[i]] += qty[i] for lo <= i < hi, deleting bins that reach zero. */

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

static PyObject *k_apply(PyObject *self, PyObject *args)
{
    PyObject *volume, *bins, *qty;
    Py_ssize_t lo, hi;
    if (!PyArg_ParseTuple(args, "O!O!O!nn", &PyDict_Type, &volume, &PyList_Type, &bins,
                          &PyList_Type, &qty, &lo, &hi))
        return NULL;
    if (lo < 0 || hi < lo || hi > PyList_GET_SIZE(bins) || hi > PyList_GET_SIZE(qty)) {
        PyErr_SetString(PyExc_IndexError, "profile kernel: apply's range is outside the lists");
        return NULL;
    }
    PyObject *change = PyLong_FromLong(0);
    if (change == NULL) return NULL;
    for (Py_ssize_t i = lo; i < hi; i++) {
        PyObject *b = PyList_GET_ITEM(bins, i), *q = PyList_GET_ITEM(qty, i);
        PyObject *old = PyDict_GetItemWithError(volume, b); /* borrowed */
        if (old == NULL && PyErr_Occurred()) goto fail;
        PyObject *left = old == NULL ? Py_NewRef(q) : PyNumber_Add(old, q);
        if (left == NULL) goto fail;
        int zero = PyObject_Not(left);
        if (zero < 0) { Py_DECREF(left); goto fail; }
        int err = zero ? PyDict_DelItem(volume, b) : PyDict_SetItem(volume, b, left);
        Py_DECREF(left);
        if (err < 0) goto fail;
        PyObject *sum = PyNumber_Add(change, q);
        if (sum == NULL) goto fail;
        Py_SETREF(change, sum);
    }
    return change;
fail:
    Py_DECREF(change);
    return NULL;
}

static PyMethodDef methods[] = {
    {"value_area", k_value_area, METH_VARARGS,
     "value_area(volume, num, den) -> None | (poc_bin, val_bin, vah_bin, total, va_total)"},
    {"apply", k_apply, METH_VARARGS,
     "apply(volume, bins, qty, lo, hi) -> change of the total (volume updated in place)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernel", "The profile analyzer's compiled kernels.", -1, methods,
};

PyMODINIT_FUNC PyInit__kernel(void) { return PyModule_Create(&module); }
