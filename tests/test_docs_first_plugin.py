"""docs/first-plugin.md works when followed literally: its commands and files, in order."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "first-plugin.md"

pytestmark = pytest.mark.slow


def steps(text: str) -> list[tuple[str, str, str]]:
    """("sh", command, "") and ("file", path, content) in document order."""
    out = []
    pattern = re.compile(
        r"(?:<!-- file: (?P<path>\S+) -->\n)?(?P<skip><!-- not run[^\n]*-->\n)?"
        r"```(?P<lang>\w+)\n(?P<body>.*?)```",
        re.S,
    )
    for m in pattern.finditer(text):
        if m.group("skip"):
            continue  # the environment this test runs in already has what such a block installs
        if m.group("path"):
            out.append(("file", m.group("path"), m.group("body")))
        elif m.group("lang") == "sh":
            out.extend(("sh", line, "") for line in m.group("body").splitlines() if line.strip())
    return out


def test_first_plugin_page_followed_literally(tmp_path):
    installed = []
    bindir = Path(sys.executable).parent
    try:
        for kind, what, content in steps(DOC.read_text(encoding="utf-8")):
            if kind == "file":
                (tmp_path / what).parent.mkdir(parents=True, exist_ok=True)
                (tmp_path / what).write_text(content, encoding="utf-8")
                continue
            argv = shlex.split(what)
            if argv[0] in ("python", "tradewind"):
                argv[0] = str(bindir / argv[0]) if argv[0] == "tradewind" else sys.executable
            if argv[0] == "pip":
                # This environment's pip, building with its setuptools (no index needed).
                argv = [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--no-deps",
                    "--no-build-isolation",
                    *argv[2:],
                ]
                installed.append(Path(tmp_path / argv[-1]).name)
            if not Path(argv[0]).exists():
                argv[0:1] = [sys.executable, "-m", "tradewind"]
            proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, f"step failed: {what}\n{proc.stdout}\n{proc.stderr}"
            if what == "tradewind plugins":
                assert re.search(
                    r"notifiers\s*│\s*eventfile\s*│\s*tradewind-notifier-eventfile", proc.stdout
                ), proc.stdout
        lines = (tmp_path / "events.log").read_text(encoding="utf-8").splitlines()
        assert lines[0].startswith("run: Run started") and lines[-1].startswith("run: Run finished")
        signals = [line for line in lines if line.startswith("signal: ")]
        assert signals and "momentum.momentum" in signals[0]
    finally:
        for dist in installed:
            subprocess.run(
                [sys.executable, "-m", "pip", "uninstall", "-y", dist], capture_output=True
            )
