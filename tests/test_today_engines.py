"""Today's engines of ci/engines (issue 28): Debian unstable's Docker 28 and Podman 5, each run on this host from
that suite's rootfs in a mount namespace of its own. Each answers as the generation it is, runs in its own root
(not this machine's), leaves the other engines' bridges alone (Docker 28 deletes docker0 when given
default-address-pools), and its ``down`` leaves nothing: no process, no bridge, no NAT rule of its own."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from fixtures import paths
from tests.test_userns_engines import engines, require_idle

pytestmark = pytest.mark.exclusive  # starts and stops managed engines, compares the host's links and NAT rules

TODAY = {"docker-28": ("/version", "28."), "docker-28-containerd": ("/version", "28."),
         "docker-28-rootless": ("/version", "28."),
         "podman-5": ("/v5.0.0/libpod/version", "5."), "podman-5-rootless": ("/v5.0.0/libpod/version", "5.")}


def links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, timeout=30).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line}


def rules() -> str:
    return "".join(subprocess.run(["iptables-save", *table], capture_output=True, text=True, timeout=30).stdout
                   for table in ([], ["-t", "nat"]))


@pytest.mark.parametrize("name", list(TODAY))
def test_todays_engine_runs_from_its_own_root_beside_the_others_and_leaves_nothing(name: str) -> None:
    require_idle(name)
    before = links()
    started = engines("up", name)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        url = engines("url", name).stdout.strip()
        path, generation = TODAY[name]
        answer = subprocess.run(["curl", "-s", "--unix-socket", url.removeprefix("unix://"), f"http://d{path}"],
                                capture_output=True, text=True, timeout=60)
        assert json.loads(answer.stdout)["Version"].startswith(generation), answer.stdout
        host = engines("host", name).stdout.strip()
        pid = host.removeprefix("nsenter://")
        assert host.startswith("nsenter://") and pid.isdigit(), host
        assert os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt"), "it shares this mount namespace"
        release = subprocess.run(["nsenter", "-t", pid, "-a", "-r", "-w", "cat", "/etc/debian_version"],
                                 capture_output=True, text=True, timeout=30).stdout
        assert "sid" in release or "forky" in release, f"its root is not unstable's: /etc/debian_version {release}"
        assert before <= links(), f"links gone while it started: {before - links()}"
    finally:
        stopped = engines("down", name)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert f"{name}: down" in engines("status").stdout
    assert before <= links(), f"links gone: {before - links()}"
    assert not links() - before, f"links left: {links() - before}"
    assert f"conformance-{name}" not in rules()
    left = subprocess.run(["pgrep", "-f", f"{paths.STATE}/{name}[./]"], capture_output=True, text=True)
    assert left.stdout == "", f"processes left: {left.stdout}"
