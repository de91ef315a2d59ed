"""Pure logic of the harness: capabilities and skip reasons, owner labels, engine-kind detection."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from fixtures.capabilities import missing, requires
from fixtures.engine import EngineFacts, detect
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


class FakeAPI:
    def __init__(self, version: dict[str, Any], info: dict[str, Any]) -> None:
        self._version, self._info = version, info

    def version(self, api_version: bool = True) -> dict[str, Any]:
        return self._version

    def info(self) -> dict[str, Any]:
        return self._info


class FakeClient:
    def __init__(self, version: dict[str, Any], info: dict[str, Any]) -> None:
        self.api = FakeAPI(version, info)


@pytest.mark.parametrize(
    ("components", "kind"),
    [
        ([{"Name": "Podman Engine", "Version": "4.3.1"}], "podman"),
        ([{"Name": "Engine", "Version": "24.0"}, {"Name": "containerd", "Version": "1.7"}], "docker"),
        ([{"Name": "SomethingElse", "Version": "1"}], "other"),
    ],
)
def test_kind_is_detected_from_the_api_answers(components: list[dict[str, str]], kind: str) -> None:
    client = FakeClient({"Version": "1", "ApiVersion": "1.41", "Components": components},
                        {"CgroupDriver": "systemd", "CgroupVersion": "2", "Driver": "btrfs",
                         "SecurityOptions": ["name=seccomp,profile=default", "name=rootless"]})
    f = detect(client)  # type: ignore[arg-type]
    assert (f.kind, f.cgroup_driver, f.cgroup_version, f.storage_driver, f.rootless) == (
        kind, "systemd", "2", "btrfs", True)


def test_expectations_profile_names_resolve_and_unknown_ones_are_listed(tmp_path: Path) -> None:
    (tmp_path / "docker.toml").write_text("")
    assert resolve("docker", tmp_path) == tmp_path / "docker.toml"
    assert resolve("my/file.toml", tmp_path) == Path("my/file.toml")
    with pytest.raises(HarnessError, match="unknown expectations profile crio; valid profiles: docker"):
        resolve("crio", tmp_path)
