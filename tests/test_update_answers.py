"""What `copier update` does with answers it cannot use: it refuses them, by name, before
anything changes, or takes the repair given with `--data`.

copier renders the project's recorded release with the recorded answers first, with that
release's code; a hand-broken answer used to end there in a traceback that `--data` could
not help. The new release's `_message_before_update` runs before that render
(extensions/answers.py): these tests drive copier's command line against a clone of this
repository whose newest tag is the working tree, updating a project of the newest real
release, as a team would.
"""

from __future__ import annotations

import os
import re
import shutil
import tomllib
from pathlib import Path

import pexpect
import pytest
import yaml

from . import helpers
from .helpers import (
    ANSWERS,
    PROJECT_ENV,
    TOOLS,
    answers,
    commit,
    generate,
    load_extension,
    recorded_releases,
    run_in,
    template_repo,
    tree,
)

TRACEBACK = "Traceback (most recent call last)"
#: Where the `before` migration saves what an update could lose (extensions/keep_team_work.py).
SAVED = ".git/copier-ml-update"
UPDATE = ["update", "--trust", "--defaults", "--skip-answered"]
QUESTIONS = {
    name: spec
    for name, spec in yaml.safe_load((Path(__file__).parents[1] / "copier.yml").read_text()).items()
    if not name.startswith("_")
}
features = load_extension("features")


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This repository's releases, the working tree as the newest; shared, never changed."""
    return template_repo(tmp_path_factory.mktemp("releases") / "copier-ml")


@pytest.fixture(scope="module")
def generated(releases: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A medium project of the newest real release, committed; tests change copies of it."""
    template, _ = releases
    old = list(recorded_releases())[-1]
    return generate(template, old, tmp_path_factory.mktemp("generated") / "project")


@pytest.fixture(scope="module")
def fresh(releases: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A medium project of the newest release, as a copy makes it."""
    template, newest = releases
    return generate(template, newest, tmp_path_factory.mktemp("fresh") / "project")


@pytest.fixture
def project(generated: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(generated, tmp_path / "project", symlinks=True))


def copier(project: Path, *args: str) -> tuple[int, str]:
    """The copier command line, run in a project, stdin closed as in CI: status and output."""
    code, out, err = helpers.copier(project, *args, retcode=None)
    return code, out + err


def update(project: Path, releases: tuple[Path, str], *args: str) -> tuple[int, str]:
    """`copier update` to the newest release, with the recorded answers and these options."""
    return copier(project, *UPDATE, "-r", releases[1], *args)


def snapshot(project: Path) -> tuple[dict[str, bytes], str, str, bool]:
    """All a refused update could change: every file, git's status and HEAD, saved state."""
    files = {
        path.relative_to(project).as_posix(): path.read_bytes()
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(project).parts
    }
    status = run_in(project, "git", "status", "--porcelain")[1]
    head = run_in(project, "git", "rev-parse", "HEAD")[1]
    return files, status, head, (project / SAVED).exists()


def refused(project: Path, releases: tuple[Path, str], *args: str) -> str:
    """Run an update that must be refused: a message, status 1, nothing changed; the output."""
    before = snapshot(project)
    code, output = update(project, releases, *args)
    assert code == 1, output
    assert TRACEBACK not in output
    assert snapshot(project) == before
    assert before[1] == "" and before[3] is False  # clean, and nothing saved in .git
    return output


def set_answer(project: Path, key: str, value: str) -> None:
    """Edit one answer in the answers file by hand, as a team does by mistake, and commit."""
    path = project / ANSWERS
    text, count = re.subn(rf"^{key}:.*$", f"{key}: {value}", path.read_text(), flags=re.M)
    assert count == 1, key
    path.write_text(text)
    commit(project, f"chore: edit {key} by hand")


# 1. A hand-broken answer is refused, naming the file, the key, the value and the choices.

BROKEN_CHOICES = [
    ("tier", "huge"),
    ("package_manager", "pip"),
    ("experiment_tracker", "neptune"),
    ("python_version", "'2.7'"),
]


def choices_of(question: str) -> list[str]:
    choices = QUESTIONS[question]["choices"]
    return [str(value) for value in (choices.values() if isinstance(choices, dict) else choices)]


@pytest.mark.parametrize(("key", "value"), BROKEN_CHOICES, ids=[k for k, _ in BROKEN_CHOICES])
def test_a_hand_broken_choice_is_refused_naming_file_key_value_and_choices(
    project: Path, releases: tuple[Path, str], key: str, value: str
) -> None:
    set_answer(project, key, value)
    output = refused(project, releases)
    shown = repr(yaml.safe_load(value))
    assert f"{ANSWERS}: {key}: {shown} is not one of its choices: " in output
    assert ", ".join(choices_of(key)) in output
    assert f"--data {key}=" in output


@pytest.mark.parametrize("key", ["include_features", "exclude_features"])
def test_a_feature_that_does_not_exist_is_refused_naming_the_features_to_choose_from(
    project: Path, releases: tuple[Path, str], key: str
) -> None:
    set_answer(project, key, "[notebooks_v2]")
    output = refused(project, releases)
    line = f"{ANSWERS}: {key}: 'notebooks_v2' is not one of its choices: "
    assert line in output
    offered = output.split(line)[1].splitlines()[0].split(", ")
    assert set(offered) == set(features.feature_choices("medium", key.split("_")[0]).values())


def test_a_hand_broken_answer_its_validator_refuses_is_refused_with_the_reason(
    project: Path, releases: tuple[Path, str]
) -> None:
    set_answer(project, "project_slug", "Churn Model")
    output = refused(project, releases)
    assert f"{ANSWERS}: project_slug: 'Churn Model': " in output
    assert "must be lowercase letters and digits in dash-separated words" in output


def test_a_repair_value_that_is_no_better_is_refused_naming_data(
    project: Path, releases: tuple[Path, str]
) -> None:
    set_answer(project, "tier", "huge")
    output = refused(project, releases, "-d", "tier=giant")
    assert "--data: tier: 'giant' is not one of its choices: small, medium, large" in output


# 2. `--data` repairs it: the update then equals a fresh copy with the repaired answer.


@pytest.mark.parametrize(
    ("key", "broken", "repair"),
    [("tier", "huge", "medium"), ("include_features", "[notebooks_v2]", "[]")],
    ids=["tier", "include_features"],
)
def test_update_with_d_repairs_a_broken_answer(
    project: Path, releases: tuple[Path, str], fresh: Path, key: str, broken: str, repair: str
) -> None:
    set_answer(project, key, broken)
    code, output = update(project, releases, "-d", f"{key}={repair}")
    assert code == 0, output
    assert f"Repaired {key} in {ANSWERS}" in output
    assert answers(project)[key] == yaml.safe_load(repair)
    assert answers(project) == answers(fresh)
    assert tree(project) == tree(fresh)


# 3. With --quiet copier renders nothing of the new release before the recorded one, so the
# refusal is copier 9.19's own traceback (exit 1, nothing changed), and --data cannot repair.


def test_with_quiet_a_broken_answer_ends_in_copiers_traceback_naming_it(
    project: Path, releases: tuple[Path, str]
) -> None:
    """copier 9.19 skips `_message_before_update` under --quiet and then renders the recorded
    release with the recorded answers; --data is not among them, so it repairs nothing."""
    set_answer(project, "tier", "huge")
    before = snapshot(project)
    code, output = update(project, releases, "--quiet", "-d", "tier=medium")
    assert code == 1
    assert TRACEBACK in output  # copier 9.19; a copier that says it plainly fails this pin
    assert "Invalid choice for 'tier': 'huge' is not in ['small', 'medium', 'large']" in output
    assert snapshot(project) == before


# 4. A new package name is refused: the package folder holds the team's code.


def test_changing_package_name_is_refused_before_anything_changes(
    project: Path, releases: tuple[Path, str]
) -> None:
    output = refused(project, releases, "-d", "package_name=churn")
    assert "package_name: the project's package is 'ml_project'" in output
    assert "this update asks for 'churn'" in output
    assert "git mv src/ml_project src/churn" in output
    assert "copier update --data package_name=churn" in output


def test_with_quiet_a_package_rename_is_refused_before_any_file_is_written(
    project: Path, releases: tuple[Path, str]
) -> None:
    """Refused by the context hook once copier starts writing the new release, after the
    `before` migration; the update guard then removes what that migration saved."""
    before = snapshot(project)
    code, output = update(project, releases, "--quiet", "-d", "package_name=churn")
    assert code == 1, output
    assert TRACEBACK not in output
    assert "package_name: the project's package is 'ml_project'" in output
    assert snapshot(project) == before


def test_a_new_package_name_typed_at_the_update_prompt_is_refused(
    project: Path, releases: tuple[Path, str], fresh: Path
) -> None:
    """Asked every question (no --defaults), a person types a new name: the prompt refuses
    it and stays; the recorded name typed back, the update finishes as usual."""
    child = pexpect.spawn(
        str(TOOLS / "copier"),
        ["update", "--trust", "-r", releases[1]],
        cwd=str(project),
        env={**os.environ, **PROJECT_ENV, "TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1"},
        dimensions=(50, 200),
        encoding="utf-8",
        timeout=60,
    )
    try:
        for question in QUESTIONS:
            if question in {"cloud_provider", "dvc_remote", "dvc_remote_url", "torch_backend",
                            "torch_index_url"}:  # fmt: skip
                continue  # not asked of a medium project
            child.expect_exact(QUESTIONS[question]["help"].splitlines()[0])
            if question == "package_name":
                child.send("\x15churn\r")  # Ctrl-U clears the recorded name first
                child.expect_exact(
                    "Validation error for question 'package_name': "
                    "'ml_project' is this project's package: an update does not rename it"
                )
                child.send("\x15ml_project")
            child.send("\r")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, child.before
    assert not (project / "src/churn").exists()
    assert answers(project)["package_name"] == "ml_project"
    assert tree(project) == tree(fresh)


def test_the_manual_rename_route_updates_cleanly(
    project: Path, releases: tuple[Path, str], tmp_path: Path
) -> None:
    """The route the refusal gives: git mv, the old name replaced everywhere but the answers
    file, commit, then the update with --data: it arrives where a fresh copy under the new
    name would, with the team's work."""
    train = project / "src/ml_project/models/train.py"
    train.write_text(train.read_text() + "\n\nTEAM_SEED = 7\n")
    commit(project, "feat: our seed")
    run_in(project, "git", "mv", "src/ml_project", "src/churn")
    mentions = run_in(project, "git", "grep", "-lw", "ml_project", "--", f":!{ANSWERS}")[1]
    for name in mentions.split():
        path = project / name
        path.write_text(re.sub(r"\bml_project\b", "churn", path.read_text()))
    commit(project, "refactor: rename the package to churn")

    code, output = update(project, releases, "-d", "package_name=churn")
    assert code == 0, output
    template, newest = releases
    fresh = generate(template, newest, tmp_path / "fresh", package_name="churn")
    renamed, expected = tree(project), tree(fresh)
    assert renamed.pop("src/churn/models/train.py") == (
        expected.pop("src/churn/models/train.py") + b"\n\nTEAM_SEED = 7\n"
    )
    assert renamed == expected
    assert answers(project) == answers(fresh)


# 5. A PyTorch project from before torch_backend keeps where its torch came from.

#: The newest release without the torch_backend question (v0.7.0 brought it).
BEFORE_TORCH_BACKEND = "v0.6.0"

#: A recorded torch_index_url, the build it records for torch_backend, and the index
#: pyproject.toml names after the update.
RECORDED_TORCH_SOURCES = [
    ("/srv/wheels", "cpu", {"name": "pytorch", "url": "/srv/wheels", "format": "flat",
                            "explicit": True}),  # fmt: skip
    ("https://download.pytorch.org/whl/cu126", "cu126",
     {"name": "pytorch", "url": "https://download.pytorch.org/whl/cu126", "explicit": True}),
    ("", "cpu",
     {"name": "pytorch-cpu", "url": "https://download.pytorch.org/whl/cpu", "explicit": True}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("recorded", "backend", "index"), RECORDED_TORCH_SOURCES, ids=["folder", "cuda-index", "empty"]
)
def test_an_update_keeps_the_recorded_torch_source_and_records_its_build(
    releases: tuple[Path, str], tmp_path: Path, recorded: str, backend: str, index: dict
) -> None:
    template, _ = releases
    project = generate(template, BEFORE_TORCH_BACKEND, tmp_path / "project", ml_framework="pytorch",
                       torch_index_url=recorded)  # fmt: skip
    assert "torch_backend" not in answers(project)
    code, output = update(project, releases)
    assert code == 0, output
    assert answers(project)["torch_backend"] == backend
    assert answers(project)["torch_index_url"] == recorded
    tool = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["uv"]
    assert tool["index"] == [index]
    assert tool["sources"]["torch"] == {"index": index["name"]}
