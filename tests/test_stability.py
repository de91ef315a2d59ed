"""ci/stability lists exactly the tests whose outcome varied between runs (pure logic on JUnit files)."""

from __future__ import annotations

from pathlib import Path

from ci.tools.stability import main, outcomes, varied, varied_by_configuration

JUNIT = """<testsuites><testsuite>
<testcase classname="suites.test_core" name="test_a"/>
<testcase classname="suites.test_core" name="test_b">{b}</testcase>
<testcase classname="suites.test_core" name="test_c"><skipped type="pytest.xfail" message="x"/></testcase>
</testsuite></testsuites>"""


def test_a_test_that_failed_once_is_listed_with_its_outcomes(tmp_path: Path) -> None:
    runs = []
    for n, b in enumerate(["", '<failure message="boom"/>', ""]):
        path = tmp_path / f"{n}.xml"
        path.write_text(JUNIT.format(b=b))
        runs.append(outcomes(path))
    assert runs[0]["suites.test_core::test_c"] == "xfailed"
    assert varied(runs) == {"suites.test_core::test_b": {"passed": 2, "failed": 1}}


def test_a_test_missing_from_a_run_varied() -> None:
    assert varied([{"t": "passed"}, {}]) == {"t": {"passed": 1, "absent": 1}}
    assert varied([{"t": "passed"}, {"t": "passed"}]) == {}


def test_fewer_than_two_repetitions_is_bad_usage() -> None:
    assert main(["--repeat=1"]) == 2
    assert main(["--configuration=nope", "--repeat=2"]) == 2


def test_runs_over_configurations_are_compared_per_configuration(tmp_path: Path) -> None:
    """``--compare``: each configuration's JUnit compared over the runs that have it; the harness's left out."""
    dirs = [tmp_path / f"run-{n}" for n in range(3)]
    for n, d in enumerate(dirs):
        d.mkdir()
        (d / "junit-docker.xml").write_text(JUNIT.format(b='<failure message="boom"/>' if n == 1 else ""))
        (d / "junit-harness.xml").write_text(JUNIT.format(b='<failure message="boom"/>' if n == 2 else ""))
    (dirs[0] / "junit-rhdocker.xml").write_text(JUNIT.format(b=""))  # the other runs skipped it
    found, tests, runs_of = varied_by_configuration(dirs)
    assert found == {"docker suites.test_core::test_b": {"passed": 2, "failed": 1}}
    assert tests == 6 and runs_of == {"docker": 3, "rhdocker": 1}
    assert main(["--compare", str(dirs[0]), str(dirs[2]), f"--output={tmp_path / 'out.json'}"]) == 0
    assert main(["--compare", str(dirs[0])]) == 2
