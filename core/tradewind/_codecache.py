"""The compiled code of attrs' and cattrs' generated methods, kept between processes.

attrs writes the source of each class's ``__init__``, ``__eq__``, ``__repr__``, ``__hash__``
... and cattrs each structuring function, then ``compile``\\ s it: ~200 compilations and
~65 ms of every ``tradewind backtest`` process's start-up, for the same sources each time.
Python keeps the bytecode of modules in ``__pycache__``; this keeps the code objects of those
generated sources there too, in one ``marshal`` file per interpreter (``cache_tag``) and
optimisation level, keyed by everything ``compile`` reads: the source, the file name, the
mode and the ``__future__`` flags the caller's code has (which ``compile`` inherits). A
source not in the file is compiled as before; the code object of a hit is the one
``compile`` returns (``marshal`` writes code objects whole, as the bytecode cache does), so
the classes and functions made from it are the same.

One part of attrs' sources changes from process to process: a hashable class's ``__hash__``
starts its tuple with ``hash()`` of the class's generated file name, a string hash that
``PYTHONHASHSEED`` randomises. That integer is kept out of the key: the source is cached with
a stand-in of the same text length in its place (``-999...`` or ``999...``), and each hit gets
the stand-in replaced in its code's constants by the process's own integer — the code object
``compile`` makes of the real source (the same instructions, constant slots, positions and line
table; the cases where it would not be — the integer already a constant of that code, the
stand-in found more or less than once — are compiled as before).

:func:`hook` sets a module's global ``compile`` (attrs' ``attr._make``, cattrs'
``cattrs.gen``: both call ``compile(script, filename, "exec")``); a library that stops calling
it by that name simply compiles again. The file is read once, at the first generated source,
and written at exit when the process compiled a source it did not hold — not when Python
writes no bytecode (``-B``, ``PYTHONDONTWRITEBYTECODE``), nor where the folder cannot be
written. Entries are added to what the file holds, up to :data:`MAX_ENTRIES`; past that the
oldest go (this process's own are written last).
"""

from __future__ import annotations
import __future__

import atexit
import builtins
import importlib.util
import marshal
import os
import re
import sys
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

#: Entries kept in the file at most (a backtest's process uses ~170, ~100 of them a hashable
#: class's methods, whose type hash has a few lengths and both signs: a few variants each).
MAX_ENTRIES = 1024

#: The ``__future__`` flags a compilation inherits from its caller's code.
_FUTURE = 0
for _name in __future__.all_feature_names:
    _FUTURE |= getattr(__future__, _name).compiler_flag

_Key = tuple[str, str, str, int]
_real_compile = builtins.compile
_cache: dict[_Key, CodeType] | None = None
_used: dict[_Key, CodeType] = {}
_missed = False
_registered = False


def cache_path() -> Path:
    """The file: ``tradewind/__pycache__/_generated.<cache tag>[.opt-N].marshal`` (or under
    ``sys.pycache_prefix`` as Python puts the package's bytecode)."""
    here = Path(__file__).resolve().parent
    tag = sys.implementation.cache_tag or "python"
    opt = f".opt-{sys.flags.optimize}" if sys.flags.optimize else ""
    name = f"_generated.{tag}{opt}.marshal"
    if sys.pycache_prefix:
        return Path(sys.pycache_prefix) / here.relative_to(here.anchor) / name
    return here / "__pycache__" / name


def _load() -> dict[_Key, CodeType]:
    try:
        data = cache_path().read_bytes()
    except OSError:
        return {}
    magic = importlib.util.MAGIC_NUMBER
    if data[: len(magic)] != magic:
        return {}
    try:
        got = marshal.loads(data[len(magic) :])
    except (EOFError, ValueError, TypeError):
        return {}
    return got if type(got) is dict else {}


def _save() -> None:
    if not _missed or sys.dont_write_bytecode:
        return
    # What the file holds, then this process's own last (newest), the oldest dropped past
    # MAX_ENTRIES.
    entries = {k: v for k, v in _load().items() if k not in _used}
    entries.update(_used)
    if len(entries) > MAX_ENTRIES:
        entries = dict(list(entries.items())[-MAX_ENTRIES:])
    path = cache_path()
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(importlib.util.MAGIC_NUMBER + marshal.dumps(entries))
        os.replace(tmp, path)
    except (OSError, ValueError):
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def compile(
    source: Any,
    filename: Any,
    mode: str,
    flags: int = 0,
    dont_inherit: bool = False,
    optimize: int = -1,
    **kwargs: Any,
) -> Any:
    """``builtins.compile`` as called from the caller's code, from the cache when it holds
    the same source, file name, mode and inherited flags."""
    global _cache, _missed, _registered
    if (
        type(source) is not str
        or type(filename) is not str
        or flags
        or dont_inherit
        or optimize != -1
        or kwargs
    ):
        return _real_compile(source, filename, mode, flags, dont_inherit, optimize, **kwargs)
    inherited = sys._getframe(1).f_code.co_flags & _FUTURE
    found = _TYPE_HASH.findall(source)
    value: int | None = None
    if len(found) == 1:
        _, sign, digits = found[0]
        value = int(sign + digits)
        stand_in = int(sign + "9" * len(digits))
        source = _TYPE_HASH.sub(lambda m: m.group(1) + sign + "9" * len(digits), source)
    key = (source, filename, mode, inherited)
    if _cache is None:
        _cache = _load()
    code = _cache.get(key)
    if code is None:
        code = _real_compile(source, filename, mode, inherited, True)
        _cache[key] = code
        _missed = True
        if not _registered:
            _registered = True
            atexit.register(_save)
    _used[key] = code
    if value is None:
        return code
    got = _put(code, stand_in, value)
    if got is None or got[1] != 1:  # not exactly compile's code: compile the real source
        return _real_compile(_TYPE_HASH.sub(lambda m: m.group(1) + str(value), source),
                             filename, mode, inherited, True)  # fmt: skip
    return got[0]


#: attrs' ``__hash__``: ``return hash((`` then, alone on the next line, the type's hash.
_TYPE_HASH = re.compile(r"(return hash\(\(\n[ \t]*)(-?)(\d+)(?=,\n)")


def _put(code: CodeType, stand_in: int, value: int) -> tuple[CodeType, int] | None:
    """``code`` with the int constant ``stand_in`` replaced by ``value`` in it and in the
    code objects among its constants, and how many were replaced; None where ``value`` is
    already an int constant of a code holding the stand-in (compile would share the slot)."""
    consts = list(code.co_consts)
    count = 0
    here = False
    for i, c in enumerate(consts):
        if type(c) is int and c == stand_in:
            consts[i] = value
            count += 1
            here = True
        elif type(c) is CodeType:
            got = _put(c, stand_in, value)
            if got is None:
                return None
            if got[1]:
                consts[i] = got[0]
                count += got[1]
    if here and any(type(c) is int and c == value for c in code.co_consts):
        return None
    return (code.replace(co_consts=tuple(consts)) if count else code), count


def hook(module: ModuleType) -> None:
    """Make ``module``'s calls of ``compile`` go through the cache."""
    if "compile" not in vars(module):
        module.compile = compile  # type: ignore[attr-defined]
