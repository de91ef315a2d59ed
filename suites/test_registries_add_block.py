"""Feature ``registries-add-block`` (docker PRs 10411, 11991): operators add registries searched
for unqualified names, in order, and block registries — pull, push and search of a blocked one
are refused before any request reaches it; a mirror serves a registry that is down.

The engine is the ``registry_engine`` (fixtures/registry_engine.py): a configured instance whose
registries run on its own loopback — A and B searched in that order, C blocked, D down and
mirrored by B. Podman is checked through both its compat and its libpod API. An engine with no
way to configure registries (upstream Docker: its dockerd has no such flags) fails: not
implemented. What each registry received is read from its own access log.
"""

from __future__ import annotations

import json
from typing import Any

import docker.errors
import pytest

from fixtures.engine import EngineFacts
from fixtures.engine_host import EngineHost
from fixtures.engines import kind_of
from fixtures.harness import Harness, feature
from fixtures.registry import DistributionRegistry
from fixtures.registry_engine import A, B, C, D, Setup, ready

pytestmark = feature("registries-add-block")

def pull(setup: Setup, reference: str, api: str) -> str:
    """Pulls through the compat or the libpod API; the error text, or ""."""
    client = setup.client
    try:
        if api == "libpod":
            answer = client.api.post(f"{client.api.base_url}/v4.0.0/libpod/images/pull",
                                     params={"reference": reference}, timeout=60)
            text = answer.text
            return "" if answer.status_code == 200 and '"error"' not in text else text
        repo, _, tag = reference.rpartition(":")
        items = list(client.api.pull(repo, tag=tag, stream=True, decode=True))
        errors = [str(i.get("error")) for i in items if i.get("error")]
        return errors[-1] if errors else ""
    except docker.errors.APIError as err:
        return str(err)


def manifest_gets(registry: DistributionRegistry, repo: str) -> list[str]:
    return [r for r in registry.requests() if r.split()[0] in ("GET", "HEAD") and f"/v2/conformance/{repo}/" in r]


def image_names(setup: Setup) -> set[str]:
    return {t for image in setup.client.images.list() for t in image.tags}


@pytest.mark.parametrize("api", ["compat", "libpod"])
def test_short_names_resolve_in_the_configured_order(registry_engine: Setup | str, engine_facts: EngineFacts,
                                                     api: str, record_property: Any) -> None:
    """An unqualified name MUST be looked up in the added registries in order: in A when A has it
    (B never asked), in B after A answered it has none."""
    setup = ready(registry_engine)
    if api == "libpod" and not kind_of(engine_facts.kind).libpod:
        pytest.skip(f"not applicable: the libpod API is Podman's ({engine_facts.kind} has none)")
    a, b = setup.regs["plain-a"], setup.regs["plain-b"]
    before_b = len(manifest_gets(b, "in-both"))
    error = pull(setup, "conformance/in-both:latest", api)
    assert error == "", f"{api}: {error}"
    assert manifest_gets(a, "in-both"), f"{api}: A was not asked for in-both"
    assert len(manifest_gets(b, "in-both")) == before_b, f"{api}: B was asked although A had in-both"
    error = pull(setup, "conformance/only-in-b:latest", api)
    assert error == "", f"{api}: {error}"
    assert manifest_gets(a, "only-in-b") and manifest_gets(b, "only-in-b")
    assert f"{B}/conformance/only-in-b:latest" in image_names(setup)
    record_property(f"resolution_{api}", "A then B")
    for name in (f"{A}/conformance/in-both:latest", f"{B}/conformance/only-in-b:latest"):
        setup.client.images.remove(name, noprune=True)


def blocked_pull(setup: Setup, tool_image: str) -> str:
    return pull(setup, f"{C}/conformance/only-in-a:latest", "compat")


def blocked_push(setup: Setup, tool_image: str) -> str:
    setup.client.images.get(tool_image).tag(f"{C}/conformance/pushed", "latest")
    try:
        return "".join(json.dumps(x) for x in setup.client.api.push(f"{C}/conformance/pushed", "latest",
                                                                     stream=True, decode=True))
    except docker.errors.APIError as err:
        return str(err)
    finally:
        setup.client.images.remove(f"{C}/conformance/pushed:latest", noprune=True)


def blocked_search(setup: Setup, tool_image: str) -> str:
    try:
        answer = setup.client.api.search(f"{C}/conformance")
        return "[]" if answer == [] else json.dumps(answer)
    except docker.errors.APIError as err:
        return str(err)


BLOCKED = {"pull": blocked_pull, "push": blocked_push, "search": blocked_search}


@pytest.mark.parametrize("operation", list(BLOCKED))
def test_blocked_registry_refuses_before_any_request(registry_engine: Setup | str, tool_image: str,
                                                     operation: str) -> None:
    """A pull, push or search naming a blocked registry MUST be refused, saying it is blocked (a search
    may answer no results instead), and the registry MUST NOT receive a single request for it."""
    setup = ready(registry_engine)
    blocked = setup.regs["plain-c"]
    before = len(blocked.requests())
    said = BLOCKED[operation](setup, tool_image)
    assert "blocked" in said.lower() or (operation == "search" and said == "[]"), f"{operation}: {said or 'succeeded'}"
    asked = blocked.requests()[before:]
    assert asked == [], f"{operation}: the blocked registry was asked: {asked}"


def test_mirror_serves_a_registry_that_is_down(registry_engine: Setup | str, engine_facts: EngineFacts) -> None:
    """A pull from a mirrored registry MUST be served by its mirror when the registry itself does not
    answer (D: nothing listens; its mirror B has the image). An engine that cannot mirror D fails with
    what its launcher said (dockerd: ``--registry-mirror`` mirrors only docker.io)."""
    setup = ready(registry_engine)
    if "registries.mirrors" in setup.left_out:
        pytest.fail(f"not implemented: {setup.left_out['registries.mirrors']}", pytrace=False)
    b = setup.regs["plain-b"]
    before = len(manifest_gets(b, "only-in-b"))
    error = pull(setup, f"{D}/conformance/only-in-b:latest", "compat")
    assert error == "", error
    assert len(manifest_gets(b, "only-in-b")) > before, "the mirror was not asked"
    setup.client.images.remove(f"{D}/conformance/only-in-b:latest", noprune=True)


@pytest.mark.deployed
def test_the_engines_own_registries_are_reported_as_configured(engine_host: EngineHost, harness: Harness,
                                                               engine_facts: EngineFacts) -> None:
    """Where the engine under test is itself configured with registries (Red Hat docker's ``--add-registry`` and
    ``--block-registry``, or their daemon.json keys; Podman's registries.conf), what it reports MUST name the
    searched ones exactly, in the configured order, and each blocked one where its report names blocked
    registries at all (issue 29 item 3: the engine as deployed, not only the suite's instances). The
    configuration is read on the engine host; the report is Red Hat docker's /info ``Registries`` (the added
    registries, then docker.io unless blocked; blocked ones unlisted: measured on 1.13.1) or Podman's libpod
    /info ``registries`` (``search`` and each registry's ``Blocked``)."""
    kind = kind_of(engine_facts.kind)
    configured = kind.configured_registries(engine_host, int(harness.engine_process(engine_host).pid))
    if not configured.search and not configured.blocked:
        pytest.skip(f"not applicable: the engine under test is configured with no registries ({configured.source})")
    reported = kind.reported_registries(harness.client, engine_facts.raw_info)
    assert reported is not None, (f"configured with {configured.search} searched, {configured.blocked} blocked "
                                  f"({configured.source}), the engine reports no registries")
    expected = (*configured.search, *kind.implied_registries(configured))
    assert reported.search == expected, (f"{reported.source} searches {list(reported.search)}; configured "
                                         f"({configured.source}): {list(expected)}")
    if reported.names_blocked:
        assert set(reported.blocked) == set(configured.blocked), (
            f"{reported.source} blocks {sorted(reported.blocked)}; configured: {sorted(configured.blocked)}")
