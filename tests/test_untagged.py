"""Projects generated from an unreleased commit of the template, and `make demo`'s ref.

A project copied from a commit after the newest release records git describe's
``vX.Y.Z-N-gSHA`` as its ``_commit``. copier 9.19 updates it to the next release as it
does any project; while no release is newer, copier calls it up to date and refuses the
update as a downgrade to vX.Y.Z. Then the generated `make template-update` and the
update workflow say so, exit 0 (nothing to do), and name the command that updates it
now, which works.

The generated Makefile's copier runs through ``$(RUN)`` (``uv run``, the project's locked
environment). These projects are not installed: the tests pass ``RUN=`` so that the
recipe runs the copier of the test environment, first on PATH (tests/helpers.run_in);
tests/test_template_commands.py runs the targets through ``uv run`` in an installed one.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from .helpers import (
    TEMPLATE,
    TOOLS,
    answers,
    append,
    back_to_head,
    commit,
    generate,
    git,
    make_with_our_copier,
    release,
    run_in,
    template_repo,
)

pytestmark = pytest.mark.xdist_group("untagged")

README = "template/README.md.jinja"
WORKFLOW = ".github/workflows/template-update.yml"
#: git describe's name for a commit after a tag: vX.Y.Z-N-gSHA.
POST_RELEASE = re.compile(r"^(?P<tag>v[^-]+)-(?P<count>\d+)-g[0-9a-f]+$")


def _note(text: str) -> Callable[[Path], None]:
    """A change to the template's README, for `release`."""
    return lambda template: append(template / README, f"\n{text}\n")


def _unreleased_commit(template: Path, text: str) -> None:
    """A commit on the template's main line that no tag names."""
    _note(text)(template)
    commit(template, f"feat: {text}")


@pytest.fixture(scope="module")
def stuck(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A template with a release and a commit after it, a project copied at that commit,
    and a later unreleased commit: no release is newer than the project."""
    root = tmp_path_factory.mktemp("untagged")
    template, _ = template_repo(root / "copier-ml")
    base = release(template, _note("Base release."))
    _unreleased_commit(template, "Unreleased change one.")
    project = generate(template, "HEAD", root / "project", tier="medium")
    recorded = POST_RELEASE.match(str(answers(project)["_commit"]))
    assert recorded and recorded["tag"] == base and recorded["count"] == "1", answers(project)
    _unreleased_commit(template, "Unreleased change two.")
    return template, project, base


@pytest.fixture(scope="module")
def said(stuck: tuple[Path, Path, str]) -> tuple[int, str, str]:
    """What `make template-update` does there: exit status, output, errors."""
    return _template_update(stuck[1])


@contextmanager
def newer_release(template: Path) -> Iterator[str]:
    """A release tagged after the project's commit, for the time of a test; its tag."""
    tag = release(template, _note("Next release."))
    try:
        yield tag
    finally:
        git("-C", template, "tag", "--delete", tag)  # its commit stays, unreleased


def _template_update(project: Path, *args: str) -> tuple[int, str, str]:
    return make_with_our_copier(project, "template-update", *args, retcode=None)


def _workflow_check(project: Path, tmp_path: Path) -> tuple[int, str, str, str]:
    """Run the workflow's "Look for a release to update to" step as GitHub's bash does.

    The step runs copier through the project's environment (``uv run copier``), not
    installed here: the script runs the test environment's copier instead.
    Returns its exit status, its log, and what it wrote to the step's outputs and summary.
    """
    steps = yaml.safe_load((project / WORKFLOW).read_text())["jobs"]["update"]["steps"]
    step = next(step for step in steps if step.get("id") == "release")
    script = tmp_path / "step.sh"
    outputs, summary = tmp_path / "outputs", tmp_path / "summary"
    outputs.write_text("")
    summary.write_text("")
    script.write_text(
        f"export GITHUB_OUTPUT={shlex.quote(str(outputs))}\n"
        f"export GITHUB_STEP_SUMMARY={shlex.quote(str(summary))}\n"
        + step["run"].replace("uv run copier check-update", "copier check-update")
    )
    code, out, err = run_in(project, "bash", "--noprofile", "--norc", "-eo", "pipefail", script,
                            retcode=None)  # fmt: skip
    return code, out + err, outputs.read_text(), summary.read_text()


# make template-update, from an unreleased commit


def test_template_update_takes_the_next_release_once_one_is_tagged(
    stuck: tuple[Path, Path, str],
) -> None:
    template, project, _ = stuck
    try:
        with newer_release(template) as newer:
            code, out, err = _template_update(project)
        assert code == 0, out + err
        assert answers(project)["_commit"] == newer
        assert "Next release." in (project / "README.md").read_text()
        assert "Updated from the template. Before committing:" in out
    finally:
        back_to_head(project)


def test_template_update_without_a_newer_release_says_why_and_exits_0(
    stuck: tuple[Path, Path, str], said: tuple[int, str, str]
) -> None:
    _, project, base = stuck
    code, out, err = said
    assert (code, err) == (0, "")
    assert "generated from an unreleased commit of the" in out
    assert f"template, 1 commit after {base} (_commit: " in out
    assert "the next template\nrelease will update this project" in out
    assert '  make template-update ARGS="--vcs-ref HEAD"\n' in out
    assert git("-C", project, "status", "--porcelain") == ""  # the answers file too


def test_the_command_template_update_names_updates_to_the_newest_commit(
    stuck: tuple[Path, Path, str], said: tuple[int, str, str]
) -> None:
    _, project, base = stuck
    named = next(line.strip() for line in said[1].splitlines() if "template-update ARGS=" in line)
    make, target, *args = shlex.split(named)
    try:
        code, out, err = run_in(project, make, "RUN=", target, *args, retcode=None)
        assert code == 0, out + err
        recorded = POST_RELEASE.match(str(answers(project)["_commit"]))
        assert recorded and recorded["tag"] == base and int(recorded["count"]) >= 2
        assert "Unreleased change two." in (project / "README.md").read_text()
    finally:
        back_to_head(project)


def test_template_update_passes_an_explicit_ref_straight_to_copier(
    stuck: tuple[Path, Path, str],
) -> None:
    """With a ref in ARGS the user chose what to update to: no check, no message."""
    _, project, _ = stuck
    try:
        code, out, err = _template_update(project, "ARGS=--vcs-ref v9.9.9")
    finally:
        back_to_head(project)
    assert code != 0
    assert " copier update --trust --skip-answered --defaults --vcs-ref v9.9.9\n" in out
    assert "Unknown revision: 'v9.9.9'" in out + err
    assert "unreleased commit" not in out


def test_template_check_says_up_to_date_and_points_to_template_update(
    stuck: tuple[Path, Path, str],
) -> None:
    _, project, _ = stuck
    code, out, _ = run_in(project, "make", "--no-print-directory", "RUN=", "template-check")
    assert code == 0
    assert out.splitlines() == [
        "Up to date with the newest template release.",
        "This project is at an unreleased template commit after it: see make template-update.",
    ]


# The update workflow, from an unreleased commit


def test_update_workflow_skips_without_a_newer_release_with_the_same_message(
    stuck: tuple[Path, Path, str], said: tuple[int, str, str], tmp_path: Path
) -> None:
    _, project, _ = stuck
    code, log, outputs, summary = _workflow_check(project, tmp_path)
    assert code == 0, log
    assert outputs == "skip=true\n"
    message = said[1].split("  make template-update", 1)[0]
    assert message in log and message in summary
    assert '  make template-update ARGS="--vcs-ref HEAD"\n' in log
    assert "(uv run copier update --trust --skip-answered --defaults --vcs-ref HEAD)" in log
    assert "::notice title=Template update skipped::" in log


def test_update_workflow_skips_every_step_that_would_update(
    stuck: tuple[Path, Path, str],
) -> None:
    _, project, _ = stuck
    steps = yaml.safe_load((project / WORKFLOW).read_text())["jobs"]["update"]["steps"]
    after = steps[[step.get("id") for step in steps].index("release") + 1 :]
    assert [step.get("if") for step in after] == ["steps.release.outputs.skip != 'true'"] * 3
    assert "copier update" in after[0]["run"]
    assert "create-pull-request" in after[-1]["uses"]


def test_update_workflow_updates_once_a_newer_release_is_tagged(
    stuck: tuple[Path, Path, str], tmp_path: Path
) -> None:
    template, project, _ = stuck
    with newer_release(template):
        code, log, outputs, _ = _workflow_check(project, tmp_path)
    assert (code, outputs) == (0, ""), log


# make demo: the newest release tag, or HEAD without tags


def _demo_clone(root: Path, tags: list[str]) -> Path:
    """A repository with this Makefile, tagged, and the test tools where make demo has them."""
    clone = root / "clone"
    clone.mkdir()
    (clone / "Makefile").write_bytes((TEMPLATE / "Makefile").read_bytes())
    (clone / ".venv").symlink_to(TOOLS.parent)
    git("-C", clone, "init", "--quiet")
    for tag in ["", *tags]:
        commit(clone, f"release {tag}")
        if tag:
            git("-C", clone, "tag", "-a", tag, "-m", tag)
    return clone


def _demo_dry_run(clone: Path) -> str:
    """`make -n demo`: what the recipe would run, with the ref it chose.

    make runs a recipe line that calls $(MAKE) even with -n: the stand-in demo folder
    holds a Makefile whose pipeline targets do nothing.
    """
    stand_in = clone / "demo"
    stand_in.mkdir()
    (stand_in / "Makefile").write_text("install-dev data-process train evaluate:\n")
    _, out, _ = run_in(clone, "make", "-n", "demo", f"DEMO={stand_in}")
    return out


def test_make_demo_generates_from_the_newest_release_tag_in_pep_440_order(
    tmp_path: Path,
) -> None:
    clone = _demo_clone(tmp_path, ["v0.9.0", "v0.10.0", "v0.2.0.post1", "v0.11.0rc1", "other"])
    out = _demo_dry_run(clone)
    assert f'--vcs-ref "v0.10.0" "{clone.resolve()}"' in out
    assert "from v0.10.0, the newest release tag" in out


def test_make_demo_generates_from_head_in_a_clone_without_tags(tmp_path: Path) -> None:
    clone = _demo_clone(tmp_path, [])
    head = git("-C", clone, "rev-parse", "--short", "HEAD").strip()
    out = _demo_dry_run(clone)
    assert f'--vcs-ref "HEAD" "{clone.resolve()}"' in out
    assert f"from HEAD (this clone has no release tag), {head}" in out
