"""``ci/coverage [RESULTS...] [--import-swagger SWAGGER]``: which test observes each create field.

The fields of ``POST /containers/create`` (``ContainerConfig``, ``HostConfig``, the endpoint
settings of ``NetworkingConfig``) come from the Engine API's own schema, kept as data in
fixtures/contract/create-<api>.toml (``--import-swagger`` writes it from a swagger.yaml, e.g.
/usr/share/gocode/src/github.com/docker/docker/api/swagger.yaml of Debian's
golang-github-docker-docker-dev). Tests say which fields they observe with
``@pytest.mark.observes("HostConfig.Memory", ...)``; fixtures/contract/coverage.toml gives the API
version a newer field appeared in and, for a field no test observes, the reason none can here.

Prints one row per field: the API version it appeared in, the tests that observe it (or the
reason), and — given results files or directories — per engine whether an observing test passed
(pass), failed, was an expected failure (xfail) or not applicable (n/a); then the totals. Exits 1
when a field has neither a test nor a reason, a reason is kept for a field a test now observes,
or a test names a field the schema lacks; 2 on unreadable input.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ci.tools.results import ROOT, ResultsError, RunResults, load_all, parser

CONTRACT = ROOT / "fixtures" / "contract"
SUITES = ROOT / "suites"
OLDEST_API = "1.24"  # the oldest API the suite speaks: fields without a `since` are at least this old
# Schema definitions whose properties are create fields, under the names tests use.
SECTIONS = {"ContainerConfig": "ContainerConfig", "HostConfig": "HostConfig",
            "EndpointSettings": "EndpointSettings", "EndpointIPAMConfig": "EndpointSettings.IPAMConfig"}
RANK = {"fail": 0, "xfail": 1, "pass": 2, "n/a": 3}


@dataclass(frozen=True)
class Schema:
    api: str
    source: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Row:
    field: str
    since: str
    tests: tuple[str, ...]
    reason: str
    engines: tuple[str, ...] = ()


def import_swagger(swagger: Path, out_dir: Path = CONTRACT) -> Path:
    """Writes create-<api>.toml with every create field of a swagger.yaml."""
    import yaml

    doc = yaml.safe_load(swagger.read_text())
    defs = doc["definitions"]

    def props(name: str) -> list[str]:
        spec = defs[name]
        found = list(spec.get("properties", {}))
        for part in spec.get("allOf", []):
            found += props(part["$ref"].rsplit("/", 1)[1]) if "$ref" in part else list(part.get("properties", {}))
        return found

    fields = [f"{prefix}.{p}" for name, prefix in SECTIONS.items() for p in dict.fromkeys(props(name))]
    fields.insert(fields.index("EndpointSettings.IPAMConfig"), "NetworkingConfig.EndpointsConfig")
    api = str(doc["info"]["version"])
    path = out_dir / f"create-{api}.toml"
    body = "\n".join(f'    "{f}",' for f in fields)
    path.write_text(
        f"# Fields of POST /containers/create in Engine API {api}, from its swagger.yaml by\n"
        f"# `ci/coverage --import-swagger {swagger}`. Generated: do not edit by hand.\n"
        f'api = "{api}"\nsource = "{swagger} (info.version {api})"\nfields = [\n{body}\n]\n')
    return path


def schemas(directory: Path = CONTRACT) -> list[Schema]:
    found = []
    for path in sorted(directory.glob("create-*.toml")):
        data = tomllib.loads(path.read_text())
        found.append(Schema(str(data["api"]), str(data["source"]), tuple(data["fields"])))
    return found


def observed_fields(suites: Path = SUITES) -> dict[str, list[str]]:
    """field -> test ids (``suites/test_x.py::test_y``) from ``observes`` markers, read statically."""
    found: dict[str, list[str]] = {}

    def fields_in(node: ast.AST) -> list[str]:
        calls = [n for n in ast.walk(node) if isinstance(n, ast.Call)]
        return [a.value for c in calls
                if isinstance(c.func, ast.Attribute) and c.func.attr == "observes"
                for a in c.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]

    for module in sorted(suites.glob("test_*.py")):
        tree = ast.parse(module.read_text())
        module_fields = [f for stmt in tree.body if isinstance(stmt, ast.Assign)
                         and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in stmt.targets)
                         for f in fields_in(stmt.value)]
        rel = module.relative_to(suites.parent)
        for stmt in tree.body:
            if isinstance(stmt, ast.FunctionDef) and stmt.name.startswith("test_"):
                names = module_fields + [f for d in stmt.decorator_list for f in fields_in(d)]
                for name in dict.fromkeys(names):
                    found.setdefault(name, []).append(f"{rel}::{stmt.name}")
    return found


def engine_status(run: RunResults, tests: tuple[str, ...]) -> str:
    outcomes = [r.outcome for r in run.results if r.test.split("[", 1)[0] in tests]
    statuses = ["fail" if o in ("failed", "error", "xpass-strict") else "xfail" if o == "xfail"
                else "pass" if o == "passed" else "n/a" for o in outcomes]
    return min(statuses, key=RANK.__getitem__) if statuses else "-"


def build(runs: list[RunResults], contract: Path = CONTRACT, suites: Path = SUITES) -> tuple[list[Row], list[str]]:
    """The rows, and the problems that make the coverage incomplete."""
    data = tomllib.loads((contract / "coverage.toml").read_text())
    since: dict[str, str] = data.get("since", {})
    reasons: dict[str, str] = data.get("reasons", {})
    observed = observed_fields(suites)
    fields = list(dict.fromkeys(f for s in schemas(contract) for f in s.fields))
    problems = []
    rows = []
    for name in fields:
        tests: tuple[str, ...] = tuple(observed.get(name, []))
        reason = reasons.get(name, "")
        if not tests and not reason:
            problems.append(f"{name}: no test observes it and no reason is given (fixtures/contract/coverage.toml)")
        if tests and reason:
            problems.append(f"{name}: observed by {tests[0]}, but coverage.toml still gives a reason")
        rows.append(Row(name, since.get(name, OLDEST_API), tests, reason,
                        tuple(engine_status(run, tests) for run in runs)))
    for name, naming in observed.items():
        if name not in fields:
            problems.append(f"{name}: named by {naming[0]}, but no supported schema has that field")
    for name in set(reasons) | set(since):
        if name not in fields:
            problems.append(f"{name}: in coverage.toml, but no supported schema has that field")
    return rows, problems


def render(rows: list[Row], runs: list[RunResults]) -> str:
    engines = [run.engine_name for run in runs]
    head = ["field", "since", *engines, "observed by / reason"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        what = ", ".join(t.split("::", 1)[1] for t in row.tests) if row.tests else f"(none) {row.reason}"
        lines.append(f"| {row.field} | {row.since} | " + "".join(f"{s} | " for s in row.engines) + f"{what} |")
    observed = sum(1 for r in rows if r.tests)
    lines.append("")
    lines.append(f"{len(rows)} fields: {observed} observed by a test, {len(rows) - observed} with a reason")
    for engine, column in zip(engines, zip(*(r.engines for r in rows), strict=True), strict=True):
        counts = Counter(column)
        lines.append(f"{engine}: " + ", ".join(f"{counts[s]} {s}" for s in ("pass", "xfail", "fail", "n/a", "-")
                                                 if counts[s]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = parser("ci/coverage", __doc__)
    p.add_argument("results", nargs="*", help="results files or directories (per-engine columns)")
    p.add_argument("--import-swagger", type=Path, metavar="SWAGGER", help="write the field list of a swagger.yaml")
    args = p.parse_args(argv)
    if args.import_swagger:
        try:
            print(f"wrote {import_swagger(args.import_swagger)}")
        except (OSError, KeyError, ValueError) as err:
            print(f"ci/coverage: cannot import {args.import_swagger}: {err}", file=sys.stderr)
            return 2
        return 0
    try:
        runs = load_all(args.results) if args.results else []
    except ResultsError as err:
        print(f"ci/coverage: {err}", file=sys.stderr)
        return 2
    rows, problems = build(runs)
    print(render(rows, runs))
    for problem in problems:
        print(f"INCOMPLETE: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
