"""Configured instances start as the engine under test runs (issue 29 item 2), end to end: the two deployments
that once made every configured-instance test a harness ERROR now run them.

- (a) The engine behind an API proxy, named by ``--engine-binary``: Red Hat's ``dockerd-current`` finds its
  ``docker-containerd`` in /usr/libexec/docker only through the PATH its unit (here ci/engines) gives it, which
  the instance must get from the running engine, not from the harness.
- (b) An engine started with ``--oom-score-adjust=0`` where nothing may lower an oom score (no CAP_SYS_RESOURCE,
  as in a container that drops it): an instance started without that option died there writing -500 to its
  containerd's ``oom_score_adj`` (issue 29); started as the engine runs, it has the option and answers.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ci.tools import managed
from fixtures import paths
from fixtures.engines.base import Places
from tests.conftest import run_pytest
from tests.defects import defect_proxy

RH_SOCKET = str(paths.managed_socket("rhdocker"))
RH_DAEMON = "/usr/bin/dockerd-current"  # Red Hat's docker 1.13.1 (ci/engines install rhdocker)
INSTANCE_SUITE = "suites/test_registries_add_block.py"  # each of its tests runs on a configured instance
NO_SYS_RESOURCE = ("setpriv", "--inh-caps=-sys_resource", "--bounding-set=-sys_resource")


def ran_on_an_instance(output: str) -> None:
    assert " error" not in output.splitlines()[-1] and " passed" in output.splitlines()[-1], output[-3000:]


def test_instances_of_an_engine_behind_a_proxy_get_its_path() -> None:
    if not Path(RH_SOCKET).exists():
        pytest.skip(f"not applicable: no managed Red Hat docker at {RH_SOCKET} (ci/engines up rhdocker)")
    with defect_proxy(RH_SOCKET, lambda spec: None) as url:
        run = run_pytest(INSTANCE_SUITE, f"--engine-url={url}", "--engine-binary=/usr/bin/dockerd-current",
                         "--distro=busybox", "-q", timeout=300)
    ran_on_an_instance(run.output)


def answers(socket: Path) -> bool:
    return subprocess.run(["curl", "-fsS", "--max-time", "2", "--unix-socket", str(socket), "http://d/_ping"],
                          capture_output=True, check=False).returncode == 0


@pytest.fixture
def engine_without_sys_resource() -> Iterator[tuple[str, int]]:
    """Red Hat's dockerd-current started with --oom-score-adjust=0 and without CAP_SYS_RESOURCE, in a network
    namespace of its own (a dockerd in this one, even with --bridge=none, took the host's docker0 away when it
    stopped: seen), with no bridge and no iptables rules; its URL and pid. Its root is short: containerd's
    sockets must fit a unix socket path."""
    if not Path(RH_DAEMON).exists() or shutil.which("setpriv") is None:
        pytest.skip(f"not applicable: no {RH_DAEMON} (ci/engines install rhdocker) or no setpriv here")
    root = Path(tempfile.mkdtemp(prefix="conformance-oom-", dir="/run"))
    socket = root / "docker.sock"
    # the managed Red Hat docker's command (ci/engines.toml), with no bridge, here and with --oom-score-adjust=0
    rh = managed.load("rhdocker", {"BRIDGE": "none", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    command = rh.launcher.command(replace(rh.config, flags=(*rh.config.flags, "--oom-score-adjust=0")),
                                  Places(socket, root, data=root / "data", exec_root=root / "exec",
                                         pidfile=root / "docker.pid"))
    log = (root / "dockerd.log").open("wb")
    process = subprocess.Popen(
        [*NO_SYS_RESOURCE, "unshare", "--net", "--", "env", *(f"{k}={v}" for k, v in command.env.items()),
         *command.argv], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not answers(socket) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert answers(socket), (root / "dockerd.log").read_text()[-2000:]
        yield f"unix://{socket}", process.pid  # setpriv, unshare and env exec it: the same pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        subprocess.run(["sh", "-c", f"grep -o ' {root}[^ ]*' /proc/self/mountinfo | sort -r | xargs -r umount -l"],
                       capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


def test_instances_of_an_engine_started_with_oom_score_adjust_0_start_with_it(
        engine_without_sys_resource: tuple[str, int]) -> None:
    """The instance's command line carries the engine's --oom-score-adjust=0 (what lets it start where
    nothing may lower an oom score), and it answers. The engine is the process found (``running``) as the
    launcher finds the one holding a socket of this network namespace."""
    from fixtures import launcher
    from fixtures.engine_config import EngineConfig
    from fixtures.engines import DockerdLauncher

    _, pid = engine_without_sys_resource
    found = launcher.running(pid, RH_DAEMON)
    assert not isinstance(found, str), found
    instance = launcher.start(DockerdLauncher(found.binary, found.path, engine=found), EngineConfig("docker",
                                                                                                    debug=False))
    try:
        argv = [a for pid in launcher.processes_mentioning(f"{instance.root}/docker.sock")
                for a in Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")]
        assert "--oom-score-adjust=0" in argv, argv
        client = instance.client()
        assert client.ping()
        client.close()
    finally:
        instance.stop()
