"""Shared fixtures: installed-looking fake distributions for real entry-point discovery."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg import journal_at, module_journal_at, pg_cluster  # noqa: F401 - fixtures

REPO = Path(__file__).resolve().parents[1]


class FakeDists:
    """Writes ``*.dist-info`` folders (METADATA + entry_points.txt) and modules into a folder
    that is put on ``sys.path``/``PYTHONPATH``, so importlib.metadata finds them exactly as it
    finds pip-installed distributions."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def add(
        self,
        dist: str,
        version: str,
        entry_points: dict[str, dict[str, str]],
        modules: dict[str, str] | None = None,
    ) -> None:
        info = self.root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8"
        )
        lines = []
        for group, eps in entry_points.items():
            lines.append(f"[{group}]")
            lines.extend(f"{name} = {value}" for name, value in eps.items())
            lines.append("")
        (info / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
        for mod, src in (modules or {}).items():
            path = self.root / (mod.replace(".", "/") + ".py")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(src, encoding="utf-8")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.root), env.get("PYTHONPATH")]))
        return env


@pytest.fixture
def fake_dists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDists:
    """Fake installed distributions, visible to this process and to subprocesses."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    return FakeDists(root)


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m tradewind`` in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "tradewind", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


NOTIFIER_SRC = """
import attrs
from tradewind import hookimpl

@attrs.frozen(kw_only=True)
class Cfg:
    pass

class {cls}:
    name = "{name}"
    config_class = Cfg
    capabilities = frozenset({{"text"}})
    def __init__(self, config): self.config = config
    async def start(self): pass
    async def notify(self, event): pass
    async def close(self): pass

@hookimpl
def tradewind_register_notifiers(registry):
    registry.add({cls})
"""
