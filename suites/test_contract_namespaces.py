"""The create contract, namespaces (marker ``core-namespaces``): each namespace mode of
``HostConfig`` MUST put the container's process in the namespace it names — a new one by default,
the engine's own for ``host``, another container's for ``container:<id>`` — observed as the
namespace identity (``readlink /proc/self/ns/<kind>``) inside the container and of the engine's
process on its host.

Source: the Engine API's HostConfig (PidMode, IpcMode, UTSMode, NetworkMode, UsernsMode,
CgroupnsMode); moby's integration/container/ipcmode_linux_test.go and pidmode tests. Engine
mechanics: once per engine, on the busybox tool image.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import docker.errors
import pytest
from docker.models.containers import Container

from fixtures import api, hostside
from fixtures.containers import ContainerFactory
from fixtures.engine import EngineFacts, remapped_root
from fixtures.engine_host import EngineHost
from fixtures.harness import Harness, feature
from fixtures.idmap import IdMap, host_namespaces, parse_ranges, process_ids
from fixtures.shared import Probe, batched, once

pytestmark = feature("core-namespaces")

KINDS = ("pid", "ipc", "uts", "net", "cgroup", "user")
# Host modes set together: neither changes the other's namespace (UTS and network stay apart:
# an engine may take the host's UTS namespace along with its network).
JOINT = {"pid": "pid_mode", "ipc": "ipc_mode"}


def namespaces(containers: ContainerFactory, image: str, **kwargs: Any) -> dict[str, str]:
    """The namespace identities of a container's process, by kind."""
    script = "; ".join(f"echo {k} $(readlink /proc/self/ns/{k})" for k in KINDS)
    result = containers.run(image, ["sh", "-c", script], **kwargs)
    assert result.exit_code == 0, result.stderr
    return dict(line.split(" ", 1) for line in result.stdout.splitlines())


@pytest.fixture
def engine_ns(engine_host: EngineHost, harness: Harness) -> Callable[[str], str]:
    """The namespace identity of the engine's own process on its host, by kind."""
    pid = harness.engine_process(engine_host).pid
    return lambda kind: hostside.namespace_of(engine_host, pid, kind)


@pytest.fixture(scope="module")
def join_target(module_containers: ContainerFactory, tool_image: str, engine_facts: EngineFacts) -> Container:
    """A running container the container-mode tests join (its IPC shareable where the API has the mode)."""
    shareable = {"ipc_mode": "shareable"} if api.supports(engine_facts, "HostConfig.IpcMode private/none/shareable") \
        else {}
    return module_containers.start(tool_image, ["sleep", "600"], **shareable)


@pytest.mark.observes("HostConfig.PidMode", "HostConfig.IpcMode", "HostConfig.UTSMode", "HostConfig.NetworkMode")
@pytest.mark.parametrize(("kind", "field", "keyword"), [
    pytest.param("pid", "PidMode", "pid_mode", marks=pytest.mark.cis("5.15")),
    pytest.param("ipc", "IpcMode", "ipc_mode", marks=pytest.mark.cis("5.16")),
    pytest.param("uts", "UTSMode", "uts_mode", marks=pytest.mark.cis("5.20")),
    pytest.param("net", "NetworkMode", "network_mode", marks=pytest.mark.cis("5.9")),
])
def test_host_mode_joins_the_engines_namespace(containers: ContainerFactory, tool_image: str,
                                               engine_ns: Callable[[str], str], kind: str, field: str,
                                               keyword: str, engine_facts: EngineFacts) -> None:
    """``<Kind>Mode: host`` MUST run the process in the engine's own namespace; the default MUST NOT.
    Under a daemon-wide remap the container also asks ``UsernsMode: host`` where Docker requires it
    (fixtures/idmap.py, host_namespaces)."""
    modes = {k: "host" for k in JOINT.values()} if kind in JOINT else {keyword: "host"}  # PID and IPC: one container
    modes = host_namespaces(engine_facts, **modes)
    own = once(containers, ("host-mode", tool_image, tuple(modes)),
               lambda factory: namespaces(factory, tool_image, **modes))[kind]
    default = once(containers, ("namespaces", tool_image), lambda factory: namespaces(factory, tool_image))[kind]
    assert own == engine_ns(kind), f"{field}=host: {own}, the engine's is {engine_ns(kind)}"
    assert default != engine_ns(kind), f"without {field} the container shares the engine's {kind} namespace"


@pytest.mark.observes("HostConfig.PidMode", "HostConfig.IpcMode", "HostConfig.NetworkMode")
@pytest.mark.parametrize(("kind", "keyword"), [
    ("pid", "pid_mode"),
    pytest.param("ipc", "ipc_mode", marks=pytest.mark.requires_api("HostConfig.IpcMode private/none/shareable")),
    ("net", "network_mode"),
])
def test_container_mode_joins_the_other_containers_namespace(containers: ContainerFactory, tool_image: str,
                                                             join_target: Container, kind: str, keyword: str) -> None:
    """``<Kind>Mode: container:<id>`` MUST join that container's namespace (PID: its processes are seen)."""
    other_ns = containers.exec(join_target, ["readlink", f"/proc/self/ns/{kind}"]).stdout.strip()
    joined = namespaces(containers, tool_image, **{keyword: f"container:{join_target.id}"})[kind]
    assert joined == other_ns
    if kind == "pid":
        ps = containers.run(tool_image, ["sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"],
                            pid_mode=f"container:{join_target.id}")
        assert "sleep 600" in ps.stdout


@pytest.mark.parametrize("keyword", ["pid_mode", "ipc_mode", "network_mode"])
def test_joining_a_missing_container_is_refused(containers: ContainerFactory, tool_image: str, keyword: str) -> None:
    """Joining the namespace of a container that does not exist MUST be refused, naming it."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.run(tool_image, ["true"], **{keyword: "container:conformance-no-such-container"})
    assert "conformance-no-such-container" in str(err.value), str(err.value)


@pytest.mark.observes("HostConfig.IpcMode")
@pytest.mark.requires_api("HostConfig.IpcMode private/none/shareable")
def test_ipc_none_has_no_shm_and_private_is_not_joinable(containers: ContainerFactory, tool_image: str) -> None:
    """``IpcMode: none`` (API 1.32) MUST leave ``/dev/shm`` unmounted; a ``private`` container's IPC
    namespace MUST NOT be joinable."""
    none = containers.run(tool_image, ["sh", "-c", "grep -c ' /dev/shm ' /proc/self/mounts"], ipc_mode="none")
    assert none.stdout.strip() == "0", none.stdout
    private = containers.start(tool_image, ["sleep", "60"], ipc_mode="private")
    with pytest.raises(docker.errors.APIError) as err:
        containers.run(tool_image, ["true"], ipc_mode=f"container:{private.id}")
    assert "shar" in str(err.value).lower() or "private" in str(err.value).lower(), str(err.value)


# Modes that cannot mask one another, set on one container (fixtures/shared.py).
PROBES = {"NetworkMode": Probe("ls /sys/class/net", {"NetworkMode": "none"}),
          "UsernsMode": Probe("cat /proc/self/uid_map", {"UsernsMode": "host"})}


@pytest.mark.observes("HostConfig.NetworkMode")
def test_network_none_leaves_only_loopback(containers: ContainerFactory, tool_image: str) -> None:
    """``NetworkMode: none`` MUST leave the container only the loopback interface."""
    result = batched(containers, tool_image, PROBES, "NetworkMode")
    assert result.stdout.split() == ["lo"], result.output


@pytest.mark.observes("HostConfig.UsernsMode")
@pytest.mark.cis("5.30")
def test_userns_host_keeps_the_engines_own_mapping(containers: ContainerFactory, tool_image: str,
                                                  engine_host: EngineHost, harness: Harness) -> None:
    """``UsernsMode: host`` MUST run the process with the engine's own user ids: its ``uid_map`` is the
    engine process's on its host — the identity for an engine running as root in the host's user
    namespace (a daemon-wide ``--userns-remap`` included: "host" opts out of it, moby
    daemon/oci_linux.go), the engine's own map for a rootless one (Podman's and rootlesskit's
    namespace: ``podman unshare cat /proc/self/uid_map``)."""
    result = batched(containers, tool_image, PROBES, "UsernsMode")
    pid = harness.engine_process(engine_host).pid
    assert parse_ranges(result.stdout) == parse_ranges(engine_host.file(f"/proc/{pid}/uid_map").content_string), \
        result.output


@pytest.mark.observes("HostConfig.CgroupnsMode")
@pytest.mark.requires_api("HostConfig.CgroupnsMode")
def test_cgroupns_private_hides_the_cgroup_path_and_host_shows_it(containers: ContainerFactory,
                                                                  tool_image: str,
                                                                  engine_ns: Callable[[str], str]) -> None:
    """``CgroupnsMode`` (API 1.41): ``private`` MUST give a cgroup namespace rooted at the container's
    cgroup (its own path reads ``/``), ``host`` the engine's namespace."""
    private = containers.run_raw(tool_image, ["sh", "-c", "readlink /proc/self/ns/cgroup; cat /proc/self/cgroup"],
                                 {"CgroupnsMode": "private"})
    host = containers.run_raw(tool_image, ["readlink", "/proc/self/ns/cgroup"], {"CgroupnsMode": "host"})
    lines = private.stdout.splitlines()
    assert lines[0] != engine_ns("cgroup")
    assert all(line.endswith(":/") for line in lines[1:]), private.stdout
    assert host.stdout.strip() == engine_ns("cgroup")


@pytest.mark.requires_api("HostConfig.CgroupnsMode")
def test_unknown_cgroupns_mode_is_refused(containers: ContainerFactory, tool_image: str) -> None:
    """An unknown ``CgroupnsMode`` MUST be refused, naming it."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.run_raw(tool_image, ["true"], {"CgroupnsMode": "conformance-bogus"})
    assert "conformance-bogus" in str(err.value), str(err.value)


def expected_root(engine_facts: EngineFacts, engine_host: EngineHost, harness: Harness) -> tuple[tuple[int, int], str]:
    """The host ids a container's root MUST have, from how the engine is configured: a rootless engine's
    own user (its process on the host), a remapping dockerd's remapped root (its DockerRootDir), else root."""
    if engine_facts.rootless:
        pid = harness.engine_process(engine_host).pid
        return process_ids(engine_host.file(f"/proc/{pid}/status").content_string), "the rootless engine's own user"
    remapped = remapped_root(str(engine_facts.raw_info.get("DockerRootDir", ""))) if engine_facts.userns else None
    if remapped:
        return remapped, f"the remapped root of DockerRootDir={engine_facts.raw_info.get('DockerRootDir')}"
    return (0, 0), "root: the engine runs containers in the host's user namespace"


def test_files_the_containers_root_writes_belong_to_its_host_user(
    containers: ContainerFactory, tool_image: str, host_dir: str, engine_host: EngineHost, harness: Harness,
    engine_facts: EngineFacts, id_map: IdMap,
) -> None:
    """A file the container's root writes to a bind MUST belong, on the host, to the user the engine maps
    the container's root to (user_namespaces(7)): the rootless engine's own user (Podman's rootless
    mode, dockerd-rootless), ``--userns-remap``'s subordinate root (moby PR 12648), root otherwise; and
    the container's own uid_map MUST say so."""
    (uid, gid), who = expected_root(engine_facts, engine_host, harness)
    result = containers.run(tool_image, ["sh", "-c", "id -u; echo x > /b/by-root"], volumes=[f"{host_dir}:/b"])
    assert (result.exit_code, result.stdout.split()) == (0, ["0"]), result.output
    owner = engine_host.check_output("stat -c '%%u %%g' %s", f"{host_dir}/by-root").split()
    assert [int(o) for o in owner] == [uid, gid], f"expected {who} ({uid}:{gid}); id map {id_map.describe()}"
    assert (id_map.host_uid(0), id_map.host_gid(0)) == (uid, gid), id_map.describe()


def test_the_containers_root_cannot_read_what_its_host_user_cannot(
    containers: ContainerFactory, tool_image: str, host_dir: str, engine_host: EngineHost, harness: Harness,
    engine_facts: EngineFacts,
) -> None:
    """Where the container's root is an unprivileged user on the host (rootless, remapped), a host file
    only the host's root may read (0600 root:root) MUST stay unreadable to it inside (EACCES: its
    capabilities hold in its own user namespace only); where it is the host's root it reads it."""
    (uid, _), who = expected_root(engine_facts, engine_host, harness)
    engine_host.run_expect([0], "echo secret > %s && chown 0:0 %s && chmod 0600 %s",
                           *[f"{host_dir}/root-only"] * 3)
    result = containers.run(tool_image, ["cat", "/b/root-only"], volumes=[f"{host_dir}:/b"])
    if uid == 0:
        assert (result.exit_code, result.stdout) == (0, "secret\n"), f"{who}: {result.output}"
    else:
        assert result.exit_code != 0 and "permission denied" in result.stderr.lower(), f"{who}: {result.output}"
