"""The table of shipped plugins (the only names errors suggest installing) matches plugins/."""

from tradewind.shipped import SHIPPED, install_hint

from tests.conftest import REPO


def test_the_shipped_table_is_the_plugins_tree():
    tree = {
        kind.name: tuple(sorted(p.name for p in kind.iterdir() if (p / "pyproject.toml").exists()))
        for kind in (REPO / "plugins").iterdir()
        if kind.is_dir()
    }
    assert {k: v for k, v in tree.items() if v} == {k: tuple(v) for k, v in SHIPPED.items()}


def test_install_hints_name_real_paths_and_nothing_else():
    for kind, names in SHIPPED.items():
        for name in names:
            hint = install_hint(kind, name)
            assert hint is not None
            assert (REPO / hint.split()[3]).is_dir(), hint  # pip install -e plugins/<kind>/<name>
    assert install_hint("analyzers", "momentun") is None
    assert install_hint("notifiers", "slack") is None
