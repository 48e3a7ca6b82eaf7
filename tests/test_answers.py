"""The other answers reach the files that use them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml

from .helpers import render, tool


@pytest.mark.parametrize(
    ("license_id", "phrase"),
    [
        ("MIT", "Permission is hereby granted, free of charge"),
        ("Apache-2.0", "Apache License"),
        ("BSD-3-Clause", "Neither the name of the copyright holder"),
        ("Proprietary", "All rights reserved"),
    ],
)
def test_license_file_has_the_chosen_text_year_and_holder(
    tmp_path: Path, license_id: str, phrase: str
) -> None:
    dst = render(tmp_path / "p", license=license_id, author_name="Acme ML", copyright_year="2031")
    text = (dst / "LICENSE").read_text()
    assert phrase in text
    assert "2031" in text and "Acme ML" in text
    assert "[year]" not in text and "[yyyy]" not in text


@pytest.mark.parametrize("license_id", ["MIT", "Apache-2.0", "BSD-3-Clause"])
def test_open_licenses_are_declared_as_spdx(tmp_path: Path, license_id: str) -> None:
    pyproject = tomllib.loads(
        (render(tmp_path / "p", license=license_id) / "pyproject.toml").read_text()
    )
    assert pyproject["project"]["license"] == license_id


def test_proprietary_projects_declare_no_open_license(tmp_path: Path) -> None:
    pyproject = tomllib.loads(
        (render(tmp_path / "p", license="Proprietary") / "pyproject.toml").read_text()
    )
    assert "license" not in pyproject["project"]


@pytest.mark.parametrize("version", ["3.10", "3.11", "3.12", "3.13"])
def test_python_version_reaches_packaging_linters_and_ci(tmp_path: Path, version: str) -> None:
    dst = render(tmp_path / "p", python_version=version)
    pyproject = tomllib.loads((dst / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f">={version}"
    assert pyproject["tool"]["ruff"]["target-version"] == f"py{version.replace('.', '')}"
    assert pyproject["tool"]["mypy"]["python_version"] == version
    workflow = yaml.safe_load((dst / ".github/workflows/ci.yml").read_text())
    steps = workflow["jobs"]["check"]["steps"]
    setup = [step for step in steps if "python-version" in step.get("with", {})]
    assert setup[0]["with"]["python-version"] == version


def test_uv_uses_the_private_index_as_default(tmp_path: Path) -> None:
    url = "https://packages.example.com/simple/"
    dst = render(tmp_path / "p", package_manager="uv", package_index_url=url)
    indexes = tomllib.loads((dst / "pyproject.toml").read_text())["tool"]["uv"]["index"]
    assert indexes == [{"name": "private", "url": url, "default": True}]


def test_poetry_uses_the_private_index_as_primary(tmp_path: Path) -> None:
    url = "https://packages.example.com/simple/"
    dst = render(tmp_path / "p", package_manager="poetry", package_index_url=url)
    sources = tomllib.loads((dst / "pyproject.toml").read_text())["tool"]["poetry"]["source"]
    assert sources == [{"name": "private", "url": url, "priority": "primary"}]


@pytest.mark.parametrize("manager", ["uv", "poetry"])
def test_no_index_is_configured_by_default(tmp_path: Path, manager: str) -> None:
    tool_config = tomllib.loads(
        (render(tmp_path / "p", package_manager=manager) / "pyproject.toml").read_text()
    )["tool"]
    assert "index" not in tool_config.get("uv", {})
    assert "source" not in tool_config.get("poetry", {})


def test_quotes_and_backslashes_survive_into_valid_toml(tmp_path: Path) -> None:
    description = 'Predicts "churn" from C:\\data, fast'
    dst = render(tmp_path / "p", description=description, author_name='Ana "Ops" Lima')
    project = tomllib.loads((dst / "pyproject.toml").read_text())["project"]
    assert project["description"] == description
    assert project["authors"] == [{"name": 'Ana "Ops" Lima', "email": "ml-team@example.com"}]


def test_names_are_derived_from_the_project_name(tmp_path: Path) -> None:
    dst = render(tmp_path / "p", project_name="Fraud Detection 2")
    answers = yaml.safe_load((dst / ".copier-answers.yml").read_text())
    assert answers["project_slug"] == "fraud-detection-2"
    assert answers["package_name"] == "fraud_detection_2"
    assert (dst / "src" / "fraud_detection_2" / "models" / "train.py").is_file()


@pytest.mark.parametrize("package", ["ml", "churn_prediction_for_the_teams"])
def test_generated_code_stays_formatted_whatever_the_package_name(
    tmp_path: Path, package: str
) -> None:
    dst = render(tmp_path / "p", tier="large", package_name=package)
    tool("ruff")("check", "--no-cache", dst)
    tool("ruff")("format", "--check", "--no-cache", dst)
