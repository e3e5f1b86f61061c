"""The methods attrs and cattrs generate, compiled once and kept like ``.pyc`` files.

attrs writes the source of each class's ``__init__``, ``__eq__``, ``__repr__`` … and cattrs
the source of each config class's structure function; both compile it with ``compile()`` as
the class is made or the converter first meets it. A ``tradewind backtest`` process builds
~200 of them (the domain model, the config and every plugin's config): 50–90 ms of CPU, the
largest single item of its start-up, compiled again by every process from the same text.

:func:`install` gives both libraries' modules a ``compile`` that looks the source up in a
cache first: the code objects compiled for a (mode, flags, file name, source text) before,
read with :mod:`marshal` (what an import reads from a ``.pyc``). A miss compiles as before
and, when the process ends, the cache file is written again with it, under the rules of the
interpreter's own bytecode cache: in the ``__pycache__`` folder of this package (or under
``PYTHONPYCACHEPREFIX``), one file per interpreter (``sys.implementation.cache_tag``), never
when bytecode is not written (``PYTHONDONTWRITEBYTECODE``, ``-B``), replaced atomically, and a
file that cannot be read or written is no error (it is compiled as before). The key holds the
whole source text and the flags ``compile`` would have used, so a cached code object is the
one ``compile`` would return: the same classes, the same bits. Only the command line installs
it (the commands that load a config); a process that imports tradewind compiles as before.
"""

from __future__ import annotations
import __future__

import builtins
import hashlib
import marshal
import os
import sys
from pathlib import Path
from types import CodeType
from typing import Any

#: The modules whose ``compile`` is looked up in the cache (each is imported by install).
MODULES = ("attr._make", "cattrs.gen", "cattrs.gen.typeddicts")

#: Entries kept in the file at most: the ones this process used first, then the others.
MAX_ENTRIES = 4_000

#: The ``compile`` flags a caller's future statements give (``dont_inherit=False``): the
#: features' flags, less ``nested_scopes``' (a plain code flag of nested functions, which
#: ``compile`` does not inherit).
_FUTURE_FLAGS = 0
for _name in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _name).compiler_flag
_FUTURE_FLAGS &= ~__future__.nested_scopes.compiler_flag

#: The file format's version: a file of another is ignored (and written again).
_FORMAT = 1

_compile = builtins.compile


class CodeCache:
    """Code objects by the hash of what was compiled (see the module's docstring)."""

    def __init__(self, path: Path | None) -> None:
        #: The cache file (None: kept in memory only).
        self.path = path
        self.codes: dict[bytes, CodeType] = {}
        #: Keys looked up by this process (hits and misses), in order.
        self.used: dict[bytes, None] = {}
        #: Compiled by this process (not in the file it read).
        self.missed = 0
        if path is not None:
            self.codes = _read(path)

    def compile(
        self,
        source: Any,
        filename: Any,
        mode: str,
        flags: int = 0,
        dont_inherit: bool = False,
        optimize: int = -1,
        **kwargs: Any,
    ) -> Any:
        """``compile()`` of a generated source, from the cache when it holds it."""
        if kwargs or not isinstance(source, str) or not isinstance(filename, str):
            return _compile(source, filename, mode, flags, dont_inherit, optimize, **kwargs)
        if not dont_inherit:
            # The caller's future statements, as compile() would inherit them (here they
            # would be this module's).
            flags |= sys._getframe(1).f_code.co_flags & _FUTURE_FLAGS
        if optimize == -1:
            optimize = sys.flags.optimize
        key = hashlib.blake2b(
            f"{mode}\0{flags}\0{optimize}\0{filename}\0{source}".encode("utf-8", "surrogatepass"),
            digest_size=20,
        ).digest()
        self.used[key] = None
        code = self.codes.get(key)
        if code is None:
            code = _compile(source, filename, mode, flags, True, optimize)
            if flags & 0x400:  # ast.PyCF_ONLY_AST: not a code object
                return code
            self.codes[key] = code
            self.missed += 1
        return code

    def write(self) -> bool:
        """Write the file again when this process compiled what it did not hold; True when
        it was written. Never raises for the file (a read-only folder: not written)."""
        if self.path is None or not self.missed or sys.dont_write_bytecode:
            return False
        keys = [*self.used, *(k for k in self.codes if k not in self.used)][:MAX_ENTRIES]
        data = marshal.dumps((_FORMAT, [(k, self.codes[k]) for k in keys]))
        # As importlib writes a .pyc: a file of this process's own, then renamed over.
        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, self.path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError:
            return False
        self.missed = 0
        return True


def _read(path: Path) -> dict[bytes, CodeType]:
    """The file's entries; none when it is missing, unreadable or not this format."""
    try:
        data = path.read_bytes()
    except OSError:
        return {}
    try:
        version, entries = marshal.loads(data)
        if version != _FORMAT:
            return {}
        return {k: c for k, c in entries if type(k) is bytes and type(c) is CodeType}
    except (EOFError, ValueError, TypeError):
        return {}


def default_path() -> Path:
    """The cache file of this interpreter: beside this package's ``.pyc`` files."""
    folder = Path(__file__).resolve().parent
    name = f"generated.{sys.implementation.cache_tag}.marshal"
    prefix = sys.pycache_prefix
    if prefix:
        return Path(prefix, *folder.parts[1:], name)
    return folder / "__pycache__" / name


#: The installed cache (None until :func:`install`).
_installed: CodeCache | None = None


def install(path: Path | None = None) -> CodeCache:
    """Look attrs' and cattrs' generated sources up in the cache file ``path`` (default:
    :func:`default_path`) from now on, and write it again at exit when something was
    compiled; once per process (a second call returns the first cache)."""
    global _installed
    if _installed is not None:
        return _installed
    import atexit
    import importlib

    cache = CodeCache(default_path() if path is None else path)
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:  # a version without it: compiled as before
            continue
        if getattr(module, "compile", builtins.compile) is builtins.compile:
            module.compile = cache.compile  # type: ignore[attr-defined]
    atexit.register(cache.write)
    _installed = cache
    return cache
