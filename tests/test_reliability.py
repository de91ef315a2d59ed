"""Reliability: the suite never touches what it did not make, cleans up after itself (also when
killed, interrupted or run in parallel), and ends in bounded time when the engine misbehaves.

These run the real suite in a child process against real engines: the managed dockerd, or a
private dockerd this module starts so it may stop (SIGSTOP) or kill (SIGKILL) it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from fixtures.containers import LABEL_OWNER, LABEL_RUN
from fixtures.launcher import processes_mentioning
from fixtures.lifecycle import owner_label, sweep
from tests.conftest import run_pytest, spawn_pytest
from tests.defects import Knobs, proxy
from tests.engines import fake_engine, private_dockerd

BUSYBOX = "localhost/conformance-base/busybox:static"
FAST = ["suites/test_core.py", "--distro=busybox"]


@pytest.fixture
def client(engine_url: str) -> Iterator[docker.DockerClient]:
    c = docker.DockerClient(base_url=engine_url, timeout=60)
    yield c
    c.close()


def run_objects(client: docker.DockerClient, run_id: str) -> list[str]:
    flt: dict[str, Any] = {"label": f"{LABEL_RUN}={run_id}"}
    return ([f"container {c.short_id}" for c in client.containers.list(all=True, filters=flt, sparse=True)]
            + [f"volume {v.name}" for v in client.volumes.list(filters=flt)]
            + [f"network {n.name}" for n in client.networks.list(filters=flt)])


def dead_owner() -> str:
    """The owner label of a process that has exited (a run killed with SIGKILL)."""
    proc = subprocess.Popen(["sleep", "0.3"])
    label = owner_label(proc.pid)
    proc.wait()
    return label


@pytest.fixture
def foreign(client: docker.DockerClient) -> Iterator[dict[str, Any]]:
    """Objects the suite did not make: unlabelled ones, and ones of a concurrent (live) run."""
    tag = uuid.uuid4().hex[:8]
    live = {LABEL_RUN: f"other-{tag}", LABEL_OWNER: owner_label()}
    made: dict[str, Any] = {
        "plain": client.containers.create(BUSYBOX, ["true"], name=f"foreign-{tag}"),
        "live-run": client.containers.create(BUSYBOX, ["true"], labels=live),
        "volume": client.volumes.create(f"foreign-{tag}"),
        "network": client.networks.create(f"foreign-{tag}", driver="bridge", internal=True),
    }
    yield made
    made["plain"].remove(force=True)
    made["live-run"].remove(force=True)
    made["volume"].remove(force=True)
    made["network"].remove()


def test_foreign_objects_survive_a_parallel_run(client: docker.DockerClient, engine_url: str,
                                                foreign: dict[str, Any]) -> None:
    """Only objects with the run's own label are removed, with -n 2 too."""
    run = run_pytest(*FAST, f"--engine-url={engine_url}", "-n", "2")
    assert run.returncode == 0, run.output[-2000:]
    for obj in foreign.values():
        obj.reload()  # raises NotFound if the run removed it


@pytest.mark.exclusive  # its dead run's objects are any run's to reap
def test_objects_of_a_dead_run_are_reaped_at_start(client: docker.DockerClient, engine_url: str) -> None:
    """Objects whose owner process is gone are removed at the next start; --no-reap keeps them."""
    labels = {LABEL_RUN: f"dead-{uuid.uuid4().hex[:8]}", LABEL_OWNER: dead_owner()}

    def leave() -> tuple[Any, Any]:
        return (client.containers.create(BUSYBOX, ["sleep", "60"], labels=labels),
                client.volumes.create(f"dead-{uuid.uuid4().hex[:8]}", labels=labels))

    container, volume = leave()
    try:
        kept = run_pytest(f"{FAST[0]}::test_env_reaches_the_process", FAST[1], f"--engine-url={engine_url}",
                          "--no-reap")
        assert kept.returncode == 0, kept.output[-2000:]
        container.reload()
        volume.reload()
        reaped = run_pytest(f"{FAST[0]}::test_env_reaches_the_process", FAST[1], f"--engine-url={engine_url}")
        assert reaped.returncode == 0, reaped.output[-2000:]
        assert "reaped 2 object(s)" in reaped.output
        assert run_objects(client, labels[LABEL_RUN]) == []
    finally:
        for obj in (container, volume):
            try:
                obj.remove(force=True)
            except docker.errors.NotFound:
                pass


def wait_for(predicate: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("jobs", ["0", "2"])
def test_interruption_cleans_up_and_reports(client: docker.DockerClient, engine_url: str, signum: int,
                                            jobs: str) -> None:
    """Ctrl-C or SIGTERM mid-run: non-zero exit, the summary so far, and nothing of the run left."""
    run_id = f"int-{uuid.uuid4().hex[:8]}"
    proc = spawn_pytest("suites/test_stop_signal.py", "suites/test_core.py", "--distro=busybox",
                        f"--engine-url={engine_url}", f"--run-id={run_id}", "-n", jobs)
    try:
        assert wait_for(lambda: run_objects(client, run_id), 60), "the run never made a container"
        proc.send_signal(signum)
        output, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert "conformance: docker" in output  # the per-feature summary of what ran
    assert "Interrupted" in output or "KeyboardInterrupt" in output
    assert wait_for(lambda: not run_objects(client, run_id), 10), run_objects(client, run_id)


def test_parallel_runs_give_the_same_results(engine_url: str, tmp_path: Path) -> None:
    """-n 0, -n 2 and -n 4 give the same outcome for every test."""
    outcomes = {}
    for jobs in ("0", "2", "4"):
        report = tmp_path / jobs
        run = run_pytest("suites/test_core.py", "suites/test_stop_signal.py", "suites/test_sysctls.py",
                         "--distro=busybox", f"--engine-url={engine_url}", "-n", jobs, f"--report-dir={report}")
        assert run.returncode == 0, run.output[-2000:]
        results = json.loads(next(report.glob("results-*.json")).read_text())["results"]
        outcomes[jobs] = {r["test"]: r["outcome"] for r in results}
    assert outcomes["0"] == outcomes["2"] == outcomes["4"]
    assert len(outcomes["0"]) > 40


SYSCTL_KEYS = ["net/core/somaxconn", "kernel/shmmax", "kernel/msgmax", "kernel/sem", "fs/mqueue/msg_max",
               "vm/swappiness", "kernel/hostname"]


# Where engines keep what they mount (their data and state roots): other daemons mount and unmount there
# meanwhile, so only the host's own mounts and what the run's engine leaves behind are compared.
ENGINE_PLACES = ("/var/lib/conformance", "/var/lib/docker", "/var/lib/containers", "/run/docker", "/run/netns",
                 "/run/containers", "/run/conformance", "/run/user", "/run/libpod", "/run/crun", "/run/runc")


def mounts() -> dict[str, str]:
    """Mount point → root, options, propagation, type and source (mountinfo without the ids)."""
    found = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        found[fields[4]] = " ".join([fields[3], *fields[5:]])
    return found


def host_state() -> dict[str, str]:
    state = {key: Path("/proc/sys", key).read_text() for key in SYSCTL_KEYS}
    state["host mounts"] = "\n".join(f"{k} {v}" for k, v in sorted(mounts().items())
                                     if not k.startswith(ENGINE_PLACES))
    return state


def left_mounts(before: dict[str, str], engine_root: str) -> list[str]:
    """Mounts the run can have left: new ones below its engine's root or the suite's temporary dirs."""
    return sorted(k for k in set(mounts()) - set(before) if k.startswith((engine_root + "/", "/tmp/conformance")))


@pytest.mark.exclusive
def test_host_sysctls_and_mounts_are_as_before(client: docker.DockerClient, engine_url: str) -> None:
    """After the suites that touch sysctls, mounts and capabilities, the host is as it was — its sysctls, its
    own mounts (options and propagation) — no mount is left below the engine's root, and no container of
    the run (with added capabilities or relaxed seccomp) still runs."""
    before, before_mounts = host_state(), mounts()
    run_id = f"host-{uuid.uuid4().hex[:8]}"
    run = run_pytest("suites/test_sysctls.py", "suites/test_volume_rprivate_archive.py",
                     "suites/test_seccomp_ns_syscalls.py", "--distro=busybox", f"--engine-url={engine_url}",
                     f"--run-id={run_id}", "-n", "2")
    assert run.returncode == 0, run.output[-2000:]
    assert host_state() == before
    assert left_mounts(before_mounts, str(client.info()["DockerRootDir"])) == []
    assert run_objects(client, run_id) == []
    relaxed = [c.name for c in client.containers.list()
               if c.attrs["HostConfig"].get("CapAdd") or c.attrs["HostConfig"].get("SecurityOpt")]
    assert relaxed == []


# -- misbehaving engines ---------------------------------------------------------------------------
def run_until_engine_fails(engine_url: str, watch: docker.DockerClient, break_engine: Callable[[], None],
                           timeout: str) -> tuple[int, str, float]:
    """Starts a serial run, breaks the engine once the run has made a container; the run's exit code,
    output and how long it went on after the engine broke."""
    run_id = f"broken-{uuid.uuid4().hex[:8]}"
    proc = spawn_pytest(*FAST, f"--engine-url={engine_url}", f"--run-id={run_id}", f"--engine-timeout={timeout}",
                        "-p", "no:xdist")
    try:
        assert wait_for(lambda: run_objects(watch, run_id), 120), "the run never made a container"
        break_engine()
        broken_at = time.monotonic()
        output, _ = proc.communicate(timeout=120)
        elapsed = time.monotonic() - broken_at
    finally:
        if proc.poll() is None:
            proc.kill()
    with contextlib.suppress(docker.errors.DockerException, OSError):
        sweep(watch, run_id)  # where the engine still works: remove what the broken run could not
    return proc.returncode, output, elapsed


@pytest.mark.parametrize("signum", [signal.SIGSTOP, signal.SIGKILL], ids=["SIGSTOP", "SIGKILL"])
def test_engine_that_stops_answering_ends_the_run_quickly(signum: int) -> None:
    """An engine that hangs (SIGSTOP) or dies (SIGKILL) mid-run: tests fail saying so, and the run ends
    within one call timeout plus the ping (then every remaining test fails at once, no end-of-run sweep).
    Stopping the killed engine leaves none of its containerd, shims or container processes running."""
    with private_dockerd() as engine:
        watch = docker.DockerClient(base_url=engine.url, timeout=5)
        code, output, elapsed = run_until_engine_fails(engine.url, watch, lambda: os.kill(engine.process.pid, signum),
                                                       timeout="4")
        watch.close()
        root = engine.root
    assert code == 1, output[-2000:]
    assert "engine stopped answering" in output
    assert elapsed < 4 + 4 + 6, f"the run took {elapsed:.0f} s after the engine stopped (timeout 4 s, ping 4 s)"
    assert "Traceback" not in output.split("short test summary")[-1]
    assert processes_mentioning(str(root)) == []


def test_engine_that_turns_slow_ends_the_run_quickly(client: docker.DockerClient, engine_url: str) -> None:
    """An engine whose answers slow down past the call timeout mid-run: tests fail saying the engine
    stopped answering, and the run ends in bounded time."""
    knobs = Knobs(lambda spec: None)
    with proxy(engine_url.removeprefix("unix://"), knobs) as url:
        code, output, elapsed = run_until_engine_fails(url, client, lambda: setattr(knobs, "delay", 8.0),
                                                       timeout="3")
    assert code == 1, output[-2000:]
    assert "engine stopped answering" in output and "timed out" in output.lower()
    assert elapsed < 3 + 3 + 6, f"the run took {elapsed:.0f} s after the engine slowed down (timeout 3 s, ping 3 s)"


def test_garbage_answering_engine_is_one_clear_line() -> None:
    """An engine that answers something that is not the Engine API: one line, non-zero exit."""
    with fake_engine(lambda _: b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 6\r\n\r\n<html>") as url:
        run = run_pytest(*FAST, f"--engine-url={url}", timeout=60)
    assert run.returncode == 4
    errors = [line for line in run.output.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and "not the Engine API" in errors[0], run.output


def test_too_old_api_is_one_clear_line() -> None:
    """An engine whose API is older than the suite needs: one line naming both versions."""
    body = json.dumps({"Version": "1.8.0", "ApiVersion": "1.20"}).encode()
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    with fake_engine(lambda _: answer) as url:
        run = run_pytest(*FAST, f"--engine-url={url}", timeout=60)
    assert run.returncode == 4
    errors = [line for line in run.output.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and "API 1.20" in errors[0] and "1.24" in errors[0], run.output
