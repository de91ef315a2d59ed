"""Feature ``devmapper-min-free-space``: ``dm.min_free_space`` guards the devicemapper thin pool (docker PR
20786).

On an engine instance with the devicemapper storage driver on a loop-backed thin pool (dockerd's
loop-lvm; Podman's storage.conf ``driver = "devicemapper"``): with ``dm.min_free_space=N%`` a new
thin snapshot (a container) MUST be refused once the pool's free data blocks fall below N% ("Thin
Pool has ... free data blocks which is less than minimum required"), and a bad value (over 100%)
MUST stop the engine at start-up naming the option. The driver exists only in Docker <= 24 and
Podman <= 5.1 and needs the kernel's device-mapper: where the engine host has none the tests are
not applicable, naming what was probed (/proc/devices, /dev/mapper/control).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fixtures.engine import EngineFacts
from fixtures.engine_host import EngineHost
from fixtures.harness import feature
from fixtures.launcher import EngineConfig, Instance, Instances, LaunchError

pytestmark = feature("devmapper-min-free-space")


@pytest.fixture(scope="session")
def device_mapper(engine_host: EngineHost) -> None:
    devices = engine_host.file("/proc/devices").content_string
    if "device-mapper" not in devices or not engine_host.file("/dev/mapper/control").exists:
        pytest.skip("not applicable: the engine host's kernel has no device-mapper (/proc/devices lists no "
                    "device-mapper, or /dev/mapper/control is missing): no devicemapper driver can run")


def devmapper_config(kind: str, min_free: str) -> EngineConfig:
    """devicemapper on a loopback pool (dockerd; Podman's thin pool) with ``min_free_space``."""
    return EngineConfig(kind, storage_driver="devicemapper", name=f"{kind} devicemapper min_free_space={min_free}",
                        storage_options=(("loopdatasize", "1G"), ("basesize", "2G"), ("min_free_space", min_free)))


def test_bad_min_free_space_stops_the_engine(device_mapper: None, engine_instances: Instances,
                                             engine_facts: EngineFacts) -> None:
    """``dm.min_free_space=101%`` MUST stop the engine at start-up with an error naming the option."""
    with pytest.raises(LaunchError) as refused:
        engine_instances.get(devmapper_config(engine_facts.kind, "101%"))
    # the engine's own log, not the harness's message (it names the configuration, min_free_space included)
    assert "min_free_space" in refused.value.log, str(refused.value)[-800:]


def test_pool_short_of_min_free_space_refuses_new_containers(device_mapper: None, launch: Callable[..., Instance],
                                                             engine_facts: EngineFacts, tool_image: str) -> None:
    """With ``dm.min_free_space=99%`` on a 1 GiB pool whose base device already used more than 1%, creating a
    container MUST be refused with the "less than minimum required" error (and /info MUST say devicemapper)."""
    instance = launch(devmapper_config(engine_facts.kind, "99%"), images=[tool_image])
    client = instance.client()
    try:
        assert client.info()["Driver"] == "devicemapper"
        with pytest.raises(Exception) as refused:
            client.containers.create(tool_image, ["true"])
        assert "less than minimum required" in str(refused.value), str(refused.value)
    finally:
        client.close()
