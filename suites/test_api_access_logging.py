"""Feature ``api-access-logging``: state-changing API calls logged with the caller's identity (docker PR
14446, Red Hat only).

For a create, start, stop and remove of a container made by the suite, and a refused start, the
engine MUST log each call where an operator reads its logs — the engine host's journal (syslog
goes there) or the engine's own log (``--engine-log``) — naming the action and the container, and
SHOULD give the caller's identity: its uid and pid (PR 14446 logged the peer credentials of the
API socket, with the login uid). Journald's trusted fields (``_PID``, ``_UID``...) describe the
process that wrote the entry — the engine — and do not count as the caller's.

Modern engines, for comparison: Podman writes events to journald (PODMAN_EVENT, PODMAN_ID) when
its events logger is journald; Moby logs "Calling POST /vX/containers/..." at debug level only.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest

from fixtures.apilog import ACTIONS, Calls, journal, make_calls, missing_actions, per_action
from fixtures.harness import Harness, feature
from fixtures.hostside import read_engine_log

pytestmark = [feature("api-access-logging"), pytest.mark.ahead.with_args(make_calls)]


def records(engine_host: Any, harness: Harness, c: Calls) -> tuple[list[str], str]:
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


def test_state_changing_calls_are_logged(engine_host: Any, harness: Harness, calls: Calls,
                                         record_property: Any) -> None:
    """Each of create, start, stop and remove MUST be logged, naming the action and the container."""
    found, where = records(engine_host, harness, calls)
    by_action = per_action(found, calls)
    record_property("access-records", json.dumps({a: rs[:2] for a, rs in by_action.items()})[:4000])
    assert missing_actions(by_action) == [], (
        f"{where} has no record of {', '.join(missing_actions(by_action))} for {calls.name} ({calls.id[:12]})")


def identity(record: str) -> dict[str, str]:
    return {k.lower(): v for k, v in re.findall(r"\b(loginuid|uid|pid)\b\s*[=:]\s*\"?(-?\d+)", record, re.I)}


def test_logged_calls_carry_the_callers_identity(engine_host: Any, harness: Harness, calls: Calls) -> None:
    """Each logged call SHOULD carry the caller's uid and pid (the API socket's peer; PR 14446), the pid
    being this test's process where the engine runs on this machine."""
    found, where = records(engine_host, harness, calls)
    by_action = per_action(found, calls)
    if missing_actions(by_action):
        pytest.fail(f"{where} has no record of {', '.join(missing_actions(by_action))} for {calls.name} "
                    "(test_state_changing_calls_are_logged)", pytrace=False)
    local = harness.tunnel is None and harness.spec.socket_path is not None and engine_host.backend.NAME == "local"
    for action, recs in by_action.items():
        ids = [identity(r) for r in recs]
        assert any("uid" in i and "pid" in i for i in ids), (
            f"the {action} records name no caller uid and pid: {recs[:3]}")
        assert any(i.get("uid") == str(os.getuid()) for i in ids), f"{action}: caller uid is {os.getuid()}: {ids}"
        if local:
            assert any(i.get("pid") == str(os.getpid()) for i in ids), f"{action}: caller pid is {os.getpid()}: {ids}"


def test_refused_call_is_logged(engine_host: Any, harness: Harness, calls: Calls) -> None:
    """A refused call (a start of a container that does not exist) MUST be logged too, naming what it asked
    for: an access log records attempts, not only successes."""
    found, where = records(engine_host, harness, calls)
    assert [r for r in found if calls.refused in r and re.search(ACTIONS["start"], r, re.I)], (
        f"{where} has no record of the refused start of {calls.refused}")
