"""The ``tradewind`` command line.

Exit codes: 0 success (a paper or live run stopped by SIGINT/SIGTERM too); 1 a run failed;
2 configuration error; 3 plugin error; 4 data error; 5 venue error; 6 journal error (corrupt,
truncated, locked by another host, a directory, out of space); 64 usage error. Errors print one
line, ``error: ...``; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from tradewind import __version__
from tradewind.errors import TradewindError

EXIT_USAGE = 64


def default_config_path() -> Path:
    """The embedded default config: the default plugin set on the shipped BTCUSDT sample."""
    return Path(str(resources.files("tradewind") / "defaults" / "backtest.toml"))


def _cmd_plugins(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from tradewind.inventory import check_all, inventory

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


def _cmd_config_check(args: argparse.Namespace) -> int:
    from tradewind.config import load_config

    cfg = load_config(args.file)
    n = sum(len(v) for v in cfg.plugins.values())
    print(
        f"{args.file}: ok ({cfg.mode.value}, {len(cfg.instruments)} instruments, "
        f"{n} plugin instances)"
    )
    return 0


def _run(path: Path, report_dir: str | None, expect_mode: str | None) -> int:
    import anyio

    from tradewind.builtins.replay import apply_run_bounds
    from tradewind.config import Mode, load_config
    from tradewind.engine import Engine
    from tradewind.report import write_report
    from tradewind.summary import print_summary

    cfg = apply_run_bounds(load_config(path))
    if expect_mode == "backtest" and cfg.mode is not Mode.BACKTEST:
        raise TradewindError(
            f'{path.name} has mode = "{cfg.mode.value}"; `tradewind backtest` needs mode = '
            f'"backtest" (use `tradewind run` for paper and live)'
        )
    if cfg.mode is Mode.LIVE:
        simulated = sorted(
            k
            for k, p in cfg.instances("venues").items()
            if "simulated" in getattr(cfg.host.plugin_class("venues", p.plugin), "capabilities", ())
            and any(sec.venue == k for sec in cfg.instruments)
        )
        if simulated:
            raise TradewindError(
                f'{path.name}: mode = "live" sends real orders, but instruments execute on '
                f'the simulated venue {", ".join(simulated)}; use mode = "paper" or a real '
                f"execution venue"
            )
    if path.resolve() == default_config_path().resolve():
        # The embedded default lives inside the installed package: write into the cwd.
        out = Path(report_dir or cfg.run.report_dir)
        journal = Path(cfg.run.journal)
    else:
        out = Path(report_dir) if report_dir else cfg.resolve(cfg.run.report_dir)
        journal = cfg.resolve(cfg.run.journal)
    from tradewind.progress import TickProgress

    with TickProgress() as progress:
        engine = Engine(cfg, journal_path=str(journal), progress=progress.advance)
        # SIGINT/SIGTERM stop a paper or live run cleanly (exit 0, journal flushed).
        engine.handle_signals = True
        result = anyio.run(engine.run)
    jpath, hpath = write_report(result, out)
    print_summary(result.summary)
    print(f"report: {jpath} and {hpath}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    return _run(Path(args.file), args.report_dir, None)


def _cmd_backtest(args: argparse.Namespace) -> int:
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
        )
        return 0
    if (args.metric, args.jobs, args.split) != (None, None, None):
        print("error: --metric, --jobs and --split apply only with --sweep", file=sys.stderr)
        return EXIT_USAGE
    return _run(path, args.report_dir, "backtest")


def _cmd_api_token(args: argparse.Namespace) -> int:
    from tradewind.api.auth import new_token

    print(new_token())
    return 0


def _cmd_new_plugin(args: argparse.Namespace) -> int:
    from tradewind.scaffold import scaffold

    dest = scaffold(args.kind, args.name, Path(args.dir))
    print(f"created {dest}; install it with: pip install -e {dest}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(prog="tradewind", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"tradewind {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("plugins", help="list installed plugins (without importing them)")
    p.add_argument("--check", action="store_true", help="import and validate each plugin")
    p.set_defaults(func=_cmd_plugins)

    p = sub.add_parser("config", help="configuration commands")
    csub = p.add_subparsers(dest="config_command", metavar="SUBCOMMAND")
    c = csub.add_parser("check", help="validate a config file and load its plugins")
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
    p.set_defaults(func=_cmd_backtest)

    p = sub.add_parser("api", help="HTTP API commands (docs/api.md)")
    asub = p.add_subparsers(dest="api_command", metavar="SUBCOMMAND")
    c = asub.add_parser("token", help="print a fresh random API token for [api] token_env")
    c.set_defaults(func=_cmd_api_token)

    p = sub.add_parser("new-plugin", help="scaffold a plugin distribution")
    p.add_argument("kind", choices=["notifiers", "analyzers", "filters", "exits"])
    p.add_argument("name")
    p.add_argument("--dir", default=".", help="folder to create the distribution in")
    p.set_defaults(func=_cmd_new_plugin)

    try:
        from tradewind.market.cli import add_data_commands
    except ImportError:  # pragma: no cover - the data commands ship with the core
        pass
    else:
        add_data_commands(sub)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tradewind`` script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except TradewindError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BaseExceptionGroup as group:
        # anyio task groups wrap what a task raised; a user error inside is still one line.
        user = _single_user_error(group)
        if user is None or args.debug:
            raise
        print(f"error: {user}", file=sys.stderr)
        return user.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
