"""Every copier, make and git command the documentation shows is run by a test.

The documentation is README.md, docs/*.md, and the README a generated project gets,
rendered for the small, medium and large tiers. Its commands are the lines of its shell
code blocks, and its inline code spans, whose text starts with `copier `, `make `, `git `,
`uv run copier` or `poetry run copier` (and each `$(copier ...)` inside a shell line),
as `normalise` writes them.

`DOCUMENTED` maps each one to its check, which runs the command as the docs show it and
checks the exit status and the effect they promise:

- most run here, on one fixture (`World`): a clone of this repository with its release
  tags and two more on top of the working tree's (a release, then a pre-release), and a
  medium project copied at the working tree's release and committed;
- some are run, with the switches the docs show, by another test of the suite: the check
  names that test and makes sure it exists and still runs them (`run_by`);
- a few cannot run inside the suite (`make test` is the suite itself, `make bench` takes
  many minutes, `make docker-build` needs Docker, `make docs-serve` serves until
  stopped): the check shows where they run instead (`elsewhere`), or what their recipe
  runs (`recipe`).

A command in the docs that the table does not know fails
`test_every_documented_command_has_a_check`, and an entry that no document shows any
more fails `test_every_check_is_for_a_documented_command`: new docs are covered by
construction.

The generated Makefile's copier runs through ``$(RUN)`` (``uv run``); the project here is
not installed, so its make targets run with ``RUN=``: the test environment's copier,
first on PATH (tests/helpers.run_in). tests/test_template_commands.py runs them through
``uv run`` in an installed project.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest
from packaging.version import Version
from plumbum import local

from .helpers import (
    TEMPLATE,
    TOOLS,
    BuildProjects,
    answers,
    append,
    commit,
    copier,
    generate,
    git,
    make_with_our_copier,
    release,
    run_in,
    template_repo,
    unresolved,
)

GROUP = "documented-commands"

# Reading the commands out of Markdown

#: What a documented command starts with.
PREFIXES = ("copier ", "make ", "git ", "uv run copier", "poetry run copier")
#: Code blocks whose lines are commands; others (text, yaml, markdown) show output or files.
SHELL = {"", "bash", "sh", "shell", "console"}
FENCE = re.compile(r"^[ \t]*(`{3,})([\w-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.M | re.S)
SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
SUBSTITUTION = re.compile(r"\$\(((?:copier|make|git) [^()]*)\)")


def normalise(command: str) -> str:
    """One spelling per command: spaces collapsed, placeholders written one way."""
    command = " ".join(command.split())
    command = re.sub(r'ARGS="[^"]*"', 'ARGS="..."', command)
    command = re.sub(r"https?://\S+|<path or git URL[^>]*>", "<template>", command)
    return re.sub(r"\bv(?:\d+\.\d+\.\d+\S*|X\.Y\.Z)", "<tag>", command)


def commands_in(markdown: str) -> set[str]:
    """The commands a Markdown document shows, normalised."""
    found: list[str] = []
    for _, language, body in FENCE.findall(markdown):
        if language not in SHELL:
            continue
        for line in body.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line.strip().removeprefix("$ "))
            if line.startswith(PREFIXES):
                found.append(line)
            found += SUBSTITUTION.findall(line)
    for _, span in SPAN.findall(FENCE.sub("", markdown)):
        if span.strip().startswith(PREFIXES):
            found.append(span)
    return {normalise(command) for command in found}


def test_commands_are_read_from_shell_blocks_and_code_spans() -> None:
    markdown = """
Run `copier update --trust
--defaults` or ``make template-update ARGS="-d tier=large"``; `pipx install copier` is
not ours, nor is `make` alone.

```bash
git status      # a comment
copier copy --trust \\
    https://git.example.org/copier-ml.git p
for repo in *; do result=$(copier check-update --quiet "$repo"); done
```

   ```text
   make lint is output here, not a command
   ```

```yaml
- git: not a command either
```
"""
    assert commands_in(markdown) == {
        "copier update --trust --defaults",
        'make template-update ARGS="..."',
        "git status",
        "copier copy --trust <template> p",
        'copier check-update --quiet "$repo"',
    }


# The fixture


@dataclass(frozen=True)
class Releases:
    template: Path
    #: The working tree's tag, which the project was copied at.
    base: str
    #: A release on top of it: what `copier update` takes.
    newest: str
    #: A pre-release after that, which nobody gets by default.
    prerelease: str


#: The line the newest release changes in the generated README, and a team's edit of it.
ORIGINAL_LINE = "This project was generated with copier-ml."
RELEASED_LINE = "This project was generated with copier-ml, and updated by a later release."
TEAM_LINE = "This project was generated with copier-ml, then made our own."
REVIEWED = "# Reviewed for the newest release."


def _newest_release(template: Path) -> None:
    readme = template / "template/README.md.jinja"
    assert ORIGINAL_LINE in readme.read_text(), "the generated README changed: pick another line"
    readme.write_text(readme.read_text().replace(ORIGINAL_LINE, RELEASED_LINE))
    append(template / "copier.yml", f"\n{REVIEWED}\n")


class World:
    """The shared fixture, built as the checks need it; a check that changes a project
    puts it back (`restoring`)."""

    def __init__(self, root: Path, build_projects: BuildProjects) -> None:
        self.root = root
        self.build_projects = build_projects

    @cached_property
    def releases(self) -> Releases:
        template, base = template_repo(self.root / "copier-ml")
        newest = release(template, _newest_release)
        upcoming = Version(newest[1:])
        prerelease = f"v{upcoming.major}.{upcoming.minor}.{upcoming.micro + 1}rc1"
        append(template / "template/README.md.jinja", "\nPre-release note.\n")
        commit(template, f"feat: {prerelease}")
        git("-C", template, "tag", "-a", prerelease, "-m", prerelease)
        return Releases(template, base, newest, prerelease)

    @cached_property
    def project(self) -> Path:
        """A medium project copied at the base release, as docs/org-rollout.md pins one:
        `copier copy --vcs-ref vX.Y.Z`; committed."""
        releases = self.releases
        return generate(releases.template, releases.base, self.root / "project")

    def rendered(self, tier: str) -> Path:
        """A project of this tier at the base release, for its README and its Makefile."""
        if tier == "medium":
            return self.project
        project = self.root / tier
        if not project.exists():
            generate(self.releases.template, self.releases.base, project, tier=tier)
        return project

    @cached_property
    def my_project(self) -> Path:
        """The README's `copier copy --trust <template> my-project`, from the template's
        folder, with `--defaults` (the README's next sentence) for no prompts."""
        copier(self.root, "copy", "--trust", "--defaults", "--quiet", "./copier-ml", "my-project")
        return self.root / "my-project"

    @cached_property
    def documents(self) -> dict[str, str]:
        """Each document, by name, with its text."""
        documents = {
            path.relative_to(TEMPLATE).as_posix(): path.read_text(encoding="utf-8")
            for path in [TEMPLATE / "README.md", *sorted((TEMPLATE / "docs").glob("*.md"))]
        }
        for tier in ("small", "medium", "large"):
            documents[f"the generated README.md ({tier})"] = (
                self.rendered(tier) / "README.md"
            ).read_text(encoding="utf-8")
        return documents

    @cached_property
    def documented(self) -> dict[str, list[str]]:
        """Each documented command, with the documents that show it."""
        shown: dict[str, list[str]] = {}
        for name, text in self.documents.items():
            for command in commands_in(text):
                shown.setdefault(command, []).append(name)
        return shown


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, build_projects: BuildProjects) -> World:
    return World(tmp_path_factory.mktemp("documented-commands"), build_projects)


@contextmanager
def restoring(project: Path) -> Iterator[Path]:
    """Put the project back as committed, whatever the check did to it."""
    head = git("-C", project, "rev-parse", "HEAD").strip()
    try:
        yield project
    finally:
        git("-C", project, "reset", "--quiet", "--hard", head)
        git("-C", project, "clean", "--quiet", "-fdx")


def make(project: Path, *args: str, retcode: int | None = 0) -> tuple[int, str, str]:
    """The project's make, its copier from the test environment (see the module's doc)."""
    return make_with_our_copier(project, *args, retcode=retcode)


def dry_run(project: Path, *args: str) -> str:
    """What `make -n` says the target runs, with the project's own RUN."""
    return run_in(project, "make", "--no-print-directory", "-n", *args)[1]


# The kinds of check

Check = Callable[[World], None]


def run_by(test: str, *evidence: str) -> Check:
    """Run by another test of the suite (``path::name``, or ``path::Class.method``), whose
    source shows each piece of evidence: the command's target or switches."""
    path, _, qualname = test.partition("::")

    def check(world: World) -> None:
        source = (TEMPLATE / path).read_text(encoding="utf-8")
        node: ast.AST | None = ast.parse(source)
        for name in qualname.split("."):
            node = next(
                (
                    child
                    for child in ast.iter_child_nodes(node)  # type: ignore[arg-type]
                    if isinstance(child, ast.FunctionDef | ast.ClassDef) and child.name == name
                ),
                None,
            )
            assert node is not None, f"{test} is gone: name the test that runs it now"
        segment = ast.get_source_segment(source, node) or ""
        for piece in evidence:
            assert piece in segment, f"{test} no longer runs {piece!r}"

    check.__doc__ = f"run by {test}"
    return check


def elsewhere(path: str, pattern: str, why: str) -> Check:
    """Cannot run inside the suite (why); `path` runs it: it matches `pattern`."""

    def check(world: World) -> None:
        text = (TEMPLATE / path).read_text(encoding="utf-8")
        assert re.search(pattern, text, re.M), f"{path} no longer runs it ({why})"

    check.__doc__ = f"{why}: {path} runs it"
    return check


def recipe(tier: str, target: str, *commands: str) -> Check:
    """The target of a project of this tier (or "repository": this repository's
    Makefile) runs these commands, as `make -n` shows."""

    def check(world: World) -> None:
        where = TEMPLATE if tier == "repository" else world.rendered(tier)
        shown = dry_run(where, target)
        for command in commands:
            assert command in shown, f"make {target} no longer runs {command!r}: {shown}"

    check.__doc__ = f"make {target} runs {commands}"
    return check


def all_of(*checks: Check) -> Check:
    def check(world: World) -> None:
        for each in checks:
            each(world)

    check.__doc__ = "; ".join(each.__doc__ or each.__name__ for each in checks)
    return check


# Checks run here: copier


def update_takes_the_newest_release(world: World) -> None:
    """`copier update --trust --defaults`: exit 0; the newest release, not the pre-release
    after it; the answers kept."""
    with restoring(world.project) as project:
        copier(project, "update", "--trust", "--defaults")
        assert answers(project)["_commit"] == world.releases.newest
        assert answers(project)["tier"] == "medium"
        assert RELEASED_LINE in (project / "README.md").read_text()
        assert "Pre-release note." not in (project / "README.md").read_text()


def update_with_rej_leaves_the_unapplied_hunk_beside_its_file(world: World) -> None:
    """The workflow's `--conflict rej`: where the team and the release changed the same
    line, the file holds the template's new version and `<file>.rej` the team's hunk;
    `git status` lists the `.rej`; no file holds a marker."""
    with restoring(world.project) as project:
        readme = project / "README.md"
        readme.write_text(readme.read_text().replace(ORIGINAL_LINE, TEAM_LINE))
        commit(project, "docs: our line")
        copier(project, "update", "--trust", "--skip-answered", "--defaults", "--conflict", "rej")
        assert RELEASED_LINE in readme.read_text() and TEAM_LINE not in readme.read_text()
        assert f"+{TEAM_LINE}" in (project / "README.md.rej").read_text()
        assert unresolved(project) == ["README.md.rej"]
        assert "?? README.md.rej" in git("-C", project, "status", "--porcelain").splitlines()


def check_update_says_a_newer_release_is_out(world: World) -> None:
    """`copier check-update`: exit 0, and the current and newest versions."""
    code, out, _ = copier(world.project, "check-update")
    assert "New template version available." in out
    assert f"latest version is {world.releases.newest[1:]}." in out


def check_update_quiet_exits_2_when_a_newer_release_is_out(world: World) -> None:
    """`copier check-update --quiet`: exit status 2, nothing printed."""
    assert copier(world.project, "check-update", "--quiet", retcode=None) == (2, "", "")


def check_update_quiet_suits_a_shell_condition(world: World) -> None:
    """`copier check-update --quiet || echo behind` prints "behind" for a project behind."""
    _, out, _ = run_in(world.project, "sh", "-c", "copier check-update --quiet || echo behind")
    assert out == "behind\n"


def check_update_help_lists_its_switches(world: World) -> None:
    """`copier check-update --help`: `--output-format {plain, json}` and `--quiet`."""
    _, out, _ = copier(world.project, "check-update", "--help")
    assert "--output-format VALUE:{plain, json}" in out and "--quiet" in out


def check_update_reports_a_project_by_its_path_in_json(world: World) -> None:
    """docs/org-rollout.md's loop: `copier check-update --output-format json "$repo"`."""
    _, out, _ = copier(world.root, "check-update", "--output-format", "json", str(world.project))
    assert json.loads(out) == {
        "update_available": True,
        "current_version": str(Version(world.releases.base[1:])),
        "latest_version": world.releases.newest[1:],
    }


def copy_takes_the_newest_release_and_records_the_source_as_typed(world: World) -> None:
    """`copier copy` takes the newest release (not the pre-release) and records
    `_src_path` exactly as typed (`copier copy ./tpl ...` records `./tpl`)."""
    recorded = answers(world.my_project)
    assert recorded["_commit"] == world.releases.newest
    assert recorded["_src_path"] == "./copier-ml"


def copy_at_a_tag_records_that_tag(world: World) -> None:
    """`copier copy --vcs-ref vX.Y.Z` (how the fixture's project was made) records it."""
    assert answers(world.project)["_commit"] == world.releases.base


# Checks run here: the generated Makefile


def template_check_exits_2_and_names_the_versions(world: World) -> None:
    """`make template-check`: exit status 2 when a newer release is out, and the two
    versions."""
    code, out, err = make(world.project, "template-check", retcode=None)
    assert code == 2
    assert f"latest version is {world.releases.newest[1:]}." in out
    assert "template-check] Error 2" in err


def template_update_passes_args_to_copier(world: World) -> None:
    """`make template-update ARGS="..."` adds ARGS to copier's switches."""
    shown = dry_run(world.project, "template-update", "ARGS=-d tier=large")
    assert "uv run copier update --trust --skip-answered --defaults -d tier=large" in shown


def make_help_lists_the_targets(world: World) -> None:
    """`make help` lists every target, the template's among them."""
    _, out, _ = make(world.project, "help")
    listed = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert {
        "install-dev",
        "data-process",
        "train",
        "evaluate",
        "lint",
        "test",
        "template-check",
        "template-update",
        "template-diff",
    } <= listed


def make_format_leaves_a_generated_project_as_it_is(world: World) -> None:
    """`make format` formats and fixes; a generated project needs neither."""
    with restoring(world.project) as project:
        make(project, "format")
        assert git("-C", project, "status", "--porcelain") == ""


# Checks run here: git


def git_status_shows_the_tree_clean_after_a_commit(world: World) -> None:
    """`git status` before updating: a committed project is clean (copier refuses a dirty
    tree: tests/test_update_errors.py)."""
    _, out, _ = run_in(world.project, "git", "status")
    assert "nothing to commit, working tree clean" in out


def git_init_makes_the_new_project_a_repository(world: World) -> None:
    """`git init` in the copied project, before `make install-dev`."""
    run_in(world.my_project, "git", "init", "--quiet")
    assert (world.my_project / ".git").is_dir()


def git_diff_check_lists_the_markers_left(world: World) -> None:
    """`git diff --check` names each conflict marker line left in a file (exit status 2)."""
    with restoring(world.project) as project:
        append(
            project / "README.md",
            "<<<<<<< before updating\nours\n=======\ntheirs\n>>>>>>> after updating\n",
        )
        code, out, _ = run_in(project, "git", "diff", "--check", retcode=None)
        assert code == 2
        assert len([line for line in out.splitlines() if "leftover conflict marker" in line]) == 3


def git_mirror_carries_the_tags(world: World) -> None:
    """docs/org-rollout.md: `git clone --mirror` then `git push --mirror`, or `git fetch
    --tags` then `git push --tags`: either way the copy has every release tag."""
    template, root = world.releases.template, world.root / "mirrors"
    tags = set(git("-C", template, "tag", "--list", "v*").split())
    root.mkdir()
    for name in ("org-mirror.git", "org-push.git"):
        git("init", "--quiet", "--bare", root / name)
    git("clone", "--quiet", "--mirror", template, root / "mirror.git")
    git("-C", root / "mirror.git", "push", "--quiet", "--mirror", root / "org-mirror.git")
    git("clone", "--quiet", "--no-tags", template, root / "clone")
    git("-C", root / "clone", "fetch", "--quiet", "--tags")
    git("-C", root / "clone", "push", "--quiet", "--tags", root / "org-push.git")
    for name in ("org-mirror.git", "org-push.git"):
        assert set(git("-C", root / name, "tag", "--list", "v*").split()) == tags


def git_cuts_an_annotated_release_tag(world: World) -> None:
    """docs/releasing.md's "Cutting it": switch to main, pull, tag annotated, push the tag."""
    root = world.root / "cutting"
    git("clone", "--quiet", "--bare", world.releases.template, root / "origin.git")
    origin = git["-C", root / "origin.git"]
    origin("update-ref", "refs/heads/main", "HEAD")  # CI checks out a commit, not a branch
    origin("symbolic-ref", "HEAD", "refs/heads/main")
    git("clone", "--quiet", root / "origin.git", root / "work")
    run_in(root / "work", "sh", "-c", "git switch main && git pull --ff-only")
    run_in(root / "work", "git", "tag", "-a", "v9.0.0", "-m", "copier-ml 9.0.0")
    run_in(root / "work", "git", "push", "--quiet", "origin", "v9.0.0")
    assert origin("cat-file", "-t", "v9.0.0").strip() == "tag"
    assert "copier-ml 9.0.0" in origin("tag", "-n1", "v9.0.0")


def git_tag_n1_lists_the_releases(world: World) -> None:
    """`git tag -n1` lists every release tag with its message's first line."""
    _, out, _ = run_in(world.releases.template, "git", "tag", "-n1")
    listed = {line.split()[0]: line for line in out.splitlines()}
    assert set(git("-C", world.releases.template, "tag").split()) == set(listed)
    assert listed[world.releases.newest].split()[1:] == [world.releases.newest]


def git_diff_between_releases_shows_what_runs(world: World) -> None:
    """`git diff vOLD vNEW -- extensions copier.yml`: the code a release would run."""
    template, releases = world.releases.template, world.releases
    _, out, _ = run_in(
        template, "git", "diff", releases.base, releases.newest, "--", "extensions", "copier.yml"
    )
    assert f"+{REVIEWED}" in out.splitlines()


# Checks run here: this repository's Makefile


def repository_lint_runs_ruff_clean(world: World) -> None:
    """`make lint` in this repository: ruff's check and format check, both clean."""
    commands = [line for line in dry_run(TEMPLATE, "lint").splitlines() if "ruff" in line]
    assert commands == [".venv/bin/ruff check .", ".venv/bin/ruff format --check ."]
    for command in commands:
        run_in(TEMPLATE, TOOLS / "ruff", *shlex.split(command)[1:])


def bench_is_the_script_docs_performance_describes(world: World) -> None:
    """`make bench` runs bench/run.py (many minutes, so not here): it starts and says how."""
    assert ".venv/bin/python bench/run.py" in dry_run(TEMPLATE, "bench").splitlines()
    _, out, _ = run_in(TEMPLATE, sys.executable, "bench/run.py", "--help")
    assert "--repeat" in out


# Checks run here: the platform team's tools (fleet/, docs/fleet-report.md, rollout.md,
# adopting.md)


def fleet_list(world: World) -> Path:
    """A fleet of one: the world's project, one release behind."""
    listed = world.root / "repos.txt"
    listed.write_text(f"# the fleet\n{world.project}\n")
    return listed


def make_fleet_reports_in_every_format(world: World) -> None:
    """`make fleet REPOS=<file> [FORMAT=...]` runs the report; `> fleet.json` holds the
    report alone (the recipes are silent), and a project behind is named in each format."""
    listed = fleet_list(world)
    for form in ("table", "json", "markdown", "html"):
        shown = dry_run(TEMPLATE, "fleet", f"REPOS={listed}", f"FORMAT={form}")
        assert f'.venv/bin/python -m fleet report --format "{form}" "{listed}"' in shown
        code, out, _ = run_in(
            TEMPLATE, sys.executable, "-m", "fleet", "report", "--format", form, listed,
            retcode=None,
        )  # fmt: skip
        assert code == 2, f"{form}: a project behind gives exit status 2"
        assert str(world.project) in out
    code, out, _ = run_in(
        TEMPLATE, "make", "--no-print-directory", "fleet", f"REPOS={listed}", "FORMAT=json",
        retcode=None,
    )  # fmt: skip
    [row] = json.loads(out)
    assert (row["release"], row["behind"], row["error"]) == (world.releases.base[1:], 1, None)


def make_rollout_dry_run_lists_and_reaches_nothing(world: World) -> None:
    """`make rollout REPOS=<file> DRY_RUN=1`: lists what it would dispatch, with no token
    and no request, and skips what is not on GitHub."""
    listed = world.root / "rollout.txt"
    listed.write_text(f"gh:acme/churn-model\n{world.project}\n")
    assert "--dry-run" in dry_run(TEMPLATE, "rollout", f"REPOS={listed}", "DRY_RUN=1")
    assert "--dry-run" not in dry_run(TEMPLATE, "rollout", f"REPOS={listed}")
    env = {"GITHUB_TOKEN": "", "GH_TOKEN": "", "GITHUB_API_URL": "http://127.0.0.1:9"}
    with local.env(**env):
        _, out, _ = run_in(
            TEMPLATE, "make", "--no-print-directory", "rollout", f"REPOS={listed}", "DRY_RUN=1"
        )
    assert "acme/churn-model" in out and "planned" in out
    assert "skipped" in out


#: A team's repository made by hand, its package at the top level as
#: cookiecutter-data-science keeps it.
HAND_MADE = {
    "pyproject.toml": '[project]\nname = "churn-model"\nrequires-python = ">=3.11"\n',
    "churn_model/__init__.py": "",
    "churn_model/features.py": "def tenure(months):\n    return months // 12\n",
    "README.md": "# Churn model\n\nOur own README.\n",
}


def adoption_goes_as_docs_adopting_shows(world: World) -> None:
    """docs/adopting.md's steps on a hand-made repository: `make adopt` (dry run, then for
    real), resolve the pyproject clash with `git diff --no-index` and `git rm`, `git mv` a
    module into src/, commit, push the branch, and take the newest release with
    `copier update --trust --skip-answered`: the team's files are all still there."""
    repo, origin = world.root / "churn-model", world.root / "churn-model-origin.git"
    for name, text in HAND_MADE.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git("init", "--quiet", "--initial-branch=main", repo)
    commit(repo, "feat: the team's work")
    git("init", "--quiet", "--bare", origin)
    git("-C", repo, "remote", "add", "origin", origin)
    choose = f"ARGS=--template {world.releases.template} --vcs-ref {world.releases.base}"
    _, out, _ = run_in(TEMPLATE, "make", "--no-print-directory", "adopt", f"REPO={repo}",
                       f"{choose} --dry-run")  # fmt: skip
    assert "nothing written" in out and not (repo / ".copier-answers.yml").exists()
    run_in(TEMPLATE, "make", "--no-print-directory", "adopt", f"REPO={repo}",
           f"{choose} --data project_name='Churn Model'")  # fmt: skip
    assert answers(repo)["_commit"] == world.releases.base
    assert answers(repo)["project_name"] == "Churn Model"
    code, out, _ = run_in(repo, "git", "diff", "--no-index", "pyproject.toml",
                          "pyproject.toml.from-template", retcode=None)  # fmt: skip
    assert code == 1 and "+[tool.ruff]" in out
    run_in(repo, "git", "rm", "--quiet", "pyproject.toml.from-template")
    run_in(repo, "git", "mv", "-f", "churn_model/features.py", "src/churn_model/features.py")
    run_in(repo, "git", "commit", "--quiet", "-m", "chore: take copier-ml's tooling")
    run_in(repo, "git", "push", "--quiet", "-u", "origin", "adopt-copier-ml")
    assert git("-C", origin, "rev-parse", "adopt-copier-ml") == git("-C", repo, "rev-parse", "HEAD")
    copier(repo, "update", "--trust", "--skip-answered")
    assert answers(repo)["_commit"] == world.releases.newest
    assert (repo / "pyproject.toml").read_text().startswith(HAND_MADE["pyproject.toml"])
    assert (repo / "src/churn_model/features.py").read_text() == HAND_MADE[
        "churn_model/features.py"
    ]
    assert "Our own README." in (repo / "README.md").read_text()


# Checks run by a build test: copier from the project's locked environment


def copier_runs_from_the_uv_environment(world: World) -> None:
    """`uv run copier ...` in an installed uv project."""
    project = world.build_projects.installed("medium", "uv")
    _, out, _ = run_in(project, "uv", "run", "copier", "--version")
    assert out.startswith("copier ")


def copier_runs_from_the_poetry_environment(world: World) -> None:
    """`poetry run copier ...` in an installed Poetry project."""
    project = world.build_projects.installed("medium", "poetry")
    _, out, _ = run_in(project, "poetry", "run", "copier", "--version")
    assert out.startswith("copier ")


# The table

UPDATE = "tests/test_update.py"
BUILD = "tests/test_build.py"
ORG = "tests/test_org_defaults.py"
UNTAGGED = "tests/test_untagged.py"
COMMANDS = "tests/test_template_commands.py"
CONFIG = "tests/test_config_system.py"
ANSWERS_TESTS = "tests/test_update_answers.py"
DEMO_PIPELINE = r'\$\(MAKE\) -C "\$\(DEMO\)" install-dev data-process train evaluate$'

renovate = run_by(
    f"{UPDATE}::test_renovate_command_updates_every_tier_non_interactively",
    '"--answers-file", ANSWERS, "--vcs-ref", tag',
)
grows_a_tier = run_by(
    f"{UPDATE}::test_small_grows_to_medium_then_large_keeping_notebooks_and_data",
    'f"--data=tier={tier}"',
)
org_copy = run_by(
    f"{ORG}::test_org_data_file_reaches_the_answers_pyproject_and_license", '"--data-file", org'
)
to_newest_commit = run_by(
    f"{UNTAGGED}::test_the_command_template_update_names_updates_to_the_newest_commit",
    '"template-update ARGS="',
)
RENAME_EVERYWHERE = (
    r"git grep -lw ml_project -- ':!.copier-answers.yml' | xargs sed -i 's/\bml_project\b/churn/g'"
)
#: docs/updating.md's package rename; the test replaces the old name with Python's re, as
#: the sed line does.
rename = run_by(
    f"{ANSWERS_TESTS}::test_the_manual_rename_route_updates_cleanly",
    '"git", "mv", "src/ml_project", "src/churn"',
    '"git", "grep", "-lw", "ml_project", "--", f":!{ANSWERS}"',
    'r"\\bml_project\\b", "churn"',
    '"refactor: rename the package to churn"',
    '"-d", "package_name=churn"',
)
template_update = all_of(
    recipe("medium", "template-update", "uv run copier update --trust --skip-answered --defaults "),
    run_by(
        f"{UNTAGGED}::test_template_update_takes_the_next_release_once_one_is_tagged",
        "_template_update(project)",
    ),
)
template_diff_runs = run_by(
    f"{COMMANDS}::test_template_diff_names_an_edited_file", '"template-diff"', "diff --git"
)
install_dev = run_by("tests/helpers.py::BuildProjects.installed", '["make", "install-dev"]')
pipeline = run_by(f"{BUILD}::medium_pipeline", '"data-process", "train", "evaluate"')
lint = run_by(f"{BUILD}::test_medium_passes_make_lint", '"make", "lint"')
make_test = run_by(f"{BUILD}::test_medium_passes_make_test", '"make", "test"')
the_suite = all_of(
    elsewhere(".ci/run", r"^make test\n\Z", "the suite itself: CI's gate, .ci/run, ends with it"),
    elsewhere(".github/workflows/tests.yml", r"run: bash \.ci/run$", "the suite itself"),
)
make_test_fast = all_of(
    recipe("repository", "test-fast", '.venv/bin/pytest -n auto -m "not build"'),
    elsewhere(".github/workflows/tests.yml", r'pytest -n auto -m "not build"', "CI's other job"),
    recipe("medium", "test-fast", "uv run pytest -x --ff -q"),
)

load_test = run_by("tests/test_load_test.py::load_test", '"make", "load-test", *BOUNDS')

#: Each documented command, as `normalise` writes it, and its check.
DOCUMENTED: dict[str, Check] = {
    # copier update
    "copier update": update_takes_the_newest_release,
    "copier update --trust --defaults": update_takes_the_newest_release,
    "copier update --trust --defaults -d tier=large": grows_a_tier,
    "uv run copier update --trust --defaults -d tier=large": grows_a_tier,
    "copier update --trust --defaults -d tier=medium": grows_a_tier,
    "uv run copier update --trust --defaults -d tier=medium": grows_a_tier,
    "uv run copier update --trust --defaults --data tier=medium": grows_a_tier,
    "copier update --trust --defaults -d include_features='[dvc]'": run_by(
        f"{UPDATE}::test_a_feature_switched_on_later_arrives_like_a_fresh_copy",
        '"--data=include_features=[dvc]"',
    ),
    "copier update --trust --defaults --skip-answered": template_update,
    "uv run copier update --trust --skip-answered --defaults": (template_update),
    "copier update --trust --skip-answered --defaults $(ARGS)": all_of(
        template_update, template_update_passes_args_to_copier
    ),
    "copier update --trust --skip-answered --defaults --conflict rej": (
        update_with_rej_leaves_the_unapplied_hunk_beside_its_file
    ),
    "copier update --trust --skip-answered --defaults --vcs-ref HEAD": to_newest_commit,
    "uv run copier update --trust --skip-answered --defaults --vcs-ref HEAD": to_newest_commit,
    "copier update --vcs-ref <tag>": renovate,
    "copier update --skip-answered --defaults --trust --answers-file .copier-answers.yml "
    "--vcs-ref <tag>": renovate,
    "copier update --trust --defaults --skip-answered --data-file copier-org.yml": run_by(
        f"{ORG}::test_update_with_a_changed_org_data_file_brings_the_new_value",
        '"update", "--trust", "--defaults"',
        '"--skip-answered"',
        '"--data-file", org',
    ),
    "copier update --trust --defaults --skip-answered --data tier=medium": run_by(
        f"{ANSWERS_TESTS}::test_update_with_d_repairs_a_broken_answer", '"-d", f"{key}={repair}"'
    ),
    "copier update --trust --defaults --skip-answered --data package_name=churn": rename,
    # copier check-update
    "copier check-update": check_update_says_a_newer_release_is_out,
    "uv run copier check-update": check_update_says_a_newer_release_is_out,
    "copier check-update --quiet": check_update_quiet_exits_2_when_a_newer_release_is_out,
    "copier check-update --quiet || echo behind": check_update_quiet_suits_a_shell_condition,
    "copier check-update --help": check_update_help_lists_its_switches,
    'copier check-update --output-format json "$repo" 2>&1': (
        check_update_reports_a_project_by_its_path_in_json
    ),
    # copier copy and recopy
    "copier copy": copy_takes_the_newest_release_and_records_the_source_as_typed,
    "copier copy --trust <template> my-project": (
        copy_takes_the_newest_release_and_records_the_source_as_typed
    ),
    "copier copy ./tpl ...": copy_takes_the_newest_release_and_records_the_source_as_typed,
    "copier copy --vcs-ref <tag>": copy_at_a_tag_records_that_tag,
    "copier copy --trust --data-file copier-org.yml <template> my-project": org_copy,
    'copier copy --trust --defaults --data-file copier-org.yml <template> "$(mktemp -d)/p"': (
        org_copy
    ),
    "copier recopy": all_of(
        recipe("medium", "template-diff", "uv run copier recopy --trust --defaults"),
        template_diff_runs,
    ),
    "uv run copier ...": copier_runs_from_the_uv_environment,
    "poetry run copier ...": copier_runs_from_the_poetry_environment,
    # The generated Makefile: the template's targets
    "make template-check": template_check_exits_2_and_names_the_versions,
    "make template-update": template_update,
    'make template-update ARGS="..."': all_of(
        template_update_passes_args_to_copier, to_newest_commit
    ),
    "make template-diff": template_diff_runs,
    # The generated Makefile: the project's own targets
    "make help": make_help_lists_the_targets,
    "make format": make_format_leaves_a_generated_project_as_it_is,
    "make install-dev": install_dev,
    "make data-process train evaluate": pipeline,
    "make data-process": run_by(
        f"{BUILD}::test_medium_clean_data_keeps_the_folders", '"make", "data-process"'
    ),
    "make train": run_by(
        "tests/test_tracking_server.py::test_make_train_logs_run_and_model_to_a_real_mlflow_server",
        '"make", "train"',
    ),
    "make evaluate": pipeline,
    'make train ARGS="..."': run_by(
        f"{CONFIG}::test_an_override_reaches_the_trained_model", '"make", "train", f"ARGS='
    ),
    'make data-process train evaluate ARGS="..."': all_of(
        run_by(f"{CONFIG}::test_every_step_passes_args_on", '" $(ARGS)"'),
        run_by(f"{CONFIG}::test_an_override_reaches_the_trained_model", '"ARGS='),
    ),
    "make train-config CONFIG=configs/training/<name>.yaml": run_by(
        f"{BUILD}::test_medium_trains_with_another_config", '"make", "train-config", "CONFIG='
    ),
    "make predict INPUT=new.csv OUTPUT=predictions.csv": run_by(
        f"{BUILD}::test_medium_predicts_for_new_rows", '"make", "predict", "INPUT='
    ),
    "make lint": all_of(repository_lint_runs_ruff_clean, lint),
    "make test": all_of(the_suite, make_test),
    "make lint test": all_of(lint, make_test),
    "make test-fast": make_test_fast,
    "make lint test-fast": all_of(repository_lint_runs_ruff_clean, make_test_fast),
    "make validate-model": run_by(
        f"{BUILD}::test_large_gate_passes_on_the_default_pipeline", '"make", "validate-model"'
    ),
    "make promote": run_by(
        "tests/test_champion_gate.py::test_a_better_candidate_is_promoted_and_the_alias_moves",
        '"promote"',
    ),
    "make pipeline": run_by(
        "tests/test_dvc.py::test_a_second_repro_runs_nothing", '"make", "pipeline"'
    ),
    "make sweep": run_by(
        f"{CONFIG}::test_hydra_sweep_writes_a_model_and_metrics_per_job", '"make", "sweep"'
    ),
    "make docs-build": run_by(
        f"{BUILD}::test_large_builds_its_documentation_strictly", '"make", "docs-build"'
    ),
    # One brief run, its bounds given as the docs give them.
    "make load-test": load_test,
    "make load-test USERS=5 REQUESTS=300": load_test,
    "make load-test USERS=10 REQUESTS=2000": load_test,
    "make serve": run_by(f"{BUILD}::test_large_serves_predictions_over_http", 'popen(["serve"]'),
    "make docs-serve": all_of(
        recipe("large", "docs-serve", "uv run mkdocs serve --dev-addr 127.0.0.1:8001"),
        run_by(f"{BUILD}::test_large_builds_its_documentation_strictly", '"docs-build"'),
    ),
    "make docker-build": all_of(
        recipe(
            "large",
            "docker-build",
            "docker build -f infrastructure/docker/Dockerfile -t ml-project:latest .",
        ),
        run_by("tests/test_infra.py::test_dockerfile_passes_hadolint", "hadolint"),
        elsewhere(
            "template/.github/workflows/cd.yml.jinja",
            r"file: infrastructure/docker/Dockerfile$",
            "needs Docker: the generated cd.yml builds the same Dockerfile",
        ),
    ),
    # This repository's Makefile
    "make demo": all_of(
        run_by(
            f"{UNTAGGED}::test_make_demo_generates_from_the_newest_release_tag_in_pep_440_order",
            "_demo_dry_run",
        ),
        elsewhere("Makefile", DEMO_PIPELINE, "its pipeline is the build tests'"),
        pipeline,
    ),
    "make bench": bench_is_the_script_docs_performance_describes,
    # git
    "git status": all_of(
        git_status_shows_the_tree_clean_after_a_commit,
        run_by(
            "tests/test_update_errors.py::test_update_refuses_a_dirty_tree_and_keeps_the_edit",
            "DIRTY",
        ),
    ),
    "git init": git_init_makes_the_new_project_a_repository,
    "git diff --check": git_diff_check_lists_the_markers_left,
    "git diff --stat --patch": all_of(
        recipe("medium", "template-diff", "diff --stat --patch"), template_diff_runs
    ),
    "git clone --mirror": git_mirror_carries_the_tags,
    "git push --mirror": git_mirror_carries_the_tags,
    "git fetch --tags": git_mirror_carries_the_tags,
    "git push --tags": git_mirror_carries_the_tags,
    "git switch main && git pull --ff-only": git_cuts_an_annotated_release_tag,
    'git tag -a <tag> -m "copier-ml X.Y.Z"': git_cuts_an_annotated_release_tag,
    "git push origin <tag>": git_cuts_an_annotated_release_tag,
    "git tag -n1": git_tag_n1_lists_the_releases,
    "git diff vOLD vNEW -- extensions copier.yml": git_diff_between_releases_shows_what_runs,
    "git mv src/ml_project src/churn": rename,
    RENAME_EVERYWHERE: rename,
    'git commit -am "refactor: rename the package to churn"': rename,
    "git reset --hard": elsewhere(
        "bench/run.py",
        r'git\("reset", "--quiet", "--hard"\)',
        "docs/performance.md describes the bench",
    ),
    "git clean -d": elsewhere(
        "bench/run.py",
        r'git\("clean", "--quiet", "-d", "--force"\)',
        "docs/performance.md describes the bench",
    ),
    # The platform team's tools
    "make fleet": make_fleet_reports_in_every_format,
    "make fleet REPOS=fleet/repos.txt": make_fleet_reports_in_every_format,
    "make fleet REPOS=fleet/repos.txt FORMAT=html > fleet.html": make_fleet_reports_in_every_format,
    "make fleet REPOS=fleet/repos.txt FORMAT=markdown": make_fleet_reports_in_every_format,
    "make fleet REPOS=repos.txt": make_fleet_reports_in_every_format,
    "make fleet REPOS=repos.txt FORMAT=html > fleet.html": make_fleet_reports_in_every_format,
    "make fleet REPOS=repos.txt FORMAT=json > fleet.json": make_fleet_reports_in_every_format,
    "make fleet REPOS=repos.txt FORMAT=markdown > fleet.md": make_fleet_reports_in_every_format,
    "make rollout REPOS=fleet/repos.txt DRY_RUN=1": make_rollout_dry_run_lists_and_reaches_nothing,
    "make dev": recipe("repository", "dev", "uv sync --quiet"),
    "make adopt": adoption_goes_as_docs_adopting_shows,
    "make adopt REPO=../their-project": adoption_goes_as_docs_adopting_shows,
    'make adopt REPO=../churn-model ARGS="..."': adoption_goes_as_docs_adopting_shows,
    "git diff --no-index pyproject.toml pyproject.toml.from-template": (
        adoption_goes_as_docs_adopting_shows
    ),
    "git rm": adoption_goes_as_docs_adopting_shows,
    "git rm pyproject.toml.from-template": adoption_goes_as_docs_adopting_shows,
    "git mv": adoption_goes_as_docs_adopting_shows,
    'git commit -m "chore: take copier-ml\'s tooling"': adoption_goes_as_docs_adopting_shows,
    "git push -u origin adopt-copier-ml": adoption_goes_as_docs_adopting_shows,
    "copier update --trust --skip-answered": adoption_goes_as_docs_adopting_shows,
    "copier update --data license=...": run_by(
        f"{UPDATE}::test_changing_an_answer_later_equals_a_fresh_copy_with_it",
        "--data={k}={v}",  # its parameters include {"license": "Apache-2.0"}
    ),
}

#: Checks that install a project: build tests, each on the xdist worker of its project.
BUILD_GROUPS = {"uv run copier ...": "medium-uv", "poetry run copier ...": "medium-poetry"}


def _param(command: str) -> object:
    if command in BUILD_GROUPS:
        marks = [pytest.mark.build, pytest.mark.xdist_group(BUILD_GROUPS[command])]
    else:
        marks = [pytest.mark.xdist_group(GROUP)]
    return pytest.param(command, marks=marks, id=command)


#: Each check's outcome, so that a check several commands share runs once.
_OUTCOMES: dict[Check, BaseException | None] = {}


def _run_once(check: Check, world: World) -> None:
    if check not in _OUTCOMES:
        try:
            check(world)
        except BaseException as failure:
            _OUTCOMES[check] = failure
            raise
        _OUTCOMES[check] = None
    if (failure := _OUTCOMES[check]) is not None:
        raise failure


# The tests


@pytest.mark.xdist_group(GROUP)
def test_every_documented_command_has_a_check(world: World) -> None:
    unknown = {
        command: shown for command, shown in world.documented.items() if command not in DOCUMENTED
    }
    assert not unknown, (
        "a command in the docs without a check: add one to DOCUMENTED in "
        f"tests/test_documented_commands.py: {unknown}"
    )


@pytest.mark.xdist_group(GROUP)
def test_every_check_is_for_a_documented_command(world: World) -> None:
    stale = sorted(set(DOCUMENTED) - set(world.documented))
    assert not stale, f"no document shows these any more: remove them from DOCUMENTED: {stale}"


@pytest.mark.xdist_group(GROUP)
def test_every_copier_switch_the_docs_show_is_one_copier_knows(world: World) -> None:
    """A misspelt or invented switch (`copier check-update --trust`) is caught even where
    the command is only run by another test."""
    _, manual, _ = copier(world.root, "--help-all")
    known = {
        section.split(None, 1)[0]: set(re.findall(r"(?<![\w-])(--?[\w-]+)", section))
        for section in re.split(r"^copier ", manual, flags=re.M)[1:]
    }
    wrong = []
    for command in world.documented:
        words = shlex.split(re.sub(r"\$\(ARGS\)|[<>]", "", command))
        words = words[2:] if words[:2] in (["uv", "run"], ["poetry", "run"]) else words
        if words[0] != "copier" or len(words) < 2 or words[1] == "...":
            continue
        wrong += [
            f"{command}: {word}"
            for word in words[2:]
            if word.startswith("-") and word.split("=")[0] not in known[words[1]]
        ]
    assert wrong == []


@pytest.mark.parametrize("command", [_param(command) for command in DOCUMENTED])
def test_each_documented_command_does_what_the_docs_say(command: str, world: World) -> None:
    _run_once(DOCUMENTED[command], world)
