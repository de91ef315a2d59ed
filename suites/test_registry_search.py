"""Feature ``registry-search`` (Red Hat's "improved searching experience"): a search MUST look in
every configured registry, each result naming its registry; a failing registry MUST NOT fail the
search when another answers; a blocked registry MUST NOT be searched; ``limit`` and ``filters``
MUST behave.

The engine is the ``registry_engine`` (fixtures/registry_engine.py): A and B hold images named
conformance/*, C is blocked, F fails (500). Distribution registries have no v1 search endpoint:
what the engine asks each registry instead is recorded (``search_requests``). An engine with no
way to configure registries fails: not implemented.
"""

from __future__ import annotations

from typing import Any

from fixtures.harness import feature
from fixtures.registry_engine import A, B, C, Setup, ready

pytestmark = feature("registry-search")


def search(setup: Setup, term: str, **params: Any) -> list[dict[str, Any]]:
    client = setup.client
    answer = client.api.get(f"{client.api.base_url}/v{client.api.api_version}/images/search",
                            params={"term": term, **params}, timeout=60)
    assert answer.status_code == 200, f"search {term!r} {params}: {answer.status_code} {answer.text[:300]}"
    return list(answer.json())


def names(results: list[dict[str, Any]]) -> set[str]:
    """Each result as REGISTRY/NAME: its name, prefixed with the registry it names in ``registry_name``
    (Red Hat docker names the registry there, and the repository without it)."""
    found = set()
    for r in results:
        name, registry = str(r.get("name") or r.get("Name")), r.get("registry_name") or r.get("index_name")
        found.add(f"{registry}/{name}" if registry and not name.startswith(f"{registry}/") else name)
    return found


def test_search_looks_in_every_configured_registry(registry_engine: Setup | str, record_property: Any) -> None:
    """A search MUST return matches from every configured registry that has them, each result's name
    prefixed with its registry (A has only-in-a, B has only-in-b)."""
    setup = ready(registry_engine)
    found = names(search(setup, "conformance"))
    record_property("search_requests", "; ".join(r for reg in setup.regs.values() for r in reg.requests()
                                                 if "search" in r or "_catalog" in r))
    assert f"{A}/conformance/only-in-a" in found, found
    assert f"{B}/conformance/only-in-b" in found, found


def test_failing_registry_does_not_fail_the_search(registry_engine: Setup | str) -> None:
    """A registry that answers 500 MUST NOT fail the whole search: the others' results come back,
    and the failing one was asked."""
    setup = ready(registry_engine)
    failing = setup.regs["failing"]
    found = names(search(setup, "conformance"))
    assert f"{B}/conformance/only-in-b" in found, found
    assert failing.requests(), "the failing registry was never asked"


def test_a_search_nobody_matches_is_empty_despite_a_failing_registry(registry_engine: Setup | str) -> None:
    """A search no registry matches MUST answer an empty list, not the failing registry's error."""
    setup = ready(registry_engine)
    assert search(setup, "conformance-matches-nothing") == []


def test_blocked_registry_is_not_searched(registry_engine: Setup | str) -> None:
    """A blocked registry in the search list MUST NOT receive a request, nor appear in results."""
    setup = ready(registry_engine)
    blocked = setup.regs["plain-c"]
    before = len(blocked.requests())  # other tests of the session ask it things of their own
    found = names(search(setup, "conformance"))
    assert not any(n.startswith(f"{C}/") for n in found), found
    asked = blocked.requests()[before:]
    assert asked == [], f"the blocked registry was asked: {asked}"


def test_limit_caps_the_results_per_registry(registry_engine: Setup | str) -> None:
    """``limit=1`` MUST cap each registry's results at one (two registries answer: at most two)."""
    setup = ready(registry_engine)
    everything = search(setup, "conformance")
    limited = search(setup, "conformance", limit=1)
    assert len(everything) >= 3, names(everything)
    assert 1 <= len(limited) <= 2, names(limited)


def test_filters_select_results(registry_engine: Setup | str) -> None:
    """``filters`` MUST select: no image in these registries is official, so ``is-official=true``
    returns none while the unfiltered search returns some (both asked of A alone, by a qualified term);
    a malformed filter MUST be refused."""
    setup = ready(registry_engine)
    assert names(search(setup, f"{A}/conformance")) == {f"{A}/conformance/in-both", f"{A}/conformance/only-in-a"}
    assert search(setup, f"{A}/conformance", filters='{"is-official": ["true"]}') == []
    answer = setup.client.api.get(f"{setup.client.api.base_url}/v{setup.client.api.api_version}/images/search",
                                  params={"term": "conformance", "filters": "{not json"}, timeout=60)
    assert answer.status_code in (400, 500), f"a malformed filter answered {answer.status_code}"
