"""Feature ``core``: what every engine must do for the rest of the suite to mean anything.

Source: the Docker Engine API contract (create/start/wait/logs/exec) as moby's integration tests
exercise it. Every test runs on each selected distro's base image and asserts what the process
inside the container observes, not only what the API answered. Observations that cannot mask
one another share a container (``SET`` for the fields asked, ``DEFAULT`` for the controls:
fixtures/shared.py); each test still reads only its own.
"""

from __future__ import annotations

import uuid

import docker.errors
import pytest
from docker.models.containers import Container

from fixtures.containers import ContainerFactory
from fixtures.harness import feature
from fixtures.images import ImageProvider
from fixtures.shared import Probe, batched

pytestmark = feature("core")

CAP_CHOWN = 0  # bit numbers in /proc/<pid>/status CapEff
CAP_SYS_ADMIN = 21


MEMORY_LIMIT_SCRIPT = (
    "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes"
)
ROOTFS_WRITE = "touch /conformance-probe && echo wrote; grep ' / ' /proc/mounts | head -n1"
CHOWN = "cat /proc/self/status; touch /tmp/f; chown 1:1 /tmp/f && echo chowned"
MOUNT = "grep CapEff /proc/self/status; mkdir -p /tmp/m && mount -t tmpfs none /tmp/m && echo mounted"
ENV = {"CONF_A": "hello world", "CONF_B": "x=y=z", "CONF_EMPTY": ""}
SET = {  # fields set together, as root: none of them changes what another's probe reads
    "Env": Probe("env", config={"Env": [f"{k}={v}" for k, v in ENV.items()]}),
    "WorkingDir": Probe("pwd; test -d /srv/conformance/wd && echo dir", config={"WorkingDir": "/srv/conformance/wd"}),
    "Hostname": Probe("hostname; cat /proc/sys/kernel/hostname", config={"Hostname": "conformance-h1"}),
    "CapDrop": Probe(CHOWN, {"CapDrop": ["CHOWN"]}),
    "Memory": Probe(MEMORY_LIMIT_SCRIPT, {"Memory": 96 * 1024 * 1024}),
}
DEFAULT = {"rootfs": Probe(ROOTFS_WRITE), "chown": Probe(CHOWN), "mount": Probe(MOUNT)}  # the controls


def cap_eff(status: str) -> int:
    line = next(line for line in status.splitlines() if line.startswith("CapEff:"))
    return int(line.split()[1], 16)


@pytest.mark.observes("ContainerConfig.Cmd", "ContainerConfig.Image")
@pytest.mark.parametrize("code", [0, 1, 42, 255])
def test_exit_code_is_reported_by_wait(containers: ContainerFactory, base_image: str, code: int) -> None:
    """The engine MUST report the main process's exit status through wait (Engine API /wait)."""
    result = containers.run(base_image, ["sh", "-c", f"exit {code}"])
    assert result.exit_code == code


def test_exit_code_of_signal_death_is_128_plus_signal(containers: ContainerFactory, base_image: str) -> None:
    """A main process killed by a signal MUST be reported as 128+signal (kill SIGKILL: 137)."""
    container = containers.start(base_image, ["sleep", "300"])
    container.kill(signal="SIGKILL")
    assert containers.wait(container).exit_code == 137
    container.reload()
    assert container.attrs["State"]["ExitCode"] == 137
    assert container.attrs["State"]["Running"] is False


@pytest.mark.observes("ContainerConfig.Env")
def test_env_reaches_the_process(containers: ContainerFactory, base_image: str) -> None:
    """``Env`` MUST reach the process verbatim: spaces, '=' in values, empty values."""
    result = batched(containers, base_image, SET, "Env")
    assert result.exit_code == 0, result.stderr
    lines = set(result.stdout.splitlines())
    assert {"CONF_A=hello world", "CONF_B=x=y=z", "CONF_EMPTY="} <= lines


@pytest.mark.observes("ContainerConfig.User")
def test_user_sets_uid_and_gid(containers: ContainerFactory, base_image: str) -> None:
    """``User`` ``uid:gid`` MUST set the process's real and effective ids (also ids with no passwd entry)."""
    result = containers.run(base_image, ["sh", "-c", "id -u; id -g; id -ru; id -rg"], user="1234:5678")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == ["1234", "5678", "1234", "5678"]


@pytest.mark.observes("ContainerConfig.User")
def test_user_name_is_resolved_in_the_image(containers: ContainerFactory, base_image: str) -> None:
    """``User`` given as a name MUST be resolved with the image's /etc/passwd (nobody = 65534)."""
    result = containers.run(base_image, ["id", "-u"], user="nobody")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "65534"


def test_unknown_user_name_is_refused(containers: ContainerFactory, base_image: str) -> None:
    """A user name absent from the image MUST NOT run the process (refused at create or start)."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.run(base_image, ["id", "-u"], user="no-such-user-conformance")
    assert "no-such-user-conformance" in str(err.value)


@pytest.mark.observes("ContainerConfig.WorkingDir")
def test_workdir_sets_cwd_and_is_created(containers: ContainerFactory, base_image: str) -> None:
    """``WorkingDir`` MUST be the process's cwd, created when the image lacks it."""
    result = batched(containers, base_image, SET, "WorkingDir")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == ["/srv/conformance/wd", "dir"]


@pytest.mark.observes("ContainerConfig.Hostname")
def test_hostname_is_set_in_uts_namespace(containers: ContainerFactory, base_image: str) -> None:
    """``Hostname`` MUST be the container's UTS hostname (uname and /proc agree)."""
    result = batched(containers, base_image, SET, "Hostname")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == ["conformance-h1", "conformance-h1"]


@pytest.mark.observes("HostConfig.ReadonlyRootfs")
@pytest.mark.cis("5.12")
def test_read_only_rootfs_refuses_writes(containers: ContainerFactory, base_image: str) -> None:
    """``ReadonlyRootfs`` MUST mount / read-only: writes fail with EROFS; a writable run succeeds."""
    ro = containers.run(base_image, ["sh", "-c", ROOTFS_WRITE], read_only=True)
    assert "wrote" not in ro.stdout
    assert "Read-only file system" in ro.stderr
    root_mount_options = ro.stdout.split()[3].split(",")
    assert "ro" in root_mount_options
    rw = batched(containers, base_image, DEFAULT, "rootfs")
    assert "wrote" in rw.stdout, rw.stderr
    assert "rw" in rw.stdout.split()[4].split(",")


READ_ONLY_WRITES = ("for p in /conformance-probe /etc/conformance-probe; do touch $p 2>&1 && echo wrote $p; done; "
                    "mkdir /conformance-dir 2>&1 && echo made-dir; touch /dev/shm/conformance-probe && echo control")


@pytest.mark.observes("HostConfig.ReadonlyRootfs")
@pytest.mark.cis("5.12")
def test_read_only_rootfs_refuses_writes_from_exec(containers: ContainerFactory, base_image: str) -> None:
    """``ReadonlyRootfs`` MUST hold for every process of the container, an exec'd one too: writing a file in /
    and in /etc and making a directory in / fail with EROFS, while a tmpfs (/dev/shm) stays writable (a second
    observation beside test_read_only_rootfs_refuses_writes, through exec instead of the container's process)."""
    container = containers.start(base_image, ["sleep", "600"], read_only=True)
    result = containers.exec(container, ["sh", "-c", READ_ONLY_WRITES])
    assert "control" in result.stdout, result.stdout + result.stderr
    assert "wrote" not in result.stdout and "made-dir" not in result.stdout, result.stdout
    assert result.stdout.count("Read-only file system") == 3, result.stdout


@pytest.mark.observes("HostConfig.CapDrop")
@pytest.mark.cis("5.3")
def test_cap_drop_removes_the_capability(containers: ContainerFactory, base_image: str) -> None:
    """``CapDrop`` MUST remove the capability: absent from CapEff, and chown then fails with EPERM."""
    dropped = batched(containers, base_image, SET, "CapDrop")
    assert not cap_eff(dropped.stdout) & (1 << CAP_CHOWN)
    assert "chowned" not in dropped.stdout
    assert "Operation not permitted" in dropped.stderr
    kept = batched(containers, base_image, DEFAULT, "chown")
    assert cap_eff(kept.stdout) & (1 << CAP_CHOWN)
    assert "chowned" in kept.stdout, kept.stderr


@pytest.mark.observes("HostConfig.CapDrop")
@pytest.mark.cis("5.3")
def test_cap_drop_all_leaves_no_effective_capability(containers: ContainerFactory, base_image: str) -> None:
    """``CapDrop: [ALL]`` MUST leave CapEff (and CapBnd) empty."""
    result = containers.run(base_image, ["grep", "-E", "^Cap(Eff|Bnd):", "/proc/self/status"], cap_drop=["ALL"])
    assert result.exit_code == 0, result.stderr
    values = {line.split()[0]: int(line.split()[1], 16) for line in result.stdout.splitlines()}
    assert values == {"CapEff:": 0, "CapBnd:": 0}


@pytest.mark.observes("HostConfig.CapAdd")
def test_cap_add_grants_the_capability(containers: ContainerFactory, base_image: str) -> None:
    """``CapAdd`` MUST add the capability: SYS_ADMIN in CapEff, and mounting a tmpfs then works where
    a default container is refused."""
    added = containers.run(base_image, ["sh", "-c", MOUNT], cap_add=["SYS_ADMIN"])
    plain = batched(containers, base_image, DEFAULT, "mount")
    assert cap_eff(added.stdout) & (1 << CAP_SYS_ADMIN), added.stdout
    assert "mounted" in added.stdout, added.stderr
    assert not cap_eff(plain.stdout) & (1 << CAP_SYS_ADMIN) and "mounted" not in plain.stdout, plain.output


def test_unknown_capability_is_refused(containers: ContainerFactory, base_image: str) -> None:
    """An unknown capability name MUST be refused, naming it (not silently ignored)."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.run(base_image, ["true"], cap_add=["CAP_NO_SUCH_THING"])
    assert "NO_SUCH_THING" in str(err.value).upper()


@pytest.mark.observes("HostConfig.Memory")
@pytest.mark.requires("cgroup-memory")
@pytest.mark.cis("5.10")
def test_memory_limit_is_the_cgroup_limit(containers: ContainerFactory, base_image: str) -> None:
    """``Memory`` MUST become the container cgroup's memory limit (memory.max / limit_in_bytes)."""
    result = batched(containers, base_image, SET, "Memory")
    assert result.exit_code == 0, result.stderr
    assert int(result.stdout.strip()) == 96 * 1024 * 1024


@pytest.mark.requires("cgroup-memory")
def test_memory_limit_is_recorded_in_inspect(containers: ContainerFactory, base_image: str) -> None:
    """Inspect MUST round-trip ``HostConfig.Memory``."""
    container = containers.create(base_image, ["true"], mem_limit="80m")
    container.reload()
    assert container.attrs["HostConfig"]["Memory"] == 80 * 1024 * 1024


def test_logs_keep_stdout_and_stderr_apart(containers: ContainerFactory, base_image: str) -> None:
    """Logs MUST keep the streams apart and in order within each stream."""
    result = containers.run(base_image, ["sh", "-c", "echo out1; echo err1 >&2; echo out2; echo err2 >&2"])
    assert result.exit_code == 0
    assert result.stdout == "out1\nout2\n"
    assert result.stderr == "err1\nerr2\n"


@pytest.fixture(scope="module")
def exec_target(module_containers: ContainerFactory, base_image: str) -> Container:
    """A running container the exec tests share: hostname, user, environment and working directory
    of its own, which each exec's own settings must override."""
    return module_containers.start(base_image, ["sleep", "600"], hostname="conformance-exec", user="1000",
                                   environment={"CONF_C": "container"}, working_dir="/")


def test_exec_reports_its_exit_code_and_streams(containers: ContainerFactory, exec_target: Container) -> None:
    """Exec MUST run in the container and report the exec'd process's exit code and streams."""
    result = containers.exec(exec_target, ["sh", "-c", "hostname; echo oops >&2; exit 7"])
    assert (result.exit_code, result.stdout, result.stderr) == (7, "conformance-exec\n", "oops\n")


def test_exec_honours_its_user(containers: ContainerFactory, exec_target: Container) -> None:
    """Exec MUST run as its own user, not the container's."""
    result = containers.exec(exec_target, ["id", "-u"], user="4321")
    assert (result.exit_code, result.stdout.strip()) == (0, "4321"), result.stderr


@pytest.mark.requires_api("exec Env")
def test_exec_honours_its_environment(containers: ContainerFactory, exec_target: Container) -> None:
    """Exec MUST add its own ``Env`` to the container's (API 1.25)."""
    result = containers.exec(exec_target, ["sh", "-c", 'echo "$CONF_X $CONF_C"'], environment={"CONF_X": "exec-env"})
    assert (result.exit_code, result.stdout) == (0, "exec-env container\n"), result.stderr


@pytest.mark.requires_api("exec WorkingDir")
def test_exec_honours_its_working_dir(containers: ContainerFactory, exec_target: Container) -> None:
    """Exec MUST start in its own ``WorkingDir`` (API 1.35), not the container's."""
    result = containers.exec(exec_target, ["pwd"], workdir="/tmp")
    assert (result.exit_code, result.stdout) == (0, "/tmp\n"), result.stderr


@pytest.mark.observes("ContainerConfig.Tty")
def test_tty_gives_the_process_a_pseudo_terminal(containers: ContainerFactory, base_image: str) -> None:
    """``Tty`` MUST give the process a terminal as stdin and stdout (``test -t``; ``tty`` names a character
    device: which one is not specified — runc gives ``/dev/pts/N``, Red Hat docker 1.13's runc ``/dev/console``);
    the terminal's output then ends lines with CRLF."""
    script = 'test -t 0 && echo in-is-a-tty; test -t 1 && echo out-is-a-tty; test -c "$(tty)" && echo tty-is-a-device'
    result = containers.run(base_image, ["sh", "-c", script], tty=True)
    said = f"exit {result.exit_code}, output {result.stdout!r}"
    assert result.exit_code == 0, said
    assert result.stdout.split("\r\n") == ["in-is-a-tty", "out-is-a-tty", "tty-is-a-device", ""], said


def test_missing_executable_is_refused(containers: ContainerFactory, base_image: str) -> None:
    """A command that does not exist in the image MUST NOT start; the error names it."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.run(base_image, ["/no/such/conformance-binary"])
    assert "conformance-binary" in str(err.value)


def test_named_volume_keeps_data_across_containers(containers: ContainerFactory, base_image: str) -> None:
    """A named volume MUST keep what one container wrote for the next one, and be removable."""
    volume = containers.volume()
    mount = {volume.name: {"bind": "/vol", "mode": "rw"}}
    wrote = containers.run(base_image, ["sh", "-c", "echo kept-$((6*7)) > /vol/file"], volumes=mount)
    assert wrote.exit_code == 0, wrote.stderr
    read = containers.run(base_image, ["cat", "/vol/file"], volumes=mount)
    assert read.stdout == "kept-42\n"
    volume.reload()
    assert volume.attrs["Mountpoint"]


@pytest.mark.observes("ContainerConfig.Image")
def test_build_records_each_instruction_as_config_and_layers(
    containers: ContainerFactory, images: ImageProvider, base_image: str
) -> None:
    """A build MUST apply ENV/WORKDIR/LABEL/CMD to the image config and add a layer per RUN/COPY,
    and a container of it MUST see the built files."""
    dockerfile = ("FROM {base}\nENV CONF_BUILT=yes\nRUN echo one > /layer-one\nCOPY payload /layer-two\n"
                  "WORKDIR /tmp\nLABEL io.conformance.kind=core-build\nCMD [\"cat\", \"/layer-one\", \"/layer-two\"]\n")
    ref = images.derived("core-build", dockerfile, base_image, {"payload": b"two\n"})
    image = images.client.images.get(ref)
    base = images.client.images.get(base_image)
    config = image.attrs["Config"]
    assert "CONF_BUILT=yes" in config["Env"]
    assert config["WorkingDir"] == "/tmp"
    assert config["Labels"]["io.conformance.kind"] == "core-build"
    assert config["Cmd"] == ["cat", "/layer-one", "/layer-two"]
    assert len(image.attrs["RootFS"]["Layers"]) == len(base.attrs["RootFS"]["Layers"]) + 2
    result = containers.run(ref)
    assert (result.exit_code, result.stdout) == (0, "one\ntwo\n")


def test_image_tag_points_at_the_same_image_and_removing_it_keeps_the_image(
    containers: ContainerFactory, base_image: str
) -> None:
    """Tagging MUST give another name to the same image; removing that tag MUST leave the image."""
    client = containers.client
    ref = containers.tag(base_image, "localhost/conformance/core-tag", uuid.uuid4().hex[:12])
    assert client.images.get(ref).id == client.images.get(base_image).id
    client.images.remove(ref, noprune=True)
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(ref)
    assert client.images.get(base_image).id
