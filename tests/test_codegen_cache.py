"""The methods attrs and cattrs generate are compiled once and kept like ``.pyc`` files
(:mod:`tradewind.codegen_cache`, issue 17: ~200 of them were compiled again by every
``tradewind backtest`` process, the largest single item of its start-up). A cached code
object is the one ``compile`` gives; a second program compiles none of them; a backtest's
report, summary and journal are the same bytes with the cache cold and warm."""

from __future__ import annotations

import builtins
import json
import marshal
import os
import subprocess
import sys
from pathlib import Path

from tradewind.codegen_cache import CodeCache, default_path

from tests.test_determinism import _rows

_SOURCE = "def f(x: int) -> int:\n    return x + 1\n"
_FILE = "<attrs generated methods tests.C>"


def test_cached_code_is_the_code_compile_gives_and_is_read_back(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    path = tmp_path / "cache.marshal"
    cache = CodeCache(path)
    code = cache.compile(_SOURCE, _FILE, "exec")
    # This module's `from __future__ import annotations` is inherited, as compile() does.
    assert code == builtins.compile(_SOURCE, _FILE, "exec")
    assert cache.missed == 1 and not path.exists()
    assert cache.write() and path.is_file()
    again = CodeCache(path)
    got = again.compile(_SOURCE, _FILE, "exec")
    assert again.missed == 0 and got == code and got is not code  # read from the file
    ns: dict[str, object] = {}
    exec(got, ns)
    assert ns["f"].__annotations__ == {"x": "int", "return": "int"}  # type: ignore[attr-defined]
    assert ns["f"](41) == 42  # type: ignore[operator]
    assert not again.write()  # nothing new: the file is not written again


def test_a_caller_without_the_future_import_gets_its_own_entry(tmp_path):
    cache = CodeCache(tmp_path / "cache.marshal")
    ns: dict[str, object] = {"cache": cache, "src": _SOURCE, "fn": _FILE}
    # A caller compiled without `from __future__ import annotations` (as attrs' code is not).
    caller = builtins.compile("code = cache.compile(src, fn, 'exec')", "<caller>", "exec", 0, True)
    exec(caller, ns)
    plain = ns["code"]
    assert plain == builtins.compile(_SOURCE, _FILE, "exec", 0, True)
    with_future = cache.compile(_SOURCE, _FILE, "exec")
    assert with_future != plain and cache.missed == 2
    made: dict[str, object] = {}
    exec(plain, made)
    assert made["f"].__annotations__ == {"x": int, "return": int}  # type: ignore[attr-defined]


def test_a_damaged_or_foreign_file_is_compiled_as_before_and_replaced(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    path = tmp_path / "cache.marshal"
    for content in (b"not marshal", marshal.dumps((99, [])), marshal.dumps(["x"])[:3]):
        path.write_bytes(content)
        cache = CodeCache(path)
        assert cache.codes == {}
        assert cache.compile(_SOURCE, _FILE, "exec") == builtins.compile(_SOURCE, _FILE, "exec")
        assert cache.write()
        assert len(CodeCache(path).codes) == 1


def test_nothing_is_written_where_bytecode_is_not(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    path = tmp_path / "cache.marshal"
    cache = CodeCache(path)
    cache.compile(_SOURCE, _FILE, "exec")
    assert not cache.write() and not path.exists()
    # A folder that cannot be written: no error, no file.
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    blocked = tmp_path / "file"
    blocked.write_text("")
    cache = CodeCache(blocked / "cache.marshal")
    cache.compile(_SOURCE, _FILE, "exec")
    assert not cache.write()


#: A program (``main()`` without arguments) with every compile of a source attrs or cattrs
#: generates for tradewind's and its plugins' classes counted (attrs' own classes are made
#: as it is imported, before the cache is installed); prints the count and the cache file's
#: path last.
_PROGRAM = """
import builtins, json, sys

real = builtins.compile
generated = []


def counted(source, filename, *args, **kwargs):
    if isinstance(filename, str) and "generated" in filename and "tradewind" in filename:
        generated.append(filename)
    return real(source, filename, *args, **kwargs)


builtins.compile = counted
import atexit

from tradewind.codegen_cache import default_path


def report():
    print(json.dumps({"compiled": len(generated), "cache": str(default_path())}))


atexit.register(report)  # registered first: runs after the cache's write
sys.argv = ["tradewind", *sys.argv[1:]]
from tradewind.cli import main

sys.exit(main())
"""


def _program(args: list[str], prefix: Path, cwd: Path) -> tuple[dict, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(prefix)
    proc = subprocess.run(
        [sys.executable, "-c", _PROGRAM, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    return json.loads(lines[-1]), "\n".join(lines[:-1])


def test_a_second_program_compiles_no_generated_method(tmp_path):
    prefix = tmp_path / "pycache"
    first, _ = _program(["config", "check", _default_config()], prefix, tmp_path)
    assert first["compiled"] > 100  # the model's, the config's and the plugins' classes
    cache = Path(first["cache"])
    assert cache.is_file() and prefix in cache.parents
    second, _ = _program(["config", "check", _default_config()], prefix, tmp_path)
    assert second["compiled"] == 0
    assert default_path().name == cache.name


def _default_config() -> str:
    from tradewind.cli import default_config_path

    return str(default_config_path())


def test_a_backtest_is_the_same_bytes_with_the_cache_cold_and_warm(tmp_path):
    """The embedded default backtest (the shipped sample), as the program, twice."""
    prefix = tmp_path / "pycache"
    reports = tmp_path / "reports"
    outputs = []
    for name in ("cold", "warm"):
        for p in reports.glob("journal.duckdb*"):
            p.unlink()
        got, stdout = _program(["backtest", "--report-dir", "reports"], prefix, tmp_path)
        if name == "cold":
            assert got["compiled"] > 100
        else:
            assert got["compiled"] == 0
        outputs.append(
            (
                stdout,
                (reports / "report.json").read_bytes(),
                (reports / "report.html").read_bytes(),
                _rows(reports / "journal.duckdb"),
            )
        )
    assert outputs[0][3]["fills"]  # the run traded
    assert outputs[0] == outputs[1]
