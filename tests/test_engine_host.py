"""The systemd engine host (ci/engine-host): it boots, serves both engines under systemd with the
systemd cgroup driver, and leaves nothing behind on the machine that ran it — no container,
volume, socket directory, network interface or cgroup, and the host's own cgroup mounts and root
cgroups exactly as they were (a host-cgroup-namespace boot once unmounted three hierarchies)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures import paths
from tests.conftest import MANAGED, ROOT, run_pytest

ENGINE_HOST = ROOT / "ci" / "engine-host"
NAME = "conformance-engine-host"
CGROUP = Path("/sys/fs/cgroup")
# boots and removes ci/engine-host, and compares the host's interfaces and cgroups before and after
pytestmark = pytest.mark.exclusive

SUITE = '''
from fixtures.harness import feature

pytestmark = feature("core")


def test_runs_a_container_in_a_systemd_scope(containers, base_image, engine_facts, engine_host):
    assert engine_facts.cgroup_driver == "systemd"
    container = containers.start(base_image, ["sleep", "60"])
    cgroups = engine_host.file(f"/proc/{container.attrs['State']['Pid']}/cgroup").content_string
    assert f"docker-{container.id}.scope" in cgroups or f"libpod-{container.id}.scope" in cgroups, cgroups
'''


def host_cgroup_state() -> dict[str, object]:
    """The host's cgroup mounts (mount point, type, options) and the cgroups at each hierarchy's root."""
    mounts = sorted(
        (fields[4], rest.split()[0], rest.split()[2])
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        for fields, rest in [(line.split(), line.split(" - ", 1)[1])]
        if rest.startswith(("cgroup ", "cgroup2 "))
    )
    roots = {str(m[0]): sorted(p.name for p in Path(m[0]).iterdir() if p.is_dir() and not p.is_symlink())
             for m in mounts if m[0] != str(CGROUP)}
    return {"mounts": mounts, "roots": roots}


def interfaces() -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return sorted(line.split(":")[1].strip().split("@")[0] for line in out.splitlines())


def engine_host(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ENGINE_HOST), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "DOCKER_HOST": MANAGED})


def docker(*args: str) -> str:
    return subprocess.run(["docker", "-H", MANAGED, *args], capture_output=True, text=True, timeout=60).stdout


@pytest.fixture
def booted_host(engine_url: str) -> Iterator[dict[str, object]]:
    """The engine host booted from a clean state, and the host's state before it; stopped at the end."""
    if engine_url != MANAGED or os.geteuid() != 0:
        pytest.skip("ci/engine-host runs on the managed dockerd, as root")
    engine_host("down")
    before: dict[str, object] = {"cgroups": host_cgroup_state(), "interfaces": interfaces()}
    up = engine_host("up")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield before
    finally:
        engine_host("down")


def test_engine_host_runs_both_engines_under_systemd_and_leaves_nothing(booted_host: dict[str, object],
                                                                       mini_project: Path) -> None:
    pid = docker("inspect", "-f", "{{.State.Pid}}", NAME).strip()
    assert pid.isdigit(), f"the engine host container {NAME} is not running"
    own = Path(f"/proc/{pid}/cgroup").read_text()
    assert f":/{NAME}/" in own and ":/docker/" not in own, f"not below /{NAME} in the host's hierarchies: {own}"
    (mini_project / "suites" / "test_host.py").write_text(SUITE)
    host = engine_host("host").stdout.strip()
    for kind in ("docker", "podman"):
        url = engine_host("url", kind).stdout.strip()
        run = run_pytest(f"--engine-url={url}", f"--engine-host={host}", "suites/", "--no-expectations",
                         cwd=mini_project, timeout=300, env={"DOCKER_HOST": MANAGED})
        assert run.returncode == 0 and "1 passed" in run.output, f"{kind}: {run.output[-3000:]}"

    down = engine_host("down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert docker("ps", "-aq", "--filter", "label=io.conformance.engine-host") == ""
    assert NAME not in docker("volume", "ls", "-q")
    assert not (paths.STATE / "engine-host").exists()
    assert sorted(CGROUP.glob(f"*/{NAME}")) == []
    assert host_cgroup_state() == booted_host["cgroups"]
    assert interfaces() == booted_host["interfaces"]


def test_operator_suites_leave_the_engine_host_as_they_found_it(booted_host: dict[str, object]) -> None:
    """Hooks and secrets installed on the engine host's Podman (its hooks dir, /etc/containers/mounts.conf)
    pass there and are all taken away: the host's configuration directories list the same after."""
    listing = ("ls -a /etc/containers /usr/share/containers /var/lib /tmp; "
               "cat /etc/containers/mounts.conf 2>/dev/null; ls -a /usr/share/containers/oci/hooks.d 2>/dev/null; "
               "ls -d /run/conformance-*.lock 2>/dev/null")
    before = docker("exec", NAME, "sh", "-c", listing)
    url, host = engine_host("url", "podman").stdout.strip(), engine_host("host").stdout.strip()
    run = run_pytest("suites/test_oci_hooks_dir.py", "suites/test_prestart_hooks_after_mounts.py",
                     "suites/test_secrets_mounts.py", f"--engine-url={url}", f"--engine-host={host}",
                     "--distro=busybox", "-n", "2", "-q", cwd=ROOT, timeout=600, env={"DOCKER_HOST": MANAGED})
    assert run.returncode == 0 and "failed" not in run.output, run.output[-3000:]
    assert docker("exec", NAME, "sh", "-c", listing) == before
