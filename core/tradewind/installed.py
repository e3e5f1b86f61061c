"""What is installed: plugins described from their metadata and source, without importing.

``tradewind plugins`` must not import plugins (an import can be slow, have side effects, or
fail). Kind, name, distribution and version come from entry-point metadata. Capabilities are
read from the plugin module's source with :mod:`ast`: the literal ``capabilities =
frozenset({...})`` of the class whose ``name`` equals the entry-point name (following one
level of ``from .module import Class``). When they are not a literal, they show as ``?``;
``--check`` imports the plugin and reads the real value.
"""

from __future__ import annotations

import ast
import sys
from importlib.machinery import ModuleSpec
from pathlib import Path

import attrs

from tradewind.loader import PluginHost, PluginRequest, installed_entry_points
from tradewind.protocols import KINDS


@attrs.frozen(kw_only=True)
class PluginInfo:
    """One installed plugin."""

    kind: str
    name: str
    distribution: str
    version: str
    module: str
    capabilities: frozenset[str]


def _find_spec_no_import(name: str) -> ModuleSpec | None:
    """Locate ``name`` like importlib does, without executing any package's ``__init__``."""
    path = None
    spec = None
    parts = name.split(".")
    for i in range(len(parts)):
        fullname = ".".join(parts[: i + 1])
        if fullname in sys.modules:
            spec = sys.modules[fullname].__spec__
        else:
            spec = None
            for finder in sys.meta_path:
                find = getattr(finder, "find_spec", None)
                if find is None:
                    continue
                try:
                    spec = find(fullname, path)
                except Exception:
                    spec = None
                if spec is not None:
                    break
        if spec is None:
            return None
        path = spec.submodule_search_locations
    return spec


def _literal_caps(node: ast.expr) -> frozenset[str] | None:
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "frozenset":
        if not node.args:
            return frozenset()
        try:
            value = ast.literal_eval(node.args[0])
        except ValueError:
            return None
        return frozenset(str(v) for v in value)
    return None


def _caps_from_source(file: Path, ep_name: str, depth: int = 0) -> frozenset[str] | None:
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        name = caps = None
        for stmt in node.body:
            target = value = None
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                target, value = stmt.target.id, stmt.value
            elif (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
            ):
                target, value = stmt.targets[0].id, stmt.value
            if value is None:
                continue
            if target == "name" and isinstance(value, ast.Constant):
                name = value.value
            elif target == "capabilities":
                caps = _literal_caps(value)
        if name == ep_name and caps is not None:
            return caps
    if depth == 0:
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                sibling = file.parent / (node.module.replace(".", "/") + ".py")
                if sibling.exists():
                    found = _caps_from_source(sibling, ep_name, depth + 1)
                    if found is not None:
                        return found
    return None


def inventory() -> list[PluginInfo]:
    """Every installed plugin of every kind, sorted by kind then name. Imports nothing."""
    out = []
    for kind in KINDS:
        for ep in installed_entry_points(kind):
            module = ep.value.split(":")[0].strip()
            spec = _find_spec_no_import(module)
            caps = None
            if spec is not None and spec.origin and spec.origin.endswith(".py"):
                caps = _caps_from_source(Path(spec.origin), ep.name)
            out.append(
                PluginInfo(
                    kind=kind,
                    name=ep.name,
                    distribution=ep.distribution,
                    version=ep.version,
                    module=module,
                    capabilities=caps if caps is not None else frozenset(),
                )
            )
    return out


def check_all(plugins: list[PluginInfo]) -> dict[tuple[str, str], str]:
    """Import and validate each plugin alone; map (kind, name) to a problem ('' when fine)."""
    from tradewind.errors import TradewindError
    from tradewind.loader import check_plugin_class

    results: dict[tuple[str, str], str] = {}
    for p in plugins:
        host = PluginHost()
        try:
            host.load(
                [PluginRequest(kind=p.kind, name=p.name, config_key=f"[{p.kind}.{p.name}]")],
                config_name="--check",
            )
            cls = host.plugin_class(p.kind, p.name)
            problems = check_plugin_class(p.kind, cls)
            if not isinstance(cls, type):
                problems.append("not a class")
            results[(p.kind, p.name)] = "; ".join(problems)
        except TradewindError as exc:
            results[(p.kind, p.name)] = str(exc)
    return results
