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
import os
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from plumbum import local

from .helpers import render, run_in, tool
from .test_build import _free_port

pytestmark = pytest.mark.build

#: Keeps the runs on this machine: no usage reports from MLflow, no error reports from wandb.
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "WANDB_ERROR_REPORTING": "false"}


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
    artifacts = tmp_path / "artifacts"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    args += ["--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"]
    args += ["--artifacts-destination", str(artifacts)]
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log, local.env(**QUIET):
        server = tool("mlflow").popen(args, start_new_session=True, stdout=log, stderr=log)
    try:
        _wait_until_healthy(f"{url}/health", server, log_path, wait=120)
        yield url, artifacts
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _wait_until_healthy(url: str, server: Any, log: Path, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"mlflow server did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


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
