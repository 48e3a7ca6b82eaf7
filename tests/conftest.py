"""Fixtures shared by several test modules."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .helpers import BuildProjects, render, template_release

# Some shells turn Python's bytecode cache off (PYTHONDONTWRITEBYTECODE); a developer's
# does not. Without it every process a test starts compiles mlflow, scikit-learn and
# torch from source again, so the suite and the projects it runs keep the cache on.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

#: The tag the `release` fixture carries.
RELEASE = "v0.1.0"


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This working tree, committed and tagged in a repository of its own; never changed."""
    return template_release(tmp_path_factory.mktemp("tagged-release") / "copier-ml", RELEASE)


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Render the working tree with these answers once per session: read, never change it."""
    done: dict[str, Path] = {}

    def render_once(**answers: Any) -> Path:
        key = repr(sorted(answers.items()))
        if key not in done:
            done[key] = render(tmp_path_factory.mktemp("rendered") / "project", **answers)
        return done[key]

    return render_once


@pytest.fixture(scope="session")
def build_projects(tmp_path_factory: pytest.TempPathFactory) -> BuildProjects:
    return BuildProjects(tmp_path_factory)
