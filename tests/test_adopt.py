"""Adoption: `python -m fleet adopt` brings a repository copier-ml did not make under it.

Two kinds of repository are adopted at an older release and then updated to the newest:
one made by cookiecutter-data-science's own `ccds` command, and one made by hand (with a
uv or a Poetry pyproject). The team's files must come out byte for byte, ours beside
them where both have a file, and `copier update` must keep every team line.

The `ccds` command fetches its template from GitHub, which the suite cannot reach, and
neither its wheel nor its sdists hold the template. So `ccds_repo` writes the layout that
cookiecutter-data-science 2.3.0 documents for the options below, with short file texts of
our own, and runs ccds's own hook code (`ccds.hook_utils.dependencies`) for the dependency
list and the Python version of its pyproject.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from ccds.hook_utils import dependencies as ccds_hook
from packaging.version import Version

from fleet import adopt
from fleet.adopt_answers import MappingError, map_answers

from .helpers import (
    ANSWERS,
    TEMPLATE,
    answers,
    commit,
    git,
    release_tags,
    render_release,
    run_in,
    template_repo,
    tree,
    update,
)

pytestmark = [pytest.mark.build, pytest.mark.xdist_group("adopt")]

OLD = "v0.4.0"
BRANCH = "adopt-copier-ml"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A clone with every release tagged; its newest tag is this working tree."""
    return template_repo(tmp_path_factory.mktemp("template") / "copier-ml")


def run_adopt(template: Path, repo: Path, *args: str, retcode: int | None = 0) -> str:
    """`python -m fleet adopt` as a developer runs it; what it printed."""
    command = [sys.executable, "-m", "fleet", "adopt", "--template", str(template), *args]
    _, out, err = run_in(TEMPLATE, *command, repo, retcode=retcode)
    return out + err


def team_lines_kept(before: dict[str, bytes], after: dict[str, bytes]) -> list[str]:
    """Each team line an update lost: every file of the team must still hold all its lines."""
    lost = []
    for name, content in before.items():
        now = after.get(name, b"").decode(errors="replace").splitlines()
        lost += [f"{name}: {line}" for line in content.decode().splitlines() if line not in now]
    return lost


# The two repositories, as teams have them.


# What ccds 2.3.0 makes of project_name "churn model", author "Data Team", Python 3.12, uv,
# pyproject.toml, no docs, pytest, ruff, the code scaffold and the basic packages, MIT.
# Its pyproject before its hook adds the dependencies and requires-python.
CCDS_PYPROJECT = """\
[build-system]
requires = ["flit_core >=3.2,<4"]
build-backend = "flit_core.buildapi"

[project]
name = "churn_model"
version = "0.0.1"
description = "Which customers will leave, and why."
authors = [{ name = "Data Team" }]
license = { file = "LICENSE" }
readme = "README.md"
classifiers = ["Programming Language :: Python :: 3", "License :: OSI Approved :: MIT License"]

[tool.ruff]
line-length = 99
src = ["churn_model"]

[tool.ruff.lint.isort]
known-first-party = ["churn_model"]
"""

CCDS_FILES = {
    "pyproject.toml": CCDS_PYPROJECT,
    "LICENSE": "MIT License\n\nCopyright (c) 2025 Data Team\n",
    "Makefile": "lint:\n\truff check churn_model\n\ntest:\n\tpython -m pytest tests\n\n"
    "data:\n\tpython churn_model/dataset.py\n",
    "README.md": "# churn model\n\nWhich customers will leave, and why.\n",
    ".gitignore": "/data/\n.env\n.venv\n__pycache__/\n*.py[cod]\n.ipynb_checkpoints\n"
    ".pytest_cache/\n.ruff_cache/\n",
    **{f"{folder}/.gitkeep": "" for folder in (
        "data/external", "data/interim", "data/processed", "data/raw", "docs", "models",
        "notebooks", "references", "reports", "reports/figures")},
    "tests/test_data.py": "from churn_model import config\n\n\n"
    "def test_data_lives_in_data():\n    assert config.DATA.name == 'data'\n",
    "churn_model/__init__.py": "from churn_model import config  # noqa: F401\n",
    "churn_model/config.py": "from pathlib import Path\n\nROOT = Path(__file__).parents[1]\n"
    "DATA = ROOT / 'data'\nMODELS = ROOT / 'models'\n",
    "churn_model/dataset.py": '"""Raw data in, processed data out."""\n',
    "churn_model/features.py": '"""Features from the processed data."""\n',
    "churn_model/plots.py": '"""Figures for reports/figures."""\n',
    "churn_model/modeling/__init__.py": "",
    "churn_model/modeling/train.py": '"""Fit a model on the features; save it in models/."""\n',
    "churn_model/modeling/predict.py": '"""Predict with a model from models/."""\n',
}  # fmt: skip


def ccds_repo(dst: Path) -> Path:
    """A project as ccds 2.3.0 makes it, with a team's work on it, committed."""
    repo = dst / "churn_model"
    for name, text in CCDS_FILES.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    # As ccds's post-generation hook does for these options, with its own code and lists.
    with contextlib.chdir(repo):
        ccds_hook.write_dependencies(
            "pyproject.toml",
            ccds_hook.packages + ccds_hook.scaffold + ccds_hook.basic + ccds_hook.ruff
            + ["pytest"],
            ["awscli", "python-dotenv"],
            repo_name="churn_model",
            module_name="churn_model",
            python_version="3.12",
            environment_manager="uv",
            description="Which customers will leave, and why.",
        )  # fmt: skip
        ccds_hook.write_python_version("3.12")
    with (repo / "churn_model" / "features.py").open("a") as features:
        features.write("\n\ndef tenure_bucket(months: int) -> str:\n    return 'long'\n")
    (repo / "churn_model" / "segments.py").write_text("SEGMENTS = ['retail', 'business']\n")
    (repo / "notebooks" / "team-eda.ipynb").write_text('{"cells": [], "nbformat": 4}\n')
    (repo / "references" / "glossary.md").write_text("churn: a customer who left\n")
    git("-C", repo, "init", "--quiet", "--initial-branch=main")
    commit(repo, "feat: the team's churn work")
    return repo


HAND_PYPROJECT = {
    "uv": """\
[project]
name = "acme-forecast"
version = "1.4.0"
description = "Demand forecasts for the stores."
authors = [{ name = "Forecasting Team", email = "forecast@acme.example" }]
requires-python = ">=3.12"
dependencies = ["pandas>=2.2"]

[tool.uv]
package = true
""",
    "poetry": """\
[tool.poetry]
name = "acme-forecast"
version = "1.4.0"
description = "Demand forecasts for the stores."
authors = ["Forecasting Team <forecast@acme.example>"]
packages = [{ include = "acme_forecast", from = "src" }]

[tool.poetry.dependencies]
python = "^3.10"
pandas = "^2.2"
""",
}


def hand_repo(dst: Path, manager: str) -> Path:
    """A repository made by hand: a pyproject, a src package, a test, README, Makefile."""
    repo = dst / "acme-forecast"
    files = {
        "pyproject.toml": HAND_PYPROJECT[manager],
        "src/acme_forecast/__init__.py": '"""Acme forecasts."""\n__version__ = "1.4.0"\n',
        "src/acme_forecast/core.py": "def forecast(history):\n    return history[-1]\n",
        "tests/test_core.py": "from acme_forecast.core import forecast\n\n\n"
        "def test_forecast():\n    assert forecast([1, 2]) == 2\n",
        "README.md": "# Acme forecast\n\nOur demand forecasts.\n",
        "Makefile": "test:\n\tpytest\n",
        ".gitignore": "/data/\n/models/\n.venv/\n",
    }
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git("-C", repo, "init", "--quiet", "--initial-branch=main")
    commit(repo, "feat: forecasts")
    return repo


# Each adopted at the older release, then updated to the newest.


class Adopted:
    """A repository adopted at OLD: what it held before, and what adoption printed."""

    def __init__(self, template: Path, repo: Path, manager: str) -> None:
        self.template, self.repo, self.manager = template, repo, manager
        self.before = tree(repo)
        self.log = run_adopt(template, repo, "--vcs-ref", OLD)

    def render(self, ref: str, dst: Path) -> Path:
        """A release rendered afresh with the recorded answers."""
        recorded = {k: v for k, v in answers(self.repo).items() if not k.startswith("_")}
        return render_release(self.template, ref, dst, **recorded)

    def updated(self, dst: Path, newest: str) -> Path:
        """A copy of the adopted repository, its branch updated to the newest release."""
        copy = shutil.copytree(self.repo, dst)
        update(copy, "-r", newest)
        return copy


@pytest.fixture(scope="module")
def adoptions(
    template: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Adopted]:
    """Each kind of repository made and adopted once: ccds, hand-uv or hand-poetry."""
    done: dict[str, Adopted] = {}

    def adoption(kind: str) -> Adopted:
        if kind not in done:
            dst = tmp_path_factory.mktemp(kind)
            manager = kind.removeprefix("hand-")
            repo = ccds_repo(dst) if kind == "ccds" else hand_repo(dst, manager)
            done[kind] = Adopted(template[0], repo, "uv" if kind == "ccds" else manager)
        return done[kind]

    return adoption


@pytest.fixture(scope="module")
def ccds(adoptions: Callable[[str], Adopted]) -> Adopted:
    return adoptions("ccds")


@pytest.fixture(scope="module", params=["hand-uv", "hand-poetry"])
def hand(request: pytest.FixtureRequest, adoptions: Callable[[str], Adopted]) -> Adopted:
    return adoptions(request.param)


@pytest.fixture(scope="module", params=["ccds", "hand-uv", "hand-poetry"])
def adopted(request: pytest.FixtureRequest, adoptions: Callable[[str], Adopted]) -> Adopted:
    """Each kind of repository, adopted."""
    return adoptions(request.param)


@pytest.fixture(scope="module")
def ours(adopted: Adopted, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release adopted, as copier renders it with the answers recorded."""
    return adopted.render(OLD, tmp_path_factory.mktemp("ours") / "project")


@pytest.fixture(scope="module")
def newest(
    adopted: Adopted, template: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The newest release, as copier renders it with the answers recorded."""
    return adopted.render(template[1], tmp_path_factory.mktemp("newest") / "project")


@pytest.fixture(scope="module")
def updated(
    adopted: Adopted, template: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return adopted.updated(tmp_path_factory.mktemp("updated") / "repo", template[1])


def test_adoption_commits_on_a_new_branch_and_leaves_main_as_it_was(adopted: Adopted) -> None:
    repo = adopted.repo
    assert git("-C", repo, "branch", "--show-current").strip() == BRANCH
    assert git("-C", repo, "rev-list", "--count", f"main..{BRANCH}").strip() == "1"
    assert git("-C", repo, "status", "--porcelain").strip() == ""
    assert not git("-C", repo, "ls-tree", "-r", "--name-only", "main", ANSWERS).strip()


def test_every_team_file_is_byte_identical_after_adoption(adopted: Adopted) -> None:
    after = tree(adopted.repo)
    assert {name: after.get(name) for name in adopted.before} == adopted.before


def test_each_clash_keeps_the_team_file_and_puts_ours_beside_it(
    adopted: Adopted, ours: Path
) -> None:
    clashes = {name for name in tree(ours) if name in adopted.before}
    differing = {name for name in clashes if adopted.before[name] != (ours / name).read_bytes()}
    assert {"pyproject.toml", "README.md", "Makefile", ".gitignore"} <= differing
    for name in differing:
        beside = adopted.repo / f"{name}.from-template"
        assert beside.read_bytes() == (ours / name).read_bytes(), name
        assert f"{name} -> {name}.from-template" in adopted.log
    for name in clashes - differing:
        assert not (adopted.repo / f"{name}.from-template").exists()


def test_our_files_the_team_lacks_are_added_and_committed(adopted: Adopted, ours: Path) -> None:
    tracked = set(git("-C", adopted.repo, "ls-files").split())
    ignored = set(git("-C", adopted.repo, "ls-files", "--others", "--ignored",
                      "--exclude-standard").split())  # fmt: skip
    new = set(tree(ours)) - set(adopted.before)
    package = answers(adopted.repo)["package_name"]
    assert {f"src/{package}/models/train.py", ".github/workflows/ci.yml"} <= new
    for name in new:
        assert (adopted.repo / name).read_bytes() == (ours / name).read_bytes(), name
        assert name in tracked or name in ignored and f"  {name}\n" in adopted.log, name


def test_the_answers_record_the_release_and_the_template(adopted: Adopted) -> None:
    recorded = answers(adopted.repo)
    assert recorded["_commit"] == OLD
    assert recorded["_src_path"] == str(adopted.template)
    assert git("-C", adopted.repo, "ls-files", ANSWERS).strip() == ANSWERS


def test_ccds_answers_come_from_its_pyproject_and_module(ccds: Adopted) -> None:
    recorded = answers(ccds.repo)
    assert {k: recorded[k] for k in ("project_name", "project_slug", "package_name")} == {
        "project_name": "churn_model",
        "project_slug": "churn-model",
        "package_name": "churn_model",
    }
    assert recorded["python_version"] == "3.12"  # requires-python = "~=3.12.0"
    assert recorded["package_manager"] == "uv"
    assert recorded["author_name"] == "Data Team"
    assert recorded["license"] == "MIT"
    assert "[project].requires-python '~=3.12.0'" in ccds.log


def test_hand_made_answers_come_from_its_pyproject(hand: Adopted) -> None:
    recorded = answers(hand.repo)
    poetry = hand.manager == "poetry"
    assert recorded["project_slug"] == "acme-forecast"
    assert recorded["package_name"] == "acme_forecast"
    assert recorded["python_version"] == ("3.10" if poetry else "3.12")
    assert recorded["package_manager"] == ("poetry" if poetry else "uv")
    assert recorded["author_email"] == "forecast@acme.example"
    assert recorded["description"] == "Demand forecasts for the stores."


def test_ours_that_the_team_gitignore_ignores_are_named_and_not_committed(hand: Adopted) -> None:
    listed = hand.log.split("not committed")[1]
    assert "  data/raw/.gitkeep\n" in listed and "  models/.gitkeep\n" in listed
    tracked = git("-C", hand.repo, "ls-files", "data", "models").split()
    assert tracked == []
    assert (hand.repo / "data" / "raw" / ".gitkeep").is_file()


def test_the_output_ends_with_the_steps_to_a_pull_request(adopted: Adopted) -> None:
    steps = adopted.log.split("Next steps:")[1]
    assert "git rm <path>.from-template" in steps
    assert f"push {BRANCH} and open a pull request" in steps
    assert "copier update --trust --skip-answered" in steps


def test_a_later_update_records_the_newest_release(
    updated: Path, template: tuple[Path, str]
) -> None:
    assert answers(updated)["_commit"] == template[1]


def test_a_later_update_keeps_every_team_line(adopted: Adopted, updated: Path) -> None:
    assert team_lines_kept(adopted.before, tree(updated)) == []


def test_a_later_update_leaves_files_no_release_generates_as_they_were(
    adopted: Adopted, updated: Path, ours: Path, newest: Path
) -> None:
    generated = set(tree(ours)) | set(tree(newest))
    team_only = {name: content for name, content in adopted.before.items()
                 if name not in generated}  # fmt: skip
    after = tree(updated)
    assert team_only and {name: after.get(name) for name in team_only} == team_only


def test_a_later_update_brings_the_newest_release_into_files_only_we_had(
    adopted: Adopted, updated: Path, ours: Path, newest: Path
) -> None:
    after = tree(updated)
    ours_alone = set(tree(ours)) & set(tree(newest)) - set(adopted.before)
    assert ours_alone
    assert {name: after.get(name) for name in ours_alone} == {
        name: (newest / name).read_bytes() for name in ours_alone
    }


# Refusals: one line naming the repository, nothing changed.


def state(repo: Path) -> tuple[str, str, dict[str, bytes]]:
    return (
        git("-C", repo, "rev-parse", "HEAD"),
        git("-C", repo, "branch", "--list"),
        tree(repo),
    )


def _refused(
    template: Path,
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    *args: str,
) -> str:
    before = state(repo)
    status = adopt.main(["--template", str(template), "--vcs-ref", OLD, *args, str(repo)])
    err = capsys.readouterr().err
    assert status == 1
    assert state(repo) == before
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    return err


@pytest.fixture
def plain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in ("NAME", "EMAIL"):
        for who in ("AUTHOR", "COMMITTER"):
            monkeypatch.setenv(f"GIT_{who}_{key}", "Test" if key == "NAME" else "t@example.com")
    return hand_repo(tmp_path, "uv")


def test_a_dirty_repository_is_refused(
    template: tuple[Path, str], plain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (plain / "README.md").write_text("# changed\n")
    (plain / "notes.txt").write_text("untracked\n")
    err = _refused(template[0], plain, capsys)
    assert str(plain) in err and "uncommitted or untracked changes" in err


def test_a_repository_with_an_answers_file_is_refused(
    template: tuple[Path, str], plain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (plain / ANSWERS).write_text("_commit: v0.1.0\n")
    commit(plain, "chore: under another template")
    err = _refused(template[0], plain, capsys)
    assert str(plain) in err and ANSWERS in err


def test_a_folder_that_is_not_a_git_repository_is_refused(
    template: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "main.py").write_text("print('hi')\n")
    status = adopt.main(["--template", str(template[0]), str(tmp_path / "loose")])
    err = capsys.readouterr().err
    assert status == 1 and "not a git repository" in err and str(tmp_path / "loose") in err
    assert sorted(p.name for p in (tmp_path / "loose").iterdir()) == ["main.py"]


def test_an_unsupported_python_version_is_refused_naming_how_to_choose(
    template: tuple[Path, str], plain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pyproject = plain / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(">=3.12", ">=3.8"))
    commit(plain, "build: support older Pythons")
    err = _refused(template[0], plain, capsys)
    assert "python_version: '3.8'" in err and "requires-python '>=3.8'" in err
    assert "--data python_version=3.11" in err


def test_data_chooses_over_what_the_repository_says(
    template: tuple[Path, str], plain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--data", "python_version=3.13", "--data", "project_name=Acme Forecast"]
    assert adopt.main(["--template", str(template[0]), "--vcs-ref", OLD, *args, str(plain)]) == 0
    recorded = answers(plain)
    assert recorded["python_version"] == "3.13" and recorded["project_name"] == "Acme Forecast"
    assert re.search(r"^python_version +3\.13 +--data$", capsys.readouterr().out, re.M)


def test_a_copier_validation_error_is_copiers_message_and_nothing_is_written(
    template: tuple[Path, str], plain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _refused(template[0], plain, capsys, "--data", "package_name=data")
    assert "copier: Validation error for question 'package_name'" in err
    assert "--data package_name=VALUE" in err


def test_a_failure_after_the_branch_puts_the_repository_back(
    template: tuple[Path, str],
    plain: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def check_ignore_fails(repo: Path, paths: list[str]) -> list[str]:
        assert (repo / ANSWERS).is_file() and paths  # our files are written by now
        raise adopt.AdoptError("git check-ignore failed: injected")

    monkeypatch.setattr(adopt, "_ignored", check_ignore_fails)
    err = _refused(template[0], plain, capsys)
    assert f"injected; {plain} is as it was: back on main, branch {BRANCH} deleted" in err


def test_dry_run_prints_the_mapping_and_plan_and_writes_nothing(
    template: tuple[Path, str], plain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = state(plain)
    assert adopt.main(["--template", str(template[0]), "--dry-run", str(plain)]) == 0
    out = capsys.readouterr().out
    assert state(plain) == before
    released = [tag for tag in release_tags(template[0]) if not Version(tag).is_prerelease]
    assert f"Dry run of copier-ml {released[-1]} from {template[0]}" in out
    assert re.search(r"^package_name +acme_forecast +the package src/acme_forecast/$", out, re.M)
    assert "README.md -> README.md.from-template" in out


# The mapping alone, from what each kind of pyproject says.


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.10,<3.14"\n'},
         {"python_version": "3.10"}),
        ({"pyproject.toml": '[project]\nname = "x"\nrequires-python = "==3.13.*"\n'},
         {"python_version": "3.13"}),
        ({"pyproject.toml": '[tool.poetry]\nname = "x"\n[tool.poetry.dependencies]\n'
                            'python = "~3.11"\n'},
         {"python_version": "3.11", "package_manager": "poetry"}),
        ({".python-version": "3.12.4\n", "uv.lock": "version = 1\n"},
         {"python_version": "3.12", "package_manager": "uv"}),
        ({"pyproject.toml": '[project]\nname = "x"\n', "poetry.lock": "\n"},
         {"package_manager": "poetry"}),
        ({"pyproject.toml": '[project]\nname = "core"\n[tool.flit.module]\nname = "core_lib"\n',
          "core_lib/__init__.py": "", "tools/__init__.py": ""},
         {"package_name": "core_lib"}),
        ({"src/sales/__init__.py": "", "tests/__init__.py": ""},
         {"project_name": "Sales-Model", "project_slug": "sales-model", "package_name": "sales"}),
        ({"pyproject.toml": '[tool.poetry]\nname = "Demand Planner"\n'
                            'authors = ["Ops <ops@acme.example>"]\n'},
         {"project_slug": "demand-planner", "package_name": "demand_planner",
          "author_name": "Ops", "author_email": "ops@acme.example"}),
    ],
    ids=["range", "star", "poetry-tilde", "python-version-file", "poetry-lock", "flit-module",
         "folder-name", "poetry-authors"],
)  # fmt: skip
def test_the_mapping_reads_what_the_repository_says(
    tmp_path: Path, files: dict[str, str], expected: dict[str, str]
) -> None:
    repo = tmp_path / "Sales-Model"
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git("-C", repo, "init", "--quiet")
    git("-C", repo, "add", "--all")
    found = map_answers(repo)
    assert {name: found[name].value for name in expected} == expected


def test_a_broken_pyproject_is_refused_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\nname = 'x'\n")
    git("-C", tmp_path, "init", "--quiet")
    with pytest.raises(MappingError, match=re.escape(str(tmp_path / "pyproject.toml"))):
        map_answers(tmp_path)
