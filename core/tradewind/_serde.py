"""The one private cattrs converter for config and journal (de)serialisation.

Models never carry serialisation rules; they live here. Config structuring forbids extra keys
and reports errors with their path (``expected float @ $.filters.exposure.max_usd``).
"""

from __future__ import annotations

import collections.abc
import difflib
import enum
import math
import typing
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.cols import list_structure_factory, mapping_structure_factory
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.gen import make_dict_structure_fn

from tradewind.errors import ConfigError
from tradewind.secrets import Secret

T = TypeVar("T")

_converter = cattrs.Converter(forbid_extra_keys=True)


def _structure_decimal(value: Any, _t: type) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {value!r}")
        value = str(value)
    try:
        d = Decimal(value)
    except (InvalidOperation, TypeError):
        raise ValueError(f"expected a decimal number, got {value!r}") from None
    if not d.is_finite():
        raise ValueError(f"expected a finite number, got {value!r}")
    return d


def _structure_float(value: Any, _t: type) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        f = float(value)
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not math.isfinite(f):
        raise ValueError(f"expected a finite number, got {value!r}")
    return f


def _structure_int(value: Any, _t: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def _structure_str(value: Any, _t: type) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _structure_bool(value: Any, _t: type) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _structure_secret(value: Any, _t: type) -> Secret:
    return Secret.parse(value)


def _structure_enum(value: Any, t: type[enum.Enum]) -> enum.Enum:
    try:
        return t(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in t)  # type: ignore[attr-defined]
        raise ValueError(f"expected one of {allowed}, got {value!r}") from None


_converter.register_structure_hook(Decimal, _structure_decimal)
_converter.register_structure_hook(float, _structure_float)
_converter.register_structure_hook(int, _structure_int)
_converter.register_structure_hook(str, _structure_str)
_converter.register_structure_hook(bool, _structure_bool)
_converter.register_structure_hook(Secret, _structure_secret)
_converter.register_structure_hook_func(
    lambda t: isinstance(t, type) and issubclass(t, enum.Enum), _structure_enum
)


def _is_list(t: Any) -> bool:
    return typing.get_origin(t) is list or t is list


def _is_mapping(t: Any) -> bool:
    return typing.get_origin(t) in (dict, Mapping, collections.abc.Mapping) or t is dict


def _shape_guard(kind: type, expected: str, inner: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    """``inner`` after checking the value is a ``kind`` (an array where a table was written
    would otherwise fail deep inside cattrs with ``'str' object has no attribute 'keys'``)."""

    def structure(value: Any, t: Any) -> Any:
        if not isinstance(value, kind):
            raise ValueError(f"expected {expected}, got {_shape_of(value)}")
        return inner(value, t)

    return structure


def _shape_of(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return repr(value)


_converter.register_structure_hook_factory(
    attrs.has,
    lambda t: _shape_guard(
        dict,
        "a table",
        make_dict_structure_fn(t, _converter, _cattrs_forbid_extra_keys=True),
    ),
)
_converter.register_structure_hook_factory(
    _is_list,
    lambda t: _shape_guard(
        list, "an array ([[table]] entries or [ ... ])", list_structure_factory(t, _converter)
    ),
)
_converter.register_structure_hook_factory(
    _is_mapping,
    lambda t: _shape_guard(dict, "a table", mapping_structure_factory(t, _converter)),
)
_converter.register_unstructure_hook(Decimal, str)
_converter.register_unstructure_hook(Secret, repr)


def _messages(exc: BaseException, path: str) -> list[str]:
    """One message per leaf error, each ending with the path it happened at."""
    out: list[str] = []
    if isinstance(exc, ClassValidationError | IterableValidationError):
        with_notes, without = exc.group_exceptions()
        for inner, note in with_notes:
            name = getattr(note, "name", None)
            step = f"[{note.index}]" if name is None else f".{name}"  # type: ignore[attr-defined]
            out.extend(_messages(inner, path + step))
        for inner in without:
            out.extend(_messages(inner, path))
    elif isinstance(exc, ForbiddenExtraKeysError):
        known = [f.name for f in attrs.fields(exc.cl)] if attrs.has(exc.cl) else []
        out.extend(
            f"unknown key @ {path}.{key}{did_you_mean(key, known)}"
            for key in sorted(exc.extra_fields)
        )
    elif isinstance(exc, KeyError):
        out.append(f"required key is missing @ {path}")
    elif isinstance(exc, ConfigError):
        out.append(str(exc).replace("@ $", f"@ {path}", 1))
    elif isinstance(exc, ValueError | TypeError):
        # A validator may name its field: "... @ $.lot_size" lands at "{path}.lot_size".
        text = str(exc)
        out.append(text.replace("@ $", f"@ {path}", 1) if "@ $" in text else f"{text} @ {path}")
    else:
        out.append(f"{type(exc).__name__}: {exc} @ {path}")
    return out


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when ``name`` is a near-typo of one of ``known``, else ``""``."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def structure(data: Any, cls: type[T], *, path: str = "$") -> T:
    """Structure ``data`` into ``cls``; errors become one ConfigError naming every path."""
    try:
        return _converter.structure(data, cls)
    except Exception as exc:
        raise ConfigError("; ".join(_messages(exc, path))) from None


def unstructure(obj: Any) -> Any:
    """Plain JSON-ready data for ``obj`` (Decimals as strings, enums as values)."""
    return _converter.unstructure(obj)
