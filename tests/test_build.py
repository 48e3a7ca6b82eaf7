"""Generated projects install with their own package manager and pass their own gates.

Each project is generated once per module, in a fresh git repository, and installed
the way its README says, and its pipeline runs once; every test then runs one of the
project's own commands. The gates (lint, test, the pipeline targets, pre-commit) run
under both package managers; what does not depend on the manager (the notebooks, a
second config, cleaning, serving, a failing gate) runs in the uv project only.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from plumbum import local

from .helpers import PROJECT_ENV, BuildProjects, run_in

pytestmark = pytest.mark.build


def _per_manager(tier: str) -> list[Any]:
    """One fixture parameter per package manager, each kept on one xdist worker."""
    return [pytest.param(m, marks=pytest.mark.xdist_group(f"{tier}-{m}")) for m in ("uv", "poetry")]


def _uv_only(tier: str) -> pytest.MarkDecorator:
    """Run a test in the uv project of the tier only (the same installed project)."""
    uv = pytest.param("uv", marks=pytest.mark.xdist_group(f"{tier}-uv"), id="uv")
    return pytest.mark.parametrize(tier, [uv], indirect=True)


@pytest.fixture(scope="module", params=_per_manager("small"))
def small(request: pytest.FixtureRequest, build_projects: BuildProjects) -> Path:
    return build_projects.installed("small", request.param)


@pytest.fixture(scope="module", params=_per_manager("medium"))
def medium(request: pytest.FixtureRequest, build_projects: BuildProjects) -> Path:
    return build_projects.installed("medium", request.param)


@pytest.fixture(scope="module", params=_per_manager("large"))
def large(request: pytest.FixtureRequest, build_projects: BuildProjects) -> Path:
    return build_projects.installed("large", request.param)


@pytest.fixture(scope="module")
def medium_pipeline(medium: Path, build_projects: BuildProjects) -> tuple[Path, str]:
    """The medium project after `make data-process train evaluate`, and what it logged."""
    return medium, build_projects.pipeline(medium, "data-process", "train", "evaluate")


@pytest.fixture(scope="module")
def large_pipeline(large: Path, build_projects: BuildProjects) -> tuple[Path, str]:
    """The large project after `make pipeline` (`dvc repro`), and what it logged."""
    return large, build_projects.pipeline(large, "pipeline")


def test_medium_install_creates_the_lock_and_the_git_hook(medium: Path) -> None:
    assert (medium / "uv.lock").is_file() or (medium / "poetry.lock").is_file()
    assert (medium / ".git" / "hooks" / "pre-commit").is_file()


def test_medium_install_compiles_every_module_to_bytecode(medium: Path) -> None:
    """`make install-dev` compiles site-packages, so the first step reads bytecode
    instead of compiling what it imports; a step compiles only the modules it imports,
    far fewer than these."""
    (site_packages,) = (medium / ".venv" / "lib").glob("python3.*/site-packages")
    sources = {path.with_suffix("") for path in site_packages.rglob("*.py")}
    # __pycache__/<module>.cpython-311.pyc beside each <module>.py it was compiled from
    compiled = {
        path.parent.parent / path.name.split(".")[0]
        for path in site_packages.rglob("__pycache__/*.pyc")
    }
    assert len(sources & compiled) > 0.95 * len(sources), (len(sources & compiled), len(sources))


def test_medium_passes_make_lint(medium: Path) -> None:
    run_in(medium, "make", "lint")


def test_medium_passes_make_test(medium: Path) -> None:
    _, out, _ = run_in(medium, "make", "test")
    assert " passed" in out and " failed" not in out


def test_medium_pipeline_writes_data_model_metrics_and_figure(
    medium_pipeline: tuple[Path, str],
) -> None:
    medium, _ = medium_pipeline
    assert (medium / "data/raw/wine.csv").is_file()
    assert (medium / "data/processed/train.csv").is_file()
    assert (medium / "data/processed/test.csv").is_file()
    assert (medium / "models/model.joblib").is_file()
    metrics = json.loads((medium / "reports/metrics.json").read_text())
    assert all(0.0 <= value <= 1.0 for value in metrics.values())
    assert metrics["accuracy"] > 0.8
    assert (medium / "reports/figures/confusion_matrix.png").stat().st_size > 1000


def test_medium_training_is_tracked_in_the_local_mlflow_store(
    medium_pipeline: tuple[Path, str],
) -> None:
    medium, log = medium_pipeline
    assert (medium / "mlflow.db").stat().st_size > 0
    assert "Logged MLflow run " in log


def test_medium_predicts_for_new_rows(medium_pipeline: tuple[Path, str], tmp_path: Path) -> None:
    medium, _ = medium_pipeline
    out = tmp_path / "predictions.csv"
    run_in(medium, "make", "predict", "INPUT=data/processed/test.csv", f"OUTPUT={out}")
    rows = out.read_text().splitlines()
    test_rows = (medium / "data/processed/test.csv").read_text().splitlines()
    assert rows[0] == "prediction"
    assert len(rows) == len(test_rows)


@_uv_only("medium")
def test_medium_trains_with_another_config(medium_pipeline: tuple[Path, str]) -> None:
    medium, _ = medium_pipeline
    model = yaml.safe_load((medium / "configs/model/default.yaml").read_text())
    model.update(name="logistic_regression", params={"max_iter": 500})
    (medium / "configs/model/linear.yaml").write_text(yaml.safe_dump(model))
    training = yaml.safe_load((medium / "configs/training/default.yaml").read_text())
    training.update(model_config="configs/model/linear.yaml", model_path="models/linear.joblib")
    (medium / "configs/training/linear.yaml").write_text(yaml.safe_dump(training))

    _, _, log = run_in(medium, "make", "train-config", "CONFIG=configs/training/linear.yaml")
    assert "logistic_regression" in log
    assert (medium / "models/linear.joblib").is_file()


def test_medium_train_config_without_config_shows_usage(medium: Path) -> None:
    code, _, err = run_in(medium, "make", "train-config", retcode=None)
    assert code != 0
    assert "Usage: make train-config CONFIG=" in err


def test_medium_make_help_lists_every_target(medium: Path) -> None:
    _, out, _ = run_in(medium, "make", "help")
    listed = {line.split()[0] for line in out.splitlines() if line.strip()}
    expected = {"install", "install-dev", "lint", "format", "test", "test-fast"}
    expected |= {"data-process", "train", "train-config", "evaluate", "clean", "clean-data"}
    assert expected <= listed


@_uv_only("medium")
def test_medium_clean_data_keeps_the_folders(medium_pipeline: tuple[Path, str]) -> None:
    medium, _ = medium_pipeline
    run_in(medium, "make", "clean-data")
    assert sorted(p.name for p in (medium / "data/raw").iterdir()) == [".gitkeep"]
    assert sorted(p.name for p in (medium / "data/processed").iterdir()) == [".gitkeep"]
    run_in(medium, "make", "data-process")  # as the other tests found it


@_uv_only("medium")
def test_medium_notebooks_run_top_to_bottom(medium: Path) -> None:
    notebooks = sorted((medium / "notebooks").glob("*.ipynb"))
    assert len(notebooks) == 4
    for notebook in notebooks:
        run_in(medium, *_run(medium), "jupyter", "execute", notebook.relative_to(medium))


def test_medium_passes_pre_commit_on_all_files(medium: Path) -> None:
    run_in(medium, "git", "add", "--all")
    run_in(medium, *_run(medium), "pre-commit", "run", "--all-files")
    _, changed, _ = run_in(medium, "git", "diff", "--name-only")
    assert changed == ""  # no hook had anything to fix


def test_large_pipeline_runs_every_dvc_stage_and_writes_the_lock(
    large_pipeline: tuple[Path, str],
) -> None:
    large, log = large_pipeline
    assert [s for s in ("data", "train", "evaluate") if f"Running stage '{s}'" not in log] == []
    assert list(yaml.safe_load((large / "dvc.lock").read_text())["stages"]) == [
        "data",
        "train",
        "evaluate",
    ]


def test_large_passes_make_lint(large: Path) -> None:
    run_in(large, "make", "lint")


def test_large_make_test_runs_unit_integration_and_e2e_tests(large: Path) -> None:
    _, out, _ = run_in(large, "make", "test")
    assert " passed" in out and " failed" not in out
    for layer in ("unit", "integration", "e2e"):
        assert f"tests/{layer}/test_" in out


@_uv_only("large")
def test_large_clean_data_keeps_all_four_data_folders(large_pipeline: tuple[Path, str]) -> None:
    large, _ = large_pipeline
    (large / "data/interim/step.csv").write_text("a\n1\n")
    run_in(large, "make", "clean-data")
    for folder in ("raw", "interim", "processed", "external"):
        assert [p.name for p in (large / "data" / folder).iterdir()] == [".gitkeep"]
    run_in(large, "make", "data-process")  # as the other tests found it


def test_large_gate_passes_on_the_default_pipeline(large_pipeline: tuple[Path, str]) -> None:
    large, _ = large_pipeline
    _, _, log = run_in(large, "make", "validate-model")
    assert "Model validation passed" in log


@_uv_only("large")
def test_large_gate_fails_naming_the_metric_below_its_threshold(
    large_pipeline: tuple[Path, str],
) -> None:
    large, _ = large_pipeline
    config = large / "configs/training/default.yaml"
    settings = yaml.safe_load(config.read_text())
    settings["thresholds"] = {"accuracy": 1.01, "f1_macro": 0.5}
    config.write_text(yaml.safe_dump(settings))
    try:
        code, _, log = run_in(large, "make", "validate-model", retcode=None)
    finally:
        run_in(large, "git", "checkout", "--", "configs/training/default.yaml")
    assert code != 0
    assert "accuracy = 1.0000 is below its threshold 1.01" in log
    assert "f1_macro =" not in log  # 0.5 is met, so only accuracy is named


def test_large_builds_its_documentation_strictly(large: Path) -> None:
    run_in(large, "make", "docs-build")
    assert (large / "site" / "index.html").is_file()
    _, ignored, _ = run_in(large, "git", "status", "--porcelain", "--", "site")
    assert ignored == ""


@_uv_only("large")
def test_large_serves_predictions_over_http(large_pipeline: tuple[Path, str]) -> None:
    """`make serve` as a user runs it: the real server, real requests, then stopped."""
    large, _ = large_pipeline
    port = _free_port()
    config = large / "configs/deployment/default.yaml"
    settings = yaml.safe_load(config.read_text())
    settings["port"] = port
    config.write_text(yaml.safe_dump(settings))
    with local.cwd(large), local.env(**PROJECT_ENV):
        server = local["make"].popen(["serve"], start_new_session=True)
    try:
        health = _get_json(f"http://127.0.0.1:{port}/health", wait=60)
        row = _first_test_row(large)
        predictions = _post_json(f"http://127.0.0.1:{port}/predict", {"rows": [row]})
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        run_in(large, "git", "checkout", "--", "configs/deployment/default.yaml")
    assert health["model_loaded"] is True
    assert predictions["predictions"][0] in {0, 1, 2}


def test_large_passes_pre_commit_on_all_files(large: Path) -> None:
    run_in(large, "git", "add", "--all")
    run_in(large, *_run(large), "pre-commit", "run", "--all-files")
    _, changed, _ = run_in(large, "git", "diff", "--name-only")
    assert changed == ""


def test_small_notebook_runs_on_the_sample(small: Path) -> None:
    assert not (small / "Makefile").exists()
    run_in(small, *_run(small), "jupyter", "execute", "notebooks/exploration.ipynb")


def test_small_sample_is_real_wine_data(small: Path) -> None:
    header, *rows = (small / "data/sample.csv").read_text().splitlines()
    assert header.startswith("alcohol,malic_acid,ash,")
    assert header.endswith(",proline,target")
    assert len(rows) == 178


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get_json(url: str, wait: float) -> dict[str, Any]:
    """GET a JSON answer, retrying while the server starts, for at most ``wait`` s."""
    deadline = time.monotonic() + wait
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return dict(json.load(response))
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.load(response))


def _first_test_row(project: Path) -> dict[str, float]:
    with (project / "data/processed/test.csv").open() as handle:
        row = next(csv.DictReader(handle))
    return {name: float(value) for name, value in row.items() if name != "target"}


def _run(project: Path) -> list[str]:
    """The project's own `run` prefix, from its package manager's lock file."""
    return ["uv", "run"] if (project / "uv.lock").exists() else ["poetry", "run"]
