"""Pure logic: the records engines write of API calls, as each generation writes them, and journalctl's export
format (binary fields included)."""

from __future__ import annotations

import re

import pytest

from fixtures.apilog import ACTIONS, export_entries

# Lines as the engines wrote them (ci/engines' logs): Moby 20.10.24, Moby 28.5.2 (api/server/middleware/debug.go).
MOBY_20 = {
    "create": 'level=debug msg="Calling POST /v1.41/containers/create?name=conformance-apilog-x"',
    "start": 'level=debug msg="Calling POST /v1.41/containers/0123abcd/start"',
    "stop": 'level=debug msg="Calling POST /v1.41/containers/0123abcd/stop?t=10"',
    "remove": 'level=debug msg="Calling DELETE /v1.41/containers/0123abcd?v=1"',
}
MOBY_28 = {
    "create": 'level=debug msg="handling POST request" form-data="{}" method=POST module=api '
              'request-url="/v1.51/containers/create?name=conformance-apilog-x" vars="map[version:1.51]"',
    "start": 'level=debug msg="handling POST request" method=POST module=api '
             'request-url=/v1.51/containers/0123abcd/start vars="map[name:0123abcd version:1.51]"',
    "stop": 'level=debug msg="handling POST request" method=POST module=api '
            'request-url="/v1.51/containers/0123abcd/stop?t=10" vars="map[name:0123abcd version:1.51]"',
    "remove": 'level=debug msg="handling DELETE request" method=DELETE module=api '
              'request-url="/v1.51/containers/0123abcd?force=1&v=1" vars="map[name:0123abcd version:1.51]"',
}


@pytest.mark.parametrize("generation", [MOBY_20, MOBY_28], ids=["moby-20.10", "moby-28"])
def test_each_call_is_recognized_as_its_generation_logs_it(generation: dict[str, str]) -> None:
    for action, line in generation.items():
        found = [a for a, pattern in ACTIONS.items() if re.search(pattern, line, re.I)]
        assert found == [action], (line, found)


def test_a_read_is_no_state_changing_call() -> None:
    line = 'msg="handling GET request" method=GET module=api request-url=/v1.51/containers/0123abcd/json'
    assert not any(re.search(pattern, line, re.I) for pattern in ACTIONS.values())


def test_journal_export_fields_with_newlines_are_binary_with_a_length() -> None:
    """systemd's export format: a value with a newline (Podman's journald driver logging a container's output)
    is NAME, newline, 64-bit little-endian length, the bytes, newline; undecodable bytes are replaced."""
    value = b"line one\nline two \xff"
    data = (b"__REALTIME_TIMESTAMP=1700000000000000\nMESSAGE\n" + len(value).to_bytes(8, "little") + value
            + b"\nCONTAINER_NAME=c1\n\n__REALTIME_TIMESTAMP=2\nMESSAGE=plain\n")
    assert export_entries(data) == [
        [("__REALTIME_TIMESTAMP", "1700000000000000"), ("MESSAGE", "line one\nline two \ufffd"),
         ("CONTAINER_NAME", "c1")],
        [("__REALTIME_TIMESTAMP", "2"), ("MESSAGE", "plain")],
    ]
