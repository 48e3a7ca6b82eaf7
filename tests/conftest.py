"""Rendering and running helpers shared by the template's tests."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from copier import run_copy
from plumbum import local
from plumbum.machines import LocalCommand

TEMPLATE = Path(__file__).resolve().parents[1]
#: uv, poetry, ruff and copier live beside the interpreter running the tests.
TOOLS = Path(sys.executable).parent


def public_index_url() -> str:
    """The index pip itself uses, asked of pip at run time so no host name is written down."""
    from pip._internal.models.index import PyPI

    return PyPI.simple_url


def render(dst: Path, **answers: Any) -> Path:
    """Generate a project from this working tree (uncommitted changes included)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Dd]irty.*")
        run_copy(
            str(TEMPLATE),
            dst,
            data=answers,
            defaults=True,
            unsafe=True,
            quiet=True,
            vcs_ref="HEAD",
        )
    return dst


def project_files(root: Path) -> set[str]:
    """Every file of a generated project, as POSIX paths relative to it."""
    skip = {".git", ".venv"}
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and not skip & set(path.relative_to(root).parts)
    }


def tool(name: str) -> LocalCommand:
    """A command from the test environment, whatever PATH says."""
    return local[str(TOOLS / name)]


@pytest.fixture
def tool_env(tmp_path: Path) -> Iterator[None]:
    """PATH with our tools first, no Python downloads, and the generated project's own git."""
    env = {
        "PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}",
        "UV_PYTHON_DOWNLOADS": "never",
        "POETRY_VIRTUALENVS_IN_PROJECT": "true",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    with local.env(**env):
        yield
