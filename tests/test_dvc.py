"""The dvc feature: a DVC pipeline that mirrors the Makefile, and a remote per answer.

Render tests read dvc.yaml, .dvc/config and pyproject.toml. Build tests, marked
`build`, take the session's installed large uv project after its `make pipeline`
(`dvc repro`) and push to the default local remote, as the project's README says.
"""

from __future__ import annotations

import configparser
import json
import re
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from .helpers import BuildProjects, makefile_recipes, render, run_in

#: DVC stage -> the Makefile target it mirrors.
STAGE_TARGETS = {"data": "data-process", "train": "train", "evaluate": "evaluate"}
#: Every file the pipeline writes and DVC caches, out of git.
CACHED_OUTPUTS = [
    "data/raw/wine.csv",
    "data/processed/train.csv",
    "data/processed/test.csv",
    "models/model.joblib",
    "reports/figures/confusion_matrix.png",
]
#: Small enough for git, which lets `dvc metrics diff` compare branches.
METRICS = "reports/metrics.json"
OUTPUTS = [*CACHED_OUTPUTS, METRICS]
REMOTE_URLS = {
    "local": "../dvc-storage",  # relative to .dvc/: dvc-storage/ at the project root
    "s3": "s3://ml-project-artifacts/dvc",
    "gcs": "gs://ml-project-artifacts/dvc",
    "azure": "azure://artifacts/dvc",
}
#: The cloud whose Terraform creates each remote's storage.
REMOTE_CLOUDS = {"s3": "aws", "gcs": "gcp", "azure": "azure"}
REMOTE_PLUGINS = {"local": None, "s3": "dvc-s3", "gcs": "dvc-gs", "azure": "dvc-azure"}


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("dvc-render") / "project", tier="large")


def _stages(project: Path) -> dict[str, Any]:
    stages: dict[str, Any] = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    return stages


def _makefile(project: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The Makefile's variables, and each target's recipe lines with them expanded."""
    text = (project / "Makefile").read_text()
    variables = dict(re.findall(r"^([A-Z_]+) [:?]?= ?(.*)$", text, re.MULTILINE))

    def expand(variable: re.Match[str]) -> str:
        return variables.get(variable.group(1), variable.group(0))

    recipes = {
        target: [re.sub(r"\$\((\w+)\)", expand, line).strip() for line in lines]
        for target, lines in makefile_recipes(project).items()
    }
    return variables, recipes


def _lookup(settings: dict[str, Any], dotted: str) -> Any:
    for key in dotted.split("."):
        settings = settings[key]
    return settings


def _remote(project: Path) -> configparser.SectionProxy:
    """The default remote's section of .dvc/config (DVC's own INI dialect)."""
    config = configparser.ConfigParser()
    config.read_string((project / ".dvc/config").read_text())
    return config[f"'remote \"{config['core']['remote']}\"'"]


def _terraform(project: Path, name: str, kind: str) -> dict[str, Any]:
    """The blocks of one kind (variable, output) in one Terraform file, by name."""
    options = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False)
    text = (project / "infrastructure/terraform" / name).read_text()
    parsed = hcl2.loads(text, serialization_options=options)
    return {block: spec for blocks in parsed[kind] for block, spec in blocks.items()}


def _dev_group(project: Path) -> list[str]:
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    dev: list[str] = pyproject["dependency-groups"]["dev"]
    return dev


# Rendering


def test_stages_are_data_train_evaluate_in_order(large: Path) -> None:
    assert list(_stages(large)) == list(STAGE_TARGETS)


def test_each_stage_runs_its_make_targets_command(large: Path) -> None:
    variables, recipes = _makefile(large)
    for stage, spec in _stages(large).items():
        assert recipes[STAGE_TARGETS[stage]] == [f"{variables['RUN']} {spec['cmd']}"]


def test_make_pipeline_runs_dvc_repro(large: Path) -> None:
    variables, recipes = _makefile(large)
    assert recipes["pipeline"] == [f"{variables['RUN']} dvc repro"]


def test_each_stage_depends_on_the_outputs_of_the_one_before(large: Path) -> None:
    stages = _stages(large)
    assert "data/processed/train.csv" in stages["train"]["deps"]
    assert {"data/processed/test.csv", "models/model.joblib"} <= set(stages["evaluate"]["deps"])


def test_a_change_to_the_features_module_reruns_train_and_evaluate(large: Path) -> None:
    stages = _stages(large)
    assert "src/ml_project/features" in stages["train"]["deps"]
    assert "src/ml_project/features" in stages["evaluate"]["deps"]


def test_every_source_dependency_exists(large: Path) -> None:
    outputs = set(OUTPUTS)
    for spec in _stages(large).values():
        for dep in spec["deps"]:
            assert dep in outputs or (large / dep).exists(), dep


def test_outputs_are_the_paths_of_the_training_config(large: Path) -> None:
    config = yaml.safe_load((large / "configs/training/default.yaml").read_text())
    data, reports = config["data"], config["reports_dir"]
    stages = _stages(large)
    assert stages["data"]["outs"] == [
        data["raw_path"],
        f"{data['processed_dir']}/train.csv",
        f"{data['processed_dir']}/test.csv",
    ]
    assert stages["train"]["outs"] == [config["model_path"]]
    assert stages["evaluate"]["metrics"] == [{f"{reports}/metrics.json": {"cache": False}}]
    assert stages["evaluate"]["plots"] == [f"{reports}/figures/confusion_matrix.png"]


def test_params_are_keys_of_the_configs(large: Path) -> None:
    tracked = 0
    for spec in _stages(large).values():
        for entry in spec["params"]:
            for path, keys in entry.items():
                settings = yaml.safe_load((large / path).read_text())
                for key in keys:
                    _lookup(settings, key)  # KeyError names a key the config lacks
                    tracked += 1
    assert tracked > 0


def test_params_come_from_the_configs_not_a_params_yaml(large: Path) -> None:
    files = {path for spec in _stages(large).values() for entry in spec["params"] for path in entry}
    assert files == {"configs/training/default.yaml", "configs/model/default.yaml"}
    assert not (large / "params.yaml").exists()


def test_every_output_is_ignored_by_git_before_dvc_runs(large: Path, tmp_path: Path) -> None:
    """So `dvc repro` has no .gitignore to write, and data never reaches git."""
    project = tmp_path / "project"
    shutil.copytree(large, project)
    run_in(project, "git", "init", "--quiet")
    ignored = [*CACHED_OUTPUTS, "dvc-storage/files/md5/00/0", "dvc_plots/index.html"]
    _, out, _ = run_in(project, "git", "check-ignore", *ignored)
    assert out.splitlines() == ignored


def test_dvc_files_are_not_ignored(large: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(large, project)
    run_in(project, "git", "init", "--quiet")
    kept = ["dvc.yaml", "dvc.lock", ".dvcignore", ".dvc/config", ".dvc/.gitignore", METRICS]
    code, out, _ = run_in(project, "git", "check-ignore", *kept, retcode=None)
    assert (code, out) == (1, "")


def test_dvc_keeps_its_cache_and_local_settings_out_of_git(large: Path) -> None:
    ignored = (large / ".dvc/.gitignore").read_text().split()
    assert ignored == ["/config.local", "/tmp", "/cache"]


def test_python_caches_do_not_change_the_hash_of_source_deps(large: Path) -> None:
    assert "__pycache__/" in (large / ".dvcignore").read_text().splitlines()


@pytest.mark.parametrize("remote", list(REMOTE_URLS))
def test_the_default_remote_has_the_url_of_the_answer(tmp_path: Path, remote: str) -> None:
    project = render(tmp_path / "project", tier="large", dvc_remote=remote)
    assert _remote(project)["url"] == REMOTE_URLS[remote]


@pytest.mark.parametrize("remote", list(REMOTE_PLUGINS))
def test_dvc_and_the_remote_plugin_are_the_pipeline_group(tmp_path: Path, remote: str) -> None:
    """A group of their own, so the image installs them without the rest of dev."""
    project = render(tmp_path / "project", tier="large", dvc_remote=remote)
    groups = tomllib.loads((project / "pyproject.toml").read_text())["dependency-groups"]
    names = {re.split(r"[<>=]", requirement)[0] for requirement in groups["pipeline"]}
    assert names == {"dvc"} | ({REMOTE_PLUGINS[remote]} if REMOTE_PLUGINS[remote] else set())
    assert not any(requirement.startswith("dvc") for requirement in groups["dev"])


@pytest.mark.parametrize("remote", list(REMOTE_CLOUDS))
def test_a_cloud_remote_is_the_storage_terraform_creates(tmp_path: Path, remote: str) -> None:
    project = render(
        tmp_path / "project", tier="large", dvc_remote=remote, cloud_provider=REMOTE_CLOUDS[remote]
    )
    defaults = {
        name: spec.get("default")
        for name, spec in _terraform(project, "variables.tf", "variable").items()
    }
    storage = defaults.get("bucket_name") or defaults["container_name"]
    output = _terraform(project, "outputs.tf", "output")["dvc_remote_url"]["value"]
    assert _remote(project)["url"] == re.sub(r"\$\{[^}]+\}", storage, output)
    if remote == "azure":
        assert _remote(project)["account_name"] == defaults["storage_account_name"]


def test_a_bucket_url_answer_is_written_as_is(tmp_path: Path) -> None:
    url = "s3://team-data/ml/churn"
    project = render(tmp_path / "project", tier="large", dvc_remote="s3", dvc_remote_url=url)
    assert _remote(project)["url"] == url


@pytest.mark.parametrize("url", ["gs://team-data", "s3://", "s3://Team Data", "team-data"])
def test_a_url_not_of_the_remote_kind_is_refused(tmp_path: Path, url: str) -> None:
    dst = tmp_path / "project"
    with pytest.raises(ValueError, match="question 'dvc_remote_url'") as refused:
        render(dst, tier="large", dvc_remote="s3", dvc_remote_url=url)
    assert "must be s3://<bucket>[/path]" in str(refused.value)
    assert not dst.exists()


def test_the_local_remote_asks_no_url(large: Path) -> None:
    answers = yaml.safe_load((large / ".copier-answers.yml").read_text())
    assert answers["dvc_remote"] == "local"
    assert "dvc_remote_url" not in answers


def test_medium_has_no_dvc(tmp_path: Path) -> None:
    project = render(tmp_path / "project", tier="medium")
    assert not (project / "dvc.yaml").exists() and not (project / ".dvc").exists()
    assert not any(requirement.startswith("dvc") for requirement in _dev_group(project))
    assert "pipeline" not in _makefile(project)[1]
    assert "dvc_remote" not in (project / ".copier-answers.yml").read_text()


# Building: install, `dvc repro`, `dvc push`, once per package manager.


def _run(project: Path) -> list[str]:
    """The project's own `run` prefix, from its package manager's lock file."""
    return ["uv", "run"] if (project / "uv.lock").exists() else ["poetry", "run"]


def _dvc(project: Path, *argv: str) -> str:
    """Run DVC in the project's environment; its report, stdout and log together."""
    _, out, err = run_in(project, *_run(project), "dvc", *argv)
    return out + err


@pytest.fixture(scope="module")
def built(build_projects: BuildProjects) -> Path:
    """The session's large uv project (test_build's too) after its one `make pipeline`.

    DVC behaves the same under either package manager; test_build runs the pipeline and
    pre-commit in the Poetry project as well.
    """
    project = build_projects.installed("large", "uv")
    _first_repro_log(project).write_text(build_projects.pipeline(project, "pipeline"))
    return project


def _first_repro_log(project: Path) -> Path:
    return project.parent / "first-repro.log"


@pytest.fixture
def restored(built: Path) -> Iterator[Path]:
    """The built project; whatever a test changed in git-tracked files is undone after."""
    yield built
    run_in(built, "git", "checkout", "--", ".")


@pytest.mark.build
@pytest.mark.xdist_group("large-uv")
def test_repro_runs_every_stage_and_writes_the_lock(built: Path) -> None:
    log = _first_repro_log(built).read_text()
    assert [stage for stage in STAGE_TARGETS if f"Running stage '{stage}'" not in log] == []
    lock = yaml.safe_load((built / "dvc.lock").read_text())
    assert list(lock["stages"]) == list(STAGE_TARGETS)


@pytest.mark.build
@pytest.mark.xdist_group("large-uv")
def test_repro_writes_the_metrics(built: Path) -> None:
    metrics = json.loads((built / "reports/metrics.json").read_text())
    assert metrics["accuracy"] > 0.8


@pytest.mark.build
@pytest.mark.xdist_group("large-uv")
def test_a_second_repro_runs_nothing(built: Path) -> None:
    _, out, err = run_in(built, "make", "pipeline")
    assert "Data and pipelines are up to date." in out + err
    assert "Running stage" not in out + err


@pytest.mark.build
@pytest.mark.xdist_group("large-uv")
def test_status_is_clean_after_repro(built: Path) -> None:
    assert "Data and pipelines are up to date." in _dvc(built, "status")


@pytest.mark.build
@pytest.mark.xdist_group("large-uv")
def test_a_feature_change_makes_train_and_evaluate_stale_not_data(restored: Path) -> None:
    with (restored / "src/ml_project/features/build_features.py").open("a") as module:
        module.write("# a new feature\n")
    stale = _dvc(restored, "status")
    assert "train:" in stale and "evaluate:" in stale
    assert "data:" not in stale


@pytest.mark.build
@pytest.mark.xdist_group("large-uv")
def test_a_model_param_change_makes_train_stale(restored: Path) -> None:
    config = restored / "configs/model/default.yaml"
    config.write_text(config.read_text().replace("n_estimators: 200", "n_estimators: 50"))
    assert "train:" in _dvc(restored, "status")
    assert "n_estimators" in _dvc(restored, "params", "diff")


@pytest.mark.build
@pytest.mark.xdist_group("large-uv")
def test_push_puts_every_output_in_the_local_remote(built: Path) -> None:
    _dvc(built, "push")
    stored = [path for path in (built / "dvc-storage").rglob("*") if path.is_file()]
    assert len(stored) == len(CACHED_OUTPUTS)


@pytest.mark.build
@pytest.mark.xdist_group("large-uv")
def test_pull_brings_back_outputs_deleted_with_the_cache(built: Path) -> None:
    _dvc(built, "push")
    shutil.rmtree(built / ".dvc/cache")
    for output in CACHED_OUTPUTS:
        (built / output).unlink()
    _dvc(built, "pull")
    assert all((built / output).is_file() for output in CACHED_OUTPUTS)
    assert "Data and pipelines are up to date." in _dvc(built, "status")


@pytest.mark.build
@pytest.mark.xdist_group("large-uv")
def test_data_stays_out_of_git_and_the_lock_and_metrics_go_in(built: Path) -> None:
    _dvc(built, "push")
    _, out, _ = run_in(built, "git", "status", "--porcelain", "--untracked-files=all")
    changed = {line[3:] for line in out.splitlines()}
    # No data, no .gitignore edit by DVC.
    assert changed <= {"dvc.lock", METRICS, "uv.lock", "poetry.lock"}
    assert {"dvc.lock", METRICS} <= changed


@pytest.mark.build
@pytest.mark.xdist_group("large-uv")
def test_pre_commit_accepts_the_dvc_files_as_dvc_writes_them(built: Path) -> None:
    dvc_files = ["dvc.yaml", "dvc.lock", ".dvc/config", ".dvc/.gitignore", ".dvcignore"]
    run_in(built, "git", "add", *dvc_files)
    run_in(built, *_run(built), "pre-commit", "run", "--files", *dvc_files)
    _, changed, _ = run_in(built, "git", "diff", "--name-only")
    assert changed == ""  # no hook rewrote dvc.lock, whose long commands DVC wraps
