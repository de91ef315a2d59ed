"""The user-namespaced engines of ci/engines (issue 20): each starts beside the managed engines, answers
as the configuration it is, and its ``down`` leaves nothing: no process of its user, no mount under
its home or runtime dir, no runtime dir, no bridge, and the machine quirks it changed restored."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

# starts and stops managed engines, changes and restores /dev/net/tun, compares the host's mounts and links
pytestmark = pytest.mark.exclusive

ENGINES = {"podman-rootless": ("conformance-podman", "rootless"), "docker-rootless": ("conformance-docker", "rootless"),
           "docker-userns": ("dockremap", "userns")}


def engines(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ROOT / "ci" / "engines"), *args], capture_output=True, text=True, timeout=timeout)


def up(name: str) -> bool:
    return f"{name}: up" in engines("status").stdout


def require_idle(name: str) -> None:
    """Not applicable without root (ci/engines starts daemons) or where ``name`` is up already (a run of its own
    may be using it)."""
    if os.geteuid() != 0:
        pytest.skip("not applicable: ci/engines needs root")
    if up(name):
        pytest.skip(f"not applicable: {name} was already up (a run of its own may be using it)")


def mounts_under(*paths: str) -> list[str]:
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return [p for p in points if any(p == path or p.startswith(path + "/") for path in paths)]


@pytest.mark.parametrize("name", list(ENGINES))
def test_a_user_namespaced_engine_starts_says_what_it_is_and_leaves_nothing(name: str) -> None:
    require_idle(name)
    tun_mode = stat.S_IMODE(os.stat("/dev/net/tun").st_mode) if Path("/dev/net/tun").exists() else None
    started = engines("up", name)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        url = engines("url", name).stdout.strip()
        path = "/v4.0.0/libpod/info" if name.startswith("podman") else "/info"
        answer = subprocess.run(["curl", "-s", "--unix-socket", url.removeprefix("unix://"), f"http://d{path}"],
                                capture_output=True, text=True, timeout=60)
        info = json.loads(answer.stdout)
        if name.startswith("podman"):  # its compat SecurityOptions do not say so: libpod's host.security does
            assert info["host"]["security"]["rootless"] is True, info["host"]["security"]
        else:
            assert f"name={ENGINES[name][1]}" in (info.get("SecurityOptions") or []), info.get("SecurityOptions")
    finally:
        stopped = engines("down", name)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    user = ENGINES[name][0]
    left = subprocess.run(["pgrep", "-u", user, "-l"], capture_output=True, text=True)
    assert left.stdout == "", f"processes of {user} left: {left.stdout}"
    if name != "docker-userns":
        uid = subprocess.run(["id", "-u", user], capture_output=True, text=True).stdout.strip()
        assert not Path(f"/run/user/{uid}").exists()
        assert mounts_under(f"/home/{user}", f"/run/user/{uid}") == []
    else:
        assert subprocess.run(["ip", "link", "show", "ubr0"], capture_output=True).returncode != 0, "ubr0 left"
    if tun_mode is not None and not any(up(e) for e in ENGINES):
        assert stat.S_IMODE(os.stat("/dev/net/tun").st_mode) == tun_mode, "/dev/net/tun's mode not restored"


def test_a_rootless_engines_instance_runs_as_its_user_and_keeps_to_its_root() -> None:
    """A configured instance of rootless Podman (issue 28) runs as the engine's user, says it is rootless, keeps its
    storage in its own root (rootless Podman 4.3 once put its database in the user's default storage, seen) and
    leaves no process behind (its pause process included)."""
    from fixtures import launcher
    from fixtures.engine import detect
    from fixtures.engine_config import EngineConfig

    require_idle("podman-rootless")
    user = ENGINES["podman-rootless"][0]
    default_storage = Path(f"/home/{user}/.local/share/containers/storage")
    started = engines("up", "podman-rootless")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        socket = engines("url", "podman-rootless").stdout.strip().removeprefix("unix://")
        found, why = launcher.launchers([], "podman", socket)
        found, why = launcher.for_rootless(found, why, "podman")
        assert "podman" in found, why
        uid = int(subprocess.run(["id", "-u", user], capture_output=True, text=True).stdout)
        had_default = default_storage.exists()
        instance = launcher.start(found["podman"], EngineConfig("podman"))
        try:
            client = instance.client()
            assert detect(client).rootless
            graph_root = client.api.get(f"{client.api.base_url}/v4.0.0/libpod/info").json()["store"]["graphRoot"]
            assert graph_root.startswith(f"{instance.root}/"), graph_root
            servers = [pid for pid in launcher.processes_mentioning(str(instance.root))
                       if b"system\0service" in Path(f"/proc/{pid}/cmdline").read_bytes()]
            assert servers and all(os.stat(f"/proc/{pid}").st_uid == uid for pid in servers), servers
            client.close()
        finally:
            instance.stop()
        assert launcher.processes_mentioning(str(instance.root)) == []
        assert default_storage.exists() == had_default, f"the instance wrote {default_storage}"
    finally:
        engines("down", "podman-rootless")
