"""``json.dumps(obj, indent=2, default=str)`` without the standard library's per-token
generator.

With ``indent`` set, :mod:`json` cannot use its C encoder and walks the object with nested
generators that yield every bracket, separator and value; ``report.json`` of a long backtest
(an equity point per decision close, every fill and round trip: ~75,000 values at ~80 trades a
minute on 2,000,000 ticks) took ~0.2 s that way. :func:`dumps_indented` writes the same text —
the same type checks in the same order, the same float, integer and string forms, the same
separators and indentation — by appending to one list of strings.
``tests/test_report_arrays.py`` compares it with :func:`json.dumps` on nested values of every
kind.

A long list whose items are all scalars, or all lists of the same few scalars (the equity
curve's pairs), or all dicts with the same string keys and scalar values (the fills, the
trades) is written a column at a time (:func:`_columns`): each column's texts by one ``map``
over its values when they share one type (then no Python step per value; a float's text,
its ``repr``, made once per distinct value), the items' brackets, separators and keys
placed between the columns' texts in one list by slice assignments and joined once
(:func:`_interleave`: no string made per item).
"""

from __future__ import annotations

from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from operator import itemgetter
from typing import Any

import numpy as np

_INF = float("inf")


def _float(o: float) -> str:
    # json's floatstr: NaN and the infinities as JavaScript names, else float's repr.
    if o != o:
        return "NaN"
    if o == _INF:
        return "Infinity"
    if o == -_INF:
        return "-Infinity"
    return float.__repr__(o)


def _true_false(o: bool) -> str:
    return "true" if o else "false"


def _null(_o: None) -> str:
    return "null"


#: Exact types written without a container: json's forms of each.
_SCALARS: dict[type, Callable[[Any], str]] = {
    str: encode_basestring_ascii,
    int: int.__repr__,
    float: _float,
    bool: _true_false,
    type(None): _null,
}


#: Lists shorter than this are written item by item (the column path's set-up costs more).
_LONG = 32


#: Floats from this many on are formatted once per distinct value (bit pattern).
_DEDUP = 256


def _float_texts(col: list[Any] | tuple[Any, ...]) -> list[str]:
    """:func:`_float` of each of ``col`` (exact floats). A long run's equity stays put
    between trades: a value's text (float's ``repr`` of up to 17 digits, the slow part) is
    made once per distinct bit pattern."""
    values = np.array(col, dtype=np.float64)
    finite = bool(np.isfinite(values).all())
    form: Callable[[float], str] = float.__repr__ if finite else _float
    if len(col) < _DEDUP:
        return list(map(form, col))
    uniq, inv = np.unique(values.view(np.int64), return_inverse=True)
    if len(uniq) * 10 > len(col) * 9:  # nearly all distinct: the look-ups cost more
        return list(map(form, col))
    texts = list(map(form, uniq.view(np.float64).tolist()))
    return list(map(texts.__getitem__, inv.reshape(-1).tolist()))


def _scalar_texts(col: list[Any] | tuple[Any, ...]) -> list[str] | None:
    """The JSON text of each value of ``col``, or None when one is not an exact scalar."""
    kinds = set(map(type, col))
    if len(kinds) == 1:
        (kind,) = kinds
        if kind is float:
            return _float_texts(col)
        f = _SCALARS.get(kind)
        return None if f is None else list(map(f, col))
    scalars = _SCALARS
    if not kinds <= scalars.keys():
        return None
    return [scalars[type(x)](x) for x in col]


def _interleave(cols: list[list[str]], head: str, seps: list[str], tail: str, sep: str) -> str:
    """The items ``head + seps[0] + cols[0][i] + seps[1] + cols[1][i] ... + tail`` joined by
    ``sep``: every piece placed in one list (a slice assignment per column and per
    separator, the boundary between two items ``tail + sep + head + seps[0]`` as one piece)
    and joined once."""
    n, k = len(cols[0]), len(cols)
    parts: list[str] = [""] * (2 * k * n)
    parts[0 :: 2 * k] = [tail + sep + head + seps[0]] * n
    parts[0] = head + seps[0]
    for j, col in enumerate(cols):
        parts[2 * j + 1 :: 2 * k] = col
        if j:
            parts[2 * j :: 2 * k] = [seps[j]] * n
    parts.append(tail)
    return "".join(parts)


def _columns(
    o: list[Any] | tuple[Any, ...], inner2: str, sep2: str, close2: str, sep: str
) -> str | None:
    """The items of the long list ``o`` as :func:`_encode` writes them one level in, joined
    by ``sep``, when every item is a scalar, or every item a list or tuple of the same 1 to
    4 scalars, or every item a non-empty dict of the same string keys (in the same order)
    and scalar values; else None."""
    kinds = set(map(type, o))
    if len(kinds) != 1:
        if not kinds <= _SCALARS.keys():
            return None
        texts = _scalar_texts(o)
        return None if texts is None else sep.join(texts)
    (kind,) = kinds
    if kind is list or kind is tuple:
        sizes = set(map(len, o))
        if len(sizes) != 1:
            return None
        (size,) = sizes
        if not 0 < size <= 4:
            return None
        cols = []
        for i in range(size):
            texts = _scalar_texts(list(map(itemgetter(i), o)))
            if texts is None:
                return None
            cols.append(texts)
        return _interleave(cols, "[" + inner2, ["", *[sep2] * (size - 1)], close2, sep)
    if kind is dict:
        keys = set(map(tuple, o))
        if len(keys) != 1:
            return None
        (names,) = keys
        if not names or not all(type(k) is str for k in names):
            return None
        cols = []
        for k in names:
            texts = _scalar_texts(list(map(itemgetter(k), o)))
            if texts is None:
                return None
            cols.append(texts)
        labels = [encode_basestring_ascii(k) + ": " for k in names]
        seps = [labels[0], *(sep2 + label for label in labels[1:])]
        return _interleave(cols, "{" + inner2, seps, close2[:-1] + "}", sep)
    f = _SCALARS.get(kind)
    if f is None:
        return None
    return sep.join(_float_texts(o) if kind is float else list(map(f, o)))


def dumps_indented(obj: Any, indent: int = 2, default: Callable[[Any], Any] = str) -> str:
    """The text of ``json.dumps(obj, indent=indent, default=default)`` (ASCII, NaN allowed,
    keys in their order)."""
    parts: list[str] = []
    _encode(obj, 0, parts, " " * indent, default)
    return "".join(parts)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return encode_basestring_ascii(key)
    if isinstance(key, float):
        return encode_basestring_ascii(_float(key))
    if key is True:
        return '"true"'
    if key is False:
        return '"false"'
    if key is None:
        return '"null"'
    if isinstance(key, int):
        return encode_basestring_ascii(int.__repr__(key))
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")


def _encode(o: Any, level: int, parts: list[str], pad: str, default: Callable[[Any], Any]) -> None:
    f = _SCALARS.get(type(o))
    if f is not None:
        parts.append(f(o))
        return
    # json's _iterencode order: str, None, True, False, int, float, list or tuple, dict, else
    # ``default`` (encoded at the same level).
    if isinstance(o, str):
        parts.append(encode_basestring_ascii(o))
    elif o is None:
        parts.append("null")
    elif o is True:
        parts.append("true")
    elif o is False:
        parts.append("false")
    elif isinstance(o, int):
        parts.append(int.__repr__(o))
    elif isinstance(o, float):
        parts.append(_float(o))
    elif isinstance(o, list | tuple):
        if not o:
            parts.append("[]")
            return
        inner = "\n" + pad * (level + 1)
        sep = "," + inner
        # A list of short lists of scalars (the equity curve's [ts, equity] pairs) or of
        # dicts of scalars (the fills): each written here in one piece.
        inner2 = "\n" + pad * (level + 2)
        sep2 = "," + inner2
        close2 = "\n" + pad * (level + 1) + "]"
        if len(o) >= _LONG:
            body = _columns(o, inner2, sep2, close2, sep)
            if body is not None:
                parts.append("[" + inner + body + "\n" + pad * level + "]")
                return
        parts.append("[" + inner)
        first = True
        scalars = _SCALARS
        for item in o:
            if first:
                first = False
            else:
                parts.append(sep)
            g = scalars.get(type(item))
            if g is not None:
                parts.append(g(item))
                continue
            if (type(item) is list or type(item) is tuple) and 0 < len(item) <= 4:
                strs = []
                for x in item:
                    f = scalars.get(type(x))
                    if f is None:
                        break
                    strs.append(f(x))
                else:
                    parts.append("[" + inner2 + sep2.join(strs) + close2)
                    continue
            elif type(item) is dict and item:  # a fill, a trade: str keys, scalar values
                strs = []
                for k, x in item.items():
                    f = scalars.get(type(x))
                    if type(k) is not str or f is None:
                        break
                    strs.append(encode_basestring_ascii(k) + ": " + f(x))
                else:
                    parts.append("{" + inner2 + sep2.join(strs) + close2[:-1] + "}")
                    continue
            _encode(item, level + 1, parts, pad, default)
        parts.append("\n" + pad * level + "]")
    elif isinstance(o, dict):
        if not o:
            parts.append("{}")
            return
        inner = "\n" + pad * (level + 1)
        sep = "," + inner
        parts.append("{" + inner)
        first = True
        scalars = _SCALARS
        for k, v in o.items():
            if first:
                first = False
            else:
                parts.append(sep)
            parts.append(encode_basestring_ascii(k) if type(k) is str else _key(k))
            parts.append(": ")
            g = scalars.get(type(v))
            if g is not None:
                parts.append(g(v))
            else:
                _encode(v, level + 1, parts, pad, default)
        parts.append("\n" + pad * level + "}")
    else:
        _encode(default(o), level, parts, pad, default)
