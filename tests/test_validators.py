"""A refused answer names its question, says why, and writes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .helpers import render

REFUSED = [
    ("project_name", "", "must not be empty"),
    ("project_name", "   ", "must not be empty"),
    ("project_name", "Churn {{ model }}", "template markup"),
    ("project_name", "Churn {% if %}", "template markup"),
    ("project_name", "Churn\nModel", "control characters"),
    ("project_name", "Churn\x1bModel", "control characters"),
    ("project_slug", "Churn Model", "lowercase letters and digits"),
    ("project_slug", "churn_model", "lowercase letters and digits"),
    ("project_slug", "-churn", "lowercase letters and digits"),
    ("project_slug", "churn--model", "lowercase letters and digits"),
    ("project_slug", "2churn", "lowercase letters and digits"),
    ("package_name", "churn-model", "not a valid Python identifier"),
    ("package_name", "1churn", "not a valid Python identifier"),
    ("package_name", "Churn", "must be lowercase"),
    ("package_name", "a_rather_long_package_name_for_the_churn_team", "longer than 30"),
    ("package_name", "class", "keyword"),
    ("package_name", "match", "keyword"),
    ("package_name", "json", "standard-library"),
    ("package_name", "test", "would shadow"),
    ("package_name", "os", "standard-library"),
    ("package_name", "numpy", "shadow a package the project installs"),
    ("package_name", "sklearn", "shadow a package the project installs"),
    ("package_name", "mlflow", "shadow a package the project installs"),
    ("package_name", "tests", "shadow a package the project installs or a folder"),
    ("author_email", "ml-team", "email address"),
    ("author_email", "ml@team", "email address"),
    ("author_email", "ml team@example.com", "email address"),
    ("copyright_year", "next year", "four-digit year"),
    ("package_index_url", "ftp://index.example.com/simple", "http(s) URL"),
    ("package_index_url", "index.example.com/simple", "http(s) URL"),
    ("package_index_url", "https://", "http(s) URL"),
]


@pytest.mark.parametrize(
    ("question", "answer", "reason"), REFUSED, ids=[f"{q}={a!r}" for q, a, _ in REFUSED]
)
def test_bad_answer_is_refused_by_name_and_nothing_is_written(
    tmp_path: Path, question: str, answer: str, reason: str
) -> None:
    dst = tmp_path / "project"
    with pytest.raises(ValueError, match=rf"question '{question}'") as refused:
        render(dst, **{question: answer})
    assert reason in str(refused.value)
    assert not dst.exists()


TORCH_SOURCES_REFUSED = [
    ("ftp://wheels.example.com/simple", "uv", "cpu", "http(s) URL"),
    ("wheels/torch", "uv", "cpu", "http(s) URL"),
    ("/srv/wheels", "poetry", "cpu", "a folder of wheels works with uv only"),
    (
        "https://download.pytorch.org/whl/cu126",
        "uv",
        "cpu",
        "PyTorch's index of the cu126 build, and torch_backend is cpu: "
        "answer torch_backend=cu126 and leave this empty",
    ),
    ("https://download.pytorch.org/whl/cpu/", "poetry", "cu130", "the cpu build"),
]


@pytest.mark.parametrize(("source", "manager", "backend", "reason"), TORCH_SOURCES_REFUSED)
def test_bad_torch_source_is_refused_by_name_and_nothing_is_written(
    tmp_path: Path, source: str, manager: str, backend: str, reason: str
) -> None:
    dst = tmp_path / "project"
    with pytest.raises(ValueError, match=r"question 'torch_index_url'") as refused:
        render(dst, ml_framework="pytorch", package_manager=manager, torch_backend=backend,
               torch_index_url=source)  # fmt: skip
    assert reason in str(refused.value)
    assert not dst.exists()


def test_an_unknown_torch_build_is_refused_with_the_choices(tmp_path: Path) -> None:
    dst = tmp_path / "project"
    with pytest.raises(ValueError, match=r"torch_backend") as refused:
        render(dst, ml_framework="pytorch", torch_backend="cu118")
    assert "cu118" in str(refused.value)
    assert not dst.exists()


def test_pytorchs_index_of_the_chosen_build_is_accepted(tmp_path: Path) -> None:
    """Redundant, but not wrong: the answer a project gets from before torch_backend."""
    dst = render(tmp_path / "project", ml_framework="pytorch", torch_backend="cu128",
                 torch_index_url="https://download.pytorch.org/whl/cu128")  # fmt: skip
    assert 'url = "https://download.pytorch.org/whl/cu128"' in (dst / "pyproject.toml").read_text()


FEATURE_CONFLICTS = [
    ({"exclude_features": ["src"]}, "needs src"),
    ({"exclude_features": ["configs"]}, "src needs configs"),
    (
        {"tier": "small", "include_features": ["ci"], "exclude_features": ["tests"]},
        "ci needs tests",
    ),
]


@pytest.mark.parametrize(("answers", "reason"), FEATURE_CONFLICTS)
def test_features_that_cannot_work_together_are_refused(
    tmp_path: Path, answers: dict[str, Any], reason: str
) -> None:
    dst = tmp_path / "project"
    with pytest.raises(ValueError, match=r"question '(in|ex)clude_features'") as refused:
        render(dst, **answers)
    assert reason in str(refused.value)
    assert not dst.exists()


ACCEPTED = [
    ("project_name", "Churn Prediction (v2) — ÉTÉ"),
    ("project_slug", "churn-model-2"),
    ("package_name", "churn_model_2"),
    ("author_email", "first.last+ml@example.co.uk"),
    ("package_index_url", "https://packages.example.com/simple/"),
    ("package_index_url", "http://127.0.0.1:8080/simple"),
]


@pytest.mark.parametrize(("question", "answer"), ACCEPTED, ids=[f"{q}={a}" for q, a in ACCEPTED])
def test_good_answer_is_accepted(tmp_path: Path, question: str, answer: str) -> None:
    dst = render(tmp_path / "project", tier="small", **{question: answer})
    assert (dst / ".copier-answers.yml").is_file()
