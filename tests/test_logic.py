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
