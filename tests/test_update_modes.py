"""`copier update` loses nothing in every mode the template offers, and says what it did.

A platform team's realistic release (a file moved, a dependency bumped, a line the team
also changed, a notebook reworded, a new editor settings file) and a broken one are cut
on top of this working tree; edited projects then cross them inline and with
``--conflict rej``, grow, shrink and switch features off.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
from pathspec import GitIgnoreSpec

from .helpers import (
    ANSWERS,
    add_dependency,
    append,
    commit,
    copier,
    generate,
    git,
    load_extension,
    next_release,
    release,
    template_repo,
    tree,
)

#: One worker: the releases below are cut once for the whole module.
pytestmark = pytest.mark.xdist_group("update-modes")

MODES = ["inline", "rej"]
MARKERS = ("<<<<<<< before updating", ">>>>>>> after updating")
#: What the team writes: a line the release rewrites too, and a paragraph of its own.
TEAM_TITLE = "# Contributing to ML Project (read this first)\n"
TEAM_RULE = "\nWe pair on every model change.\n"


class Releases(NamedTuple):
    template: Path
    head: str  # this working tree
    realistic: str  # a later release, see _realistic_release
    broken: str  # the realistic release with a template that fails to render


def _realistic_release(template: Path) -> None:
    version = next_release(template)
    git(
        "-C",
        template,
        "mv",
        "template/CONTRIBUTING.md.jinja",
        "template/.github/CONTRIBUTING.md.jinja",
    )
    features = template / "extensions/features.py"
    features.write_text(
        features.read_text().replace('("CONTRIBUTING.md",)', '(".github/CONTRIBUTING.md",)')
    )
    append(
        template / "extensions/moves.py",
        f'\nMOVES["{version}"] = {{"CONTRIBUTING.md": ".github/CONTRIBUTING.md"}}\n',
    )
    contributing = template / "template/.github/CONTRIBUTING.md.jinja"
    contributing.write_text(
        contributing.read_text().replace("# Contributing to", "# How to contribute to", 1)
    )
    dependencies = template / "extensions/dependencies.py"
    dependencies.write_text(dependencies.read_text().replace('"joblib>=1.4"', '"joblib>=1.5"'))
    notebook = template / "template/notebooks/01_exploration.ipynb.jinja"
    notebook.write_text(
        notebook.read_text().replace('"# 01 Exploration\\n"', '"# 01 First look\\n"')
    )
    readme = template / "template/README.md.jinja"
    title, rest = readme.read_text().split("\n", 1)
    readme.write_text(f"{title}\n\n# Added by a later template release.\n{rest}")
    settings = template / "template/.vscode/settings.json"
    settings.parent.mkdir()
    settings.write_text('{"editor.rulers": [100]}\n')


def _broken_release(template: Path) -> None:
    append(template / "template/README.md.jinja", "\nA line the broken release adds.\n")
    (template / "template/zz_broken.txt.jinja").write_text("{{ no_such_answer }}\n")


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Releases:
    template, head = template_repo(tmp_path_factory.mktemp("releases") / "copier-ml")
    realistic = release(template, _realistic_release)
    return Releases(template, head, realistic, release(template, _broken_release))


def run_update(project: Path, *args: str, retcode: int | None = 0) -> tuple[int, str]:
    code, out, err = copier(
        project, "update", "--trust", "--defaults", "--skip-answered", *args, retcode=retcode
    )
    return code, out + err


def files_with_markers(project: Path) -> list[str]:
    return sorted(
        name
        for name, content in tree(project).items()
        if any(line.startswith(MARKERS) for line in content.decode(errors="replace").splitlines())
    )


def rejects(project: Path) -> list[str]:
    return sorted(name for name in tree(project) if name.endswith(".rej"))


def orphan_rejects(project: Path) -> list[str]:
    return [
        name for name in rejects(project) if not (project / name.removesuffix(".rej")).is_file()
    ]


def edit_contributing(project: Path) -> None:
    path = project / "CONTRIBUTING.md"
    title, rest = path.read_text().split("\n", 1)
    path.write_text(TEAM_TITLE + rest + TEAM_RULE)


NOTEBOOK = "notebooks/01_exploration.ipynb"
OWN_SETTINGS = '{"python.defaultInterpreterPath": ".venv/bin/python"}\n'


class Updated(NamedTuple):
    project: Path
    log: str
    mode: str
    notebook: bytes  # the team's notebook, as committed


@pytest.fixture(scope="module", params=MODES)
def updated(
    request: pytest.FixtureRequest, releases: Releases, tmp_path_factory: pytest.TempPathFactory
) -> Updated:
    """A medium project a team edited as teams do, updated across the realistic release.

    Each edit meets one change of the release: the moved CONTRIBUTING.md (one line both
    changed, one paragraph only the team wrote), a dependency added next to one the
    release bumps, a notebook title both changed, a README saved with CRLF, and the
    developer's own ignored editor settings where the release starts shipping some.
    """
    mode = request.param
    dst = tmp_path_factory.mktemp(f"edited-{mode}") / "project"
    project = generate(releases.template, releases.head, dst, tier="medium")
    edit_contributing(project)
    add_dependency(project / "pyproject.toml", "lightgbm>=4.5")  # where uv adds it:
    assert '"joblib>=1.4",\n    "lightgbm>=4.5",' in (project / "pyproject.toml").read_text()
    notebook = project / NOTEBOOK
    notebook.write_text(notebook.read_text().replace('"# 01 Exploration\\n"', '"# 01 Our look\\n"'))
    readme = project / "README.md"
    team = readme.read_text() + "\n## What we learned\n\nShallow trees overfit less.\n"
    readme.write_bytes(team.replace("\n", "\r\n").encode())  # an editor that saves CRLF
    commit(project, "feat: our work")
    ours = notebook.read_bytes()
    (project / ".vscode").mkdir()
    (project / ".vscode/settings.json").write_text(OWN_SETTINGS)  # ignored: never committed
    _, log = run_update(project, "-r", releases.realistic, "--conflict", mode)
    return Updated(project, log, mode, ours)


# 1. The mode the user chose is the mode of every conflict, moves and drops included.


def test_edits_to_a_moved_file_land_at_its_new_path_in_the_chosen_mode(updated: Updated) -> None:
    project, log = updated.project, updated.log
    moved = (project / ".github/CONTRIBUTING.md").read_text()
    assert not (project / "CONTRIBUTING.md").exists()
    assert TEAM_RULE in moved  # the clean part of the edit
    assert "Moved your changes to CONTRIBUTING.md into .github/CONTRIBUTING.md" in log
    if updated.mode == "rej":
        assert TEAM_TITLE.strip() in (project / ".github/CONTRIBUTING.md.rej").read_text()
        assert moved.startswith("# How to contribute to")
    else:
        assert TEAM_TITLE in moved and "# How to contribute to" in moved


def test_every_conflict_is_left_in_the_chosen_mode_and_no_reject_is_orphaned(
    updated: Updated,
) -> None:
    project = updated.project
    assert orphan_rejects(project) == []
    if updated.mode == "rej":
        assert files_with_markers(project) == []
        assert rejects(project) == [".github/CONTRIBUTING.md.rej"]
    else:
        assert rejects(project) == []
        assert files_with_markers(project) == [".github/CONTRIBUTING.md"]


@pytest.mark.parametrize("mode", MODES)
def test_edited_files_a_shrink_or_a_feature_switched_off_drops_are_put_back_with_no_reject(
    releases: Releases, tmp_path: Path, mode: str
) -> None:
    project = generate(releases.template, releases.head, tmp_path / "project", tier="large")
    dropped = ["src/ml_project/serving/app.py", "CONTRIBUTING.md"]  # by medium, by the feature
    for name in dropped:
        append(project / name, "\n# Our own addition.\n")
    commit(project, "feat: our additions")
    _, log = run_update(project, "-d", "tier=medium", "-d", "exclude_features=[contributing]",
                        "-r", releases.head, "--conflict", mode)  # fmt: skip
    for name in dropped:
        assert (project / name).read_text().endswith("\n# Our own addition.\n")
        assert f"Kept your edited {name}" in log
    assert rejects(project) == files_with_markers(project) == []


# 2. Renames are safe: moves chain, and the team's deletions and renames hold.


def test_moves_chain_from_the_oldest_release_to_the_newest_path() -> None:
    moves = load_extension("moves")
    saved = dict(moves.MOVES)
    try:
        moves.MOVES["9.1.0"] = {"tests/unit/test_data.py": "tests/unit/data/test_data.py"}
        chained = moves.moves_between("0.1.0", "9.1.0")
        assert chained["tests/test_data.py"] == "tests/unit/data/test_data.py"
        assert moves.moves_between("0.2.0", "9.1.0") == moves.MOVES["9.1.0"]
        assert "tests/test_data.py" not in moves.moves_between("0.2.0", "9.0.0")
    finally:
        moves.MOVES.clear()
        moves.MOVES.update(saved)


def test_a_post_release_commit_is_past_that_releases_moves() -> None:
    moves = load_extension("moves")
    assert moves.moves_between("0.2.0.post3.dev0+g1234567", "0.4.0") == {}
    assert "tests/test_data.py" in moves.moves_between("0.1.0.post2.dev0+gabcdef0", "0.4.0")


def test_a_file_the_team_deleted_does_not_come_back_at_its_moved_path(
    releases: Releases, tmp_path: Path
) -> None:
    project = generate(releases.template, "v0.1.0", tmp_path / "project", tier="medium")
    git("-C", project, "rm", "--quiet", "tests/test_features.py")
    commit(project, "test: we test features elsewhere")
    _, log = run_update(project, "-r", releases.realistic, "--conflict", "rej")
    assert not (project / "tests/unit/test_features.py").exists()
    assert "Left out tests/unit/test_features.py" in log
    assert rejects(project) == []


def test_a_file_the_team_renamed_is_not_generated_again_beside_it(
    releases: Releases, tmp_path: Path
) -> None:
    project = generate(releases.template, "v0.1.0", tmp_path / "project", tier="medium")
    ours = (project / "tests/test_models.py").read_bytes()
    git("-C", project, "mv", "tests/test_models.py", "tests/test_our_models.py")
    commit(project, "test: our name")
    run_update(project, "-r", releases.realistic)
    assert not (project / "tests/unit/test_models.py").exists()
    assert (project / "tests/test_our_models.py").read_bytes() == ours
    assert rejects(project) == files_with_markers(project) == []


# 3. Nothing ignored or untracked is overwritten; no tier change puts data before git.


#: What no tier's .gitignore may let git see, and the placeholders it must let through.
NEVER_IN_GIT = ["data/raw/wine.csv", "data/processed/train.parquet", "data/interim/x.csv",
                "data/external/x.csv", "models/model.joblib", "models/model.pt", ".env",
                "secrets/token.txt", "credentials/gcp.json"]  # fmt: skip
PLACEHOLDERS = ["data/raw/.gitkeep", "data/processed/.gitkeep", "models/.gitkeep"]


@pytest.mark.parametrize("tier", ["small", "medium", "large"])
def test_every_tier_ignores_data_models_and_secrets(
    rendered: Callable[..., Path], tier: str
) -> None:
    gitignore = (rendered(tier=tier) / ".gitignore").read_text().splitlines()
    ignored = GitIgnoreSpec.from_lines(gitignore)
    assert [name for name in NEVER_IN_GIT if not ignored.match_file(name)] == []
    assert [name for name in PLACEHOLDERS if ignored.match_file(name)] == []


def test_shrinking_a_tier_leaves_data_and_models_ignored(
    releases: Releases, tmp_path: Path
) -> None:
    project = generate(releases.template, releases.head, tmp_path / "project", tier="medium")
    for name in ("data/raw/wine.csv", "data/processed/train.csv", "models/model.joblib"):
        (project / name).write_text("1,2\n")
    run_update(project, "-d", "tier=small", "-r", releases.head)
    status = git("-C", project, "status", "--porcelain", "--untracked-files=all").splitlines()
    untracked = [line[3:] for line in status if line.startswith("??")]
    assert [
        name for name in untracked if name.startswith(("data/raw", "data/processed", "models/"))
    ] == []


# 4. All or nothing.


def test_a_failed_update_leaves_the_project_as_it_was_and_says_how_to_retry(
    releases: Releases, tmp_path: Path
) -> None:
    project = generate(releases.template, releases.head, tmp_path / "project", tier="medium")
    edit_contributing(project)
    commit(project, "docs: our rules")
    before = tree(project) | {ANSWERS: (project / ANSWERS).read_bytes()}
    code, log = run_update(project, "-r", releases.broken, retcode=None)
    assert code != 0
    assert "no_such_answer" in log
    assert "put back as it was" in log and "run the same `copier update` command again" in log
    assert tree(project) | {ANSWERS: (project / ANSWERS).read_bytes()} == before
    assert git("-C", project, "status", "--porcelain", "--ignored") == ""
    assert not (project / ".git/copier-ml-update").exists()


# 3. (continued) The developer's own file where the release starts shipping one.


def test_an_ignored_file_in_the_way_of_a_new_template_file_is_kept_beside_it(
    updated: Updated,
) -> None:
    project = updated.project
    assert (project / ".vscode/settings.json").read_text() == '{"editor.rulers": [100]}\n'
    assert (project / ".vscode/settings.json.mine").read_text() == OWN_SETTINGS
    line = "Kept your untracked .vscode/settings.json as .vscode/settings.json.mine"
    assert line in updated.log


# 7. Cleaner merges where the structure allows.


def test_a_dependency_added_next_to_a_bumped_one_merges_cleanly(updated: Updated) -> None:
    project = updated.project
    dependencies = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert {"joblib>=1.5", "lightgbm>=4.5"} <= set(dependencies["dependencies"])
    assert "joblib>=1.4" not in dependencies["dependencies"]
    assert not (project / "pyproject.toml.rej").exists()
    assert "Merged pyproject.toml entry by entry" in updated.log


def test_no_file_is_left_unmerged_in_the_index_but_the_conflict(updated: Updated) -> None:
    unmerged = git("-C", updated.project, "diff", "--name-only", "--diff-filter=U").split()
    assert unmerged == ([] if updated.mode == "rej" else [".github/CONTRIBUTING.md"])


def test_a_readme_saved_with_crlf_merges_line_by_line(updated: Updated) -> None:
    text = (updated.project / "README.md").read_text()
    assert "# Added by a later template release." in text
    assert "Shallow trees overfit less." in text


def test_a_conflicting_notebook_stays_a_notebook_with_the_templates_beside_it(
    updated: Updated,
) -> None:
    project = updated.project
    assert (project / NOTEBOOK).read_bytes() == updated.notebook
    beside = project / "notebooks/01_exploration.from-template.ipynb"
    assert json.loads(beside.read_text())["cells"][0]["source"][0] == "# 01 First look\n"
    assert f"Kept your {NOTEBOOK} whole" in updated.log


# 10. Speed: the migration reuses copier's render of the recorded release.


def test_the_before_step_reuses_copiers_render_of_this_project_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = load_extension("keep_team_work")
    monkeypatch.setattr(steps.tempfile, "tempdir", str(tmp_path))
    project, ours = tmp_path / "project", "_commit: v0.4.0\ntier: medium\n"
    renders = {"a-further-along": ours, "b-other-answers": "_commit: v0.4.0\ntier: large\n",
               "c-this-project": ours}  # fmt: skip
    for name, recorded in renders.items():
        folder = tmp_path / f"{steps.OLD_COPY_PREFIX}{name}"
        folder.mkdir()
        (folder / ANSWERS).write_text(recorded)
        (folder / "README.md").write_text(name)
    (tmp_path / f"{steps.OLD_COPY_PREFIX}a-further-along" / ".git").mkdir()  # merging already
    project.mkdir()
    (project / ANSWERS).write_text(ours)
    monkeypatch.chdir(project)
    found = steps.copiers_old_copy(ANSWERS, tmp_path / "found")
    assert found is not None and (found / "README.md").read_text() == "c-this-project"
    assert steps.copiers_old_copy("no-such-answers.yml", tmp_path / "none") is None
