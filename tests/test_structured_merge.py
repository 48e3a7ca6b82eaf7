"""extensions/structured_merge.py: pyproject.toml merged dependency by dependency."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest
import tomlkit

from .helpers import TEMPLATE, load_extension

merge_pyproject = load_extension("structured_merge").merge_pyproject

#: A uv project as the template renders it.
UV = """\
[project]
name = "churn-model"
version = "0.1.0"
description = "Predict which customers leave."
readme = "README.md"
requires-python = ">=3.10"
license = "MIT"
authors = [{ name = "Ada Lovelace", email = "ada@example.com" }]
dependencies = [
    "joblib>=1.4",
    "numpy>=2.0",
    "pandas>=2.2",
    "scikit-learn>=1.5",
]

[project.optional-dependencies]
serve = [
    "fastapi>=0.115",
    "uvicorn>=0.30",
]

[dependency-groups]
dev = [
    "mypy>=1.11",
    "pytest>=8.3",
    "pytest-cov>=5.0",
    "ruff>=0.6",
]

[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[tool.ruff]
line-length = 88
target-version = "py310"

[tool.ruff.lint]
select = ["E", "F", "I"]
"""

#: A project with Poetry's own dependency tables.
POETRY = """\
[tool.poetry]
name = "churn-model"
version = "0.1.0"
description = "Predict which customers leave."
authors = ["Ada Lovelace <ada@example.com>"]
package-mode = false

[[tool.poetry.source]]
name = "pytorch"
url = "https://wheels.example.com/cpu"
priority = "explicit"

[tool.poetry.dependencies]
python = ">=3.10,<3.14"
joblib = "^1.4"
numpy = "^2.0"
torch = { version = "^2.5", source = "pytorch" }

[tool.poetry.group.dev.dependencies]
pytest = "^8.3"
ruff = "^0.6"
"""


def edit(text: str, *changes: tuple[str, str]) -> str:
    """The text with each (old, new) replaced, each old found exactly once."""
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def entry(requirement: str) -> str:
    """A line of a dependency array, as the template writes it."""
    return f'    "{requirement}",\n'


def add_after(text: str, line: str, *added: str) -> str:
    return edit(text, (line, line + "".join(added)))


def merged(base: str, ours: str, theirs: str) -> str:
    """A merge that must succeed, and give TOML."""
    result = merge_pyproject(base, ours, theirs)
    assert result is not None
    tomlkit.parse(result)
    return result


def line_merge_conflicts(base: str, ours: str, theirs: str, tmp_path: Path) -> int:
    """How many conflicts copier's own kind of merge, line by line, leaves."""
    for name, text in (("base", base), ("ours", ours), ("theirs", theirs)):
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        ["git", "merge-file", "-p", "ours", "base", "theirs"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    return done.returncode


JOBLIB, BUMPED_JOBLIB, LIGHTGBM = entry("joblib>=1.4"), entry("joblib>=1.5"), entry("lightgbm>=4.5")
NUMPY = entry("numpy>=2.0")

#: In each, the release bumps a dependency and the team adds one on the line after it.
NEIGHBOURS = {
    "project-dependencies": (UV, JOBLIB, BUMPED_JOBLIB, LIGHTGBM),
    "optional-dependencies": (
        UV, entry("fastapi>=0.115"), entry("fastapi>=0.116"), entry("pydantic>=2.9")
    ),
    "dependency-groups": (
        UV, entry("pytest-cov>=5.0"), entry("pytest-cov>=6.0"), entry("pytest-xdist>=3.6")
    ),
    "poetry-dependencies": (
        POETRY, 'joblib = "^1.4"\n', 'joblib = "^1.5"\n', 'lightgbm = "^4.5"\n'
    ),
    "poetry-group": (
        POETRY, 'pytest = "^8.3"\n', 'pytest = "^8.4"\n', 'pytest-xdist = "^3.6"\n'
    ),
}  # fmt: skip


@pytest.mark.parametrize(("base", "old", "bumped", "added"), NEIGHBOURS.values(), ids=NEIGHBOURS)
def test_team_addition_next_to_a_template_bump_merges_cleanly(
    base: str, old: str, bumped: str, added: str, tmp_path: Path
) -> None:
    ours = add_after(base, old, added)
    theirs = edit(base, (old, bumped))
    assert line_merge_conflicts(base, ours, theirs, tmp_path) > 0

    assert merged(base, ours, theirs) == edit(base, (old, bumped + added))


def test_team_additions_to_a_sorted_list_go_where_they_sort() -> None:
    ours = add_after(UV, JOBLIB, LIGHTGBM)
    theirs = edit(UV, (JOBLIB, BUMPED_JOBLIB + entry("kiwisolver>=1.4")))

    expected = BUMPED_JOBLIB + entry("kiwisolver>=1.4") + LIGHTGBM + NUMPY
    assert expected in merged(UV, ours, theirs)


def test_team_additions_to_an_unsorted_list_follow_the_entry_before_them() -> None:
    base = edit(UV, (JOBLIB, entry("torch>=2.5") + JOBLIB))
    ours = add_after(base, JOBLIB, LIGHTGBM)
    theirs = edit(base, (JOBLIB, BUMPED_JOBLIB + entry("kiwisolver>=1.4")))

    expected = entry("torch>=2.5") + BUMPED_JOBLIB + LIGHTGBM + entry("kiwisolver>=1.4")
    assert expected in merged(base, ours, theirs)


@pytest.mark.parametrize(
    ("ours_line", "theirs_line"),
    [
        pytest.param(entry("numpy>=2.1"), entry("numpy>=2.2"), id="both-bump"),
        pytest.param("", entry("numpy>=2.2"), id="team-removes-template-bumps"),
        pytest.param(entry("numpy>=2.1"), "", id="team-bumps-template-removes"),
    ],
)
def test_both_sides_change_the_same_dependency_differently_is_a_conflict(
    ours_line: str, theirs_line: str
) -> None:
    ours = edit(UV, (NUMPY, ours_line))
    theirs = edit(UV, (NUMPY, theirs_line))

    assert merge_pyproject(UV, ours, theirs) is None


@pytest.mark.parametrize(
    "change",
    [
        pytest.param((NUMPY, entry("numpy>=2.1")), id="bump"),
        pytest.param((NUMPY, NUMPY + entry("numpydoc>=1.8")), id="addition"),
    ],
)
def test_same_change_on_both_sides_is_taken_once(change: tuple[str, str]) -> None:
    ours = edit(UV, change, (JOBLIB, JOBLIB + LIGHTGBM))
    theirs = edit(UV, change, (JOBLIB, BUMPED_JOBLIB))

    assert merged(UV, ours, theirs) == edit(UV, change, (JOBLIB, BUMPED_JOBLIB + LIGHTGBM))


def test_team_removal_of_an_untouched_dependency_is_kept(tmp_path: Path) -> None:
    ours = edit(UV, (NUMPY, ""))
    theirs = edit(UV, (JOBLIB, BUMPED_JOBLIB))
    assert line_merge_conflicts(UV, ours, theirs, tmp_path) > 0

    assert merged(UV, ours, theirs) == edit(theirs, (NUMPY, ""))


def test_template_removal_of_a_dependency_the_team_kept_unchanged_is_taken(
    tmp_path: Path,
) -> None:
    ours = add_after(UV, JOBLIB, LIGHTGBM)
    theirs = edit(UV, (NUMPY, ""))
    assert line_merge_conflicts(UV, ours, theirs, tmp_path) > 0

    assert merged(UV, ours, theirs) == edit(ours, (NUMPY, ""))


@pytest.mark.parametrize("spelling", ['"joblib >= 1.4"', '"Joblib>=1.4"', "'joblib>=1.4'"])
def test_a_respelled_requirement_counts_as_unchanged(spelling: str) -> None:
    ours = edit(UV, ('"joblib>=1.4"', spelling))
    theirs = edit(UV, (JOBLIB, BUMPED_JOBLIB))

    assert merged(UV, ours, theirs) == theirs


def test_requirements_that_differ_by_marker_are_separate_entries() -> None:
    older = entry("numpy>=1.26,<2; python_version < '3.11'")
    ours = add_after(UV, NUMPY, older)
    theirs = edit(UV, (NUMPY, entry("numpy>=2.1")))

    assert merged(UV, ours, theirs) == edit(UV, (NUMPY, entry("numpy>=2.1") + older))


def test_include_group_tables_are_entries_keyed_by_their_group() -> None:
    test, docs = '    { include-group = "test" },\n', '    { include-group = "docs" },\n'
    base = edit(UV, (entry("mypy>=1.11"), test + entry("mypy>=1.11")))
    ours = add_after(base, test, docs)
    theirs = edit(base, (entry("mypy>=1.11"), entry("mypy>=1.13")))

    assert test + docs + entry("mypy>=1.13") in merged(base, ours, theirs)


def with_docs_group(text: str) -> str:
    return add_after(text, entry("ruff>=0.6") + "]\n", '\ndocs = [\n    "mkdocs>=1.6",\n]\n')


@pytest.mark.parametrize("side", ["ours", "theirs"])
def test_a_list_added_by_one_side_is_kept(side: str) -> None:
    sides = {"ours": add_after(UV, JOBLIB, LIGHTGBM), "theirs": edit(UV, (JOBLIB, BUMPED_JOBLIB))}
    sides[side] = with_docs_group(sides[side])

    assert merged(UV, **sides) == with_docs_group(edit(UV, (JOBLIB, BUMPED_JOBLIB + LIGHTGBM)))


SERVE = "serve = [\n" + entry("fastapi>=0.115") + entry("uvicorn>=0.30") + "]\n"


@pytest.mark.parametrize("side", ["ours", "theirs"])
def test_a_list_one_side_removed_and_the_other_left_alone_is_removed(side: str) -> None:
    sides = {"ours": add_after(UV, JOBLIB, LIGHTGBM), "theirs": edit(UV, (JOBLIB, BUMPED_JOBLIB))}
    sides[side] = edit(sides[side], (SERVE, ""))

    assert merged(UV, **sides) == edit(UV, (JOBLIB, BUMPED_JOBLIB + LIGHTGBM), (SERVE, ""))


@pytest.mark.parametrize("side", ["ours", "theirs"])
def test_a_list_one_side_removed_and_the_other_changed_is_a_conflict(side: str) -> None:
    changed, removed = edit(UV, ('"uvicorn>=0.30"', '"uvicorn>=0.32"')), edit(UV, (SERVE, ""))
    sides = {"ours": changed, "theirs": changed, side: removed}

    assert merge_pyproject(UV, **sides) is None


DESCRIPTION = '"Predict which customers leave."'


def test_non_dependency_edits_still_merge_as_lines() -> None:
    ours = edit(
        add_after(UV, JOBLIB, LIGHTGBM),
        (DESCRIPTION, '"Predict churn, weekly."'),
        ("line-length = 88", "line-length = 100"),
    )
    theirs = edit(UV, ('">=3.10"', '">=3.11"'), (JOBLIB, BUMPED_JOBLIB))

    assert merged(UV, ours, theirs) == edit(ours, ('">=3.10"', '">=3.11"'), (JOBLIB, BUMPED_JOBLIB))


def test_overlapping_non_dependency_edits_are_a_conflict() -> None:
    ours = edit(UV, (DESCRIPTION, '"Predict churn, weekly."'), (JOBLIB, JOBLIB + LIGHTGBM))
    theirs = edit(UV, (DESCRIPTION, '"Predict churn."'), (JOBLIB, BUMPED_JOBLIB))

    assert merge_pyproject(UV, ours, theirs) is None


@pytest.mark.parametrize("side", ["base", "ours", "theirs"])
def test_invalid_toml_gives_no_merge(side: str) -> None:
    texts = {"base": UV, "ours": UV, "theirs": UV, side: edit(UV, ("[tool.ruff]", "[tool.ruff"))}

    assert merge_pyproject(**texts) is None


def test_an_unreadable_requirement_gives_no_merge() -> None:
    ours = edit(UV, ('"joblib>=1.4"', '"joblib>=>1.4"'))
    theirs = edit(UV, (NUMPY, entry("numpy>=2.1")))

    assert merge_pyproject(UV, ours, theirs) is None


def test_a_layout_tomlkit_cannot_write_back_gives_no_merge() -> None:
    # A group after an array of tables: tomlkit 0.15 writes it back before that array.
    docs = '\n[[tool.poetry.source]]\nname = "mirror"\n\n[tool.poetry.group.docs.dependencies]\n'
    base = POETRY + docs + 'mkdocs = "^1.6"\n'
    writes_it_back = tomlkit.dumps(tomlkit.parse(base)) == base  # once tomlkit is fixed

    result = merge_pyproject(base, base, edit(base, ('"^1.6"', '"^1.7"')))

    assert (result is not None) == writes_it_back


def test_crlf_team_file_keeps_its_line_endings() -> None:
    ours = add_after(UV, JOBLIB, LIGHTGBM)
    theirs = edit(UV, (JOBLIB, BUMPED_JOBLIB))

    result = merged(UV, ours.replace("\n", "\r\n"), theirs)

    assert result == edit(ours, (JOBLIB, BUMPED_JOBLIB)).replace("\n", "\r\n")


@pytest.mark.parametrize(("base", "old", "bumped", "added"), NEIGHBOURS.values(), ids=NEIGHBOURS)
def test_files_without_a_final_newline_merge_without_one(
    base: str, old: str, bumped: str, added: str
) -> None:
    base, old, bumped = base.rstrip("\n"), old.rstrip("\n"), bumped.rstrip("\n")
    ours = add_after(base, old, "\n" + added.rstrip("\n"))
    theirs = edit(base, (old, bumped))

    assert merged(base, ours, theirs) == edit(base, (old, bumped + "\n" + added.rstrip("\n")))


def test_comments_and_formatting_survive() -> None:
    base = edit(UV, (NUMPY, "    # pandas needs it\n" + NUMPY))
    ours = edit(
        base,
        ("dependencies = [\n", "dependencies = [  # what the model needs at run time\n"),
        (JOBLIB, '    "joblib>=1.4",  # model files\n' + LIGHTGBM),
        (entry("scikit-learn>=1.5"), entry("scikit-learn>=1.5") + '    # "xgboost>=2.1",\n'),
        ("\n[build-system]", "\n# Hatch builds the wheel.\n[build-system]"),
        ('select = ["E", "F", "I"]', 'select = ["E", "F", "I"]  # the defaults, and isort'),
    )
    theirs = edit(base, ('"joblib>=1.4"', '"joblib>=1.5"'), ('"numpy>=2.0"', '"numpy>=2.1"'))

    assert merged(base, ours, theirs) == edit(
        ours, ('"joblib>=1.4"', '"joblib>=1.5"'), ('"numpy>=2.0"', '"numpy>=2.1"')
    )


@pytest.mark.parametrize(
    ("ours_note", "theirs_note", "kept"),
    [
        pytest.param("  # the team's", "", "  # the team's", id="team-adds"),
        pytest.param("", "  # the template's", "  # the template's", id="template-adds"),
        pytest.param("  # the team's", "  # the template's", "  # the team's", id="both"),
    ],
)
def test_entry_comments_are_the_teams_where_it_wrote_them_else_the_templates(
    ours_note: str, theirs_note: str, kept: str
) -> None:
    ours = edit(UV, (JOBLIB, f'    "joblib>=1.4",{ours_note}\n' + LIGHTGBM))
    theirs = edit(UV, (JOBLIB, f'    "joblib>=1.5",{theirs_note}\n'))

    assert f'    "joblib>=1.5",{kept}\n' + LIGHTGBM in merged(UV, ours, theirs)


def test_merged_lists_take_the_templates_indent_and_trailing_comma() -> None:
    listed = ["joblib>=1.4", "numpy>=2.0", "pandas>=2.2", "scikit-learn>=1.5"]
    ours = add_after(UV, JOBLIB, LIGHTGBM)
    theirs = edit(
        UV,
        ("".join(map(entry, listed)), ",\n".join(f'  "{r}"' for r in listed) + "\n"),
        ('"joblib>=1.4"', '"joblib>=1.5"'),
    )

    expected = '[\n  "joblib>=1.5",\n  "lightgbm>=4.5",\n  "numpy>=2.0",\n'
    assert expected + '  "pandas>=2.2",\n  "scikit-learn>=1.5"\n]' in merged(UV, ours, theirs)


def test_loads_by_path_without_a_module_entry() -> None:
    """As keep_team_work loads it: a dataclass there must not need sys.modules."""
    path = TEMPLATE / "extensions" / "structured_merge.py"
    spec = importlib.util.spec_from_file_location("copier_ml_structured_merge", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    assert module.merge_pyproject(UV, UV, UV) == UV
