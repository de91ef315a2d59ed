"""Feature ``btrfs-driver``: the btrfs storage driver works (docker PR 21723, the btrfs-progs build fix).

On an engine instance whose data root is a btrfs filesystem (a loop-mounted btrfs file the
fixture makes and removes; ``--storage-driver=btrfs`` for dockerd, ``driver = "btrfs"`` in
Podman's storage.conf), ``/info`` MUST report the driver ``btrfs`` with the btrfs library it was
built with (DriverStatus "Build Version" and "Library Version", which PR 21723 made build);
containers MUST run; a multi-layer build MUST work; image layers and container layers MUST be
btrfs subvolumes on the host; removing them MUST leave no subvolume behind. Refused: the btrfs
driver on a data root that is not btrfs (the engine does not start, saying why).
"""

from __future__ import annotations

import io
import subprocess
import uuid
from collections.abc import Callable, Iterator

import docker
import pytest

from fixtures.engine import EngineFacts
from fixtures.engine_fixtures import require_launcher
from fixtures.harness import Harness, feature
from fixtures.launcher import EngineConfig, Instance, Instances, LaunchError

pytestmark = feature("btrfs-driver")


def btrfs_config(kind: str, storage: str = "btrfs") -> EngineConfig:
    """The btrfs driver, on a loop-mounted btrfs data root (``storage``) or on the plain one (``""``)."""
    # debug=False: at debug level every container exit of Podman 4.3 took 20 s (its cleanup logs to syslog)
    return EngineConfig(kind, storage_driver="btrfs", storage=storage, debug=False,
                        name=f"{kind} on btrfs" if storage else f"{kind} btrfs driver on a root that is not btrfs")


@pytest.fixture
def btrfs_engine(launch: Callable[..., Instance], engine_facts: EngineFacts, base_image: str) -> Instance:
    return launch(btrfs_config(engine_facts.kind), images=[base_image])


@pytest.fixture
def client(btrfs_engine: Instance) -> Iterator[docker.DockerClient]:
    c = btrfs_engine.client()
    yield c
    c.close()


def subvolumes(instance: Instance) -> set[str]:
    out = subprocess.run(["btrfs", "subvolume", "list", "-o", str(instance.data_root)], capture_output=True,
                         text=True, check=True, timeout=60)
    listed = subprocess.run(["btrfs", "subvolume", "list", str(instance.data_root)], capture_output=True, text=True,
                            check=True, timeout=60)
    return {line.split(" path ", 1)[1] for line in (out.stdout + listed.stdout).splitlines() if " path " in line}


def test_info_reports_the_btrfs_driver(client: docker.DockerClient) -> None:
    """``/info`` MUST say Driver btrfs on an engine started with the btrfs driver on btrfs."""
    assert client.info()["Driver"] == "btrfs"


def test_info_reports_the_btrfs_library_versions(client: docker.DockerClient) -> None:
    """``/info``'s DriverStatus SHOULD give the btrfs build and library versions (the PR 21723 build): a detail
    apart from the driver working (Moby 24 dropped it: moby/moby 1449c82484 "graphdriver/btrfs: drop version
    information", the driver uses the kernel's interface, not libbtrfs)."""
    status = {str(k): str(v) for k, v in client.info().get("DriverStatus") or []}
    assert status.get("Build Version", "").startswith("Btrfs v"), status
    assert status.get("Library Version", "").isdigit(), status


def test_container_runs_and_writes_on_btrfs(client: docker.DockerClient, base_image: str) -> None:
    """A container MUST run on the btrfs driver: its writes land in its layer, its exit code and output return."""
    container = client.containers.create(base_image, ["sh", "-c", "echo on-btrfs > /f && cat /f && exit 3"])
    try:
        container.start()
        assert container.wait(timeout=60)["StatusCode"] == 3
        assert container.logs() == b"on-btrfs\n"
    finally:
        container.remove(force=True)


def test_layers_are_subvolumes_and_removal_leaves_none(
    client: docker.DockerClient, btrfs_engine: Instance, base_image: str
) -> None:
    """A multi-layer build MUST work; its layers and a container's layer MUST be subvolumes on the host,
    and removing container and image MUST remove their subvolumes."""
    before = subvolumes(btrfs_engine)
    tag = f"localhost/conformance/btrfs-build:{uuid.uuid4().hex[:8]}"
    dockerfile = f"FROM {base_image}\nRUN echo one > /one\nRUN echo two > /two\nCMD [\"cat\", \"/one\", \"/two\"]\n"
    client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, forcerm=True)
    container = client.containers.create(tag)
    try:
        with_layers = subvolumes(btrfs_engine)
        assert len(with_layers - before) >= 3, f"build layers and container layer as subvolumes: {with_layers - before}"
        container.start()
        assert container.wait(timeout=60)["StatusCode"] == 0
        assert container.logs() == b"one\ntwo\n"
    finally:
        container.remove(force=True)
        client.images.remove(tag, force=True)
    assert subvolumes(btrfs_engine) == before


def test_btrfs_driver_on_a_root_that_is_not_btrfs_is_refused(engine_instances: Instances,
                                                            engine_facts: EngineFacts, harness: Harness) -> None:
    """The btrfs driver on a data root that is not btrfs MUST NOT start the engine, saying why."""
    config = btrfs_config(engine_facts.kind, storage="")
    require_launcher(engine_instances, harness, config.kind)
    with pytest.raises(LaunchError) as err:
        engine_instances.get(config)
    said = err.value.log  # what the engine wrote, not the harness's message (which names the configuration)
    # Moby and containers/storage: "prerequisites for driver not satisfied (wrong filesystem?)"
    assert any(s in said for s in ("wrong filesystem", "not a btrfs", "prerequisites for driver")), said
