"""Sweeps on a Dask cluster: a real scheduler and two worker processes over TCP on 127.0.0.1
(started with Dask's own ``dask scheduler`` / ``dask worker`` commands) give the same ranked
table as the in-process sweep; ``--cluster local`` starts worker processes itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli
from tests.test_engine import demo_config_text
from tests.test_sweep import GRID

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``dask scheduler`` on a free port of 127.0.0.1 and two ``dask worker`` processes (one
    thread each); yields the scheduler's tcp:// address once both workers have joined."""
    from distributed import Client

    tmp = tmp_path_factory.mktemp("dask")
    info = tmp / "scheduler.json"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    procs = [
        subprocess.Popen(
            [*dask, "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(info)],
            cwd=tmp, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not info.exists() or not info.read_text().strip():
            assert time.monotonic() < deadline, "the Dask scheduler did not start in 60 s"
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "distributed.cli.dask_worker", address,
                     "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                    cwd=tmp, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=120)
            workers = client.scheduler_info()["workers"]
            assert len(workers) == 2
            # Two separate processes, neither of them this one.
            pids = set(client.run(os.getpid).values())
            assert len(pids) == 2 and os.getpid() not in pids
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def _sweep(tmp: Path, name: str, *extra: str) -> tuple[dict, str]:
    out = tmp / name
    proc = run_cli(
        "backtest", str(tmp / "demo.toml"), "--sweep", str(tmp / "grid.toml"),
        "--report-dir", str(out), *extra,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "sweep.json").read_text()), proc.stdout


def _table(doc: dict) -> list[tuple]:
    return [
        (r["rank"], r["variant"], json.dumps(r["overrides"], sort_keys=True),
         json.dumps(r["in_sample"], sort_keys=True), json.dumps(r["out_of_sample"], sort_keys=True))
        for r in doc["variants"]
    ]  # fmt: skip


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    tmp = tmp_path_factory.mktemp("sweep-dask")
    (tmp / "demo.toml").write_text(demo_config_text(tmp), encoding="utf-8")
    (tmp / "grid.toml").write_text(GRID, encoding="utf-8")
    doc, stdout = _sweep(tmp, "in-process", "--jobs", "1")
    return tmp, doc, stdout


def test_a_sweep_on_a_dask_scheduler_with_two_workers_ranks_like_the_in_process_sweep(
    in_process, scheduler
):
    tmp, local_doc, local_out = in_process
    doc, stdout = _sweep(tmp, "dask", "--cluster", scheduler)
    assert len(doc["variants"]) == 4
    # Every rank, variant, override and summary (both windows) equal, byte for byte.
    assert _table(doc) == _table(local_doc)
    assert doc["split"] == local_doc["split"]
    # The printed ranked table too.
    table = [ln for ln in stdout.splitlines() if "│" in ln or "sweep ranked" in ln]
    assert table and table == [
        ln for ln in local_out.splitlines() if "│" in ln or "sweep ranked" in ln
    ]
    # The runs really went to the cluster: the scheduler saw one task per run.
    from distributed import Client

    with Client(scheduler, timeout="30s") as client:
        done = client.run_on_scheduler(
            lambda dask_scheduler: sum(
                1 for k in dask_scheduler.task_prefixes if k.startswith("run_variant")
            )
        )
        counts = client.run_on_scheduler(
            lambda dask_scheduler: {
                str(k): sum(v.state_counts.values())
                for k, v in dask_scheduler.task_prefixes.items()
            }
        )
    assert done == 1 and counts.get("run_variant", 0) >= 8  # 4 variants x 2 windows


def test_cluster_local_starts_worker_processes_and_ranks_the_same(in_process):
    tmp, local_doc, _ = in_process
    doc, _ = _sweep(tmp, "dask-local", "--cluster", "local", "--jobs", "2")
    assert _table(doc) == _table(local_doc)


def test_an_unreachable_scheduler_is_one_error_line(in_process):
    tmp, _, _ = in_process
    from tests.pg import free_port

    proc = run_cli(
        "backtest", str(tmp / "demo.toml"), "--sweep", str(tmp / "grid.toml"),
        "--report-dir", str(tmp / "none"), "--cluster", f"tcp://127.0.0.1:{free_port()}",
    )  # fmt: skip
    assert proc.returncode != 0
    assert "Dask scheduler at tcp://127.0.0.1:" in proc.stderr
    assert "Traceback" not in proc.stderr
