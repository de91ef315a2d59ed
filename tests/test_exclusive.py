"""ci/test runs the harness's tests side by side (``-n 2``) and then, alone, the ones marked ``exclusive``: those
that compare what the whole host shares before and after (its mounts, links, NAT rules, the launch root, the managed
engine's objects), change it (/dev/net/tun), leave what any run reaps (a dead owner's objects), or start and stop a
managed engine or the engine host. Run beside another test, such a test sees that test's instance or container, or
that test's run reaps its objects, and fails for it (measured: 8 of them failed so in ``-n 2`` runs of every harness
test). Pure logic: the sources' syntax tree."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# helpers of tests/ that read a host-wide listing, or make what any run on the host reaps (a dead owner's objects)
READERS = {"leftovers", "snapshot", "host_state", "mounts", "mounts_under", "links", "interfaces", "rules",
           "host_cgroup_state", "engine_host", "dead_owner"}
CHANGERS = {"engines": {"up", "down"}}
REAPERS = ("reap_",)


def marked(decorators: list[ast.expr]) -> bool:
    return any(ast.unparse(d) == "pytest.mark.exclusive" for d in decorators)


def host_wide(function: ast.FunctionDef) -> list[str]:
    """What in ``function`` reads or changes what the host shares (a test asking whether its own object is in a
    listing, ``f"{route.link}@" in links()``, reads only its own)."""
    found = []
    own = {id(c) for node in ast.walk(function) if isinstance(node, ast.Compare)
           and all(isinstance(op, ast.In | ast.NotIn) for op in node.ops) for c in node.comparators}
    for node in ast.walk(function):
        if not isinstance(node, ast.Call) or id(node) in own:
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        first = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
        if name in READERS or name.startswith(REAPERS) or first in CHANGERS.get(name, ()):
            found.append(ast.unparse(node.func) + (f"({first!r}…)" if first in CHANGERS.get(name, ()) else "()"))
    return found


def test_a_harness_test_that_reads_or_changes_what_the_host_shares_is_exclusive() -> None:
    unmarked = []
    for path in sorted(TESTS.glob("test_*.py")):
        tree = ast.parse(path.read_text())
        module_marked = any(isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark"
                                                                   for t in node.targets)
                            and "pytest.mark.exclusive" in ast.unparse(node.value) for node in tree.body)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_") and not module_marked \
                    and not marked(node.decorator_list) and (calls := host_wide(node)):
                unmarked.append(f"{path.name}::{node.name}: {', '.join(sorted(set(calls)))}")
    assert not unmarked, "not marked exclusive:\n" + "\n".join(unmarked)


def test_the_check_sees_a_host_wide_reader_and_a_managed_engines_stop() -> None:
    source = ("def test_a():\n    assert leftovers() == []\n"
              "def test_b():\n    engines('down', 'docker-28')\n"
              "def test_c():\n    engines('url', 'docker-28')\n"
              "def test_d():\n    assert 'mine@' not in links()\n")
    found = {node.name: host_wide(node) for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}
    assert found == {"test_a": ["leftovers()"], "test_b": ["engines('down'…)"], "test_c": [], "test_d": []}
