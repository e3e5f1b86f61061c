"""tradewind._dists reads the entry points, names and versions importlib.metadata reads (issue
17: without its import of the email parser, and without stevedore): compared on the installed
environment and on made-up trees of ``*.dist-info`` / ``*.egg-info`` folders and files."""

import sys
from importlib import metadata
from pathlib import Path

import pytest
from tradewind import _dists, loader
from tradewind.protocols import KINDS


def _theirs(groups):
    every = metadata.entry_points()
    return {
        g: [
            (ep.name, ep.value, ep.group, ep.dist.metadata["Name"], ep.dist.version)
            for ep in every.select(group=g)
        ]
        for g in groups
    }


def _ours(groups):
    found = _dists.entry_points(groups)
    assert found is not None
    return {
        g: [(ep.name, ep.value, ep.group, ep.dist.name, ep.dist.version) for ep in eps]
        for g, eps in found.items()
    }


def test_every_installed_entry_point_is_importlib_metadatas():
    groups = sorted(metadata.entry_points().groups)
    assert any(g.startswith("tradewind.") for g in groups)
    assert _ours(groups) == _theirs(groups)


def test_the_plugin_scan_is_the_one_through_importlib_metadata(monkeypatch):
    ours = loader.scan_entry_points(KINDS)
    monkeypatch.setattr(_dists, "entry_points", lambda groups: None)
    theirs = loader.scan_entry_points(KINDS)
    assert ours == theirs  # kind, name, distribution, version, value (in order)
    assert sum(len(v) for v in ours.values()) > 0
    for kind in KINDS:
        for a, b in zip(ours[kind], theirs[kind], strict=True):
            assert isinstance(a.entry_point, _dists.EntryPoint)
            assert a.entry_point.load() is b.entry_point.load()


def test_the_version_is_importlib_metadatas():
    import tradewind

    for name in ("tradewind", "numpy", "duckdb", "pyarrow", "attrs", "pluggy"):
        assert _dists.version(name) == metadata.version(name)
    assert tradewind.__version__ == metadata.version("tradewind")
    assert _dists.version("no-such-distribution-here") is None


METADATA = {
    # plain
    "alpha": "Metadata-Version: 2.1\nName: Alpha\nVersion: 1.0\n\nName: body\n",
    # lower-case keys, blanks after the colon, CRLF line ends, a Unix-from line first
    "beta": "From nobody\r\nmetadata-version: 2.1\r\nNAME:\t  beta-pkg \r\nversion:2.0\r\n",
    # a folded value, a header repeated (the first wins), no Version
    "gamma": "Name: gam\n  ma\nName: other\nSummary: x\n",
    # a line that is no header ends the block: Version after it is body
    "delta": "Name: delta\nnot a header\nVersion: 9\n",
    # an empty header name (dropped), a continuation before any header (dropped)
    "eps": "  stray\n: empty\nName: eps\nVersion: 0.1.dev0\n",
}

ENTRY_POINTS = (
    "ignored = before.any:section\n"
    "[tradewind.filters]\n"
    "# a comment\n"
    "  first = pkg.first:Plugin  \n"
    "\n"
    "second=pkg.second\n"
    "; not a comment to importlib.metadata = pkg.semi\n"
    "[console_scripts]\n"
    "tool = pkg.cli:main [extra]\n"
)


def _tree(root: Path) -> list[str]:
    """Two path entries: the second repeats a distribution of the first (the first wins)
    and holds an egg-info folder and an egg-info file."""
    one, two = root / "one", root / "two"
    for d in (one, two):
        d.mkdir()
    for name, text in METADATA.items():
        info = one / f"{name}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(text, encoding="utf-8", newline="")
        (info / "entry_points.txt").write_text(ENTRY_POINTS.replace("pkg", name), encoding="utf-8")
    again = two / "Alpha-3.0.dist-info"
    again.mkdir()
    (again / "METADATA").write_text("Name: Alpha\nVersion: 3.0\n", encoding="utf-8")
    (again / "entry_points.txt").write_text("[tradewind.filters]\nshadowed = x.y\n")
    egg = two / "zeta.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Name: zeta\nVersion: 0.5\n", encoding="utf-8")
    (egg / "entry_points.txt").write_text("[tradewind.exits]\nz = zeta.exit:Exit\n")
    (two / "omega-2.egg-info").write_text("Name: omega\nVersion: 2\n", encoding="utf-8")
    (two / "not-metadata.txt").write_text("x")
    return [str(one), str(two), str(root / "missing")]


def test_made_up_trees_read_as_importlib_metadata_reads_them(tmp_path, monkeypatch):
    paths = _tree(tmp_path)
    monkeypatch.setattr(sys, "path", paths)
    groups = ["tradewind.filters", "tradewind.exits", "console_scripts", "nothing"]
    ours = _ours(groups)
    assert ours == _theirs(groups)
    filters = ours["tradewind.filters"]
    assert ("first", "alpha.first:Plugin", "tradewind.filters", "Alpha", "1.0") in filters
    assert not any(name == "shadowed" for name, *_ in filters)  # Alpha 3.0 comes second
    assert [name for name, *_ in filters if name.startswith(";")]  # not a comment there
    assert not any(name == "ignored" for name, *_ in filters)  # before any section
    dists = _dists.distributions()
    assert dists is not None
    for dist in dists:
        theirs = metadata.Distribution.at(dist.path)
        assert (dist.name, dist.version) == (theirs.metadata["Name"], theirs.version)
    for name in ("alpha", "beta", "gamma", "delta", "eps", "zeta", "omega"):
        assert _dists.version(name) == metadata.version(name), name


def test_another_distribution_finder_hands_the_answer_to_importlib_metadata(monkeypatch):
    class Finder:
        def find_spec(self, name, path=None, target=None):
            return None

        def find_distributions(self, context=None):
            return iter(())

    monkeypatch.setattr(sys, "meta_path", [Finder(), *sys.meta_path])
    assert _dists.entry_points(["tradewind.filters"]) is None
    assert _dists.version("tradewind") is None
    # and the loader's scan still finds the plugins, through importlib.metadata
    assert loader.scan_entry_points(["filters"])["filters"]


def test_a_zip_on_the_path_hands_the_answer_to_importlib_metadata(tmp_path, monkeypatch):
    import zipfile

    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("zed-1.0.dist-info/METADATA", "Name: zed\nVersion: 1.0\n")
    monkeypatch.setattr(sys, "path", [*sys.path, str(archive)])
    assert _dists.distributions() is None


def test_an_entry_point_loads_what_importlib_metadatas_loads():
    cases = [
        "tradewind.venues.sim",
        "tradewind.builtins.log_notifier",
        "tradewind.loader:PluginHost",
        "tradewind.loader : PluginHost.load",
        "tradewind.loader:PluginHost [extra]",
    ]
    for value in cases:
        ours = _dists.EntryPoint("x", value, "g", None).load()
        theirs = metadata.EntryPoint(name="x", value=value, group="g").load()
        assert ours is theirs, value
    for bad in ("not a value!", "tradewind.no_such_module_here"):
        with pytest.raises(Exception) as ours_exc:
            _dists.EntryPoint("x", bad, "g", None).load()
        with pytest.raises(Exception) as theirs_exc:
            metadata.EntryPoint(name="x", value=bad, group="g").load()
        assert type(ours_exc.value) is type(theirs_exc.value)
        assert str(ours_exc.value) == str(theirs_exc.value)


def test_a_distribution_installed_after_a_scan_is_found_by_the_next(tmp_path, monkeypatch):
    """The path entries' listings are kept by the entry's modification time (as
    importlib.metadata keeps its lookups): a plugin installed since is seen."""
    import os

    paths = _tree(tmp_path)
    monkeypatch.setattr(sys, "path", paths)
    before = _ours(["tradewind.exits"])["tradewind.exits"]
    late = Path(paths[0]) / "late-1.0.dist-info"
    late.mkdir()
    (late / "METADATA").write_text("Name: late\nVersion: 1.0\n", encoding="utf-8")
    (late / "entry_points.txt").write_text("[tradewind.exits]\nlate = late.exit:Exit\n")
    stat = os.stat(paths[0])
    os.utime(paths[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a coarse clock
    after = _ours(["tradewind.exits"])["tradewind.exits"]
    assert after == _theirs(["tradewind.exits"])["tradewind.exits"]
    assert len(after) == len(before) + 1
    assert ("late", "late.exit:Exit", "tradewind.exits", "late", "1.0") in after
