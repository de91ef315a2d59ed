"""Feature ``systemd-pid1``: systemd runs as PID 1 in a container without ``--privileged``.

The reason for the seccomp patch (docker PR 21287): a distro image with systemd MUST boot as
PID 1 of an unprivileged container under the default seccomp profile, reach
``systemctl is-system-running`` = running (or degraded), and stop cleanly on SIGRTMIN+3 (its
STOPSIGNAL) with exit code 0. Docker needs tmpfs on /run and /run/lock and a writable cgroup
mount; Podman detects systemd and sets these up itself (its systemd mode), which an engine
SHOULD do. The image is the distro's own base plus its systemd packages.
"""

from __future__ import annotations

import time
from typing import Any

import docker.errors
import pytest

from fixtures import api
from fixtures.catalog import Distro
from fixtures.containers import ContainerFactory
from fixtures.engine import EngineFacts
from fixtures.harness import feature
from fixtures.images import ImageProvider

pytestmark = feature("systemd-pid1")

PACKAGES = {"apt": ["systemd", "systemd-sysv", "dbus"], "dnf": ["systemd"], "yum": ["systemd"]}
BOOTED = ("running", "degraded")
DOCKER_RECIPE: dict[str, Any] = {
    "tmpfs": {"/run": "", "/run/lock": ""},
    "volumes": {"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"}},
    # systemd's Container Interface: without it systemd before 248 (Debian 11) takes the container for
    # a VM and never finishes halting (it keeps trying to unmount /etc/hostname and friends).
    "environment": {"container": "docker"},
}


def docker_recipe(facts: EngineFacts) -> dict[str, Any]:
    """Docker's documented recipe. Before API 1.41 there is no CgroupnsMode: engines then always use
    the host's cgroup namespace, which is what the recipe asks for."""
    return {**DOCKER_RECIPE, "cgroupns": "host"} if api.supports(facts, "HostConfig.CgroupnsMode") else DOCKER_RECIPE


@pytest.fixture(scope="session")
def systemd_image(images: ImageProvider, distro: Distro, base_image: str) -> str:
    with_systemd = images.with_packages(distro, base_image, PACKAGES.get(distro.package_manager, ["systemd"]))
    return images.derived("systemd-init", 'FROM {base}\nSTOPSIGNAL SIGRTMIN+3\nCMD ["/sbin/init"]\n', with_systemd)


def stopped(container: Any) -> str | None:
    """How the container ended, with systemd's last lines, or None while it runs."""
    container.reload()
    if container.attrs["State"]["Status"] == "running":
        return None
    return f"container {container.attrs['State']['Status']}: {container.logs(tail=20).decode(errors='replace')}"


# ``systemctl is-system-running`` says "offline" while sd_booted(3) is false: no /run/systemd/system, which PID 1
# makes first thing as it starts. Still so this long after the start, PID 1 is not booting (measured: Debian 11's
# systemd 247 on Moby without the recipe stays "offline" with no /run/systemd at all, the 60 s through).
NEVER_BOOTED_AFTER = 15.0


def boot_state(containers: ContainerFactory, container: Any, seconds: float = 60) -> str:
    state = "no answer"
    started = time.monotonic()
    only_offline = True
    while time.monotonic() < started + seconds:
        if ended := stopped(container):
            return ended
        try:
            state = containers.exec(container, ["systemctl", "is-system-running"]).stdout.strip()
        except docker.errors.APIError:  # it ended between the two calls (Docker: 409, Podman: 500)
            if ended := stopped(container):
                return ended
            raise
        if state in BOOTED:
            return state
        only_offline = only_offline and state == "offline"
        if only_offline and time.monotonic() - started > NEVER_BOOTED_AFTER:
            return f"offline for {NEVER_BOOTED_AFTER:.0f} s: PID 1 never made /run/systemd/system"
        time.sleep(0.5)
    return state


def assert_boots_and_stops(containers: ContainerFactory, image: str, **options: Any) -> None:
    container = containers.start(image, **options)
    assert container.attrs["HostConfig"].get("Privileged") is False
    assert boot_state(containers, container) in BOOTED
    assert containers.exec(container, ["cat", "/proc/1/comm"]).stdout.strip() == "systemd"
    container.stop(timeout=30)  # the image's STOPSIGNAL: SIGRTMIN+3, systemd's "halt"
    result = containers.wait(container)
    assert result.exit_code == 0, f"systemd did not halt cleanly (exit {result.exit_code})"


def test_systemd_boots_with_tmpfs_and_cgroup_mount(
    containers: ContainerFactory, systemd_image: str, engine_facts: EngineFacts
) -> None:
    """With tmpfs /run, /run/lock and a writable cgroup mount, systemd MUST boot unprivileged under the
    default seccomp profile and halt cleanly on its STOPSIGNAL."""
    assert_boots_and_stops(containers, systemd_image, **docker_recipe(engine_facts))


def test_engine_tells_pid1_it_runs_in_a_container(containers: ContainerFactory, base_image: str) -> None:
    """The engine SHOULD set ``container=<manager>`` in PID 1's environment (systemd's Container
    Interface), so that systemd in the container knows it is one and halts like one."""
    result = containers.run(base_image, ["cat", "/proc/1/environ"])
    assert result.exit_code == 0, result.stderr
    entries = result.stdout.split("\0")
    values = [entry.split("=", 1)[1] for entry in entries if entry.startswith("container=")]
    assert len(values) == 1 and values[0], f"PID 1's environment has no container= entry: {entries}"


def test_systemd_boots_with_no_extra_options(containers: ContainerFactory, systemd_image: str) -> None:
    """The engine SHOULD detect an init command and prepare the container for systemd itself
    (Podman's systemd mode): it boots with no extra options."""
    assert_boots_and_stops(containers, systemd_image)
