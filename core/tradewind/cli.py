"""The ``tradewind`` command line.

Exit codes (one table for every command; docs/index.md lists it, tests/test_exit_codes.py
checks it):

==  ==============================================================================
0   success (a paper or live run stopped by SIGINT/SIGTERM too)
1   runtime: the run started and failed
2   config: the config file is missing, malformed, or asks for something impossible
3   plugin: a plugin is not installed, blocked, fails to import, register or build
4   data: market data is missing, unreadable or unusable
5   venue: a venue call failed
6   journal: corrupt, truncated, locked by another host, a directory, or out of space
64  usage: the command line itself is wrong (argparse errors, unknown options)
130 interrupted (Ctrl-C)
==  ==============================================================================

Errors print one line, ``error: ...``; ``--debug`` (anywhere on the command line) adds the
traceback and debug logs, ``-v``/``--verbose`` info logs.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from tradewind import __version__
from tradewind.errors import ConfigError, TradewindError

if TYPE_CHECKING:
    from tradewind.config import Config
    from tradewind.trading.engine import RunResult

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_CONFIG = 2
EXIT_PLUGIN = 3
EXIT_DATA = 4
EXIT_VENUE = 5
EXIT_USAGE = 64
EXIT_INTERRUPTED = 130

#: Flags every command accepts anywhere on the command line (before or after the subcommand).
_GLOBAL_FLAGS = {"--debug": "debug", "-v": "verbose", "--verbose": "verbose"}


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on exit code 64 (argparse's own 2 is the config-error code)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"error: {self.prog}: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def default_config_path() -> Path:
    """The embedded default config: the default plugin set on the shipped BTCUSDT sample."""
    return Path(str(resources.files("tradewind") / "defaults" / "backtest.toml"))


def _cmd_plugins(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from tradewind.installed import check_all, inventory

    plugins = inventory()
    table = Table(title="installed tradewind plugins")
    for col in ("kind", "name", "distribution", "version", "capabilities"):
        table.add_column(col)
    if args.check:
        table.add_column("check")
    problems = check_all(plugins) if args.check else {}
    for p in plugins:
        row = [p.kind, p.name, p.distribution, p.version, ", ".join(sorted(p.capabilities)) or "?"]
        if args.check:
            row.append(problems.get((p.kind, p.name)) or "ok")
        table.add_row(*row)
    Console(width=160).print(table)
    bad = [k for k, v in problems.items() if v]
    return 3 if bad else 0


def _cached_code() -> None:
    """The program (``main()`` without arguments) keeps attrs' and cattrs' generated code
    between processes (:mod:`tradewind.codegen_cache`); before a command imports the model,
    the config and the plugins. A process that embeds :func:`main` compiles as before."""
    if _as_program:
        from tradewind.codegen_cache import install

        install()


def _cmd_config_check(args: argparse.Namespace) -> int:
    _cached_code()
    from tradewind.config_check import check_config
    from tradewind.trading.engine import Engine

    cfg = check_config(args.file, read_data=True)
    # Build every plugin as the run would (no data is read and no venue contacted): what a
    # plugin raises while it is constructed fails here, with the run's message and exit code.
    Engine(cfg)
    n = sum(len(v) for v in cfg.plugins.values())
    print(
        f"{args.file}: ok ({cfg.mode.value}, {len(cfg.instruments)} instruments, "
        f"{n} plugin instances)"
    )
    return 0


class _StartupGC:
    """No cyclic garbage collection while a ``tradewind backtest`` program starts.

    The start-up (the imports of numpy, pyarrow, DuckDB and tradewind's modules, the attrs
    and cattrs methods they generate, the plugins and the config check) allocates hundreds of
    thousands of objects that all live until the process ends; the collector, run every 700
    allocations, walked them ~145 times over (35-50 ms of CPU of a backtest of 2 M ticks at
    ~1,600 trades a minute, issue 17). :meth:`started`, called when the engine is about to
    run, moves them to the permanent generation (``gc.freeze``, as the engine's
    :class:`~tradewind.trading.collector.FrozenStart` does at the start of a backtest: later
    collections do not walk them) and turns the collector back on for the run; :meth:`close`
    gives them back (``gc.unfreeze``), or after a failure only turns the collector back on.
    Only for the program (``main`` without arguments, which ends the process): a process
    that embeds :func:`main` keeps its collector as it was."""

    def __init__(self, active: bool) -> None:
        import gc

        self.off = active and gc.isenabled()
        self.froze = False
        if self.off:
            gc.disable()

    def started(self) -> None:
        import gc

        if self.off:
            self.off = False
            self.froze = True
            gc.freeze()
            gc.enable()

    def run_ended(self) -> None:
        """Before the report: what the run left (its result's curves, fills and candles,
        hundreds of thousands of objects at ~25,000 closes) joins the permanent generation,
        so that the report's collections walk only what the report allocates (they walked
        the run's objects ~0.1 s of a 2 M-tick backtest at ~80 trades a minute); given back
        by :meth:`close` with the start-up's."""
        import gc

        if self.froze and gc.isenabled():
            gc.freeze()

    def close(self) -> None:
        import gc

        if self.off:
            self.off = False
            gc.enable()
        if self.froze:
            self.froze = False
            gc.unfreeze()


def _run(
    path: Path,
    report_dir: str | None,
    expect_mode: str | None,
    *,
    cluster: str | None = None,
    jobs: int | None = None,
) -> int:
    startup = _StartupGC(_as_program and expect_mode == "backtest")
    try:
        return _run_started(path, report_dir, expect_mode, startup, cluster=cluster, jobs=jobs)
    finally:
        startup.close()


def _run_started(
    path: Path,
    report_dir: str | None,
    expect_mode: str | None,
    startup: _StartupGC,
    *,
    cluster: str | None,
    jobs: int | None,
) -> int:
    from tradewind.config import Mode
    from tradewind.config_check import check_config, output_paths

    cfg = check_config(path, report_dir=report_dir)
    if expect_mode == "backtest" and cfg.mode is not Mode.BACKTEST:
        raise ConfigError(
            f'{path.name} has mode = "{cfg.mode.value}"; `tradewind backtest` needs mode = '
            f'"backtest" (use `tradewind run` for paper and live) @ $.mode'
        )
    journal_file, out = output_paths(cfg, report_dir)
    if cfg.mode is Mode.BACKTEST and (
        cluster is not None or (cfg.run.capital == "per_instrument" and len(cfg.instruments) > 1)
    ):
        # Independent books, each its own backtest (tradewind.backtest_split).
        from tradewind.backtest_split import run_split_backtest
        from tradewind.report.summary import print_summary

        startup.started()
        result, (jpath, hpath) = run_split_backtest(
            cfg, journal_file, out, cluster=cluster, jobs=jobs
        )
        print_summary(result, journal=journal_file, report=(hpath, jpath))
        return 0
    from tradewind.journal.opened_ahead import opening
    from tradewind.market.preload import preloading
    from tradewind.venues.replay import data_files

    # A backtest's data files are read, and its new journal file opened, on threads of their
    # own while the engine's and the report's modules are imported (with the start-up, frozen
    # with it) and the engine is built; the replay venue's connect and the engine's journal
    # take them (tradewind.ahead). Leaving the block waits for what is still running and
    # drops what was not taken.
    backtest = cfg.mode is Mode.BACKTEST
    kept = finish = None
    try:
        with (
            preloading(data_files(cfg) if backtest else ()),
            opening(_journal_of(cfg, journal_file) if backtest else None),
        ):
            from tradewind.report.metrics import write_report
            from tradewind.report.summary import print_summary

            result, kept, finish = _engine_run(cfg, journal_file, startup)
        startup.run_ended()
        from tradewind.report.analysis import analyse
        from tradewind.report.journal_reader import shared
    except BaseException:
        # Stopped between the run's end and the report (Ctrl-C, a read-ahead that failed as
        # it was let go): the journal's end-of-run write is still done, as the engine's
        # shutdown would have done it, before what stopped it is raised.
        _finish_now(kept, finish)
        raise

    # The report and the summary read the journal through one connection (the run's own,
    # kept open, or one read-only open), and share one analysis of the run (its round
    # trips, breakdowns and curves). A backtest's journal is finished on a thread of its own
    # meanwhile; the report's first read of it waits for that (a failed finish: no file).
    with shared(result.journal_path, kept, finish):
        analysis = analyse(result)
        jpath, hpath = write_report(result, out, analysis=analysis)
        print_summary(
            result, journal=_journal_of(cfg, journal_file), report=(hpath, jpath), analysis=analysis
        )
    return 0


def _finish_now(journal: Any, finish: Callable[[], None] | None) -> None:
    """Run a backtest journal's deferred end-of-run write (``Engine.kept_finish``, if any)
    here and close the journal the run kept open (if any); a failure of either is logged,
    not raised over what is being raised."""
    if journal is None:
        return
    import logging

    log = logging.getLogger("tradewind.cli")
    try:
        if finish is not None:
            finish()
    except Exception as exc:
        log.error("the journal's end-of-run write failed: %s", exc)
    finally:
        try:
            journal.close()
        except Exception as exc:
            log.error("closing the journal failed: %s", exc)


def _journal_of(cfg: Config, journal_file: Path) -> Path | str:
    """[journal] url (PostgreSQL) replaces [run] journal's file; the url holds no password."""
    return cfg.journal.url or journal_file


def _engine_run(
    cfg: Config, journal_file: Path, startup: _StartupGC
) -> tuple[RunResult, Any, Callable[[], None] | None]:
    """Build the engine and run it; its result, the journal it kept open (a backtest's) and
    that journal's end-of-run write, left to the caller (``Engine.defer_finish``)."""
    import anyio

    from tradewind.config import Mode
    from tradewind.progress import TickProgress
    from tradewind.trading.engine import Engine

    journal = _journal_of(cfg, journal_file)
    if cfg.run.cpus and cfg.mode is not Mode.BACKTEST:
        from tradewind.affinity import pin_process

        # Before the engine starts any thread (they inherit it) and the API process (which
        # places itself on [api] cpus).
        try:
            pin_process(cfg.run.cpus, "$.run.cpus")
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
    with TickProgress() as progress:
        engine = Engine(cfg, journal_path=str(journal), progress=progress.advance)
        # SIGINT/SIGTERM stop a paper or live run cleanly (exit 0, journal flushed).
        engine.handle_signals = True
        # A backtest's finished journal stays open for the report's reads (closed below).
        engine.keep_journal = engine.defer_finish = cfg.mode is Mode.BACKTEST
        startup.started()
        result = anyio.run(engine.run)
    kept, engine.kept_journal = engine.kept_journal, None
    finish, engine.kept_finish = engine.kept_finish, None
    return result, kept, finish


def _cmd_run(args: argparse.Namespace) -> int:
    _cached_code()
    return _run(Path(args.file), args.report_dir, None)


def _cmd_backtest(args: argparse.Namespace) -> int:
    _cached_code()
    path = Path(args.file) if args.file else default_config_path()
    if args.sweep:
        from tradewind.sweep import run_sweep

        run_sweep(
            path,
            Path(args.sweep),
            metric=args.metric,
            jobs=args.jobs,
            split=args.split,
            out_dir=Path(args.report_dir) if args.report_dir else None,
            cluster=args.cluster,
        )
        return 0
    if (args.metric, args.split) != (None, None):
        print("error: --metric and --split apply only with --sweep", file=sys.stderr)
        return EXIT_USAGE
    if args.jobs is not None and args.cluster is None:
        print("error: --jobs applies only with --sweep or --cluster", file=sys.stderr)
        return EXIT_USAGE
    rc = _run(path, args.report_dir, "backtest", cluster=args.cluster, jobs=args.jobs)
    if args.cluster is None:
        _ran_backtest.append(path)  # one process, finished: main may skip the teardown
    return rc


#: Set by a backtest that ran in this process and finished (read by :func:`main`).
_ran_backtest: list[Path] = []

#: :func:`main` runs as the program (no ``argv``): the process ends with the command.
_as_program = False


def _cmd_serve(args: argparse.Namespace) -> int:
    """One host of a split deployment over NATS JetStream (docs/deployment.md)."""
    import anyio

    from tradewind.config_check import check_config, output_paths

    cfg = check_config(Path(args.file))
    try:
        from tradewind.cluster.hosts import serve, serve_data
    except ImportError as exc:  # nats-py is the tradewind[cluster] extra
        raise ConfigError(
            f"`tradewind serve` needs the cluster extra ({exc}): pip install 'tradewind[cluster]'"
        ) from None
    if args.role == "data":
        counts = anyio.run(serve_data, cfg)
        print(f"data host: published {counts['ticks']} trades in {counts['batches']} batches")
        return 0
    journal, _ = output_paths(cfg, None)
    if args.journal:
        journal = Path(args.journal)
    elif args.role == "strategy":
        journal = journal.with_name(f"{journal.stem}-strategy-{args.shard}{journal.suffix}")
    host = serve(args.role, cfg, shard=args.shard, journal_path=str(journal))
    host.handle_signals = True
    result = anyio.run(host.run)
    if args.role == "strategy":
        print(
            f"strategy host {args.shard}: published {host.published} decisions "
            f"({host.signals} signals); {host.suppressed} re-derived and not published again; "
            f"{host.filter_checks} account-free filter checks; "
            f"{host.warmup_batches} warm-up batches; journal {journal}"
        )
    else:
        print(
            f"execution host: {len(result.fills)} fills; {host.duplicates} duplicate decisions "
            f"dropped; {host.remote_verdicts} filter verdicts from strategy hosts; "
            f"{host.warmup_batches} warm-up batches; journal {journal}"
        )
    return 0


def _cmd_api_token(args: argparse.Namespace) -> int:
    from tradewind.api.auth import new_token

    print(new_token())
    return 0


def _cmd_new_plugin(args: argparse.Namespace) -> int:
    from tradewind.scaffold import scaffold

    dest = scaffold(args.kind, args.name, Path(args.dir))
    print(f"created {dest}; install it with: pip install -e {dest}")
    return 0


def _usage_of(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """A command function that prints ``parser``'s help (a command group without a
    subcommand) and exits with the usage code."""

    def usage(_args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return EXIT_USAGE

    return usage


#: The commands other than ``data``: a command line naming one of them is parsed without the
#: ``data`` subcommands, whose module (and the download client) a backtest does not use.
_NOT_DATA = frozenset({"plugins", "config", "run", "backtest", "serve", "api", "new-plugin"})


def build_parser(*, data: bool = True) -> argparse.ArgumentParser:
    """The argument parser of every command (``data=False``: without the ``data`` command,
    for a command line that names another one)."""
    parser = _Parser(prog="tradewind", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"tradewind {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks and debug logs (anywhere)"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show info logs (anywhere on the line)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("plugins", help="list installed plugins (without importing them)")
    p.add_argument("--check", action="store_true", help="import and validate each plugin")
    p.set_defaults(func=_cmd_plugins)

    p = sub.add_parser("config", help="configuration commands")
    p.set_defaults(func=_usage_of(p))
    csub = p.add_subparsers(dest="config_command", metavar="SUBCOMMAND")
    c = csub.add_parser(
        "check",
        help="every check `run` makes before trading: exits with the code the run would",
        description="Validate FILE as `tradewind run` does before it trades: types and ranges, "
        "paths, the mode against the venues, strategy rules against the analyzers' declared "
        "outputs, plugin loading and construction; then read the replayed data for the "
        "instruments' symbols and the [run] window. Exits with the code the run would give.",
    )
    c.add_argument("file")
    c.set_defaults(func=_cmd_config_check)

    p = sub.add_parser("run", help="run a config in its mode (backtest, paper or live)")
    p.add_argument("file")
    p.add_argument("--report-dir", default=None)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("backtest", help="backtest a config (default: the embedded demo)")
    p.add_argument("file", nargs="?", default=None)
    p.add_argument("--report-dir", default=None)
    p.add_argument("--sweep", metavar="SWEEP.toml", help="run a parameter grid (docs/report.md)")
    p.add_argument("--metric", default=None, help="sweep: rank by this metric (default sharpe)")
    p.add_argument("--jobs", type=int, default=None, help="sweep: worker processes")
    p.add_argument(
        "--split", type=float, default=None, help="sweep: in-sample fraction of the data's time"
    )
    p.add_argument(
        "--cluster",
        default=None,
        metavar="tcp://HOST:8786|local",
        help="sweep, or a backtest of independent instruments: run on a Dask scheduler, or "
        "'local' worker processes (docs/deployment.md)",
    )
    p.set_defaults(func=_cmd_backtest)

    p = sub.add_parser("serve", help="run one host of a deployment over NATS (docs/deployment.md)")
    p.add_argument("role", choices=["data", "strategy", "execution"])
    p.add_argument("file")
    p.add_argument("--shard", default=None, help="strategy: the [cluster] shard to serve")
    p.add_argument("--journal", default=None, help="the host's journal (default from [run])")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("api", help="HTTP API commands (docs/api.md)")
    asub = p.add_subparsers(dest="api_command", metavar="SUBCOMMAND")
    c = asub.add_parser("token", help="print a fresh random API token for [api] token_env")
    c.set_defaults(func=_cmd_api_token)

    p = sub.add_parser("new-plugin", help="scaffold a plugin distribution")
    p.add_argument(
        "kind", choices=["venues", "notifiers", "analyzers", "filters", "exits", "aggregators"]
    )
    p.add_argument("name")
    p.add_argument("--dir", default=".", help="folder to create the distribution in")
    p.set_defaults(func=_cmd_new_plugin)

    if not data:
        return parser
    try:
        from tradewind.market.cli import add_data_commands
    except ImportError:  # pragma: no cover - the data commands ship with the core
        pass
    else:
        add_data_commands(sub)  # type: ignore[arg-type]  # our parser subclass is a parser
    return parser


def _single_user_error(group: BaseExceptionGroup) -> TradewindError | None:
    """The TradewindError inside a group when it is the only leaf."""
    leaves: list[BaseException] = []
    stack: list[BaseException] = [group]
    while stack:
        exc = stack.pop()
        if isinstance(exc, BaseExceptionGroup):
            stack.extend(exc.exceptions)
        else:
            leaves.append(exc)
    if len(leaves) == 1 and isinstance(leaves[0], TradewindError):
        return leaves[0]
    return None


def _split_global_flags(argv: Sequence[str]) -> tuple[list[str], set[str]]:
    """``argv`` without the global flags (found anywhere before ``--``), and those flags."""
    rest: list[str] = []
    found: set[str] = set()
    literal = False
    for arg in argv:
        if not literal and arg in _GLOBAL_FLAGS:
            found.add(_GLOBAL_FLAGS[arg])
            continue
        literal = literal or arg == "--"
        rest.append(arg)
    return rest, found


def _fast_exit(code: int) -> NoReturn:
    """End the process without the interpreter's teardown, after a finished backtest.

    Everything the command wrote is closed by then (journal, report, summary printed); what
    is left is freeing every module and object one by one and the C++ libraries' static
    destructors (pyarrow with its filesystems, DuckDB): 0.2 s of CPU and more of wall per
    ``tradewind backtest`` process. The atexit handlers still run, logging is shut down and
    the standard streams are flushed first. Not taken while another non-daemon thread runs
    (normal exit waits for it) or when ``TRADEWIND_FULL_EXIT`` is set (tools that need the
    teardown: leak checkers, tracers)."""
    import atexit
    import os
    import threading

    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if os.environ.get("TRADEWIND_FULL_EXIT") or any(not t.daemon for t in others):
        sys.exit(code)
    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or gone (a closed pipe): nothing to flush
            pass
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tradewind`` script.

    Called as the program (``argv`` None: the script, ``python -m tradewind``), a backtest
    that succeeded ends the process here without the interpreter's teardown
    (:func:`_fast_exit`); called with ``argv`` it always returns its exit code."""
    global _as_program
    _ran_backtest.clear()
    _as_program = argv is None
    try:
        rc = _main(argv)
    finally:
        _as_program = False
    if argv is None and rc == EXIT_OK and _ran_backtest:
        _fast_exit(rc)
    return rc


def _main(argv: Sequence[str] | None = None) -> int:
    rest, flags = _split_global_flags(sys.argv[1:] if argv is None else argv)
    # The top-level options take no value: the first other word is the command.
    command = next((a for a in rest if not a.startswith("-")), None)
    parser = build_parser(data=command not in _NOT_DATA)
    try:
        args = parser.parse_args(rest)
    except SystemExit as exc:  # --help/--version (0) or a usage error (64)
        return int(exc.code or 0)
    args.debug = "debug" in flags
    args.verbose = "verbose" in flags
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except TradewindError as exc:
        if args.debug:  # the traceback, and still the exit code of the table
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BaseExceptionGroup as group:
        # anyio task groups wrap what a task raised; a user error inside is still one line.
        user = _single_user_error(group)
        if user is None:
            if args.debug:
                raise
            print(
                f"error: {_describe(group)} (run again with --debug for the traceback)",
                file=sys.stderr,
            )
            return EXIT_RUNTIME
        if args.debug:
            traceback.print_exc()
        print(f"error: {user}", file=sys.stderr)
        return user.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a fault in tradewind or a plugin while running: still one line
        if args.debug:
            raise
        print(
            f"error: {_describe(exc)} (run again with --debug for the traceback)", file=sys.stderr
        )
        return EXIT_RUNTIME


def _describe(exc: BaseException) -> str:
    """``Type: message`` of the one leaf of an exception group, or of ``exc`` itself."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
