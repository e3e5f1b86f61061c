"""Issue 9's "house": the core grouped by the flow each part serves, the order manager split by
job, and the report reading a run's results, never the engine's internals."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "core" / "tradewind"


def _imports(path: Path) -> list[tuple[str, list[str], bool]]:
    """(module, names, under ``if TYPE_CHECKING``) of every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            guarded |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, [a.name for a in node.names], id(node) in guarded))
        elif isinstance(node, ast.Import):
            out += [(a.name, [], id(node) in guarded) for a in node.names]
    return out


def test_each_flow_has_its_folder_and_modules_are_named_for_what_they_hold():
    expected = {
        "trading": ["engine", "strategy", "sizing", "orders", "accounts", "reconcile"],
        "venues": ["sim", "replay"],
        "journal": ["store"],
        "report": ["summary", "html"],
        "market": [],
    }
    for folder, modules in expected.items():
        assert (ROOT / folder / "__init__.py").is_file(), folder
        for module in modules:
            assert (ROOT / folder / f"{module}.py").is_file(), f"{folder}/{module}.py"
    # The capability Protocols are in the core, one per capability.
    assert (ROOT / "protocols.py").is_file()
    # The old names that said nothing of their content are gone.
    assert not (ROOT / "inventory.py").exists() and not (ROOT / "risk.py").exists()
    assert (ROOT / "installed.py").is_file()
    # No flat engine module left at the top level.
    assert not any((ROOT / f"{m}.py").exists() for m in ("engine", "orders", "portfolio", "sim"))


def test_the_order_manager_is_split_by_job():
    trading = ROOT / "trading"
    for job in ("order_state", "order_retry", "fill_booking", "order_journal"):
        assert (trading / f"{job}.py").is_file(), job
    # What is left in orders.py is the manager that composes them, well under the ~550 lines
    # it had when it held every job.
    lines = (trading / "orders.py").read_text(encoding="utf-8").count("\n")
    assert lines < 500, lines
    # The manager composes the four jobs (directly or through one another).
    names: set[str] = set()
    todo = ["tradewind.trading.orders"]
    while todo:
        module = todo.pop()
        path = trading / f"{module.rsplit('.', 1)[-1]}.py"
        for m, _, _ in _imports(path):
            if m.startswith("tradewind.trading.") and m not in names:
                names.add(m)
                todo.append(m)
    assert {
        "tradewind.trading.order_state",
        "tradewind.trading.order_retry",
        "tradewind.trading.fill_booking",
        "tradewind.trading.order_journal",
    } <= names


def test_the_report_reads_a_runs_results_never_the_engine():
    """The report package imports the engine module only for the ``RunResult`` type, and only
    for type checking: it cannot reach an ``Engine`` at run time."""
    for path in sorted((ROOT / "report").glob("*.py")):
        for module, names, type_only in _imports(path):
            if module == "tradewind.trading.engine":
                assert type_only and names == ["RunResult"], (path.name, names)
            assert module not in ("tradewind.trading.orders", "tradewind.trading.portfolio"), (
                path.name,
                module,
            )


def test_the_engine_and_reconciliation_probe_no_venue_method():
    """The engine side calls only what a venue declares (its capability Protocols): no
    ``hasattr``/``getattr`` probe of a venue for a method. Reading a venue's name or its
    declared ``capabilities`` is not a probe."""
    allowed = {"instance", "name", "capabilities"}
    places = [
        *sorted((ROOT / "trading").glob("*.py")),
        *sorted((ROOT / "execution").glob("*.py")),
        *sorted((ROOT / "journal").glob("*.py")),
    ]
    probes = []
    for path in places:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("hasattr", "getattr")
                and len(node.args) >= 2
            ):
                continue
            target = ast.unparse(node.args[0])
            attr = node.args[1]
            name = attr.value if isinstance(attr, ast.Constant) else ast.unparse(attr)
            if "venue" in target.lower() and name not in allowed:
                probes.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert probes == []
