"""The large tier's gate against the model in production, on a real MLflow server.

One large uv project (MLflow, DVC), in a git repository whose branch is `main`, logs its
runs and registers its models on an `mlflow server` started for this module. First a
modest model (one tree of depth two) is trained, evaluated and promoted: with no
champion yet its thresholds decide, it becomes the champion, and its metrics are
committed on `main`. Then a worse candidate (one tree of depth one) fails against
`main`'s metrics and against the champion, and is not promoted; then a better one (the
default forest) passes both, is promoted, and the alias moves to it. The tests run in
that order, on one xdist worker.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from plumbum import local

from .helpers import QUIET, mlflow_server, render, run_in

pytestmark = [pytest.mark.build, pytest.mark.xdist_group("champion-gate")]

MODEST = "model.params.n_estimators=1 model.params.max_depth=2"
WORSE = "model.params.n_estimators=1 model.params.max_depth=1"
#: Thresholds every model meets, so that only the comparison with the baseline fails.
NO_THRESHOLDS = "ARGS=thresholds.accuracy=0 thresholds.f1_macro=0"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as (url, _):
        yield url


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A large project, committed on `main`, installed, its data processed."""
    dst = render(tmp_path_factory.mktemp("champion-gate") / "project", tier="large")
    run_in(dst, "git", "init", "--quiet", "--initial-branch=main")
    run_in(dst, "git", "add", "--all")
    run_in(dst, "git", "commit", "--quiet", "--message", "chore: generate from copier-ml")
    run_in(dst, "make", "install-dev", "data-process")
    return dst


def _make(project: Path, server: str, *args: str, retcode: int | None = 0) -> tuple[int, str]:
    """A make command of the project with the server as its tracking store; its log."""
    with local.env(MLFLOW_TRACKING_URI=server, **QUIET):
        code, out, err = run_in(project, "make", *args, retcode=retcode)
    return code, out + err


def _train(project: Path, server: str, overrides: str = "") -> str:
    """Train and evaluate with these overrides; the id of the run `make train` logged."""
    _, log = _make(project, server, "train", "evaluate", f"ARGS={overrides}")
    (line,) = [line for line in log.splitlines() if "Logged MLflow run " in line]
    return line.split("Logged MLflow run ")[1].strip()


def _metrics(project: Path) -> dict[str, float]:
    return dict(json.loads((project / "reports/metrics.json").read_text()))


def _model_name(project: Path) -> str:
    training = yaml.safe_load((project / "configs/training/default.yaml").read_text())
    return str(training["experiment_name"])


def _client(server: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=server)


@pytest.fixture(scope="module")
def champion(project: Path, server: str) -> tuple[str, str]:
    """The modest model, promoted with no champion before it, its metrics committed on
    `main`: its run id and what `make promote` logged."""
    run_id = _train(project, server, MODEST)
    _, log = _make(project, server, "promote")
    run_in(project, "git", "add", "reports/metrics.json")
    run_in(project, "git", "commit", "--quiet", "--message", "feat: the first champion")
    return run_id, log


@pytest.fixture(scope="module")
def worse(project: Path, server: str, champion: tuple[str, str]) -> str:
    """The worse candidate, trained and evaluated after the champion: its run id."""
    return _train(project, server, WORSE)


@pytest.fixture(scope="module")
def better(project: Path, server: str, champion: tuple[str, str]) -> str:
    """The better candidate (the default model), trained and evaluated: its run id."""
    return _train(project, server)


def _drop_line(candidate: float, baseline: float, source: str) -> str:
    return (
        f"accuracy = {candidate:.4f} is {baseline - candidate:.4f} below {baseline:.4f} "
        f"in {source}; the largest allowed drop is 0.02"
    )


def test_the_first_promotion_needs_only_the_thresholds(
    project: Path, server: str, champion: tuple[str, str]
) -> None:
    run_id, log = champion
    assert "No champion yet" in log
    version = _client(server).get_model_version_by_alias(_model_name(project), "champion")
    assert (version.version, version.run_id) == ("1", run_id)


def test_a_worse_candidate_fails_against_mains_metrics(
    project: Path, server: str, worse: str
) -> None:
    _, committed, _ = run_in(project, "git", "show", "main:reports/metrics.json")
    main_accuracy = json.loads(committed)["accuracy"]
    code, log = _make(
        project, server, "validate-model", "BASELINE=main", NO_THRESHOLDS, retcode=None
    )
    assert code != 0
    assert _drop_line(_metrics(project)["accuracy"], main_accuracy, "main") in log


def test_a_worse_candidate_fails_against_the_champion(
    project: Path, server: str, champion: tuple[str, str], worse: str
) -> None:
    champion_run = _client(server).get_run(champion[0])
    code, log = _make(
        project, server, "validate-model", "BASELINE=champion", NO_THRESHOLDS, retcode=None
    )
    assert code != 0
    source = f"the champion (version 1 of {_model_name(project)})"
    line = _drop_line(_metrics(project)["accuracy"], champion_run.data.metrics["accuracy"], source)
    assert line in log


def test_a_worse_candidate_is_not_promoted(project: Path, server: str, worse: str) -> None:
    code, log = _make(project, server, "promote", retcode=None)
    assert code != 0
    assert "Promotion refused: accuracy = " in log
    client = _client(server)
    name = _model_name(project)
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    assert [v.version for v in client.search_model_versions(f"name = '{name}'")] == ["1"]


def test_a_missing_baseline_fails_in_one_line(project: Path, server: str) -> None:
    code, log = _make(project, server, "validate-model", "BASELINE=no-such-ref", retcode=None)
    assert code != 0
    assert "baseline 'no-such-ref': no such git ref" in log
    assert "Traceback" not in log


def test_a_better_candidate_passes_against_main_and_the_champion(
    project: Path, server: str, better: str
) -> None:
    for baseline in ("main", "champion"):
        _, log = _make(project, server, "validate-model", f"BASELINE={baseline}")
        assert f"none drops past max_drop from {baseline}" in log


def test_a_better_candidate_is_promoted_and_the_alias_moves(
    project: Path, server: str, better: str
) -> None:
    _, log = _make(project, server, "promote")
    assert "(before: version 1)" in log
    client = _client(server)
    version = client.get_model_version_by_alias(_model_name(project), "champion")
    assert (version.version, version.run_id) == ("2", better)
    # The test metrics went to the run: the next gate compares with them.
    assert client.get_run(better).data.metrics["accuracy"] == _metrics(project)["accuracy"]
