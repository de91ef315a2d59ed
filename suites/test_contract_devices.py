"""The create contract, devices (marker ``core-devices``): ``Devices`` MUST make a host device
appear at the path asked, with the permissions asked; ``DeviceCgroupRules`` MUST let the process
open a device node it creates itself; ``Privileged`` MUST give every capability and the host's
devices — each observed by opening the device inside the container.

Source: the Engine API's HostConfig (Devices, DeviceCgroupRules since API 1.28, Privileged);
moby's integration/container/devices_windows_test.go / cli tests for --device. Engine mechanics:
once per engine, on the busybox tool image.
"""

from __future__ import annotations

from typing import Any

import docker.errors
import pytest

from fixtures.containers import ContainerFactory
from fixtures.engine import EngineFacts
from fixtures.engine_host import EngineHost
from fixtures.harness import Harness, feature
from fixtures.idmap import IdMap, host_namespaces
from fixtures.shell_probes import cap_set

pytestmark = feature("core-devices")


@pytest.mark.observes("HostConfig.Devices")
def test_device_appears_at_its_path_and_can_be_read(containers: ContainerFactory, tool_image: str) -> None:
    """A ``Devices`` entry MUST create the node at ``PathInContainer`` (the host device's major:minor,
    here /dev/zero 1:5) that the process can read."""
    script = "stat -c '%t:%T' /dev/conformance-zero; head -c 4 /dev/conformance-zero | od -An -tx1"
    result = containers.run(tool_image, ["sh", "-c", script],
                            devices=["/dev/zero:/dev/conformance-zero:rwm"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == ["1:5", "00", "00", "00", "00"]


@pytest.mark.observes("HostConfig.Devices")
def test_device_appears_at_its_host_path(containers: ContainerFactory, tool_image: str,
                                         engine_host: EngineHost) -> None:
    """A ``Devices`` entry without ``PathInContainer`` MUST create the node at the host path with the host
    device's major:minor (/dev/loop-control, in no default device list). Apart from the renamed node
    above: runc 1.1 in a user namespace bind-mounts a device from the host path of its container path."""
    host = engine_host.run("stat -c '%t:%T' /dev/loop-control")
    if host.rc != 0:
        pytest.skip(f"not applicable: the engine host has no /dev/loop-control ({host.stderr.strip()})")
    result = containers.run(tool_image, ["stat", "-c", "%t:%T", "/dev/loop-control"], devices=["/dev/loop-control"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == host.stdout.strip()


@pytest.mark.observes("HostConfig.Devices")
@pytest.mark.cis("5.17")
def test_device_permissions_refuse_writes_when_read_only(containers: ContainerFactory, tool_image: str,
                                                         engine_host: EngineHost, id_map: IdMap) -> None:
    """A device with permissions ``r`` MUST be openable for reading only: opening it for writing is
    refused by the device cgroup (EPERM), where ``rw`` lets the open through to the driver
    (/dev/loop-control 10:237, not in any default device list, then refuses the write itself: EINVAL).
    Not applicable where the container's root is an ordinary user of the host (rootless, remapped) who
    may not open that node there (its mode and owner on the engine host, detected)."""
    unusable = unopenable(engine_host, "/dev/loop-control", id_map)
    if unusable:
        pytest.skip(f"not applicable: {unusable}")
    script = "true </dev/conformance-lc && echo read-ok; echo x >/dev/conformance-lc"
    read_only = containers.run(tool_image, ["sh", "-c", script], devices=["/dev/loop-control:/dev/conformance-lc:r"])
    read_write = containers.run(tool_image, ["sh", "-c", script], devices=["/dev/loop-control:/dev/conformance-lc:rw"])
    assert "read-ok" in read_only.stdout, read_only.stderr
    assert "not permitted" in read_only.stderr.lower(), read_only.stderr
    assert "invalid argument" in read_write.stderr.lower(), read_write.stderr


def test_missing_host_device_is_refused(containers: ContainerFactory, tool_image: str) -> None:
    """A ``Devices`` entry for a host path that does not exist MUST be refused, naming it."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.run(tool_image, ["true"], devices=["/dev/conformance-no-such-device:/dev/x:rwm"])
    assert "conformance-no-such-device" in str(err.value), str(err.value)


@pytest.mark.observes("HostConfig.DeviceCgroupRules")
@pytest.mark.requires_api("HostConfig.DeviceCgroupRules")
def test_device_cgroup_rule_allows_a_node_the_container_makes(containers: ContainerFactory, tool_image: str,
                                                              id_map: IdMap) -> None:
    """``DeviceCgroupRules`` (API 1.28) MUST allow what the rule names: a block node the process
    makes itself (``mknod b 7 0``, a loop device, in no default list) cannot be opened without the
    rule (EPERM) and opens with ``b 7:0 rwm``. Not applicable where the containers run in a user
    namespace of their own (detected: their uid_map), where no process may make a device node
    (mknod(2) needs CAP_MKNOD in the host's user namespace, user_namespaces(7))."""
    if not id_map.identity:
        pytest.skip(f"not applicable: the containers' user namespace is not the host's ({id_map.describe()}): "
                    "mknod of a device node is refused there whatever the cgroup allows")
    script = "mknod /tmp/conformance-loop b 7 0 && (head -c 1 /tmp/conformance-loop >/dev/null; echo rc=$?)"
    denied = containers.run(tool_image, ["sh", "-c", script])
    allowed = containers.run(tool_image, ["sh", "-c", script], device_cgroup_rules=["b 7:0 rwm"])
    assert "rc=1" in denied.stdout and "not permitted" in denied.stderr.lower(), denied.output
    assert "rc=0" in allowed.stdout, allowed.output


@pytest.mark.requires_api("HostConfig.DeviceCgroupRules")
def test_malformed_device_cgroup_rule_is_refused(containers: ContainerFactory, tool_image: str) -> None:
    """A malformed device cgroup rule MUST be refused."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.run(tool_image, ["true"], device_cgroup_rules=["conformance bogus rule"])
    assert "rule" in str(err.value).lower() or "invalid" in str(err.value).lower(), str(err.value)


def unopenable(engine_host: EngineHost, device: str, id_map: IdMap) -> str | None:
    """Why the containers' root, as the host ids it maps to, may not open ``device`` on the engine host
    for reading and writing (None: it may, or it is the host's root)."""
    uid, gid = id_map.host_uid(0), id_map.host_gid(0)
    if uid == 0:
        return None
    mode, owner, group = engine_host.check_output("stat -c '%%a %%u %%g' %s", device).split()
    bits = int(mode, 8)
    allowed = (bits >> 6 if int(owner) == uid else bits >> 3 if int(group) == gid else bits) & 0o6 == 0o6
    return None if allowed else (f"the containers' root is uid {uid}:{gid} on the engine host, where {device} is "
                                 f"{mode} {owner}:{group}: a device node is the host's, which that user cannot open")


@pytest.mark.observes("HostConfig.Privileged")
@pytest.mark.cis("5.4")
def test_privileged_gives_every_capability_and_the_hosts_devices(containers: ContainerFactory, tool_image: str,
                                                                 engine_host: EngineHost, harness: Harness,
                                                                 engine_facts: EngineFacts, id_map: IdMap,
                                                                 record_property: Any) -> None:
    """``Privileged`` MUST give the full bounding set as effective capabilities, the host's devices
    (/dev/kmsg) and a writable /sys; an unprivileged container has none of them. Not applicable
    when the engine itself runs without some capability the kernel has (its process's CapBnd on the
    engine host), since no engine can then give them. Where the containers' root is an ordinary user
    of the host (rootless), the host's devices are the ones that user may open: /dev/kmsg is checked
    only where it may (the rest still holds in the container's user namespace)."""
    status = engine_host.file(f"/proc/{harness.engine_process(engine_host).pid}/status").content_string
    last_cap = int(engine_host.file("/proc/sys/kernel/cap_last_cap").content_string)
    if cap_set(status, "CapBnd") != (1 << (last_cap + 1)) - 1:
        pytest.skip(f"not applicable: the engine runs without some capabilities (CapBnd "
                    f"{cap_set(status, 'CapBnd'):#x}, the kernel has {last_cap + 1}): a privileged container "
                    "cannot have them all")
    script = "cat /proc/self/status; ls /dev; grep ' /sys ' /proc/self/mounts"
    privileged = containers.run(tool_image, ["sh", "-c", script], **host_namespaces(engine_facts, privileged=True))
    plain = containers.run(tool_image, ["sh", "-c", script])
    assert cap_set(privileged.stdout) == cap_set(privileged.stdout, "CapBnd")
    assert cap_set(privileged.stdout) > cap_set(plain.stdout)
    unusable = unopenable(engine_host, "/dev/kmsg", id_map)
    if unusable is None:
        assert "kmsg" in privileged.stdout.split() and "kmsg" not in plain.stdout.split()
    else:
        record_property("host_devices", f"not applicable: {unusable}")
    sys_line = [line for line in privileged.stdout.splitlines() if " /sys " in line][-1]
    assert "rw" in sys_line.split()[3].split(","), sys_line
