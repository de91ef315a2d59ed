"""Configured engine instances (fixtures/launcher.py): a failing start-up fails only the tests that
asked for it, with the configuration and the log's last lines, in bounded time; nothing of an
instance (process, shim, mount, loop device, cgroup) outlives the run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from fixtures.launcher import LAUNCH_ROOT, processes_mentioning
from tests.conftest import run_pytest, spawn_pytest

SUITE = '''
from fixtures.harness import feature
from fixtures.launcher import EngineConfig

pytestmark = feature("core")


def test_asks_for_a_broken_instance(launch):
    launch(EngineConfig("docker", flags=("--no-such-conformance-flag",)))


def test_runs_without_an_instance(containers):
    assert containers.client.ping()
'''

NEVER_ANSWERS = '''#!/bin/sh
case "$*" in *--help*) echo "--data-root string"; exit 0 ;; esac
echo "fake dockerd: starting and never answering"
exec sleep 300
'''


def leftovers() -> list[str]:
    found = [f"dir {p}" for p in LAUNCH_ROOT.glob("*")] if LAUNCH_ROOT.exists() else []
    found += [f"process {pid}" for pid in processes_mentioning(str(LAUNCH_ROOT))]
    found += [f"mount {line.split()[4]}" for line in Path("/proc/self/mountinfo").read_text().splitlines()
              if str(LAUNCH_ROOT) in line.split()[4]]
    loops = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    found += [f"loop {line}" for line in loops.splitlines() if str(LAUNCH_ROOT) in line]
    return found


@pytest.mark.exclusive
def test_an_instance_that_exits_at_start_fails_its_test_with_config_and_log(engine_url: str,
                                                                           mini_project: Path) -> None:
    (mini_project / "suites" / "test_launch.py").write_text(SUITE)
    run = run_pytest(f"--engine-url={engine_url}", "suites/", "--no-expectations", cwd=mini_project, timeout=180)
    assert run.returncode == 1, run.output[-3000:]
    assert "1 failed, 1 passed" in run.output
    assert "configured engine instance did not start: docker --no-such-conformance-flag: the engine exited" in \
        run.output
    assert "unknown flag: --no-such-conformance-flag" in run.output  # from the log's last lines
    assert leftovers() == []


@pytest.mark.exclusive
def test_an_instance_that_never_answers_fails_within_the_launch_timeout(engine_url: str, mini_project: Path,
                                                                      tmp_path: Path) -> None:
    fake = tmp_path / "dockerd"
    fake.write_text(NEVER_ANSWERS)
    fake.chmod(0o755)
    (mini_project / "suites" / "test_launch.py").write_text(SUITE)
    run = run_pytest(f"--engine-url={engine_url}", "suites/", "--no-expectations", f"--engine-launcher=docker:{fake}",
                     "--launch-timeout=3", cwd=mini_project, timeout=120)
    assert run.returncode == 1, run.output[-3000:]
    assert "no answer to /_ping within 3 s" in run.output and "fake dockerd: starting and never answering" in run.output
    assert run.seconds < 60
    assert leftovers() == []


@pytest.mark.exclusive
def test_a_full_btrfs_run_leaves_no_instance_mount_or_loop_device(engine_url: str) -> None:
    run = run_pytest("suites/test_btrfs_driver.py", f"--engine-url={engine_url}", "--distro=busybox", "-n", "2",
                     timeout=600)
    assert run.returncode == 0, run.output[-3000:]
    assert leftovers() == []


@pytest.mark.parametrize("value", ["rkt:/usr/bin/rkt", "docker:/nonexistent/dockerd"])
def test_bad_launcher_option_is_one_line(engine_url: str, value: str) -> None:
    run = run_pytest("suites/test_btrfs_driver.py", f"--engine-url={engine_url}", "--distro=busybox",
                     f"--engine-launcher={value}", timeout=120)
    errors = [line for line in run.output.splitlines() if line.startswith("ERROR:")]
    assert run.returncode not in (0, 1) and len(errors) == 1 and "--engine-launcher" in errors[0], run.output[-2000:]


SUITE_ANY_INSTANCE = '''
from fixtures.harness import feature
from fixtures.launcher import EngineConfig

pytestmark = feature("core")


def test_asks_for_an_instance(launch):
    launch(EngineConfig("docker"))
'''
RHDOCKER = Path("/usr/bin/dockerd-current")  # Red Hat's docker 1.13.1 (ci/engines up rhdocker installs it)


@pytest.mark.exclusive
def test_an_instance_of_another_engine_is_caught_before_it_is_used(engine_url: str, mini_project: Path) -> None:
    """The managed Docker under test, with --engine-launcher naming Red Hat's dockerd-current: the instance
    starts, and its /version (1.13.1, another package) fails the test that asked for it, saying what ran."""
    if not RHDOCKER.exists():
        pytest.skip(f"not applicable: no {RHDOCKER} (Red Hat docker 1.13.1; `ci/engines up rhdocker` installs it)")
    (mini_project / "suites" / "test_launch.py").write_text(SUITE_ANY_INSTANCE)
    run = run_pytest(f"--engine-url={engine_url}", "suites/", "--no-expectations",
                     f"--engine-launcher=docker:{RHDOCKER}", cwd=mini_project, timeout=180,
                     env={"PATH": f"/usr/libexec/docker:{os.environ.get('PATH', '')}"})  # its containerd, runc
    assert run.returncode == 1, run.output[-3000:]
    assert f"launched {RHDOCKER}, which is docker 1.13.1" in run.output, run.output[-3000:]
    assert re.search(r"not the engine under test \(docker (?!1\.13\.1)\d", run.output), run.output[-3000:]
    assert leftovers() == []


SUITE_HOLDS_AN_INSTANCE = '''
import time

from fixtures.harness import feature
from fixtures.launcher import EngineConfig

pytestmark = feature("core")


def test_holds_an_instance(launch):
    instance = launch(EngineConfig("docker", storage="btrfs"))
    print("INSTANCE-UP", instance.root, flush=True)
    time.sleep(300)
'''


@pytest.mark.exclusive
def test_instances_of_a_killed_run_are_reaped_by_the_next(engine_url: str, mini_project: Path) -> None:
    """A run killed with SIGKILL leaves its instance (dockerd, containerd, a loop-mounted btrfs) running; the
    next run's start reaps it — processes, mounts, loop device, root — because its owner process is gone."""
    (mini_project / "suites" / "test_hold.py").write_text(SUITE_HOLDS_AN_INSTANCE)
    proc = spawn_pytest(f"--engine-url={engine_url}", "suites/", "--no-expectations", "-s", cwd=mini_project)
    try:
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        for line in proc.stdout:
            if "INSTANCE-UP" in line or time.monotonic() > deadline:
                break
        assert "INSTANCE-UP" in line, line
        assert leftovers() != [], "the instance was not up"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(1)
    assert leftovers() != [], "nothing was left by the killed run: the test shows nothing"
    (mini_project / "suites" / "test_hold.py").write_text(SUITE)
    run = run_pytest(f"--engine-url={engine_url}", "suites/", "--no-expectations", "-k", "runs_without",
                     cwd=mini_project, timeout=180)
    assert run.returncode == 0, run.output[-3000:]
    assert "reaped" in run.output and "instance " in run.output, run.output[-3000:]
    assert leftovers() == []
