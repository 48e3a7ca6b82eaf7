"""What each Kubernetes manifest runs, run in the generated project's own environment.

No cluster: the test reads each manifest's container command and runs it as the pod
would, with the image's /app mapped to the project, the pod's writable /workspace and
/tmp mapped to folders of the test, a local folder as the DVC remote and as the object
storage, and MLflow's tracking server started from its own manifest's arguments on
127.0.0.1. So a manifest that names an entry point, a flag, a file or a DVC stage that
does not exist fails here. The Jobs run in order, as a team would first run them:
training pushes to the remote, then the sweep and the batch scoring pull from it.

One large uv project with MLflow and scikit-learn for the module: installing it is what
takes the time.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from plumbum import local

from .helpers import PROJECT_ENV, QUIET, free_port, render, run_in, tool, wait_until_healthy

pytestmark = pytest.mark.build

SLUG, PACKAGE = "wine-quality", "wine_quality"
KUBERNETES = "infrastructure/kubernetes"
#: A grid of two points, so the sweep stays short; `make sweep-job` writes it in.
SMALL_GRID = {"model.params.n_estimators": [20, 30], "model.params.max_depth": [3]}


def _manifest(project: Path, name: str) -> dict[str, Any]:
    return yaml.safe_load((project / KUBERNETES / name).read_text())


def _container(manifest: dict[str, Any]) -> dict[str, Any]:
    spec = manifest["spec"]
    if manifest["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    (container,) = spec["template"]["spec"]["containers"]
    return container


def _run_pod(
    project: Path, name: str, scratch: Path, **env: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run the container of manifest ``name`` as its pod would; its result and workspace.

    The image's /app is the project; the pod's /workspace and /tmp are new folders. The
    manifest's environment is kept, its /tmp paths moved, and ``env`` added over it (what
    Kubernetes sets, such as JOB_COMPLETION_INDEX, or where the cluster's services are).
    """
    container = _container(_manifest(project, name))
    assert container["workingDir"] == "/workspace"
    workspace, tmp = scratch / "workspace", scratch / "tmp"
    workspace.mkdir(parents=True)
    tmp.mkdir()
    pod_env = {**os.environ, **PROJECT_ENV, **QUIET}
    for item in container.get("env", []):
        pod_env[item["name"]] = item["value"].replace("/tmp", str(tmp))
    pod_env.update(env)
    # The image's environment comes first on its PATH: the project's .venv here.
    pod_env["PATH"] = f"{project / '.venv/bin'}{os.pathsep}{pod_env['PATH']}"
    command = container["command"] + [
        arg.replace("/app/", f"{project}/") for arg in container["args"]
    ]
    result = subprocess.run(
        command, cwd=workspace, env=pod_env, capture_output=True, text=True, timeout=1200
    )
    return result, workspace


def _succeeded(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, (
        f"{result.args}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A large uv project with MLflow, installed, its DVC remote a local folder."""
    root = tmp_path_factory.mktemp("kubernetes")
    dst = render(root / "project", tier="large", project_name="Wine Quality")
    run_in(dst, "git", "init", "--quiet")
    run_in(dst, "make", "install-dev")
    # The remote's URL is absolute, as a bucket's is: every pod's copy finds it.
    run_in(dst, ".venv/bin/dvc", "remote", "modify", "storage", "url", str(root / "remote"))
    return dst


@pytest.fixture(scope="module")
def tracking_server(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The tracking server, started with the arguments of mlflow-deployment.yaml.

    Its volume (/mlflow) is a folder of the test; it listens on 127.0.0.1 at a free port
    instead of the container's every interface at 5000.
    """
    container = _container(_manifest(project, "mlflow-deployment.yaml"))
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "store"]
    store = tmp_path_factory.mktemp("mlflow-volume")
    port = free_port()
    args = [arg.replace(mount["mountPath"] + "/", f"{store}/") for arg in container["args"]]
    args = [
        {"--host=0.0.0.0": "--host=127.0.0.1", "--port=5000": f"--port={port}"}.get(arg, arg)
        for arg in args
    ]
    assert container["command"] == ["mlflow"]
    log_path = store / "server.log"
    with log_path.open("w") as log, local.env(**QUIET):
        server = tool("mlflow").popen(args, start_new_session=True, stdout=log, stderr=log)
    # localhost, as `kubectl port-forward` reaches it: a host the server allows.
    url = f"http://localhost:{port}"
    try:
        wait_until_healthy(f"{url}/health", server, log_path)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine: its workers may hang on
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


@pytest.fixture(scope="module")
def training(
    project: Path, tracking_server: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The training Job's run, logged to the tracking server."""
    return _run_pod(
        project,
        "training-job.yaml",
        tmp_path_factory.mktemp("training"),
        MLFLOW_TRACKING_URI=tracking_server,
    )


@pytest.fixture(scope="module")
def released(project: Path, training: tuple[subprocess.CompletedProcess[str], Path]) -> Path:
    """The project once the training Job's dvc.lock is committed, as the Job's log says."""
    result, workspace = training
    _succeeded(result)
    shutil.copy(workspace / "dvc.lock", project / "dvc.lock")
    return project


def _runs(url: str) -> list[Any]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url)
    experiment = client.get_experiment_by_name(SLUG)
    assert experiment is not None
    return list(client.search_runs([experiment.experiment_id]))


def test_training_job_runs_the_pipeline_to_a_validated_model(
    training: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, workspace = training
    _succeeded(result)
    assert (workspace / "models/model.joblib").is_file()
    metrics = yaml.safe_load((workspace / "reports/metrics.json").read_text())
    assert 0.85 <= metrics["accuracy"] <= 1.0  # the validate step's threshold held


def test_training_job_pushes_data_and_model_to_the_dvc_remote(
    training: tuple[subprocess.CompletedProcess[str], Path], project: Path
) -> None:
    result, workspace = training
    _succeeded(result)
    lock = yaml.safe_load((workspace / "dvc.lock").read_text())
    (model,) = lock["stages"]["train"]["outs"]
    digest = model["md5"]
    remote = project.parent / "remote"
    assert (remote / "files/md5" / digest[:2] / digest[2:]).is_file()
    assert "stages:" in result.stdout  # the log ends with the dvc.lock to commit


def test_training_job_logs_its_run_to_the_tracking_server(
    training: tuple[subprocess.CompletedProcess[str], Path], tracking_server: str
) -> None:
    _succeeded(training[0])
    runs = _runs(tracking_server)
    assert [run.data.params["model"] for run in runs] == ["random_forest"]


def test_sweep_job_trains_and_logs_every_grid_point(
    released: Path, tracking_server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    (released / KUBERNETES / "sweep-grid.yaml").write_text(yaml.safe_dump(SMALL_GRID))
    run_in(released, "make", "sweep-job")
    job = _manifest(released, "sweep-job.yaml")
    assert job["spec"]["completions"] == 2
    before = {run.info.run_id for run in _runs(tracking_server)}
    for index in range(job["spec"]["completions"]):
        scratch = tmp_path_factory.mktemp(f"sweep-{index}")
        result, workspace = _run_pod(
            released,
            "sweep-job.yaml",
            scratch,
            JOB_COMPLETION_INDEX=str(index),
            MLFLOW_TRACKING_URI=tracking_server,
        )
        _succeeded(result)
        assert (workspace / "models/model.joblib").is_file()
    new = [run for run in _runs(tracking_server) if run.info.run_id not in before]
    points = sorted((run.data.params["n_estimators"], run.data.params["max_depth"]) for run in new)
    assert points == [("20", "3"), ("30", "3")]


def test_batch_inference_scores_every_file_of_a_storage_folder(
    released: Path,
    training: tuple[subprocess.CompletedProcess[str], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    storage = tmp_path_factory.mktemp("object-storage")
    (storage / "input").mkdir()
    rows = pd.read_csv(training[1] / "data/processed/test.csv").drop(columns="target")
    rows.head(7).to_csv(storage / "input/monday.csv", index=False)
    rows.tail(5).to_csv(storage / "input/tuesday.csv", index=False)
    result, _ = _run_pod(
        released,
        "batch-inference-cronjob.yaml",
        tmp_path_factory.mktemp("batch"),
        INPUT_URL=str(storage / "input"),
        OUTPUT_URL=str(storage / "predictions"),
    )
    _succeeded(result)
    for name, count in (("monday", 7), ("tuesday", 5)):
        scored = pd.read_csv(storage / f"predictions/{name}.predictions.csv")
        assert len(scored) == count
        assert scored["prediction"].between(0, 2).all()  # the wine data's three classes
