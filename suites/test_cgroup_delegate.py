"""Feature ``cgroup-delegate``: the container's systemd scope has ``Delegate=yes`` (runc PR 648).

With the systemd cgroup driver each container runs in a transient scope unit; the patch made the
runtime ask systemd for ``Delegate=yes`` on it, so that systemd leaves the cgroups below the
scope to the container (systemd inside the container, a nested engine). Observed on the engine
host: the scope unit that holds the container's init process (``/proc/<pid>/cgroup``) and what
``systemctl show`` says of it; the scope MUST go away with the container. Not applicable with
the cgroupfs driver (detected from ``/info`` CgroupDriver).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from fixtures.containers import ContainerFactory
from fixtures.engine_host import EngineHost
from fixtures.harness import feature

pytestmark = [feature("cgroup-delegate"), pytest.mark.requires("systemd-cgroup-driver")]


def scope_of(engine_host: EngineHost, pid: int) -> str:
    """The systemd scope unit a process is in (from its name=systemd or unified cgroup line)."""
    lines = engine_host.file(f"/proc/{pid}/cgroup").content_string.splitlines()
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers in ("name=systemd", ""):
            scopes = re.findall(r"[^/]+\.scope", path)
            if scopes:
                return scopes[-1]
    pytest.fail(f"process {pid} is in no systemd scope: {lines}")


def show(engine_host: EngineHost, unit: str, *props: str) -> dict[str, str]:
    out = engine_host.run("systemctl show %s " + " ".join("-p %s" for _ in props), unit, *props)
    return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)


def test_container_scope_has_delegate_yes(containers: ContainerFactory, base_image: str, engine_host: EngineHost,
                                         record_property: Any) -> None:
    """The container's scope unit MUST be active with Delegate=yes, and named for the container."""
    container = containers.start(base_image, ["sleep", "300"])
    scope = scope_of(engine_host, int(container.attrs["State"]["Pid"]))
    props = show(engine_host, scope, "Delegate", "ActiveState")
    record_property("scope", f"{scope} {props}")
    assert str(container.id) in scope, f"scope {scope} does not name container {container.id}"
    assert props == {"Delegate": "yes", "ActiveState": "active"}


def test_exec_process_is_in_the_delegated_scope(containers: ContainerFactory, base_image: str,
                                                engine_host: EngineHost) -> None:
    """A process exec'd into the container MUST land in the same delegated scope."""
    container = containers.start(base_image, ["sleep", "300"])
    exec_id = containers.client.api.exec_create(container.id, ["sleep", "30"])["Id"]
    containers.client.api.exec_start(exec_id, detach=True)
    pid = 0
    for _ in range(50):
        pid = int(containers.client.api.exec_inspect(exec_id).get("Pid") or 0)
        if pid:
            break
    assert pid, "exec inspect reports no Pid"
    assert scope_of(engine_host, pid) == scope_of(engine_host, int(container.attrs["State"]["Pid"]))


def test_scope_goes_away_with_the_container(containers: ContainerFactory, base_image: str,
                                            engine_host: EngineHost) -> None:
    """Once the container is removed its scope MUST NOT stay loaded as active."""
    container = containers.start(base_image, ["sleep", "300"])
    scope = scope_of(engine_host, int(container.attrs["State"]["Pid"]))
    container.remove(force=True)
    for _ in range(50):
        if show(engine_host, scope, "ActiveState").get("ActiveState") in ("inactive", "failed", ""):
            break
        engine_host.run("sleep 0.1")
    assert show(engine_host, scope, "ActiveState").get("ActiveState") in ("inactive", "failed", "")
