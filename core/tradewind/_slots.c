/* Compiled helpers of the frozen, slotted attrs classes made per fill: their builders
   (tradewind.model.frozen) and the JSON of the events the journal writes per fill
   (tradewind.journal.store).

   builder(cls, descriptors)
       A function ``build(v0, ..., vn-1)`` that makes an instance of ``cls`` the way
       ``object.__new__(cls)`` does (``cls->tp_alloc``) and writes ``vi`` into the slot of
       ``descriptors[i]``: what ``descriptors[i].__set__(obj, vi)`` does for a new object
       (whose slots are empty), without a Python-level call per field. Each descriptor must
       be a member descriptor of an object slot (T_OBJECT_EX, writable) of ``cls`` or of a
       base class of it; ``cls`` must not be abstract. The Python builder in
       tradewind.model.frozen checks the rest (a slotted attrs class whose __init__ only sets
       its fields) and is the reference the tests compare with.

   json_writer(cls, items, tail, quote, decimal)
       A function ``write(obj)``: the JSON text ``items[0].fragment + text(value 0) + ... +
       tail`` of an object of exactly class ``cls``, each item ``(fragment, descriptor, kind,
       sub)`` a slot read directly and written by its kind: STR (an exact str, through
       ``quote``: json's own escaping), DEC (an exact ``decimal``, its str in quotes), OPT_DEC
       (None as null, or DEC), INT (an exact int, its repr), BOOL (exactly True or False),
       ENUM (the value's ``_value_``, an exact str, quoted), OBJ (``sub``, another writer, of
       the value) and LOTS (a tuple of (Decimal, Decimal) tuples as ``[["q", "p"], ...]``).
       Any other value raises TypeError: the caller (``store._payload``) then takes the
       general path, whose text is the same (tested), so a writer either gives that text or
       refuses.

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
    (void)module;
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

enum { K_STR, K_DEC, K_OPT_DEC, K_INT, K_BOOL, K_ENUM, K_OBJ, K_LOTS, K_END };

static PyObject *value_name; /* "_value_", interned at the module's init */

static PyObject *write_json(PyObject *self, PyObject *obj);

static PyMethodDef write_def = {"write", (PyCFunction)write_json, METH_O,
                                "The JSON text of the object, or TypeError."};

static PyObject *refuse(const char *what)
{
    PyErr_Format(PyExc_TypeError, "not written directly: %s", what);
    return NULL;
}

/* Append text to parts (stealing the reference); -1 on error. */
static int put(PyObject *parts, PyObject *text)
{
    if (text == NULL)
        return -1;
    int r = PyList_Append(parts, text);
    Py_DECREF(text);
    return r;
}

static int put_decimal(PyObject *parts, PyObject *v, PyObject *dec, PyObject *quote_mark)
{
    if (!Py_IS_TYPE(v, (PyTypeObject *)dec)) {
        refuse("a value that is not a Decimal");
        return -1;
    }
    if (PyList_Append(parts, quote_mark) < 0 || put(parts, PyObject_Str(v)) < 0)
        return -1;
    return PyList_Append(parts, quote_mark);
}

static int put_str(PyObject *parts, PyObject *v, PyObject *quote)
{
    if (!PyUnicode_CheckExact(v)) {
        refuse("a value that is not a str");
        return -1;
    }
    return put(parts, PyObject_CallOneArg(quote, v));
}

/* self: (cls, items, tail, quote, decimal, '"', "null", "true", "false", the lots' parts:
   (open, a later lot's open, the first lot's open, between, a lot's close, close)); each
   item (fragment, slot offset, kind, the sub-writer's self or None). */
static PyObject *write_json(PyObject *self, PyObject *obj)
{
    PyObject *cls = PyTuple_GET_ITEM(self, 0);
    PyObject *items = PyTuple_GET_ITEM(self, 1);
    PyObject *quote = PyTuple_GET_ITEM(self, 3);
    PyObject *dec = PyTuple_GET_ITEM(self, 4);
    PyObject *mark = PyTuple_GET_ITEM(self, 5);
    if (!Py_IS_TYPE(obj, (PyTypeObject *)cls))
        return refuse("an object of another class");
    PyObject *parts = PyList_New(0);
    if (parts == NULL)
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(items, i);
        Py_ssize_t off = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 1));
        long kind = PyLong_AsLong(PyTuple_GET_ITEM(item, 2));
        PyObject *v = *(PyObject **)((char *)obj + off);
        if (v == NULL) {
            refuse("an empty slot");
            goto fail;
        }
        if (PyList_Append(parts, PyTuple_GET_ITEM(item, 0)) < 0)
            goto fail;
        switch (kind) {
        case K_STR:
            if (put_str(parts, v, quote) < 0)
                goto fail;
            break;
        case K_OPT_DEC:
            if (v == Py_None) {
                if (PyList_Append(parts, PyTuple_GET_ITEM(self, 6)) < 0)
                    goto fail;
                break;
            }
            /* fall through */
        case K_DEC:
            if (put_decimal(parts, v, dec, mark) < 0)
                goto fail;
            break;
        case K_INT:
            if (!PyLong_CheckExact(v)) {
                refuse("a time that is not an int");
                goto fail;
            }
            if (put(parts, PyObject_Repr(v)) < 0)
                goto fail;
            break;
        case K_BOOL:
            if (v != Py_True && v != Py_False) {
                refuse("a flag that is not a bool");
                goto fail;
            }
            if (PyList_Append(parts, PyTuple_GET_ITEM(self, v == Py_True ? 7 : 8)) < 0)
                goto fail;
            break;
        case K_ENUM: {
            PyObject *value = PyObject_GetAttr(v, value_name);
            if (value == NULL)
                goto fail;
            int r = put_str(parts, value, quote);
            Py_DECREF(value);
            if (r < 0)
                goto fail;
            break;
        }
        case K_OBJ:
            if (put(parts, write_json(PyTuple_GET_ITEM(item, 3), v)) < 0)
                goto fail;
            break;
        case K_LOTS: {
            /* [["q", "p"], ["q", "p"]]: lots = (open, sep, close) of the lot parts */
            PyObject *lp = PyTuple_GET_ITEM(self, 9);
            if (!PyTuple_CheckExact(v)) {
                refuse("lots that are not a tuple");
                goto fail;
            }
            if (PyList_Append(parts, PyTuple_GET_ITEM(lp, 0)) < 0)
                goto fail;
            Py_ssize_t m = PyTuple_GET_SIZE(v);
            for (Py_ssize_t j = 0; j < m; j++) {
                PyObject *lot = PyTuple_GET_ITEM(v, j);
                if (!PyTuple_CheckExact(lot) || PyTuple_GET_SIZE(lot) != 2) {
                    refuse("a lot that is not a pair");
                    goto fail;
                }
                if (PyList_Append(parts, PyTuple_GET_ITEM(lp, j ? 1 : 2)) < 0 ||
                    put_decimal(parts, PyTuple_GET_ITEM(lot, 0), dec, mark) < 0 ||
                    PyList_Append(parts, PyTuple_GET_ITEM(lp, 3)) < 0 ||
                    put_decimal(parts, PyTuple_GET_ITEM(lot, 1), dec, mark) < 0 ||
                    PyList_Append(parts, PyTuple_GET_ITEM(lp, 4)) < 0)
                    goto fail;
            }
            if (PyList_Append(parts, PyTuple_GET_ITEM(lp, 5)) < 0)
                goto fail;
            break;
        }
        default:
            PyErr_SetString(PyExc_SystemError, "json_writer: unknown kind");
            goto fail;
        }
    }
    if (PyList_Append(parts, PyTuple_GET_ITEM(self, 2)) < 0)
        goto fail;
    PyObject *empty = PyUnicode_FromStringAndSize(NULL, 0);
    if (empty == NULL)
        goto fail;
    PyObject *text = PyUnicode_Join(empty, parts);
    Py_DECREF(empty);
    Py_DECREF(parts);
    return text;
fail:
    Py_DECREF(parts);
    return NULL;
}

static PyObject *py_json_writer(PyObject *module, PyObject *args)
{
    PyObject *cls, *spec, *tail, *quote, *dec;
    (void)module;
    if (!PyArg_ParseTuple(args, "O!O!UOO!:json_writer", &PyType_Type, &cls, &PyTuple_Type,
                          &spec, &tail, &quote, &PyType_Type, &dec))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(spec);
    PyObject *items = PyTuple_New(n);
    if (items == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *fragment, *d, *sub;
        int kind;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(spec, i), "UOiO:json_writer item", &fragment, &d,
                              &kind, &sub))
            goto fail;
        if (!Py_IS_TYPE(d, &PyMemberDescr_Type)) {
            PyErr_Format(PyExc_TypeError, "item %zd: not a slot's member descriptor", i);
            goto fail;
        }
        PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
        if (m->type != T_OBJECT_EX || !PyType_IsSubtype((PyTypeObject *)cls,
                                                          ((PyDescrObject *)d)->d_type)) {
            PyErr_Format(PyExc_TypeError, "item %zd: '%s' is not an object slot of the class",
                         i, m->name);
            goto fail;
        }
        if (kind < 0 || kind >= K_END ||
            (kind == K_OBJ && !(PyCFunction_Check(sub) &&
                                PyCFunction_GET_FUNCTION(sub) == (PyCFunction)write_json))) {
            PyErr_Format(PyExc_TypeError, "item %zd: a bad kind or sub-writer", i);
            goto fail;
        }
        PyObject *item = Py_BuildValue("(OnlO)", fragment, m->offset, (long)kind,
                                       kind == K_OBJ ? PyCFunction_GET_SELF(sub) : Py_None);
        if (item == NULL)
            goto fail;
        PyTuple_SET_ITEM(items, i, item);
    }
    PyObject *self = Py_BuildValue("(OOOOOssss(ssssss))", cls, items, tail, quote, dec, "\"",
                                   "null", "true", "false", "[", ", [", "[", ", ", "]", "]");
    Py_DECREF(items);
    if (self == NULL)
        return NULL;
    PyObject *fn = PyCFunction_NewEx(&write_def, self, NULL);
    Py_DECREF(self);
    return fn;
fail:
    Py_DECREF(items);
    return NULL;
}

static PyMethodDef methods[] = {
    {"builder", py_builder, METH_VARARGS, "A compiled builder of a slotted class's instances."},
    {"json_writer", py_json_writer, METH_VARARGS, "A compiled JSON writer of a slotted class."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_slots", NULL, -1, methods};

PyMODINIT_FUNC PyInit__slots(void)
{
    value_name = PyUnicode_InternFromString("_value_");
    if (value_name == NULL)
        return NULL;
    return PyModule_Create(&module);
}
