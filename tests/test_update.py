"""The answers file lets `copier update` re-render a project from its recorded answers."""

from __future__ import annotations

from pathlib import Path

from copier import run_copy, run_update
from plumbum import local

from .helpers import PROJECT_ENV, project_files, run_in, template_release


def _generated(tmp_path: Path, **answers: object) -> Path:
    release = template_release(tmp_path / "template")
    dst = tmp_path / "project"
    run_copy(str(release), dst, data=answers, defaults=True, unsafe=True, quiet=True)
    run_in(dst, "git", "init", "--quiet")
    run_in(dst, "git", "add", "--all")
    run_in(dst, "git", "commit", "--quiet", "--message", "chore: generate")
    return dst


def _update(dst: Path, **answers: object) -> None:
    with local.env(**PROJECT_ENV):
        run_update(dst, data=answers, defaults=True, overwrite=True, unsafe=True, quiet=True)


def test_update_of_an_untouched_project_changes_nothing(tmp_path: Path) -> None:
    dst = _generated(tmp_path)
    assert "src/ml_project/models/train.py" in project_files(dst)
    _update(dst)
    _, status, _ = run_in(dst, "git", "status", "--porcelain")
    assert status == ""


def test_features_follow_answers_changed_on_update(tmp_path: Path) -> None:
    dst = _generated(tmp_path, exclude_features=["ci"])
    assert ".github/workflows/ci.yml" not in project_files(dst)
    _update(dst, exclude_features=[])
    assert ".github/workflows/ci.yml" in project_files(dst)
