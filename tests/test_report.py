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

from ci.tools.certify import verify
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
    assert run.returncode == 1 and "1 failed, 5 passed" in run.output, run.output[-2000:]
    assert "engine=docker-" in (results / "environment.properties").read_text()
    made = tool("report", str(results), "--output", str(tmp_path / "html"))
    assert made.returncode == 0, made.stderr
    page = tmp_path / "html" / "index.html"
    overview = rendered_text(page.as_uri(), tmp_path / "chromium-1")
    assert "6 test cases" in overview and "engine.api" in overview
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


@pytest.fixture(scope="module")
def bundle(engine_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("certify") / "bundle"
    made = subprocess.run([str(ROOT / "ci" / "certify"), f"--engine-url={engine_url}", "--distro=busybox",
                           "--profile=core", f"--output={out}", "--vendor=Example", "--product=Engine",
                           "--product-version=1.0", "--contact=qa@example.invalid"],
                          capture_output=True, text=True, timeout=900)
    assert made.returncode == 0, (made.stdout + made.stderr)[-3000:]
    return out


def test_certification_bundle_verifies(bundle: Path) -> None:
    names = {p.name for p in bundle.iterdir()}
    assert names >= {"results.json", "junit.xml", "run.log", "collected.txt", "engine.json", "suite.json",
                     "product.json", "matrix.json", "matrix.md", "matrix.html", "SHA256SUMS"}
    assert verify(bundle) == []
    engine = json.loads((bundle / "engine.json").read_text())
    assert engine["kind"] == "docker" and engine["version_answer"]["ApiVersion"] and engine["kernel"]
    assert re.fullmatch(r"[0-9a-f]{40}", json.loads((bundle / "suite.json").read_text())["revision"])
    checked = subprocess.run([str(ROOT / "ci" / "certify"), "--verify", str(bundle)], capture_output=True, text=True)
    assert checked.returncode == 0 and "verifies" in checked.stdout


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
    sums = subprocess.run(["sha256sum", *sorted(p.name for p in copy.iterdir() if p.name != "SHA256SUMS")],
                          cwd=copy, capture_output=True, text=True, check=True).stdout
    (copy / "SHA256SUMS").write_text(sums)
    problems = verify(copy)
    assert any("failed" in p for p in problems) and any("differ" in p for p in problems), problems


def test_certify_needs_engine_and_output() -> None:
    run = subprocess.run([sys.executable, "-m", "ci.tools.certify"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 2 and "--engine-url and --output are needed" in run.stderr
