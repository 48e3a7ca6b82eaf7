"""The generated workflows are valid for GitHub and ask for the least they need."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from plumbum import local

from .helpers import IDENTITY, TEMPLATE, render, tool

WORKFLOW = ".github/workflows/ci.yml"


def _workflow(rendered: Callable[..., Path], manager: str) -> tuple[Path, dict[Any, Any]]:
    """The CI workflow of a medium project, from the session's render: read it only."""
    path = rendered(package_manager=manager) / WORKFLOW
    return path, yaml.safe_load(path.read_text())


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return workflow["jobs"]["check"]["steps"]


@pytest.mark.parametrize("manager", ["uv", "poetry"])
def test_workflow_is_valid_against_githubs_schema(
    rendered: Callable[..., Path], manager: str
) -> None:
    path, _ = _workflow(rendered, manager)
    tool("check-jsonschema")("--builtin-schema", "vendor.github-workflows", path)


@pytest.mark.parametrize("manager", ["uv", "poetry"])
def test_workflow_only_reads_the_repository(rendered: Callable[..., Path], manager: str) -> None:
    _, workflow = _workflow(rendered, manager)
    assert workflow["permissions"] == {"contents": "read"}


@pytest.mark.parametrize("manager", ["uv", "poetry"])
def test_workflow_runs_on_push_and_pull_request(
    rendered: Callable[..., Path], manager: str
) -> None:
    _, workflow = _workflow(rendered, manager)
    # YAML 1.1 reads the bare key `on` as True.
    triggers = workflow.get("on", workflow.get(True))
    assert set(triggers) == {"push", "pull_request"}


@pytest.mark.parametrize("manager", ["uv", "poetry"])
def test_workflow_lints_type_checks_and_tests(rendered: Callable[..., Path], manager: str) -> None:
    _, workflow = _workflow(rendered, manager)
    commands = [step.get("run", "") for step in _steps(workflow)]
    assert "make lint" in commands
    assert "make test" in commands


def test_uv_workflow_installs_from_the_lock_with_a_cache(rendered: Callable[..., Path]) -> None:
    _, workflow = _workflow(rendered, "uv")
    setup = next(s for s in _steps(workflow) if s.get("uses", "").startswith("astral-sh/setup-uv"))
    assert setup["with"]["enable-cache"] is True
    assert any("uv sync --locked" in step.get("run", "") for step in _steps(workflow))


def test_poetry_workflow_checks_the_lock_and_caches(rendered: Callable[..., Path]) -> None:
    _, workflow = _workflow(rendered, "poetry")
    setup = next(
        s for s in _steps(workflow) if s.get("uses", "").startswith("actions/setup-python")
    )
    assert setup["with"]["cache"] == "poetry"
    assert any("poetry check --lock" in step.get("run", "") for step in _steps(workflow))


def test_broken_workflow_is_caught_by_the_schema_check(
    rendered: Callable[..., Path], tmp_path: Path
) -> None:
    """The schema check above can fail: a job without runs-on is refused."""
    source, _ = _workflow(rendered, "uv")
    text = source.read_text()
    path = tmp_path / source.name
    assert "    runs-on: ubuntu-latest\n" in text
    path.write_text(text.replace("    runs-on: ubuntu-latest\n", ""))
    result = tool("check-jsonschema").run(
        ["--builtin-schema", "vendor.github-workflows", str(path)], retcode=None
    )
    assert result[0] != 0
    assert "runs-on" in result[1] + result[2]


CD = ".github/workflows/cd.yml"
MODEL_VALIDATION = ".github/workflows/model-validation.yml"
CLOUDS = ["aws", "gcp", "azure"]
#: The actions that log in to each cloud's registry, beside those every cd.yml uses.
LOGIN_ACTIONS = {
    "aws": {"aws-actions/configure-aws-credentials", "aws-actions/amazon-ecr-login"},
    "gcp": {"google-github-actions/auth", "google-github-actions/setup-gcloud"},
    "azure": {"azure/login"},
}
BUILD_ACTIONS = {"docker/setup-buildx-action", "docker/build-push-action"}


def _large(rendered: Callable[..., Path], name: str, **answers: Any) -> tuple[Path, dict[Any, Any]]:
    """A workflow of a large project, from the session's render: read it only."""
    path = rendered(tier="large", **answers) / name
    return path, yaml.safe_load(path.read_text())


def _only_job(workflow: dict[Any, Any]) -> dict[str, Any]:
    (job,) = workflow["jobs"].values()
    return job


def _triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    return workflow.get("on", workflow.get(True))


def _actions(job: dict[str, Any]) -> set[str]:
    return {step["uses"].split("@")[0] for step in job["steps"] if "uses" in step}


def _build_step(job: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in job["steps"] if s.get("uses", "").startswith("docker/build-push-action"))


@pytest.mark.parametrize(
    ("manager", "cloud"), [("uv", "aws"), ("poetry", "aws"), ("uv", "gcp"), ("uv", "azure")]
)
def test_cd_workflow_is_valid_against_githubs_schema(
    rendered: Callable[..., Path], manager: str, cloud: str
) -> None:
    path, _ = _large(rendered, CD, package_manager=manager, cloud_provider=cloud)
    tool("check-jsonschema")("--builtin-schema", "vendor.github-workflows", path)


@pytest.mark.parametrize("manager", ["uv", "poetry"])
def test_model_validation_workflow_is_valid_against_githubs_schema(
    rendered: Callable[..., Path], manager: str
) -> None:
    path, _ = _large(rendered, MODEL_VALIDATION, package_manager=manager)
    tool("check-jsonschema")("--builtin-schema", "vendor.github-workflows", path)


def test_cd_runs_only_for_version_tags_or_by_hand(rendered: Callable[..., Path]) -> None:
    _, workflow = _large(rendered, CD)
    triggers = _triggers(workflow)
    assert set(triggers) == {"push", "workflow_dispatch"}
    assert triggers["push"] == {"tags": ["v*"]}
    # By hand, too, only from a version tag: the image is tagged with it.
    assert _only_job(workflow)["if"] == "startsWith(github.ref, 'refs/tags/v')"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_cd_asks_only_to_read_the_repository_and_for_an_oidc_token(
    rendered: Callable[..., Path], cloud: str
) -> None:
    _, workflow = _large(rendered, CD, cloud_provider=cloud)
    assert workflow["permissions"] in ({}, {"contents": "read"})
    assert _only_job(workflow)["permissions"] == {"contents": "read", "id-token": "write"}


@pytest.mark.parametrize("cloud", CLOUDS)
def test_cd_logs_in_with_the_chosen_clouds_actions(
    rendered: Callable[..., Path], cloud: str
) -> None:
    _, workflow = _large(rendered, CD, cloud_provider=cloud)
    setup = {"actions/checkout", "astral-sh/setup-uv"}
    assert _actions(_only_job(workflow)) == setup | BUILD_ACTIONS | LOGIN_ACTIONS[cloud]


@pytest.mark.parametrize("cloud", CLOUDS)
def test_cd_names_the_registry_only_through_repository_variables(
    rendered: Callable[..., Path], cloud: str
) -> None:
    path, workflow = _large(rendered, CD, cloud_provider=cloud)
    assert _only_job(workflow)["env"]["IMAGE"].startswith("${{ vars.IMAGE_REPOSITORY }}")
    text = path.read_text()
    assert "terraform output image_repository_url" in text
    for host in ("ghcr", "docker.io", "amazonaws", "pkg.dev", "azurecr", "gcr.io"):
        assert host not in text


@pytest.mark.parametrize("manager", ["uv", "poetry"])
def test_cd_trains_the_model_then_pushes_the_dockerfiles_image(
    rendered: Callable[..., Path], manager: str
) -> None:
    _, workflow = _large(rendered, CD, package_manager=manager)
    job = _only_job(workflow)
    commands = [step.get("run", "") for step in job["steps"]]
    build = _build_step(job)
    assert commands.index("make data-process train") < job["steps"].index(build)
    assert build["with"]["context"] == "."
    assert build["with"]["file"] == "infrastructure/docker/Dockerfile"
    assert build["with"]["push"] is True


def test_cd_tags_the_image_with_the_git_tag_and_the_commit(rendered: Callable[..., Path]) -> None:
    _, workflow = _large(rendered, CD)
    tags = _build_step(_only_job(workflow))["with"]["tags"].splitlines()
    assert tags == ["${{ env.IMAGE }}:${{ github.ref_name }}", "${{ env.IMAGE }}:${{ github.sha }}"]


@pytest.mark.parametrize(("cloud", "image_suffix"), [("aws", ""), ("gcp", "/ml-project")])
def test_cd_names_the_image_as_the_clouds_registry_expects(
    rendered: Callable[..., Path], cloud: str, image_suffix: str
) -> None:
    """ECR's repository URL is the image; Artifact Registry's and ACR's hold images."""
    _, workflow = _large(rendered, CD, cloud_provider=cloud)
    assert _only_job(workflow)["env"]["IMAGE"] == "${{ vars.IMAGE_REPOSITORY }}" + image_suffix


@pytest.mark.parametrize("manager", ["uv", "poetry"])
def test_model_validation_runs_on_pull_requests_and_only_reads(
    rendered: Callable[..., Path], manager: str
) -> None:
    _, workflow = _large(rendered, MODEL_VALIDATION, package_manager=manager)
    assert set(_triggers(workflow)) == {"pull_request", "workflow_dispatch"}
    assert workflow["permissions"] == {"contents": "read"}
    assert "permissions" not in _only_job(workflow)


@pytest.mark.parametrize("manager", ["uv", "poetry"])
def test_model_validation_reproduces_the_pipeline_before_the_gate(
    rendered: Callable[..., Path], manager: str
) -> None:
    _, workflow = _large(rendered, MODEL_VALIDATION, package_manager=manager)
    commands = [step.get("run", "") for step in _only_job(workflow)["steps"]]
    gate = next(i for i, command in enumerate(commands) if "make validate-model" in command)
    assert commands.index("make pipeline") < gate


def _gate_step(workflow: dict[Any, Any]) -> dict[str, Any]:
    steps = _only_job(workflow)["steps"]
    return next(s for s in steps if "make validate-model" in s.get("run", ""))


def test_model_validation_gates_each_pull_request_against_its_base_branch(
    rendered: Callable[..., Path],
) -> None:
    _, workflow = _large(rendered, MODEL_VALIDATION)
    gate = _gate_step(workflow)
    assert gate["env"]["BASE"] == "${{ github.event.pull_request.base.sha }}"
    assert 'make validate-model BASELINE="$BASE"' in gate["run"]
    # The base commit must be in the clone for git to read its metrics.
    checkout = next(
        s for s in _only_job(workflow)["steps"] if s.get("uses", "").startswith("actions/checkout")
    )
    assert checkout["with"]["fetch-depth"] == 0


def test_model_validation_gate_says_when_the_base_has_no_metrics(
    rendered: Callable[..., Path], tmp_path: Path
) -> None:
    """The gate step's script, run by bash in a repository whose base commit holds no
    metrics: it falls back to the thresholds and says so, never naming a baseline."""
    _, workflow = _large(rendered, MODEL_VALIDATION)
    script = _gate_step(workflow)["run"].replace("make validate-model", "echo gate")
    git = local["git"]["-C", tmp_path, *IDENTITY]
    git("init", "--quiet")
    git("commit", "--quiet", "--allow-empty", "--message", "base")
    with local.cwd(tmp_path), local.env(BASE=git("rev-parse", "HEAD").strip()):
        out = local["bash"]("-c", script)
    assert out.splitlines() == [
        "::notice::No reports/metrics.json on the base branch: thresholds only.",
        "gate",
    ]
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/metrics.json").write_text("{}")
    git("add", "reports/metrics.json")
    git("commit", "--quiet", "--message", "metrics")
    base = git("rev-parse", "HEAD").strip()
    with local.cwd(tmp_path), local.env(BASE=base):
        assert local["bash"]("-c", script).strip() == f"gate BASELINE={base}"


def test_model_validation_keeps_the_metrics_and_summarises_them(
    rendered: Callable[..., Path],
) -> None:
    _, workflow = _large(rendered, MODEL_VALIDATION)
    steps = _only_job(workflow)["steps"]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["with"]["path"] == "reports/metrics.json"
    assert any(
        "dvc metrics diff" in s.get("run", "") and "$GITHUB_STEP_SUMMARY" in s.get("run", "")
        for s in steps
    )


@pytest.mark.parametrize(
    ("answers", "present"),
    [
        ({"tier": "medium"}, set()),
        ({"tier": "medium", "include_features": ["dvc", "validation"]}, {MODEL_VALIDATION}),
        ({"tier": "medium", "include_features": ["infra"]}, {CD}),
        ({"tier": "large"}, {CD, MODEL_VALIDATION}),
        ({"tier": "large", "exclude_features": ["ci"]}, set()),
    ],
)
def test_delivery_workflows_exist_only_with_their_features(
    tmp_path: Path, answers: dict[str, Any], present: set[str]
) -> None:
    project = render(tmp_path / "p", **answers)
    assert {name for name in (CD, MODEL_VALIDATION) if (project / name).exists()} == present


# This repository's own workflow (it runs on GitHub, not here: .ci/run is the gate).

OWN_WORKFLOW = TEMPLATE / ".github/workflows/tests.yml"


def _own_workflow() -> dict[Any, Any]:
    workflow: dict[Any, Any] = yaml.safe_load(OWN_WORKFLOW.read_text())
    return workflow


def test_this_repositorys_workflow_is_valid_against_githubs_schema() -> None:
    tool("check-jsonschema")("--builtin-schema", "vendor.github-workflows", OWN_WORKFLOW)


def test_this_repositorys_workflow_only_reads_and_keeps_no_token() -> None:
    workflow = _own_workflow()
    assert workflow["permissions"] == {"contents": "read"}
    for job in workflow["jobs"].values():
        assert "permissions" not in job
        checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout"))
        assert checkout["with"]["persist-credentials"] is False
        assert checkout["with"]["fetch-depth"] == 0  # every release's commit


def test_render_and_update_tests_run_on_linux_macos_and_windows() -> None:
    job = _own_workflow()["jobs"]["render-and-update"]
    assert set(job["strategy"]["matrix"]["os"]) == {
        "ubuntu-latest",
        "macos-latest",
        "windows-latest",
    }
    command = next(s["run"] for s in job["steps"] if "pytest" in s.get("run", ""))
    named = {word for word in command.split() if word.startswith("tests/")}
    assert {"tests/test_render.py", "tests/test_update.py", "tests/test_layout.py"} <= named
    assert all((TEMPLATE / name).is_file() for name in named), named
    assert '-m "not build"' in command


def test_build_tests_run_on_linux_as_the_gate_runs_them() -> None:
    job = _own_workflow()["jobs"]["build"]
    assert job["runs-on"] == "ubuntu-latest"
    assert [s["run"] for s in job["steps"] if "run" in s] == ["bash .ci/run"]
