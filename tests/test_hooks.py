"""Each hook's own test, and the meta-tests that keep hooks documented and tested."""

import inspect
import re
from pathlib import Path
from types import SimpleNamespace

import attrs
import pytest
from tradewind import hookimpl, hookspecs
from tradewind.errors import DuplicatePluginError, PluginError
from tradewind.hookdocs import hook_functions, render
from tradewind.testing import make_registry

REPO = Path(__file__).resolve().parents[1]


@attrs.frozen
class _Cfg:
    pass


def _plugin_class(name: str, **methods):
    return type(
        name.capitalize(),
        (),
        {"name": name, "config_class": _Cfg, "capabilities": frozenset({"x"}), **methods},
    )


@pytest.mark.hook("tradewind_register_venues")
@pytest.mark.hook("tradewind_register_aggregators")
@pytest.mark.hook("tradewind_register_analyzers")
@pytest.mark.hook("tradewind_register_filters")
@pytest.mark.hook("tradewind_register_exits")
@pytest.mark.hook("tradewind_register_notifiers")
@pytest.mark.parametrize(
    "kind", ["venues", "aggregators", "analyzers", "filters", "exits", "notifiers"]
)
def test_registration_hook_adds_classes_of_its_kind(kind):
    cls = _plugin_class(f"my{kind}")
    module = SimpleNamespace()
    hook_name = f"tradewind_register_{kind}"

    def impl(registry):
        registry.add(cls)

    setattr(module, hook_name, hookimpl(impl))
    registry = make_registry(module)
    assert registry[kind].get(f"my{kind}") is cls
    others = [
        k
        for k in ("venues", "aggregators", "analyzers", "filters", "exits", "notifiers")
        if k != kind
    ]
    assert all(len(registry[k]) == 0 for k in others)


def test_the_registry_refuses_a_second_class_under_a_taken_name():
    a, b = _plugin_class("dup"), _plugin_class("dup")
    mod = SimpleNamespace(
        tradewind_register_filters=hookimpl(lambda registry: [registry.add(a), registry.add(b)])
    )
    with pytest.raises(DuplicatePluginError, match="filter name 'dup' is claimed twice"):
        make_registry(mod)


def test_the_registry_refuses_a_class_without_plugin_attributes():
    bad = type("Bad", (), {"name": "bad"})
    mod = SimpleNamespace(tradewind_register_exits=hookimpl(lambda registry: registry.add(bad)))
    with pytest.raises(PluginError, match="config_class must be an attrs class"):
        make_registry(mod)


# -- meta-tests -----------------------------------------------------------------------------


def test_every_hook_has_the_house_docstring_shape():
    for name, func in hook_functions():
        doc = inspect.cleandoc(func.__doc__ or "")
        assert doc, f"{name} has no docstring"
        lines = doc.splitlines()
        assert lines[0].endswith("."), f"{name}: first line must be a one-line summary"
        for param in inspect.signature(func).parameters:
            assert f":param {param}:" in doc, f"{name}: parameter '{param}' is undocumented"
        assert ":returns:" in doc, f"{name}: no ':returns:' line"
        assert "Called:" in doc, f"{name}: no 'Called:' line"
        assert name.startswith("tradewind_")


def test_every_hook_has_a_test_of_its_own():
    marked: set[str] = set()
    for path in (REPO / "tests").rglob("test_*.py"):
        marked |= set(re.findall(r"mark\.hook\(\"(tradewind_\w+)\"\)", path.read_text()))
    missing = [name for name, _ in hook_functions() if name not in marked]
    assert not missing, f"hooks without a test marked @pytest.mark.hook(...): {missing}"


def test_the_hook_reference_in_docs_is_generated_from_the_docstrings():
    assert (REPO / "docs" / "hooks.md").read_text(encoding="utf-8") == render(), (
        "docs/hooks.md is stale: run python -m tradewind.hookdocs > docs/hooks.md"
    )


def test_hookspecs_are_all_collecting():
    for name, func in hook_functions():
        opts = func.tradewind_spec
        assert not opts.get("firstresult"), name
    assert hookspecs.hookspec.project_name == "tradewind"
