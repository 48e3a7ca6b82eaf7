"""The oldest copier that copier.yml admits does everything we document, as the newest does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from packaging.version import Version

from .helpers import TEMPLATE, load_extension, project_files, render, run_in, template_repo, tool

#: copier.yml states it; everything else must agree.
MIN_VERSION = yaml.safe_load((TEMPLATE / "copier.yml").read_text())["_min_copier_version"]
#: Where a version of copier is stated for users, maintainers or the generated projects.
STATED = re.compile(r"copier>=([0-9][0-9.]*)|Copier version >= ([0-9.]+)|\(([0-9.]+) today\)")
#: Every copier command the READMEs and docs tell a team or a platform team to run.
DOCUMENTED_COMMANDS = ["copy", "update", "recopy", "check-update"]


def test_the_min_copier_version_is_stated_the_same_everywhere() -> None:
    documents = ["README.md", "pyproject.toml", "docs/org-rollout.md", "docs/updating.md"]
    stated = {
        (name, next(filter(None, match.groups())))
        for name in documents
        for match in STATED.finditer((TEMPLATE / name).read_text(encoding="utf-8"))
    }
    assert {name for name, _ in stated} >= {"README.md", "pyproject.toml"}
    assert {
        (name, version) for name, version in stated if Version(version) != Version(MIN_VERSION)
    } == set()


def test_generated_projects_ask_for_the_min_copier_version() -> None:
    dependencies = load_extension("dependencies")
    assert dependencies.COPIER[0].requirement == f"copier>={MIN_VERSION}"


@pytest.fixture(scope="module")
def old_copier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("old-copier") / "venv"
    tool("uv")("venv", "--quiet", "--python", "3.11", venv)
    tool("uv")(
        "pip",
        "install",
        "--quiet",
        "--python",
        venv / "bin" / "python",
        f"copier=={MIN_VERSION}",
        "copier-template-extensions",
    )
    return venv / "bin" / "copier"


@pytest.mark.build
@pytest.mark.parametrize("tier", ["small", "medium"])
def test_min_copier_version_renders_what_the_newest_does(
    old_copier: Path, tmp_path: Path, tier: str
) -> None:
    old = tmp_path / "old"
    args = ["copy", "--quiet", "--trust", "--defaults", "--vcs-ref", "HEAD", "-d", f"tier={tier}"]
    run_in(tmp_path, old_copier, *args, TEMPLATE, old)
    new = render(tmp_path / "new", tier=tier)

    assert project_files(old) == project_files(new)
    differing = {n for n in project_files(new) if (old / n).read_bytes() != (new / n).read_bytes()}
    assert differing <= {".copier-answers.yml"}  # its _commit differs for a draft template


@pytest.mark.build
@pytest.mark.parametrize("command", DOCUMENTED_COMMANDS)
def test_min_copier_has_every_documented_command(old_copier: Path, command: str) -> None:
    code, _, _ = run_in(old_copier.parent, old_copier, command, "--help", retcode=None)
    assert code == 0


@pytest.mark.build
def test_min_copier_runs_our_migrations(old_copier: Path, tmp_path: Path) -> None:
    """The move migration needs copier's `_copier_python` and `_version_from`."""
    template, newest = template_repo(tmp_path / "copier-ml")
    project = tmp_path / "project"
    run_in(tmp_path, old_copier, "copy", "--quiet", "--trust", "--defaults", "-r", "v0.1.0",
           template, project)  # fmt: skip
    ours = "    assert raw.shape == (178, 14)  # our team's check\n"
    test_data = project / "tests/test_data.py"
    test_data.write_text(test_data.read_text().replace("    assert raw.shape == (178, 14)\n", ours))
    run_in(project, "git", "init", "--quiet")
    run_in(project, "git", "add", "--all")
    run_in(project, "git", "commit", "--quiet", "-m", "test: our check")
    run_in(project, old_copier, "update", "--trust", "--defaults", "--skip-answered", "-r", newest)
    assert ours in (project / "tests/unit/test_data.py").read_text()
