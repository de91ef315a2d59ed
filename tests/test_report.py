"""Results that gate and certify, against the real managed dockerd: the Allure report opened in
headless Chromium, compare and expectations on real runs, and certification bundles."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ci.tools import certify
from ci.tools.certify import review, verify
from fixtures import inventory
from tests.conftest import ROOT, run_pytest

FAILING = "suites/test_systemd_pid1.py::test_engine_tells_pid1_it_runs_in_a_container"  # Moby sets no container=
PASSING = "suites/test_core_errors.py"
CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def tool(name: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ROOT / "ci" / name), *args], capture_output=True, text=True, timeout=timeout)


def rendered_text(page: str, profile: Path) -> str:
    """What headless Chromium shows of a page once its scripts ran, as plain text."""
    out = subprocess.run([*CHROMIUM, f"--user-data-dir={profile}", "--virtual-time-budget=15000", "--dump-dom", page],
                         capture_output=True, text=True, timeout=120)
    text = re.sub(r"<style.*?</style>|<script.*?</script>", " ", out.stdout, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))


def test_allure_report_shows_the_run_and_a_failing_tests_evidence(engine_url: str, tmp_path: Path) -> None:
    """The HTML report (ci/report) opens in Chromium: the overview counts the run's tests, and the failing
    test's page lists its container's inspect and logs, the API exchanges and the engine log excerpt."""
    if shutil.which("chromium") is None:
        pytest.fail("chromium is not installed (ci/install installs it)")
    results = tmp_path / "allure"
    run = run_pytest(FAILING, PASSING, f"--engine-url={engine_url}", "--distro=busybox", "--no-expectations",
                     f"--alluredir={results}", f"--report-dir={tmp_path}")
    counted = re.search(r"\b1 failed, (\d+) passed", run.output)
    assert run.returncode == 1 and counted, run.output[-2000:]  # the failing test, and the passing module's all
    assert "engine=docker-" in (results / "environment.properties").read_text()
    made = tool("report", str(results), "--output", str(tmp_path / "html"))
    assert made.returncode == 0, made.stderr
    page = tmp_path / "html" / "index.html"
    overview = rendered_text(page.as_uri(), tmp_path / "chromium-1")
    assert f"{1 + int(counted.group(1))} test cases" in overview and "engine.api" in overview
    cases = {json.loads(base64.b64decode(data))["status"]: uid for uid, data in
             re.findall(r"d\('data/test-cases/([0-9a-f]+)\.json','([^']*)'\)", page.read_text())}
    failing = rendered_text(f"{page.as_uri()}#testresult/{cases['failed']}", tmp_path / "chromium-2")
    assert "test_engine_tells_pid1_it_runs_in_a_container[busybox]" in failing
    assert re.search(r"container [0-9a-f]{10,12} inspect", failing) and re.search(r"container [0-9a-f]{10,12} logs",
                                                                                 failing)
    assert "API exchanges (the failing one marked)" in failing and "engine log (test window)" in failing


def test_compare_catches_a_new_failure_between_two_real_runs(engine_url: str, tmp_path: Path) -> None:
    """A run with its expectations, then the same run with one expectation removed: the second run fails
    (strict expectations) and ci/compare names the new failure and exits 1."""
    good = run_pytest(FAILING, f"--engine-url={engine_url}", "--distro=busybox", f"--report-dir={tmp_path / 'a'}")
    assert good.returncode == 0, good.output[-2000:]
    trimmed = tmp_path / "docker.toml"
    text = (ROOT / "ci" / "expectations" / "docker.toml").read_text()
    trimmed.write_text(re.sub(r'\[\[expect\]\]\ntest = "suites/test_systemd_pid1.py::test_engine_tells_pid1[^\n]*'
                              r'\n[^\n]*\n[^\n]*\n', "", text))
    assert trimmed.read_text() != text
    bad = run_pytest(FAILING, f"--engine-url={engine_url}", "--distro=busybox", f"--expectations={trimmed}",
                     f"--report-dir={tmp_path / 'b'}")
    assert bad.returncode == 1, bad.output[-2000:]
    compared = tool("compare", str(tmp_path / "a"), str(tmp_path / "b"))
    assert compared.returncode == 1, compared.stdout
    assert "new failures: 1" in compared.stdout
    assert "test_engine_tells_pid1_it_runs_in_a_container[busybox]" in compared.stdout


def test_an_expectation_for_a_passing_test_fails_the_run(engine_url: str, tmp_path: Path) -> None:
    extra = tmp_path / "docker.toml"
    extra.write_text((ROOT / "ci" / "expectations" / "docker.toml").read_text()
                     + '\n[[expect]]\ntest = "suites/test_core_errors.py::test_missing_image_is_404"\n'
                       'outcome = "fail"\nreason = "wrongly expected"\n')
    run = run_pytest("suites/test_core_errors.py::test_missing_image_is_404", f"--engine-url={engine_url}",
                     f"--expectations={extra}")
    assert run.returncode == 1 and "XPASS(strict)" in run.output, run.output[-2000:]


def key_pair(directory: Path, name: str) -> tuple[Path, Path]:
    """An ed25519 private key and its public key, as PEM files."""
    key = Ed25519PrivateKey.generate()
    private, public = directory / f"{name}.pem", directory / f"{name}.pub.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    directory = tmp_path_factory.mktemp("keys")
    return {name: key_pair(directory, name) for name in ("vendor", "other")}


@pytest.fixture(scope="module")
def bundle(engine_url: str, tmp_path_factory: pytest.TempPathFactory, keys: dict[str, tuple[Path, Path]]) -> Path:
    out = tmp_path_factory.mktemp("certify") / "bundle"
    made = subprocess.run([str(ROOT / "ci" / "certify"), f"--engine-url={engine_url}", "--distro=busybox",
                           "--profile=core", f"--output={out}", "--vendor=Example", "--product=Engine",
                           "--product-version=1.0", "--contact=qa@example.invalid", f"--sign={keys['vendor'][0]}"],
                          capture_output=True, text=True, timeout=900)
    assert made.returncode == 0, (made.stdout + made.stderr)[-3000:]
    return out


def edited(bundle: Path, tmp_path: Path, key: Path | None, **changes: dict[str, object]) -> Path:
    """A copy of the bundle with JSON files changed (file name -> {key: value}; key "results" a callable
    on the list), its sums rewritten and, with ``key``, signed again: only what the verifier checks
    beyond the sums can catch it."""
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    for name, values in changes.items():
        path = copy / f"{name}.json"
        data = json.loads(path.read_text())
        for field, value in values.items():
            data[field] = value(data[field]) if callable(value) else value
        path.write_text(json.dumps(data))
    certify.write_sums(copy)
    if key is not None:
        certify.sign(copy, key)
    return copy


def test_certification_bundle_verifies(bundle: Path, keys: dict[str, tuple[Path, Path]]) -> None:
    names = {p.name for p in bundle.iterdir()}
    assert names >= {"results.json", "junit.xml", "run.log", "collected.txt", "engine.json", "suite.json",
                     "product.json", "matrix.json", "matrix.md", "matrix.html", "results.tap", "tmt-results.json",
                     "SHA256SUMS"}
    assert verify(bundle) == []
    assert review(bundle, keys["vendor"][1]) == ([], [])
    assert {"SIGNATURE", "signer.pub"} <= names
    assert json.loads((bundle / "suite.json").read_text())["suite_version"] == inventory.suite_version()
    engine = json.loads((bundle / "engine.json").read_text())
    assert engine["kind"] == "docker" and engine["version_answer"]["ApiVersion"] and engine["kernel"]
    assert re.fullmatch(r"[0-9a-f]{40}", json.loads((bundle / "suite.json").read_text())["revision"])
    checked = subprocess.run([str(ROOT / "ci" / "certify"), "--verify", str(bundle)], capture_output=True, text=True)
    assert checked.returncode == 0 and "verifies" in checked.stdout
    assert "warning: signed by SHA256:" in checked.stdout  # who: only with --public-key


def test_a_bundle_without_one_must_test_fails_naming_it(bundle: Path, tmp_path: Path,
                                                         keys: dict[str, tuple[Path, Path]]) -> None:
    dropped: list[str] = []

    levels = {t["test"]: t["level"] for t in inventory.read(
        inventory.INVENTORY_DIR / f"{inventory.suite_version()}.json")["tests"]}

    def drop_one(results: list[dict[str, str]]) -> list[dict[str, str]]:
        must = next(r for r in results if levels[inventory.template(r["test"], r["distro"])] == "MUST")
        dropped.append(must["test"])
        return [r for r in results if r is not must]

    copy = edited(bundle, tmp_path, keys["vendor"][0], results={"results": drop_one})
    problems = review(copy, keys["vendor"][1])[0]
    assert f"results.json: no result for {dropped[0]}, a MUST test of profile core in suite version " \
           f"{inventory.suite_version()}" in problems, problems


def test_a_bundle_of_a_suite_version_before_the_previous_release_fails(bundle: Path, tmp_path: Path,
                                                                        keys: dict[str, tuple[Path, Path]]) -> None:
    copy = edited(bundle, tmp_path, keys["vendor"][0], suite={"suite_version": "0.9.0"})
    problems = review(copy, keys["vendor"][1])[0]
    assert any(p.startswith("suite.json: suite version 0.9.0 is not the current or the previous release")
               for p in problems), problems


def test_a_bundle_naming_another_engine_than_its_version_answer_fails(bundle: Path, tmp_path: Path,
                                                                      keys: dict[str, tuple[Path, Path]]) -> None:
    copy = edited(bundle, tmp_path, keys["vendor"][0], results={"engine": lambda e: {**e, "version": "99.0"}})
    problems = review(copy, keys["vendor"][1])[0]
    assert any(p.startswith("results.json names engine docker 99.0, but engine.json's /version is docker ")
               for p in problems), problems


def test_a_bundle_changed_after_signing_fails(bundle: Path, tmp_path: Path, keys: dict[str, tuple[Path, Path]]) -> None:
    copy = edited(bundle, tmp_path, None, product={"vendor": "Someone Else"})  # sums rewritten, not signed again
    problems = review(copy, keys["vendor"][1])[0]
    assert problems == ["SHA256SUMS changed after signing: SIGNATURE does not verify with signer.pub"], problems
    assert verify(copy) == problems  # without --public-key too: the bundle's own signer.pub is checked


def test_a_bundle_signed_by_another_key_fails(bundle: Path, tmp_path: Path, keys: dict[str, tuple[Path, Path]]) -> None:
    copy = edited(bundle, tmp_path, keys["other"][0])
    checked = subprocess.run([str(ROOT / "ci" / "certify"), "--verify", str(copy), f"--public-key={keys['vendor'][1]}"],
                             capture_output=True, text=True)
    assert checked.returncode == 1 and "ci/certify: signed by another key: signer.pub is SHA256:" in checked.stdout
    unsigned = edited(bundle, tmp_path / "unsigned", None)
    (unsigned / "SIGNATURE").unlink()
    assert review(unsigned, keys["vendor"][1])[0][0].startswith("SIGNATURE is missing: the bundle is not signed")


def test_an_old_run_is_flagged_and_a_should_failure_is_a_warning(bundle: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime

    finished = datetime.datetime.fromisoformat(json.loads((bundle / "suite.json").read_text())["finished"])
    problems, warnings = review(bundle, now=finished + datetime.timedelta(days=200))
    assert problems == [] and any("the run is 200 days old" in w for w in warnings), warnings
    # the first result's test made a SHOULD test (an inventory of its own), then failed: a warning only
    shelf = tmp_path / "inventory"
    shelf.mkdir()
    data = inventory.read(inventory.INVENTORY_DIR / f"{inventory.suite_version()}.json")
    first = json.loads((bundle / "results.json").read_text())["results"][0]
    name = inventory.template(first["test"], first["distro"])
    data["tests"] = [{**t, "level": "SHOULD"} if t["test"] == name else t for t in data["tests"]]
    inventory.write(shelf / f"{inventory.suite_version()}.json", data)
    monkeypatch.setattr(inventory, "INVENTORY_DIR", shelf)
    copy = edited(bundle, tmp_path, None, results={"results": lambda rs: [{**rs[0], "outcome": "failed"}, *rs[1:]]})
    (copy / "SIGNATURE").unlink()
    problems, warnings = review(copy)
    assert f"results.json: SHOULD test {first['test']} failed" in warnings
    assert not any(first["test"] in p and "failed" in p for p in problems), problems


@pytest.mark.parametrize("name", ["results.json", "junit.xml", "run.log", "collected.txt", "engine.json",
                                  "suite.json", "product.json", "matrix.html", "SHA256SUMS"])
def test_one_changed_byte_fails_verification_naming_the_file(bundle: Path, tmp_path: Path, name: str) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    data = bytearray((copy / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / name).write_bytes(bytes(data))
    checked = subprocess.run([str(ROOT / "ci" / "certify"), "--verify", str(copy)], capture_output=True, text=True)
    assert checked.returncode == 1, checked.stdout
    named = "SHA256SUMS" if name == "SHA256SUMS" else name
    assert named in checked.stdout and "does NOT verify" in checked.stdout, checked.stdout


def test_a_failed_test_in_the_results_fails_verification_even_with_fixed_sums(bundle: Path, tmp_path: Path) -> None:
    """Rewriting the sums after changing a result still fails: results, JUnit and log disagree."""
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    data = json.loads((copy / "results.json").read_text())
    data["results"][0]["outcome"] = "failed"
    (copy / "results.json").write_text(json.dumps(data))
    (copy / "SIGNATURE").unlink()
    certify.write_sums(copy)
    problems = verify(copy)
    assert any(p.startswith("results.json: MUST test ") and p.endswith(" failed") for p in problems), problems
    assert any("differ" in p for p in problems), problems


def test_certify_needs_engine_and_output() -> None:
    run = subprocess.run([sys.executable, "-m", "ci.tools.certify"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 2 and "--engine-url and --output are needed" in run.stderr


def test_tap_output_passes_prove_and_each_failure_carries_a_reproducer_that_reruns_it(
        engine_url: str, tmp_path: Path) -> None:
    """--tap writes TAP 13: a passing run passes ``prove``, an expected failure is a TODO (still passing),
    and a failure is ``not ok`` with the reproducer that, run alone, reruns just that test."""
    if shutil.which("prove") is None:
        pytest.skip("not applicable: no prove (Debian's perl) on this machine")
    passing, expected = tmp_path / "passing.tap", tmp_path / "expected.tap"
    run = run_pytest(PASSING, FAILING, f"--engine-url={engine_url}", f"--tap={passing}",
                     f"--report-dir={tmp_path / 'a'}", "-k", "not test_engine_tells")
    assert run.returncode == 0, run.output[-2000:]
    run = run_pytest(FAILING, f"--engine-url={engine_url}", f"--tap={expected}", f"--report-dir={tmp_path / 'b'}")
    assert run.returncode == 0 and "# TODO expected on docker" in expected.read_text(), expected.read_text()
    for tap in (passing, expected):
        proved = subprocess.run(["prove", "-e", "cat", str(tap)], capture_output=True, text=True, timeout=60)
        assert proved.returncode == 0 and "Result: PASS" in proved.stdout, proved.stdout + tap.read_text()
    failing = tmp_path / "failing.tap"
    run = run_pytest(FAILING, PASSING, f"--engine-url={engine_url}", "--no-expectations", f"--tap={failing}",
                     f"--report-dir={tmp_path / 'c'}")
    assert run.returncode == 1
    proved = subprocess.run(["prove", "-e", "cat", str(failing)], capture_output=True, text=True, timeout=60)
    assert proved.returncode != 0 and "Failed 1/" in proved.stdout, proved.stdout
    results = json.loads(next((tmp_path / "c").glob("results-*.json")).read_text())["results"]
    failed = [r for r in results if r["outcome"] == "failed"]
    assert len(failed) == 1 and f'reproducer: {json.dumps(failed[0]["reproducer"])}' in failing.read_text()
    assert all("reproducer" not in r for r in results if r["outcome"] == "passed")
    # as a user reruns it; its results to this test's directory, not the checkout's reports/ (which CI's matrix reads)
    rerun = subprocess.run(f'{failed[0]["reproducer"]} --report-dir={tmp_path / "d"}', shell=True,
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 1 and re.search(r"\b1 failed in ", rerun.stdout) and " passed" not in \
        rerun.stdout.splitlines()[-1], rerun.stdout[-1500:]
    assert f"FAILED {failed[0]['test']}" in rerun.stdout


def test_rerun_failed_reruns_only_the_failed_tests_and_says_of_which_bundle(engine_url: str, tmp_path: Path) -> None:
    product = ["--vendor=Example", "--product=Engine", "--product-version=1.0", "--contact=qa@example.invalid"]
    first = tmp_path / "first"
    made = tool("certify", f"--engine-url={engine_url}", "--distro=busybox", "--profile=upstream-docker",
                f"--output={first}", *product, "--", "-k", "test_engine_tells_pid1 or test_missing_image_is_404")
    assert made.returncode == 1, made.stdout[-2000:] + made.stderr  # Moby sets no container=: one failure
    failed = [r["test"] for r in json.loads((first / "results.json").read_text())["results"]
              if r["outcome"] == "failed"]
    assert failed == ["suites/test_systemd_pid1.py::test_engine_tells_pid1_it_runs_in_a_container[busybox]"]
    again = tmp_path / "again"
    rerun = tool("certify", f"--rerun-failed={first}", f"--output={again}", *product)
    assert rerun.returncode == 1, rerun.stdout[-2000:] + rerun.stderr
    suite = json.loads((again / "suite.json").read_text())
    assert suite["rerun_of"] == {"bundle": str(first.resolve()), "sha256sums": certify.sha256(first / "SHA256SUMS"),
                                 "tests": failed}
    assert (suite["profile"], suite["distros"]) == ("upstream-docker", "busybox")
    assert [r["test"] for r in json.loads((again / "results.json").read_text())["results"]] == failed
    problems, warnings = review(again)
    assert problems == [] and warnings == [f"results.json: SHOULD test {failed[0]} failed"], (problems, warnings)
