"""The tools that combine runs: matrix, compare and expectations-update on recorded result sets
(pure logic), and the pipeline files (every command they run exists in the repository)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci.tools import compare, expectations_update, matrix
from ci.tools.results import ROOT, covered_features, feature_ids, load
from fixtures.errors import HarnessError
from fixtures.expectations import PLACEHOLDER, parse
from fixtures.inventory import suite_version
from fixtures.profiles import load_profiles
from tests.conftest import run_pytest


def results_file(tmp_path: Path, name: str, engine: str, rows: list[tuple[str, str, str, str]],
                 distros: tuple[str, ...] = ("busybox",), expectations: str | None = None) -> Path:
    """A results-<engine>.json as the harness writes it: rows of (test, outcome, feature, distro)."""
    path = tmp_path / name / f"results-{engine}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "engine": {"name": engine, "kind": engine.split("-")[0], "version": "1"},
        "distros": dict.fromkeys(distros, "img"), "expectations": expectations,
        "results": [{"test": t, "outcome": o, "feature": f, "distro": d, "engine": engine,
                     "reason": "Skipped: not applicable: engine lacks btrfs (detected Driver=overlay2)"
                     if o == "skipped" else ""} for t, o, f, d in rows],
    }))
    return path


ROWS = [
    ("suites/test_core.py::test_a[busybox]", "passed", "core", "busybox"),
    ("suites/test_core.py::test_b[busybox]", "xfail", "core", "busybox"),
    ("suites/test_sysctls.py::test_c[busybox]", "passed", "sysctls", "busybox"),
    ("suites/test_stop_signal.py::test_d[busybox]", "failed", "stop-signal", "busybox"),
    ("suites/test_btrfs.py::test_e", "skipped", "btrfs-driver", ""),
]


def test_matrix_has_a_row_for_every_feature_and_the_worst_outcome_per_cell(tmp_path: Path) -> None:
    run = load(results_file(tmp_path, "a", "docker-1", ROWS))
    m = matrix.build([run])
    assert m["features"] == feature_ids() and len(m["features"]) >= 26
    cells = {f: c["docker-1/busybox"]["status"] for f, c in m["cells"].items()}
    assert (cells["core"], cells["sysctls"], cells["stop-signal"], cells["btrfs-driver"]) == (
        "expected-fail", "pass", "fail", "not applicable")
    assert covered_features() == set(feature_ids()), "every feature has a suite"
    unsuited = matrix.build([run], [*feature_ids(), "feature-without-a-suite"])["cells"]["feature-without-a-suite"]
    assert unsuited["docker-1/busybox"]["status"] == "no test"
    assert cells["cgroup-join-all"] == "not run"  # covered by a suite, not in this run
    written = matrix.write(m, tmp_path / "out")
    md = (tmp_path / "out" / "matrix.md").read_text()
    assert "| btrfs-driver | n/a [1] |" in md and "[1] not applicable: engine lacks btrfs" in md
    page = (tmp_path / "out" / "matrix.html").read_text()
    assert 'title="1 skipped; not applicable: engine lacks btrfs (detected Driver=overlay2)"' in page
    assert "http" not in page.split("<body>")[1]  # nothing to fetch: opens offline
    assert {p.name for p in written} == {"matrix.json", "matrix.md", "matrix.html"}


def test_matrix_has_a_column_per_configuration_of_the_same_engine(tmp_path: Path) -> None:
    """Rootful, rootless and remapped runs of one engine are columns of their own (issue 20): their
    engine names carry the configuration (EngineFacts.name), and cells do not mix."""
    names = ("podman-4.3.1", "podman-4.3.1-rootless", "docker-20.10.24+dfsg1-userns")
    rows = {names[0]: ROWS, names[1]: [(*ROWS[2][:1], "skipped", *ROWS[2][2:])], names[2]: ROWS[:1]}
    m = matrix.build([load(results_file(tmp_path, name, name, rows[name])) for name in names])
    assert [c["engine"] for c in m["columns"]] == list(names)
    sysctls = m["cells"]["sysctls"]
    assert (sysctls["podman-4.3.1/busybox"]["status"], sysctls["podman-4.3.1-rootless/busybox"]["status"],
            sysctls["docker-20.10.24+dfsg1-userns/busybox"]["status"]) == ("pass", "not applicable", "not run")


def test_every_feature_of_the_feature_catalog_is_a_row() -> None:
    """shared/FEATURES.md (beside the project where CI and developers have it) names no feature the suite
    lacks: each **id** entry is a marker, so a matrix row."""
    catalog = ROOT.parent / "shared" / "FEATURES.md"
    if not catalog.exists():
        pytest.skip(f"not applicable: no feature catalog at {catalog}")
    ids = set(re.findall(r"^\*\*([a-z0-9-]+)\*\*", catalog.read_text(), flags=re.M))
    ids |= {i for pair in re.findall(r"^\*\*([a-z0-9-]+)\*\* / \*\*([a-z0-9-]+)\*\*", catalog.read_text(), flags=re.M)
            for i in pair}
    assert len(ids) >= 20 and ids <= set(feature_ids()), ids - set(feature_ids())


def test_compare_lists_each_kind_of_change_and_fails_only_on_a_new_failure(tmp_path: Path) -> None:
    old = [*ROWS[:4], ("suites/test_core.py::test_gone[busybox]", "passed", "core", "busybox")]
    new = [ROWS[0], ("suites/test_core.py::test_b[busybox]", "failed", "core", "busybox"),
           ("suites/test_sysctls.py::test_c[busybox]", "skipped", "sysctls", "busybox"),
           ("suites/test_stop_signal.py::test_d[busybox]", "passed", "stop-signal", "busybox"),
           ("suites/test_core.py::test_new[busybox]", "passed", "core", "busybox")]
    a, b = results_file(tmp_path, "old", "e", old), results_file(tmp_path, "new", "e", new)
    changes = compare.compare(list(load(a).results), list(load(b).results))
    assert [r.test.split("::")[1] for r in changes.new_failures] == ["test_b[busybox]"]
    assert [r.test.split("::")[1] for r in changes.fixed] == ["test_d[busybox]"]
    assert [r.test.split("::")[1] for r in changes.newly_not_applicable] == ["test_c[busybox]"]
    assert [r.test.split("::")[1] for r in changes.added] == ["test_new[busybox]"]
    assert [r.test.split("::")[1] for r in changes.gone] == ["test_gone[busybox]"]
    assert compare.main([str(a), str(b)]) == 1
    assert compare.main([str(a), str(a)]) == 0


def test_expectations_update_keeps_removes_and_asks_for_new_reasons(tmp_path: Path) -> None:
    exp = tmp_path / "engine.toml"
    exp.write_text('# header kept\n[match]\nkind = "docker"\n\n'
                   '[[expect]]\ntest = "suites/test_core.py::test_b[*]"\noutcome = "fail"\nreason = "known, see link"\n'
                   'link = "https://example.invalid/issue/1"\n\n'
                   '[[expect]]\ntest = "suites/test_sysctls.py::test_c[*]"\noutcome = "fail"\nreason = "was broken"\n')
    run = results_file(tmp_path, "run", "docker-1", ROWS, expectations=str(exp))
    assert expectations_update.main([str(run)]) == 0
    text = exp.read_text()
    assert text.startswith("# header kept\n[match]")
    assert 'link = "https://example.invalid/issue/1"' in text and "was broken" not in text
    assert f'test = "suites/test_stop_signal.py::test_d[busybox]"\noutcome = "fail"\nreason = "{PLACEHOLDER}"' in text
    with pytest.raises(HarnessError, match="placeholder"):
        parse(exp, {"core", "sysctls", "stop-signal"})


def test_profiles_name_known_features_and_rhel_docker_has_every_one() -> None:
    profiles = load_profiles(set(feature_ids()))
    assert set(profiles) == {"core", "contract", "rhel-docker", "upstream-docker", "podman", "runtime-extensions"}
    assert set(profiles["rhel-docker"].features) == set(feature_ids())
    assert set(profiles["runtime-extensions"].features) < set(profiles["podman"].features)
    core = set(profiles["core"].features)
    assert core <= set(profiles["upstream-docker"].features) and core <= set(profiles["podman"].features)
    contract = set(profiles["contract"].features)
    assert core < contract <= set(profiles["upstream-docker"].features) & set(profiles["podman"].features)


def test_profile_selects_only_its_features(engine_url: str) -> None:
    run = run_pytest("suites/", f"--engine-url={engine_url}", "--profile=core", "--collect-only", "-q")
    assert run.returncode == 0, run.output
    modules = {line.split("::")[0] for line in run.output.splitlines() if "::" in line}
    assert modules == {"suites/test_core.py", "suites/test_core_errors.py", "suites/test_core_tty.py",
                       "suites/test_distro_images.py"}


PIPELINES = [".github/workflows/nightly.yml", ".gitlab-ci.yml", "plans/main.fmf"]


def commands(node: Any, keys: tuple[str, ...] = ("run", "script", "test")) -> list[str]:
    """Every shell line under a run/script/test key of a pipeline file."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in keys:
                found += [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)]
            else:
                found += commands(value, keys)
    elif isinstance(node, list):
        for item in node:
            found += commands(item, keys)
    return found


@pytest.mark.parametrize("path", PIPELINES)
def test_pipeline_runs_only_commands_of_the_repository(path: str) -> None:
    lines = commands(yaml.safe_load((ROOT / path).read_text()))
    own = [word for line in lines for word in shlex.split(line.replace(">-", " ")) if re.match(r"^\.?ci/", word)]
    assert own, f"{path} runs none of the project's entry points"
    for word in own:
        target = ROOT / word
        assert target.is_file() and os.access(target, os.X_OK), f"{path} runs {word}, which is not in the repository"
    assert any(w in ("ci/test", "ci/nightly") for w in own)


def test_tmt_tree_is_marked() -> None:
    assert (ROOT / ".fmf" / "version").read_text().strip() == "1"


def test_the_smoke_plan_passes_under_tmt_on_this_machine(tmp_path: Path) -> None:
    """``tmt run`` of plans/main.fmf's /plans/smoke with ``provision --how local`` (tmt from PyPI, in
    .tools/tmt by ci/install): its prepare builds the tree's venv, its tests (the inventory check, the
    core profile as TAP under ``prove``) pass against the managed engine."""
    tmt = ROOT / ".tools" / "tmt" / "bin" / "tmt"
    if not tmt.exists():
        pytest.skip(f"not applicable: no tmt at {tmt} (ci/install installs it)")
    run = subprocess.run([str(tmt), "--feeling-safe", "run", "--id", str(tmp_path / "run"), "--all", "provision",
                          "--how", "local", "plan", "--name", "/plans/smoke"], cwd=ROOT, capture_output=True,
                         text=True, timeout=1200)
    said = run.stdout + run.stderr
    core = len(json.loads((ROOT / "inventory" / f"{suite_version()}.json").read_text())["profiles"]["core"])
    assert run.returncode == 0 and f"total: {1 + core} tests passed" in said, said[-3000:]  # inventory + each test


def test_tally_names_each_failure_after_the_total(tmp_path: Path) -> None:
    """ci/tally.py: a line per report with its counts and wall time, the closing line counts each outcome, then
    names every failed test and a missing report, so the tail of a CI log says what failed and what took how long."""
    report = tmp_path / "junit-docker.xml"
    report.write_text('<testsuites><testsuite time="154.2"><testcase classname="suites.test_a" name="test_ok"/>'
                      '<testcase classname="suites.test_a" name="test_bad[busybox]">'
                      '<failure message="AssertionError: 1 != 2&#10;detail">tb</failure></testcase>'
                      '<testcase classname="suites.test_a" name="test_na"><skipped message="n/a"/></testcase>'
                      '</testsuite></testsuites>')
    out = subprocess.run([sys.executable, str(ROOT / "ci" / "tally.py"), str(report), str(tmp_path / "junit-gone.xml")],
                         capture_output=True, text=True, timeout=60, check=True).stdout.splitlines()
    assert out[0].split() == ["docker", "1", "passed", "1", "failed", "1", "skipped", "2:34"]  # its wall time
    assert out[1].split() == ["gone", "no", "report"]
    assert out[2] == "total: 1 passed, 2 failed, 1 skipped"
    assert out[3] == "failed: docker suites.test_a::test_bad[busybox] (failure): AssertionError: 1 != 2 | detail"
    assert out[4].startswith("failed: gone: no report (")
