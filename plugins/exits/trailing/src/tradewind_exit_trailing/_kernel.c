/* The trailing stop's per-trade loop, compiled.

   One pass over a batch's prices: the best price since entry (a running maximum for a long,
   minimum for a short, seeded with the best so far) and the first trade at or through the stop
   (``price <= best * k`` for a long with k = 1 - trail_pct, ``price >= best * k`` for a short
   with k = 1 + trail_pct). The same operations as plugin.py's numpy path
   (TrailingStop._running: np.maximum/np.minimum, their accumulate, the product and the
   comparison), NaN included: a NaN price or seed makes the running best NaN from there, and a
   comparison with NaN never holds. Built without fast-math and with -ffp-contract=off
   (setup.py).

   first(prices, best, long, k, check) -> (index of the first trade at or through the stop or
   -1, the running best there or at the last trade; the seed for no trade), or None when
   prices is not a contiguous float64 array (the caller's Python paths take it). Without
   ``check`` no trade is looked for: the best at the last trade. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* numpy's maximum and minimum of two doubles: the first when it is NaN or wins (or ties). */
static inline double np_max(double a, double b) { return (a >= b || a != a) ? a : b; }
static inline double np_min(double a, double b) { return (a <= b || a != a) ? a : b; }

static PyObject *py_first(PyObject *self, PyObject *args) {
    PyObject *prices_o;
    double best, k;
    int is_long, check;
    if (!PyArg_ParseTuple(args, "Odpdp", &prices_o, &best, &is_long, &k, &check)) return NULL;
    Py_buffer pb;
    if (PyObject_GetBuffer(prices_o, &pb, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    const char *f = pb.format ? pb.format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    if (pb.ndim != 1 || pb.itemsize != 8 || f[0] != 'd' || f[1] != '\0') {
        PyBuffer_Release(&pb);
        Py_RETURN_NONE;
    }
    const double *p = (const double *)pb.buf;
    Py_ssize_t n = pb.len / (Py_ssize_t)sizeof(double), hit = -1;
    double running = best;
    for (Py_ssize_t i = 0; i < n; i++) {
        /* np.maximum(prices, best), then its running maximum (np.maximum.accumulate). */
        double m = is_long ? np_max(p[i], best) : np_min(p[i], best);
        running = i == 0 ? m : (is_long ? np_max(running, m) : np_min(running, m));
        if (check && (is_long ? p[i] <= running * k : p[i] >= running * k)) {
            hit = i;
            break;
        }
    }
    PyBuffer_Release(&pb);
    return Py_BuildValue("nd", hit, running);
}

static PyMethodDef methods[] = {
    {"first", py_first, METH_VARARGS, "The running best over a batch and the first stop hit."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernel", NULL, -1, methods};

PyMODINIT_FUNC PyInit__kernel(void) { return PyModule_Create(&module); }
