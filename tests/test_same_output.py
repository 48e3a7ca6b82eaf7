"""Every combination renders what the last release rendered, but for the files the
changelog says this version changes: a refactor of the template changes no project.

And what a release changes is safe to update to: a path the last release generated
disappears only with a recorded move or removal (extensions/moves.py), and no new path
is one the last release's .gitignore ignores (a developer's own file could be there)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from pathspec import GitIgnoreSpec

from .helpers import (
    COMBINATION_PARAMS,
    changed_since_last_release,
    combination_answers,
    load_extension,
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


@pytest.fixture(scope="module")
def last_release(releases: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """The last release's render of these answers, once per module: read, never change it."""
    done: dict[str, Path] = {}

    def render_once(**answers: str) -> Path:
        key = repr(sorted(answers.items()))
        if key not in done:
            dst = tmp_path_factory.mktemp("last-release") / "project"
            done[key] = render_release(releases, LAST_RELEASE, dst, **answers)
        return done[key]

    return render_once


def unrecorded_disappearances(old: set[str], new: set[str], since: str) -> set[str]:
    """Paths of ``old`` missing from ``new`` that no release after ``since`` moved or removed."""
    moves = load_extension("moves")
    later = "999999"  # every release recorded after ``since``: the one being built
    recorded = set(moves.moves_between(since, later, "ml_project"))
    return old - new - recorded - moves.removed_between(since, later, "ml_project")


def newly_ignored(old: Path, new: set[str]) -> set[str]:
    """Paths ``new`` generates that ``old`` did not and that its .gitignore ignores."""
    ignored = GitIgnoreSpec.from_lines((old / ".gitignore").read_text().splitlines())
    return {name for name in new - project_files(old) if ignored.match_file(name)}


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
    last_release: Callable[..., Path], rendered: Callable[..., Path], combination: tuple[str, ...]
) -> None:
    answers = combination_answers(combination)
    old, new = last_release(**answers), rendered(**answers)
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


@pytest.mark.parametrize("combination", COMBINATION_PARAMS)
def test_no_path_of_the_last_release_disappears_without_a_recorded_move(
    last_release: Callable[..., Path], rendered: Callable[..., Path], combination: tuple[str, ...]
) -> None:
    answers = combination_answers(combination)
    old, new = project_files(last_release(**answers)), project_files(rendered(**answers))
    assert unrecorded_disappearances(old, new, LAST_RELEASE[1:]) == set()


def test_a_path_gone_without_a_record_is_caught() -> None:
    old = {"README.md", "tests/test_data.py", "notes/ideas.md"}
    new = {"README.md", "tests/unit/test_data.py"}
    assert unrecorded_disappearances(old, new, "0.1.0") == {"notes/ideas.md"}  # 0.2.0 moved one
    assert unrecorded_disappearances(old, new, "0.2.0") == {"tests/test_data.py", "notes/ideas.md"}


@pytest.mark.parametrize("combination", COMBINATION_PARAMS)
def test_no_new_path_is_one_the_last_releases_gitignore_ignores(
    last_release: Callable[..., Path], rendered: Callable[..., Path], combination: tuple[str, ...]
) -> None:
    answers = combination_answers(combination)
    assert newly_ignored(last_release(**answers), project_files(rendered(**answers))) == set()


def test_a_new_path_the_last_release_ignored_is_caught(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text(".vscode/\ndata/raw/*\n!data/raw/.gitkeep\n")
    new = {".gitignore", ".vscode/settings.json", "data/raw/.gitkeep", "data/raw/sample.csv"}
    assert newly_ignored(tmp_path, new) == {".vscode/settings.json", "data/raw/sample.csv"}
