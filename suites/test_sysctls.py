"""Feature ``sysctls``: namespaced kernel parameters per container (docker PR 19265).

``HostConfig.Sysctls`` MUST set namespaced sysctls inside the container only: the value is what
the container's /proc/sys shows, inspect round-trips it, and the host keeps its own value. Keys
that would reach the host (net.* with the host network, IPC keys with the host IPC namespace,
non-namespaced keys, kernel.hostname which conflicts with the hostname field) MUST be refused —
at create (Podman) or at start (Docker, by runc) — and a refused container MUST NOT be running.
"""

from __future__ import annotations

from typing import Any

import docker.errors
import pytest

from fixtures.containers import ContainerFactory
from fixtures.engine import EngineFacts
from fixtures.engine_host import EngineHost
from fixtures.harness import feature
from fixtures.idmap import host_namespaces
from fixtures.shared import Probe, batched

pytestmark = [feature("sysctls"), pytest.mark.observes("HostConfig.Sysctls")]

NAMESPACED = [
    pytest.param("net.core.somaxconn", "1234", id="net.core.somaxconn"),
    pytest.param("net.ipv4.ip_forward", "0", id="net.ipv4.ip_forward"),
    pytest.param("kernel.shmmax", "123456789", id="kernel.shmmax"),
    pytest.param("kernel.msgmax", "12345", id="kernel.msgmax"),
    pytest.param("kernel.sem", "251 32001 33 129", id="kernel.sem"),
    pytest.param("fs.mqueue.msg_max", "42", id="fs.mqueue.msg_max"),
]


def proc_path(key: str) -> str:
    return "/proc/sys/" + key.replace(".", "/")


@pytest.mark.parametrize(("key", "value"), NAMESPACED)
def test_sysctl_value_reaches_the_container(
    containers: ContainerFactory, base_image: str, engine_host: EngineHost, key: str, value: str
) -> None:
    """A namespaced sysctl MUST show its value in the container and leave the host's untouched."""
    host_before = engine_host.file(proc_path(key)).content_string.split()
    probes = {str(p.values[0]): Probe(f"cat {proc_path(str(p.values[0]))}", {"Sysctls": {p.values[0]: p.values[1]}})
              for p in NAMESPACED}  # one container sets them all; each test reads its own key
    result = batched(containers, base_image, probes, key)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == value.split()
    assert engine_host.file(proc_path(key)).content_string.split() == host_before


@pytest.mark.parametrize(("key", "value"), NAMESPACED[:1] + NAMESPACED[4:5])
def test_sysctls_round_trip_in_inspect(containers: ContainerFactory, base_image: str, key: str, value: str) -> None:
    """Inspect MUST report ``HostConfig.Sysctls`` exactly as given."""
    container = containers.create(base_image, ["true"], sysctls={key: value})
    container.reload()
    assert container.attrs["HostConfig"]["Sysctls"] == {key: value}


def test_several_sysctls_apply_together(containers: ContainerFactory, base_image: str) -> None:
    """Several keys from different namespaces (net, ipc, mqueue) MUST all apply in one container."""
    sysctls = {"net.core.somaxconn": "1111", "kernel.msgmnb": "22222", "fs.mqueue.queues_max": "77"}
    script = "; ".join(f"cat {proc_path(k)}" for k in sysctls)
    result = containers.run(base_image, ["sh", "-c", script], sysctls=sysctls)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == list(sysctls.values())


REFUSED = [
    pytest.param({"net.core.somaxconn": "1234"}, {"network_mode": "host"}, id="net-with-host-network"),
    pytest.param({"kernel.shmmax": "123456789"}, {"ipc_mode": "host"}, id="shm-with-host-ipc"),
    pytest.param({"kernel.msgmax": "12345"}, {"ipc_mode": "host"}, id="msg-with-host-ipc"),
    pytest.param({"fs.mqueue.msg_max": "42"}, {"ipc_mode": "host"}, id="mqueue-with-host-ipc"),
    pytest.param({"kernel.foobar": "1"}, {}, id="unknown-kernel-key"),
    pytest.param({"vm.swappiness": "1"}, {}, id="non-namespaced-vm"),
    pytest.param({"kernel.hostname": "x"}, {}, id="kernel.hostname"),
]
# The refusals' wordings, as engines write them: runc and Moby ("not allowed", "not in a separate kernel
# namespace"), Podman ("can't be set", "conflicts"), and crun 1.28 under Podman 5.8 at start ("the sysctl
# `kernel.shmmax` requires a new IPC namespace: OCI runtime error", observed on Podman 5.8.6).
STABLE_REFUSALS = ("not allowed", "can't be set", "not in a separate kernel namespace", "conflicts",
                   "requires a new")


@pytest.mark.parametrize(("sysctls", "options"), REFUSED)
def test_sysctl_that_would_reach_the_host_is_refused(
    containers: ContainerFactory, base_image: str, engine_host: EngineHost, sysctls: dict[str, str],
    options: dict[str, Any], record_property: Any, engine_facts: EngineFacts,
) -> None:
    """A sysctl outside the container's own namespaces MUST be refused, naming the key, with the host
    value unchanged and no container left running (under a daemon-wide remap the host-network case asks
    ``UsernsMode: host`` too, as Docker requires: fixtures/idmap.py)."""
    key = next(iter(sysctls))
    path = proc_path(key)
    host_before = engine_host.file(path).content_string if engine_host.file(path).exists else None
    phase = "create"
    with pytest.raises(docker.errors.APIError) as err:
        container = containers.create(base_image, ["sleep", "60"], sysctls=sysctls,
                                      **host_namespaces(engine_facts, **options))
        phase = "start"
        container.start()
    message = str(err.value.explanation)
    record_property("refused_at", phase)  # reported per engine: Docker refuses at start (runc), Podman at create
    record_property("refusal", f"{err.value.status_code} {message[:200]}")
    assert key in message, f"refused at {phase} without naming {key}: {message}"
    assert any(s in message for s in STABLE_REFUSALS), f"refused at {phase}: {message}"
    for made in containers.created:
        made.reload()
        assert made.attrs["State"]["Running"] is False
    if host_before is not None:
        assert engine_host.file(path).content_string == host_before


def test_sysctl_value_the_kernel_rejects_does_not_run(containers: ContainerFactory, base_image: str) -> None:
    """A namespaced key with a value the kernel refuses MUST NOT yield a running container."""
    with pytest.raises(docker.errors.APIError) as err:
        container = containers.create(base_image, ["sleep", "60"], sysctls={"net.core.somaxconn": "not-a-number"})
        container.start()
    assert "somaxconn" in str(err.value.explanation) or "invalid argument" in str(err.value.explanation)
    for made in containers.created:
        made.reload()
        assert made.attrs["State"]["Running"] is False
