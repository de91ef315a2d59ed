"""An engine kind is one module of fixtures/engines (issue 27): the harness and the suites ask its Kind or its
launcher, never compare the detected kind with an engine's name. Pure logic: a grep of the sources."""

from __future__ import annotations

import re
from pathlib import Path

from fixtures.engines import KINDS, LAUNCHERS, kind_of

ROOT = Path(__file__).resolve().parent.parent
BRANCH = re.compile(r"""kind\s*(?:==|!=)\s*["'](?:docker|podman)["']"""
                    r"""|kind\s+(?:not\s+)?in\s+\(\s*["'](?:docker|podman)""")


def test_no_branch_on_an_engine_kind_outside_the_engine_package() -> None:
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
             for top in ("fixtures", "suites", "ci/tools") for path in sorted((ROOT / top).rglob("*.py"))
             if "fixtures/engines/" not in str(path)
             for n, line in enumerate(path.read_text().splitlines(), 1) if BRANCH.search(line)]
    assert not found, "branches on an engine kind's name outside fixtures/engines:\n" + "\n".join(found)


def test_every_launched_kind_has_a_kind_and_unknown_ones_the_default() -> None:
    assert set(LAUNCHERS) <= set(KINDS)
    assert kind_of("other").name == "other" and not kind_of("other").libpod
    assert kind_of("podman").libpod and kind_of("docker").client == "docker"


def test_the_engine_host_is_typed_by_its_protocol() -> None:
    """``engine_host`` is a ``fixtures.engine_host.EngineHost`` wherever it is annotated, never ``Any``."""
    untyped = re.compile(r"\b(?:engine_)?host: Any\b")
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
             for top in ("fixtures", "suites") for path in sorted((ROOT / top).rglob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1) if untyped.search(line)]
    assert not found, "engine hosts typed Any:\n" + "\n".join(found)
