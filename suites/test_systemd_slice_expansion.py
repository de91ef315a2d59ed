"""Feature ``systemd-slice-expansion``: ``CgroupParent`` slice names expand like systemd's (runc PR 511).

With the systemd cgroup driver, ``CgroupParent=conformance-a-b.slice`` MUST place the container's
scope in that slice, which systemd nests as conformance.slice/conformance-a.slice/
conformance-a-b.slice (``a`` is a token of the run's own): the scope's ``Slice=`` says so and the
process's cgroup path shows the nesting. Names that are not slices (``foo``), or are not valid slice
names (``a--b.slice``, ``a/b.slice``), MUST be refused with a clear error (at create or at start) and leave no running
container. Not applicable with the cgroupfs driver (detected).
"""

from __future__ import annotations

import uuid
from typing import Any

import docker.errors
import pytest

from fixtures.containers import ContainerFactory
from fixtures.engine_host import EngineHost
from fixtures.harness import feature

pytestmark = [feature("systemd-slice-expansion"), pytest.mark.requires("systemd-cgroup-driver")]

# A name of this run's own: two engines of one host running this test one after the other once met
# systemd collecting the other's emptied slice while runc (1.13.1's) joined it ("failed to write PID to
# .../conformance-a-b.slice/.../cgroup.procs: no such device").
TOKEN = uuid.uuid4().hex[:8]
SLICE = f"conformance-{TOKEN}-b.slice"
NESTED = f"/conformance.slice/conformance-{TOKEN}.slice/conformance-{TOKEN}-b.slice/"


def test_slice_parent_is_expanded_into_nested_slices(containers: ContainerFactory, base_image: str,
                                                     engine_host: EngineHost, record_property: Any) -> None:
    """The container's scope MUST be in the named slice, nested per systemd's dash rule."""
    container = containers.start(base_image, ["sleep", "300"], cgroup_parent=SLICE)
    pid = int(container.attrs["State"]["Pid"])
    cgroups = engine_host.file(f"/proc/{pid}/cgroup").content_string
    systemd_line = next(line for line in cgroups.splitlines() if line.split(":")[1] in ("name=systemd", ""))
    record_property("cgroup", systemd_line)
    assert NESTED in systemd_line, systemd_line
    scope = systemd_line.rsplit("/", 1)[1]
    out = engine_host.run("systemctl show -p Slice %s", scope)
    assert out.stdout.strip() == f"Slice={SLICE}"


@pytest.mark.parametrize("parent", ["foo", "a--b.slice", "a/b.slice"])
def test_invalid_slice_name_is_refused(containers: ContainerFactory, base_image: str, parent: str,
                                       record_property: Any) -> None:
    """A CgroupParent that is not a valid slice name MUST be refused, and no container left running."""
    phase = "create"
    with pytest.raises(docker.errors.APIError) as err:
        container = containers.create(base_image, ["sleep", "60"], cgroup_parent=parent)
        phase = "start"
        container.start()
    message = str(err.value.explanation)
    record_property("refused_at", f"{phase}: {message[:200]}")
    assert "slice" in message.lower() or parent in message, message
    for made in containers.created:
        made.reload()
        assert made.attrs["State"]["Running"] is False
