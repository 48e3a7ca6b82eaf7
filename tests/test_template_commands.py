"""Every generated project can take later template releases, from its own environment.

Render-level tests read the generated files; the build tests (marked) install a medium
project copied from a tagged snapshot of this template and run its `make template-*`
targets and its commit hook, as a team would.
"""

from __future__ import annotations

import tomllib
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from copier import run_copy
from plumbum import local

from .helpers import TEMPLATE, render, run_in, template_release, tool

MIN_COPIER_VERSION = yaml.safe_load((TEMPLATE / "copier.yml").read_text())["_min_copier_version"]

ANSWERS = ".copier-answers.yml"
WORKFLOW = ".github/workflows/template-update.yml"
TARGETS = ("template-check", "template-update", "template-diff")
#: Lines the check-merge-conflict hook refuses with --assume-in-merge (pre-commit-hooks).
CONFLICT_LINE_STARTS = (b"<<<<<<< ", b"======= ", b"=======\r\n", b"=======\n", b">>>>>>> ")


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("medium") / "p")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("small") / "p", tier="small")


@pytest.fixture(scope="module", params=["uv", "poetry"])
def workflow(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = render(tmp_path_factory.mktemp(request.param) / "p", package_manager=request.param)
    return project / WORKFLOW


def _workflow(path: Path) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(path.read_text())
    return loaded


def _steps(path: Path) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = _workflow(path)["jobs"]["update"]["steps"]
    return steps


# The answers file and the commit hook


@pytest.mark.parametrize("tier", ["small", "medium"])
def test_answers_file_says_not_to_edit_it(medium: Path, small: Path, tier: str) -> None:
    text = ((small if tier == "small" else medium) / ANSWERS).read_text()
    first, second = text.splitlines()[:2]
    assert first.startswith("#") and "do NOT edit manually" in first
    assert second.startswith("#") and "copier update" in second
    assert yaml.safe_load(text)["_src_path"]  # the comments leave the answers readable


def test_merge_conflict_hook_refuses_markers_even_outside_a_merge(medium: Path) -> None:
    config = yaml.safe_load((medium / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert hooks["check-merge-conflict"]["entry"].split()[-2:] == [
        "check-merge-conflict",
        "--assume-in-merge",
    ]


@pytest.mark.parametrize("tier", ["small", "medium", "large"])
def test_no_generated_file_looks_like_a_conflict(tmp_path: Path, tier: str) -> None:
    """With --assume-in-merge, a line such as a 7-character '=======' would be refused."""
    project = render(tmp_path / "p", tier=tier)
    flagged = [
        f"{path.relative_to(project)}:{number}"
        for path in project.rglob("*")
        if path.is_file()
        for number, line in enumerate(path.read_bytes().splitlines(keepends=True), 1)
        if line.startswith(CONFLICT_LINE_STARTS)
    ]
    assert flagged == []


# copier in the project's own environment


@pytest.mark.parametrize("tier", ["small", "medium"])
def test_copier_is_a_dev_dependency_of_every_tier(medium: Path, small: Path, tier: str) -> None:
    pyproject = tomllib.loads(
        ((small if tier == "small" else medium) / "pyproject.toml").read_text()
    )
    dev = pyproject["dependency-groups"]["dev"]
    assert f"copier>={MIN_COPIER_VERSION}" in dev
    assert "copier-template-extensions>=0.3" in dev


@pytest.mark.parametrize("name", ["copier", "copier_template_extensions"])
def test_package_named_like_copier_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="question 'package_name'") as refused:
        render(tmp_path / "p", package_name=name)
    assert "shadow a package the project installs" in str(refused.value)


# The Makefile targets


def test_make_help_lists_the_template_targets(medium: Path) -> None:
    _, out, _ = run_in(medium, "make", "help")
    listed = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert set(TARGETS) <= listed


def test_template_targets_are_phony(medium: Path) -> None:
    makefile = (medium / "Makefile").read_text().replace("\\\n", " ")
    phony = next(line for line in makefile.splitlines() if line.startswith(".PHONY:")).split()
    assert set(TARGETS) <= set(phony)


def test_template_check_asks_copier_and_keeps_its_exit_status(medium: Path) -> None:
    _, out, _ = run_in(medium, "make", "-n", "template-check")
    assert "uv run copier check-update --quiet" in out
    assert "exit $status" in out


def test_template_update_keeps_the_answers_and_passes_args(medium: Path) -> None:
    _, out, _ = run_in(medium, "make", "-n", "template-update", "ARGS=-d tier=large")
    assert "uv run copier update --trust --skip-answered --defaults -d tier=large" in out
    assert "git diff --check" in out
    assert "make lint test" in out


def test_template_diff_renders_the_recorded_release_with_the_recorded_answers(
    medium: Path,
) -> None:
    _, out, _ = run_in(medium, "make", "-n", "template-diff")
    assert "cp .copier-answers.yml" in out
    assert "copier recopy --trust --defaults --skip-answered --skip-tasks" in out
    assert "--vcs-ref=:current:" in out
    assert "rm -rf" in out  # the temporary render is removed, whatever happens


# The scheduled update workflow


def test_update_workflow_is_valid_against_githubs_schema(workflow: Path) -> None:
    tool("check-jsonschema")("--builtin-schema", "vendor.github-workflows", workflow)


def test_update_workflow_runs_weekly_and_on_demand(workflow: Path) -> None:
    loaded = _workflow(workflow)
    triggers = loaded.get("on", loaded.get(True))  # YAML 1.1 reads a bare `on` as True
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert [entry["cron"].split()[2:] for entry in triggers["schedule"]] == [["*", "*", "1"]]


def test_update_workflow_may_write_only_where_it_opens_the_pull_request(workflow: Path) -> None:
    loaded = _workflow(workflow)
    assert loaded["permissions"] == {"contents": "read"}
    assert [job.get("permissions") for job in loaded["jobs"].values()] == [
        {"contents": "write", "pull-requests": "write"}
    ]


def test_update_workflow_updates_through_the_project_env_with_rej_files(workflow: Path) -> None:
    steps = _steps(workflow)
    checkout = next(step for step in steps if step.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0
    runs = [step.get("run", "") for step in steps]
    manager = "uv" if "uv sync --locked" in runs else "poetry"
    assert f"{manager} run copier update --trust --skip-answered --defaults --conflict rej" in runs


def test_update_workflow_opens_a_pull_request(workflow: Path) -> None:
    step = next(s for s in _steps(workflow) if "create-pull-request" in s.get("uses", ""))
    # Pinned to a commit of a release: tests/test_supply_chain.py checks the pin.
    assert step["uses"].split("@")[0] == "peter-evans/create-pull-request"
    assert step["with"]["branch"] == "template-update"
    assert step["with"]["title"] == "chore: update from the copier-ml template"
    assert ".rej" in step["with"]["body"]


def test_update_workflow_pull_request_says_what_the_rej_files_hold_and_how_to_resolve_them(
    workflow: Path,
) -> None:
    step = next(s for s in _steps(workflow) if "create-pull-request" in s.get("uses", ""))
    body = " ".join(step["with"]["body"].split())
    assert "the file holds the template's new version with every hunk" in body
    assert "the hunks that did not apply are in a `.rej` file beside it, as a diff" in body
    assert "apply each of its hunks by hand to the file beside it, then delete the `.rej`" in body
    assert "Deleting a `.rej` without applying it drops that change" in body
    assert "no `.rej` is left for those" in body


def test_update_workflow_names_no_host(workflow: Path) -> None:
    """Indexes and registries come from the project's settings, never from the workflow."""
    assert "://" not in workflow.read_text()


def test_update_workflow_is_not_generated_without_ci(tmp_path: Path) -> None:
    project = render(tmp_path / "p", exclude_features=["ci"])
    assert not (project / WORKFLOW).exists()
    assert (project / "Makefile").is_file()  # the make targets stay


# The generated README


def _updating_section(project: Path) -> str:
    readme = (project / "README.md").read_text()
    assert "\n## Updating from the template\n" in readme
    return readme.split("\n## Updating from the template\n", 1)[1]


def test_medium_readme_explains_checking_updating_and_drift(medium: Path) -> None:
    section = _updating_section(medium)
    for command in ("make template-check", "make template-update", "make template-diff"):
        assert command in section
    assert "-d tier=large" in section
    # The markers and their labels, never side by side: that would read as a conflict.
    assert "`<<<<<<<`" in section and '"before updating"' in section
    assert "`>>>>>>>`" in section and '"after updating"' in section
    assert "<<<<<<< before updating" not in section
    assert ".rej" in section and "make lint test" in section
    assert "pre-commit hook" in section
    assert "template-update.yml" in section


@pytest.mark.parametrize("tier", ["small", "medium"])
def test_readme_says_what_each_conflict_mode_leaves_and_how_to_resolve_it(
    medium: Path, small: Path, tier: str
) -> None:
    section = " ".join(_updating_section(small if tier == "small" else medium).split())
    # Inline: both sides in the file, the team's first.
    assert 'your lines after a `<<<<<<<` line labelled "before updating"' in section
    assert "the template's after the `=======` line, up to a `>>>>>>>` line" in section
    # --conflict rej: the template's version in the file, the team's unapplied hunks beside it.
    assert "the file holds the template's new version, with every hunk of your change" in section
    assert "the hunks that did not apply are in `<file>.rej` beside it, as a diff" in section
    assert "apply each hunk of the `.rej` to the file by hand, then delete the `.rej`" in section
    assert "Deleting a `.rej` without applying it drops your change." in section
    assert "leaves no `.rej` for what it put back" in section
    assert "your file stays as it was" not in section  # what it used to say, backwards


def test_readme_says_how_a_project_from_an_unreleased_commit_updates(medium: Path) -> None:
    section = " ".join(_updating_section(medium).split())
    assert "records it in `_commit` as `vX.Y.Z-N-gSHA`, N commits after vX.Y.Z" in section
    assert 'make template-update ARGS="--vcs-ref HEAD"' in section


def test_small_readme_explains_updating_without_a_makefile(small: Path) -> None:
    section = _updating_section(small)
    assert "uv run copier check-update" in section
    assert "uv run copier update --trust --skip-answered --defaults" in section
    assert "uv run copier update --trust --skip-answered --defaults --vcs-ref HEAD" in section
    assert "-d tier=medium" in section
    assert "make " not in section


@pytest.mark.parametrize("tier", ["small", "medium"])
def test_readme_says_why_the_template_needs_trust(medium: Path, small: Path, tier: str) -> None:
    section = _updating_section(small if tier == "small" else medium)
    assert "needs `--trust` because it loads its own Jinja extensions" in section
    assert "settings.yml" in section
    settings = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert list(yaml.safe_load(settings)) == ["trust"]
    assert "allowScripts" in section and "Renovate" in section


# Build: the targets, run in an installed project


def _commit(project: Path, message: str) -> None:
    run_in(project, "git", "add", "--all")
    run_in(project, "git", "commit", "--quiet", "--message", message)


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A template release v0.1.0 and a medium uv project copied from it, committed and installed."""
    root = tmp_path_factory.mktemp("template-commands")
    (root / "tpl").mkdir()
    release = template_release(root / "tpl", "v0.1.0")
    project = root / "project"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Dd]irty.*")
        run_copy(
            str(release),
            project,
            data={"tier": "medium", "package_manager": "uv"},
            defaults=True,
            unsafe=True,
            quiet=True,
            vcs_ref="v0.1.0",
        )
    run_in(project, "git", "init", "--quiet")
    _commit(project, "chore: generate from copier-ml")
    run_in(project, "make", "install-dev")
    _commit(project, "chore: lock")  # copier updates only a clean tree
    return release, project


@pytest.mark.build
@pytest.mark.xdist_group("template-commands")
def test_commit_hook_refuses_a_conflict_marker_outside_a_merge(released: tuple[Path, Path]) -> None:
    _, project = released
    (project / "notes.md").write_text("<<<<<<< before updating\nours\n=======\ntheirs\n"
                                      ">>>>>>> after updating\n")  # fmt: skip
    run_in(project, "git", "add", "notes.md")
    code, out, err = run_in(project, "git", "commit", "--quiet", "-m", "wip", retcode=None)
    run_in(project, "git", "rm", "--quiet", "--cached", "notes.md")
    (project / "notes.md").unlink()
    assert code != 0
    assert "Merge conflict string" in out + err


@pytest.mark.build
@pytest.mark.xdist_group("template-commands")
def test_template_diff_is_empty_for_an_untouched_project(released: tuple[Path, Path]) -> None:
    _, project = released
    _, out, _ = run_in(project, "make", "--no-print-directory", "template-diff")
    assert "diff --git" not in out
    assert out.strip() == ""


@pytest.mark.build
@pytest.mark.xdist_group("template-commands")
def test_template_diff_names_an_edited_file(released: tuple[Path, Path]) -> None:
    _, project = released
    train = project / "src/ml_project/models/train.py"
    original = train.read_text()
    train.write_text(original + "# tuned by the team\n")
    try:
        _, out, _ = run_in(project, "make", "--no-print-directory", "template-diff")
    finally:
        train.write_text(original)
    assert "diff --git a/src/ml_project/models/train.py b/src/ml_project/models/train.py" in out
    assert "+# tuned by the team" in out
    assert " 1 file changed" in out


@pytest.mark.build
@pytest.mark.xdist_group("template-commands")
def test_template_check_then_update_takes_a_new_release(released: tuple[Path, Path]) -> None:
    release, project = released
    code, out, _ = run_in(project, "make", "template-check", retcode=None)
    assert code == 0, out
    readme = release / "template/README.md.jinja"
    readme.write_text(readme.read_text() + "\nTemplate release v0.1.1 was here.\n")
    git = local["git"]["-C", release, "-c", "user.name=Test", "-c", "user.email=test@example.com"]
    git("commit", "--quiet", "--all", "--message", "feat: v0.1.1")
    git("tag", "v0.1.1")

    code, out, err = run_in(project, "make", "template-check", retcode=None)
    assert code == 2  # make's own status when a recipe fails: copier said 2, see the recipe
    assert "0.1.1" in out
    assert "template-check] Error 2" in err

    _, out, _ = run_in(project, "make", "template-update")
    assert "Template release v0.1.1 was here." in (project / "README.md").read_text()
    assert yaml.safe_load((project / ANSWERS).read_text())["_commit"] == "v0.1.1"
    assert "git diff --check" in out and "make lint test" in out
    code, _, _ = run_in(project, "make", "template-check", retcode=None)
    assert code == 0
