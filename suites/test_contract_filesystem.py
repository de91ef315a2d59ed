"""The create contract, filesystem (marker ``core-filesystem``): every mount create asks for MUST
be in the container's mount table with its options, and behave so: ``Binds`` and ``Mounts`` (bind,
volume, tmpfs) with read-only refusing writes, ``Tmpfs`` with its size and mode, anonymous
``Volumes``, ``VolumesFrom`` sharing another container's volumes, ``MaskedPaths`` and
``ReadonlyPaths`` (API 1.40 on Linux), ``StorageOpt`` and ``VolumeDriver`` refused where the
engine cannot honor them.

Source: the Engine API's HostConfig (Binds, Mounts since 1.25, Tmpfs, VolumesFrom, VolumeDriver,
StorageOpt, MaskedPaths, ReadonlyPaths) and ContainerConfig (Volumes) schemas; moby's
integration/container/mounts_linux_test.go. Engine mechanics: once per engine, on the busybox
tool image; a bind source is made on the engine host and removed after.
"""

from __future__ import annotations

import contextlib
import uuid

import docker.errors
import docker.types
import pytest

from fixtures.ahead import Ahead
from fixtures.containers import ContainerFactory, RunResult
from fixtures.engine_host import EngineHost
from fixtures.harness import feature
from fixtures.shell_probes import mount_line, mount_options

pytestmark = feature("core-filesystem")


@pytest.mark.observes("HostConfig.Binds")
def test_bind_shows_the_host_directory_and_ro_refuses_writes(containers: ContainerFactory, tool_image: str,
                                                             host_dir: str, engine_host: EngineHost) -> None:
    """A ``Binds`` entry MUST show the host directory at the target (a write reaches the host); with
    ``:ro`` a write MUST fail with EROFS and the mount MUST be read-only."""
    script = "cat /b/file; echo in-container > /b/new && echo wrote; " + mount_line("/b")
    rw = containers.run(tool_image, ["sh", "-c", script], volumes=[f"{host_dir}:/b"])
    ro = containers.run(tool_image, ["sh", "-c", script], volumes=[f"{host_dir}:/b:ro"])
    assert rw.stdout.splitlines()[:2] == ["from-host", "wrote"], rw.output
    assert engine_host.file(f"{host_dir}/new").content_string == "in-container\n"
    assert "wrote" not in ro.stdout and "read-only" in ro.stderr.lower(), ro.output
    assert "ro" in mount_options(ro.stdout.splitlines()[-1])


def test_bind_of_a_relative_path_is_refused(containers: ContainerFactory, tool_image: str) -> None:
    """A bind whose source is neither absolute nor a volume name MUST be refused."""
    with pytest.raises(docker.errors.APIError):
        containers.run(tool_image, ["true"], volumes=["./conformance-relative:/b"])


@pytest.mark.observes("HostConfig.Mounts")
@pytest.mark.requires_api("HostConfig.Mounts")
def test_mounts_of_each_type_appear_with_their_options(containers: ContainerFactory, tool_image: str,
                                                       host_dir: str) -> None:
    """``Mounts`` MUST mount a read-only bind (writes refused), a named volume and a tmpfs of the size
    asked, each in the container's mount table."""
    volume = containers.volume()
    mounts = [docker.types.Mount("/bind", host_dir, type="bind", read_only=True),
              docker.types.Mount("/vol", volume.name, type="volume"),
              docker.types.Mount("/scratch", None, type="tmpfs", tmpfs_size=8 * 1024 * 1024)]
    script = ("cat /bind/file; touch /bind/x 2>/dev/null || echo bind-refused; touch /vol/x && echo vol-ok; "
              + "; ".join(mount_line(p) for p in ("/bind", "/vol", "/scratch")))
    result = containers.run(tool_image, ["sh", "-c", script], mounts=mounts)
    lines = result.stdout.splitlines()
    assert lines[:3] == ["from-host", "bind-refused", "vol-ok"], result.output
    bind, vol, scratch = lines[3:6]
    assert "ro" in mount_options(bind) and "rw" in mount_options(vol)
    assert scratch.split()[2] == "tmpfs" and "size=8192k" in mount_options(scratch), scratch


@pytest.mark.requires_api("HostConfig.Mounts")
def test_mount_of_a_missing_bind_source_is_refused(containers: ContainerFactory, tool_image: str,
                                                   request: pytest.FixtureRequest) -> None:
    """A ``Mounts`` bind whose source does not exist MUST be refused, naming it (unlike ``Binds``,
    ``Mounts`` never creates it)."""
    missing = f"/tmp/conformance-missing-{uuid.uuid4().hex[:8]}"
    try:
        with pytest.raises(docker.errors.APIError) as err:
            containers.run(tool_image, ["true"], mounts=[docker.types.Mount("/b", missing, type="bind")])
        assert missing in str(err.value), str(err.value)
    finally:  # an engine that creates the source anyway (Podman 4.3) leaves it on its host: the suite's to remove
        with contextlib.suppress(pytest.skip.Exception):
            request.getfixturevalue("engine_host").run("rmdir %s", missing)


@pytest.mark.observes("HostConfig.Tmpfs")
def test_tmpfs_has_its_size_and_mode(containers: ContainerFactory, tool_image: str) -> None:
    """``Tmpfs`` MUST mount a tmpfs at the path with the options given (size, mode)."""
    script = mount_line("/scratch") + "; stat -c %a /scratch"
    result = containers.run(tool_image, ["sh", "-c", script], tmpfs={"/scratch": "size=16m,mode=1770"})
    line, mode = result.stdout.splitlines()
    assert line.split()[2] == "tmpfs" and "size=16384k" in mount_options(line), line
    assert mode == "1770"


@pytest.mark.observes("ContainerConfig.Volumes")
def test_anonymous_volume_is_a_mount_and_removed_with_the_container(containers: ContainerFactory,
                                                                   tool_image: str) -> None:
    """``Volumes`` MUST mount a new anonymous volume at each path; removing the container with its
    volumes MUST remove it."""
    container = containers.create_raw(tool_image, ["sh", "-c", mount_line("/data")], Volumes={"/data": {}})
    container.start()
    assert containers.wait(container).stdout.strip(), "no mount at /data"
    container.reload()
    names = [m["Name"] for m in container.attrs["Mounts"] if m.get("Type") == "volume"]
    assert len(names) == 1, container.attrs["Mounts"]
    container.remove(v=True)
    with pytest.raises(docker.errors.NotFound):
        containers.client.volumes.get(names[0])


@pytest.mark.observes("HostConfig.VolumesFrom")
def test_volumes_from_shares_the_other_containers_volumes(containers: ContainerFactory, tool_image: str) -> None:
    """``VolumesFrom`` MUST mount the other container's volumes at the same paths (``:ro`` read-only)."""
    source = containers.create_raw(tool_image, ["sh", "-c", "echo shared > /data/f"], Volumes={"/data": {}})
    source.start()
    containers.wait(source)
    rw = containers.run(tool_image, ["cat", "/data/f"], volumes_from=[source.id])
    ro = containers.run(tool_image, ["sh", "-c", "touch /data/g && echo wrote"], volumes_from=[f"{source.id}:ro"])
    assert rw.stdout == "shared\n", rw.output
    assert "wrote" not in ro.stdout and "read-only" in ro.stderr.lower(), ro.output


def test_volumes_from_a_missing_container_is_refused(containers: ContainerFactory, tool_image: str) -> None:
    """``VolumesFrom`` naming a container that does not exist MUST be refused, naming it."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.run(tool_image, ["true"], volumes_from=["conformance-no-such-container"])
    assert "conformance-no-such-container" in str(err.value), str(err.value)


def run_with_unknown_volume_driver(containers: ContainerFactory, tool_image: str) -> RunResult:
    """Asked when the run starts: Moby looks for a plugin it lacks for 15 s before refusing."""
    return containers.run_raw(tool_image, ["true"], {"VolumeDriver": "conformance-no-such-driver"},
                              Volumes={"/data": {}})


@pytest.mark.observes("HostConfig.VolumeDriver")
@pytest.mark.ahead.with_args(run_with_unknown_volume_driver)
def test_unknown_volume_driver_is_refused(ahead: Ahead) -> None:
    """A ``VolumeDriver`` the engine does not have MUST be refused for the volumes it would create,
    naming it — not silently replaced by the local driver."""
    with pytest.raises(docker.errors.APIError) as err:
        ahead.result(run_with_unknown_volume_driver)
    assert "conformance-no-such-driver" in str(err.value), str(err.value)


@pytest.mark.observes("HostConfig.MaskedPaths", "HostConfig.ReadonlyPaths")
@pytest.mark.requires_api("HostConfig.MaskedPaths")
def test_masked_and_read_only_paths_as_asked(containers: ContainerFactory, tool_image: str) -> None:
    """``MaskedPaths`` MUST hide each path (a file reads empty) and ``ReadonlyPaths`` MUST make each
    read-only (EROFS), in place of the defaults."""
    script = "wc -c < /proc/cpuinfo; touch /tmp/x && echo wrote; " + mount_line("/tmp")
    result = containers.run_raw(tool_image, ["sh", "-c", script],
                                {"MaskedPaths": ["/proc/cpuinfo"], "ReadonlyPaths": ["/tmp"]})
    lines = result.stdout.splitlines()
    assert lines[0].strip() == "0", result.output
    assert "wrote" not in result.stdout and "read-only" in result.stderr.lower(), result.output
    assert "ro" in mount_options(lines[-1]), lines[-1]


@pytest.mark.observes("HostConfig.StorageOpt")
def test_storage_size_is_enforced_or_refused(containers: ContainerFactory, tool_image: str) -> None:
    """``StorageOpt`` ``size`` MUST either limit the container's writable layer (``df /`` shows it)
    or be refused naming why (overlay2 needs xfs with pquota) — never accepted and ignored."""
    try:
        result = containers.run_raw(tool_image, ["df", "-k", "/"], {"StorageOpt": {"size": "64M"}})
    except docker.errors.APIError as err:
        assert "size" in str(err).lower() or "storage" in str(err).lower(), str(err)
        return
    total_kib = int(result.stdout.splitlines()[1].split()[1])
    assert total_kib <= 64 * 1024 * 1.1, f"StorageOpt size=64M accepted but / has {total_kib} KiB"
