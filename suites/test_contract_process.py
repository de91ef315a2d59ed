"""The create contract, process (marker ``core-process``): what runs, how it is fed and how it is
stopped MUST follow create — ``Entrypoint`` + ``Cmd``, ``Init`` (an init as PID 1 that reaps and
forwards), stdin (``OpenStdin``/``StdinOnce``/``AttachStdin`` through attach), ``Healthcheck``
(the check runs inside the container and decides the health), ``StopTimeout`` (the grace period
before SIGKILL), ``Labels`` (what list filters select by).

Source: the Engine API's ContainerConfig (Entrypoint, Cmd, OpenStdin, StdinOnce, AttachStdin,
Healthcheck, StopTimeout since 1.25, Labels) and HostConfig (Init since 1.25) schemas; moby's
integration/container/health_test.go, stop_linux_test.go. Engine mechanics: once per engine, on
the busybox tool image.
"""

from __future__ import annotations

import socket
import time
import uuid

import docker.errors
import pytest

from fixtures.containers import ContainerFactory
from fixtures.harness import feature

pytestmark = feature("core-process")

SECOND_NS = 1_000_000_000


@pytest.mark.observes("ContainerConfig.Entrypoint", "ContainerConfig.Cmd")
def test_entrypoint_runs_with_cmd_as_its_arguments(containers: ContainerFactory, tool_image: str) -> None:
    """``Entrypoint`` MUST be the program and ``Cmd`` its arguments (exec form, no shell splitting)."""
    result = containers.run(tool_image, ["two words", "three"], entrypoint=["printf", "[%s]"])
    assert result.stdout == "[two words][three]", result.output


@pytest.mark.observes("HostConfig.Init")
@pytest.mark.requires_api("HostConfig.Init")
def test_init_runs_as_pid_1_and_reaps(containers: ContainerFactory, tool_image: str) -> None:
    """``Init`` MUST run an init as PID 1 (the command is not PID 1) that reaps orphans: a zombie
    left by an exited child is gone; without ``Init`` the command is PID 1."""
    script = "echo pid=$$; cat /proc/1/comm; (sleep 0.1 &) ; sleep 0.5; "\
             "grep -l '^State:.*Z' /proc/[0-9]*/status | wc -l"
    with_init = containers.run(tool_image, ["sh", "-c", script], init=True)
    without = containers.run(tool_image, ["sh", "-c", "echo pid=$$"])
    lines = with_init.stdout.split()
    assert lines[0] != "pid=1" and lines[1] != "sh", with_init.stdout
    assert lines[2] == "0", f"zombies left under Init: {with_init.stdout}"
    assert without.stdout.strip() == "pid=1"


@pytest.mark.observes("ContainerConfig.OpenStdin", "ContainerConfig.StdinOnce", "ContainerConfig.AttachStdin")
def test_stdin_reaches_the_process_and_closes_after_one_attach(containers: ContainerFactory,
                                                               tool_image: str) -> None:
    """With ``OpenStdin``, ``StdinOnce`` and ``AttachStdin``, what an attach writes MUST reach the
    process's stdin, and closing that attach MUST close stdin (``cat`` then exits 0)."""
    container = containers.create_raw(tool_image, ["cat"], OpenStdin=True, StdinOnce=True, AttachStdin=True)
    attached = containers.client.api.attach_socket(str(container.id), params={"stdin": 1, "stream": 1})
    raw = getattr(attached, "_sock", attached)
    container.start()
    raw.sendall(b"conformance-stdin\n")
    raw.shutdown(socket.SHUT_WR)
    result = containers.wait(container, timeout=20)
    raw.close()
    assert (result.exit_code, result.stdout) == (0, "conformance-stdin\n"), result.output


def health_of(container: object, want: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        container.reload()  # type: ignore[attr-defined]
        status = (container.attrs["State"].get("Health") or {}).get("Status", "")  # type: ignore[attr-defined]
        if status == want:
            break
        time.sleep(0.2)
    return status


@pytest.mark.observes("ContainerConfig.Healthcheck")
def test_healthcheck_runs_inside_and_decides_the_health(containers: ContainerFactory, tool_image: str) -> None:
    """``Healthcheck`` MUST run its command inside the container at its interval (the file it writes
    appears there) and its exit status MUST decide the health: 0 healthy, 1 after ``Retries`` unhealthy."""
    check = {"Interval": SECOND_NS // 2, "Timeout": 5 * SECOND_NS, "Retries": 1}
    good = containers.create_raw(tool_image, ["sleep", "60"],
                                 Healthcheck={"Test": ["CMD-SHELL", "echo ran >> /tmp/health"], **check})
    bad = containers.create_raw(tool_image, ["sleep", "60"], Healthcheck={"Test": ["CMD", "false"], **check})
    good.start()
    bad.start()
    assert health_of(good, "healthy") == "healthy"
    assert "ran" in containers.exec(good, ["cat", "/tmp/health"]).stdout
    assert health_of(bad, "unhealthy") == "unhealthy"


@pytest.mark.observes("ContainerConfig.StopTimeout")
@pytest.mark.requires_api("ContainerConfig.StopTimeout")
def test_stop_timeout_is_the_grace_before_sigkill(containers: ContainerFactory, tool_image: str) -> None:
    """``StopTimeout`` MUST be the grace period of a stop that gives none: a process ignoring SIGTERM
    is killed (137) after about that long, not after the default 10 s."""
    container = containers.create_raw(tool_image, ["sh", "-c", "trap '' TERM; while :; do sleep 0.2; done"],
                                      StopTimeout=1)
    container.start()
    started = time.monotonic()
    api = containers.client.api  # POST /stop without t: the container's own StopTimeout applies
    api.post(f"{api.base_url}/v{api.api_version}/containers/{container.id}/stop", timeout=30).raise_for_status()
    elapsed = time.monotonic() - started
    container.reload()
    assert container.attrs["State"]["ExitCode"] == 137
    assert elapsed < 8, f"stopped after {elapsed:.1f} s: StopTimeout=1 ignored"


@pytest.mark.observes("ContainerConfig.Labels")
def test_labels_select_the_container_in_list_filters(containers: ContainerFactory, tool_image: str) -> None:
    """``Labels`` MUST be kept on the container: a ``label`` filter lists exactly the container that
    has it (key and key=value), and not one without it."""
    value = uuid.uuid4().hex
    labelled = containers.create(tool_image, ["true"], labels={"io.conformance.probe": value})
    containers.create(tool_image, ["true"])
    by_pair = containers.client.containers.list(all=True, filters={"label": f"io.conformance.probe={value}"})
    assert [c.id for c in by_pair] == [labelled.id]


def test_label_filter_with_a_malformed_filter_is_refused(containers: ContainerFactory) -> None:
    """A list filter of an unknown kind MUST be refused (400), naming it."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.client.containers.list(all=True, filters={"conformance-bogus": "x"})
    assert "conformance-bogus" in str(err.value), str(err.value)
