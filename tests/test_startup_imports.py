"""A ``tradewind backtest`` process imports only what the run uses (issue 17: start-up is
part of the whole-process figure). Each test runs the CLI in a subprocess with an import
watcher first on ``sys.meta_path``: it records every module the process *tries* to import
(whether or not it is installed here), so pandas counts even where pandas is absent — pyarrow's
own conversions try it at their first call."""

import json
import subprocess
import sys
from pathlib import Path

import tradewind
from tradewind.market.importers import load, ticks_parquet

#: Never needed by a backtest of the default plugin set: the API and web stack, venue,
#: notifier and aggregator plugins it does not configure, cluster hosts, the data commands
#: and their download client, pandas (through pyarrow's conversions), pyarrow.dataset, and
#: (stderr not being a terminal) the progress bar's rich.progress.
UNUSED = (
    "pandas",
    "fastapi",
    "uvicorn",
    "starlette",
    "jinja2",
    "matplotlib",
    "ccxt",
    "web3",
    "cryptofeed",
    "nats",
    "dask",
    "distributed",
    "psycopg",
    "urllib.request",
    "pyarrow.dataset",
    "tradewind.api",
    "tradewind.cluster.hosts",
    "tradewind.market.cli",
    "tradewind.market.download",
    "tradewind_venue_",
    "tradewind_notifier_",
    "tradewind_aggregator_",
    "tradewind_exit_liquidity",
    # The progress bar's (and its live display's) module: only with stderr on a terminal.
    "rich.progress",
    # On-chain best execution: the config's [routing] section needs only
    # tradewind.execution.config; the package's quote model and router load at first use.
    "tradewind.execution.quotes",
    "tradewind.execution.router",
    "tradewind.execution.aggregator",
    "tradewind.execution.host",
    "tradewind.execution.evm",
    "tradewind.execution.http",
    # The plugins' entry points are read and loaded by tradewind._dists and the loader.
    "stevedore",
    # Masked arrays (~15 ms of import, at the first numpy.ma.is_masked: numpy.unique without
    # its indices asks it): nothing a backtest runs needs them.
    "numpy.ma",
)

_WATCH = """
import json, sys

UNUSED = tuple(json.loads(sys.argv[1]))


def unused(name):
    return any(
        name.startswith(u) if u.endswith("_") else name == u or name.startswith(u + ".")
        for u in UNUSED
    )


class Watch:
    asked = set()

    def find_spec(self, name, path=None, target=None):
        if unused(name):
            self.asked.add(name)
        return None


sys.meta_path.insert(0, Watch())
from tradewind.cli import main

rc = main(sys.argv[2:])
loaded = sorted(m for m in sys.modules if m == "pyarrow.compute" or unused(m))
print(json.dumps({"rc": rc, "asked": sorted(Watch.asked), "loaded": loaded}))
"""


def _backtest(cwd: Path, *args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _WATCH, json.dumps(UNUSED), "backtest", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["rc"] == 0
    return out


def test_default_backtest_imports_nothing_it_does_not_use(tmp_path):
    out = _backtest(tmp_path, "--report-dir", str(tmp_path / "reports"))
    assert (tmp_path / "reports" / "report.html").exists()
    assert out["asked"] == [], out
    # The shipped sample is a Tardis CSV: its importer parses the text with pyarrow.compute.
    assert out["loaded"] == ["pyarrow.compute"], out


def test_backtest_of_a_ticks_parquet_file_skips_pyarrow_compute(tmp_path):
    # The peer benchmark's shape: a tradewind ticks parquet file (dictionary-coded symbol).
    sample = Path(tradewind.__file__).parent / "defaults" / "data"
    batches = load(sample / "tardis_binance-futures_BTCUSDT_trades.csv").batches
    data = tmp_path / "ticks.parquet"
    ticks_parquet.write(data, batches, exchange="binance", market="perp")
    text = (Path(tradewind.__file__).parent / "defaults" / "backtest.toml").read_text("utf-8")
    old = 'path = "data/tardis_binance-futures_BTCUSDT_trades.csv"'
    assert old in text
    cfg = tmp_path / "ticks.toml"
    cfg.write_text(text.replace(old, f'path = "{data.as_posix()}"'), encoding="utf-8")
    out = _backtest(tmp_path, str(cfg), "--report-dir", str(tmp_path / "reports"))
    assert out["asked"] == [], out
    # The text importers' pyarrow.compute (50-100 ms of import) is not loaded for it.
    assert out["loaded"] == [], out


# The program (main() without argv) with the collector watched from main on: each collection
# records the frozen objects' count and whether the run's modules (the engine, imported by
# the start-up, and the report's journal reader, imported after the run) were loaded; then the
# collector's state at exit (the fast exit runs the atexit handlers).
_GC_PROGRAM = """
import atexit, gc, json, sys

sys.argv = ["tradewind", *sys.argv[1:]]
from tradewind.cli import main

seen = []


def watch(phase, info):
    if phase == "start":
        seen.append([gc.get_freeze_count(), "tradewind.trading.engine" in sys.modules,
                     "tradewind.report.journal_reader" in sys.modules])


gc.callbacks.append(watch)
atexit.register(
    lambda: print(json.dumps({"collections": seen, "enabled": gc.isenabled(),
                              "frozen": gc.get_freeze_count()}))
)
sys.exit(main())
"""


def test_the_program_collects_no_garbage_while_starting_then_collects(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", _GC_PROGRAM, "backtest", "--report-dir", "reports"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (tmp_path / "reports" / "report.html").exists()
    during = [frozen for frozen, engine, after in out["collections"] if engine and not after]
    # From the engine's import to the end of the run every collection found the start-up's
    # objects frozen (none ran during the start-up), and the run itself still collected.
    assert during and all(frozen > 10_000 for frozen in during), out
    # The collector is on at exit, and the frozen objects were given back.
    assert out["enabled"] is True and out["frozen"] == 0, out


def test_the_programs_report_collects_with_the_runs_objects_frozen(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", _GC_PROGRAM, "backtest", "--report-dir", "reports"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    during = [frozen for frozen, engine, after in out["collections"] if engine and not after]
    report = [frozen for frozen, _engine, after in out["collections"] if after]
    # The report's collections (after the run) find what the run left frozen too: more
    # objects than the start-up's alone, which the run's collections found.
    assert report and during and min(report) > max(during), out
    assert out["enabled"] is True and out["frozen"] == 0, out


def test_main_called_with_arguments_leaves_the_collector_alone(tmp_path):
    code = (
        "import gc, sys\n"
        "from tradewind.cli import main\n"
        "rc = main(sys.argv[1:])\n"
        "print(rc, gc.isenabled(), gc.get_freeze_count())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "backtest", "--report-dir", str(tmp_path / "reports")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "0 True 0"


def test_the_progress_bar_is_built_only_on_a_terminal():
    import io

    from rich.console import Console
    from tradewind.progress import TickProgress

    term = Console(file=io.StringIO(), force_terminal=True, width=80)
    with TickProgress(term) as bar:
        bar.advance(400, 1000)
        bar.advance(600, 1000)
    assert bar.ticks == 1000 and "replaying" in term.file.getvalue()
    plain = Console(file=io.StringIO(), force_terminal=False)
    with TickProgress(plain) as counted:
        counted.advance(5, None)
    assert counted.ticks == 5 and plain.file.getvalue() == ""


_TOKENIZER = """
import json, sys, tokenize

from tradewind.cli import main

rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "patterns": tokenize._compile.cache_info().currsize}))
"""


def test_a_backtest_compiles_none_of_the_tokenizers_patterns(tmp_path):
    """attrs reads each field converter's signature as the class is made; a builtin's
    (``Decimal``, ``tuple``) is parsed from its text signature through the tokenizer, whose
    first use compiles its patterns (~6 ms of the start-up). The default plugin set's config
    converters are functions: a whole default backtest never tokenizes anything."""
    proc = subprocess.run(
        [sys.executable, "-c", _TOKENIZER, "backtest", "--report-dir", "reports"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"rc": 0, "patterns": 0}, out
