"""`tradewind new-plugin`: scaffold, pip install -e, listed, enabled in a run, its tests pass."""

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_cli
from tests.test_engine import demo_config_text

pytestmark = pytest.mark.slow


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture
def installed_demo(tmp_path: Path):
    """`tradewind new-plugin notifiers demo` then `pip install -e` of the result."""
    proc = run_cli("new-plugin", "notifiers", "demo", "--dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    dest = tmp_path / "tradewind-notifier-demo"
    assert (dest / "pyproject.toml").exists()
    # --no-build-isolation: build with this environment's setuptools, no download needed.
    inst = pip("install", "--no-deps", "--no-build-isolation", "-e", str(dest))
    assert inst.returncode == 0, inst.stdout + inst.stderr
    yield dest
    pip("uninstall", "-y", "tradewind-notifier-demo")


def test_scaffolded_notifier_is_listed_runs_and_passes_its_tests(installed_demo, tmp_path):
    listing = run_cli("plugins")
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if " demo " in line)
    assert "notifiers" in row and "tradewind-notifier-demo" in row and "0.1.0" in row
    assert "text" in row  # capabilities read from source, without importing

    checked = run_cli("plugins", "--check")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    events = tmp_path / "events.log"
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        demo_config_text(tmp_path) + f'\n[notifiers.demo]\npath = "{events.as_posix()}"\n',
        encoding="utf-8",
    )
    run = run_cli("backtest", str(cfg), "--report-dir", str(tmp_path / "reports"))
    assert run.returncode == 0, run.stderr
    lines = events.read_text(encoding="utf-8").splitlines()
    # The run's messages went through the outbox to the plugin: its start and end at least.
    assert lines[0].startswith("run: Run started: ") and lines[-1].startswith("run: Run finished")
    con = duckdb.connect(str(tmp_path / "journal.duckdb"))
    sent = con.execute("SELECT count(*) FROM outbox WHERE notifier = 'demo' AND status = 'sent'")
    assert sent.fetchone() == (len(lines),)

    tests = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(installed_demo / "tests"),
        ],
        capture_output=True,
        text=True,
        cwd=installed_demo,
        timeout=600,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout


@pytest.mark.parametrize("kind", ["analyzers", "filters", "exits", "aggregators"])
def test_every_scaffold_kind_passes_its_own_tests(kind, tmp_path):
    proc = run_cli("new-plugin", kind, "sample", "--dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    dest = next(tmp_path.iterdir())
    inst = pip("install", "--no-deps", "--no-build-isolation", "-e", str(dest))
    assert inst.returncode == 0, inst.stdout + inst.stderr
    try:
        tests = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(dest / "tests")],
            capture_output=True,
            text=True,
            cwd=dest,
            timeout=600,
        )
        assert tests.returncode == 0, tests.stdout + tests.stderr
        # tradewind.testing is a pytest11 plugin: importing it in a test module that also
        # names it in pytest_plugins draws no assert-rewrite warning.
        assert "PytestAssertRewriteWarning" not in tests.stdout + tests.stderr, tests.stdout
        assert "warning" not in tests.stdout.splitlines()[-1], tests.stdout
    finally:
        pip("uninstall", "-y", dest.name)


def test_bad_names_and_existing_folders_are_refused(tmp_path):
    proc = run_cli("new-plugin", "notifiers", "Bad-Name", "--dir", str(tmp_path))
    assert proc.returncode == 1 and "must be lowercase" in proc.stderr
    assert run_cli("new-plugin", "notifiers", "ok", "--dir", str(tmp_path)).returncode == 0
    again = run_cli("new-plugin", "notifiers", "ok", "--dir", str(tmp_path))
    assert again.returncode == 1 and "already exists" in again.stderr


def test_scaffolded_notifier_validates_its_config_in_the_config_class(installed_demo, tmp_path):
    """A typo in min_severity fails `config check` with its path, never a KeyError traceback."""
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        demo_config_text(tmp_path) + '\n[notifiers.demo]\nmin_severity = "WARN"\n',
        encoding="utf-8",
    )
    for command in (["config", "check"], ["run"]):
        proc = run_cli(*command, str(cfg))
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert (
            "min_severity must be one of debug, info, warning, critical, got 'WARN' "
            "@ $.notifiers.demo" in lines[0]
        ), lines[0]


def test_scaffolded_venue_has_the_fixed_file_set_and_passes_its_suites(tmp_path):
    """`new-plugin venues` writes the venue file set of the style guide; installed, its tests
    run the core's venue conformance and spot scenarios against its local exchange (HTTP on
    127.0.0.1) and pass, none skipped."""
    proc = run_cli("new-plugin", "venues", "toyex", "--dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    dest = tmp_path / "tradewind-venue-toyex"
    package = dest / "src" / "tradewind_venue_toyex"
    for name in ("config.py", "constants.py", "venue.py", "schemas.py", "providers.py"):
        assert (package / name).is_file(), name
    assert list((dest / "tests" / "resources" / "http").glob("*.json"))
    assert (dest / "tests" / "resources" / "ws").is_dir()
    assert "api_key: Secret = Secret(DEFAULT_API_KEY_ENV)" in (package / "config.py").read_text()
    inst = pip("install", "--no-deps", "--no-build-isolation", "-e", str(dest))
    assert inst.returncode == 0, inst.stdout + inst.stderr
    try:
        listing = run_cli("plugins")
        row = next(line for line in listing.stdout.splitlines() if " toyex " in line)
        assert "venues" in row and "execution" in row, row
        tests = subprocess.run(
            [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", str(dest / "tests")],
            capture_output=True,
            text=True,
            cwd=dest,
            timeout=600,
        )
        out = tests.stdout + tests.stderr
        assert tests.returncode == 0, out
        for scenario in (
            "TestSpotScenarios::test_open_and_close_a_position PASSED",
            "TestSpotScenarios::test_cancel_a_resting_order PASSED",
            "TestSpotScenarios::test_partial_fills_then_filled PASSED",
            "TestSpotScenarios::test_a_fee_in_the_bought_coin_reduces_what_arrives PASSED",
            "TestSpotScenarios::test_order_in_flight_across_a_restart_delivers_its_fill_once "
            "PASSED",
            "TestConformance::test_execution_is_idempotent_on_client_order_id PASSED",
            "test_an_order_executed_between_the_two_requests_of_a_poll_delivers_its_fills PASSED",
        ):
            assert scenario in out, out
        # Only the data-feed check may skip: the template venue declares no "data".
        skipped = [line for line in out.splitlines() if " SKIPPED" in line]
        assert all("test_data_streams_sorted_batches" in line for line in skipped), skipped
    finally:
        pip("uninstall", "-y", dest.name)
