"""Security defaults (marker ``core-security-defaults``): what a container gets when create asks
for nothing, observed inside it on each distro's image — its capabilities, no_new_privs, the
seccomp filter and syscalls it denies, masked and read-only paths under /proc and /sys, the
devices it can see, /dev/shm, its resource limits, the options of its default mounts, and that
another container's filesystem and processes are invisible to it.

Source: the OCI runtime spec's Linux defaults (runtime-spec config-linux.md: maskedPaths,
readonlyPaths, default devices) and moby's defaults (oci/defaults.go, profiles/seccomp/default.json)
that the Engine API's behavior is defined by. Where an engine legitimately differs from moby's
set (Podman's smaller capability set), the test says which set it checks and the engine's
expectations record the difference. One probe container per distro and engine prints every fact
(``probe`` fixture); each test checks its own fact, so each fails alone.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from fixtures.containers import ContainerFactory
from fixtures.harness import feature
from fixtures.probes import syscall_outcomes
from fixtures.shared import once
from fixtures.shell_probes import cap_set, mount_options

pytestmark = feature("core-security-defaults")

# Capability bit numbers (linux/capability.h).
CAPS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6,
        "SETUID": 7, "SETPCAP": 8, "LINUX_IMMUTABLE": 9, "NET_BIND_SERVICE": 10, "NET_BROADCAST": 11,
        "NET_ADMIN": 12, "NET_RAW": 13, "IPC_LOCK": 14, "IPC_OWNER": 15, "SYS_MODULE": 16, "SYS_RAWIO": 17,
        "SYS_CHROOT": 18, "SYS_PTRACE": 19, "SYS_PACCT": 20, "SYS_ADMIN": 21, "SYS_BOOT": 22, "SYS_NICE": 23,
        "SYS_RESOURCE": 24, "SYS_TIME": 25, "SYS_TTY_CONFIG": 26, "MKNOD": 27, "LEASE": 28, "AUDIT_WRITE": 29,
        "AUDIT_CONTROL": 30, "SETFCAP": 31, "MAC_OVERRIDE": 32, "MAC_ADMIN": 33, "SYSLOG": 34, "WAKE_ALARM": 35,
        "BLOCK_SUSPEND": 36, "AUDIT_READ": 37, "PERFMON": 38, "BPF": 39, "CHECKPOINT_RESTORE": 40}
# moby's default set (oci/caps/defaults.go), which docker's documentation and the CLI describe.
MOBY_DEFAULT_CAPS = {"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
                     "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"}
# Capabilities that break the container boundary: never granted by default by any engine.
NEVER_BY_DEFAULT = {"SYS_ADMIN", "NET_ADMIN", "SYS_MODULE", "SYS_RAWIO", "SYS_PTRACE", "SYS_BOOT", "SYS_TIME",
                    "DAC_READ_SEARCH", "MAC_ADMIN", "MAC_OVERRIDE", "BPF", "PERFMON", "SYSLOG", "LINUX_IMMUTABLE"}
# runtime-spec / moby default masked and read-only paths (those every kernel has).
MASKED = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"]
READ_ONLY = ["/proc/sys", "/proc/irq", "/proc/bus"]
# The devices runtime-spec config-linux.md says every container has, plus the terminal multiplexer.
SPEC_DEVICES = {"null", "zero", "full", "random", "urandom", "tty", "pts/ptmx"}

PROBE = r"""
echo "== status"; cat /proc/self/status
echo "== mounts"; cat /proc/self/mounts
echo "== limits"; cat /proc/self/limits
echo "== dev"; for f in /dev/* /dev/*/*; do [ -L "$f" ] && continue; [ -c "$f" ] && echo "c $f";
    [ -b "$f" ] && echo "b $f"; done; true
echo "== masked"; for p in {masked}; do if [ -d $p ]; then echo "$p dir $(ls -A $p | wc -l)";
    elif [ -e $p ]; then echo "$p file $(head -c 64 $p 2>/dev/null | wc -c)"; fi; done
echo "== sysrq"; (echo h > /proc/sysrq-trigger) 2>&1 && echo wrote-sysrq
echo "== end"
""".replace("{masked}", " ".join(MASKED))

@pytest.fixture
def probe(containers: ContainerFactory, base_image: str) -> dict[str, list[str]]:
    """The default container's facts, by section (one probe container per image and run: fixtures/shared.py)."""

    def run(factory: ContainerFactory) -> dict[str, list[str]]:
        result = factory.run(base_image, ["sh", "-c", PROBE])
        assert "== end" in result.stdout, f"the default probe container failed: {result.output}"
        sections: dict[str, list[str]] = {}
        current = ""
        for line in result.stdout.splitlines():
            if line.startswith("== "):
                current = line[3:]
                sections[current] = []
            else:
                sections[current].append(line)
        return sections

    return once(containers, ("security-defaults", base_image), run)


def caps_named(value: int) -> set[str]:
    return {name for name, bit in CAPS.items() if value & (1 << bit)}


def status(probe: dict[str, list[str]]) -> str:
    return "\n".join(probe["status"])


def mount_of(probe: dict[str, list[str]], path: str) -> str:
    lines = [line for line in probe["mounts"] if line.split()[1:2] == [path]]
    assert lines, f"{path} is not mounted in the default container"
    return lines[-1]


@pytest.mark.cis("5.3")
def test_default_capabilities_exclude_the_dangerous_ones(probe: dict[str, list[str]], record_property: Any) -> None:
    """A default container MUST NOT hold any capability that crosses the container boundary
    (SYS_ADMIN, NET_ADMIN, SYS_MODULE, SYS_PTRACE, ...), effective or bounding."""
    eff, bnd = cap_set(status(probe)), cap_set(status(probe), "CapBnd")
    record_property("default_caps", " ".join(sorted(caps_named(eff))))
    assert not (caps_named(eff) | caps_named(bnd)) & NEVER_BY_DEFAULT, sorted(caps_named(bnd) & NEVER_BY_DEFAULT)


@pytest.mark.cis("5.3")
def test_default_capabilities_are_mobys_set(probe: dict[str, list[str]]) -> None:
    """A default container SHOULD hold exactly moby's default set (oci/caps/defaults.go: 14
    capabilities), effective and bounding; an engine with another set records it in its expectations."""
    eff, bnd = caps_named(cap_set(status(probe))), caps_named(cap_set(status(probe), "CapBnd"))
    missing, extra = sorted(MOBY_DEFAULT_CAPS - eff), sorted(eff - MOBY_DEFAULT_CAPS)
    assert eff == MOBY_DEFAULT_CAPS, f"missing {missing}, extra {extra}"
    assert bnd == eff


@pytest.mark.observes("HostConfig.SecurityOpt")
@pytest.mark.cis("5.25")
def test_no_new_privileges_is_off_by_default_and_on_when_asked(probe: dict[str, list[str]],
                                                               containers: ContainerFactory,
                                                               base_image: str) -> None:
    """``NoNewPrivs`` MUST be 0 by default (setuid binaries work as in the image) and 1 with
    ``SecurityOpt: no-new-privileges``."""
    default = [line.split()[1] for line in probe["status"] if line.startswith("NoNewPrivs:")]
    asked = containers.run(base_image, ["grep", "NoNewPrivs", "/proc/self/status"],
                           security_opt=["no-new-privileges"])
    assert default == ["0"]
    assert asked.stdout.split() == ["NoNewPrivs:", "1"], asked.output


@pytest.mark.requires("seccomp")
@pytest.mark.cis("5.21")
def test_default_seccomp_filter_is_in_force(probe: dict[str, list[str]]) -> None:
    """A default container MUST run under a seccomp filter (``Seccomp: 2``, mode filter)."""
    mode = [line.split()[1] for line in probe["status"] if line.startswith("Seccomp:")]
    assert mode == ["2"], f"Seccomp mode {mode} (2 = filter)"


@pytest.mark.requires("seccomp")
@pytest.mark.parametrize("syscall", ["keyctl", "add_key"])
def test_default_seccomp_denies_the_kernel_keyring(containers: ContainerFactory, sysprobe_image: str,
                                                   syscall: str) -> None:
    """The default profile MUST deny the kernel keyring syscalls (not namespaced: moby's and
    containers/common's profiles refuse them), which the kernel allows unconfined."""
    confined = syscall_outcomes(containers, sysprobe_image)[syscall]
    free = syscall_outcomes(containers, sysprobe_image, unconfined=True)[syscall]
    assert free == "OK", f"control: unconfined {syscall} {free}"
    assert confined in ("EPERM", "ENOSYS"), f"default profile let {syscall} through: {confined}"


@pytest.mark.parametrize("path", MASKED)
def test_default_masked_paths_are_hidden(probe: dict[str, list[str]], path: str) -> None:
    """Each default masked path (runtime-spec maskedPaths) MUST be hidden: a file reads empty, a
    directory lists empty."""
    found = {line.split()[0]: line.split()[1:] for line in probe["masked"]}
    if path not in found:
        pytest.skip(f"not applicable: {path} does not exist on this kernel")
    assert found[path][1] == "0", f"{path} ({found[path][0]}) is readable: {found[path][1]} bytes/entries"


@pytest.mark.parametrize("path", READ_ONLY)
def test_default_read_only_paths_are_read_only(probe: dict[str, list[str]], path: str) -> None:
    """Each default read-only directory (runtime-spec readonlyPaths) MUST be a read-only mount."""
    assert "ro" in mount_options(mount_of(probe, path))


def test_default_sysrq_trigger_refuses_writes(probe: dict[str, list[str]]) -> None:
    """Writing ``/proc/sysrq-trigger`` (a runtime-spec readonlyPath) MUST fail in a default container."""
    assert probe["sysrq"] and "wrote-sysrq" not in probe["sysrq"], probe["sysrq"]


@pytest.mark.cis("5.17")
def test_default_devices_are_the_specs_set(probe: dict[str, list[str]]) -> None:
    """A default container MUST have the runtime spec's devices (null, zero, full, random, urandom,
    tty; ptmx from devpts) and no block device; other character devices only from the console/pts/mqueue set."""
    nodes = [line.split() for line in probe["dev"]]
    chars = {path.removeprefix("/dev/") for kind, path in nodes if kind == "c"}
    chars = {"pts/ptmx" if c == "ptmx" else c for c in chars}  # /dev/ptmx: a node, or a link to pts/ptmx
    blocks = [path for kind, path in nodes if kind == "b"]
    assert SPEC_DEVICES <= chars, f"missing {sorted(SPEC_DEVICES - chars)}"
    assert blocks == [], f"block devices visible: {blocks}"
    extra = {c for c in chars - SPEC_DEVICES if not c.startswith(("pts/", "console", "mqueue"))}
    assert extra == set(), f"extra character devices: {sorted(extra)}"


def test_default_dev_shm_is_a_tmpfs_without_exec(probe: dict[str, list[str]]) -> None:
    """``/dev/shm`` MUST be a tmpfs mounted nosuid, nodev, noexec (its size apart: test_default_dev_shm_is_64m)."""
    line = mount_of(probe, "/dev/shm")
    assert line.split()[2] == "tmpfs"
    assert {"nosuid", "nodev", "noexec"} <= mount_options(line), line


def test_default_dev_shm_is_64m(probe: dict[str, list[str]]) -> None:
    """``/dev/shm`` MUST be 64 MiB (the Engine API's ShmSize default)."""
    line = mount_of(probe, "/dev/shm")
    assert "size=65536k" in mount_options(line), line


def test_default_limits_allow_ordinary_work(probe: dict[str, list[str]], record_property: Any) -> None:
    """Default resource limits MUST let ordinary programs work: open files soft limit at least 1024
    with hard at least soft, processes not limited below 1024 (values recorded per engine)."""
    limits = {line[:26].strip(): line[26:].split()[:2] for line in probe["limits"][1:]}
    record_property("nofile", "/".join(limits["Max open files"]))
    record_property("nproc", "/".join(limits["Max processes"]))
    soft, hard = (float("inf") if v == "unlimited" else int(v) for v in limits["Max open files"])
    procs = limits["Max processes"][0]
    assert 1024 <= soft <= hard, limits["Max open files"]
    assert procs == "unlimited" or int(procs) >= 1024, limits["Max processes"]


@pytest.mark.parametrize(("path", "options"), [
    ("/proc", {"nosuid", "nodev", "noexec"}),
    ("/sys", {"ro", "nosuid", "nodev", "noexec"}),
    ("/dev/pts", {"nosuid", "noexec"}),
    ("/dev/mqueue", {"nosuid", "nodev", "noexec"}),
])
def test_default_mounts_have_safe_options(probe: dict[str, list[str]], path: str, options: set[str]) -> None:
    """The kernel filesystems of a default container MUST be mounted with the runtime spec's safe
    options (nosuid, nodev, noexec; /sys read-only)."""
    line = mount_of(probe, path)
    assert options <= mount_options(line), f"{path}: {line}"


def test_default_cgroup_filesystem_is_read_only(probe: dict[str, list[str]]) -> None:
    """A default container MUST NOT be able to write the cgroup filesystem: every cgroup hierarchy
    mounted in it (cgroup, cgroup2) is read-only."""
    lines = [line for line in probe["mounts"] if line.split()[2] in ("cgroup", "cgroup2")]
    assert lines, "no /sys/fs/cgroup in the default container"
    writable = [line.split()[1] for line in lines if "ro" not in mount_options(line)]
    assert writable == [], f"writable cgroup mounts: {writable}"


def test_another_containers_files_and_processes_are_invisible(containers: ContainerFactory, base_image: str) -> None:
    """One container's root filesystem and processes MUST be invisible to another: a file it wrote
    at / is not there, its process is not in /proc."""
    marker = f"conformance-secret-{uuid.uuid4().hex[:10]}"
    containers.start(base_image, ["sh", "-c", f"echo x > /{marker}; exec sleep 61"])
    script = ("ls /; for p in /proc/[0-9]*; do [ $p = /proc/$$ ] || cat $p/cmdline; echo; done; "
              "test -e /$M && echo found-it")
    result = containers.run(base_image, ["sh", "-c", script], environment={"M": marker})
    assert marker not in result.stdout and "found-it" not in result.stdout, result.stdout
    assert "sleep61" not in result.stdout.replace("\0", "").replace(" ", ""), result.stdout
