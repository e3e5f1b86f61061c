"""Plugin discovery and loading: entry points → their modules → one pluggy PluginManager.

Only the plugin names a config enables are imported. Names are checked against the installed
entry points before anything is imported, so a typo fails fast with the list of what is
installed and the pip command that fixes it.

Environment variables:

``TRADEWIND_TRACE_HOOKS=1``
    Log every hook call and its result (pluggy's tracing) to the ``tradewind.hooks`` logger.
``TRADEWIND_BLOCK_PLUGINS=venues:ccxt,notifiers:slack``
    Refuse to load the named plugins (``kind:name``, or a bare ``name`` for every kind). A config
    that enables a blocked plugin is an error; essential plugins cannot be blocked.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from tradewind import _dists, hookspecs
from tradewind._serde import did_you_mean
from tradewind.errors import (
    DuplicatePluginError,
    PluginBlockedError,
    PluginError,
    PluginImportError,
    PluginNotInstalledError,
)
from tradewind.protocols import KINDS, PROTOCOL_BY_KIND, SINGULAR
from tradewind.registry import Registry

if TYPE_CHECKING:
    from importlib import metadata

log = logging.getLogger("tradewind.loader")
hook_log = logging.getLogger("tradewind.hooks")

GROUP_PREFIX = "tradewind."
TRACE_ENV = "TRADEWIND_TRACE_HOOKS"
BLOCK_ENV = "TRADEWIND_BLOCK_PLUGINS"


@attrs.frozen(kw_only=True)
class PluginRequest:
    """One plugin the config enables: its kind, entry-point name and where the config says so."""

    kind: str
    name: str
    config_key: str  # e.g. "[venues.binance]"


@attrs.frozen(kw_only=True)
class InstalledPlugin:
    """An installed entry point, described without importing it."""

    kind: str
    name: str
    distribution: str
    version: str
    value: str
    #: ``importlib.metadata``'s entry point, or :class:`tradewind._dists.EntryPoint` (the
    #: same name, value, group and distribution, read without it).
    entry_point: metadata.EntryPoint | _dists.EntryPoint = attrs.field(eq=False, repr=False)


def installed_entry_points(kind: str) -> list[InstalledPlugin]:
    """Every entry point of ``kind``'s group, with its distribution, sorted by name."""
    return scan_entry_points((kind,))[kind]


def scan_entry_points(kinds: Iterable[str]) -> dict[str, list[InstalledPlugin]]:
    """:func:`installed_entry_points` of each of ``kinds`` from one pass over the installed
    distributions, each distribution's name and version read once (issue 17: eleven group
    scans, each parsing a plugin's metadata twice, took ~50 ms of every backtest's start).
    The entry points and the distributions' names and versions are read by
    :mod:`tradewind._dists` (the same as ``importlib.metadata``'s, without its import of the
    email parser), or by ``importlib.metadata`` where that must answer."""
    found: dict[str, list[InstalledPlugin]] = {kind: [] for kind in kinds}
    seen: set[tuple[str, str, str, str]] = set()
    described: dict[int, tuple[str, str]] = {}
    groups = _dists.entry_points(GROUP_PREFIX + k for k in found)
    if groups is None:
        from importlib import metadata

        every = metadata.entry_points()  # one pass over the distributions; select reads it
        pairs: Iterable[tuple[str, Any]] = (
            (k, ep) for k in found for ep in every.select(group=GROUP_PREFIX + k)
        )
    else:
        pairs = ((k, ep) for k in found for ep in groups[GROUP_PREFIX + k])
    for kind, ep in pairs:
        dist = ep.dist
        if dist is None:
            dist_name, version = "?", "?"
        else:
            if id(dist) not in described:
                described[id(dist)] = _name_and_version(dist)
            dist_name, version = described[id(dist)]
        key = (kind, ep.name, dist_name, ep.value)
        # The same distribution can be visible twice on sys.path (e.g. an editable install
        # beside a build dir); that is one plugin, not a conflict.
        if key in seen:
            continue
        seen.add(key)
        found[kind].append(
            InstalledPlugin(
                kind=kind,
                name=ep.name,
                distribution=dist_name,
                version=version,
                value=ep.value,
                entry_point=ep,
            )
        )
    return {k: sorted(v, key=lambda p: (p.name, p.distribution)) for k, v in found.items()}


def _name_and_version(dist: metadata.Distribution | _dists.Distribution) -> tuple[str, str]:
    """``dist.metadata["Name"]`` and ``dist.version``, with one parse of its metadata."""
    if isinstance(dist, _dists.Distribution):
        return dist.name, dist.version  # type: ignore[return-value]  # as metadata's None
    meta = dist.metadata
    return meta["Name"], meta["Version"]


def blocked_plugins(environ: Mapping[str, str] | None = None) -> set[str]:
    """Parse TRADEWIND_BLOCK_PLUGINS into ``{"kind:name" | "name"}``."""
    raw = (environ if environ is not None else os.environ).get(BLOCK_ENV, "")
    return {item.strip() for item in raw.split(",") if item.strip()}


def check_block_list(blocked: set[str]) -> None:
    """Every TRADEWIND_BLOCK_PLUGINS entry must name an installed plugin (a typo in a safety
    switch must not pass silently)."""
    if not blocked:
        return
    installed = {
        kind: {p.name for p in plugins} for kind, plugins in scan_entry_points(KINDS).items()
    }
    every = sorted({f"{k}:{n}" for k, names in installed.items() for n in names})
    for entry in sorted(blocked):
        kind, sep, name = entry.rpartition(":")
        if sep and kind not in KINDS:
            raise PluginBlockedError(
                f"{BLOCK_ENV} entry '{entry}' names no plugin kind{did_you_mean(kind, KINDS)}; "
                f"kinds: {', '.join(KINDS)}"
            )
        known = installed[kind] if sep else {n for names in installed.values() for n in names}
        if name not in known:
            hint = did_you_mean(entry, every if sep else sorted(known))
            raise PluginBlockedError(
                f"{BLOCK_ENV} entry '{entry}' names no installed plugin{hint}; entries are "
                f"kind:name or name, e.g. notifiers:log"
            )


def _not_installed(kind: str, name: str, where: str, installed: list[str]) -> str:
    """Why ``name`` cannot load, and the fix: a near-typo of an installed plugin is pointed at
    that plugin; pip is suggested only for plugins this project ships (never a name built
    from the config's spelling, which anyone could register on an index)."""
    from tradewind.shipped import install_hint

    what = SINGULAR[kind]
    have = ", ".join(installed) or "none"
    msg = f"{what} '{name}' ({where}) is not installed; installed {kind}: {have}"
    typo = did_you_mean(name, installed)
    if typo:
        return f"{msg}{typo}"
    hint = install_hint(kind, name)
    if hint:
        return f"{msg}. Install it with: {hint}"
    return (
        f"{msg}. Install the distribution that provides the {what} entry point '{name}' "
        f"(its documentation names it); `tradewind plugins` lists what is installed"
    )


def _is_blocked(kind: str, name: str, blocked: set[str]) -> bool:
    return f"{kind}:{name}" in blocked or name in blocked


def essential_names(kind: str) -> list[str]:
    """Names of the core's essential plugins of ``kind`` (loaded whatever the config says)."""
    from tradewind.builtins import ESSENTIAL

    return [name for k, name in ESSENTIAL if k == kind]


class PluginHost:
    """The loaded plugins of one host: the pluggy manager and the filled registry."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("tradewind")
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.loaded: dict[tuple[str, str], InstalledPlugin] = {}
        if os.environ.get(TRACE_ENV, "").strip() not in ("", "0", "false", "no"):
            self.pm.trace.root.setwriter(lambda msg: hook_log.info("%s", msg.rstrip()))
            self.pm.enable_tracing()

    # -- loading ---------------------------------------------------------------------------
    def load(self, requests: Sequence[PluginRequest], *, config_name: str = "config") -> None:
        """Import, register and validate the requested plugins plus the essential ones."""
        blocked = blocked_plugins()
        check_block_list(blocked)
        by_kind: dict[str, dict[str, PluginRequest]] = defaultdict(dict)
        for req in requests:
            by_kind[req.kind].setdefault(req.name, req)
        for kind in KINDS:
            for name in essential_names(kind):
                if _is_blocked(kind, name, blocked):
                    raise PluginBlockedError(
                        f"{SINGULAR[kind]} '{name}' is essential and cannot be blocked; "
                        f"remove it from {BLOCK_ENV}"
                    )
                by_kind[kind].setdefault(
                    name, PluginRequest(kind=kind, name=name, config_key="(essential)")
                )
        scanned = scan_entry_points(k for k in KINDS if by_kind.get(k))
        for kind in KINDS:
            wanted = by_kind.get(kind)
            if wanted:
                self._load_kind(kind, wanted, blocked, config_name, scanned[kind])
        self.pm.check_pending()
        for kind in KINDS:
            try:
                getattr(self.pm.hook, f"tradewind_register_{kind}")(registry=self.registry[kind])
            except PluginError:
                raise
            except Exception as exc:  # a plugin's own hook: one line naming it, not a traceback
                raise PluginError(
                    f"{self._culprit(exc)}'s tradewind_register_{kind} hook raised "
                    f"{type(exc).__name__}: {exc} (while loading plugins for {config_name})"
                ) from exc
        for kind, wanted in by_kind.items():
            for name, req in wanted.items():
                if name not in self.registry[kind]:
                    inst = self.loaded[(kind, name)]
                    raise PluginError(
                        f"{SINGULAR[kind]} '{name}' ({req.config_key} in {config_name}): "
                        f"distribution {inst.distribution} loaded {inst.value} but it registered "
                        f"no {SINGULAR[kind]} named '{name}' (it registered: "
                        f"{', '.join(self.registry[kind]) or 'nothing'})"
                    )

    def _load_kind(
        self,
        kind: str,
        wanted: Mapping[str, PluginRequest],
        blocked: set[str],
        config_name: str,
        installed: list[InstalledPlugin],
    ) -> None:
        by_name: dict[str, list[InstalledPlugin]] = defaultdict(list)
        for plugin in installed:
            by_name[plugin.name].append(plugin)
        what = SINGULAR[kind]
        for name, req in wanted.items():
            where = f"{req.config_key} in {config_name}"
            if _is_blocked(kind, name, blocked):
                raise PluginBlockedError(
                    f"{what} '{name}' ({where}) is blocked by {BLOCK_ENV}; "
                    f"unset it or disable the plugin in the config"
                )
            if name not in by_name:
                raise PluginNotInstalledError(_not_installed(kind, name, where, sorted(by_name)))
            claims = by_name[name]
            if len(claims) > 1:
                dists = " and ".join(f"{c.distribution} {c.version} ({c.value})" for c in claims)
                raise DuplicatePluginError(
                    f"{what} name '{name}' ({where}) is claimed by two distributions: {dists}; "
                    f"uninstall one of them (pip uninstall {claims[-1].distribution})"
                )

        # Each wanted plugin in the config's order, imported from the entry point the scan
        # found (the same entry point seen twice, e.g. an editable install on sys.path
        # twice, is one plugin; distinct distributions were refused above).
        for name, req in wanted.items():
            key = (kind, name)
            inst = by_name[name][0]
            if key in self.loaded:
                continue
            try:
                plugin = inst.entry_point.load()
            except (KeyboardInterrupt, AssertionError):
                raise
            except Exception as exc:
                raise PluginImportError(
                    f"{what} '{name}' ({req.config_key} in {config_name}) from distribution "
                    f"{inst.distribution} {inst.version} failed to import {inst.value}: "
                    f"{type(exc).__name__}: {exc}. Reinstall or upgrade it: "
                    f"pip install --upgrade {inst.distribution}"
                ) from exc
            self.pm.register(plugin, name=f"{kind}:{name}")
            self.loaded[key] = inst
            log.debug("loaded %s:%s from %s", kind, name, inst.value)

    def _culprit(self, exc: BaseException) -> str:
        """The registered plugin (``kind:name`` and distribution) whose code raised ``exc``."""
        modules = {getattr(p, "__name__", None): n for n, p in self.pm.list_name_plugin()}
        tb = exc.__traceback__
        culprit = None
        while tb is not None:  # the innermost plugin frame is the one to blame
            name = tb.tb_frame.f_globals.get("__name__")
            if name in modules:
                culprit = modules[name]
            tb = tb.tb_next
        if culprit is None:
            return "a plugin"
        kind, _, plugin = culprit.partition(":")
        inst = self.loaded.get((kind, plugin))
        dist = f" (distribution {inst.distribution} {inst.version})" if inst else ""
        return f"{SINGULAR.get(kind, kind)} '{plugin}'{dist}"

    # -- lookup ----------------------------------------------------------------------------
    def plugin_class(self, kind: str, name: str) -> type:
        """The registered class of ``kind`` under ``name``."""
        return self.registry[kind].get(name)


def load_host(requests: Sequence[PluginRequest], *, config_name: str = "config") -> PluginHost:
    """A :class:`PluginHost` with ``requests`` (and the essential plugins) loaded."""
    host = PluginHost()
    host.load(requests, config_name=config_name)
    return host


def check_plugin_class(kind: str, cls: type) -> list[str]:
    """Problems with ``cls`` as a plugin of ``kind`` (empty when it conforms)."""
    problems = []
    proto = PROTOCOL_BY_KIND[kind]
    for attr in ("name", "config_class", "capabilities"):
        if not hasattr(cls, attr):
            problems.append(f"missing class attribute '{attr}'")
    for meth in _protocol_methods(proto):
        if not callable(getattr(cls, meth, None)):
            problems.append(f"missing method '{meth}'")
    return problems


def _protocol_methods(proto: type) -> list[str]:
    required = {
        "venues": ["connect", "close", "instruments"],
        "aggregators": ["quote_swap", "routers", "serves", "close"],
        "analyzers": ["on_candle", "values"],
        "filters": ["check"],
        "exits": ["on_ticks", "on_candle", "forget"],
        "notifiers": ["start", "notify", "close"],
    }
    for kind, p in PROTOCOL_BY_KIND.items():
        if p is proto:
            return required[kind]
    return []
