"""The create contract, identity (marker ``core-identity``): the groups and names a process gets
MUST be the ones create asked for — ``GroupAdd`` in the supplementary groups (ids, and names
resolved in the image's /etc/group), ``Domainname`` as the UTS domain name — observed inside the
container on each distro's image (the image's own group database is what resolves names).
``User``, ``Hostname`` and ``Env`` are observed by suites/test_core.py.

Source: the Engine API's ContainerConfig (Domainname) and HostConfig (GroupAdd) schemas.
"""

from __future__ import annotations

import docker.errors
import pytest

from fixtures.containers import ContainerFactory
from fixtures.harness import feature
from fixtures.shared import Probe, batched

pytestmark = feature("core-identity")

PROBES = {  # set on one container (fixtures/shared.py): the groups and the UTS names apart
    "GroupAdd": Probe("id -g; id -G", {"GroupAdd": ["4242", "root"]}, {"User": "1000:1000"}),
    "Domainname": Probe("cat /proc/sys/kernel/domainname /proc/sys/kernel/hostname",
                        config={"Hostname": "conformance-host", "Domainname": "conformance.example"}),
}


@pytest.mark.observes("HostConfig.GroupAdd")
def test_group_add_adds_supplementary_groups(containers: ContainerFactory, base_image: str) -> None:
    """``GroupAdd`` MUST add each group, by id and by a name the image's /etc/group resolves (root: 0),
    to the process's supplementary groups, keeping its primary group."""
    result = batched(containers, base_image, PROBES, "GroupAdd")
    assert result.exit_code == 0, result.stderr
    primary, groups = result.stdout.splitlines()
    assert primary == "1000"
    assert set(groups.split()) == {"1000", "0", "4242"}, groups


def test_group_add_of_an_unknown_name_is_refused(containers: ContainerFactory, base_image: str) -> None:
    """A ``GroupAdd`` name the image cannot resolve MUST keep the container from starting, naming it."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.run(base_image, ["true"], group_add=["conformance-no-such-group"])
    assert "conformance-no-such-group" in str(err.value), str(err.value)


@pytest.mark.observes("ContainerConfig.Domainname")
def test_domainname_is_the_uts_domain(containers: ContainerFactory, base_image: str) -> None:
    """``Domainname`` MUST be the UTS domain name of the container (``/proc/sys/kernel/domainname``),
    with ``Hostname`` unchanged (API 1.23)."""
    result = batched(containers, base_image, PROBES, "Domainname")
    assert result.stdout.split() == ["conformance.example", "conformance-host"], result.stderr
