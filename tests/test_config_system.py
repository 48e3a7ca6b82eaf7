"""The config_system answer: OmegaConf over plain YAML files, or Hydra's config groups.

Render tests read the configs, the Makefile and .gitignore. Build tests, marked `build`,
install a project of each system and run the overrides and the sweep as the generated
README says.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from .helpers import makefile_recipes, render, run_in

#: The Makefile targets that run one pipeline step and pass ARGS on to it.
STEPS = ["data-process", "train", "evaluate", "validate-model"]


@pytest.fixture(scope="module", params=["yaml", "hydra"])
def large(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dst = tmp_path_factory.mktemp(f"config-{request.param}") / "project"
    return render(dst, tier="large", config_system=request.param)


def _system(project: Path) -> str:
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    return str(answers["config_system"])


def test_every_step_passes_args_on(large: Path) -> None:
    recipes = makefile_recipes(large)
    for target in STEPS:
        assert recipes[target][-1].endswith(" $(ARGS)"), target
    assert "ARGS ?=" in (large / "Makefile").read_text().splitlines()


def test_only_hydra_has_a_sweep_target(large: Path) -> None:
    recipes = makefile_recipes(large)
    if _system(large) == "hydra":
        assert recipes["sweep"] == ["$(RUN) python -m $(PACKAGE).models.sweep --multirun $(ARGS)"]
        assert (large / "src/ml_project/models/sweep.py").is_file()
    else:
        assert "sweep" not in recipes
        assert not (large / "src/ml_project/models/sweep.py").exists()


def test_hydra_composes_one_file_of_each_group(large: Path) -> None:
    training = (large / "configs/training/default.yaml").read_text()
    if _system(large) == "yaml":
        assert not (large / "configs/config.yaml").exists()
        assert yaml.safe_load(training)["model_config"] == "configs/model/default.yaml"
        return
    primary = yaml.safe_load((large / "configs/config.yaml").read_text())
    assert primary["defaults"] == [{"training": "default"}, {"model": "default"}, "_self_"]
    assert primary["hydra"]["job"]["chdir"] is False
    assert primary["hydra"]["sweeper"]["params"]
    assert training.startswith("# @package _global_\n")
    assert "model_config" not in yaml.safe_load(training)


def test_hydra_outputs_are_ignored_only_with_hydra(large: Path) -> None:
    ignored = (large / ".gitignore").read_text().splitlines()
    hydra = _system(large) == "hydra"
    assert ("/outputs/" in ignored) == hydra
    assert ("/multirun/" in ignored) == hydra


def test_dvc_stages_run_the_steps_with_the_systems_primary_config(large: Path) -> None:
    hydra = _system(large) == "hydra"
    primary = "configs/config.yaml" if hydra else "configs/training/default.yaml"
    stages = yaml.safe_load((large / "dvc.yaml").read_text())["stages"]
    for stage in stages.values():
        assert stage["cmd"].endswith(f"--config {primary}")
    files = {path for spec in stages.values() for entry in spec["params"] for path in entry}
    assert {"configs/training/default.yaml", "configs/model/default.yaml"} <= files
    for spec in stages.values():
        for entry in spec["params"]:
            for path in entry:
                assert (large / path).is_file(), path


# Building: install a medium project of each system, then override, refuse and sweep.


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("yaml", marks=pytest.mark.xdist_group("config-yaml")),
        pytest.param("hydra", marks=pytest.mark.xdist_group("config-hydra")),
    ],
)
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A medium project of each config system, installed, its data processed."""
    dst = tmp_path_factory.mktemp(f"config-build-{request.param}") / "project"
    project = render(dst, tier="medium", config_system=request.param, experiment_tracker="none")
    run_in(project, "git", "init", "--quiet")
    run_in(project, "make", "install-dev", "data-process")
    return project


def _model_key(project: Path) -> str:
    return "model.n_estimators" if _system(project) == "hydra" else "model.params.n_estimators"


@pytest.mark.build
def test_an_override_reaches_the_trained_model(built: Path) -> None:
    run_in(built, "make", "train", f"ARGS={_model_key(built)}=7 model_path=models/seven.joblib")
    _, out, _ = run_in(
        built,
        "uv",
        "run",
        "python",
        "-c",
        "import joblib; print(joblib.load('models/seven.joblib')[-1].n_estimators)",
    )
    assert out.strip() == "7"


@pytest.mark.build
def test_a_misspelt_key_fails_naming_it(built: Path) -> None:
    key = f"{_model_key(built)}_typo"
    code, _, err = run_in(built, "make", "train", f"ARGS={key}=7", retcode=None)
    assert code != 0
    assert f"'{key}'" in err


@pytest.mark.build
def test_hydra_sweep_writes_a_model_and_metrics_per_job(built: Path) -> None:
    if _system(built) != "hydra":
        assert "sweep" not in makefile_recipes(built)
        return
    _, out, err = run_in(built, "make", "sweep", "ARGS=model.n_estimators=5,10")
    (run,) = (built / "multirun").glob("*/*")
    jobs = sorted(path for path in run.iterdir() if path.is_dir())
    assert [job.name for job in jobs] == ["0", "1"]
    for job, trees in zip(jobs, (5, 10), strict=True):
        metrics = json.loads((job / "reports/metrics.json").read_text())
        assert (job / "model.joblib").is_file()
        assert f"Job model.n_estimators={trees}: accuracy {metrics['accuracy']:.4f}" in out + err
    _, status, _ = run_in(built, "git", "status", "--porcelain", "--ignored", "--", "multirun")
    assert status.startswith("!! multirun/")
