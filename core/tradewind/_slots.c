/* Compiled builders of frozen, slotted attrs classes (tradewind.model.frozen).

   builder(cls, descriptors)
       A function ``build(v0, ..., vn-1)`` that makes an instance of ``cls`` the way
       ``object.__new__(cls)`` does (``cls->tp_alloc``) and writes ``vi`` into the slot of
       ``descriptors[i]``: what ``descriptors[i].__set__(obj, vi)`` does for a new object
       (whose slots are empty), without a Python-level call per field. Each descriptor must
       be a member descriptor of an object slot (T_OBJECT_EX, writable) of ``cls`` or of a
       base class of it; ``cls`` must not be abstract. The Python builder in
       tradewind.model.frozen checks the rest (a slotted attrs class whose __init__ only sets
       its fields) and is the reference the tests compare with.

   The paper fill path makes ~15 such objects per fill (order records, reports, events, a
   fill, an order, a position), ~110 fields: each field through its descriptor's __set__ is
   a method-wrapper call from Python (argument tuple unpacking included). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

/* ``self`` of a build function: (cls, bytes of the slots' offsets as Py_ssize_t). */
static PyObject *build(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyTypeObject *cls = (PyTypeObject *)PyTuple_GET_ITEM(self, 0);
    PyObject *offsets = PyTuple_GET_ITEM(self, 1);
    const Py_ssize_t *off = (const Py_ssize_t *)PyBytes_AS_STRING(offsets);
    Py_ssize_t n = PyBytes_GET_SIZE(offsets) / (Py_ssize_t)sizeof(Py_ssize_t);
    if (nargs != n) {
        PyErr_Format(PyExc_TypeError, "build_%s() takes %zd positional arguments (%zd given)",
                     cls->tp_name, n, nargs);
        return NULL;
    }
    PyObject *obj = cls->tp_alloc(cls, 0);
    if (obj == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject **slot = (PyObject **)((char *)obj + off[i]);
        PyObject *old = *slot; /* NULL: a new object, each slot written once */
        Py_INCREF(args[i]);
        *slot = args[i];
        Py_XDECREF(old);
    }
    return obj;
}

static PyMethodDef build_def = {"build", (PyCFunction)(void (*)(void))build, METH_FASTCALL,
                                "An instance of the class, its slots written in order."};

static PyObject *py_builder(PyObject *module, PyObject *args)
{
    PyObject *cls_obj, *descrs;
    if (!PyArg_ParseTuple(args, "O!O!:builder", &PyType_Type, &cls_obj, &PyTuple_Type, &descrs))
        return NULL;
    PyTypeObject *cls = (PyTypeObject *)cls_obj;
    if (cls->tp_flags & Py_TPFLAGS_IS_ABSTRACT) {
        PyErr_Format(PyExc_TypeError, "%s is abstract", cls->tp_name);
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(descrs);
    PyObject *offsets = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(Py_ssize_t));
    if (offsets == NULL)
        return NULL;
    Py_ssize_t *off = (Py_ssize_t *)PyBytes_AS_STRING(offsets);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *d = PyTuple_GET_ITEM(descrs, i);
        if (!Py_IS_TYPE(d, &PyMemberDescr_Type)) {
            PyErr_Format(PyExc_TypeError, "descriptor %zd is not a slot's member descriptor", i);
            goto fail;
        }
        PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
        PyTypeObject *owner = ((PyDescrObject *)d)->d_type;
        if (m->type != T_OBJECT_EX || (m->flags & READONLY) || !PyType_IsSubtype(cls, owner) ||
            m->offset < (Py_ssize_t)sizeof(PyObject) ||
            m->offset + (Py_ssize_t)sizeof(PyObject *) > cls->tp_basicsize) {
            PyErr_Format(PyExc_TypeError, "slot '%s' is not a writable object slot of %s",
                         m->name, cls->tp_name);
            goto fail;
        }
        for (Py_ssize_t j = 0; j < i; j++) {
            if (off[j] == m->offset) {
                PyErr_Format(PyExc_TypeError, "slot '%s' given twice", m->name);
                goto fail;
            }
        }
        off[i] = m->offset;
    }
    PyObject *self = PyTuple_Pack(2, cls_obj, offsets);
    Py_DECREF(offsets);
    if (self == NULL)
        return NULL;
    PyObject *fn = PyCFunction_NewEx(&build_def, self, NULL);
    Py_DECREF(self);
    return fn;
fail:
    Py_DECREF(offsets);
    return NULL;
}

static PyMethodDef methods[] = {
    {"builder", py_builder, METH_VARARGS, "A compiled builder of a slotted class's instances."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_slots", NULL, -1, methods};

PyMODINIT_FUNC PyInit__slots(void) { return PyModule_Create(&module); }
