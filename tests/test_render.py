"""Every combination renders exactly the expected files, all of them well-formed."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from .expected import (
    CD,
    CI,
    DATA_LAYERS,
    DOCS,
    DVC,
    E2E,
    INFRA,
    LICENSE,
    MAKEFILE,
    MLFLOW_TESTS,
    PIPELINES,
    PRECOMMIT,
    SERVING,
    TESTS,
    VALIDATION,
    expected_files,
)
from .helpers import project_files, render, tool

TIERS = ["small", "medium", "large"]
MANAGERS = ["uv", "poetry"]
TRACKERS = ["mlflow", "none"]
JINJA_MARKERS = re.compile(r"{{|}}|{%|%}|{#|#}")
GITHUB_EXPRESSION = re.compile(r"\$\{\{[^}]*\}\}")  # ${{ github.ref }} is meant to stay
COMBINATIONS = [(t, m, k) for t in TIERS for m in MANAGERS for k in TRACKERS]


@pytest.fixture(scope="module", params=COMBINATIONS, ids=lambda c: "-".join(c))
def combination(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[tuple[str, str, str], Path]:
    tier, manager, tracker = request.param
    dst = tmp_path_factory.mktemp("-".join(request.param))
    render(dst, tier=tier, package_manager=manager, experiment_tracker=tracker)
    return request.param, dst


def test_renders_exactly_the_expected_files(combination: tuple[tuple[str, str, str], Path]) -> None:
    (tier, manager, tracker), dst = combination
    assert project_files(dst) == expected_files(tier, manager, tracker)


def test_no_template_markup_is_left(combination: tuple[tuple[str, str, str], Path]) -> None:
    _, dst = combination
    leftovers = [
        name
        for name in project_files(dst)
        if JINJA_MARKERS.search(GITHUB_EXPRESSION.sub("", (dst / name).read_text()))
    ]
    assert leftovers == []


def test_structured_files_parse(combination: tuple[tuple[str, str, str], Path]) -> None:
    _, dst = combination
    for name in project_files(dst):
        text = (dst / name).read_text()
        if name.endswith(".toml"):
            tomllib.loads(text)
        elif name.endswith((".yml", ".yaml")):
            yaml.safe_load(text)
        elif name.endswith((".json", ".ipynb")):
            json.loads(text)


def test_python_passes_ruff(combination: tuple[tuple[str, str, str], Path]) -> None:
    _, dst = combination
    tool("ruff")("check", "--no-cache", dst)
    tool("ruff")("format", "--check", "--no-cache", dst)


def test_no_text_file_has_trailing_whitespace_or_missing_final_newline(
    combination: tuple[tuple[str, str, str], Path],
) -> None:
    _, dst = combination
    bad = []
    for name in project_files(dst):
        text = (dst / name).read_text()
        if text and (not text.endswith("\n") or text.endswith("\n\n")):
            bad.append(f"{name}: end of file")
        if any(line != line.rstrip() for line in text.splitlines()):
            bad.append(f"{name}: trailing whitespace")
    assert bad == []


def test_pyproject_declares_the_chosen_tools(
    combination: tuple[tuple[str, str, str], Path],
) -> None:
    (tier, manager, tracker), dst = combination
    pyproject = tomllib.loads((dst / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == ">=3.11"
    assert "dev" in pyproject["dependency-groups"]
    requirements = " ".join(pyproject["project"]["dependencies"])
    assert ("mlflow" in requirements) == (tier != "small" and tracker == "mlflow")
    if tier == "small":
        return
    backend = pyproject["build-system"]["build-backend"]
    assert backend == {"uv": "uv_build", "poetry": "poetry.core.masonry.api"}[manager]
    lint = pyproject["tool"]["ruff"]["lint"]
    assert lint["select"] == ["E", "F", "I", "N", "W", "UP", "B", "C4", "SIM"]
    assert pyproject["tool"]["mypy"]["strict"] is True


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    first, second = render(tmp_path / "a"), render(tmp_path / "b")
    names = project_files(first)
    assert names == project_files(second)
    differing = [n for n in names if (first / n).read_bytes() != (second / n).read_bytes()]
    # A template with uncommitted changes gets a fresh temporary commit id per copy.
    assert set(differing) <= {".copier-answers.yml"}
    answers = [
        yaml.safe_load((root / ".copier-answers.yml").read_text()) for root in (first, second)
    ]
    for recorded in answers:
        recorded.pop("_commit")
    assert answers[0] == answers[1]


@pytest.mark.parametrize(
    ("answers", "added", "removed"),
    [
        ({"exclude_features": ["ci"]}, set(), CI),
        ({"exclude_features": ["precommit", "license_file"]}, set(), PRECOMMIT | LICENSE),
        ({"exclude_features": ["ci", "tests"]}, set(), CI | TESTS | MLFLOW_TESTS),
        ({"exclude_features": ["makefile", "ci"]}, set(), MAKEFILE | CI),
    ],
    ids=["no-ci", "no-precommit-no-license", "no-tests", "no-makefile"],
)
def test_medium_with_features_removed(
    tmp_path: Path, answers: dict[str, list[str]], added: set[str], removed: set[str]
) -> None:
    dst = render(tmp_path / "p", tier="medium", **answers)
    expected = (expected_files("medium", "uv", "mlflow") | added) - removed
    assert project_files(dst) == expected


def test_medium_with_the_validation_gate_added(tmp_path: Path) -> None:
    dst = render(tmp_path / "p", tier="medium", include_features=["validation"])
    validation = {name.format(pkg="ml_project") for name in VALIDATION}
    assert project_files(dst) == expected_files("medium", "uv", "mlflow") | validation


def test_feature_lists_typed_on_the_command_line_are_understood(tmp_path: Path) -> None:
    """`copier copy -d 'exclude_features=["ci"]'` passes the list as text."""
    dst = render(tmp_path / "p", tier="medium", exclude_features='["ci"]')
    assert project_files(dst) == expected_files("medium", "uv", "mlflow") - CI


def test_small_with_precommit_added(tmp_path: Path) -> None:
    dst = render(tmp_path / "p", tier="small", include_features=["precommit"])
    assert project_files(dst) == expected_files("small", "uv", "none") | PRECOMMIT


def test_small_with_makefile_added_pulls_in_the_package(tmp_path: Path) -> None:
    dst = render(tmp_path / "p", tier="small", include_features=["makefile"])
    files = project_files(dst)
    assert {"Makefile", "src/ml_project/models/train.py", "configs/model/default.yaml"} <= files
    assert "tests/conftest.py" not in files


@pytest.mark.parametrize("remote", ["local", "s3", "gcs", "azure"])
@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_large_files_are_the_same_for_every_remote_and_cloud(
    tmp_path: Path, remote: str, cloud: str
) -> None:
    dst = render(tmp_path / "p", tier="large", dvc_remote=remote, cloud_provider=cloud)
    assert project_files(dst) == expected_files("large", "uv", "mlflow")


@pytest.mark.parametrize(
    ("feature", "added"),
    [
        ("data_layers", DATA_LAYERS),
        ("validation", VALIDATION),
        ("pipelines", PIPELINES),
        ("serving", SERVING),
        ("e2e", E2E | SERVING),
        ("docs", DOCS),
        ("dvc", DVC),
        ("infra", INFRA | SERVING | CD),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_medium_with_one_large_feature_added(tmp_path: Path, feature: str, added: set[str]) -> None:
    dst = render(tmp_path / "p", tier="medium", include_features=[feature])
    added = {name.format(pkg="ml_project") for name in added}
    assert project_files(dst) == expected_files("medium", "uv", "mlflow") | added
