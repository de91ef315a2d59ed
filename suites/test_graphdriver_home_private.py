"""Feature ``graphdriver-home-private``: the storage driver's home is a private mount (docker PR 22069).

Red Hat's daemon made its graph driver home (e.g. /var/lib/docker/overlay) a mount point of its
own with private propagation, so that container rootfs mounts under it do not propagate into
other mount namespaces (and keep them busy). Moby dropped that in 18.03 and makes the daemon
root shared instead; Podman's storage (containers/storage) still makes its driver home private.
Observed on the engine host in the engine process's own mount namespace (/proc/<pid>/mountinfo):
the home is a mount point, and it carries no shared: peer group. The propagation each engine
uses is recorded per engine.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from fixtures.engine import EngineFacts
from fixtures.engine_host import EngineHost
from fixtures.harness import Harness, feature
from fixtures.hostside import Mount, mountinfo

pytestmark = feature("graphdriver-home-private")

# Storage drivers whose home is <root>/<name> (Podman's "overlay" is containers/storage's).
HOMES = {"overlay2": "overlay2", "overlay": "overlay", "btrfs": "btrfs", "vfs": "vfs", "aufs": "aufs",
         "devicemapper": "devicemapper", "zfs": "zfs"}


@pytest.fixture(scope="module")
def storage_home(engine_facts: EngineFacts) -> str:
    driver, root = engine_facts.storage_driver, str(engine_facts.raw_info.get("DockerRootDir") or "")
    status = dict((str(k), str(v)) for k, v in engine_facts.raw_info.get("DriverStatus") or [])
    if "io.containerd.snapshotter" in status.get("driver-type", ""):
        pytest.skip(f"not applicable: images are stored by containerd's snapshotter, not a graph driver "
                    f"(detected DriverStatus driver-type={status['driver-type']})")
    if driver not in HOMES or not root:
        pytest.skip(f"not applicable: no graph driver home known for Driver={driver!r} DockerRootDir={root!r}")
    return f"{root.rstrip('/')}/{HOMES[driver]}"


SAMPLES = 6  # Podman's storage unmounts its home whenever one of its processes shuts the store down
# (each container's cleanup process does) and mounts it again on the next use: sample while in use.


@pytest.fixture(scope="module")
def engine_mounts(harness: Harness, engine_host: EngineHost, storage_home: str) -> list[Mount]:
    """The engine process's mount table, sampled (touching the storage between samples) until the home
    shows as a mount point or the samples run out; once for the module's tests."""
    pid = harness.engine_process(engine_host).pid
    mounts: list[Mount] = []
    for _ in range(SAMPLES):
        mounts = mountinfo(str(engine_host.file(f"/proc/{pid}/mountinfo").content_string))
        if any(m.point == storage_home for m in mounts):
            break
        harness.client.images.list()
        time.sleep(0.1)
    return mounts


def test_storage_home_is_a_mount_point(storage_home: str, engine_mounts: list[Mount], record_property: Any) -> None:
    """The graph driver home MUST be a mount point of its own in the engine's mount namespace."""
    covering = [m for m in engine_mounts
                if storage_home == m.point or storage_home.startswith(m.point.rstrip("/") + "/")]
    record_property("home_mount", ", ".join(f"{m.point} ({m.propagation})" for m in covering[-2:]))
    assert any(m.point == storage_home for m in engine_mounts), (
        f"{storage_home} is not a mount point; it lies on {covering[-1].point if covering else '?'}")


def test_storage_home_mount_is_private(storage_home: str, engine_mounts: list[Mount]) -> None:
    """The graph driver home's mount MUST NOT be in a shared peer group (private, or a slave)."""
    home = [m for m in engine_mounts if m.point == storage_home]
    assert home, f"{storage_home} is not a mount point, so it has the propagation of what it lies on"
    assert not any(field.startswith("shared:") for field in home[-1].optional), (
        f"{storage_home} is shared ({' '.join(home[-1].optional)})")
