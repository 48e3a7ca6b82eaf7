"""When `copier update` cannot update, it says why, exits non-zero and loses nothing.

Each test breaks a committed project the way a team does by accident, then runs
copier's command line as a user would (`copier update --trust --defaults`, stdin
closed as in CI) and checks three things: the exit status is not zero, the output
names the problem (the words are copier 9.19's own), and the project is as it was:
every file byte for byte (`.git/` aside), `git status --porcelain`, HEAD and the stash
list.

None of these refusals can come from the template: copier reads the answers file, and
through it finds the template, before it loads anything of ours. (An answer that parses
but that copier cannot use, such as `tier: huge`, the template refuses itself: see
test_update_answers.py.) Where copier's refusal is not clean (a traceback instead of a
message, or a message that does not name the cause), `test_update_refusal_*` below mark
it as a strict expected failure, so a copier release that fixes it makes the mark fail
and get removed.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from plumbum import local

from .helpers import PROJECT_ENV, run_in, template_release, tool

ANSWERS = ".copier-answers.yml"
RELEASE = "v0.1.0"
TRACEBACK = "Traceback (most recent call last)"
#: copier 9.19's words for each refusal.
DIRTY = "Destination repository is dirty; cannot continue. Please commit or stash"
NO_REFERENCES = f"Cannot update because cannot obtain old template references from `{ANSWERS}`."
NOT_GIT_TEMPLATE = "Updating is only supported in git-tracked templates."


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A medium project copied from a tagged release and committed; tests change copies."""
    root = tmp_path_factory.mktemp("update-errors")
    release = template_release(root / "release", RELEASE)
    project = root / "project"
    with local.env(**PROJECT_ENV):
        tool("copier").run(
            ["copy", "--trust", "--defaults", "--quiet", "-r", RELEASE, release, project],
            stdin=subprocess.DEVNULL,
        )
    run_in(project, "git", "init", "--quiet")
    commit(project, "chore: generate")
    return project


@pytest.fixture
def project(generated: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(generated, tmp_path / "project", symlinks=True))


def commit(project: Path, message: str) -> None:
    run_in(project, "git", "add", "--all")
    run_in(project, "git", "commit", "--quiet", "--allow-empty", "-m", message)


@dataclass(frozen=True)
class State:
    """All a failed update could lose: the files, and what git says about them."""

    files: dict[str, bytes]
    status: str
    head: str
    stashes: str


def state(project: Path) -> State:
    def git(*argv: str) -> str:
        return run_in(project, "git", *argv)[1]

    files = {
        path.relative_to(project).as_posix(): path.read_bytes()
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(project).parts
    }
    status = git("status", "--porcelain")
    return State(files, status, git("rev-parse", "HEAD"), git("stash", "list"))


def changed_files(before: State, after: State) -> list[str]:
    names = set(before.files) | set(after.files)
    return sorted(name for name in names if before.files.get(name) != after.files.get(name))


def update(project: Path, *args: str) -> tuple[int, str]:
    """`copier update --trust --defaults` as a user runs it: the exit status and the output."""
    with local.cwd(project), local.env(**PROJECT_ENV):
        code, out, err = tool("copier").run(
            ["update", "--trust", "--defaults", *args], retcode=None, stdin=subprocess.DEVNULL
        )
    return code, out + err


def refused(project: Path, *args: str) -> str:
    """Run an update that must fail; check it failed and changed nothing; its output."""
    before = state(project)
    code, output = update(project, *args)
    after = state(project)
    assert code != 0, f"copier update succeeded:\n{output}"
    assert changed_files(before, after) == [], output
    assert after.status == before.status
    assert after.head == before.head
    assert after.stashes == before.stashes
    return output


def package_dir(project: Path) -> Path:
    answers = yaml.safe_load((project / ANSWERS).read_text())
    return project / "src" / answers["package_name"]


def set_answer_line(project: Path, key: str, line: str) -> None:
    """Replace (or, with an empty line, delete) one answer in the answers file, and commit."""
    path = project / ANSWERS
    lines = path.read_text().splitlines(keepends=True)
    assert any(old.startswith(f"{key}:") for old in lines), key
    path.write_text("".join(line if old.startswith(f"{key}:") else old for old in lines))
    commit(project, f"chore: break {key}")


# The situations, each a way to break a committed project.

EDIT = "\n\nOUR_UNSAVED_WORK = 1\n"


def edit_train(project: Path) -> None:
    train = package_dir(project) / "models/train.py"
    train.write_text(train.read_text() + EDIT)


def stage_an_edit(project: Path) -> None:
    edit_train(project)
    run_in(project, "git", "add", "--all")


def add_an_untracked_file(project: Path) -> None:
    (package_dir(project) / "models/ensemble.py").write_text(EDIT)


def remove_answers(project: Path) -> None:
    run_in(project, "git", "rm", "--quiet", ANSWERS)
    commit(project, "chore: remove the answers")


def invalid_yaml(project: Path) -> None:
    path = project / ANSWERS
    path.write_text(path.read_text().replace("_commit: ", "_commit: [", 1))
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(path.read_text())
    commit(project, "chore: break the answers")


def drop_commit(project: Path) -> None:
    set_answer_line(project, "_commit", "")


def drop_src_path(project: Path) -> None:
    set_answer_line(project, "_src_path", "")


def missing_template(project: Path) -> None:
    set_answer_line(project, "_src_path", f"_src_path: {project.parent / 'moved-away'}\n")


UNKNOWN_TAG = ("--vcs-ref", "v9.9.9")


# 1. A dirty tree.


@pytest.mark.parametrize(
    ("make_dirty", "edited"),
    [(edit_train, "train.py"), (stage_an_edit, "train.py"), (add_an_untracked_file, "ensemble.py")],
    ids=["edited", "staged", "untracked"],
)
def test_update_refuses_a_dirty_tree_and_keeps_the_edit(
    project: Path, make_dirty: Callable[[Path], None], edited: str
) -> None:
    make_dirty(project)
    output = refused(project)
    assert DIRTY in output
    assert (package_dir(project) / "models" / edited).read_text().endswith(EDIT)


# 2. No answers file.


def test_update_refuses_without_an_answers_file(project: Path) -> None:
    remove_answers(project)
    output = refused(project)
    assert NO_REFERENCES in output
    assert not (project / ANSWERS).exists()


# 3. A hand-broken answers file.


@pytest.mark.parametrize(
    ("break_answers", "words"),
    [
        # copier 9.19: a traceback ending in yaml's error, which names the file and line:
        # `yaml.parser.ParserError: while parsing a flow sequence
        #   in "<project>/.copier-answers.yml", line 3, column 10`
        (invalid_yaml, ["yaml.parser.ParserError: while parsing", f'{ANSWERS}", line ']),
        (drop_commit, [NO_REFERENCES]),
        (drop_src_path, [NO_REFERENCES]),
    ],
    ids=["invalid-yaml", "no-_commit", "no-_src_path"],
)
def test_update_refuses_a_hand_broken_answers_file(
    project: Path, break_answers: Callable[[Path], None], words: list[str]
) -> None:
    break_answers(project)
    output = refused(project)
    for word in words:
        assert word in output


# 4. A tag that does not exist.


def test_update_refuses_a_tag_that_does_not_exist(project: Path) -> None:
    output = refused(project, *UNKNOWN_TAG)
    # copier 9.19: a traceback ending in `ValueError: Unknown revision: 'v9.9.9'`.
    assert "Unknown revision: 'v9.9.9'" in output


# 5. A template that is not where the answers file says.


def test_update_refuses_a_template_path_that_does_not_exist(project: Path) -> None:
    missing_template(project)
    output = refused(project)
    assert NOT_GIT_TEMPLATE in output


# The refusals copier words itself are messages, not tracebacks. (copier 9.19 lets a
# YAML error in the answers file and an unknown tag escape as tracebacks; their last
# line still names the problem, as the tests above check.)


@pytest.mark.parametrize(
    "situation",
    [edit_train, remove_answers, drop_commit, missing_template],
    ids=["dirty", "no-answers-file", "no-_commit", "missing-template"],
)
def test_update_refusal_is_a_message_not_a_traceback(
    project: Path, situation: Callable[[Path], None]
) -> None:
    situation(project)
    code, output = update(project)
    assert code == 1  # copier's exit status for a message it raised on purpose
    assert TRACEBACK not in output
