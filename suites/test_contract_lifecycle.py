"""The create contract, lifecycle (marker ``core-lifecycle``): what happens around the process's
run MUST follow create — ``RestartPolicy`` restarts (counted by the process itself, in a volume),
``AutoRemove`` removes the container when it exits, ``Runtime`` selects a configured OCI runtime
and refuses others, ``LogConfig`` selects the log driver (``none``: nothing kept).

Source: the Engine API's HostConfig (RestartPolicy, AutoRemove since 1.25, Runtime, LogConfig)
schema; moby's integration/container/restart_test.go, autoremove tests. Engine mechanics: once
per engine, on the busybox tool image. The journald driver has its own suite (journald-logging).
"""

from __future__ import annotations

import time

import docker.errors
import pytest

from fixtures.ahead import Ahead
from fixtures.containers import ContainerFactory, RunResult
from fixtures.harness import feature

pytestmark = feature("core-lifecycle")


@pytest.mark.observes("HostConfig.RestartPolicy")
def test_on_failure_restarts_up_to_the_maximum(containers: ContainerFactory, tool_image: str) -> None:
    """``RestartPolicy`` ``on-failure`` with ``MaximumRetryCount: 2`` MUST run a failing process 3
    times in all (each run appends a line to a volume), then leave it exited."""
    volume = containers.volume()
    container = containers.create(tool_image, ["sh", "-c", "echo run >> /v/runs; exit 3"],
                                  volumes={volume.name: {"bind": "/v", "mode": "rw"}},
                                  restart_policy={"Name": "on-failure", "MaximumRetryCount": 2})
    container.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        container.reload()
        state = container.attrs["State"]
        if state["Status"] == "exited" and container.attrs.get("RestartCount", 0) >= 2:
            break
        time.sleep(0.3)
    runs = containers.run(tool_image, ["cat", "/v/runs"], volumes={volume.name: {"bind": "/v", "mode": "ro"}})
    assert runs.stdout.count("run") == 3, f"runs: {runs.stdout!r}, state {container.attrs['State']}"
    assert container.attrs["State"]["ExitCode"] == 3


def test_unknown_restart_policy_is_refused(containers: ContainerFactory, tool_image: str) -> None:
    """An unknown restart policy name MUST be refused (API 1.25 validates policies), naming it."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.create(tool_image, ["true"], restart_policy={"Name": "conformance-sometimes"})
    assert "conformance-sometimes" in str(err.value), str(err.value)


@pytest.mark.observes("HostConfig.AutoRemove")
@pytest.mark.requires_api("HostConfig.AutoRemove")
def test_auto_remove_removes_the_container_when_it_exits(containers: ContainerFactory, tool_image: str) -> None:
    """``AutoRemove`` MUST remove the container once its process exits (inspect then finds no such
    container; that this is a 404 is core_errors' concern)."""
    container = containers.create(tool_image, ["true"], auto_remove=True)
    container.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            containers.client.api.inspect_container(str(container.id))
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as err:
            if "no such container" in str(err).lower():
                return
            raise
        time.sleep(0.2)
    pytest.fail("the container still exists 20 s after its process exited")


@pytest.mark.requires_api("HostConfig.AutoRemove")
def test_auto_remove_with_a_restart_policy_is_refused(containers: ContainerFactory, tool_image: str) -> None:
    """``AutoRemove`` together with a restart policy MUST be refused: they conflict."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.create(tool_image, ["true"], auto_remove=True, restart_policy={"Name": "always"})
    assert "restart" in str(err.value).lower() or "autoremove" in str(err.value).lower().replace(" ", ""), \
        str(err.value)


@pytest.mark.observes("HostConfig.Runtime")
def test_runtime_runs_a_configured_runtime_and_refuses_others(containers: ContainerFactory,
                                                              tool_image: str) -> None:
    """``Runtime`` naming the engine's default runtime (from /info) MUST run the container; an unknown
    runtime MUST be refused, naming it."""
    info = containers.client.info()
    default = info.get("DefaultRuntime") or "runc"
    result = containers.run_raw(tool_image, ["echo", "ran"], {"Runtime": default})
    assert result.stdout == "ran\n", result.output
    with pytest.raises(docker.errors.APIError) as err:
        containers.run_raw(tool_image, ["true"], {"Runtime": "conformance-no-such-runtime"})
    assert "conformance-no-such-runtime" in str(err.value), str(err.value)


@pytest.mark.observes("HostConfig.LogConfig")
def test_log_driver_none_keeps_nothing(containers: ContainerFactory, tool_image: str) -> None:
    """``LogConfig`` ``none`` MUST keep no output: reading the logs is refused or empty, where the
    default driver keeps the line."""
    container = containers.create(tool_image, ["echo", "conformance-log-line"], log_config={"Type": "none"})
    container.start()
    containers.client.api.wait(str(container.id), timeout=20)
    try:
        kept = container.logs()
    except docker.errors.APIError:
        kept = b""
    assert b"conformance-log-line" not in kept
    assert containers.run(tool_image, ["echo", "conformance-log-line"]).stdout == "conformance-log-line\n"


def run_with_unknown_log_driver(containers: ContainerFactory, tool_image: str) -> RunResult:
    """Asked when the run starts: Moby looks for a plugin it lacks for 15 s before refusing."""
    return containers.run(tool_image, ["true"], log_config={"Type": "conformance-no-such-driver"})


@pytest.mark.ahead.with_args(run_with_unknown_log_driver)
def test_unknown_log_driver_is_refused(ahead: Ahead) -> None:
    """An unknown log driver MUST be refused (the wording apart: test_unknown_log_driver_refusal_names_it)."""
    with pytest.raises(docker.errors.APIError):
        ahead.result(run_with_unknown_log_driver)


@pytest.mark.ahead.with_args(run_with_unknown_log_driver)
def test_unknown_log_driver_refusal_names_it(ahead: Ahead) -> None:
    """The refusal of an unknown log driver SHOULD name it (what an operator must correct)."""
    with pytest.raises(docker.errors.APIError) as err:
        ahead.result(run_with_unknown_log_driver)
    assert "conformance-no-such-driver" in str(err.value), str(err.value)
