"""The generated CI workflow is valid for GitHub and asks for the least it needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .helpers import render, tool

WORKFLOW = ".github/workflows/ci.yml"


def _workflow(tmp_path: Path, manager: str) -> tuple[Path, dict[Any, Any]]:
    path = render(tmp_path / "p", package_manager=manager) / WORKFLOW
    return path, yaml.safe_load(path.read_text())


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return workflow["jobs"]["check"]["steps"]


@pytest.mark.parametrize("manager", ["uv", "poetry"])
def test_workflow_is_valid_against_githubs_schema(tmp_path: Path, manager: str) -> None:
    path, _ = _workflow(tmp_path, manager)
    tool("check-jsonschema")("--builtin-schema", "vendor.github-workflows", path)


@pytest.mark.parametrize("manager", ["uv", "poetry"])
def test_workflow_only_reads_the_repository(tmp_path: Path, manager: str) -> None:
    _, workflow = _workflow(tmp_path, manager)
    assert workflow["permissions"] == {"contents": "read"}


@pytest.mark.parametrize("manager", ["uv", "poetry"])
def test_workflow_runs_on_push_and_pull_request(tmp_path: Path, manager: str) -> None:
    _, workflow = _workflow(tmp_path, manager)
    # YAML 1.1 reads the bare key `on` as True.
    triggers = workflow.get("on", workflow.get(True))
    assert set(triggers) == {"push", "pull_request"}


@pytest.mark.parametrize("manager", ["uv", "poetry"])
def test_workflow_lints_type_checks_and_tests(tmp_path: Path, manager: str) -> None:
    _, workflow = _workflow(tmp_path, manager)
    commands = [step.get("run", "") for step in _steps(workflow)]
    assert "make lint" in commands
    assert "make test" in commands


def test_uv_workflow_installs_from_the_lock_with_a_cache(tmp_path: Path) -> None:
    _, workflow = _workflow(tmp_path, "uv")
    setup = next(s for s in _steps(workflow) if s.get("uses", "").startswith("astral-sh/setup-uv"))
    assert setup["with"]["enable-cache"] is True
    assert any("uv sync --locked" in step.get("run", "") for step in _steps(workflow))


def test_poetry_workflow_checks_the_lock_and_caches(tmp_path: Path) -> None:
    _, workflow = _workflow(tmp_path, "poetry")
    setup = next(
        s for s in _steps(workflow) if s.get("uses", "").startswith("actions/setup-python")
    )
    assert setup["with"]["cache"] == "poetry"
    assert any("poetry check --lock" in step.get("run", "") for step in _steps(workflow))


def test_broken_workflow_is_caught_by_the_schema_check(tmp_path: Path) -> None:
    """The schema check above can fail: a job without runs-on is refused."""
    path, _ = _workflow(tmp_path, "uv")
    text = path.read_text()
    assert "    runs-on: ubuntu-latest\n" in text
    path.write_text(text.replace("    runs-on: ubuntu-latest\n", ""))
    result = tool("check-jsonschema").run(
        ["--builtin-schema", "vendor.github-workflows", str(path)], retcode=None
    )
    assert result[0] != 0
    assert "runs-on" in result[1] + result[2]
