"""The create contract, networking (marker ``core-network``): what the container's resolver,
hosts file and interfaces hold, and what reaches it through published ports, MUST be what
create asked for: ``Dns``/``DnsSearch``/``DnsOptions`` in ``/etc/resolv.conf``, ``ExtraHosts`` and
``Links`` in ``/etc/hosts``, ``MacAddress``/``NetworkDisabled`` on the interfaces, ports published
(``PortBindings``, ``PublishAllPorts`` of ``ExposedPorts``) answering from another container in
the engine's network namespace, and ``NetworkingConfig`` endpoint settings (network, aliases,
fixed and link-local addresses) on a user-defined network.

Source: the Engine API's ContainerConfig, HostConfig and NetworkingConfig schemas; moby's
integration/container/run_linux_test.go, integration/network tests. Engine mechanics: once per
engine, on the busybox tool image (``httpd``, ``wget``, ``nslookup``, ``ip``).
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import docker.errors
import docker.types
import pytest

from fixtures.containers import ContainerFactory
from fixtures.engine import EngineFacts
from fixtures.engine_host import EngineHost
from fixtures.harness import feature
from fixtures.idmap import host_namespaces
from fixtures.shared import Probe, batched

pytestmark = feature("core-network")

SERVE = "mkdir -p /www && echo conformance-port > /www/index.html && exec httpd -f -p 8080 -h /www"


MAC = f"02:42:c0:a8:{random.randrange(256):02x}:{random.randrange(256):02x}"
PROBES = {  # fields set on one container (fixtures/shared.py): resolver, hosts file and interface apart
    "Dns": Probe("cat /etc/resolv.conf", {"Dns": ["192.0.2.53", "192.0.2.54"], "DnsSearch": ["conformance.example"],
                                          "DnsOptions": ["ndots:3", "timeout:2"]}),
    "ExtraHosts": Probe("cat /etc/hosts", {"ExtraHosts": ["conformance-extra:192.0.2.10",
                                                          "conformance-other:192.0.2.11"]}),
    "MacAddress": Probe("cat /sys/class/net/eth0/address", config={"MacAddress": MAC}),
}


def fetch(containers: ContainerFactory, image: str, url: str, facts: EngineFacts) -> str:
    """What a container in the engine's own network namespace gets from ``url`` (retried for 5 s)."""
    script = f"for i in $(seq 1 25); do wget -qO- {url} && exit 0; sleep 0.2; done; exit 1"
    result = containers.run(image, ["sh", "-c", script], **host_namespaces(facts, network_mode="host"))
    return result.stdout if result.exit_code == 0 else f"(nothing: {result.stderr.strip()})"


def host_port(container: Any, port: str = "8080/tcp") -> str:
    container.reload()
    bindings = (container.attrs["NetworkSettings"].get("Ports") or {}).get(port) or []
    assert bindings, f"no host port published for {port}: {container.attrs['NetworkSettings'].get('Ports')}"
    return str(bindings[0]["HostPort"])


@pytest.mark.observes("HostConfig.Dns", "HostConfig.DnsSearch", "HostConfig.DnsOptions")
def test_dns_settings_make_the_resolver_configuration(containers: ContainerFactory, tool_image: str) -> None:
    """``Dns``, ``DnsSearch`` and ``DnsOptions`` MUST be the nameservers, search list and options of
    the container's ``/etc/resolv.conf``."""
    result = batched(containers, tool_image, PROBES, "Dns")
    lines = [line.split() for line in result.stdout.splitlines() if line and not line.startswith("#")]
    assert [x[1] for x in lines if x[0] == "nameserver"] == ["192.0.2.53", "192.0.2.54"]
    assert ["search", "conformance.example"] in lines
    options = {o for x in lines if x[0] == "options" for o in x[1:]}
    assert {"ndots:3", "timeout:2"} <= options, result.stdout


@pytest.mark.observes("HostConfig.ExtraHosts")
def test_extra_hosts_are_in_etc_hosts(containers: ContainerFactory, tool_image: str) -> None:
    """``ExtraHosts`` MUST add ``ip name`` lines to the container's ``/etc/hosts``."""
    result = batched(containers, tool_image, PROBES, "ExtraHosts")
    entries = [line.split() for line in result.stdout.splitlines()]
    assert ["192.0.2.10", "conformance-extra"] in entries and ["192.0.2.11", "conformance-other"] in entries


def test_extra_host_with_an_invalid_address_is_refused(containers: ContainerFactory, tool_image: str) -> None:
    """An ``ExtraHosts`` entry whose address is not an IP MUST be refused, naming it."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.run_raw(tool_image, ["true"], {"ExtraHosts": ["conformance-bad:not-an-address"]})
    assert "not-an-address" in str(err.value), str(err.value)


@pytest.mark.observes("ContainerConfig.MacAddress")
def test_mac_address_is_the_interfaces(containers: ContainerFactory, tool_image: str) -> None:
    """``MacAddress`` MUST be the hardware address of the container's interface."""
    result = batched(containers, tool_image, PROBES, "MacAddress")
    assert result.stdout.strip() == MAC, result.stderr


def test_malformed_mac_address_is_refused(containers: ContainerFactory, tool_image: str) -> None:
    """A malformed ``MacAddress`` MUST be refused."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.run(tool_image, ["true"], mac_address="02:42:zz")
    assert "mac" in str(err.value).lower() or "02:42:zz" in str(err.value), str(err.value)


@pytest.mark.observes("ContainerConfig.NetworkDisabled")
def test_network_disabled_leaves_only_loopback(containers: ContainerFactory, tool_image: str) -> None:
    """``NetworkDisabled`` MUST leave the container only the loopback interface."""
    result = containers.run_raw(tool_image, ["ls", "/sys/class/net"], NetworkDisabled=True)
    assert result.stdout.split() == ["lo"], result.stdout


@pytest.mark.observes("HostConfig.PortBindings")
def test_port_binding_reaches_the_container(containers: ContainerFactory, tool_image: str,
                                            engine_facts: EngineFacts) -> None:
    """``PortBindings`` MUST publish the container port on the host address and port given: a request
    to it from the engine's network namespace reaches the container's server."""
    port = random.randrange(20000, 30000)
    server = containers.start(tool_image, ["sh", "-c", SERVE], ports={"8080/tcp": ("127.0.0.1", port)})
    assert host_port(server) == str(port)
    assert fetch(containers, tool_image, f"http://127.0.0.1:{port}/", engine_facts) == "conformance-port\n"


def unprivileged_port_start(engine_host: EngineHost) -> int:
    """The engine host's ``net.ipv4.ip_unprivileged_port_start``: the lowest port an unprivileged
    process may bind (ip-sysctl.txt; 1024 unless set), what a rootless engine's port driver is."""
    return int(engine_host.file("/proc/sys/net/ipv4/ip_unprivileged_port_start").content_string)


@pytest.mark.observes("HostConfig.PortBindings")
@pytest.mark.cis("5.7")
def test_port_binding_below_1024_reaches_the_container(containers: ContainerFactory, tool_image: str,
                                                       engine_facts: EngineFacts, engine_host: EngineHost) -> None:
    """A host port below 1024 MUST be published like any other where the engine may bind it: a
    rootful engine always; a rootless one (its port driver an ordinary process: rootlesskit,
    Podman's rootlessport) only from the host's ``ip_unprivileged_port_start`` up (issue 20)."""
    port, start = random.randrange(600, 1000), unprivileged_port_start(engine_host)
    if engine_facts.rootless and port < start:
        pytest.skip(f"not applicable: the engine is rootless (rootless=true) and the engine host's "
                    f"net.ipv4.ip_unprivileged_port_start is {start}: it cannot bind host port {port}")
    server = containers.start(tool_image, ["sh", "-c", SERVE], ports={"8080/tcp": ("127.0.0.1", port)})
    assert host_port(server) == str(port)
    assert fetch(containers, tool_image, f"http://127.0.0.1:{port}/", engine_facts) == "conformance-port\n"


def test_rootless_engine_refuses_a_port_it_cannot_bind(containers: ContainerFactory, tool_image: str,
                                                       engine_facts: EngineFacts, engine_host: EngineHost) -> None:
    """A rootless engine MUST refuse to start a container whose host port is below the host's
    ``ip_unprivileged_port_start``, naming the port, not start it unreachable. Measured: dockerd-rootless
    (rootlesskit 1.1) and Podman 4.3 (rootlessport) both answer "cannot expose privileged port N, you
    can add 'net.ipv4.ip_unprivileged_port_start=N' to /etc/sysctl.conf ..." at start."""
    start = unprivileged_port_start(engine_host)
    if not engine_facts.rootless:
        pytest.skip("not applicable: the engine is rootful (rootless=false): it may bind every port")
    if start <= 1:
        pytest.skip(f"not applicable: the engine host's net.ipv4.ip_unprivileged_port_start is {start}: "
                    "every port may be bound unprivileged")
    port = random.randrange(max(1, start - 400), start)
    container = containers.create(tool_image, ["sh", "-c", SERVE], ports={"8080/tcp": ("127.0.0.1", port)})
    with pytest.raises(docker.errors.APIError) as err:
        container.start()
    assert f"port {port}" in str(err.value), str(err.value)
    container.reload()
    assert container.attrs["State"]["Status"] != "running"


def test_port_binding_out_of_range_is_refused(containers: ContainerFactory, tool_image: str) -> None:
    """A host port outside 1..65535 MUST be refused."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.run(tool_image, ["true"], ports={"8080/tcp": 70000})
    assert "70000" in str(err.value) or "port" in str(err.value).lower(), str(err.value)


@pytest.mark.observes("HostConfig.PublishAllPorts", "ContainerConfig.ExposedPorts")
def test_publish_all_ports_publishes_the_exposed_ones(containers: ContainerFactory, tool_image: str,
                                                      engine_facts: EngineFacts) -> None:
    """``PublishAllPorts`` MUST publish every port of ``ExposedPorts`` on a host port of the engine's
    choosing, and that port MUST reach the container."""
    server = containers.create_raw(tool_image, ["sh", "-c", SERVE], {"PublishAllPorts": True},
                                   ExposedPorts={"8080/tcp": {}})
    server.start()
    port = host_port(server)
    assert fetch(containers, tool_image, f"http://127.0.0.1:{port}/", engine_facts) == "conformance-port\n"


@pytest.mark.observes("HostConfig.Links")
def test_link_alias_resolves_in_etc_hosts(containers: ContainerFactory, tool_image: str) -> None:
    """``Links`` (legacy, default bridge) MUST make the alias resolve to the linked container."""
    target = containers.start(tool_image, ["sleep", "60"])
    address = target.attrs["NetworkSettings"]["IPAddress"]
    result = containers.run(tool_image, ["cat", "/etc/hosts"], links={target.id: "conformance-peer"})
    entries = [line.split() for line in result.stdout.splitlines()]
    assert any(e and e[0] == address and "conformance-peer" in e[1:] for e in entries), result.stdout


@pytest.fixture(scope="module")
def user_network(module_containers: ContainerFactory) -> tuple[Any, str]:
    """A user-defined bridge network with a random 10.x subnet, for the module's endpoint tests: the
    network and the subnet's prefix."""
    prefix = f"10.{random.randrange(100, 250)}.{random.randrange(256)}"
    pool = docker.types.IPAMPool(subnet=f"{prefix}.0/24", gateway=f"{prefix}.1")
    network = module_containers.network(f"conformance-net-{uuid.uuid4().hex[:8]}", driver="bridge",
                                        ipam=docker.types.IPAMConfig(pool_configs=[pool]))
    return network, prefix


@pytest.fixture(scope="module")
def alias_target(module_containers: ContainerFactory, tool_image: str, user_network: tuple[Any, str]) -> str:
    """A running container on the user network with the endpoint alias ``conformance-alias`` at
    <prefix>.88; its name (a DNS name: generated names have "_")."""
    network, prefix = user_network
    name = f"conformance-target-{uuid.uuid4().hex[:8]}"
    module_containers.create_raw(tool_image, ["sleep", "600"], {"NetworkMode": network.name}, name=name,
                                 NetworkingConfig={"EndpointsConfig": {network.name: {
                                     "Aliases": ["conformance-alias"], "IPAMConfig": {"IPv4Address": f"{prefix}.88"}}}}
                                 ).start()
    return name


def addresses(containers: ContainerFactory, image: str, endpoint: dict[str, Any], network: str) -> str:
    result = containers.run_raw(image, ["ip", "-o", "addr"], {"NetworkMode": network},
                                NetworkingConfig={"EndpointsConfig": {network: endpoint}})
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.mark.observes("NetworkingConfig.EndpointsConfig", "EndpointSettings.IPAMConfig",
                      "EndpointSettings.IPAMConfig.IPv4Address")
def test_fixed_address_on_a_user_network(containers: ContainerFactory, tool_image: str,
                                         user_network: tuple[Any, str]) -> None:
    """An endpoint of ``NetworkingConfig`` MUST attach the container to that network; its
    ``IPAMConfig.IPv4Address`` MUST be the interface's address."""
    network, prefix = user_network
    out = addresses(containers, tool_image, {"IPAMConfig": {"IPv4Address": f"{prefix}.77"}}, network.name)
    assert f"inet {prefix}.77/24" in out, out


def test_fixed_address_outside_the_subnet_is_refused(containers: ContainerFactory, tool_image: str,
                                                      user_network: tuple[Any, str]) -> None:
    """A fixed address outside the network's subnet MUST be refused."""
    network, _ = user_network
    with pytest.raises(docker.errors.APIError):
        addresses(containers, tool_image, {"IPAMConfig": {"IPv4Address": "192.0.2.77"}}, network.name)


@pytest.mark.observes("EndpointSettings.IPAMConfig.LinkLocalIPs")
def test_link_local_address_is_added(containers: ContainerFactory, tool_image: str,
                                     user_network: tuple[Any, str]) -> None:
    """``IPAMConfig.LinkLocalIPs`` MUST be added as addresses of the container's interface."""
    network, _ = user_network
    out = addresses(containers, tool_image, {"IPAMConfig": {"LinkLocalIPs": ["169.254.13.7"]}}, network.name)
    assert "inet 169.254.13.7/" in out, out


@pytest.mark.observes("EndpointSettings.Aliases")
def test_network_alias_resolves_for_other_containers(containers: ContainerFactory, tool_image: str,
                                                     user_network: tuple[Any, str], alias_target: str) -> None:
    """``Aliases`` of an endpoint MUST resolve, for other containers on that network, to the
    container's address on it."""
    network, prefix = user_network
    script = "for i in 1 2 3 4 5; do nslookup conformance-alias && exit 0; sleep 0.5; done; exit 1"
    result = containers.run_raw(tool_image, ["sh", "-c", script], {"NetworkMode": network.name})
    assert result.exit_code == 0 and f"{prefix}.88" in result.stdout, result.output


@pytest.mark.observes("EndpointSettings.Links")
def test_endpoint_link_alias_resolves_on_a_user_network(containers: ContainerFactory, tool_image: str,
                                                        user_network: tuple[Any, str], alias_target: str) -> None:
    """``Links`` of an endpoint on a user-defined network MUST make the link's alias resolve (through
    the network's DNS) to the linked container's address on that network."""
    network, prefix = user_network
    script = "for i in 1 2 3 4 5; do nslookup conformance-link && exit 0; sleep 0.5; done; exit 1"
    result = containers.run_raw(tool_image, ["sh", "-c", script], {"NetworkMode": network.name},
                                NetworkingConfig={"EndpointsConfig": {network.name: {
                                    "Links": [f"{alias_target}:conformance-link"]}}})
    assert result.exit_code == 0 and f"{prefix}.88" in result.stdout, result.output
