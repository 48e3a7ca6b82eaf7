"""Every combination renders what the last release rendered, but for the files the
changelog says this version changes: a refactor of the template changes no project."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from .helpers import (
    COMBINATION_PARAMS,
    changed_since_last_release,
    combination_answers,
    project_files,
    project_folders,
    recorded_releases,
    render,
    render_release,
    template_repo,
)

ANSWERS = ".copier-answers.yml"
#: The newest release the changelog records: what projects have today.
LAST_RELEASE = list(recorded_releases())[-1]


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_repo(tmp_path_factory.mktemp("releases") / "copier-ml")[0]


def _answers(root: Path) -> dict[str, object]:
    """The recorded answers, without the template's commit and location."""
    recorded: dict[str, object] = yaml.safe_load((root / ANSWERS).read_text())
    return {key: value for key, value in recorded.items() if key not in {"_commit", "_src_path"}}


def differing_files(old: Path, new: Path) -> set[str]:
    """Files in one render only, or with other bytes; the answers file by its answers."""
    old_files, new_files = project_files(old), project_files(new)
    differing = old_files ^ new_files
    for name in old_files & new_files - {ANSWERS}:
        if (old / name).read_bytes() != (new / name).read_bytes():
            differing.add(name)
    if _answers(old) != _answers(new):
        differing.add(ANSWERS)
    return differing


@pytest.mark.parametrize("combination", COMBINATION_PARAMS)
def test_every_combination_renders_what_the_last_release_did(
    releases: Path, tmp_path: Path, rendered: Callable[..., Path], combination: tuple[str, ...]
) -> None:
    answers = combination_answers(combination)
    old = render_release(releases, LAST_RELEASE, tmp_path / "old", **answers)
    new = rendered(**answers)
    listed = changed_since_last_release()
    assert differing_files(old, new) - listed == set()
    new_folders = {parent.as_posix() for name in listed for parent in Path(name).parents}
    assert project_folders(old) ^ project_folders(new) <= new_folders


#: Between them, every choice of every question, so every listed file shows up.
COVERING = [
    ("small", "uv", "mlflow", "yaml", "sklearn"),
    ("large", "uv", "mlflow", "yaml", "sklearn"),
    ("large", "poetry", "wandb", "hydra", "pytorch"),
    ("large", "uv", "none", "hydra", "sklearn"),
]


def test_the_changelog_lists_only_files_that_did_change(releases: Path, tmp_path: Path) -> None:
    changed: set[str] = set()
    for combination in COVERING:
        answers = combination_answers(combination)
        name = "-".join(combination)
        old = render_release(releases, LAST_RELEASE, tmp_path / name / "old", **answers)
        changed |= differing_files(old, render(tmp_path / name / "new", **answers))
    assert changed_since_last_release() - changed == set()
