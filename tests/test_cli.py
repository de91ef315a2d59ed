"""End to end: the suite as a user runs it, against a real engine (the managed dockerd).

Bad input gets one ``ERROR:`` line and a non-zero exit; expectations are strict both ways; a run
leaves no container, volume or network behind.
"""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from tests.conftest import run_pytest

ONE_TEST = "suites/test_core.py::test_env_reaches_the_process"


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("ERROR:")]


def assert_one_clear_error(run_output: str, returncode: int, *needles: str) -> None:
    assert returncode not in (0, 1), run_output
    lines = error_lines(run_output)
    assert len(lines) == 1, run_output
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in run_output


def test_unknown_distro_lists_the_valid_ones(engine_url: str) -> None:
    run = run_pytest(ONE_TEST, f"--engine-url={engine_url}", "--distro=nosuch")
    assert_one_clear_error(run.output, run.returncode, "nosuch", "valid distros: busybox", "debian12", "rhel7")


def test_unobtainable_distro_names_reference_and_remedy(engine_url: str) -> None:
    run = run_pytest(ONE_TEST, f"--engine-url={engine_url}", "--distro=rhel7")
    assert_one_clear_error(run.output, run.returncode, "rhel7", "registry.access.redhat.com/rhel7", "docker load")


def test_unreachable_engine_is_one_line_within_ten_seconds() -> None:
    run = run_pytest(ONE_TEST, "--engine-url=unix:///nonexistent.sock", timeout=30)
    assert_one_clear_error(run.output, run.returncode, "unix:///nonexistent.sock")
    assert run.returncode == 6  # engine unreachable (fixtures/errors.py), apart from bad usage's 4
    assert run.seconds < 10


@pytest.mark.parametrize(
    ("option", "needle"),
    [
        ("--engine-url=foo://bar", "malformed engine URL"),
        ("--engine-url=tcp://127.0.0.1:1", "engine unreachable"),
        ("--tls-ca=/nonexistent/ca.pem", "TLS ca file"),
        ("--engine-timeout=0", "must be positive"),
    ],
)
def test_bad_engine_options_are_one_line(option: str, needle: str) -> None:
    run = run_pytest(ONE_TEST, option, timeout=30)
    assert_one_clear_error(run.output, run.returncode, needle)


@pytest.mark.parametrize(
    ("option", "needle"),
    [
        ("--api-version=1.99", "--api-version=1.99: engine at"),
        ("--api-version=1.20", "--api-version=1.20: the suite needs API 1.24 or newer"),
        ("--api-version=v1", "--api-version must look like 1.26"),
        ("--engine-cli=/nonexistent/docker", "--engine-cli /nonexistent/docker: no such program"),
        ("--engine-cli=/bin/false", "--engine-cli /bin/false --version failed"),
        ("--ssh-config=/nonexistent/config", "--ssh-config /nonexistent/config does not exist"),
        ("--profile=nosuch", "unknown profile nosuch; valid profiles: contract, core, podman, rhel-docker, "
                             "runtime-extensions, upstream-docker"),
    ],
)
def test_bad_api_version_and_client_options_are_one_line(engine_url: str, option: str, needle: str) -> None:
    run = run_pytest(ONE_TEST, f"--engine-url={engine_url}", option, timeout=60)
    assert_one_clear_error(run.output, run.returncode, needle)


def test_unreachable_ssh_engine_is_one_line() -> None:
    run = run_pytest(ONE_TEST, "--engine-url=ssh://root@127.0.0.1:1", timeout=60)
    assert_one_clear_error(run.output, run.returncode, "engine unreachable at ssh://root@127.0.0.1:1: ssh exited 255")


def test_pinned_api_version_is_named_in_the_header_and_gates_newer_parameters(engine_url: str) -> None:
    run = run_pytest("suites/test_core.py::test_exec_honours_its_working_dir", f"--engine-url={engine_url}",
                     "--distro=busybox", "--api-version=1.26", "-rs")
    assert run.returncode == 0, run.output
    assert "API 1.26 (pinned by --api-version; the engine serves up to" in run.output
    assert "not applicable: exec WorkingDir needs API 1.35; the harness speaks API 1.26" in run.output


def test_unknown_feature_lists_the_valid_ones(engine_url: str) -> None:
    run = run_pytest(ONE_TEST, f"--engine-url={engine_url}", "--feature=core,no-such-feature")
    assert_one_clear_error(run.output, run.returncode, "unknown feature no-such-feature", "valid features: ", "sysctls")


def test_feature_option_selects_only_that_feature(engine_url: str) -> None:
    run = run_pytest("suites/", f"--engine-url={engine_url}", "--feature=host-header-compat", "--collect-only", "-q")
    assert run.returncode == 0, run.output
    ids = [line for line in run.output.splitlines() if "::" in line]
    assert ids and all(i.startswith("suites/test_host_header_compat.py::") for i in ids)


def test_unknown_expectations_profile_lists_the_valid_ones(engine_url: str) -> None:
    run = run_pytest(ONE_TEST, f"--engine-url={engine_url}", "--expectations=crio")
    assert_one_clear_error(run.output, run.returncode, "unknown expectations profile crio",
                           "docker, docker-containerd-store, docker-rhel, docker-rootless, docker-userns, podman, "
                           "podman-rootless")


def test_malformed_catalog_is_one_line(engine_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "distros.toml"
    bad.write_text("[distros.x]\ntitle = 'X'\n")
    run = run_pytest(ONE_TEST, f"--engine-url={engine_url}", f"--catalog={bad}")
    assert_one_clear_error(run.output, run.returncode, "distros.x lacks the key")


def test_bad_tls_material_is_one_line(tmp_path: Path) -> None:
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("not a certificate\n")
    run = run_pytest(ONE_TEST, "--engine-url=tcp://127.0.0.1:1", f"--tls-ca={tmp_path / 'ca.pem'}",
                     f"--tls-cert={tmp_path / 'cert.pem'}", f"--tls-key={tmp_path / 'key.pem'}", timeout=30)
    assert_one_clear_error(run.output, run.returncode, "tcp://127.0.0.1:1")


def test_unknown_option_is_refused() -> None:
    run = run_pytest(ONE_TEST, "--no-such-option")
    assert run.returncode == 4
    assert "unrecognized arguments: --no-such-option" in run.output


def test_malformed_expectations_file_is_one_line(engine_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[match]\nkind = 'docker'\n[[expect]]\nfeature = 'core'\noutcome = 'maybe'\nreason = 'x'\n")
    run = run_pytest(ONE_TEST, f"--engine-url={engine_url}", f"--expectations={bad}")
    assert_one_clear_error(run.output, run.returncode, "malformed expectations", "outcome must be")


FAILING_SUITE = '''
import pytest
from fixtures.harness import feature

pytestmark = feature("core")


def test_false_exits_zero(containers, base_image):
    """Deliberately wrong: `false` exits 1, so this fails on every correct engine."""
    assert containers.run(base_image, ["false"]).exit_code == 0


def test_true_exits_zero(containers, base_image):
    assert containers.run(base_image, ["true"]).exit_code == 0
'''


def expectations(tmp_path: Path, test: str) -> Path:
    path = tmp_path / "expect.toml"
    path.write_text(f"[match]\nkind = 'docker'\n[[expect]]\ntest = '{test}'\noutcome = 'fail'\nreason = 'r'\n")
    return path


def test_expected_failure_is_xfail_and_missing_expectation_fails(
    engine_url: str, mini_project: Path, tmp_path: Path
) -> None:
    (mini_project / "suites" / "test_mini.py").write_text(FAILING_SUITE)
    exp = expectations(tmp_path, "suites/test_mini.py::test_false_exits_zero*")
    with_it = run_pytest(f"--engine-url={engine_url}", f"--expectations={exp}", cwd=mini_project)
    assert with_it.returncode == 0, with_it.output
    assert "1 passed, 1 xfailed" in with_it.output
    without = run_pytest(f"--engine-url={engine_url}", "--no-expectations", cwd=mini_project)
    assert without.returncode == 1
    assert "1 failed, 1 passed" in without.output


def test_an_intermittent_entry_accepts_both_outcomes_and_reports_each(engine_url: str, mini_project: Path,
                                                                        tmp_path: Path) -> None:
    """``outcome = "intermittent"``: a failure is an xfail naming the race, a pass a pass; the run is green."""
    (mini_project / "suites" / "test_mini.py").write_text(FAILING_SUITE)
    exp = tmp_path / "expect.toml"
    exp.write_text("[match]\nkind = 'docker'\n[[expect]]\ntest = 'suites/test_mini.py::test_*'\n"
                   "outcome = 'intermittent'\nreason = 'the race'\n")
    run = run_pytest(f"--engine-url={engine_url}", f"--expectations={exp}", "-rxX", cwd=mini_project)
    assert run.returncode == 0, run.output
    assert "1 xfailed, 1 xpassed" in run.output and "intermittent on docker: the race" in run.output


def test_an_entry_naming_its_failure_covers_that_failure_only(engine_url: str, mini_project: Path,
                                                               tmp_path: Path) -> None:
    """``failure = TEXT``: a failure whose message has TEXT is the expected one; another one fails, saying so."""
    (mini_project / "suites" / "test_mini.py").write_text(FAILING_SUITE)
    entry = "[match]\nkind = 'docker'\n[[expect]]\ntest = 'suites/test_false*'\noutcome = 'intermittent'\n"
    for failure, verdict in (("assert 1 == 0", "1 passed, 1 xfailed"), ("broken pipe", "1 failed, 1 passed")):
        exp = tmp_path / "expect.toml"
        exp.write_text(entry.replace("test_false*", "test_mini.py::test_false*") +
                       f"reason = 'the race'\nfailure = '{failure}'\n")
        run = run_pytest(f"--engine-url={engine_url}", f"--expectations={exp}", cwd=mini_project)
        assert verdict in run.output, run.output[-2000:]
        assert run.returncode == (0 if "xfailed" in verdict else 1)
    assert "not the failure expected on docker, which has 'broken pipe'" in run.output


def test_expectation_on_a_passing_test_fails_the_run(engine_url: str, mini_project: Path, tmp_path: Path) -> None:
    (mini_project / "suites" / "test_mini.py").write_text(FAILING_SUITE)
    exp = expectations(tmp_path, "suites/test_mini.py::test_*")
    run = run_pytest(f"--engine-url={engine_url}", f"--expectations={exp}", cwd=mini_project)
    assert run.returncode == 1
    assert "[XPASS(strict)]" in run.output


def test_suite_test_without_a_feature_marker_is_refused(engine_url: str, mini_project: Path) -> None:
    (mini_project / "suites" / "test_nofeature.py").write_text("def test_x():\n    pass\n")
    run = run_pytest(f"--engine-url={engine_url}", "--no-expectations", cwd=mini_project)
    assert_one_clear_error(run.output, run.returncode, "names no feature marker")


def snapshot(client: docker.DockerClient) -> dict[str, set[str]]:
    return {
        "containers": {str(c.id) for c in client.containers.list(all=True)},
        "volumes": {str(v.name) for v in client.volumes.list()},
        "networks": {str(n.id) for n in client.networks.list()},
    }


@pytest.mark.exclusive
def test_run_leaves_no_containers_volumes_or_networks(engine_url: str) -> None:
    client = docker.DockerClient(base_url=engine_url, timeout=60)
    before = snapshot(client)
    run = run_pytest("suites/test_core.py", f"--engine-url={engine_url}", "--distro=busybox", "-n", "2")
    assert run.returncode == 0, run.output[-3000:]
    assert snapshot(client) == before
