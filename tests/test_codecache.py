"""attrs' and cattrs' generated code kept between processes (``tradewind._codecache``): every
code object it gives is the one ``compile`` makes of the same source, in any process."""

from __future__ import annotations

import builtins
import marshal
import os
import random
import subprocess
import sys
from pathlib import Path

import attr
import attrs
import pytest
from tradewind import _codecache

CORE = Path(__file__).resolve().parents[1] / "core"


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """The module's state emptied and its file in ``tmp_path``."""
    monkeypatch.setattr(_codecache, "_cache", None)
    monkeypatch.setattr(_codecache, "_used", {})
    monkeypatch.setattr(_codecache, "_missed", False)
    monkeypatch.setattr(_codecache, "_registered", True)  # no atexit write from a test
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    path = tmp_path / "gen.marshal"
    monkeypatch.setattr(_codecache, "cache_path", lambda: path)
    return path


def _sources() -> list[tuple[str, str]]:
    """The sources attrs writes for classes of every kind (frozen and hashable ones with the
    type's hash in their ``__hash__``, slots, order, validators, defaults, kw-only)."""
    got: list[tuple[str, str]] = []
    real = attr._make.compile

    def capture(source, filename, mode, *a, **k):
        got.append((source, filename))
        return builtins.compile(source, filename, mode, *a, **k)

    attr._make.compile = capture
    try:
        for frozen in (False, True):
            for slots in (False, True):

                @attrs.define(frozen=frozen, slots=slots, order=True, hash=True)
                class A:
                    x: int
                    y: str = "a"
                    z: list[int] = attrs.field(
                        factory=list, validator=attrs.validators.instance_of(list)
                    )
                    w: float = attrs.field(default=1.0, kw_only=True)

                @attr.s(frozen=frozen, slots=slots, eq=True, hash=None)
                class B:
                    a = attr.ib()
                    b = attr.ib(default=0, converter=int)

                A(1), B(2)
    finally:
        attr._make.compile = real
    return got


_FIELDS = ("co_filename", "co_name", "co_qualname", "co_firstlineno", "co_flags",
           "co_argcount", "co_posonlyargcount", "co_kwonlyargcount", "co_stacksize",
           "co_nlocals", "co_code", "co_names", "co_varnames", "co_freevars", "co_cellvars",
           "co_linetable", "co_exceptiontable")  # fmt: skip


def _same(a, b) -> bool:
    """The same code: ``==`` (which leaves out the file and qualified names) and every field,
    the positions and the constants (their types too), code constants alike throughout."""
    if type(a) is not type(b):
        return False
    if not isinstance(a, type(_same.__code__)):
        return a == b if not isinstance(a, tuple | frozenset) else (
            len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
        )  # fmt: skip
    return (
        a == b
        and all(getattr(a, f) == getattr(b, f) for f in _FIELDS)
        and list(a.co_positions()) == list(b.co_positions())
        and len(a.co_consts) == len(b.co_consts)
        and all(_same(x, y) for x, y in zip(a.co_consts, b.co_consts, strict=True))
    )


def test_a_cached_generated_source_is_compiles_code_for_any_type_hash(fresh):
    sources = _sources()
    hashed = [s for s in sources if _codecache._TYPE_HASH.search(s[0])]
    assert hashed and len(hashed) < len(sources)
    rng = random.Random(17)
    for source, filename in sources:
        m = _codecache._TYPE_HASH.search(source)
        # The same class in many processes: its type hash of every sign and length.
        variants = [source]
        if m:
            for v in [
                0,
                -1,
                7,
                2**63 - 1,
                -(2**63),
                *(rng.getrandbits(64) - 2**63 for _ in range(40)),
            ]:
                variants.append(source[: m.start(2)] + str(v) + source[m.end(3) :])
        for text in variants:
            want = compile(text, filename, "exec")
            got = _codecache.compile(text, filename, "exec")
            assert _same(got, want), text
            # A second time: from the cache.
            assert _same(_codecache.compile(text, filename, "exec"), want)
    # Read back from the file the next process reads.
    _codecache._save()
    loaded = _codecache._load()
    assert loaded and all(_same(loaded[k], v) for k, v in _codecache._used.items())


def test_the_type_hash_already_a_constant_is_compiled_as_before(fresh):
    text = (
        "def __hash__(self):\n        return hash((\n                5,\n"
        "                self.a, 5,\n            ))\n"
    )
    want = compile(text, "<x>", "exec")
    assert _same(_codecache.compile(text, "<x>", "exec"), want)
    assert _same(_codecache.compile(text, "<x>", "exec"), want)


def test_other_calls_and_flags_compile_as_before(fresh):
    import ast

    tree = ast.parse("x = 1")
    assert _same(_codecache.compile(tree, "<t>", "exec"), compile(tree, "<t>", "exec"))
    text = "def f(a: int) -> int:\n    return a\n"
    assert _same(
        _codecache.compile(text, "<t>", "exec", 0, True), compile(text, "<t>", "exec", 0, True)
    )
    # The caller's __future__ flags are inherited (this module has annotations): the same code
    # as compile called here, not as compile called from a module without them.
    assert _same(_codecache.compile(text, "<t>", "exec"), compile(text, "<t>", "exec"))
    assert not _same(compile(text, "<t>", "exec"), compile(text, "<t>", "exec", 0, True))


def test_a_damaged_or_foreign_file_is_not_read(fresh):
    for data in (b"", b"junk", _codecache.importlib.util.MAGIC_NUMBER + b"\x00\x01",
                 b"\x00\x00\r\n" + marshal.dumps({})):  # fmt: skip
        fresh.write_bytes(data)
        assert _codecache._load() == {}
    fresh.write_bytes(_codecache.importlib.util.MAGIC_NUMBER + marshal.dumps([1]))
    assert _codecache._load() == {}


def test_nothing_is_written_when_python_writes_no_bytecode(fresh, monkeypatch):
    _codecache.compile("x = 1\n", "<t>", "exec")
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    _codecache._save()
    assert not fresh.exists()
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    _codecache._save()
    assert fresh.exists() and len(_codecache._load()) == 1


_DUMP = """
import builtins, marshal, sys, attrs
if sys.argv[1:] == ["plain"]:  # attrs and cattrs as they are: compile each source
    import attr._make, cattrs.gen
    attr._make.compile = cattrs.gen.compile = builtins.compile
import tradewind.config, tradewind.model, tradewind.trading.engine, tradewind._serde as s
from tradewind import _codecache
CodeType = type((lambda: 0).__code__)
FIELDS = @FIELDS@


def canon(c):
    # The code as plain values (marshal's bytes of equal code can differ by its refs).
    if isinstance(c, CodeType):
        return ("code", *(getattr(c, f) for f in FIELDS), list(c.co_positions()),
                [canon(x) for x in c.co_consts])
    if isinstance(c, tuple | frozenset):
        return (type(c).__name__, [canon(x) for x in c])
    return (type(c).__name__, repr(c))


classes = []
seen = set()
for mod in list(sys.modules.values()):
    for v in list(vars(mod).values()) if mod else ():
        if isinstance(v, type) and attrs.has(v) and v not in seen:
            seen.add(v)
            classes.append(v)
classes.sort(key=lambda c: (c.__module__, c.__qualname__))
out = []
for c in classes:
    for name in ("__init__", "__eq__", "__ne__", "__repr__", "__hash__", "__lt__", "__setattr__"):
        f = c.__dict__.get(name)
        code = getattr(f, "__code__", None)
        if code is not None:
            out.append((c.__module__ + "." + c.__qualname__, name, canon(code)))
# The embedded default config checked (its plugins' classes, cattrs' structuring functions),
# then every generated source's code the process used, the stand-ins' included.
from tradewind.cli import default_config_path
from tradewind.config_check import check_config
check_config(default_config_path())
for c in sorted({v for m in list(sys.modules.values()) for v in list(vars(m).values())
                 if isinstance(v, type) and attrs.has(v)} - seen, key=repr):
    for name in ("__init__", "__eq__", "__repr__", "__hash__"):
        code = getattr(c.__dict__.get(name), "__code__", None)
        if code is not None:
            out.append((c.__module__ + "." + c.__qualname__, name, canon(code)))
for key in sorted(_codecache._used):
    out.append((key[1], key[0], canon(_codecache._used[key])))
sys.stdout.buffer.write(marshal.dumps((out, len(_codecache._cache or {}), _codecache._missed)))
""".replace("@FIELDS@", repr(_FIELDS))


def _run(
    tmp_path: Path, prefix: Path, seed: int, write: bool, plain: bool = False
) -> tuple[list, int, bool]:
    env = dict(os.environ, PYTHONPATH=str(CORE), PYTHONHASHSEED=str(seed),
               PYTHONPYCACHEPREFIX=str(prefix))  # fmt: skip
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    cmd = [sys.executable, "-c", _DUMP, *(["plain"] if plain else [])]
    proc = subprocess.run(cmd, env=env, capture_output=True, check=True)
    out, n, missed = marshal.loads(proc.stdout)
    return out, n, missed


@pytest.mark.slow
def test_a_process_reading_another_seeds_cache_makes_the_same_code(tmp_path):
    """Processes of other hash seeds write the file; a process reading it makes every attrs
    class's methods (the core's, the default config's plugins') with the code attrs makes
    without the cache at the same seed."""
    cached, empty = tmp_path / "cached", tmp_path / "empty"
    for seed in (1, 2, 3, 4, 5, 6):
        _run(tmp_path, cached, seed, write=True)
    for seed in (7, 99):
        want, n0, _ = _run(tmp_path, empty, seed, write=False, plain=True)
        got, n, _ = _run(tmp_path, cached, seed, write=False)
        assert n0 == 0  # never asked
        assert n > 100  # the file was read
        # The classes' methods (the plain process lists no generated source of its own).
        assert len(want) > 300 and got[: len(want)] == want
    assert not any(empty.rglob("_generated*"))


def test_the_file_keeps_the_newest_entries_up_to_its_limit(fresh, monkeypatch):
    monkeypatch.setattr(_codecache, "MAX_ENTRIES", 5)
    for i in range(4):
        _codecache.compile(f"x = {i}\n", "<t>", "exec")
    _codecache._save()
    monkeypatch.setattr(_codecache, "_used", {})
    monkeypatch.setattr(_codecache, "_cache", None)
    for i in (1, 7, 8):  # one of the file's used again, two new
        _codecache.compile(f"x = {i}\n", "<t>", "exec")
    _codecache._save()
    kept = [k[0] for k in _codecache._load()]
    assert kept == ["x = 2\n", "x = 3\n", "x = 1\n", "x = 7\n", "x = 8\n"]
    for key, code in _codecache._load().items():
        assert _same(code, compile(key[0], "<t>", "exec"))
