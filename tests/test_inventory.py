"""The suite's inventory (fixtures/inventory.py, ci/inventory) and the CIS Docker Benchmark names of the
security-default tests (fixtures/cis.py): the committed inventory is what pytest collects, every test
has a level, and the pure logic (levels, changes, distro templates, diffs) holds."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from ci.tools import matrix
from ci.tools.results import load
from fixtures import inventory
from fixtures.cis import recommendations

ROOT = Path(__file__).resolve().parent.parent


def current() -> dict[str, object]:
    return inventory.read(inventory.INVENTORY_DIR / f"{inventory.suite_version()}.json")


def test_the_committed_inventory_is_what_pytest_collects() -> None:
    run = subprocess.run([str(ROOT / "ci" / "inventory"), "--check"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"inventory/{inventory.suite_version()}.json" in run.stdout


def test_every_test_has_a_level_a_feature_and_each_profile_its_tests() -> None:
    data = current()
    tests = data["tests"]
    assert isinstance(tests, list) and len(tests) > 250
    assert [t["test"] for t in tests if t["level"] not in inventory.LEVELS] == []
    assert all(t["feature"] for t in tests)
    profiles = data["profiles"]
    assert isinstance(profiles, dict)
    assert set(profiles["core"]) < set(profiles["rhel-docker"]) == {t["test"] for t in tests}


def test_security_default_tests_name_their_cis_recommendation() -> None:
    cis = {t["test"].split("::")[1]: t["cis"] for t in current()["tests"]}  # type: ignore[attr-defined]
    assert cis["test_default_capabilities_are_mobys_set[{distro}]"] == [f"5.3 {recommendations()['5.3']}"]
    assert cis["test_privileged_gives_every_capability_and_the_hosts_devices"][0].startswith("5.4 ")
    assert cis["test_host_mode_joins_the_engines_namespace[pid-PidMode-pid_mode]"][0].startswith("5.15 ")
    assert cis["test_no_new_privileges_is_off_by_default_and_on_when_asked[{distro}]"][0].startswith("5.25 ")
    assert cis["test_pids_limit_becomes_pids_max_and_is_enforced"][0].startswith("5.28 ")
    named = {c.split()[0] for found in cis.values() for c in found}
    assert named == set(recommendations()), "every recommendation in fixtures/cis.toml is some test's"


def test_levels_changes_and_distro_templates() -> None:
    assert inventory.level("A default container MUST NOT ...; it SHOULD ...") == "MUST"
    assert inventory.level("The engine SHOULD detect an init command") == "SHOULD"
    assert inventory.level("must, in lower case, is prose") == ""
    assert inventory.changes("(docker PR 21287) and rhatdan/docker PR 109", "moby/moby#29863, docker PR 21287") == [
        "docker PR 21287", "rhatdan/docker PR 109", "moby/moby#29863"]
    assert inventory.template("suites/t.py::test_a[busybox-0]", "busybox") == "suites/t.py::test_a[{distro}-0]"
    assert inventory.template("t.py::test_a[centos-stream9]", "centos-stream9") == "t.py::test_a[{distro}]"
    assert inventory.template("suites/t.py::test_a[pid-busybox2]", "busybox") == "suites/t.py::test_a[pid-busybox2]"
    assert inventory.expand("suites/t.py::test_a[{distro}-0]", ["busybox", "debian12"]) == [
        "suites/t.py::test_a[busybox-0]", "suites/t.py::test_a[debian12-0]"]


def test_diff_lists_what_a_version_adds_drops_and_changes() -> None:
    def inv(*tests: tuple[str, str, str]) -> dict[str, object]:
        return {"suite_version": "x", "tests": [{"test": t, "level": lv, "feature": f} for t, lv, f in tests]}

    old = inv(("a", "MUST", "core"), ("b", "SHOULD", "core"), ("gone", "MUST", "sysctls"))
    new = inv(("a", "MUST", "core"), ("b", "MUST", "core"), ("new", "MUST", "sysctls"))
    assert inventory.diff(old, new) == {"added": ["new"], "dropped": ["gone"],
                                        "changed": ["b: SHOULD core -> MUST core"]}
    assert inventory.suite_version() in inventory.releases()


def test_matrix_names_each_features_cis_recommendations(tmp_path: Path) -> None:
    results = tmp_path / "results-docker-1.json"
    results.write_text(json.dumps({"engine": {"name": "docker-1"}, "distros": {"busybox": "img"}, "results": [
        {"test": "suites/test_core.py::test_a[busybox]", "outcome": "passed", "feature": "core", "distro": "busybox",
         "cis": "5.3 Ensure that Linux kernel capabilities are restricted within containers; 5.12 Ensure x"},
        {"test": "suites/test_core.py::test_b[busybox]", "outcome": "passed", "feature": "core", "distro": "busybox",
         "cis": "5.10 Ensure memory usage for containers is limited"}]}))
    m = matrix.build([load(results)])
    assert [c.split()[0] for c in m["cis"]["core"]] == ["5.3", "5.10", "5.12"]
    assert "| core (CIS 5.3, 5.10, 5.12) | pass |" in matrix.markdown(m)
    assert "sysctls" not in m["cis"]
