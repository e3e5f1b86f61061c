/* The adverse-moves monitor's per-trade loop, compiled.

   One pass over a batch's trades: the samples on trade time (sampling.py: the first trade of
   each bucket after the last sample's), the run of adverse moves ending at each, and (when
   asked) the first sample whose run, capped at the window's moves, reaches the profit tier's
   threshold (tiers.py). The same integers and the same float subtractions and comparisons as
   plugin.py's Python loop (AdverseMoves._on_few), so the same samples, runs and trigger. Built
   without fast-math and with -ffp-contract=off (setup.py).

   first(ts, prices, anchor, interval, bucket, price, run, long, max_moves, least, bounds,
   moves, check) -> (trade index of the trigger or -1, counted, required, bucket, price, run):
   ts (int64) and prices (float64) are the batch's columns, sorted by time; anchor >= 0 and
   interval > 0 (plugin.py checks); bucket, price and run the sampling state before the batch;
   bounds (float64, ascending) and moves (int64, one more) the tiers' lookup for the position's
   entry and side. The state returned is the trigger's sample, or the last sample (the state
   itself when the batch has none). None when a column is not a contiguous int64 or float64
   array (the caller's Python loop takes it). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* A one-dimensional, C-contiguous buffer of 8-byte items of kind ``kind`` ('i': a signed
   integer, 'd': a double); 0 with the buffer released when ``obj`` is not one. */
static int column(PyObject *obj, Py_buffer *view, char kind) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyErr_Clear();
        return 0;
    }
    const char *f = view->format ? view->format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    int ok = view->ndim == 1 && view->itemsize == 8 && f[1] == '\0'
             && (kind == 'd' ? f[0] == 'd' : (f[0] == 'l' || f[0] == 'q'));
    if (!ok) PyBuffer_Release(view);
    return ok;
}

static PyObject *py_first(PyObject *self, PyObject *args) {
    PyObject *ts_o, *prices_o, *bounds_o, *moves_o;
    Py_buffer tb, pb, bb, mb;
    long long anchor, interval, bucket0, carry, max_moves, least;
    double price0;
    int is_long, check;
    if (!PyArg_ParseTuple(args, "OOLLLdLpLLOOp", &ts_o, &prices_o, &anchor, &interval, &bucket0,
                          &price0, &carry, &is_long, &max_moves, &least, &bounds_o, &moves_o,
                          &check))
        return NULL;
    /* Columns of other types or layouts: None, and the caller runs the Python loop. */
    if (!column(ts_o, &tb, 'i')) Py_RETURN_NONE;
    if (!column(prices_o, &pb, 'd')) {
        PyBuffer_Release(&tb);
        Py_RETURN_NONE;
    }
    if (!column(bounds_o, &bb, 'd')) {
        PyBuffer_Release(&tb);
        PyBuffer_Release(&pb);
        Py_RETURN_NONE;
    }
    if (!column(moves_o, &mb, 'i')) {
        PyBuffer_Release(&tb);
        PyBuffer_Release(&pb);
        PyBuffer_Release(&bb);
        Py_RETURN_NONE;
    }
    PyObject *result = NULL;
    Py_ssize_t n = tb.len / (Py_ssize_t)sizeof(int64_t);
    Py_ssize_t n_bounds = bb.len / (Py_ssize_t)sizeof(double);
    if (pb.len / (Py_ssize_t)sizeof(double) != n || mb.len / (Py_ssize_t)sizeof(int64_t) != n_bounds + 1
        || anchor < 0 || interval <= 0) {
        PyErr_SetString(PyExc_ValueError, "first: columns of different lengths or a bad grid");
        goto done;
    }
    const int64_t *ts = (const int64_t *)tb.buf;
    const double *prices = (const double *)pb.buf;
    const double *bounds = (const double *)bb.buf;
    const int64_t *moves = (const int64_t *)mb.buf;
    /* The first trade at or after the anchor (bisect_left). */
    Py_ssize_t lo = 0, hi = n;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (ts[mid] < anchor) lo = mid + 1;
        else hi = mid;
    }
    /* No sample unless the last trade's bucket is past the state's (the Python paths' early
       return: the trades of a batch that ends in or before the last sample's bucket are not
       sampled, whatever buckets come before). */
    if (lo >= n || (long long)((uint64_t)(ts[n - 1] - anchor) / (uint64_t)interval) <= bucket0)
        lo = n;
    long long prev_bucket = bucket0, last = bucket0, k = 0, top = 0, run = carry;
    double prev_price = price0;
    int have_top = 0;
    Py_ssize_t hit = -1;
    long long counted = 0, required = 0;
    for (Py_ssize_t j = lo; j < n; j++) {
        /* ts[j] >= anchor >= 0: the difference is in [0, 2**63), where C's division is
           Python's floor division. */
        long long b = (long long)((uint64_t)(ts[j] - anchor) / (uint64_t)interval);
        if (b <= last) {
            last = b;
            continue;
        }
        last = b;
        double p = prices[j];
        double change = p - prev_price;
        long long reset;
        if (!(is_long ? change < 0 : change > 0)) reset = k;
        else if (b - prev_bucket > 1) reset = k - 1;
        else reset = -1 - carry;
        if (!have_top || reset > top) {
            top = reset;
            have_top = 1;
        }
        run = k - top;
        if (check && run >= least) {
            long long c = run < max_moves ? run : max_moves;
            long long r;
            if (p != p) {
                r = moves[is_long ? n_bounds : 0];
            } else if (is_long) {
                Py_ssize_t i = 0; /* bisect_right: the bounds at or below the price */
                while (i < n_bounds && bounds[i] <= p) i++;
                r = moves[i];
            } else {
                Py_ssize_t i = 0; /* len - bisect_left: the bounds at or above the price */
                while (i < n_bounds && bounds[i] < p) i++;
                r = moves[n_bounds - i];
            }
            if (c >= r) {
                hit = j;
                counted = c;
                required = r;
                prev_bucket = b;
                prev_price = p;
                break;
            }
        }
        prev_bucket = b;
        prev_price = p;
        k++;
    }
    result = Py_BuildValue("nLLLdL", hit, counted, required, prev_bucket, prev_price, run);
done:
    PyBuffer_Release(&tb);
    PyBuffer_Release(&pb);
    PyBuffer_Release(&bb);
    PyBuffer_Release(&mb);
    return result;
}

static PyMethodDef methods[] = {
    {"first", py_first, METH_VARARGS, "The samples' runs over a batch and the first trigger."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernel", NULL, -1, methods};

PyMODINIT_FUNC PyInit__kernel(void) { return PyModule_Create(&module); }
