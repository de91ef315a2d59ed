"""Feature ``oci-hooks-dir``: hooks from the engine's hooks directory run at prestart and poststop
(docker PR 17021, "dockerhooks"; Podman's hooks_dir with JSON hooks version 1.0.0).

An operator installs hooks in the engine's hooks directory (fixtures/operator.py finds it: Podman's
``hooks_dir``, Red Hat docker's /usr/libexec/oci/hooks.d; upstream Moby has none, and these tests
fail with what was probed). Then:

- a prestart hook MUST run for a container before its process, with the OCI state on stdin: the
  container's id, the pid of its process, and its bundle (a directory holding config.json);
- a poststop hook MUST run after the process exited, when the container is deleted (the process
  is gone, status ``stopped``);
- ``when.commands`` MUST select the containers whose args[0] matches and exclude the others, and
  ``when.annotations`` those carrying a matching annotation (set with ``HostConfig.Annotations``
  from API 1.43, through Podman's libpod API before that; not applicable otherwise);
- a failing prestart hook MUST stop the container from starting, the start answering an error
  that carries what the hook said (its stderr), and the process MUST never run.

Podman 4.3's compatible API passes no annotations (nor labels) to hooks: checked. Hooks are
selected by args[0] spelled as nobody else spells it (``/bin/./sh``), or by an annotation of the
test's own, so concurrent tests' containers never match.
"""

from __future__ import annotations

from typing import Any

import docker.errors
import pytest

from fixtures.engine import EngineFacts
from fixtures.harness import feature
from fixtures.operator import (
    REFUSED,
    SELECTOR,
    Operator,
    create_annotated,
    finished_at,
    record,
    run_selected,
    wait_for,
)

pytestmark = feature("oci-hooks-dir")


def test_prestart_hook_receives_the_container_state(operator: Operator, tool_image: str) -> None:
    """A prestart hook MUST run with the container's state on stdin: id = the container's (its records are filed
    under it) and pid = its process, seen running (docker PR 17021, OCI runtime spec hooks)."""
    hook = operator.hook(["prestart"], SELECTOR)
    container = run_selected(operator, tool_image, "sleep 30")
    container.reload()
    state = wait_for(operator, hook, container.id, "prestart.state")
    assert state is not None, f"the prestart hook in {operator.site.hooks_dir} did not run for {container.id[:12]}"
    assert record(operator.host, hook, container.id, "prestart.pid") == str(container.attrs["State"]["Pid"]), state


def test_prestart_hooks_state_names_the_bundle(operator: Operator, tool_image: str) -> None:
    """The state a prestart hook receives SHOULD name the bundle, a directory holding config.json, in the
    ``bundle`` field of runtime-spec 1.0 (pre-1.0 runtimes wrote ``bundlePath``): a detail of the state apart
    from the hook running, which test_prestart_hook_receives_the_container_state asserts."""
    hook = operator.hook(["prestart"], SELECTOR)
    container = run_selected(operator, tool_image, "sleep 30")
    state = wait_for(operator, hook, container.id, "prestart.state")
    assert state is not None, f"the prestart hook in {operator.site.hooks_dir} did not run for {container.id[:12]}"
    assert record(operator.host, hook, container.id, "prestart.config-json") == "yes", (
        f"the state's bundle holds no config.json: {state}")


def test_poststop_hook_runs_when_the_container_is_deleted(operator: Operator, tool_image: str) -> None:
    """A poststop hook MUST run once the container's process has exited, when the container is deleted and
    before the delete returns (docker PR 17021 "using PreStart and PostStop"; OCI runtime spec, lifecycle
    step 12): its process is gone, and not before the engine's FinishedAt."""
    hook = operator.hook(["prestart", "poststop"], SELECTOR)
    container = run_selected(operator, tool_image)
    assert operator.containers.wait(container).exit_code == 0
    exited = finished_at(container)
    container.remove()
    ran = record(operator.host, hook, container.id, "poststop.time")
    assert ran is not None, f"no poststop hook had run for {container.id[:12]} when its delete returned"
    assert record(operator.host, hook, container.id, "poststop.process") in ("gone", None)
    assert float(ran) >= exited - 0.05, "the poststop hook ran before the process had exited"


def test_poststop_hooks_state_says_stopped(operator: Operator, tool_image: str) -> None:
    """The state a poststop hook receives SHOULD say ``"status": "stopped"`` (runtime-spec 1.0 state; the
    pre-1.0 state had no status): a detail apart from the hook running, which
    test_poststop_hook_runs_when_the_container_is_deleted asserts."""
    hook = operator.hook(["prestart", "poststop"], SELECTOR)
    container = run_selected(operator, tool_image)
    assert operator.containers.wait(container).exit_code == 0
    container.remove()
    state = record(operator.host, hook, container.id, "poststop.state")
    assert state is not None, f"no poststop hook had run for {container.id[:12]} when its delete returned"
    assert '"stopped"' in state, state


def test_when_commands_select_and_exclude(operator: Operator, tool_image: str) -> None:
    """``when.commands`` MUST run the hook for a container whose args[0] matches and MUST NOT for one whose
    args[0] does not (hooks 1.0.0 ``when``)."""
    operator.require_conditions()
    hook = operator.hook(["prestart"], SELECTOR)
    selected = run_selected(operator, tool_image)
    other = operator.containers.start(tool_image, ["/bin/sh", "-c", "exit 0"])
    for c in (selected, other):
        assert operator.containers.wait(c).exit_code == 0
    assert wait_for(operator, hook, selected.id, "prestart.state") is not None, "the selected container was not hooked"
    assert record(operator.host, hook, str(other.id), "prestart.state") is None, (
        "the hook ran for a container whose args[0] (/bin/sh) its when.commands does not match")


def test_when_annotations_select_and_exclude(operator: Operator, tool_image: str, engine_facts: EngineFacts) -> None:
    """``when.annotations`` MUST run the hook for a container carrying an annotation whose key and value match,
    and MUST NOT for one whose value does not (hooks 1.0.0 ``when``)."""
    operator.require_conditions()
    key = f"io.conformance.hook-{operator.token}"
    hook = operator.hook(["prestart"], annotations={f"^{key.replace('.', '[.]')}$": "^yes$"})
    selected = create_annotated(operator, tool_image, ["true"], {key: "yes"}, engine_facts)
    other = create_annotated(operator, tool_image, ["true"], {key: "no"}, engine_facts)
    for c in (selected, other):
        c.start()
        assert operator.containers.wait(c).exit_code == 0
    assert wait_for(operator, hook, str(selected.id), "prestart.state") is not None, (
        f"the container annotated {key}=yes was not hooked")
    assert record(operator.host, hook, str(other.id), "prestart.state") is None, (
        f"the hook ran for a container annotated {key}=no")


def refused_start(operator: Operator, tool_image: str, host_dir: str) -> tuple[str, Any, docker.errors.APIError]:
    """A prestart hook that refuses with a message of its own on stderr, and the start it refuses: the message,
    the container and the start's error."""
    message = f"conformance-hook-{operator.token} refuses this container"
    operator.hook(["prestart"], [r"^/bin//sh$"], refuse=message)
    container = operator.containers.create(tool_image, [REFUSED, "-c", "echo ran > /data/ran"],
                                           volumes=[f"{host_dir}:/data"])
    with pytest.raises(docker.errors.APIError) as refused:
        container.start()
    return message, container, refused.value


def test_failing_prestart_hook_stops_the_start(operator: Operator, tool_image: str, host_dir: str) -> None:
    """A prestart hook that fails MUST stop the container from starting: the start is refused, and the
    container's process never runs (runtime-spec config.md, Prestart: a failing hook is an error returned to the
    caller, and the container is torn down)."""
    _, container, _ = refused_start(operator, tool_image, host_dir)
    container.reload()
    assert container.attrs["State"]["Running"] is False
    assert not operator.host.file(f"{host_dir}/ran").exists, "the container's process ran despite the failing hook"


def test_failing_prestart_hooks_stderr_reaches_the_start_error(operator: Operator, tool_image: str,
                                                               host_dir: str) -> None:
    """The refused start's error SHOULD carry the failing hook's stderr, so the caller learns why (runtime-spec
    before 1.0, config.md: "an error including the exit code and the stderr is returned to the caller"; runc
    and Red Hat's runc name it, crun 1.28 under Podman 5.8.6 gives only the exit code: observed)."""
    message, _, error = refused_start(operator, tool_image, host_dir)
    assert message in str(error.explanation or error), error
