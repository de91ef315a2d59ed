"""The create contract, resources (marker ``core-resources``): every resource field of
``HostConfig`` MUST become the limit of the container's own cgroup, read from inside the
container (``/sys/fs/cgroup``: cgroup v1 file, or its v2 counterpart) or from ``/proc/self``.

Source: the Engine API's HostConfig (Resources) schema; moby's integration tests
(integration/container/run_linux_test.go, update_linux_test.go) observe the same files. A value
the kernel cannot hold is refused at create or start, never dropped: each group has its refusal.
An engine that has no cgroup of that controller to put its containers in (rootless on cgroup v1,
or a v2 subtree without it delegated: fixtures/capabilities.py, ``cgroup-*``) makes that group
not applicable, naming what it detected.
These are engine mechanics: they run once per engine, on the busybox tool image. The limits that
cannot mask one another are set together on one container (``PROBES``: fixtures/shared.py), each
test reading its own file; where the engine refuses that container, each runs alone.
"""

from __future__ import annotations

import uuid
from typing import Any

import docker.errors
import pytest

from fixtures.containers import ContainerFactory, RunResult
from fixtures.engine import EngineFacts
from fixtures.engine_host import EngineHost
from fixtures.harness import feature
from fixtures.shared import Probe, batched, once
from fixtures.shell_probes import cgroup_file

pytestmark = feature("core-resources")

MiB = 1024 * 1024


def read(containers: ContainerFactory, image: str, script: str, **kwargs: Any) -> RunResult:
    result = containers.run(image, ["sh", "-c", script], **kwargs)
    assert result.exit_code == 0, f"probe failed: {result.stderr}"
    return result


CFS = ("cat /sys/fs/cgroup/cpu.max 2>/dev/null || "
       "echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)")
THROTTLES = {"BlkioDeviceReadBps": ("blkio.throttle.read_bps_device", "rbps", 1048576),
             "BlkioDeviceWriteBps": ("blkio.throttle.write_bps_device", "wbps", 1048576),
             "BlkioDeviceReadIOps": ("blkio.throttle.read_iops_device", "riops", 333),
             "BlkioDeviceWriteIOps": ("blkio.throttle.write_iops_device", "wiops", 333)}
PROBES = {
    "CpuShares": Probe(cgroup_file("cpu", "cpu.shares", "cpu.weight"), {"CpuShares": 512}),
    "CpuQuota": Probe(CFS, {"CpuPeriod": 50000, "CpuQuota": 25000}),
    "CpusetCpus": Probe("grep Cpus_allowed_list /proc/self/status", {"CpusetCpus": "0"}),
    "CpusetMems": Probe("grep Mems_allowed_list /proc/self/status", {"CpusetMems": "0"}),
    "MemoryReservation": Probe(cgroup_file("memory", "memory.soft_limit_in_bytes", "memory.low"),
                               {"Memory": 64 * MiB, "MemoryReservation": 48 * MiB}),
    "MemorySwap": Probe("if [ -f /sys/fs/cgroup/memory.swap.max ]; then echo v2 $(cat /sys/fs/cgroup/memory.swap.max); "
                        "elif [ -f /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes ]; then "
                        "echo v1 $(cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes); else echo none; fi",
                        {"Memory": 64 * MiB, "MemorySwap": 96 * MiB}),
    "MemorySwappiness": Probe("cat /sys/fs/cgroup/memory/memory.swappiness 2>/dev/null || echo none",
                              {"MemorySwappiness": 17}),
    "OomKillDisable": Probe("cat /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null || echo none",
                            {"Memory": 64 * MiB, "OomKillDisable": True}),
    # nproc far above what root runs on a host (so the batch can fork), below the engines' own hard limits
    "Ulimits": Probe("cat /proc/self/limits", {"Ulimits": [{"Name": "nofile", "Soft": 1234, "Hard": 2345},
                                                           {"Name": "nproc", "Soft": 7777, "Hard": 8888}]}),
    "OomScoreAdj": Probe("cat /proc/self/oom_score_adj", {"OomScoreAdj": 345}),
    "ShmSize": Probe("grep ' /dev/shm ' /proc/self/mounts", {"ShmSize": 48 * MiB}),
    "BlkioWeight": Probe("for f in /sys/fs/cgroup/blkio/blkio.weight /sys/fs/cgroup/blkio/blkio.bfq.weight "
                         "/sys/fs/cgroup/io.weight /sys/fs/cgroup/io.bfq.weight; do [ -f $f ] && echo $f $(cat $f) "
                         "&& break; done; true", {"BlkioWeight": 321}),
}


def probed(containers: ContainerFactory, image: str, name: str) -> str:
    """What probe ``name`` read, from the module's shared container (with the throttles on the host's
    disk, when it has one); the probe's shell must have succeeded."""
    probes = dict(PROBES)
    disk = block_device(containers, image)
    if disk is not None:
        probes.update({field: Probe(f"cat /sys/fs/cgroup/io.max 2>/dev/null || cat /sys/fs/cgroup/blkio/{v1}",
                                    {field: [{"Path": disk[0], "Rate": rate}]})
                       for field, (v1, _, rate) in THROTTLES.items()})
    result = batched(containers, image, probes, name)
    assert result.exit_code == 0, f"probe failed: {result.output}"
    return result.stdout


def raw(containers: ContainerFactory, image: str, script: str, host_config: dict[str, Any]) -> RunResult:
    result = containers.run_raw(image, ["sh", "-c", script], host_config)
    assert result.exit_code == 0, f"probe failed: {result.stderr}"
    return result


@pytest.mark.observes("HostConfig.CpuShares")
@pytest.mark.requires("cgroup-cpu")
def test_cpu_shares_become_the_cgroup_weight(containers: ContainerFactory, tool_image: str) -> None:
    """``CpuShares`` MUST become ``cpu.shares`` (v1) or the weight it maps to (v2)."""
    out = probed(containers, tool_image, "CpuShares")
    assert out.strip() in ("512", "20"), out  # v2: 1 + ((512 - 2) * 9999) / 262142 = 20


@pytest.mark.observes("HostConfig.CpuPeriod", "HostConfig.CpuQuota")
@pytest.mark.requires("cgroup-cpu")
def test_cpu_period_and_quota_become_the_cfs_bandwidth(containers: ContainerFactory, tool_image: str) -> None:
    """``CpuPeriod``/``CpuQuota`` MUST become the CFS period and quota of the cgroup."""
    out = probed(containers, tool_image, "CpuQuota")
    assert out.split() == ["25000", "50000"]


@pytest.mark.observes("HostConfig.NanoCpus")
@pytest.mark.requires_api("HostConfig.NanoCpus")
@pytest.mark.requires("cgroup-cpu")
def test_nano_cpus_become_a_quota_of_the_default_period(containers: ContainerFactory, tool_image: str) -> None:
    """``NanoCpus`` (API 1.25) MUST become a quota: 0.5 CPU = 50000 per 100000 µs."""
    out = read(containers, tool_image, CFS, nano_cpus=500_000_000).stdout
    assert out.split() == ["50000", "100000"]


@pytest.mark.requires_api("HostConfig.NanoCpus")
def test_nano_cpus_with_a_quota_is_refused(containers: ContainerFactory, tool_image: str) -> None:
    """``NanoCpus`` together with ``CpuQuota`` MUST be refused (they conflict), naming both."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.create(tool_image, ["true"], nano_cpus=500_000_000, cpu_quota=25000)
    text = str(err.value).lower()
    assert "nanocpus" in text.replace(" ", "") or "cpu" in text, text


@pytest.mark.observes("HostConfig.CpusetCpus")
@pytest.mark.requires("cgroup-cpuset")
def test_cpuset_cpus_restrict_the_process(containers: ContainerFactory, tool_image: str) -> None:
    """``CpusetCpus`` MUST restrict where the process may run: ``Cpus_allowed_list`` of the process."""
    out = probed(containers, tool_image, "CpusetCpus")
    assert out.split() == ["Cpus_allowed_list:", "0"]


@pytest.mark.observes("HostConfig.CpusetMems")
@pytest.mark.requires("cgroup-cpuset")
def test_cpuset_mems_restrict_the_memory_nodes(containers: ContainerFactory, tool_image: str) -> None:
    """``CpusetMems`` MUST restrict the memory nodes (``Mems_allowed_list``); a node the machine
    lacks MUST be refused."""
    out = probed(containers, tool_image, "CpusetMems")
    assert out.split() == ["Mems_allowed_list:", "0"]
    with pytest.raises(docker.errors.APIError) as err:
        containers.run(tool_image, ["true"], cpuset_mems="63")
    assert "63" in str(err.value) or "memory nodes" in str(err.value).lower(), str(err.value)


@pytest.mark.observes("HostConfig.MemoryReservation")
@pytest.mark.requires("cgroup-memory")
def test_memory_reservation_becomes_the_soft_limit(containers: ContainerFactory, tool_image: str) -> None:
    """``MemoryReservation`` MUST become the soft limit (``memory.soft_limit_in_bytes`` / ``memory.low``)."""
    out = probed(containers, tool_image, "MemoryReservation")
    assert int(out) == 48 * MiB


@pytest.mark.observes("HostConfig.MemorySwap")
@pytest.mark.requires("cgroup-memory")
def test_memory_swap_becomes_the_memory_plus_swap_limit(containers: ContainerFactory, tool_image: str) -> None:
    """``MemorySwap`` (memory + swap) MUST become ``memory.memsw.limit_in_bytes`` (v2: swap.max = the
    difference). Not applicable where the kernel does no swap accounting (detected)."""
    out = probed(containers, tool_image, "MemorySwap").split()
    if out == ["none"]:
        pytest.skip("not applicable: the kernel does no swap accounting (no memory.memsw / memory.swap.max)")
    assert out == ["v1", str(96 * MiB)] or out == ["v2", str(32 * MiB)]


@pytest.mark.requires("cgroup-memory")
def test_memory_swap_below_memory_is_refused(containers: ContainerFactory, tool_image: str) -> None:
    """A ``MemorySwap`` smaller than ``Memory`` MUST be refused: memory + swap cannot be less than memory."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.run(tool_image, ["true"], mem_limit=64 * MiB, memswap_limit=32 * MiB)
    assert "swap" in str(err.value).lower(), str(err.value)


@pytest.mark.observes("HostConfig.MemorySwappiness")
@pytest.mark.requires("cgroup-memory")
def test_memory_swappiness_becomes_the_cgroup_swappiness(containers: ContainerFactory, tool_image: str) -> None:
    """``MemorySwappiness`` MUST become ``memory.swappiness`` (cgroup v1 only: v2 has none, detected)."""
    out = probed(containers, tool_image, "MemorySwappiness").strip()
    if out == "none":
        pytest.skip("not applicable: cgroup v2 has no per-cgroup swappiness (no memory.swappiness)")
    assert out == "17"


@pytest.mark.requires("cgroup-memory")
def test_memory_swappiness_out_of_range_is_refused(containers: ContainerFactory, tool_image: str) -> None:
    """A swappiness outside 0..100 MUST be refused."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.run(tool_image, ["true"], mem_swappiness=101)
    assert "101" in str(err.value) or "swappiness" in str(err.value).lower(), str(err.value)


@pytest.mark.observes("HostConfig.OomKillDisable")
@pytest.mark.requires("cgroup-memory")
def test_oom_kill_disable_reaches_the_cgroup(containers: ContainerFactory, tool_image: str) -> None:
    """``OomKillDisable`` MUST set ``oom_kill_disable 1`` in ``memory.oom_control`` (cgroup v1; v2 has
    no such switch, detected)."""
    out = probed(containers, tool_image, "OomKillDisable")
    if out.strip() == "none":
        pytest.skip("not applicable: cgroup v2 has no OOM-killer switch (no memory.oom_control)")
    assert "oom_kill_disable 1" in out.splitlines()


@pytest.mark.observes("HostConfig.KernelMemoryTCP")
@pytest.mark.requires_api("HostConfig.KernelMemoryTCP")
@pytest.mark.requires("cgroup-memory")
def test_kernel_memory_tcp_becomes_the_tcp_buffer_limit(containers: ContainerFactory, tool_image: str) -> None:
    """``KernelMemoryTCP`` (API 1.40) MUST become ``memory.kmem.tcp.limit_in_bytes`` (cgroup v1)."""
    script = "cat /sys/fs/cgroup/memory/memory.kmem.tcp.limit_in_bytes 2>/dev/null || echo none"
    out = raw(containers, tool_image, script, {"KernelMemoryTCP": 32 * MiB}).stdout.strip()
    if out == "none":
        pytest.skip("not applicable: no memory.kmem.tcp.limit_in_bytes (cgroup v2 or a kernel without kmem)")
    assert int(out) == 32 * MiB


@pytest.mark.observes("HostConfig.PidsLimit")
@pytest.mark.requires("cgroup-pids")
@pytest.mark.cis("5.28")
def test_pids_limit_becomes_pids_max_and_is_enforced(containers: ContainerFactory, tool_image: str) -> None:
    """``PidsLimit`` MUST become ``pids.max`` and stop the container's processes from forking past it.
    The limit leaves the runtime room: runc's init (a Go program's threads) is in the cgroup while it
    starts the process, and at 5 Podman's start failed now and then ("runc start ... exit status 1")."""
    script = (cgroup_file("pids", "pids.max", "pids.max")
              + "; for i in $(seq 1 24); do sleep 5 & done 2>&1; wait")
    result = containers.run(tool_image, ["sh", "-c", script], pids_limit=16)
    assert result.stdout.splitlines()[0] == "16"
    assert "fork" in result.output.lower() or "resource temporarily unavailable" in result.output.lower(), \
        result.output


@pytest.mark.observes("HostConfig.Ulimits")
@pytest.mark.cis("5.18")
def test_ulimits_set_the_soft_and_hard_limits(containers: ContainerFactory, tool_image: str) -> None:
    """``Ulimits`` MUST set the process's soft and hard limits (``/proc/self/limits``)."""
    out = probed(containers, tool_image, "Ulimits")
    limits = {line[:26].strip(): line[26:].split()[:2] for line in out.splitlines()[1:]}
    assert limits["Max open files"] == ["1234", "2345"]
    assert limits["Max processes"] == ["7777", "8888"]


def test_unknown_ulimit_is_refused(containers: ContainerFactory, tool_image: str) -> None:
    """An unknown ulimit name MUST be refused, naming it."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.run(tool_image, ["true"], ulimits=[docker.types.Ulimit(name="nosuchlimit", soft=1, hard=1)])
    assert "nosuchlimit" in str(err.value).lower(), str(err.value)


@pytest.mark.observes("HostConfig.OomScoreAdj")
def test_oom_score_adj_reaches_the_process(containers: ContainerFactory, tool_image: str) -> None:
    """``OomScoreAdj`` MUST set the process's ``/proc/self/oom_score_adj``; outside -1000..1000 refused."""
    assert probed(containers, tool_image, "OomScoreAdj").strip() == "345"
    with pytest.raises(docker.errors.APIError):
        containers.run(tool_image, ["true"], oom_score_adj=1001)


@pytest.mark.observes("HostConfig.ShmSize")
def test_shm_size_sizes_dev_shm(containers: ContainerFactory, tool_image: str) -> None:
    """``ShmSize`` MUST be the size of the container's ``/dev/shm`` tmpfs."""
    out = probed(containers, tool_image, "ShmSize")
    assert "size=49152k" in out.split()[3].split(","), out


def block_device(containers: ContainerFactory, image: str) -> tuple[str, str] | None:
    """A real disk of the engine host (not loop, ram, zram, dm): its /dev path and major:minor."""
    script = ("for d in /sys/block/*; do n=${d##*/}; case $n in loop*|ram*|zram*|dm-*|nbd*|sr*) continue;; esac; "
              "echo $n $(cat $d/dev); break; done")
    out = once(containers, ("block-device", image), lambda factory: read(factory, image, script).stdout.split())
    return (f"/dev/{out[0]}", out[1]) if len(out) == 2 else None


@pytest.mark.parametrize("field", list(THROTTLES))
@pytest.mark.observes("HostConfig.BlkioDeviceReadBps", "HostConfig.BlkioDeviceWriteBps",
                      "HostConfig.BlkioDeviceReadIOps", "HostConfig.BlkioDeviceWriteIOps")
@pytest.mark.requires("cgroup-blkio")
def test_block_io_throttles_reach_the_cgroup(containers: ContainerFactory, tool_image: str, field: str) -> None:
    """Each ``BlkioDevice*`` throttle MUST appear for that device in the cgroup (v1
    ``blkio.throttle.*_device``, v2 ``io.max``)."""
    disk = block_device(containers, tool_image)
    if disk is None:
        pytest.skip("not applicable: the engine host shows no disk in /sys/block to throttle")
    _, v2_key, rate = THROTTLES[field]
    out = probed(containers, tool_image, field)
    assert f"{disk[1]} {rate}" in out.splitlines() or f"{v2_key}={rate}" in out, out


def test_block_io_throttle_of_a_missing_device_is_refused(containers: ContainerFactory, tool_image: str) -> None:
    """A throttle on a device path that does not exist on the engine host MUST be refused, naming it."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.run_raw(tool_image, ["true"],
                           {"BlkioDeviceReadBps": [{"Path": "/dev/conformance-no-disk", "Rate": 1048576}]})
    assert "conformance-no-disk" in str(err.value), str(err.value)


@pytest.mark.observes("HostConfig.BlkioWeight", "HostConfig.BlkioWeightDevice")
@pytest.mark.requires("cgroup-blkio")
def test_blkio_weight_reaches_the_cgroup(containers: ContainerFactory, tool_image: str) -> None:
    """``BlkioWeight`` MUST become the cgroup's I/O weight. Not applicable where the kernel's I/O
    scheduler offers no weight file (detected: no blkio.weight, blkio.bfq.weight or io.weight)."""
    out = probed(containers, tool_image, "BlkioWeight").split()
    if not out:
        pytest.skip("not applicable: the kernel offers no I/O weight (no blkio.weight, blkio.bfq.weight, "
                    "io.weight or io.bfq.weight in the container's cgroup)")
    assert "321" in out[1:], f"{out[0]}: {' '.join(out[1:])}"


@pytest.mark.observes("HostConfig.CgroupParent")
@pytest.mark.requires("cgroups")
def test_cgroup_parent_places_the_container_below_it(containers: ContainerFactory, tool_image: str,
                                                     engine_facts: EngineFacts, engine_host: EngineHost) -> None:
    """``CgroupParent`` MUST place the container's cgroup below that parent, as the engine host sees
    it (``/proc/<pid>/cgroup``): a path with cgroupfs, a slice with the systemd driver."""
    name = f"conformance-parent-{uuid.uuid4().hex[:8]}"
    systemd = engine_facts.cgroup_driver == "systemd"
    parent = f"{name}.slice" if systemd else f"/{name}"
    container = containers.start(tool_image, ["sleep", "60"], cgroup_parent=parent)
    try:
        lines = engine_host.file(f"/proc/{container.attrs['State']['Pid']}/cgroup").content_string
        memory = next(line for line in lines.splitlines() if line.split(":")[1] in ("memory", ""))
        assert (f"/{name}.slice/" if systemd else f":/{name}/") in memory, lines
    finally:
        container.remove(force=True)
        if systemd:
            engine_host.run("systemctl stop %s", f"{name}.slice")
        else:
            engine_host.run(f"for d in /sys/fs/cgroup/*/{name} /sys/fs/cgroup/{name}; do "
                            "[ -d $d ] && find $d -depth -type d -exec rmdir {} +; done; true")
