"""`make load-test` in a generated large project: locust, headless, against the real
server on 127.0.0.1, bounded in users, requests and seconds.

The project is the session's installed large uv project, after its pipeline (a model
and the test split); the load test runs once, briefly, and its output is read back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .helpers import BuildProjects, load_test_figures, run_in

pytestmark = [pytest.mark.build, pytest.mark.xdist_group("large-uv")]

USERS, REQUESTS, SECONDS = 4, 200, 60
BOUNDS = [f"USERS={USERS}", f"REQUESTS={REQUESTS}", f"SECONDS={SECONDS}"]
DEPLOYMENT = "configs/deployment/default.yaml"


@pytest.fixture(scope="module")
def project(build_projects: BuildProjects) -> Path:
    project = build_projects.installed("large", "uv")
    build_projects.pipeline(project, "pipeline")
    return project


@pytest.fixture(scope="module")
def load_test(project: Path) -> tuple[int, str]:
    """Exit status and output of one brief `make load-test`."""
    code, out, err = run_in(project, "make", "load-test", *BOUNDS, retcode=None)
    return code, out + err


def test_load_test_makes_every_request_without_a_failure(load_test: tuple[int, str]) -> None:
    code, output = load_test
    assert code == 0, output[-3000:]
    figures = load_test_figures(output)
    assert figures["failed"] == 0
    # The last user to stop ends the run, so every request of the budget is counted.
    assert figures["requests"] == REQUESTS


def test_load_test_prints_throughput_and_latency_percentiles(
    load_test: tuple[int, str],
) -> None:
    figures = load_test_figures(load_test[1])
    assert figures["throughput"] > 0
    assert 0 < figures["p50"] <= figures["p95"] <= figures["p99"]


def test_load_test_serves_with_the_configs_workers(load_test: tuple[int, str]) -> None:
    assert f"Load test: {USERS} users, 2 worker(s), 10 rows per request" in load_test[1]


def test_load_test_stops_at_its_seconds_bound(project: Path) -> None:
    """A budget no run of a few seconds can spend: the time bound ends it, and the
    figures cover the requests made until then."""
    code, out, err = run_in(
        project, "make", "load-test", "USERS=2", "REQUESTS=1000000", "SECONDS=3", retcode=None
    )
    assert code == 0, (out + err)[-3000:]
    figures = load_test_figures(out + err)
    assert figures["failed"] == 0
    assert 0 < figures["requests"] < 1000000


def test_load_test_fails_when_requests_fail(project: Path) -> None:
    """A body limit below one batch: every request is refused with 413."""
    config = project / DEPLOYMENT
    settings = yaml.safe_load(config.read_text())
    settings["max_body_bytes"] = 100
    config.write_text(yaml.safe_dump(settings))
    try:
        code, out, err = run_in(
            project, "make", "load-test", "USERS=2", "REQUESTS=20", "SECONDS=120", retcode=None
        )
    finally:
        run_in(project, "git", "checkout", "--", DEPLOYMENT)
    assert code != 0
    figures = load_test_figures(out + err)
    assert figures["failed"] == figures["requests"] == 20
    assert "20 of 20 requests failed" in err
