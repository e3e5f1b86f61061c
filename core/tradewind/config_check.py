"""Every validation a run makes before it touches market data or a venue, in one place.

``tradewind config check`` and ``tradewind run``/``backtest`` call the same functions, so a
config that passes the check does not fail the run for a reason the check could have seen, and
a config that fails both fails with the same message and exit code:

- :func:`check_config`: structure and plugins (:func:`tradewind.config.load_config`), the
  ``[run]`` window (ordered; with ``read_data`` the replayed data must also hold every
  instrument's symbol, and trades inside the window), at least
  one instrument, the mode against the venues' capabilities, the paths the config names
  (readable data files, never a FIFO; output folders that are not files), and every strategy
  rule and scorer naming an output its analyzer declares (with "did you mean").
- :func:`building`: what a plugin raises while the engine constructs it becomes one line naming
  the plugin and its config table.

Path options of plugin configs are declared with :func:`path_option`; they resolve against the
config file's folder (see docs/configuration.md) and are checked here.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from tradewind._serde import did_you_mean
from tradewind.errors import ConfigError, DataError, PluginError, TradewindError
from tradewind.protocols import SINGULAR

if TYPE_CHECKING:
    from tradewind.config import Config, PluginInstance

#: attrs metadata key of a path option: "file" (must be a readable file), "dir" (must be a
#: folder), "data-file"/"data-dir" (the same, reported as data errors) or "trigger" (a file
#: whose existence means something; it need not exist).
PATH_KIND = "tradewind.path"


def path_option(kind: str, default: str | None = None) -> Any:
    """An attrs field holding a path that resolves against the config file's folder.

    ``kind`` is one of ``"file"``, ``"dir"``, ``"data-file"``, ``"data-dir"``, ``"trigger"``.
    """
    if kind not in ("file", "dir", "data-file", "data-dir", "trigger"):
        raise ValueError(f"unknown path option kind {kind!r}")
    return attrs.field(default=default, metadata={PATH_KIND: kind})


def is_url(value: str) -> bool:
    """True when a path option holds a URL (``postgresql://...``) rather than a path."""
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value) is not None


def resolve_path_options(cfg: Any, base: Path) -> Any:
    """``cfg`` with every relative :func:`path_option` made absolute under ``base``."""
    if not attrs.has(type(cfg)):
        return cfg
    changes = {}
    for field in attrs.fields(type(cfg)):
        value = getattr(cfg, field.name)
        if PATH_KIND in field.metadata and isinstance(value, str) and value and not is_url(value):
            p = Path(value).expanduser()
            if not p.is_absolute():
                changes[field.name] = str(base / p)
    return attrs.evolve(cfg, **changes) if changes else cfg


def check_readable_file(
    path: Path, *, what: str, error: type[TradewindError], where: str = ""
) -> None:
    """Raise ``error`` unless ``path`` is a regular file this process may read.

    Never opens the file: a FIFO given as a config or data path would block the read forever.
    """
    at = f" @ {where}" if where else ""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist{at}") from None
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}{at}") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{what} {path} is a directory, not a file{at}")
    if not stat.S_ISREG(st.st_mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "not a regular file"
        raise error(f"{what} {path} is {kind}; give the path of a regular file{at}")
    if not os.access(path, os.R_OK):
        raise error(f"{what} {path} is not readable (permission denied){at}")


def _check_dir(path: Path, *, what: str, error: type[TradewindError], where: str) -> None:
    if not path.exists():
        raise error(f"{what} {path} does not exist @ {where}")
    if not path.is_dir():
        raise error(f"{what} {path} is not a directory @ {where}")
    if not os.access(path, os.R_OK | os.X_OK):
        raise error(f"{what} {path} is not readable (permission denied) @ {where}")


def _check_output(path: Path, *, folder: bool, where: str) -> None:
    """An output path (journal file or report folder) must be creatable where it points."""
    if folder and path.exists() and not path.is_dir():
        raise ConfigError(
            f"report_dir {path} is a file; the report needs a folder (choose another path or "
            f"remove the file) @ {where}"
        )
    if not folder and path.is_dir():
        raise ConfigError(f"journal {path} is a directory; give a file path @ {where}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{path}: {parent} is a file, not a folder @ {where}")
            break


def output_paths(cfg: Config, report_dir: str | None = None) -> tuple[Path, Path]:
    """Where a run of ``cfg`` writes its journal and report (``report_dir`` overrides).

    Relative paths resolve against the config's folder; for the embedded default config, which
    lives inside the installed package, against the working directory.
    """
    from tradewind.cli import default_config_path

    if cfg.path.resolve() == default_config_path().resolve():
        return Path(cfg.run.journal), Path(report_dir or cfg.run.report_dir)
    out = Path(report_dir) if report_dir else cfg.resolve(cfg.run.report_dir)
    return cfg.resolve(cfg.run.journal), out


def check_config(
    path: str | Path,
    *,
    environ: Mapping[str, str] | None = None,
    read_data: bool = False,
    report_dir: str | None = None,
) -> Config:
    """Load ``path`` and run every check a run makes before it touches data or venues.

    With ``read_data`` (``config check``), the replayed data is read to check that the
    ``[run]`` window holds trades; a run makes the same check once it has read the data.
    Returns the config with the ``[run]`` bounds applied to the replay instances.
    """
    from tradewind.config import load_config
    from tradewind.venues.replay import apply_run_bounds

    cfg = apply_run_bounds(load_config(path, environ=environ))
    if not cfg.instruments:
        raise ConfigError(
            "the config trades no instrument: add at least one [[instruments]] table "
            "(symbol, venue, data) @ $.instruments"
        )
    check_mode(cfg)
    check_instrument_caps(cfg)
    check_paths(cfg, report_dir)
    check_outputs(cfg)
    if read_data:
        check_window_has_data(cfg)
    return cfg


def check_mode(cfg: Config) -> None:
    """``mode = "live"`` must not execute on a simulated venue, nor a backtest on a real one."""
    from tradewind.config import Mode

    for i, sec in enumerate(cfg.instruments):
        inst = cfg.instances("venues").get(sec.venue)
        if inst is None:
            continue
        caps = getattr(cfg.host.plugin_class("venues", inst.plugin), "capabilities", ())
        if cfg.mode is Mode.BACKTEST and "simulated" not in caps and "execution" in caps:
            raise ConfigError(
                f'mode = "backtest" fills orders against recorded trades, but {sec.symbol} '
                f"executes on '{sec.venue}' (plugin {inst.plugin}), a real venue that would "
                f'receive the orders; use a simulated venue (plugin = "sim") or mode = "paper" '
                f"@ $.instruments[{i}].venue"
            )
        if cfg.mode is Mode.LIVE and "simulated" in caps:
            raise ConfigError(
                f'mode = "live" sends real orders, but {sec.symbol} executes on the simulated '
                f"venue '{sec.venue}'; use mode = \"paper\" or a real execution venue "
                f"@ $.instruments[{i}].venue"
            )


def check_instrument_caps(cfg: Config) -> None:
    """``[strategy] instrument_caps`` keys name configured instruments (``venue:symbol``)."""
    keys = [f"{sec.venue}:{sec.symbol}" for sec in cfg.instruments]
    for key in cfg.strategy.instrument_caps:
        if key not in keys:
            raise ConfigError(
                f"instrument_caps names '{key}', which is not a configured instrument"
                f"{did_you_mean(key, keys)}; keys are venue:symbol "
                f"({', '.join(keys)}) @ $.strategy.instrument_caps"
            )


def check_paths(cfg: Config, report_dir: str | None = None) -> None:
    """The run's output paths and every path option of every plugin instance."""
    journal, out = output_paths(cfg, report_dir)
    _check_output(out, folder=True, where="$.run.report_dir")
    _check_output(journal, folder=False, where="$.run.journal")
    for kind, instances in cfg.plugins.items():
        for key, inst in instances.items():
            _check_path_options(inst.config, f"$.{kind}.{key}", inst)


def _check_path_options(pcfg: Any, where: str, inst: PluginInstance) -> None:
    if not attrs.has(type(pcfg)):
        return
    for field in attrs.fields(type(pcfg)):
        kind = field.metadata.get(PATH_KIND)
        value = getattr(pcfg, field.name)
        if kind is None or not isinstance(value, str) or not value or is_url(value):
            continue  # a URL (a market store on a server) is checked when it is opened
        p = Path(value)
        at = f"{where}.{field.name}"
        what = f"{SINGULAR[inst.kind]} '{inst.key}' {field.name}"
        if kind in ("file", "data-file"):
            err = DataError if kind == "data-file" else ConfigError
            check_readable_file(p, what=what, error=err, where=at)
        elif kind in ("dir", "data-dir"):
            err = DataError if kind == "data-dir" else ConfigError
            _check_dir(p, what=what, error=err, where=at)
        elif kind == "trigger" and p.parent.exists() and not p.parent.is_dir():
            raise ConfigError(f"{what} {p}: {p.parent} is not a folder @ {at}")


def declared_outputs(cls: type, config: Any) -> Collection[str] | None:
    """The outputs an analyzer class declares for ``config``, or None if it declares none."""
    outputs = getattr(cls, "outputs", None)
    if outputs is None or not callable(outputs):
        return None
    return frozenset(outputs(config))


def check_outputs(cfg: Config) -> None:
    """Every rule and scorer value names an output its analyzer instance declares."""
    analyzers = cfg.instances("analyzers")
    declared: dict[str, Collection[str] | None] = {}
    for key, inst in analyzers.items():
        cls = cfg.host.plugin_class("analyzers", inst.plugin)
        try:
            declared[key] = declared_outputs(cls, inst.config)
        except Exception as exc:  # a plugin's own code: one line, not a traceback
            raise PluginError(
                f"analyzer '{inst.plugin}' ({inst.config_key} in {cfg.path.name}) raised while "
                f"declaring its outputs: {type(exc).__name__}: {exc}"
            ) from exc
    for where, rule in cfg.strategy.rules():
        for field, name in (("value", rule.value), ("ref", rule.ref)):
            if name is None or name == "close":
                continue
            instance, _, output = name.partition(".")
            outputs = declared.get(instance)
            if outputs is None or output in outputs:
                continue
            plugin = analyzers[instance].plugin
            listed = ", ".join(sorted(outputs))
            raise ConfigError(
                f"rule reads '{name}' but analyzer '{instance}' (plugin {plugin}) has no output "
                f"'{output}'{did_you_mean(output, outputs)}; its outputs: {listed} "
                f"@ $.strategy.{where}.{field}"
            )


def check_window_has_data(cfg: Config) -> None:
    """Replayed data holds every instrument's symbol and, when bounded, trades inside the
    window (reads the data, as the run will)."""
    from tradewind.venues.replay import ReplayConfig, ReplayVenue

    for key, inst in cfg.instances("venues").items():
        rc = inst.config
        if not isinstance(rc, ReplayConfig):
            continue
        from tradewind.model import Instrument

        mine = [
            Instrument(venue=key, symbol=sec.symbol)
            for sec in cfg.instruments
            if (sec.data or sec.venue) == key
        ]
        if not mine:
            continue
        venue = ReplayVenue(rc, instance=key, instruments=mine)
        import anyio

        anyio.run(venue.connect)
        venue.check_symbols()


@contextmanager
def building(inst: PluginInstance, config_name: str) -> Iterator[None]:
    """Turn what a plugin raises while it is constructed into one line naming it.

    A ValueError or TypeError is a config the plugin refused (exit code 2); anything else is a
    fault of the plugin (exit code 3). Errors of tradewind's own kinds pass unchanged.
    """
    try:
        yield
    except TradewindError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{SINGULAR[inst.kind]} '{inst.plugin}' ({inst.config_key} in {config_name}) "
            f"refused its config: {exc} @ $.{inst.kind}.{inst.key}"
        ) from exc
    except Exception as exc:
        raise PluginError(
            f"{SINGULAR[inst.kind]} '{inst.plugin}' ({inst.config_key} in {config_name}) "
            f"failed while being built: {type(exc).__name__}: {exc}; check its options "
            f"@ $.{inst.kind}.{inst.key}"
        ) from exc
