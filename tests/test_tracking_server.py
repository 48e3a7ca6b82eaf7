"""A generated project's `make train` logs where its tracker is told to, and the run reads back.

MLflow: a real `mlflow server` on a free local port, with a SQLite backend and an
artifact store of its own, is the project's `MLFLOW_TRACKING_URI`; the run, its
parameters, metric and model are read back through `MlflowClient`, as a team's
dashboard would. W&B: with no account and no `WANDB_MODE`, the run is written offline
under the project's `wandb/`, and its transaction log holds the parameters and metric.

One test per tracker: each installs a project, which is what takes the time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from plumbum import local

from .helpers import QUIET, render, run_in
from .helpers import mlflow_server as start_mlflow_server

pytestmark = pytest.mark.build


def _installed(factory: pytest.TempPathFactory, tracker: str) -> Path:
    """A medium uv project with this tracker, in a new git repository, installed, its data
    processed."""
    dst = render(factory.mktemp(f"medium-{tracker}") / "project", experiment_tracker=tracker)
    run_in(dst, "git", "init", "--quiet")
    run_in(dst, "make", "install-dev", "data-process")
    return dst


def _experiment(project: Path) -> str:
    training = yaml.safe_load((project / "configs/training/default.yaml").read_text())
    return str(training["experiment_name"])


def _logged_run_id(log: str, tracker: str) -> str:
    """The run id `make train` reports on its "Logged <tracker> run <id>" line."""
    marker = f"Logged {tracker} run "
    (line,) = [line for line in log.splitlines() if marker in line]
    return line.split(marker)[1].strip()


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`mlflow server` on 127.0.0.1 with a temporary store: its URL and artifact folder."""
    with start_mlflow_server(tmp_path) as server:
        yield server


def test_make_train_logs_run_and_model_to_a_real_mlflow_server(
    tmp_path_factory: pytest.TempPathFactory, mlflow_server: tuple[str, Path]
) -> None:
    from mlflow import MlflowClient

    url, artifacts = mlflow_server
    project = _installed(tmp_path_factory, "mlflow")
    with local.env(MLFLOW_TRACKING_URI=url, **QUIET):
        _, _, log = run_in(project, "make", "train")
    run_id = _logged_run_id(log, "MLflow")

    client = MlflowClient(tracking_uri=url)
    experiment = client.get_experiment_by_name(_experiment(project))
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_id == run_id
    assert run.info.status == "FINISHED"
    assert run.data.params["model"] == "random_forest"
    assert run.data.params["test_size"] == "0.25"
    assert 0.5 < run.data.metrics["cv_accuracy"] <= 1.0
    (model,) = client.search_logged_models(experiment_ids=[experiment.experiment_id])
    assert model.source_run_id == run_id
    # The server stored the model (the client uploaded it through the server) ...
    assert [path.name for path in artifacts.rglob("MLmodel")] == ["MLmodel"]
    # ... and nothing went to the project's local store.
    assert not (project / "mlflow.db").exists()


def test_make_train_writes_an_offline_wandb_run_in_the_project(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """No W&B settings at all, as on a fresh clone: the run is offline, in `wandb/`.

    The project's own test helper reads the run back from its transaction log; wandb's
    caches go to a temporary folder rather than the home folder.
    """
    project = _installed(tmp_path_factory, "wandb")
    home = tmp_path_factory.mktemp("wandb-home")
    folders = {f"WANDB_{name}_DIR": str(home / name) for name in ("CACHE", "DATA", "CONFIG")}
    with local.env(**QUIET, **folders):
        local.env.pop("WANDB_MODE", None)
        local.env.pop("WANDB_DIR", None)
        _, _, log = run_in(project, "make", "train")
    run_id = _logged_run_id(log, "W&B")

    (run_dir,) = (project / "wandb").glob(f"offline-run-*-{run_id}")
    script = "import json, sys; from pathlib import Path\n"
    script += "from tests.unit.test_tracking import read_run\n"
    script += "print(json.dumps(read_run(Path(sys.argv[1]))))"
    _, out, _ = run_in(project, "uv", "run", "python", "-c", script, run_dir)
    run = json.loads(out)
    assert run["id"] == run_id
    assert run["project"] == _experiment(project)
    assert run["config"]["model"] == "random_forest"
    assert run["config"]["test_size"] == 0.25
    assert 0.5 < run["summary"]["cv_accuracy"] <= 1.0
    assert set(run["artifacts"]["model"]["files"]) == {"model.joblib"}
    _, status, _ = run_in(project, "git", "status", "--porcelain", "--", "wandb")
    assert status == ""  # git-ignored
