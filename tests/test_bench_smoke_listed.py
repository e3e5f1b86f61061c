"""Every benchmark script is smoke-run by some env's tests (tests/benchsmoke.py says why): a
new bench/bench_*.py that no smoke test names fails here, in the core env."""

from __future__ import annotations

from tests.benchsmoke import ROOT


def test_every_benchmark_script_is_named_by_a_smoke_test() -> None:
    tests = [*ROOT.glob("tests/**/test_*.py"), *ROOT.glob("plugins/**/tests/test_*.py")]
    texts = [p.read_text() for p in tests if p.name != "test_bench_smoke_listed.py"]
    scripts = sorted(p.name for p in (ROOT / "bench").glob("bench_*.py"))
    assert scripts, f"no bench/bench_*.py under {ROOT}"
    missing = [s for s in scripts if not any(f'"{s}"' in t for t in texts)]
    assert not missing, f"no smoke test (tests/benchsmoke.py) runs: {missing}"
