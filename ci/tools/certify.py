"""``ci/certify``: a certification run and its bundle, and the bundle's verification.

    ci/certify --engine-url=URL --distro=LIST --output=DIR [--profile=NAME] [--sign=KEY.pem]
               [--vendor=V --product=P --product-version=X --contact=C] [-- PYTEST-ARGS...]
    ci/certify --verify DIR [--public-key=PUB.pem] [--max-age-days=N]
    ci/certify --rerun-failed BUNDLE --output=DIR [--engine-url=URL] [--sign=KEY.pem] [...]

A run takes every applicable test of the profile (default rhel-docker) for one engine and a set of
distros, with no expectations (nothing is expected to fail) and no skips but detected
not-applicable ones. The bundle holds: results.json (per test), junit.xml, run.log (the full
output), collected.txt (the tests the run selected), engine.json (/version, /info, packages,
kernel, OS), suite.json (the suite's git revision, profile, distros, command), product.json,
matrix.{json,md,html}, the results as TAP 13 (results.tap) and tmt results (tmt-results.json),
and SHA256SUMS of all of it; signed (``--sign``, an ed25519 private key in
PEM: ``openssl genpkey -algorithm ed25519 -out key.pem``), also SIGNATURE (SHA256SUMS's signature,
base64) and signer.pub (the public key, PEM). ``--rerun-failed BUNDLE`` reruns only that bundle's
failed tests (same engine, distros and profile unless given), and its suite.json says it is a rerun
of which bundle (its path and SHA256SUMS digest) and which tests; such a bundle is verified for the
tests it reran, not for the profile's completeness, which the original bundle answers.

Verification, in the manner of the Kubernetes conformance review: the sums match and no file is
missing or added; every collected test has a result, and every feature of the profile has one;
each result passed, or was skipped as not applicable with a reason; results, JUnit and log
agree on the counts; the product is named. And what the Kubernetes conformance bot checks: the
bundle's suite version is the current or the previous release (one with a committed inventory);
every MUST test of the profile in that version's inventory has a result, on every distro of the
run, and none failed (a SHOULD failure is a warning); no result is of a test that inventory lacks;
engine.json's /version is the engine results.json names; a run older than ``--max-age-days`` (180)
is flagged. With ``--public-key`` the bundle must be signed by that key and unchanged since;
a signed bundle's signature is checked against its own signer.pub in any case. Any problem is
named; the exit code is then 1 (warnings alone: 0).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ci.tools.matrix import build, write
from ci.tools.results import ROOT, ResultsError, feature_ids, load, parser
from fixtures import inventory
from fixtures.engine import EngineSpec, TLSOptions, connect, detect
from fixtures.profiles import load_profiles
from fixtures.tunnel import open_tunnel

SUMS = "SHA256SUMS"
SIGNATURE, SIGNER = "SIGNATURE", "signer.pub"
UNSUMMED = {SUMS, SIGNATURE, SIGNER}  # written after the sums: the signature covers SHA256SUMS itself
MAX_AGE_DAYS = 180
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


REVISION = ROOT / "REVISION"  # an installed suite's (ci/package writes it into the wheel)


def git_revision() -> dict[str, Any]:
    """The suite's git revision and whether the tree differs from it: the checkout's, or for the package
    (no .git, no git in the suite's image) the one it was built from."""
    if not (ROOT / ".git").exists() and REVISION.is_file():
        return dict(json.loads(REVISION.read_text()))

    def git(*args: str) -> str:
        try:
            out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=60)
        except OSError:
            return ""
        return out.stdout.strip()

    return {"revision": git("rev-parse", "HEAD") or "unknown", "dirty": bool(git("status", "--porcelain"))}


def certify(args: argparse.Namespace, pytest_args: list[str]) -> int:
    out = Path(args.output)
    if out.exists() and any(out.iterdir()):
        print(f"ci/certify: {out} is not empty", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    work = out / ".work"
    rerun = rerun_of(Path(args.rerun_failed), args) if args.rerun_failed else None
    selected = rerun["tests"] if rerun else [str(ROOT / "suites")]
    base = [sys.executable, "-m", "pytest", *selected, f"--engine-url={args.engine_url}",
            f"--distro={args.distro}", f"--profile={args.profile}", "--no-expectations", "-p", "no:cacheprovider",
            *([f"--ssh-config={args.ssh_config}"] if args.ssh_config else []), *pytest_args]
    collected = subprocess.run([*base, "--collect-only", "-q"], cwd=ROOT, capture_output=True, text=True)
    if collected.returncode != 0:
        shutil.rmtree(out, ignore_errors=True)
        print(f"ci/certify: {(collected.stdout + collected.stderr).strip().splitlines()[-1]}", file=sys.stderr)
        return 2
    (out / "collected.txt").write_text("".join(f"{line}\n" for line in collected.stdout.splitlines() if "::" in line))
    command = [*base, f"--report-dir={work}", f"--junitxml={out / 'junit.xml'}", f"--tap={out / 'results.tap'}",
               f"--tmt-results={out / 'tmt-results.json'}", "-rA"]
    started = now_utc()
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
    (out / "suite.json").write_text(json.dumps({**git_revision(), "suite_version": inventory.suite_version(),
                                                "profile": args.profile, "distros": args.distro,
                                                "command": command[2:], "exit": code, "started": started,
                                                "finished": now_utc(), **({"rerun_of": rerun} if rerun else {})},
                                               indent=1))
    (out / "product.json").write_text(json.dumps({f: getattr(args, f"product_{f}") for f in PRODUCT_FIELDS},
                                                 indent=1))
    write(build([load(out / "results.json")]), out)
    write_sums(out)
    if args.sign:
        sign(out, Path(args.sign))
    problems = verify(out)
    print(f"bundle {out}: " + ("verifies" if not problems else f"does not verify ({len(problems)} problems)"))
    return code or (1 if problems else 0)


def rerun_of(bundle: Path, args: argparse.Namespace) -> dict[str, Any]:
    """What a rerun of ``bundle``'s failed tests runs, filling the options it was not given from it."""
    try:
        run, suite = load(bundle / "results.json"), json.loads((bundle / "suite.json").read_text())
    except (ResultsError, OSError, ValueError) as err:
        raise SystemExit(f"ci/certify: --rerun-failed={bundle}: not a bundle ({err})") from None
    failed = sorted({r.test for r in run.results if r.failing})
    if not failed:
        raise SystemExit(f"ci/certify: --rerun-failed={bundle}: no test failed there")
    args.engine_url = args.engine_url or run.engine.get("url")
    args.distro = args.distro or suite.get("distros") or "busybox"
    args.profile = args.profile or suite.get("profile") or "rhel-docker"
    return {"bundle": str(bundle.resolve()), "sha256sums": sha256(bundle / SUMS), "tests": failed}


def now_utc() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def write_sums(bundle: Path) -> None:
    files = sorted(p for p in bundle.rglob("*") if p.is_file() and p.name not in UNSUMMED)
    (bundle / SUMS).write_text("".join(f"{sha256(p)}  {p.relative_to(bundle)}\n" for p in files))


def fingerprint(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()[:32]


def sign(bundle: Path, key_path: Path) -> None:
    """SIGNATURE: the ed25519 signature of SHA256SUMS by the private key ``key_path``; signer.pub its public key."""
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as err:
        raise SystemExit(f"ci/certify: --sign={key_path}: not an unencrypted PEM private key ({err})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SystemExit(f"ci/certify: --sign={key_path}: an ed25519 key is needed, not {type(key).__name__}")
    (bundle / SIGNATURE).write_text(base64.b64encode(key.sign((bundle / SUMS).read_bytes())).decode() + "\n")
    (bundle / SIGNER).write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                 serialization.PublicFormat.SubjectPublicKeyInfo))


def _public_key(data: bytes, where: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{where} is not an ed25519 public key")
    return key


def signature_problems(bundle: Path, public_key: Path | None) -> tuple[list[str], list[str]]:
    """(problems, warnings) of the bundle's signature: who signed it, and that nothing changed since."""
    if not (bundle / SIGNATURE).exists():
        return ([f"{SIGNATURE} is missing: the bundle is not signed (--public-key={public_key} asks for it)"]
                if public_key else []), []
    try:
        signer = _public_key((bundle / SIGNER).read_bytes(), SIGNER)
        signature = base64.b64decode((bundle / SIGNATURE).read_text().strip(), validate=True)
    except (OSError, ValueError) as err:
        return [f"unreadable signature: {err}"], []
    problems, warnings = [], []
    if public_key is not None:
        try:
            expected = _public_key(public_key.read_bytes(), str(public_key))
        except (OSError, ValueError) as err:
            return [f"--public-key={public_key}: {err}"], []
        if fingerprint(expected) != fingerprint(signer):
            problems.append(f"signed by another key: {SIGNER} is {fingerprint(signer)}, {public_key} is "
                            f"{fingerprint(expected)}")
    else:
        warnings.append(f"signed by {fingerprint(signer)}; pass --public-key to check who that is")
    try:
        signer.verify(signature, (bundle / SUMS).read_bytes())
    except InvalidSignature:
        problems.append(f"{SUMS} changed after signing: {SIGNATURE} does not verify with {SIGNER}")
    return problems, warnings


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


def verify(bundle: Path, public_key: Path | None = None) -> list[str]:
    """What is wrong with a bundle (nothing: it verifies)."""
    return review(bundle, public_key)[0]


def review(bundle: Path, public_key: Path | None = None, max_age_days: float = MAX_AGE_DAYS,
           now: datetime.datetime | None = None) -> tuple[list[str], list[str]]:
    """(problems, warnings) of a bundle: it verifies when there is no problem."""
    signed, warnings = signature_problems(bundle, public_key)
    sums, problems = _sums(bundle)
    problems = signed + problems
    present = {str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file() and p.name not in UNSUMMED}
    for name in sorted(set(sums) | present):
        if name not in present:
            problems.append(f"{name}: listed in {SUMS} but missing")
        elif name not in sums:
            problems.append(f"{name}: not listed in {SUMS}")
        elif sha256(bundle / name) != sums[name]:
            problems.append(f"{name}: SHA-256 differs from {SUMS}")
    if problems:
        return problems, warnings  # the content cannot be trusted: say only what differs
    try:
        run = load(bundle / "results.json")
        suite = json.loads((bundle / "suite.json").read_text())
        product = json.loads((bundle / "product.json").read_text())
        engine = json.loads((bundle / "engine.json").read_text())
    except (ResultsError, OSError, ValueError) as err:
        return [f"unreadable bundle: {err}"], warnings
    results = {r.test: r for r in run.results}
    for test in (bundle / "collected.txt").read_text().split():
        if test not in results:
            problems.append(f"results.json: no result for the collected test {test}")
    profile = load_profiles(set(feature_ids())).get(str(suite.get("profile")))
    rerun = bool(suite.get("rerun_of"))  # a rerun holds the original's failed tests only
    if profile is None:
        problems.append(f"suite.json: unknown profile {suite.get('profile')!r}")
    elif not rerun:
        seen = {f for r in run.results for f in r.feature.split(",")}
        problems += [f"results.json: feature {f} of profile {profile.name} has no result"
                     for f in profile.features if f not in seen]
    levels, inventory_problems = _inventory_levels(suite, run.distros)
    problems += inventory_problems
    for r in run.results:
        name = inventory.template(r.test, r.distro)
        level = levels.get(name, "") if levels else "MUST"
        if levels and name not in levels:
            problems.append(f"results.json: {r.test} is not in the inventory of suite version "
                            f"{suite.get('suite_version')}")
        if r.outcome == "skipped" and not r.reason.removeprefix("Skipped: ").startswith("not applicable"):
            problems.append(f"results.json: {r.test} skipped without a detected not-applicable reason")
        elif r.outcome not in ("passed", "skipped"):
            (problems if level == "MUST" else warnings).append(f"results.json: {level or 'unlevelled'} test "
                                                               f"{r.test} {r.outcome}")
    if levels and profile is not None and not rerun:
        must = [t for t in _profile_tests(suite, profile.name) if levels.get(t) == "MUST"]
        problems += [f"results.json: no result for {test}, a MUST test of profile {profile.name} in suite "
                     f"version {suite.get('suite_version')}"
                     for template in must for test in inventory.expand(template, list(run.distros))
                     if test not in results]
    problems += _agreement(bundle, list(results.values()))
    problems += _same_engine(run.engine, engine)
    problems += [f"product.json: {f} is empty" for f in PRODUCT_FIELDS if not str(product.get(f) or "").strip()]
    warnings += _age(suite, max_age_days, now or datetime.datetime.now(datetime.UTC))
    return problems, warnings


def _inventory(suite: dict[str, Any]) -> dict[str, Any] | None:
    path = inventory.INVENTORY_DIR / f"{suite.get('suite_version')}.json"
    return inventory.read(path) if path.exists() else None


def _inventory_levels(suite: dict[str, Any], distros: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """The level of each test of the bundle's suite version, and the problems with that version."""
    version = suite.get("suite_version")
    eligible = inventory.releases()[-2:]
    if version is None:
        return {}, ["suite.json: no suite_version (a bundle of a suite before 1.0.0, which had no inventory)"]
    problems = [] if version in eligible else [
        f"suite.json: suite version {version} is not the current or the previous release "
        f"({' or '.join(reversed(eligible)) or 'none committed'})"]
    data = _inventory(suite)
    if data is None:
        return {}, [*problems, f"no inventory of suite version {version} (inventory/{version}.json)"]
    return {t["test"]: t["level"] for t in data["tests"]}, problems


def _profile_tests(suite: dict[str, Any], profile: str) -> list[str]:
    data = _inventory(suite) or {}
    return list((data.get("profiles") or {}).get(profile, []))


def _same_engine(named: dict[str, Any], engine: dict[str, Any]) -> list[str]:
    """results.json names the engine whose /version engine.json holds."""
    answer = engine.get("version_answer") or {}
    said = (str(engine.get("kind", "")), str(answer.get("Version", "")))
    claimed = (str(named.get("kind", "")), str(named.get("version", "")))
    return [] if said == claimed else [
        f"results.json names engine {' '.join(claimed)}, but engine.json's /version is {' '.join(said)}"]


def _age(suite: dict[str, Any], max_age_days: float, now: datetime.datetime) -> list[str]:
    try:
        finished = datetime.datetime.fromisoformat(str(suite.get("finished")))
    except ValueError:
        return ["suite.json: no finished time: the run's age is unknown"]
    days = (now - finished).total_seconds() / 86400
    return [f"the run is {days:.0f} days old (finished {suite['finished']}; more than {max_age_days:g})"] \
        if days > max_age_days else []


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
    ap.add_argument("--public-key", metavar="PUB.pem", help="with --verify: the key the bundle must be signed by")
    ap.add_argument("--max-age-days", type=float, default=MAX_AGE_DAYS, help="with --verify: flag older runs")
    ap.add_argument("--sign", metavar="KEY.pem", help="sign the bundle with this ed25519 private key")
    ap.add_argument("--engine-url")
    ap.add_argument("--distro", default=None, help="comma-separated (default busybox)")
    ap.add_argument("--rerun-failed", metavar="BUNDLE", help="rerun only the failed tests of this bundle")
    ap.add_argument("--output")
    ap.add_argument("--profile", default=None, help="ci/profiles.toml (default rhel-docker)")
    ap.add_argument("--ssh-config", default=None)
    for f in PRODUCT_FIELDS:
        ap.add_argument(f"--{'product-version' if f == 'version' else f}", dest=f"product_{f}", default="")
    args = ap.parse_args(argv)
    if args.verify:
        problems, warnings = review(Path(args.verify), Path(args.public_key) if args.public_key else None,
                                    args.max_age_days)
        for problem in problems:
            print(f"ci/certify: {problem}")
        for warning in warnings:
            print(f"ci/certify: warning: {warning}")
        print(f"bundle {args.verify}: " + ("verifies" if not problems else "does NOT verify"))
        return 1 if problems else 0
    if not args.rerun_failed:
        args.distro, args.profile = args.distro or "busybox", args.profile or "rhel-docker"
    if not (args.engine_url or args.rerun_failed) or not args.output:
        ap.error("--engine-url and --output are needed (or --verify DIR)")
    return certify(args, pytest_args)


if __name__ == "__main__":
    sys.exit(main())
