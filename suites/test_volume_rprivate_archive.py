"""Feature ``volume-rprivate-archive``: the archive API leaves every mount as it was (docker PR 22009).

Copying into or out of a container (``HEAD``/``GET``/``PUT /containers/{id}/archive``) MUST NOT
change a mount on the host or in the container, even when a volume's source is a *shared* mount
with a submount (the case where mounts once multiplied and leaked). Bind volumes MUST default to
``rprivate`` propagation. The host mount table (under the volume's source) and the container's
``/proc/<pid>/mountinfo`` are snapshot before and after, for a running and a created container.
The shared mount is made as root in the engine host's mount namespace; for a rootless or remapped engine its
directory belongs to the host uid of the containers' root (as a user of that engine makes the directories it
binds), and the engine sees it through the mount namespace of its own it keeps (mounts propagate into it).
"""

from __future__ import annotations

import base64
import difflib
import io
import json
import tarfile
from collections.abc import Iterator
from typing import Any

import docker.errors
import pytest

from fixtures.containers import ContainerFactory, tar_of
from fixtures.engine import EngineFacts
from fixtures.engine_host import EngineHost
from fixtures.harness import Harness, feature
from fixtures.idmap import IdMap

pytestmark = feature("volume-rprivate-archive")

TARGET = "/data"


@pytest.fixture
def shared_source(engine_host: EngineHost, id_map: IdMap, harness: Harness,
                  engine_facts: EngineFacts) -> Iterator[str]:
    """A host directory that is a shared mount with a tmpfs submount and a file in each, owned by the host ids of
    the containers' root. Not applicable where that mount does not reach a rootless engine's own mount namespace
    (made before the mount, on a host whose ``/`` is not a shared mount: no propagation)."""
    if not engine_host.run("id -u").stdout.strip() == "0":
        pytest.skip("not applicable: making a shared mount on the engine host needs root there")
    made = engine_host.run("mktemp -d /tmp/conformance-shared.XXXXXX")
    assert made.rc == 0, made.stderr
    src = made.stdout.strip()
    setup = engine_host.run(
        "mount --bind %s %s && mount --make-shared %s && mkdir %s/sub && "
        "mount -t tmpfs -o size=1m conformance-sub %s/sub && echo top > %s/file && echo inner > %s/sub/inner && "
        "chown -R %s:%s %s && chmod 755 %s %s/sub",
        src, src, src, src, src, src, src, str(id_map.host_uid(0)), str(id_map.host_gid(0)), src, src, src,
    )
    try:
        assert setup.rc == 0, setup.stderr
        engine_pid = harness.engine_process(engine_host).pid if engine_facts.rootless else "self"
        seen = engine_host.run("grep -c ' %s/sub ' /proc/%s/mountinfo", src, str(engine_pid))
        if seen.stdout.strip() in ("", "0"):
            root = next((line.split(" - ")[0].split()[6:] for line in
                         engine_host.file("/proc/self/mountinfo").content_string.splitlines()
                         if line.split()[4] == "/"), [])
            pytest.skip(f"not applicable: the shared mount made on the engine host does not reach the engine's own "
                        f"mount namespace (/proc/{engine_pid}/mountinfo has no {src}/sub): the engine host's / "
                        f"propagates nothing (its peer groups: {' '.join(root) or 'none, private'})")
        yield src
    finally:
        engine_host.run("umount -R %s/sub; umount -R %s; umount -l %s; rm -rf %s", src, src, src, src)


def host_mounts_under(engine_host: EngineHost, path: str) -> list[str]:
    """Host mountinfo entries at or below ``path``: mount point, root, fs type, optional fields."""
    rows = []
    for line in engine_host.file("/proc/self/mountinfo").content_string.splitlines():
        fields = line.split()
        if fields[4] == path or fields[4].startswith(path + "/"):
            rows.append(" ".join(fields[3:]))
    return sorted(rows)


def container_mounts(engine_host: EngineHost, pid: int) -> str:
    return str(engine_host.file(f"/proc/{pid}/mountinfo").content_string)


def archive_round(container: Any) -> dict[str, Any]:
    """HEAD, GET and PUT through the archive API; what each returned."""
    api = container.client.api
    head = api.head(api._url("/containers/{0}/archive", container.id), params={"path": f"{TARGET}/sub/inner"},
                    timeout=api.timeout)
    head.raise_for_status()
    stat = json.loads(base64.b64decode(head.headers["X-Docker-Container-Path-Stat"]))
    stream, _ = container.get_archive(f"{TARGET}/sub")
    got = io.BytesIO(b"".join(stream))
    with tarfile.open(fileobj=got) as tar:
        member = tar.extractfile("sub/inner")
        inner = member.read() if member else b""
    assert container.put_archive(TARGET, tar_of("put-by-archive", b"put\n")) is True
    return {"stat": stat, "inner": inner}


def archive_rounds(container: Any, engine_host: EngineHost, shared_source: str) -> None:
    """Three HEAD/GET/PUT rounds (the historical bug multiplied mounts on each call), each answered as asked."""
    for _ in range(3):
        seen = archive_round(container)
    assert seen["stat"]["name"] == "inner" and seen["inner"] == b"inner\n"
    assert engine_host.file(f"{shared_source}/put-by-archive").content_string == "put\n"


@pytest.mark.parametrize("state", ["running", "created"])
def test_archive_api_leaves_host_mounts_unchanged(
    containers: ContainerFactory, base_image: str, engine_host: EngineHost, shared_source: str, state: str
) -> None:
    """HEAD/GET/PUT on the archive API MUST leave the host's mount table under the volume's source as it was."""
    container = containers.create(base_image, ["sleep", "300"], volumes={shared_source: {"bind": TARGET}})
    if state == "running":
        container.start()
    host_before = host_mounts_under(engine_host, shared_source)
    archive_rounds(container, engine_host, shared_source)
    assert host_mounts_under(engine_host, shared_source) == host_before


def test_archive_api_leaves_the_running_containers_mounts_unchanged(
    containers: ContainerFactory, base_image: str, engine_host: EngineHost, shared_source: str
) -> None:
    """HEAD/GET/PUT on the archive API of a running container MUST leave its mount table as it was (the leak
    docker PR 22009 fixed stacked the volume and its submount again inside on each call)."""
    container = containers.start(base_image, ["sleep", "300"], volumes={shared_source: {"bind": TARGET}})
    pid = int(container.attrs["State"]["Pid"])
    inside_before = container_mounts(engine_host, pid)
    archive_rounds(container, engine_host, shared_source)
    inside_after = container_mounts(engine_host, pid)
    diff = "\n".join(difflib.unified_diff(inside_before.splitlines(), inside_after.splitlines(), lineterm=""))
    assert inside_after == inside_before, f"container mounts changed:\n{diff}"


def test_bind_volume_defaults_to_rprivate(
    containers: ContainerFactory, base_image: str, engine_host: EngineHost, shared_source: str
) -> None:
    """A bind volume with no propagation option MUST be rprivate: inspect says so and the mount
    inside carries no ``shared:`` peer group, while the recursive bind brings the submount along."""
    container = containers.start(base_image, ["sleep", "300"], volumes={shared_source: {"bind": TARGET}})
    mounts = [m for m in container.attrs["Mounts"] if m.get("Destination") == TARGET]
    assert len(mounts) == 1
    assert mounts[0].get("Propagation") == "rprivate"
    inside = container_mounts(engine_host, int(container.attrs["State"]["Pid"])).splitlines()
    rows = {line.split()[4]: line for line in inside}
    assert TARGET in rows and f"{TARGET}/sub" in rows, "volume or its submount missing inside"
    for point in (TARGET, f"{TARGET}/sub"):
        optional = rows[point].split(" - ")[0].split()[6:]
        assert not any(f.startswith("shared:") for f in optional), rows[point]


@pytest.mark.parametrize("state", ["created", "running"])
def test_archive_put_into_read_only_volume_is_refused(
    containers: ContainerFactory, base_image: str, engine_host: EngineHost, shared_source: str, state: str
) -> None:
    """PUT into a read-only volume MUST be refused ("read-only") and MUST NOT write the host directory."""
    container = containers.create(base_image, ["sleep", "300"], volumes={shared_source: {"bind": TARGET, "mode": "ro"}})
    if state == "running":
        container.start()
    with pytest.raises(docker.errors.APIError) as err:
        container.put_archive(TARGET, tar_of("must-not-exist", b"x\n"))
    assert "read-only" in str(err.value.explanation)
    assert not engine_host.file(f"{shared_source}/must-not-exist").exists


@pytest.mark.parametrize("state", ["created", "running"])
def test_archive_put_into_read_only_rootfs_is_refused(
    containers: ContainerFactory, base_image: str, state: str
) -> None:
    """PUT into a container whose rootfs is read-only MUST be refused ("read-only"); nothing appears."""
    container = containers.create(base_image, ["sleep", "300"], read_only=True)
    if state == "running":
        container.start()
    with pytest.raises(docker.errors.APIError) as err:
        container.put_archive("/tmp", tar_of("must-not-exist", b"x\n"))
    assert "read-only" in str(err.value.explanation)
    with pytest.raises(docker.errors.APIError):  # whatever the status (core_errors checks 404s)
        container.get_archive("/tmp/must-not-exist")
