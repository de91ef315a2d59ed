"""Feature ``api-access-logging``: state-changing API calls logged with the caller's identity (docker PR
14446, Red Hat only).

For a create, start, stop and remove of a container made by the suite, and a refused start, the
engine MUST log each call where an operator reads its logs — the engine host's journal (syslog
goes there) or the engine's own log (``--engine-log``) — naming the action and the container, and
SHOULD give the caller's identity: its pid and its uid or login uid (PR 14446 logged the peer
credentials of the API socket, with the login uid). Journald's trusted fields (``_PID``, ``_UID``...)
describe the process that wrote the entry — the engine — and do not count as the caller's.

Red Hat docker 1.13.1 (api/server/middleware/audit_linux.go, observed) writes, at debug level only,
``{Action=create, LoginUID=4294967295, PID=7462}`` — no container on create, which does not exist
yet — and ``{Action=start, ID=<full id>, LoginUID=…, PID=…}`` for the later calls: a create record
naming no container counts as ours when it was written during our create call by our pid
(fixtures/apilog.py). An engine whose source logs API calls only at debug level (its Kind says where)
and runs without it is not applicable where records are missing, naming the setting; one that logs
them all anyway passes.

Modern engines, for comparison: Podman writes events to journald (PODMAN_EVENT, PODMAN_ID) when
its events logger is journald; Moby logs "Calling POST /vX/containers/..." at debug level only.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from fixtures.apilog import ACTIONS, Calls, journal, make_calls, missing_actions, per_action
from fixtures.engine_host import EngineHost
from fixtures.engines import kind_of
from fixtures.harness import Harness, feature
from fixtures.hostside import read_engine_log

pytestmark = [feature("api-access-logging"), pytest.mark.ahead.with_args(make_calls)]


def is_local(harness: Harness, engine_host: EngineHost) -> bool:
    """The engine runs on this machine, so a caller pid it logs is this process's."""
    return harness.tunnel is None and harness.spec.socket_path is not None and engine_host.backend.NAME == "local"


def records(engine_host: EngineHost, harness: Harness, c: Calls) -> tuple[list[str], str]:
    """Everything the engine host logged about the calls, and where it was read."""
    found: list[str] = []
    where = []
    entries = journal(engine_host, c.since, c.until)
    if entries is not None:
        found += entries
        where.append("the engine host's journal")
    log = harness.engine_log
    text = read_engine_log(engine_host, log, c.since, c.until) if log else None
    if text is not None:
        found += text.splitlines()
        where.append(f"the engine log {log}")
    if not where:
        pytest.skip("not applicable: the engine host has no journal and the engine's log is unknown "
                    "(give --engine-log)")
    return found, " and ".join(where)


def unless_debug_only(harness: Harness, missing: list[str]) -> None:
    """Not applicable where records are ``missing`` from an engine that logs API calls at debug level only (its
    source says so) and runs without debug: the outcome is the setting's, not the feature's (issue 29)."""
    why = kind_of(harness.facts.kind).api_calls_at_debug_only
    if missing and why and not harness.facts.raw_info.get("Debug"):
        pytest.skip(f"not applicable: the engine runs without debug (/info Debug=false) and logged no record of "
                    f"{', '.join(missing)}: {why}")


def test_state_changing_calls_are_logged(engine_host: EngineHost, harness: Harness, calls: Calls,
                                         record_property: Any) -> None:
    """Each of create, start, stop and remove MUST be logged, naming the action and the container."""
    found, where = records(engine_host, harness, calls)
    by_action = per_action(found, calls, is_local(harness, engine_host))
    record_property("access-records", json.dumps({a: rs[:2] for a, rs in by_action.items()})[:4000])
    unless_debug_only(harness, missing_actions(by_action))
    assert missing_actions(by_action) == [], (
        f"{where} has no record of {', '.join(missing_actions(by_action))} for {calls.name} ({calls.id[:12]})")


def identity(record: str) -> dict[str, str]:
    return {k.lower(): v for k, v in re.findall(r"\b(loginuid|uid|pid)\b\s*[=:]\s*\"?(-?\d+)", record, re.I)}


def own_loginuid() -> str | None:
    """This process's audit login uid (4294967295: none), where the kernel keeps one."""
    try:
        return Path("/proc/self/loginuid").read_text().strip()
    except OSError:
        return None


def test_logged_calls_carry_the_callers_identity(engine_host: EngineHost, harness: Harness, calls: Calls) -> None:
    """Each logged call SHOULD carry the caller's pid and its uid or login uid (the API socket's peer; PR
    14446 logs ``LoginUID`` and ``PID``), the pid being this test's process and the login uid its own where
    the engine runs on this machine."""
    found, where = records(engine_host, harness, calls)
    local = is_local(harness, engine_host)
    by_action = per_action(found, calls, local)
    unless_debug_only(harness, missing_actions(by_action))
    if missing_actions(by_action):
        pytest.fail(f"{where} has no record of {', '.join(missing_actions(by_action))} for {calls.name} "
                    "(test_state_changing_calls_are_logged)", pytrace=False)
    for action, recs in by_action.items():
        ids = [i for i in map(identity, recs) if "pid" in i and ("uid" in i or "loginuid" in i)]
        assert ids, f"the {action} records name no caller pid with a uid or login uid: {recs[:3]}"
        if not local:
            continue
        assert any(i["pid"] == str(calls.caller) for i in ids), f"{action}: the caller's pid is {calls.caller}: {ids}"
        for key, own in (("uid", str(os.getuid())), ("loginuid", own_loginuid())):
            named = [i[key] for i in ids if key in i]
            assert own is None or not named or own in named, f"{action}: the caller's {key} is {own}: {ids}"


def test_refused_call_is_logged(engine_host: EngineHost, harness: Harness, calls: Calls) -> None:
    """A refused call (a start of a container that does not exist) MUST be logged too, naming what it asked
    for: an access log records attempts, not only successes."""
    found, where = records(engine_host, harness, calls)
    refused = [r for r in found if calls.refused in r and re.search(ACTIONS["start"], r, re.I)]
    unless_debug_only(harness, [] if refused else ["the refused start"])
    assert refused, (
        f"{where} has no record of the refused start of {calls.refused}")
