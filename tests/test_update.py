"""What `copier update` guarantees a project: it arrives where a fresh copy would, and
the team's work survives.

Every test drives copier's command line, as a team or Renovate would, against real git
repositories: a clone of this repository with its release tags, whose newest tag is
the working tree (`template_repo`), and a project generated from it and committed.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from .helpers import (
    ANSWERS,
    TEMPLATE,
    add_dependency,
    answers,
    append,
    changelog_version,
    commit,
    copier,
    generate,
    git,
    recorded_releases,
    release,
    release_tags,
    template_repo,
    tree,
    unresolved,
    update,
)

TIERS = ["small", "medium", "large"]


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This repository's releases, the working tree as the newest; shared, never changed."""
    return template_repo(tmp_path_factory.mktemp("releases") / "copier-ml")


@pytest.fixture
def own_releases(tmp_path: Path) -> tuple[Path, str]:
    """Releases this test may add to."""
    return template_repo(tmp_path / "copier-ml")


# 1. An untouched project, updated from any earlier release, is a fresh copy of the newest.


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("tag", recorded_releases())
def test_untouched_project_updated_from_a_release_equals_a_fresh_copy(
    releases: tuple[Path, str], tmp_path: Path, tag: str, tier: str
) -> None:
    template, newest = releases
    project = generate(template, tag, tmp_path / "project", tier=tier)
    update(project, "-r", newest)
    fresh = generate(template, newest, tmp_path / "fresh", tier=tier)
    assert unresolved(project) == []
    assert tree(project) == tree(fresh)
    assert answers(project) == answers(fresh)


def test_the_changelog_records_at_least_two_releases_of_this_history() -> None:
    """The test above runs from every recorded release: there must be a real path to test."""
    recorded = recorded_releases()
    assert len(recorded) >= 2
    for tag, sha in recorded.items():
        ancestor = git["-C", TEMPLATE, "merge-base", "--is-ancestor", sha, "HEAD"]
        assert ancestor.run(retcode=None)[0] == 0, f"{tag}: {sha} is not in this history"


def test_every_release_tag_is_recorded_in_the_changelog_at_its_commit() -> None:
    """Where the tags are here, they and the changelog agree (see docs/releasing.md)."""
    tagged = {
        tag: git("-C", TEMPLATE, "rev-parse", f"{tag}^{{commit}}").strip()
        for tag in release_tags(TEMPLATE)
    }
    recorded = recorded_releases()
    assert {tag: recorded.get(tag) for tag in tagged} == tagged


def test_the_readme_names_the_newest_release_as_current() -> None:
    """Users get the newest tag: the README must say which one that is."""
    readme = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    assert f"**Current release: v{changelog_version()}**" in readme


# 2. The team's work is kept; the template's changes arrive.


def _team_edits(project: Path, tune_model: bool = True) -> dict[str, str]:
    """Edit a project as a team would; what each edit added, by file."""
    added = {
        "README.md": "\n## What we learned\n\nShallow trees overfit less.\n",
        "docs/decisions.md": "# Decisions\n\nWe keep the wine data.\n",
    }
    if (project / "src").is_dir():
        added |= {
            "src/ml_project/models/train.py": "\n\nTEAM_SEED = 7\n",
            "src/ml_project/models/ensemble.py": '"""Our own module."""\n\nWEIGHTS = (0.5, 0.5)\n',
            "tests/unit/test_ensemble.py": "def test_weights() -> None:\n    assert True\n",
        }
        if tune_model:
            model = project / "configs/model/default.yaml"
            model.write_text(model.read_text().replace("n_estimators: 200", "n_estimators: 321"))
    else:
        notebook = project / "notebooks/exploration.ipynb"
        content = json.loads(notebook.read_text())
        content["cells"].append({"cell_type": "markdown", "id": "team", "metadata": {},
                                 "source": ["Our finding."]})  # fmt: skip
        notebook.write_text(json.dumps(content, indent=1) + "\n")
    add_dependency(project / "pyproject.toml", "rich>=13")
    for name, text in added.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((path.read_text() if path.exists() else "") + text)
    return added


def _template_change(template: Path) -> None:
    """A release that changes files the team also edited, on other lines."""
    append(template / "template/pyproject.toml.jinja", "\n# Added by a later template release.\n")
    readme = template / "template/README.md.jinja"
    title, rest = readme.read_text().split("\n", 1)
    readme.write_text(f"{title}\n\n# Added by a later template release.\n{rest}")


@pytest.mark.parametrize("tier", TIERS)
def test_update_keeps_team_edits_and_brings_template_changes(
    own_releases: tuple[Path, str], tmp_path: Path, tier: str
) -> None:
    template, newest = own_releases
    project = generate(template, newest, tmp_path / "project", tier=tier)
    added = _team_edits(project)
    commit(project, "feat: our work")
    update(project, "-r", release(template, _template_change))
    assert unresolved(project) == []
    for name, text in added.items():
        assert text in (project / name).read_text(), name
    assert '"rich>=13",' in (project / "pyproject.toml").read_text()
    for name in ("README.md", "pyproject.toml"):
        assert "# Added by a later template release." in (project / name).read_text()
    if tier == "small":
        assert "Our finding." in (project / "notebooks/exploration.ipynb").read_text()
    else:
        assert "n_estimators: 321" in (project / "configs/model/default.yaml").read_text()


def _same_line_change(template: Path) -> None:
    config = template / "variants/ml_framework/sklearn/configs/model/default.yaml.jinja"
    config.write_text(config.read_text().replace("n_estimators: 200", "n_estimators: 250"))


def _conflicting_project(template: Path, dst: Path) -> Path:
    project = generate(template, release_tags(template)[-1], dst, tier="medium")
    model = project / "configs/model/default.yaml"
    model.write_text(model.read_text().replace("n_estimators: 200", "n_estimators: 321"))
    commit(project, "feat: more trees")
    return project


def test_same_line_changes_leave_conflict_markers_with_both_sides(
    own_releases: tuple[Path, str], tmp_path: Path
) -> None:
    template, _ = own_releases
    project = _conflicting_project(template, tmp_path / "project")
    update(project, "-r", release(template, _same_line_change))
    text = (project / "configs/model/default.yaml").read_text()
    assert unresolved(project) == ["configs/model/default.yaml"]
    assert "n_estimators: 321" in text and "n_estimators: 250" in text
    unmerged = git("-C", project, "diff", "--name-only", "--diff-filter=U").split()
    assert unmerged == ["configs/model/default.yaml"]


def test_conflict_rej_keeps_the_team_line_and_writes_the_template_hunk(
    own_releases: tuple[Path, str], tmp_path: Path
) -> None:
    template, _ = own_releases
    project = _conflicting_project(template, tmp_path / "project")
    update(project, "-r", release(template, _same_line_change), "--conflict", "rej")
    assert "n_estimators: 250" in (project / "configs/model/default.yaml").read_text()
    rejected = (project / "configs/model/default.yaml.rej").read_text()
    assert "n_estimators: 321" in rejected


# Releases that move files: the team's edits follow them (copier.yml's _migrations).


def test_edits_to_a_moved_test_file_follow_it(releases: tuple[Path, str], tmp_path: Path) -> None:
    template, newest = releases
    project = generate(template, "v0.1.0", tmp_path / "project", tier="medium")
    test_data = project / "tests/test_data.py"
    ours = "    assert raw.shape == (178, 14)  # our team's check\n"
    test_data.write_text(test_data.read_text().replace("    assert raw.shape == (178, 14)\n", ours))
    commit(project, "test: our check")
    log = update(project, "-r", newest)
    moved = (project / "tests/unit/test_data.py").read_text()
    assert ours in moved
    assert "test_make_dataset_writes_raw_and_processed_files" not in moved  # 0.2.0's change
    assert not test_data.exists()
    assert unresolved(project) == []
    assert "Moved your changes to tests/test_data.py into tests/unit/test_data.py" in log


def test_a_dropped_file_the_team_edited_is_put_back(
    own_releases: tuple[Path, str], tmp_path: Path
) -> None:
    template, newest = own_releases
    project = generate(template, newest, tmp_path / "project", tier="medium")
    append(project / "CONTRIBUTING.md", "\nWe pair on every model change.\n")
    commit(project, "docs: our rule")
    log = update(project, "--data=exclude_features=[contributing]", "-r", newest)
    assert "We pair on every model change." in (project / "CONTRIBUTING.md").read_text()
    assert "Kept your edited CONTRIBUTING.md" in log


def test_edits_survive_the_split_of_utils_helpers(
    releases: tuple[Path, str], tmp_path: Path
) -> None:
    """0.4.0 split utils/helpers.py by job: the team's edits to the modules that import it
    survive, and the team's own helpers.py is kept, as its modules still import it."""
    template, newest = releases
    project = generate(template, "v0.3.0", tmp_path / "project", tier="medium")
    append(project / "src/ml_project/models/train.py", "\n\nTEAM_SEED = 7\n")
    append(
        project / "src/ml_project/utils/helpers.py", "\n\ndef team_helper() -> int:\n    return 7\n"
    )
    commit(project, "feat: our seed and helper")
    log = update(project, "-r", newest)
    train = (project / "src/ml_project/models/train.py").read_text()
    assert "TEAM_SEED = 7" in train
    assert "from ml_project.utils.config import ModelConfig, TrainingConfig" in train
    assert "def team_helper()" in (project / "src/ml_project/utils/helpers.py").read_text()
    assert "Kept your edited src/ml_project/utils/helpers.py" in log
    assert (project / "src/ml_project/utils/config_loader.py").is_file()
    assert unresolved(project) == []


# 3. Growing in place, and going down.


def _notebook_with_a_finding(project: Path) -> None:
    notebook = project / "notebooks/exploration.ipynb"
    content = json.loads(notebook.read_text())
    content["cells"].append({"cell_type": "markdown", "id": "team", "metadata": {},
                             "source": ["Our finding."]})  # fmt: skip
    notebook.write_text(json.dumps(content, indent=1) + "\n")
    (project / "notebooks/02_more.ipynb").write_text(notebook.read_text())
    append(project / "data/sample.csv", "")
    (project / "data/ours.csv").write_text("a,b\n1,2\n")


def test_small_grows_to_medium_then_large_keeping_notebooks_and_data(
    releases: tuple[Path, str], tmp_path: Path
) -> None:
    template, newest = releases
    project = generate(template, newest, tmp_path / "project", tier="small")
    _notebook_with_a_finding(project)
    commit(project, "feat: our analysis")
    ours = {name: content for name, content in tree(project).items() if "notebooks" in name
            or name.startswith("data/")}  # fmt: skip
    for tier in ("medium", "large"):
        update(project, f"--data=tier={tier}", "-r", newest)
        assert unresolved(project) == []
        commit(project, f"chore: grow to {tier}")
        fresh = tree(generate(template, newest, tmp_path / f"fresh-{tier}", tier=tier))
        grown = tree(project)
        assert set(fresh) <= set(grown)
        assert {name: grown[name] for name in fresh if name != "README.md"} == {
            name: content for name, content in fresh.items() if name != "README.md"
        }
        for name, content in ours.items():
            if name != "data/sample.csv":  # untouched: the template's own sample goes
                assert grown[name] == content, name
        assert answers(project)["tier"] == tier


def test_a_feature_switched_on_later_arrives_like_a_fresh_copy(
    releases: tuple[Path, str], tmp_path: Path
) -> None:
    template, newest = releases
    project = generate(template, newest, tmp_path / "project", tier="medium")
    update(project, "--data=include_features=[dvc]", "-r", newest)
    fresh = generate(template, newest, tmp_path / "fresh", tier="medium",
                     include_features="[dvc]")  # fmt: skip
    assert unresolved(project) == []
    assert tree(project) == tree(fresh)


def test_going_down_a_tier_equals_a_fresh_copy_of_the_smaller_tier(
    releases: tuple[Path, str], tmp_path: Path
) -> None:
    template, newest = releases
    project = generate(template, newest, tmp_path / "project", tier="large")
    update(project, "--data=tier=medium", "-r", newest)
    fresh = generate(template, newest, tmp_path / "fresh", tier="medium")
    assert unresolved(project) == []
    assert tree(project) == tree(fresh)


# 4. Other answers changed later.


@pytest.mark.parametrize(
    "change",
    [
        {"experiment_tracker": "none"},
        {"experiment_tracker": "wandb"},
        {"ml_framework": "pytorch"},
        {"config_system": "hydra"},
        {"package_manager": "poetry"},
        {"python_version": "3.12"},
        {"license": "Apache-2.0"},
    ],
    ids=lambda change: "-".join(f"{k}={v}" for k, v in change.items()),
)
def test_changing_an_answer_later_equals_a_fresh_copy_with_it(
    releases: tuple[Path, str], tmp_path: Path, change: dict[str, str]
) -> None:
    template, newest = releases
    project = generate(template, newest, tmp_path / "project", tier="medium")
    update(project, *(f"--data={k}={v}" for k, v in change.items()), "-r", newest)
    fresh = generate(template, newest, tmp_path / "fresh", tier="medium", **change)
    assert unresolved(project) == []
    assert tree(project) == tree(fresh)


#: The choices a team may switch on an existing project.
SWITCHES = [
    {"experiment_tracker": "wandb"},
    {"ml_framework": "pytorch"},
    {"config_system": "hydra"},
    {"experiment_tracker": "wandb", "ml_framework": "pytorch", "config_system": "hydra"},
]


def _dependencies(project: Path) -> list[str]:
    return list(tomllib.loads((project / "pyproject.toml").read_text())["project"]["dependencies"])


@pytest.mark.parametrize(
    "change", SWITCHES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items())
)
def test_switching_a_choice_swaps_dependencies_and_code_and_keeps_team_work(
    releases: tuple[Path, str], tmp_path: Path, change: dict[str, str]
) -> None:
    template, newest = releases
    project = generate(template, newest, tmp_path / "project", tier="medium")
    added = _team_edits(project, tune_model=False)
    commit(project, "feat: our work")
    update(project, *(f"--data={k}={v}" for k, v in change.items()), "-r", newest)
    fresh = tree(generate(template, newest, tmp_path / "fresh", tier="medium", **change))
    switched = tree(project)
    assert unresolved(project) == []
    for name, text in added.items():
        assert text in switched[name].decode(), name
    assert set(switched) == set(fresh) | set(added)
    untouched = set(fresh) - set(added) - {"pyproject.toml"}
    assert {name: switched[name] for name in untouched} == {name: fresh[name] for name in untouched}
    assert _dependencies(project) == sorted(["rich>=13", *_dependencies(tmp_path / "fresh")])
    assert {k: answers(project)[k] for k in change} == change


# 6. Large ignored data is neither copied nor touched.


def test_large_ignored_data_is_left_alone(own_releases: tuple[Path, str], tmp_path: Path) -> None:
    template, _ = own_releases
    project = generate(template, release_tags(template)[-1], tmp_path / "project")
    big = project / "data/raw/images.bin"
    with big.open("wb") as sparse:  # 2 GiB on paper, no disk: a stand-in for real data
        sparse.truncate(2 * 1024**3)
    before = big.stat()
    update(project, "-r", release(template, _template_change))
    after = big.stat()
    assert (after.st_size, after.st_ino, after.st_mtime_ns) == (
        before.st_size,
        before.st_ino,
        before.st_mtime_ns,
    )
    assert "data/raw" not in git("-C", project, "status", "--porcelain")


# 8. The command Renovate's copier manager runs.


@pytest.mark.parametrize("tier", TIERS)
def test_renovate_command_updates_every_tier_non_interactively(
    own_releases: tuple[Path, str], tmp_path: Path, tier: str
) -> None:
    template, newest = own_releases
    project = generate(template, newest, tmp_path / "project", tier=tier)
    tag = release(template, _template_change)
    copier(project, "update", "--skip-answered", "--defaults", "--trust",
           "--answers-file", ANSWERS, "--vcs-ref", tag)  # fmt: skip
    assert "# Added by a later template release." in (project / "README.md").read_text()
    assert answers(project)["_commit"] == tag
    assert unresolved(project) == []
