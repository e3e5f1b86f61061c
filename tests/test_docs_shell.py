"""Every runnable shell block in docs/ runs as written, from a clone of the repository.

A ```sh block runs as one bash script (``set -e``) in the repository's root, with this test
environment's ``python``/``tradewind`` first on PATH; ``pip install`` builds with this
environment's setuptools and no index (``--no-deps --no-build-isolation``), so the blocks run
offline. A block that cannot run here is marked just before it with an HTML comment
``<!-- not run by the docs test: <why> -->``; that list is kept short (checked below). A page
with a test of its own (first-plugin.md) is run by that test, step by step.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

DOCS = REPO / "docs"
#: Pages whose shell blocks a dedicated test runs, with that test.
DEDICATED = {
    "first-plugin.md": "tests/test_docs_first_plugin.py",
}
#: Sections of pages whose shell blocks a dedicated test runs: (page, section heading) -> test.
DEDICATED_SECTIONS = {
    # need a PostgreSQL server and Dask (the scale env runs them)
    ("deployment.md", "## The journal on PostgreSQL"): "tests/test_docs_deployment.py",
    ("deployment.md", "## Sweeps on a Dask cluster"): "tests/test_docs_deployment.py",
}
_BLOCK = re.compile(
    r"(?P<skip><!-- not run by the docs test: (?P<why>[^\n]*?) -->\n)?```(?:sh|bash|shell)\n"
    r"(?P<body>.*?)```",
    re.S,
)


def _section(text: str, pos: int) -> str:
    """The ``## `` heading a position of a page falls under ('' before the first)."""
    start = text.rfind("\n## ", 0, pos)
    return text[start + 1 : text.index("\n", start + 1)] if start != -1 else ""


def blocks() -> list[tuple[str, int, str | None, str]]:
    """(page, index, reason it is not run or None, body) of every shell block in docs/."""
    return [(p, i, why, body) for p, i, why, body, _ in _blocks()]


def _blocks() -> list[tuple[str, int, str | None, str, str]]:
    out = []
    for page in sorted(DOCS.rglob("*.md")):
        rel = page.relative_to(DOCS).as_posix()
        text = page.read_text(encoding="utf-8")
        for i, m in enumerate(_BLOCK.finditer(text)):
            why = m.group("why") if m.group("skip") else None
            out.append((rel, i, why, m.group("body"), _section(text, m.start())))
    return out


RUNNABLE = [
    (p, i, body)
    for p, i, why, body, section in _blocks()
    if why is None and p not in DEDICATED and (p, section) not in DEDICATED_SECTIONS
]


def _preamble() -> str:
    py = sys.executable
    bindir = Path(py).parent
    return f"""set -euo pipefail
export PATH="{bindir}:$PATH"
python() {{ "{py}" "$@"; }}
python3() {{ "{py}" "$@"; }}
pytest() {{ "{py}" -m pytest -q -p no:cacheprovider "$@"; }}
pip() {{
  if [ "${{1:-}}" = install ]; then
    shift; "{py}" -m pip install -q --no-deps --no-build-isolation "$@"
  else "{py}" -m pip "$@"; fi
}}
"""


#: Set by tox's docs env, the one env the blocks may install into.
DOCS_ENV = "TRADEWIND_DOCS_ENV"


def _refuse_outside_the_docs_env() -> None:
    """The blocks ``pip install -e`` the core and plugins of the checkout they run in into
    the interpreter running this test: run elsewhere (another tox env, a second checkout's
    tests run with a shared env's python), they would re-point that interpreter's packages
    at this checkout. Only the docs env (``tox -e docs``) sets ``TRADEWIND_DOCS_ENV``."""
    if os.environ.get(DOCS_ENV) != "1":
        pytest.fail(
            f"tests/test_docs_shell.py installs the checkout's packages into {sys.executable}'s "
            f"environment; run it with `tox -e docs` (which sets {DOCS_ENV}=1), not in a shared "
            "env",
            pytrace=False,
        )


def test_blocks_that_are_not_run_are_few_and_say_why():
    skipped = [(p, i, why) for p, i, why, _ in blocks() if why is not None]
    assert len(skipped) <= 7, skipped
    assert all(why.strip() for _, _, why in skipped)
    assert RUNNABLE, "no runnable shell block found in docs/"


@pytest.mark.parametrize(
    ("page", "index", "body"), RUNNABLE, ids=[f"{p}#{i}" for p, i, _ in RUNNABLE]
)
def test_shell_block_runs_as_written(page, index, body):
    _refuse_outside_the_docs_env()
    proc = subprocess.run(
        ["bash", "-c", _preamble() + body],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, (
        f"docs/{page} block {index} failed:\n{body}\n{proc.stdout}\n{proc.stderr}"
    )
