"""``ci/certify``: a certification run and its bundle, and the bundle's verification.

    ci/certify --engine-url=URL --distro=LIST --output=DIR [--profile=NAME]
               [--vendor=V --product=P --product-version=X --contact=C] [-- PYTEST-ARGS...]
    ci/certify --verify DIR

A run takes every applicable test of the profile (default rhel-docker) for one engine and a set of
distros, with no expectations (nothing is expected to fail) and no skips but detected
not-applicable ones. The bundle holds: results.json (per test), junit.xml, run.log (the full
output), collected.txt (the tests the run selected), engine.json (/version, /info, packages,
kernel, OS), suite.json (the suite's git revision, profile, distros, command), product.json,
matrix.{json,md,html}, and SHA256SUMS of all of it.

Verification, in the manner of the Kubernetes conformance review: the sums match and no file is
missing or added; every collected test has a result, and every feature of the profile has one;
each result passed, or was skipped as not applicable with a reason; results, JUnit and log
agree on the counts; the product is named. Any difference is named; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ci.tools.matrix import build, write
from ci.tools.results import ROOT, ResultsError, feature_ids, load, parser
from fixtures.engine import EngineSpec, TLSOptions, connect, detect
from fixtures.profiles import load_profiles
from fixtures.tunnel import open_tunnel

SUMS = "SHA256SUMS"
PRODUCT_FIELDS = ("vendor", "product", "version", "contact")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def engine_identity(url: str, ssh_config: str | None) -> dict[str, Any]:
    spec = EngineSpec.resolve(url, 60, TLSOptions())
    tunnel = open_tunnel(spec.url, ssh_config, 60) if spec.url.startswith("ssh://") else None
    try:
        facts = detect(connect(spec, via=tunnel.url if tunnel else None))
    finally:
        if tunnel:
            tunnel.close()
    packages = {c["Name"]: c["Details"]["Package"] for c in facts.raw_version.get("Components") or []
                if isinstance(c.get("Details"), dict) and c["Details"].get("Package")}
    if facts.package:
        packages["PkgVersion"] = facts.package
    return {"name": facts.name, "kind": facts.kind, "version": facts.version, "api_version": facts.api_version,
            "kernel": facts.kernel, "os": facts.os, "packages": packages, "version_answer": facts.raw_version,
            "info_answer": facts.raw_info}


def git_revision() -> dict[str, Any]:
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return out.stdout.strip()

    return {"revision": git("rev-parse", "HEAD") or "unknown", "dirty": bool(git("status", "--porcelain"))}


def certify(args: argparse.Namespace, pytest_args: list[str]) -> int:
    out = Path(args.output)
    if out.exists() and any(out.iterdir()):
        print(f"ci/certify: {out} is not empty", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    work = out / ".work"
    base = [str(ROOT / ".venv/bin/python"), "-m", "pytest", str(ROOT / "suites"), f"--engine-url={args.engine_url}",
            f"--distro={args.distro}", f"--profile={args.profile}", "--no-expectations", "-p", "no:cacheprovider",
            *([f"--ssh-config={args.ssh_config}"] if args.ssh_config else []), *pytest_args]
    collected = subprocess.run([*base, "--collect-only", "-q"], cwd=ROOT, capture_output=True, text=True)
    if collected.returncode != 0:
        shutil.rmtree(out, ignore_errors=True)
        print(f"ci/certify: {(collected.stdout + collected.stderr).strip().splitlines()[-1]}", file=sys.stderr)
        return 2
    (out / "collected.txt").write_text("".join(f"{line}\n" for line in collected.stdout.splitlines() if "::" in line))
    command = [*base, f"--report-dir={work}", f"--junitxml={out / 'junit.xml'}", "-rA"]
    with (out / "run.log").open("w") as log:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
        code = proc.wait()
    results = sorted(work.glob("results-*.json"))
    if len(results) != 1:
        print(f"ci/certify: the run wrote {len(results)} results files (exit {code}); see {out / 'run.log'}",
              file=sys.stderr)
        return 2
    results[0].rename(out / "results.json")
    shutil.rmtree(work, ignore_errors=True)
    (out / "engine.json").write_text(json.dumps(engine_identity(args.engine_url, args.ssh_config), indent=1))
    (out / "suite.json").write_text(json.dumps({**git_revision(), "profile": args.profile, "distros": args.distro,
                                                "command": command[2:], "exit": code}, indent=1))
    (out / "product.json").write_text(json.dumps({f: getattr(args, f"product_{f}") for f in PRODUCT_FIELDS},
                                                 indent=1))
    write(build([load(out / "results.json")]), out)
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != SUMS)
    (out / SUMS).write_text("".join(f"{sha256(p)}  {p.relative_to(out)}\n" for p in files))
    problems = verify(out)
    print(f"bundle {out}: " + ("verifies" if not problems else f"does not verify ({len(problems)} problems)"))
    return code or (1 if problems else 0)


def _sums(bundle: Path) -> tuple[dict[str, str], list[str]]:
    sums, problems = {}, []
    try:
        lines = (bundle / SUMS).read_text().splitlines()
    except OSError:
        return {}, [f"{SUMS} is missing"]
    for line in lines:
        digest, _, name = line.partition("  ")
        if not re.fullmatch(r"[0-9a-f]{64}", digest) or not name:
            problems.append(f"{SUMS}: malformed line {line!r}")
            continue
        sums[name] = digest
    return sums, problems


def verify(bundle: Path) -> list[str]:
    """What is wrong with a bundle (nothing: it verifies)."""
    sums, problems = _sums(bundle)
    present = {str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file() and p.name != SUMS}
    for name in sorted(set(sums) | present):
        if name not in present:
            problems.append(f"{name}: listed in {SUMS} but missing")
        elif name not in sums:
            problems.append(f"{name}: not listed in {SUMS}")
        elif sha256(bundle / name) != sums[name]:
            problems.append(f"{name}: SHA-256 differs from {SUMS}")
    if problems:
        return problems  # the content cannot be trusted: say only what differs
    try:
        run = load(bundle / "results.json")
        suite = json.loads((bundle / "suite.json").read_text())
        product = json.loads((bundle / "product.json").read_text())
    except (ResultsError, OSError, ValueError) as err:
        return [f"unreadable bundle: {err}"]
    results = {r.test: r for r in run.results}
    for test in (bundle / "collected.txt").read_text().split():
        if test not in results:
            problems.append(f"results.json: no result for the collected test {test}")
    profile = load_profiles(set(feature_ids())).get(str(suite.get("profile")))
    if profile is None:
        problems.append(f"suite.json: unknown profile {suite.get('profile')!r}")
    else:
        seen = {f for r in run.results for f in r.feature.split(",")}
        problems += [f"results.json: feature {f} of profile {profile.name} has no result"
                     for f in profile.features if f not in seen]
    for r in run.results:
        if r.outcome == "skipped" and not r.reason.removeprefix("Skipped: ").startswith("not applicable"):
            problems.append(f"results.json: {r.test} skipped without a detected not-applicable reason")
        elif r.outcome not in ("passed", "skipped"):
            problems.append(f"results.json: {r.test} {r.outcome}")
    problems += _agreement(bundle, list(results.values()))
    problems += [f"product.json: {f} is empty" for f in PRODUCT_FIELDS if not str(product.get(f) or "").strip()]
    return problems


def _agreement(bundle: Path, results: list[Any]) -> list[str]:
    """results.json, junit.xml and run.log's closing line tell the same counts."""
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for r in results:
        counts["passed" if r.outcome == "passed" else "skipped" if r.outcome in ("skipped", "xfail") else "failed"] += 1
    junit = {"passed": 0, "failed": 0, "skipped": 0}
    for case in ET.parse(bundle / "junit.xml").getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        junit["failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed"] += 1
    problems = [] if junit == counts else [f"junit.xml counts {junit} differ from results.json {counts}"]
    closing = [line for line in (bundle / "run.log").read_text().splitlines() if re.search(r"=+ .* in [\d.]+s", line)]
    logged = {k: int(m.group(1)) if (m := re.search(rf"(\d+) {k}", closing[-1] if closing else "")) else 0
              for k in ("passed", "failed", "skipped")}
    if logged != counts:
        problems.append(f"run.log closing line {logged} differs from results.json {counts}")
    return problems


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = parser("ci/certify", __doc__)
    ap.add_argument("--verify", metavar="DIR", help="verify a bundle instead of making one")
    ap.add_argument("--engine-url")
    ap.add_argument("--distro", default="busybox")
    ap.add_argument("--output")
    ap.add_argument("--profile", default="rhel-docker")
    ap.add_argument("--ssh-config", default=None)
    for f in PRODUCT_FIELDS:
        ap.add_argument(f"--{'product-version' if f == 'version' else f}", dest=f"product_{f}", default="")
    args = ap.parse_args(argv)
    if args.verify:
        problems = verify(Path(args.verify))
        for problem in problems:
            print(f"ci/certify: {problem}")
        print(f"bundle {args.verify}: " + ("verifies" if not problems else "does NOT verify"))
        return 1 if problems else 0
    if not args.engine_url or not args.output:
        ap.error("--engine-url and --output are needed (or --verify DIR)")
    return certify(args, pytest_args)


if __name__ == "__main__":
    sys.exit(main())
