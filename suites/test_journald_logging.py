"""Feature ``journald-logging``: the journald log driver (Red Hat BZ 1314463, docker's journald driver).

With ``LogConfig.Type = journald`` every line a container writes MUST become a journal entry on
the engine host carrying the container's identity: CONTAINER_ID (12 characters),
CONTAINER_ID_FULL, CONTAINER_NAME and CONTAINER_TAG (the ``tag`` log option, default the short
id), and SHOULD carry SYSLOG_IDENTIFIER = the tag too (Moby's driver since 17.x; Red Hat docker
1.13.1's writes none, observed), PRIORITY 6 for stdout and 3 for stderr; the ``labels`` and ``env``
log options SHOULD add the named labels and variables as fields (Docker's contract); a line over
16 KiB MUST arrive as partial entries (CONTAINER_PARTIAL_MESSAGE=true) that join to the line; the
logs API MUST read the entries back, and ``follow`` MUST end when the container exits (repeated,
to catch the race). An unknown log option MUST be refused at create. Read on the engine host with
``journalctl --all -o json``; not applicable where the engine host runs no journald or the engine
has no journald driver (detected).
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import docker.errors
import pytest

from fixtures.containers import ContainerFactory
from fixtures.engine_host import EngineHost
from fixtures.harness import feature
from fixtures.shared import once

pytestmark = [feature("journald-logging"), pytest.mark.requires("journald-log-driver")]

JOURNAL_SOCKET = "/run/systemd/journal/socket"
LONG = 40_000  # bytes in one line: over the 16 KiB a journal entry takes


@pytest.fixture(scope="session")
def journal(engine_host: EngineHost) -> Any:
    if not engine_host.exists("journalctl") or not engine_host.file(JOURNAL_SOCKET).is_socket \
            or engine_host.run("pgrep -x systemd-journal").rc != 0:
        pytest.skip(f"not applicable: no journald on the engine host (no journalctl, no {JOURNAL_SOCKET} "
                    "or no systemd-journald process)")
    return engine_host


def entries(journal: Any, container_id: str, want: int = 1, tries: int = 50) -> list[dict[str, Any]]:
    """The container's journal entries (journald writes asynchronously: wait for ``want`` of them)."""
    found: list[dict[str, Any]] = []
    for _ in range(tries):
        out = journal.run("journalctl --all --no-pager -o json CONTAINER_ID_FULL=%s", container_id)
        found = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
        if len(found) >= want:
            break
        journal.run("sleep 0.1")
    return found


def message(entry: dict[str, Any]) -> str:
    value = entry.get("MESSAGE") or ""
    text = bytes(value).decode() if isinstance(value, list) else str(value)
    return text.removesuffix("\n")  # conmon (Podman) keeps the newline, dockerd does not


def journald(**options: str) -> dict[str, Any]:
    return {"Type": "journald", "Config": options}


def run_logged(containers: ContainerFactory, image: str, script: str, **kwargs: Any) -> Any:
    name = f"conformance-journal-{uuid.uuid4().hex[:8]}"
    container = containers.create(image, ["sh", "-c", script], name=name, **kwargs)
    container.start()
    assert containers.wait(container).exit_code == 0
    return container


@dataclass(frozen=True)
class Logged:
    """A container that ran with the journald driver (removed since) and the entries it left."""

    id: str
    name: str
    entries: list[dict[str, Any]]


# Two logged containers serve the field tests (fixtures/shared.py): one with no log option, one
# with the tag, labels and env options together (each option adds fields of its own).
LOGGED: dict[str, tuple[str, int, dict[str, Any]]] = {
    "plain": ("echo to-out; echo to-err >&2", 2, {"log_config": journald()}),
    "options": ("echo with-options", 1, {"log_config": journald(tag="conf-{{.Name}}", labels="io.conformance.lbl",
                                                                env="CONF_ENV"),
                                         "labels": {"io.conformance.lbl": "label-value"},
                                         "environment": {"CONF_ENV": "env-value"}}),
}


def logged(containers: ContainerFactory, image: str, journal: Any, which: str) -> Logged:
    script, lines, kwargs = LOGGED[which]

    def run(factory: ContainerFactory) -> Logged:
        container = run_logged(factory, image, script, **kwargs)
        return Logged(str(container.id), str(container.name), entries(journal, str(container.id), want=lines))

    return once(containers, ("journald", image, which), run)


def test_entries_carry_the_containers_identity(containers: ContainerFactory, base_image: str, journal: Any) -> None:
    """Each line MUST be an entry with CONTAINER_ID (12), CONTAINER_ID_FULL and CONTAINER_NAME."""
    ran = logged(containers, base_image, journal, "plain")
    assert sorted(message(e) for e in ran.entries) == ["to-err", "to-out"]
    for entry in ran.entries:
        assert (entry.get("CONTAINER_ID"), entry.get("CONTAINER_ID_FULL"), entry.get("CONTAINER_NAME")) == (
            ran.id[:12], ran.id, ran.name)


def test_default_tag_is_the_short_id(containers: ContainerFactory, base_image: str, journal: Any) -> None:
    """With no ``tag`` option, CONTAINER_TAG MUST be the short id (the default template ``{{.ID}}``: moby
    daemon/logger/loggerutils/log_tag.go)."""
    ran = logged(containers, base_image, journal, "plain")
    assert [e.get("CONTAINER_TAG") for e in ran.entries] == [ran.id[:12]] * len(ran.entries)


def test_syslog_identifier_is_the_tag(containers: ContainerFactory, base_image: str, journal: Any) -> None:
    """Each entry SHOULD carry SYSLOG_IDENTIFIER = the tag: the short id without a ``tag`` option, the
    expanded template with one (Moby's journald driver; what ``journalctl -t`` selects by)."""
    plain, tagged = (logged(containers, base_image, journal, which) for which in ("plain", "options"))
    assert [e.get("SYSLOG_IDENTIFIER") for e in plain.entries + tagged.entries] == (
        [plain.id[:12]] * len(plain.entries) + [f"conf-{tagged.name}"] * len(tagged.entries))


def test_stdout_is_priority_6_and_stderr_priority_3(containers: ContainerFactory, base_image: str,
                                                    journal: Any) -> None:
    """stdout lines MUST be PRIORITY 6 (info), stderr lines PRIORITY 3 (err)."""
    found = {message(e): e.get("PRIORITY") for e in logged(containers, base_image, journal, "plain").entries}
    assert found == {"to-out": "6", "to-err": "3"}


def test_tag_option_is_the_container_tag(containers: ContainerFactory, base_image: str, journal: Any) -> None:
    """The ``tag`` option (a template) MUST be expanded into CONTAINER_TAG."""
    ran = logged(containers, base_image, journal, "options")
    assert [e.get("CONTAINER_TAG") for e in ran.entries] == [f"conf-{ran.name}"]


# The tag templates' fields (moby daemon/logger/loginfo.go: ID, FullID, Name, ImageName — the image as named
# at create), each alone in a tag: what the container's tag must read for container ``c`` of image ``image``
TAG_TEMPLATES = {"{{.ID}}": lambda c, image: c.id[:12], "{{.FullID}}": lambda c, image: c.id,
                 "{{.Name}}": lambda c, image: c.name, "{{.ImageName}}": lambda c, image: image}


@pytest.mark.parametrize("template", list(TAG_TEMPLATES))
def test_tag_template_fields_are_expanded(containers: ContainerFactory, base_image: str, journal: Any,
                                          template: str) -> None:
    """Each field of a ``tag`` template MUST be expanded into CONTAINER_TAG: ``{{.ID}}`` the short id,
    ``{{.FullID}}`` the full one, ``{{.Name}}`` the container's name, ``{{.ImageName}}`` the image as named
    at create (a second observation of the tag beside test_tag_option_is_the_container_tag, one field each)."""
    container = run_logged(containers, base_image, "echo tagged", log_config=journald(tag=f"t-{template}"))
    found = entries(journal, str(container.id))
    assert [e.get("CONTAINER_TAG") for e in found] == [f"t-{TAG_TEMPLATES[template](container, base_image)}"], found


def test_labels_and_env_options_add_fields(containers: ContainerFactory, base_image: str, journal: Any) -> None:
    """The ``labels`` and ``env`` options SHOULD add those labels and variables as entry fields (keys upper-cased,
    other characters as _), as Docker's journald driver does."""
    entry = logged(containers, base_image, journal, "options").entries[0]
    assert (entry.get("IO_CONFORMANCE_LBL"), entry.get("CONF_ENV")) == ("label-value", "env-value"), sorted(entry)


def test_a_long_line_arrives_as_partial_entries_that_join(containers: ContainerFactory, base_image: str,
                                                          journal: Any) -> None:
    """A line over 16 KiB MUST be split into entries marked CONTAINER_PARTIAL_MESSAGE=true but the last, which
    join to the whole line; the logs API MUST return the line whole."""
    script = f"head -c {LONG} /dev/zero | tr '\\0' a; echo"
    container = run_logged(containers, base_image, script, log_config=journald())
    found = entries(journal, container.id, want=2)
    assert len(found) >= 2, f"{len(found)} entries for a {LONG}-byte line"
    assert all(e.get("CONTAINER_PARTIAL_MESSAGE") == "true" for e in found[:-1])
    assert found[-1].get("CONTAINER_PARTIAL_MESSAGE") in (None, "false")
    assert all(len(message(e)) <= 16 * 1024 for e in found)
    assert "".join(message(e) for e in found) == "a" * LONG
    assert container.logs(stdout=True, stderr=False) == b"a" * LONG + b"\n"


@pytest.mark.parametrize("attempt", range(5))
def test_follow_ends_when_the_container_exits(containers: ContainerFactory, base_image: str, attempt: int) -> None:
    """``logs?follow=1`` on a journald container MUST return every line and end when the container exits."""
    container = containers.create(base_image, ["sh", "-c", "for i in 1 2 3; do echo line-$i; sleep 0.1; done"],
                                  log_config=journald())
    container.start()
    got: list[bytes] = []
    errors: list[Exception] = []

    def follow() -> None:
        try:
            got.extend(container.logs(stream=True, follow=True))
        except docker.errors.APIError as err:
            errors.append(err)

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    containers.wait(container)
    reader.join(timeout=15)
    assert not reader.is_alive(), "follow did not end after the container exited"
    assert not errors, f"follow refused: {errors[0]}" if errors else ""
    assert b"".join(got) == b"line-1\nline-2\nline-3\n"


def test_unknown_log_option_is_refused(containers: ContainerFactory, base_image: str) -> None:
    """A log option the journald driver does not know MUST be refused at create, naming it."""
    with pytest.raises(docker.errors.APIError) as err:
        containers.create(base_image, ["true"], log_config=journald(**{"no-such-conformance-opt": "x"}))
    assert "no-such-conformance-opt" in str(err.value.explanation)
