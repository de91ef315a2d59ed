"""The registries the suite starts (fixtures/registry.py): they serve, and nothing of them — process,
data directory, certificate, trusted CA — outlives the run; credentials are redacted from records."""

from __future__ import annotations

from pathlib import Path

from fixtures import evidence, registry
from tests.conftest import ROOT, run_pytest


def test_a_registry_run_leaves_no_process_directory_or_trusted_ca(engine_url: str) -> None:
    assert registry.leftovers() == []
    run = run_pytest("suites/test_core_registry.py", f"--engine-url={engine_url}", "-n", "2", "-q", cwd=ROOT,
                     timeout=300)
    assert run.returncode == 0, run.output[-3000:]
    assert "passed" in run.output
    assert registry.leftovers() == []


def test_registries_answer_and_are_removed_on_close(tmp_path: Path) -> None:
    farm = registry.Registries("none", base=tmp_path / "regs")
    plain, failing = farm.get("plain"), farm.get("failing")
    assert isinstance(plain, registry.DistributionRegistry)
    import urllib.request

    assert urllib.request.urlopen(f"http://{plain.host}/v2/", timeout=5).status == 200
    assert "GET /v2/" in plain.requests()
    assert failing.host.startswith("127.0.0.1:")
    assert farm.close() == []
    assert list((tmp_path / "regs").iterdir()) == []
    assert plain.process.poll() is not None


def test_login_bodies_are_redacted_in_api_evidence() -> None:
    body = b'{"username": "u", "password": "s3cret-pass", "serveraddress": "r", "identitytoken": "tok"}'
    text = evidence._text(body)
    assert "s3cret-pass" not in text and "tok\"" not in text and '"password": "<redacted>"' in text
