"""What the operator-configured suites install (fixtures/operator.py) and how they read records
(fixtures/apilog.py, the audit suite): hooks and secrets leave nothing behind, the hook program
reads the states runtimes write (compact and pretty-printed JSON), and the record parsers find a
Red Hat-style record (so the logging tests can pass where an engine logs)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import testinfra

from fixtures import apilog, operator, paths
from fixtures.launcher import LAUNCH_ROOT
from suites import test_api_access_logging as access
from suites import test_api_audit_logging as audit
from tests.conftest import ROOT, run_pytest


def leftovers() -> list[str]:
    found = [str(p) for p in Path("/run").glob("conformance-operator-*")]
    found += [str(p) for p in Path("/run").glob("conformance-*.lock")]
    found += [str(p) for p in Path("/tmp").glob("conformance-secrets-*")]
    found += [operator.HOOK_PROGRAMS] if Path(operator.HOOK_PROGRAMS).exists() else []
    found += [str(p) for p in LAUNCH_ROOT.glob("*")] if LAUNCH_ROOT.exists() else []
    return found


@pytest.mark.exclusive
def test_hooks_and_secrets_suites_leave_nothing_behind() -> None:
    """Against the managed Podman (a configured instance of it): the suites pass and no instance, hooks
    directory, hook program, record or secret is left."""
    podman = str(paths.managed_socket("podman"))
    if not Path(podman).exists():
        pytest.skip("no managed Podman (ci/engines up podman)")
    assert leftovers() == []
    run = run_pytest("suites/test_oci_hooks_dir.py", "suites/test_prestart_hooks_after_mounts.py",
                     "suites/test_secrets_mounts.py", f"--engine-url=unix://{podman}", "--distro=busybox", "-n", "2",
                     "-q", cwd=ROOT, timeout=600)
    assert run.returncode == 0, run.output[-3000:]
    assert "passed" in run.output and "failed" not in run.output
    assert leftovers() == []
    assert not Path(operator.PODMAN_MOUNTS_OVERRIDE).exists() or "conformance" not in Path(
        operator.PODMAN_MOUNTS_OVERRIDE).read_text()


@pytest.mark.exclusive
def test_operator_directories_of_a_killed_run_are_reaped_and_a_live_ones_kept() -> None:
    """A run killed with SIGKILL leaves its /run/conformance-operator-* behind: the next run's reaper removes it
    by its owner label (the process is gone), and leaves a live run's and an unlabelled one."""
    from fixtures.lifecycle import owner_alive, owner_label

    host = testinfra.get_host("local://")
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead, live, unlabelled = (Path(f"/run/conformance-operator-reaptest-{n}") for n in ("dead", "live", "none"))
    try:
        for directory in (dead, live, unlabelled):
            (directory / "hooks.d").mkdir(parents=True)
        (dead / operator.OWNER_FILE).write_text(owner_label(gone.pid) + "\n")
        (live / operator.OWNER_FILE).write_text(owner_label() + "\n")
        reaped = operator.reap_operator_dirs(host, owner_alive)
        assert reaped == [f"operator directory {dead} (owner {owner_label(gone.pid)})"]
        assert not dead.exists() and live.exists() and unlabelled.exists()
    finally:
        for directory in (dead, live, unlabelled):
            subprocess.run(["rm", "-rf", str(directory)], check=False)


@pytest.mark.parametrize("indent", [None, 4])
def test_the_hook_program_reads_compact_and_pretty_printed_states(tmp_path: Path, indent: int | None) -> None:
    """The recorder takes id, pid and bundle from the state on stdin, and the root path from the bundle's
    config.json (Podman writes it pretty-printed, runc's callers compact)."""
    bundle, rootfs = tmp_path / "bundle", tmp_path / "rootfs"
    (rootfs / "data").mkdir(parents=True)
    (rootfs / "data" / "file").write_text("from-host\n")
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps({"ociVersion": "1.0.2", "root": {"path": str(rootfs)},
                                                    "hooks": {"prestart": [{"path": "/x"}]}}, indent=indent))
    records = tmp_path / "records"
    program = tmp_path / "hook.sh"
    program.write_text(operator.RECORDER.replace("@RECORDS@", str(records)))
    program.chmod(0o755)
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        state = {"ociVersion": "1.0.2", "id": "abc123", "status": "creating", "pid": sleeper.pid,
                 "bundle": str(bundle), "annotations": {"io.kubernetes.cri-o.id": "not-this"}}
        subprocess.run([str(program), "prestart"], input=json.dumps(state, indent=indent), text=True, check=True,
                       timeout=30)
    finally:
        sleeper.kill()
        sleeper.wait()
    out = records / "abc123"
    assert (out / "prestart.pid").read_text().strip() == str(sleeper.pid)
    assert (out / "prestart.config-json").read_text().strip() == "yes"
    assert (out / "prestart.rootfs").read_text().strip() == str(rootfs)
    assert (out / "prestart.data-file").read_text().strip() == "from-host"
    assert json.loads((out / "prestart.state").read_text())["id"] == "abc123"


CALLS = apilog.Calls("f" * 64, "conformance-apilog-x", "conformance-apilog-missing-x", 1000.0, 1010.0)


def test_access_records_are_sorted_by_action_and_identity_is_read() -> None:
    redhat = [f"{{Action=create, Name={CALLS.name}, LoginUID=1000, PID=4242, UID=0}}",
              f"{{Action=start, ID={CALLS.id}, LoginUID=1000, PID=4242, UID=0}}",
              f"{{Action=stop, ID={CALLS.id}, LoginUID=1000, PID=4242, UID=0}}",
              f"{{Action=delete, ID={CALLS.id}, LoginUID=1000, PID=4242, UID=0}}",
              'msg="bundle dir created" other=1']
    found = apilog.per_action(redhat, CALLS)
    assert apilog.missing_actions(found) == []
    assert access.identity(found["create"][0]) == {"loginuid": "1000", "pid": "4242", "uid": "0"}
    moby = [f'level=debug msg="Calling POST /v1.41/containers/create?name={CALLS.name}"',
            f'level=debug msg="Calling POST /v1.41/containers/{CALLS.id}/start"',
            f'level=info msg="ignoring event" container={CALLS.id} topic=/tasks/delete',  # not an API call
            f'level=info msg="ignoring event" container={CALLS.id} topic=/tasks/stop']
    assert apilog.missing_actions(apilog.per_action(moby, CALLS)) == ["stop", "remove"]
    podman = [f"PODMAN_EVENT=remove\nPODMAN_ID={CALLS.id}", f'@ - - "POST /v1.41/containers/{CALLS.id}/stop?t=10"']
    assert apilog.missing_actions(apilog.per_action(podman, CALLS)) == ["create", "start"]


def test_virt_control_records_are_read_from_the_window(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text(
        f"type=VIRT_CONTROL msg=audit(1005.100:7): pid=4242 uid=0 auid=1000 ses=3 msg='op=start vm={CALLS.name} "
        f"uuid={CALLS.id} vm-pid=99 exe=\"/usr/bin/dockerd\" res=success'\n"
        "type=VIRT_CONTROL msg=audit(900.000:1): pid=1 uid=0 auid=0 msg='op=start vm=old res=success'\n"
        "type=DAEMON_START msg=audit(1005.000:6): op=start\n")

    found = audit.virt_control(testinfra.get_host("local://"), str(log), CALLS.since)
    assert len(found) == 1 and apilog.per_action(found, CALLS)["start"] == found
