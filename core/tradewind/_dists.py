"""The installed distributions' entry points, names and versions, read without
:mod:`importlib.metadata`.

``importlib.metadata`` imports the :mod:`email` package to parse a distribution's ``METADATA``
(~38 ms of every ``tradewind`` process's start, issue 17), and stevedore, which loaded the
plugins, imports it too. This module finds the same distributions the same way — the
``*.dist-info`` and ``*.egg-info`` folders (or egg-info files) of every :data:`sys.path`
entry, in path order, the first of each normalized name winning — reads their
``entry_points.txt`` with the same rules, and reads ``Name`` and ``Version`` from the
``METADATA`` (or ``PKG-INFO``) headers as the email parser's compat32 policy gives them.

Where the interpreter could find distributions elsewhere (a finder on :data:`sys.meta_path`
other than the path finder, a zip file or an ``.egg`` on :data:`sys.path`), :func:`entry_points`
and :func:`version` return ``importlib.metadata``'s own answer.
tests/test_dists.py compares the two on the installed environment and on made-up trees.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any

_INFO_SUFFIXES = (".dist-info", ".egg-info")


class EntryPoint:
    """One entry point (``name = value`` in ``group``) of a distribution: what the loader
    reads of ``importlib.metadata.EntryPoint`` (``name``, ``value``, ``group``, ``dist``,
    :meth:`load`)."""

    __slots__ = ("dist", "group", "name", "value")

    def __init__(self, name: str, value: str, group: str, dist: Distribution | None) -> None:
        self.name = name
        self.value = value
        self.group = group
        self.dist = dist

    def load(self) -> Any:
        """Import the module ``value`` names and return the attribute after its colon (or
        the module), as ``importlib.metadata.EntryPoint.load`` does."""
        match = _PATTERN.match(self.value)
        if match is None:  # importlib.metadata's load fails with the same error
            raise AttributeError("'NoneType' object has no attribute 'group'")
        module = importlib.import_module(match.group("module"))
        attrs = filter(None, (match.group("attr") or "").split("."))
        obj: Any = module
        for attr in attrs:
            obj = getattr(obj, attr)
        return obj

    def __repr__(self) -> str:
        return f"EntryPoint(name={self.name!r}, value={self.value!r}, group={self.group!r})"


#: importlib.metadata.EntryPoint.pattern
_PATTERN = re.compile(
    r"(?P<module>[\w.]+)\s*"
    r"(:\s*(?P<attr>[\w.]+)\s*)?"
    r"((?P<extras>\[.*\])\s*)?$"
)


class Distribution:
    """An installed distribution's metadata folder (or egg-info file)."""

    __slots__ = ("_headers", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self._headers: tuple[str | None, str | None] | None = None

    def read_text(self, filename: str) -> str | None:
        """The file's text, or None where ``importlib.metadata`` finds none."""
        try:
            with open(
                os.path.join(self.path, filename) if filename else self.path, encoding="utf-8"
            ) as f:
                return f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
            return None

    def _name_version(self) -> tuple[str | None, str | None]:
        if self._headers is None:
            text = self.read_text("METADATA") or self.read_text("PKG-INFO") or self.read_text("")
            self._headers = _name_and_version(text or "")
        return self._headers

    @property
    def name(self) -> str | None:
        """The ``Name`` header (None when there is none)."""
        return self._name_version()[0]

    @property
    def version(self) -> str | None:
        """The ``Version`` header (None when there is none)."""
        return self._name_version()[1]

    @property
    def normalized_name(self) -> str | None:
        """What ``importlib.metadata`` tells distributions apart by: the folder's name up to
        its first dash, else the ``Name`` header, normalized."""
        stem = os.path.basename(self.path)
        base, ext = os.path.splitext(stem)
        if ext in _INFO_SUFFIXES:
            return _normalize(base.partition("-")[0])
        name = self.name
        return None if name is None else _normalize(name)

    def entry_points(self) -> list[EntryPoint]:
        """The entry points of ``entry_points.txt``, in the file's order."""
        text = self.read_text("entry_points.txt")
        return [] if text is None else list(_parse_entry_points(text, self))


def _normalize(name: str) -> str:
    """``importlib.metadata.Prepared.normalize``."""
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


#: A line of the header block (``email.feedparser.headerRE``).
_HEADER = re.compile(r"^(From |[\041-\071\073-\176]*:|[\t ])")


def _name_and_version(text: str) -> tuple[str | None, str | None]:
    """The first ``Name`` and ``Version`` headers of an RFC 822 header block, as
    ``email.message_from_string(text)[key]`` gives them (the feed parser's header block and
    header lines, compat32's values: after the colon without its leading blanks,
    continuation lines joined as they are, without the line end; then importlib.metadata's
    re-indenting of a folded value)."""
    block: list[str] = []
    for line in text.splitlines(keepends=True):
        if not _HEADER.match(line):
            break  # the blank separator line, or the body
        block.append(line)
    headers: list[list[str]] = []
    current: list[str] = []
    for lineno, line in enumerate(block):
        if line[0] in " \t":
            if current:
                current.append(line)
            continue  # (a continuation without a header is a defect, dropped)
        if current:
            headers.append(current)
            current = []
        if line.startswith("From "):
            if lineno == len(block) - 1 and lineno:
                break  # pushed back to the body
            continue  # the Unix-from line, or a defect
        if line.find(":") == 0:
            continue  # an empty header name: a defect, dropped
        current = [line]
    if current:
        headers.append(current)
    found: dict[str, str] = {}
    for lines in headers:
        key, _, value = lines[0].partition(":")
        low = key.lower()
        if low in ("name", "version") and low not in found:
            found[low] = _redent((value.lstrip(" \t") + "".join(lines[1:])).rstrip("\r\n"))
    return found.get("name"), found.get("version")


def _redent(value: str) -> str:
    """``importlib.metadata._adapters.Message``'s repair of a folded value."""
    if "\n" not in value:
        return value
    import textwrap

    return textwrap.dedent(" " * 8 + value)


def _parse_entry_points(text: str, dist: Distribution) -> Iterator[EntryPoint]:
    """``importlib.metadata.EntryPoints._from_text`` (``Sectioned``: stripped lines, blank
    lines and ``#`` comments skipped, ``[group]`` headers, ``name = value`` pairs; pairs
    before the first header are ignored, a line without ``=`` raises ValueError)."""
    group: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line.strip("[]")
            continue
        if group is None:
            continue
        name, value = line.split("=", 1)
        yield EntryPoint(name.strip(), value.strip(), group, dist)


def _standard_finders_only() -> bool:
    """True when only the path finder can find distributions (importlib.metadata asks every
    finder on ``sys.meta_path`` with a ``find_distributions``)."""
    from importlib.machinery import PathFinder

    for finder in sys.meta_path:
        if getattr(finder, "find_distributions", None) is None:
            continue
        if finder is not PathFinder:
            return False
    return True


#: :func:`_infos` of a path entry, by the entry and its modification time (as importlib.metadata
#: caches its lookups: a distribution installed since changes the folder's time).
_SEEN: dict[tuple[str, float | None], list[str] | None] = {}


def _infos(root: str) -> list[str] | None:
    """The metadata folders of one path entry in ``importlib.metadata``'s order (its
    ``Lookup``: grouped by normalized name in the order of first appearance), or None when
    the entry needs importlib.metadata (a zip file, an ``.egg``)."""
    try:
        mtime: float | None = os.stat(root or ".").st_mtime
    except OSError:
        mtime = None
    key = (root, mtime)
    if key not in _SEEN:
        _SEEN[key] = _list_infos(root)
    return _SEEN[key]


def _list_infos(root: str) -> list[str] | None:
    try:
        children = os.listdir(root or ".")
    except Exception:
        if os.path.isfile(root):
            return None  # a zip on the path: importlib.metadata reads it
        return []
    if os.path.basename(root).lower().endswith(".egg"):
        return None
    groups: dict[str, list[str]] = {}
    for child in children:
        low = child.lower()
        if low.endswith(_INFO_SUFFIXES):
            name = _normalize(low.rpartition(".")[0].partition("-")[0])
            groups.setdefault(name, []).append(os.path.join(root, child))
    return [p for paths in groups.values() for p in paths]


def distributions(paths: Iterable[str] | None = None) -> list[Distribution] | None:
    """Every distribution on ``paths`` (default :data:`sys.path`) in ``importlib.metadata``'s
    order, the first of each normalized name only; None where importlib.metadata must answer
    (see the module)."""
    if not _standard_finders_only():
        return None
    out: list[Distribution] = []
    seen: set[str | None] = set()
    for root in sys.path if paths is None else paths:
        if not isinstance(root, str):
            return None
        found = _infos(root)
        if found is None:
            return None
        for path in found:
            dist = Distribution(path)
            key = dist.normalized_name
            if key in seen:
                continue
            seen.add(key)
            out.append(dist)
    return out


def entry_points(groups: Iterable[str]) -> dict[str, list[EntryPoint]] | None:
    """The entry points of each of ``groups``, in ``importlib.metadata.entry_points()``'s
    order (by distribution, then by the file's order); None where importlib.metadata must
    answer."""
    dists = distributions()
    if dists is None:
        return None
    found: dict[str, list[EntryPoint]] = {group: [] for group in groups}
    for dist in dists:
        for ep in dist.entry_points():
            if ep.group in found:
                found[ep.group].append(ep)
    return found


def version(name: str) -> str | None:
    """The version of the distribution ``name`` as ``importlib.metadata.version`` gives it;
    None when it is not installed or importlib.metadata must answer."""
    dists = distributions()
    if dists is None:
        return None
    want = _normalize(name)
    for dist in dists:
        if dist.normalized_name == want:
            return dist.version
    return None
