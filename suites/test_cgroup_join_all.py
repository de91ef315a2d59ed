"""Feature ``cgroup-join-all``: a container's processes join its cgroup in every hierarchy (runc PR 491).

The container's init and every exec'd process MUST be in the container's own cgroup in each
hierarchy of the engine host (cgroup v1: cpu, cpuacct, cpuset, memory, devices, freezer, blkio,
pids, net_cls/net_prio, perf_event, hugetlb, name=systemd; v2: the single ``0::`` line) — not left
in the engine's or the host's. On a hybrid host (v1 controllers and a controller-less cgroup2
hierarchy, ``0::``, beside them) the unified hierarchy is observed by tests of its own: runc PR 491
predates cgroup2, and a runc of that time (Red Hat docker 1.13's) leaves processes at its root
while joining every v1 hierarchy; newer runtimes join it too (SHOULD). Read from the host
(``/proc/<pid>/cgroup``): inside, a cgroup namespace would hide the paths.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from fixtures.containers import ContainerFactory
from fixtures.engine_host import EngineHost
from fixtures.harness import feature

pytestmark = [feature("cgroup-join-all"), pytest.mark.requires("cgroups")]


def parse(text: str) -> dict[str, str]:
    """``/proc/<pid>/cgroup`` as {hierarchy controllers: path} ("cpu,cpuacct", "name=systemd", "" for v2)."""
    lines = (line.split(":", 2) for line in text.splitlines() if line.strip())
    return {controllers: path for _, controllers, path in lines}


@pytest.fixture
def running(containers: ContainerFactory, base_image: str, engine_host: EngineHost) -> tuple[Any, int]:
    container = containers.start(base_image, ["sleep", "300"])
    pid = int(container.attrs["State"]["Pid"])
    assert pid > 0
    return container, pid


def hierarchies(cgroups: dict[str, str], unified_of_a_hybrid: bool) -> dict[str, str]:
    """The hierarchies of one kind: a hybrid host's controller-less unified one (``""`` beside v1 ones), or the
    others (every v1 hierarchy; on a pure v2 host its single one)."""
    hybrid = "" in cgroups and len(cgroups) > 1
    return {h: p for h, p in cgroups.items() if (h == "" and hybrid) == unified_of_a_hybrid}


def assert_in_container_cgroup(engine_host: EngineHost, pid: int, container_id: str, who: str,
                               unified_of_a_hybrid: bool = False) -> None:
    host = hierarchies(parse(engine_host.file("/proc/1/cgroup").content_string), unified_of_a_hybrid)
    if unified_of_a_hybrid and not host:
        pytest.skip("not applicable: the engine host is not a hybrid cgroup host (no cgroup2 hierarchy beside v1 ones)")
    mine = hierarchies(parse(engine_host.file(f"/proc/{pid}/cgroup").content_string), unified_of_a_hybrid)
    assert set(mine) == set(host), f"{who}: hierarchies {sorted(mine)} differ from the host's {sorted(host)}"
    outside = {h: p for h, p in mine.items() if container_id not in p}
    assert not outside, f"{who} is outside the container's cgroup in: {outside}"
    assert len(set(mine.values())) == 1, f"{who}: different cgroups per hierarchy: {mine}"


def exec_pid(container: Any, init_pid: int) -> int:
    """The host pid of a ``sleep`` started in the container with exec."""
    api = container.client.api
    exec_id = api.exec_create(container.id, ["sleep", "120"])["Id"]
    api.exec_start(exec_id, detach=True)
    pid = 0
    for _ in range(50):
        pid = int(api.exec_inspect(exec_id).get("Pid") or 0)
        if pid:
            break
        time.sleep(0.1)
    assert pid > 0 and pid != init_pid, "exec inspect reports no Pid for a running exec"
    return pid


def test_init_joins_every_hierarchy(running: tuple[Any, int], engine_host: EngineHost) -> None:
    """The container's init MUST be in the container's cgroup in every hierarchy of the host (a hybrid host's
    unified one apart: test_init_joins_the_unified_hierarchy_of_a_hybrid_host)."""
    container, pid = running
    assert_in_container_cgroup(engine_host, pid, container.id, "init")


def test_exec_process_joins_every_hierarchy(running: tuple[Any, int], engine_host: EngineHost) -> None:
    """A process started with exec MUST join the same cgroup as init, in every hierarchy (a hybrid host's unified
    one apart)."""
    container, init_pid = running
    pid = exec_pid(container, init_pid)
    assert_in_container_cgroup(engine_host, pid, container.id, "exec'd process")

    def read(p: int) -> dict[str, str]:
        return hierarchies(parse(engine_host.file(f"/proc/{p}/cgroup").content_string), False)
    assert read(pid) == read(init_pid)


def test_init_joins_the_unified_hierarchy_of_a_hybrid_host(running: tuple[Any, int], engine_host: EngineHost) -> None:
    """On a hybrid host the container's init SHOULD be in the container's cgroup in the controller-less cgroup2
    hierarchy too (what systemd tracks processes by); not applicable on a host that is not hybrid."""
    container, pid = running
    assert_in_container_cgroup(engine_host, pid, container.id, "init", unified_of_a_hybrid=True)


def test_exec_process_joins_the_unified_hierarchy_of_a_hybrid_host(running: tuple[Any, int],
                                                                    engine_host: EngineHost) -> None:
    """On a hybrid host an exec'd process SHOULD be in the container's cgroup in the cgroup2 hierarchy too."""
    container, init_pid = running
    assert_in_container_cgroup(engine_host, exec_pid(container, init_pid), container.id, "exec'd process",
                               unified_of_a_hybrid=True)


def test_memory_limit_is_set_on_the_host_cgroup(
    containers: ContainerFactory, base_image: str, engine_host: EngineHost
) -> None:
    """The container's limit MUST be on the cgroup its process is in, as the host sees it."""
    container = containers.start(base_image, ["sleep", "300"], mem_limit="72m")
    cg = parse(engine_host.file(f"/proc/{container.attrs['State']['Pid']}/cgroup").content_string)
    if "memory" in cg:
        path = f"/sys/fs/cgroup/memory{cg['memory']}/memory.limit_in_bytes"
    else:
        path = f"/sys/fs/cgroup{cg['']}/memory.max"
    assert int(engine_host.file(path).content_string) == 72 * 1024 * 1024
