"""Positional builders of frozen, slotted attrs classes, for the objects made per fill.

attrs' ``__init__`` of a frozen class sets each field through ``object.__setattr__`` (a
generic attribute set: the name looked up on the type, then its slot written), ~0.1 µs a
field. An order record has twelve fields and is made three times per order (opened,
accepted, filled), and each fill makes a report and four events besides. :func:`builder`
makes a function that writes each slot through its descriptor instead: the same object,
field for field, in about half the time.

Only for a class whose ``__init__`` does nothing but set its fields: no validator, no
converter, no ``__attrs_pre_init__`` / ``__attrs_post_init__``, no cached hash (checked when
the builder is made). The caller passes every field, defaults included, in the order given.

Where the core's compiled builder is built (``tradewind._slots``, setup.py), the function
made is that one: the same object, its slots written in C (a paper fill makes ~110 fields
this way, each a method-wrapper call from Python otherwise); ``compiled=False`` makes the
Python one (the reference, and the path of a source tree without the build).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

try:  # built by the project's install (setup.py); without it, the Python builder below
    from tradewind import _slots
except ImportError:  # pragma: no cover - a source tree without the build
    _slots = None  # type: ignore[assignment]


def _slot(cls: type, name: str) -> Any:
    """The slot descriptor of field ``name`` (on ``cls`` or the base class declaring it)."""
    for klass in cls.__mro__:
        found = klass.__dict__.get(name)
        if found is not None:
            if type(found).__name__ != "member_descriptor":
                break
            return found
    raise TypeError(f"{cls.__name__}.{name} is not a slot")


def builder(cls: type, fields: tuple[str, ...], *, compiled: bool = True) -> Callable[..., Any]:
    """``build(v1, ..., vn)``: the ``cls(f1=v1, ..., fn=vn)`` of the frozen, slotted attrs class
    ``cls`` for its fields ``fields`` (every one of them, in any order); the compiled one when
    ``compiled`` and it is built."""
    if not attrs.has(cls) or cls.__dictoffset__:  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__} is not a slotted attrs class")
    declared = attrs.fields(cls)
    if sorted(fields) != sorted(a.name for a in declared) or len(set(fields)) != len(fields):
        raise TypeError(f"{cls.__name__}: give each of its fields once, not {fields}")
    for a in declared:
        if a.validator is not None or a.converter is not None:
            raise TypeError(f"{cls.__name__}.{a.name} has a validator or a converter")
    for hook in ("__attrs_pre_init__", "__attrs_post_init__"):
        if hasattr(cls, hook):
            raise TypeError(f"{cls.__name__} has {hook}")
    if any("_attrs_cached_hash" in k.__dict__ for k in cls.__mro__):
        raise TypeError(f"{cls.__name__} caches its hash")
    if compiled and _slots is not None:
        return _slots.builder(cls, tuple(_slot(cls, name) for name in fields))
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    args = ", ".join(f"v{i}" for i in range(len(fields)))
    lines = [f"def build({args}):", "    r = _new(_cls)"]
    for i, name in enumerate(fields):
        scope[f"_s{i}"] = _slot(cls, name).__set__
        lines.append(f"    _s{i}(r, v{i})")
    lines.append("    return r")
    exec("\n".join(lines), scope)  # code made above from the field positions only
    build: Callable[..., Any] = scope["build"]
    build.__qualname__ = build.__name__ = f"build_{cls.__name__}"
    build.__doc__ = f"{cls.__name__}({', '.join(f'{f}=...' for f in fields)}), positionally."
    return build
