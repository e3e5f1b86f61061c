"""docs/deployment.md's shell blocks of "The journal on PostgreSQL" and "Sweeps on a Dask
cluster" run as written (tests/test_docs_shell.py leaves these two sections to this test:
their blocks need a PostgreSQL server and Dask, which the scale env provides).

A block runs in bash (``set -e``) in a temp folder that holds the clone's ``core/`` (the blocks
copy the shipped demo from it), with this environment's ``tradewind``, ``dask`` and Debian's
PostgreSQL client programs on PATH, and the libpq variables pointing at the test cluster.
The install blocks (``pip install ".[postgres]"``, ``".[dask]"``) are not run here (they would
replace this env's editable install): they are checked to name extras that pyproject.toml
declares with the packages these tests use.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_docs_shell import _BLOCK

pytestmark = pytest.mark.slow

PAGE = REPO / "docs" / "deployment.md"
SECTIONS = ("## The journal on PostgreSQL", "## Sweeps on a Dask cluster")
_INSTALL = re.compile(r'^pip install "\.\[(\w+)\]"\n$')


def _section_blocks(title: str) -> list[str]:
    text = PAGE.read_text(encoding="utf-8")
    start = text.index(title + "\n")
    nxt = text.find("\n## ", start + len(title))
    body = text[start : nxt if nxt != -1 else len(text)]
    return [m.group("body") for m in _BLOCK.finditer(body)]


def _client_bin() -> str:
    import glob

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))
    return str(Path(found[-1]).parent) if found else ""


def _run(body: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    bindir = Path(sys.executable).parent
    pre = f'set -euo pipefail\nexport PATH="{bindir}:{_client_bin()}:$PATH"\n'
    proc = subprocess.Popen(
        ["bash", "-c", pre + body], cwd=cwd, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=900)
    finally:
        # Background jobs a failed block left (a Dask scheduler and workers) go with its group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "core").symlink_to(REPO / "core")
    return tmp_path


def test_the_install_blocks_name_the_extras_the_scale_env_uses():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    seen = []
    for title in SECTIONS:
        for body in _section_blocks(title):
            m = _INSTALL.match(body)
            if m:
                seen.append(m.group(1))
    assert seen == ["postgres", "dask"]
    assert any(d.startswith("psycopg[binary]") for d in extras["postgres"])
    assert any(d.startswith("dask[distributed]") for d in extras["dask"])


def test_the_postgresql_section_runs_as_written(folder, pg_cluster):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(
        PGHOST="127.0.0.1", PGPORT=str(pg_cluster.port), PGUSER=pg_cluster.user,
        PGPASSWORD=pg_cluster.password,
    )  # fmt: skip
    bodies = [b for b in _section_blocks(SECTIONS[0]) if not _INSTALL.match(b)]
    assert len(bodies) == 1
    proc = _run(bodies[0], folder, env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    # psql printed the fills the backtest journaled, and the applied migration.
    assert re.search(r"fills \| volume *\n-+\+-+\n *[1-9]\d* \|", proc.stdout), proc.stdout
    assert "1 | journal tables" in proc.stdout
    assert pg_cluster.password not in proc.stdout + proc.stderr


def test_the_dask_section_runs_as_written(folder):
    bodies = [b for b in _section_blocks(SECTIONS[1]) if not _INSTALL.match(b)]
    assert len(bodies) == 2  # the sweep, then a multi-instrument backtest in its folder
    proc = _run(bodies[0], folder, dict(os.environ))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "sweep ranked by in-sample sharpe" in proc.stdout
    assert (folder / "sweepdemo" / "reports" / "sweep.json").exists()
    # The runs went to the scheduler's two worker processes.
    log = (folder / "sweepdemo" / "workers.log").read_text()
    assert log.count("Registered to") >= 2, log[-2000:]
    proc = _run(bodies[1], folder, dict(os.environ))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    report = json.loads((folder / "sweepdemo" / "books" / "report.json").read_text())
    assert report["summary"]["instruments"] == ["sim:BTCUSDT", "sim_b:BTCUSDT"]
    assert report["summary"]["starting_equity"] == "15000"
    log = (folder / "sweepdemo" / "books-workers.log").read_text()
    assert log.count("Registered to") >= 2, log[-2000:]
