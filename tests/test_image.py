"""The suite's own image (issue 19): ``ci/image build`` makes it from Debian's packages and the wheel,
``ci/image load`` imports it into the managed Docker and Podman, and one run of it, the README's
command, certifies each engine with host-side checks reaching the engine host from inside the
container (fixtures/hostns.py): both bundles verify.

This machine refuses ``--privileged`` (its bounding set lacks CAP_SYS_RESOURCE: shared/ENGINE-LAB.md),
so these runs give every capability it has instead (``ci/image ... --no-privileged``).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci.tools import image
from fixtures import hostns, paths
from fixtures.errors import HarnessError
from fixtures.inventory import suite_version
from tests.conftest import ROOT

SOCKETS = {kind: str(paths.managed_socket(kind)) for kind in ("docker", "podman")}
CERTIFIED = {"docker": "core", "podman": "runtime-extensions"}  # profiles each managed engine passes wholly
PROFILES = {"docker": "upstream-docker", "podman": "podman"}  # run with the engine's expectations
# the features whose tests read the engine host, and one whose configured instances are not applicable in the image
HOST_SIDE_FEATURES = "cgroup-join-all or core-filesystem or volume-rprivate-archive or core-registry or btrfs-driver"


def ci_image(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ROOT / "ci" / "image"), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The image's rootfs tar, built here (removed after)."""
    run = ci_image("build", f"--output={tmp_path_factory.mktemp('image')}")
    assert run.returncode == 0, run.stdout + run.stderr
    tar = Path(run.stdout.strip().splitlines()[-1])
    yield tar
    tar.unlink()


@pytest.fixture(scope="module")
def loaded(built: Path) -> Iterator[dict[str, str]]:
    """The image imported into both managed engines (removed from them after)."""
    for kind, path in SOCKETS.items():
        if not os.path.exists(path):
            pytest.fail(f"no managed {kind} at {path}: ci/engines up {kind}")
    ids = {}
    for kind, path in SOCKETS.items():
        load = ci_image("load", f"--engine-url=unix://{path}", f"--tar={built}", timeout=900)
        assert load.returncode == 0, load.stdout + load.stderr
        ref, ids[kind] = load.stdout.split()
        assert ref == f"localhost/engine-conformance:{suite_version()}"
    yield ids
    for kind, path in SOCKETS.items():  # the image as loaded here, and as /plans/image loaded it again
        for ref in (image.reference(), ids[kind]):
            subprocess.run([*image.CLIENTS[kind], f"unix://{path}", "rmi", ref], capture_output=True, timeout=300)


def in_image(kind: str, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The README's command for ``kind``'s managed engine (the engine's own client, its socket bound in)."""
    argv = image.command(kind, SOCKETS[kind], list(args), out, privileged=False,
                         client_url=f"unix://{SOCKETS[kind]}")
    return subprocess.run(argv, capture_output=True, text=True, timeout=1800)


# Podman's runs from the image prove the image's path again (Docker's do in the gate): nightly only
GATE_KINDS = [pytest.param(k, marks=pytest.mark.nightly) if k == "podman" else k for k in SOCKETS]


@pytest.mark.parametrize("kind", GATE_KINDS)
def test_one_run_of_the_image_certifies_the_managed_engine_and_the_bundle_verifies(
        loaded: dict[str, str], kind: str, tmp_path: Path) -> None:
    """``ci/image certify``: the image's certification of the engine (busybox and debian12, whose base
    image the image builds itself where the engine lacks it), verified by the image and by the checkout."""
    run = ci_image("certify", kind, f"--socket={SOCKETS[kind]}", f"--client-url=unix://{SOCKETS[kind]}",
                   "--no-privileged", f"--output={tmp_path}", "--", f"--profile={CERTIFIED[kind]}",
                   "--distro=busybox,debian12", "--vendor=Debian", f"--product={kind}", "--product-version=12",
                   "--contact=ci@example.org")
    assert run.returncode == 0 and "bundle /out/bundle: verifies" in run.stdout, (run.stdout + run.stderr)[-3000:]
    bundle = tmp_path / "bundle"
    verify = subprocess.run([str(ROOT / "ci" / "certify"), "--verify", str(bundle)], capture_output=True,
                            text=True, timeout=300)
    assert verify.returncode == 0, verify.stdout
    suite = json.loads((bundle / "suite.json").read_text())
    assert suite["profile"] == CERTIFIED[kind] and suite["suite_version"] == suite_version()
    assert suite["command"][1].startswith("/opt/engine-conformance/"), suite["command"]  # ran in the image
    results = json.loads((bundle / "results.json").read_text())["results"]
    assert {r["distro"] for r in results} >= {"busybox", "debian12"}
    assert sum(r["outcome"] == "passed" for r in results) >= 20


@pytest.mark.parametrize("kind", GATE_KINDS)
def test_host_side_checks_from_the_image_reach_the_engine_host(loaded: dict[str, str], kind: str,
                                                               tmp_path: Path) -> None:
    """The engine's profile from the image, with its expectations, narrowed to its features with host-side checks
    (the image's path for the rest is the certification's above; the whole profile is the engine's configuration's
    in ci/configurations.toml): green, and the tests that read the engine host (cgroups
    of the host, binds of host directories, the registries the suite serves in its container's network with CAs in
    the host's certs.d) passed there rather than being not applicable."""
    run = in_image(kind, tmp_path, "run", f"--engine-url=unix://{SOCKETS[kind]}", f"--profile={PROFILES[kind]}",
                   "-m", HOST_SIDE_FEATURES, "-n", "2", "-p", "no:cacheprovider")
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    results = json.loads(next((tmp_path / "reports").glob("results-*.json")).read_text())["results"]
    host_side = ["suites/test_cgroup_join_all.py::test_memory_limit_is_set_on_the_host_cgroup",
                 "suites/test_contract_filesystem.py::test_bind_shows_the_host_directory_and_ro_refuses_writes",
                 "suites/test_volume_rprivate_archive.py::test_bind_volume_defaults_to_rprivate",
                 "suites/test_core_registry.py::test_auth_registry_refuses_without_and_with_wrong_credentials"]
    for name in host_side:
        outcomes = {r["outcome"] for r in results if r["test"].startswith(name)}
        assert outcomes == {"passed"}, f"{name}: {outcomes or 'no result'}"
    launched = [r for r in results if "configured instances are launched in the suite's own" in (r.get("reason") or "")]
    assert launched, "configured instances were not reported not applicable from the image"


def test_the_image_without_the_hosts_pid_namespace_says_so_in_one_line(loaded: dict[str, str],
                                                                        tmp_path: Path) -> None:
    argv = image.command("docker", SOCKETS["docker"], ["run", f"--engine-url=unix://{SOCKETS['docker']}",
                                                       "--profile=core"], tmp_path, privileged=False,
                         client_url=f"unix://{SOCKETS['docker']}")
    argv.remove("--pid=host")
    run = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    errors = [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("ERROR:")]
    assert run.returncode == 4 and len(errors) == 1, run.stdout + run.stderr
    assert "--pid=host" in errors[0] and "Traceback" not in run.stdout + run.stderr


def test_the_readme_shows_the_image_command_first() -> None:
    readme = (ROOT / "README.md").read_text()
    first = readme.index("```") if "```" in readme else readme.index("\n    ")
    assert readme.index("localhost/engine-conformance") < first + 400
    assert "docker run --rm --pid=host --network=host --privileged" in readme
    assert "podman run --rm --pid=host --network=host --privileged" in readme


def test_nsenter_host_specs_name_a_process_or_the_engine() -> None:
    assert hostns.pid_of("nsenter://42", None) == 42
    with pytest.raises(HarnessError, match="nsenter://engine or nsenter://PID"):
        hostns.pid_of("nsenter://init", "/run/x.sock")
    with pytest.raises(HarnessError, match="is not unix://"):
        hostns.pid_of("nsenter://engine", None)
    ss = ("u_str LISTEN 0 4096 /run/conformance/docker.sock 10038 * 0\n"
          "u_str LISTEN 0 4096 @/containerd-shim/abc.sock@ 1 * 0\n")
    assert hostns.listening_paths(ss) == ["/run/conformance/docker.sock"]


@pytest.mark.nightly
def test_the_image_plan_certifies_under_tmt(built: Path, loaded: dict[str, str], tmp_path: Path) -> None:
    """plans/main.fmf's /plans/image, as Testing Farm runs it on a Fedora host, here with ``provision --how
    local`` against the managed Podman: it loads the tar, certifies from the image, and the bundle verifies."""
    tmt = ROOT / ".tools" / "tmt" / "bin" / "tmt"
    if not tmt.exists():
        pytest.skip(f"not applicable: no tmt at {tmt} (ci/install installs it)")
    env = {"CONFORMANCE_IMAGE_TAR": str(built), "CONFORMANCE_IMAGE_SOCKET": SOCKETS["podman"],
           "CONFORMANCE_IMAGE_FLAGS": "--no-privileged"}
    run = subprocess.run([str(tmt), "--feeling-safe", "run", "--id", str(tmp_path / "run"),
                          *[f"--environment={k}={v}" for k, v in env.items()], "--all", "provision", "--how", "local",
                          "plan", "--name", "/plans/image"], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    said = run.stdout + run.stderr
    assert run.returncode == 0 and "total: 1 test passed" in said, said[-3000:]
    bundles = list((tmp_path / "run").rglob("bundle/SHA256SUMS"))
    assert len(bundles) == 1, said[-2000:]
    verify = subprocess.run([str(ROOT / "ci" / "certify"), "--verify", str(bundles[0].parent)], capture_output=True,
                            text=True, timeout=300)
    assert verify.returncode == 0, verify.stdout


def test_a_failures_reproducer_from_the_image_is_one_run_of_the_image(loaded: dict[str, str],
                                                                      tmp_path: Path) -> None:
    """Podman 4.3.1 answers an invalid stop signal with 500 (ci/expectations/podman.toml): without
    expectations that test fails, and its reproducer is the image's run of that test alone, which fails
    the same way (run here with this machine's capabilities in place of --privileged)."""
    run = in_image("podman", tmp_path, "run", f"--engine-url=unix://{SOCKETS['podman']}", "--no-expectations",
                   "-k", "test_invalid_stop_signal_is_a_400 and SIGNOPE")
    assert run.returncode == 1, (run.stdout + run.stderr)[-3000:]
    results = json.loads(next((tmp_path / "reports").glob("results-*.json")).read_text())["results"]
    failed = [r for r in results if r["outcome"] == "failed"]
    assert len(failed) == 1, results
    words = shlex.split(failed[0]["reproducer"])
    assert words[:2] == ["podman", "run"] and f"localhost/engine-conformance:{suite_version()}" in words
    assert failed[0]["test"] in words
    (tmp_path / "again").mkdir()
    words[1:2] = ["--url", f"unix://{SOCKETS['podman']}", "run", "-v", f"{tmp_path / 'again'}:/out"]
    words[words.index("--privileged"):words.index("--privileged") + 1] = hostns.UNPRIVILEGED
    again = subprocess.run(words, capture_output=True, text=True, timeout=600)
    assert again.returncode == 1 and "1 failed" in again.stdout, (again.stdout + again.stderr)[-3000:]
    assert failed[0]["test"].split("::")[1] in again.stdout
