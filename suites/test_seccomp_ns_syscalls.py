"""Feature ``seccomp-ns-syscalls``: the default seccomp profile lets capabilities decide
(docker PR 21287, Red Hat only).

``mount``, ``umount2``, ``unshare``, ``reboot`` and ``name_to_handle_at`` MUST NOT be blocked by
the engine's default seccomp profile: whether they succeed is for the container's capabilities to
decide (systemd as PID 1 needs them without ``--privileged``). A static probe makes each raw
syscall and prints its errno; each case runs under the default profile and under
``seccomp=unconfined`` with the same capabilities: any difference is a seccomp denial. One probe
container per capability set and profile answers every syscall, each in a child process of its
own (``reboot`` in the probe itself, PID 1 of its own PID namespace: it refuses otherwise).
"""

from __future__ import annotations

import pytest

from fixtures.containers import ContainerFactory
from fixtures.harness import feature
from fixtures.probes import syscall_outcomes

pytestmark = [feature("seccomp-ns-syscalls"), pytest.mark.requires("seccomp")]

def probe(containers: ContainerFactory, image: str, syscall: str, caps: list[str], unconfined: bool) -> str:
    return syscall_outcomes(containers, image, tuple(caps), unconfined)[syscall]


CASES = [
    pytest.param("mount", ["SYS_ADMIN"], id="mount-with-SYS_ADMIN"),
    pytest.param("mount", [], id="mount-default-caps"),
    pytest.param("umount2", ["SYS_ADMIN"], id="umount2-with-SYS_ADMIN"),
    pytest.param("umount2", [], id="umount2-default-caps"),
    pytest.param("unshare-mnt", ["SYS_ADMIN"], id="unshare-mnt-with-SYS_ADMIN"),
    pytest.param("unshare-mnt", [], id="unshare-mnt-default-caps"),
    pytest.param("unshare-user", [], id="unshare-user-default-caps"),
    pytest.param("reboot-cad-off", ["SYS_BOOT"], id="reboot-with-SYS_BOOT"),
    pytest.param("reboot-cad-off", [], id="reboot-default-caps"),
    pytest.param("name_to_handle_at", [], id="name_to_handle_at-default-caps"),
]


@pytest.mark.parametrize(("syscall", "caps"), CASES)
def test_default_profile_does_not_change_the_outcome(
    containers: ContainerFactory, sysprobe_image: str, syscall: str, caps: list[str]
) -> None:
    """Under the default profile a syscall MUST end as it does with seccomp=unconfined and the same caps."""
    confined = probe(containers, sysprobe_image, syscall, caps, unconfined=False)
    free = probe(containers, sysprobe_image, syscall, caps, unconfined=True)
    assert confined == free, f"seccomp changed {syscall} (caps {caps or 'default'}): {confined} vs unconfined {free}"


def test_default_profile_is_in_force(containers: ContainerFactory, sysprobe_image: str) -> None:
    """Control case: the default profile MUST be applied (it refuses personality(ADDR_NO_RANDOMIZE),
    which the kernel allows), so the comparisons above compare a real profile with none."""
    confined = probe(containers, sysprobe_image, "personality", [], unconfined=False)
    free = probe(containers, sysprobe_image, "personality", [], unconfined=True)
    assert confined in ("EPERM", "ENOSYS") and free != confined, (confined, free)


@pytest.mark.parametrize(
    ("syscall", "cap", "allowed"),
    [
        ("mount", "SYS_ADMIN", {"OK"}),
        ("unshare-mnt", "SYS_ADMIN", {"OK"}),
        ("umount2", "SYS_ADMIN", {"EINVAL"}),  # permitted; the probe's directory is no mount point
        ("reboot-cad-off", "SYS_BOOT", {"OK", "EINVAL"}),  # EINVAL: not allowed in a child PID namespace
    ],
)
def test_capability_decides(
    containers: ContainerFactory, sysprobe_image: str, syscall: str, cap: str, allowed: set[str]
) -> None:
    """With the capability the syscall MUST get past seccomp; without it the kernel MUST refuse (EPERM)."""
    assert probe(containers, sysprobe_image, syscall, [cap], unconfined=False) in allowed
    assert probe(containers, sysprobe_image, syscall, [], unconfined=False) == "EPERM"
