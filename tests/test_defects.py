"""The suite catches engines with injected defects: a proxy in front of the real managed dockerd
rewrites container creation (drops a field, flips a flag) and the named tests must fail.

A conformance test that still passes against such an engine cannot fail, which is a defect of
the suite (see the developers' guide).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import run_pytest
from tests.defects import Knobs, Mutation, defect_proxy, proxy


def drop(*path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        node = spec
        for key in path[:-1]:
            node = node.get(key) or {}
        node.pop(path[-1], None)
    return mutate


def set_value(value: Any, *path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        node = spec
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return mutate


def shared_binds(spec: dict[str, Any]) -> None:
    binds = (spec.get("HostConfig") or {}).get("Binds") or []
    spec["HostConfig"]["Binds"] = [f"{b},rshared" if b.count(":") == 2 else f"{b}:rshared" for b in binds]


DEFECTS = [
    pytest.param(drop("Env"), "suites/test_core.py::test_env_reaches_the_process", id="ignores-env"),
    pytest.param(drop("User"), "suites/test_core.py::test_user_sets_uid_and_gid", id="ignores-user"),
    pytest.param(drop("WorkingDir"), "suites/test_core.py::test_workdir_sets_cwd_and_is_created", id="ignores-workdir"),
    pytest.param(drop("Hostname"), "suites/test_core.py::test_hostname_is_set_in_uts_namespace", id="ignores-hostname"),
    pytest.param(set_value(False, "HostConfig", "ReadonlyRootfs"),
                 "suites/test_core.py::test_read_only_rootfs_refuses_writes", id="ignores-read-only"),
    pytest.param(drop("HostConfig", "CapDrop"), "suites/test_core.py::test_cap_drop_removes_the_capability",
                 id="ignores-cap-drop"),
    pytest.param(drop("HostConfig", "Memory"), "suites/test_core.py::test_memory_limit_is_the_cgroup_limit",
                 id="ignores-memory"),
    pytest.param(drop("HostConfig", "Sysctls"), "suites/test_sysctls.py::test_sysctl_value_reaches_the_container",
                 id="ignores-sysctls"),
    pytest.param(drop("StopSignal"), "suites/test_stop_signal.py::test_explicit_stop_signal_overrides_the_image",
                 id="ignores-stop-signal"),
    pytest.param(set_value(["seccomp=unconfined"], "HostConfig", "SecurityOpt"),
                 "suites/test_seccomp_ns_syscalls.py::test_default_profile_is_in_force", id="no-seccomp"),
    pytest.param(lambda spec: spec.setdefault("StopSignal", "SIGTERM"),
                 "suites/test_stop_signal.py::test_image_stopsignal_is_delivered_on_stop",
                 id="ignores-image-stopsignal"),
    pytest.param(shared_binds, "suites/test_volume_rprivate_archive.py::test_bind_volume_defaults_to_rprivate",
                 id="binds-default-rshared"),
]


@pytest.mark.parametrize(("mutate", "test"), DEFECTS)
def test_suite_fails_on_an_engine_with_the_defect(engine_url: str, mutate: Callable[[dict[str, Any]], None],
                                                   test: str) -> None:
    socket_path = engine_url.removeprefix("unix://")
    with defect_proxy(socket_path, mutate) as url:
        run = run_pytest(test, f"--engine-url={url}", "--distro=busybox", timeout=300)
    assert run.returncode == 1, run.output[-3000:]
    assert "FAILED" in run.output or "XPASS" in run.output


def replace_present(value: Any, *path: str) -> Callable[[dict[str, Any]], None]:
    """Sets the field to ``value`` only in the creates that ask for it."""
    def mutate(spec: dict[str, Any]) -> None:
        node = spec
        for key in path[:-1]:
            node = node.get(key) or {}
        if path[-1] in node:
            node[path[-1]] = value
    return mutate


@pytest.mark.parametrize(("mutate", "module", "test"), [
    pytest.param(drop("HostConfig", "CpuShares"), "suites/test_contract_resources.py",
                 "test_cpu_shares_become_the_cgroup_weight", id="ignored-field-in-a-batch"),
    pytest.param(replace_present("63", "HostConfig", "CpusetMems"), "suites/test_contract_resources.py",
                 "test_cpuset_mems_restrict_the_memory_nodes", id="refused-field-in-a-batch"),
    pytest.param(drop("WorkingDir"), "suites/test_core.py", "test_workdir_sets_cwd_and_is_created",
                 id="ignored-config-field-in-a-batch"),
])
def test_a_defect_in_a_shared_container_fails_only_its_own_test(engine_url: str, mutate: Mutation, module: str,
                                                                 test: str) -> None:
    """Many tests read one shared container (fixtures/shared.py): an engine that ignores one field
    fails that field's test alone; one that refuses a field makes the others run alone, and pass."""
    socket_path = engine_url.removeprefix("unix://")
    with defect_proxy(socket_path, mutate) as url:
        run = run_pytest(module, f"--engine-url={url}", "--distro=busybox", "-rf", timeout=300)
    failed = re.findall(r"^FAILED \S+::(\w+)", run.output, re.M)  # [busybox] and the reason left off
    assert failed == [test], run.output[-3000:]


def test_proxy_without_a_defect_passes(engine_url: str) -> None:
    """The proxy itself changes nothing: the same tests pass through it untouched."""
    socket_path = engine_url.removeprefix("unix://")
    tests = [str(p.values[1]) for p in DEFECTS]
    with defect_proxy(socket_path, lambda spec: None) as url:
        run = run_pytest(*sorted(set(tests)), f"--engine-url={url}", "--distro=busybox", timeout=300)
    assert run.returncode == 0, run.output[-3000:]


def host_dpkg(package: str) -> str:
    return subprocess.run(["dpkg-query", "-W", "-f", "${Package}_${Version}_${Architecture}", package],
                          capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("correct", [True, False], ids=["right-package", "wrong-package"])
def test_red_hat_pkgversion_is_checked_against_the_binarys_package(engine_url: str, correct: bool) -> None:
    """An engine reporting Red Hat's top-level PkgVersion (emulated: the proxy adds it to the real dockerd's
    /version) passes version-packages when it names the package owning dockerd, and fails when it does not.
    The proxy holds the socket the run is given, so the engine's binary is named (--engine-binary)."""
    package = host_dpkg("docker.io") if correct else "docker.io_1.13.1-0redhat_amd64"
    knobs = Knobs(lambda spec: None, version_extra={"PkgVersion": package})
    with proxy(engine_url.removeprefix("unix://"), knobs) as url:
        run = run_pytest("suites/test_version_packages.py", f"--engine-url={url}", "--no-expectations",
                         f"--engine-binary={shutil.which('dockerd')}", "-rA", timeout=120)
    if correct:
        assert run.returncode == 0, run.output[-3000:]
        assert "4 passed" in run.output, run.output[-3000:]
    else:
        assert run.returncode == 1, run.output[-3000:]
        assert "FAILED suites/test_version_packages.py::test_reported_packages_match_the_host_package_database" \
            in run.output, run.output[-3000:]
        assert "docker.io_1.13.1-0redhat_amd64" in run.output


def test_an_engine_behind_a_proxy_is_not_guessed_from_path(engine_url: str) -> None:
    """Behind an API proxy (its socket held by a python process, not an engine) and without --engine-binary,
    version-packages fails saying who holds the socket and what to pass, never comparing PATH's dockerd."""
    knobs = Knobs(lambda spec: None, version_extra={"PkgVersion": host_dpkg("docker.io")})
    with proxy(engine_url.removeprefix("unix://"), knobs) as url:
        run = run_pytest("suites/test_version_packages.py", f"--engine-url={url}", "--no-expectations",
                         "-rA", timeout=120)
    assert run.returncode == 1, run.output[-3000:]
    assert re.search(r"no engine binary holds the engine's socket \S+ \(held by \S*python\S*\[\d+\]\): pass "
                     r"--engine-binary=PATH", run.output), run.output[-3000:]
