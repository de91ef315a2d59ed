"""Pure logic of the harness: capabilities and skip reasons, owner labels, engine-kind detection."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from fixtures.capabilities import missing, requires
from fixtures.engine import EngineFacts
from fixtures.errors import HarnessError
from fixtures.expectations import resolve
from fixtures.idmap import IdMap, host_namespaces, process_ids
from fixtures.lifecycle import owner_alive, owner_label


def facts(**overrides: Any) -> EngineFacts:
    base: dict[str, Any] = {
        "kind": "docker", "version": "20.10", "api_version": "1.41", "os": "Debian", "kernel": "6.1",
        "cgroup_driver": "cgroupfs", "cgroup_version": "1", "storage_driver": "overlay2",
        "security_options": ("name=seccomp,profile=default",), "rootless": False, "name": "docker-20.10",
    }
    return EngineFacts(**{**base, **overrides})


def test_missing_capability_reason_names_capability_and_evidence() -> None:
    reasons = missing(facts(), "seccomp", "systemd-cgroup-driver", "selinux")
    assert reasons == [
        "systemd-cgroup-driver (detected CgroupDriver=cgroupfs)",
        "selinux (detected SecurityOptions=['name=seccomp,profile=default'])",
    ]


def test_requires_skips_as_not_applicable() -> None:
    reason = r"not applicable: engine lacks btrfs \(detected Driver=overlay2\)"
    with pytest.raises(pytest.skip.Exception, match=reason):
        requires(facts(), "btrfs")
    requires(facts(storage_driver="btrfs"), "btrfs")  # present: no skip


def test_unknown_capability_is_a_programming_error() -> None:
    with pytest.raises(KeyError, match="unknown capability"):
        missing(facts(), "warp-drive")


def test_owner_label_identifies_a_live_process_and_not_a_finished_one() -> None:
    assert owner_alive(owner_label())
    proc = subprocess.Popen(["sleep", "0.2"])
    label = owner_label(proc.pid)
    assert owner_alive(label)
    proc.wait()
    assert not owner_alive(label)
    assert owner_alive("another-host:1:1")  # other hosts' runs are never judged from here
    assert owner_alive("garbage")


def test_expectations_profile_names_resolve_and_unknown_ones_are_listed(tmp_path: Path) -> None:
    (tmp_path / "docker.toml").write_text("")
    assert resolve("docker", tmp_path) == tmp_path / "docker.toml"
    assert resolve("my/file.toml", tmp_path) == Path("my/file.toml")
    with pytest.raises(HarnessError, match="unknown expectations profile crio; valid profiles: docker"):
        resolve("crio", tmp_path)


def test_terminal_wait_that_fails_says_what_it_expected_and_shows_the_screen(tmp_path: Path) -> None:
    """A terminal that never shows the expected text fails with one message, not a pexpect dump."""
    from fixtures.cli import Terminal

    with (tmp_path / "log").open("w") as log:
        term = Terminal.spawn(["sh", "-c", "echo line-one; echo line-two; sleep 5"], {"PATH": "/usr/bin:/bin"}, log,
                              timeout=1)
        term.expect_exact("line-two")
        with pytest.raises(pytest.fail.Exception) as failed:
            term.expect_exact("never-shown")
        term.close(force=True)
    message = str(failed.value)
    assert message.startswith("expected 'never-shown' on the terminal, nothing matched in 1 s; last screen lines:")
    assert message.splitlines()[-2:] == ["line-one", "line-two"]
    assert "pexpect" not in message


def test_cgroup_capabilities_follow_podmans_delegated_controllers_and_dockers_driver() -> None:
    rootless_v1 = facts(kind="podman", rootless=True, libpod_info={"host": {"cgroupControllers": []}})
    said = "detected libpod host.cgroupControllers=[], rootless=true, CgroupVersion=1"
    assert missing(rootless_v1, "cgroups", "cgroup-memory") == [
        f"cgroups ({said}: no delegated cgroups controller)", f"cgroup-memory ({said}: no delegated memory controller)"]
    delegated = facts(kind="podman", rootless=True, cgroup_version="2",
                      libpod_info={"host": {"cgroupControllers": ["cpu", "io", "memory", "pids"]}})
    assert missing(delegated, "cgroup-memory", "cgroup-blkio", "cgroup-pids") == []  # v2 names blkio "io"
    assert missing(delegated, "cgroup-cpuset") != []
    assert missing(facts(cgroup_driver="none", rootless=True), "cgroup-pids")[0].startswith(
        "cgroup-pids (detected CgroupDriver=none")
    assert missing(facts(raw_info={"PidsLimit": False}), "cgroup-pids") == [
        "cgroup-pids (detected CgroupDriver=cgroupfs, PidsLimit=False, rootless=false, CgroupVersion=1)"]
    assert missing(facts(raw_info={"PidsLimit": True}), "cgroups", "cgroup-pids", "cgroup-blkio") == []


def test_id_maps_say_which_host_id_a_containers_id_is() -> None:
    remapped = IdMap.parse("         0     100000      65536\n--\n         0     100000      65536\n")
    assert (remapped.host_uid(0), remapped.host_gid(1000), remapped.host_uid(65536)) == (100000, 101000, None)
    assert not remapped.identity and remapped.describe() == "uid ((0, 100000, 65536),), gid ((0, 100000, 65536),)"
    rootless = IdMap.parse("0 1001 1\n1 200000 65536\n--\n0 1001 1\n1 200000 65536\n")
    assert (rootless.host_uid(0), rootless.host_uid(1), rootless.host_uid(65536)) == (1001, 200000, 265535)
    assert IdMap.parse("0 0 4294967295\n--\n0 0 4294967295\n").describe() == "identity"


def test_host_namespaces_add_userns_host_only_under_a_daemon_wide_remap() -> None:
    remap = facts(userns=True)
    assert host_namespaces(remap, network_mode="host") == {"network_mode": "host", "userns_mode": "host"}
    assert host_namespaces(remap, privileged=True, pid_mode="host")["userns_mode"] == "host"
    assert host_namespaces(remap, network_mode="bridge") == {"network_mode": "bridge"}  # nothing refused: kept
    assert host_namespaces(remap, network_mode="host", userns_mode="") == {"network_mode": "host", "userns_mode": ""}
    assert host_namespaces(facts(), network_mode="host") == {"network_mode": "host"}  # no remap: as asked
    assert host_namespaces(facts(rootless=True), pid_mode="host") == {"pid_mode": "host"}
    assert process_ids("Name:\tdockerd\nUid:\t1002\t1002\t1002\t1002\nGid:\t1002\t1002\t1002\t1002\n") == (1002, 1002)


def test_registries_use_a_lasting_process_of_the_engines_network_namespace() -> None:
    """The engine's own process where this machine sees it; else the oldest process in that namespace (never a
    transient one, which may end while the registries run there)."""
    import os

    from fixtures.engine_fixtures import pid_in_netns

    mine = os.readlink("/proc/self/ns/net")
    assert pid_in_netns(mine, os.getpid()) == os.getpid()
    oldest = pid_in_netns(mine, 0)  # no such engine pid: the oldest process sharing the namespace
    assert oldest is not None and os.readlink(f"/proc/{oldest}/ns/net") == mine
    assert pid_in_netns("net:[0]", os.getpid()) is None


class StatHost:
    """An engine host answering only ``ss -xlpnH`` and ``cat /proc/PID/stat`` (pure logic: no process is read)."""

    backend = type("Backend", (), {"NAME": "fake"})

    def __init__(self, ss: str, stats: dict[str, str]) -> None:
        self.ss, self.stats = ss, stats

    def run(self, command: str, *args: str) -> subprocess.CompletedProcess[str]:
        if command.startswith("ss "):
            out = self.ss
        elif command.startswith("readlink"):
            out = "/usr/bin/podman"
        else:
            out = self.stats.get(args[0], "")
        return subprocess.CompletedProcess(command, 0, out, "")


def test_the_engine_is_the_first_started_holder_of_its_socket_even_with_the_higher_pid() -> None:
    """Rootless Podman 5.8 forks a helper into its rootless network namespace that holds the socket too; pids wrap
    (pid_max 32768 here), and in CI the helper had the lower one: the engine is the one started first."""
    from fixtures.hostside import find_engine, start_ticks

    sock = "/run/conformance/podman-5-rootless/podman.sock"
    ss = f'u_str LISTEN 0 4096 {sock} 161 * 0 users:(("exe",pid=23302,fd=6),("exe",pid=15176,fd=6))\n'
    stat = "{pid} (exe) S 1 2 3 0 -1 4194560 10 0 0 0 1 2 0 0 20 0 12 0 {ticks} 100 200\n"
    host = StatHost(ss, {"23302": stat.format(pid=23302, ticks=1000), "15176": stat.format(pid=15176, ticks=9000)})
    assert find_engine(host, sock).pid == "23302"  # type: ignore[arg-type]
    assert start_ticks("garbage") > start_ticks(stat.format(pid=1, ticks=5))
