"""The create contract's coverage (ci/coverage): every field of the supported schemas is observed
by a test or has a reason; the kept field list is the schema's own; the tool reports per engine."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ci.tools import coverage

SWAGGER = Path("/usr/share/gocode/src/github.com/docker/docker/api/swagger.yaml")


def test_every_field_of_the_supported_schemas_is_observed_or_has_a_reason() -> None:
    rows, problems = coverage.build([])
    assert problems == []
    assert len(rows) >= 100 and all(r.tests or r.reason for r in rows)


def test_the_kept_field_list_is_the_schemas_own(tmp_path: Path) -> None:
    if not SWAGGER.exists():
        pytest.skip(f"no {SWAGGER} here (Debian's golang-github-docker-docker-dev, installed by ci/install)")
    written = coverage.import_swagger(SWAGGER, tmp_path)
    kept = coverage.CONTRACT / written.name
    assert coverage.schemas(tmp_path)[0].fields == coverage.schemas(coverage.CONTRACT)[0].fields, \
        f"{kept} differs from {SWAGGER}: run ci/coverage --import-swagger {SWAGGER}"


def mini_contract(tmp_path: Path, suite: str, reasons: str = "") -> tuple[Path, Path]:
    contract, suites = tmp_path / "contract", tmp_path / "suites"
    contract.mkdir()
    suites.mkdir()
    (contract / "create-9.99.toml").write_text('api = "9.99"\nsource = "test"\n'
                                               'fields = ["HostConfig.A", "HostConfig.B", "HostConfig.C"]\n')
    (contract / "coverage.toml").write_text(f'[since]\n"HostConfig.C" = "9.99"\n[reasons]\n{reasons}')
    (suites / "test_x.py").write_text(suite)
    return contract, suites


SUITE = '''
import pytest
pytestmark = [pytest.mark.observes("HostConfig.A")]

@pytest.mark.observes("HostConfig.B", "HostConfig.Nope")
@pytest.mark.parametrize("x", [1])
def test_b(x): pass

def test_a_only(): pass
'''


def test_markers_are_read_statically_and_gaps_are_problems(tmp_path: Path) -> None:
    contract, suites = mini_contract(tmp_path, SUITE)
    assert coverage.observed_fields(suites) == {
        "HostConfig.A": ["suites/test_x.py::test_b", "suites/test_x.py::test_a_only"],
        "HostConfig.B": ["suites/test_x.py::test_b"],
        "HostConfig.Nope": ["suites/test_x.py::test_b"],
    }
    rows, problems = coverage.build([], contract, suites)
    assert [(r.field, r.since) for r in rows] == [("HostConfig.A", "1.24"), ("HostConfig.B", "1.24"),
                                                  ("HostConfig.C", "9.99")]
    assert any(p.startswith("HostConfig.C: no test observes it") for p in problems)
    assert any(p.startswith("HostConfig.Nope: named by suites/test_x.py::test_b") for p in problems)


def test_a_stale_reason_is_a_problem(tmp_path: Path) -> None:
    contract, suites = mini_contract(tmp_path, SUITE, '"HostConfig.C" = "why"\n"HostConfig.A" = "stale"\n')
    _, problems = coverage.build([], contract, suites)
    assert any("HostConfig.A: observed by" in p for p in problems)
    assert not any(p.startswith("HostConfig.C") for p in problems)


def test_per_engine_columns_take_the_worst_observing_outcome(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    results = tmp_path / "results-e.json"
    results.write_text(json.dumps({"engine": {"name": "engine-1"}, "distros": ["busybox"], "results": [
        {"test": "suites/test_contract_resources.py::test_cpu_shares_become_the_cgroup_weight", "outcome": "passed"},
        {"test": "suites/test_core.py::test_memory_limit_is_the_cgroup_limit[busybox]", "outcome": "failed"},
        {"test": "suites/test_contract_namespaces.py::test_cgroupns_private_hides_the_cgroup_path_and_host_shows_it",
         "outcome": "skipped", "reason": "not applicable"},
    ]}))
    assert coverage.main([str(results)]) == 0
    out = capsys.readouterr().out
    assert "| HostConfig.CpuShares | 1.24 | pass |" in out
    assert "| HostConfig.Memory | 1.24 | fail |" in out
    assert "| HostConfig.CgroupnsMode | 1.41 | n/a |" in out
    assert "engine-1: 1 pass, 1 fail, 1 n/a" in out


def test_ci_coverage_runs_as_a_command() -> None:
    run = subprocess.run([str(coverage.ROOT / "ci" / "coverage")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr
    assert "observed by a test" in run.stdout
