"""Feature ``api-audit-logging``: API calls as audit records (rhatdan/docker PR 109, Red Hat only).

With the audit subsystem on and auditd running on the engine host, each create, start, stop and
remove of a container made by the suite MUST produce a ``VIRT_CONTROL`` audit record naming the
operation (``op=``) and the container, carrying the caller's audit identity (``auid=``, ``pid=``,
``uid=``) and the result (``res=success``); a refused call MUST produce one with ``res=failed``.
Read from auditd's log file (``log_file`` of /etc/audit/auditd.conf) on the engine host. Not
applicable where the engine host cannot audit (no auditctl, audit disabled, no auditd running, or
the kernel refuses audit from its namespace — a container's engine host): the probe says which.
"""

from __future__ import annotations

import re

import pytest

from fixtures.apilog import Calls, make_calls, missing_actions, per_action
from fixtures.engine_host import EngineHost
from fixtures.harness import feature

pytestmark = [feature("api-audit-logging"), pytest.mark.ahead.with_args(make_calls)]

AUDITD_CONF = "/etc/audit/auditd.conf"


@pytest.fixture(scope="session")
def audit_log(engine_host: EngineHost) -> str:
    """auditd's log file on the engine host, where the host audits; else not applicable, naming the probe."""
    if not engine_host.exists("auditctl"):
        pytest.skip("not applicable: no auditctl on the engine host (the audit userspace is not installed)")
    status = engine_host.run("auditctl -s")
    fields = dict(line.split(" ", 1) for line in status.stdout.splitlines() if " " in line)
    if status.rc != 0 or fields.get("enabled", "0").strip() == "0" or fields.get("pid", "0").strip() == "0":
        said = " ".join((status.stdout + status.stderr).split())[:200]
        pytest.skip(f"not applicable: the engine host does not audit (auditctl -s: exit {status.rc}, {said})")
    conf = engine_host.file(AUDITD_CONF)
    m = re.search(r"^\s*log_file\s*=\s*(\S+)", conf.content_string if conf.exists else "", re.M)
    path = m.group(1) if m else "/var/log/audit/audit.log"
    if not engine_host.file(path).exists:
        pytest.skip(f"not applicable: auditd runs but its log {path} does not exist on the engine host")
    return path


def virt_control(engine_host: EngineHost, path: str, since: float) -> list[str]:
    """VIRT_CONTROL records (type 2500) written at or after ``since``."""
    out = engine_host.run("grep -a -E %s %s", "type=(VIRT_CONTROL|2500) ", path).stdout
    found = []
    for line in out.splitlines():
        m = re.search(r"audit\((\d+\.\d+):", line)
        if m and float(m.group(1)) >= since - 1:
            found.append(line)
    return found


def test_lifecycle_calls_write_virt_control_records(engine_host: EngineHost, audit_log: str, calls: Calls) -> None:
    """create, start, stop and remove MUST each write a VIRT_CONTROL record naming the op and the container."""
    found = per_action(virt_control(engine_host, audit_log, calls.since), calls)
    assert missing_actions(found) == [], (
        f"{audit_log} has no VIRT_CONTROL record of {', '.join(missing_actions(found))} for {calls.name} "
        f"({calls.id[:12]})")


def test_records_carry_the_callers_audit_identity(engine_host: EngineHost, audit_log: str, calls: Calls) -> None:
    """Each record MUST carry the caller's auid, pid and uid and the result res=success."""
    found = per_action(virt_control(engine_host, audit_log, calls.since), calls)
    if missing_actions(found):
        pytest.fail(f"no VIRT_CONTROL record of {', '.join(missing_actions(found))} "
                    "(test_lifecycle_calls_write_virt_control_records)", pytrace=False)
    for action, recs in found.items():
        assert any(all(re.search(rf"\b{k}=\S+", r) for k in ("auid", "pid", "uid")) for r in recs), (action, recs)
        assert any("res=success" in r or "res=1" in r for r in recs), (action, recs)


def test_refused_call_is_audited_as_failed(engine_host: EngineHost, audit_log: str, calls: Calls) -> None:
    """A refused start (no such container) MUST write a VIRT_CONTROL record with res=failed naming it."""
    records = [r for r in virt_control(engine_host, audit_log, calls.since) if calls.refused in r]
    assert any("res=failed" in r or "res=0" in r for r in records), (
        f"{audit_log} has no failed VIRT_CONTROL record naming {calls.refused}: {records[:3]}")
