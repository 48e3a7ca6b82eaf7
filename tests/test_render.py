"""Every combination renders exactly the expected files, all of them well-formed."""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from plumbum import local

from .expected import (
    CD,
    CI,
    DATA_LAYERS,
    DOCS,
    DVC,
    E2E,
    INFRA,
    LICENSE,
    MAKEFILE,
    PIPELINES,
    PRECOMMIT,
    SERVING,
    TESTS,
    TRACKING_TESTS,
    VALIDATION,
    expected_files,
)
from .helpers import (
    COMBINATION_PARAMS,
    COMBINATIONS,
    combination_answers,
    load_extension,
    local_torch,
    parent_folders,
    project_files,
    project_folders,
    render,
    tool,
    windows_problems,
)

JINJA_MARKERS = re.compile(r"{{|}}|{%|%}|{#|#}")
GITHUB_EXPRESSION = re.compile(r"\$\{\{[^}]*\}\}")  # ${{ github.ref }} is meant to stay
Combination = tuple[tuple[str, str, str, str, str], Path]


@pytest.fixture(scope="module", params=COMBINATION_PARAMS)
def combination(request: pytest.FixtureRequest, rendered: Callable[..., Path]) -> Combination:
    return request.param, rendered(**combination_answers(request.param))


def test_renders_exactly_the_expected_files(combination: Combination) -> None:
    choices, dst = combination
    assert project_files(dst) == expected_files(*choices)


def test_renders_exactly_the_folders_of_those_files(combination: Combination) -> None:
    """No empty folder: every folder holds an expected file, at some depth."""
    choices, dst = combination
    assert project_folders(dst) == parent_folders(expected_files(*choices))


def test_no_rendered_path_is_one_windows_refuses(combination: Combination) -> None:
    _, dst = combination
    assert windows_problems(sorted(project_files(dst) | project_folders(dst))) == []


def test_no_template_markup_is_left(combination: Combination) -> None:
    _, dst = combination
    leftovers = [
        name
        for name in project_files(dst)
        if JINJA_MARKERS.search(GITHUB_EXPRESSION.sub("", (dst / name).read_text()))
    ]
    assert leftovers == []


def test_structured_files_parse(combination: Combination) -> None:
    _, dst = combination
    for name in project_files(dst):
        text = (dst / name).read_text()
        if name.endswith(".toml"):
            tomllib.loads(text)
        elif name.endswith((".yml", ".yaml")):
            yaml.safe_load(text)
        elif name.endswith((".json", ".ipynb")):
            json.loads(text)


def test_python_passes_ruff(combination: Combination) -> None:
    _, dst = combination
    tool("ruff")("check", "--no-cache", dst)
    tool("ruff")("format", "--check", "--no-cache", dst)


#: The longest import name package_name admits (extensions/answers.py).
LONGEST_PACKAGE = "a" * 30


@pytest.mark.parametrize(
    "combination", [c for c in COMBINATIONS if c[0] == "large" and c[1] == "uv"], ids="-".join
)
def test_the_longest_package_name_still_passes_ruff(
    tmp_path: Path, combination: tuple[str, ...]
) -> None:
    """The generated code wraps its imports for a 30-character package name."""
    dst = render(tmp_path / "p", package_name=LONGEST_PACKAGE, **combination_answers(combination))
    tool("ruff")("check", "--no-cache", dst)
    tool("ruff")("format", "--check", "--no-cache", dst)


#: What mypy needs besides the libraries the code imports.
TYPE_CHECKING_TOOLS = {"mypy", "pandas-stubs", "types-pyyaml", "types-tqdm"}


@pytest.fixture(scope="session")
def typing_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One environment with every library any combination imports, and mypy.

    Installing each combination would take minutes apiece; type-checking needs only
    the libraries, and the build tests install real projects.
    """
    dependencies = load_extension("dependencies")
    requirements = {dep.requirement for deps in dependencies.MAIN.values() for dep in deps}
    requirements |= {
        dep.requirement
        for deps in dependencies.DEV.values()
        for dep in deps
        if dep.import_name in TYPE_CHECKING_TOOLS
    }
    folder, version = local_torch()
    if folder:  # the CPU build on disk, not a CUDA build from the index
        requirements = {r for r in requirements if not r.startswith("torch>")}
        requirements |= {f"torch=={version}"}
    venv = tmp_path_factory.mktemp("typing") / "venv"
    uv = tool("uv")
    uv("venv", "--quiet", "--python", sys.executable, venv)
    links = ["--find-links", folder] if folder else []
    uv(
        "pip",
        "install",
        "--quiet",
        "--python",
        venv / "bin" / "python",
        *links,
        *sorted(requirements),
    )
    return venv / "bin" / "python"


#: The combinations mypy checks, one per tracker x config system x framework: every
#: other combination holds the same Python files or fewer (tested below).
TYPE_CHECKED = [c for c in COMBINATIONS if c[:2] == ("large", "uv")]


def _type_checked_twin(combination: tuple[str, ...]) -> tuple[str, ...]:
    return ("large", "uv", *combination[2:])


def _python_files(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*.py")}


@pytest.mark.build
@pytest.mark.parametrize(
    "combination", [p for p in COMBINATION_PARAMS if p.values[0] in TYPE_CHECKED], indirect=True
)
def test_python_passes_mypy_strict(combination: Combination, typing_python: Path) -> None:
    _, dst = combination
    mypy = local[str(typing_python.parent / "mypy")]
    with local.cwd(dst), local.env(MYPYPATH="src"):
        mypy("--cache-dir", typing_python.parent.parent / "mypy-cache")


def test_every_python_file_is_one_that_mypy_checks(
    combination: Combination, rendered: Callable[..., Path]
) -> None:
    """What makes type-checking TYPE_CHECKED enough: the same files, byte for byte."""
    choices, dst = combination
    ours = _python_files(dst)
    twin = _python_files(rendered(**combination_answers(_type_checked_twin(choices))))
    assert {name for name, content in ours.items() if twin.get(name) != content} == set()


def _first_party_imports(source: str, package: str) -> set[str]:
    """The modules of ``package`` that a Python file imports."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            found |= {name for name in names if name.split(".")[0] == package}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == package}
    return found


def test_every_first_party_import_resolves_within_the_project(combination: Combination) -> None:
    """A file shared with a larger tier must not import a module only that tier has."""
    _, dst = combination
    modules = {
        ".".join(path.relative_to(dst / "src").with_suffix("").parts).removesuffix(".__init__")
        for path in (dst / "src").rglob("*.py")
    }
    unresolved = {
        f"{path.relative_to(dst).as_posix()}: {name}"
        for path in dst.rglob("*.py")
        for name in _first_party_imports(path.read_text(), "ml_project")
        if name not in modules and name.rpartition(".")[0] not in modules
    }
    assert unresolved == set()


def test_no_text_file_has_trailing_whitespace_or_missing_final_newline(
    combination: Combination,
) -> None:
    _, dst = combination
    bad = []
    for name in project_files(dst):
        text = (dst / name).read_text()
        if text and (not text.endswith("\n") or text.endswith("\n\n")):
            bad.append(f"{name}: end of file")
        if any(line != line.rstrip() for line in text.splitlines()):
            bad.append(f"{name}: trailing whitespace")
    assert bad == []


def test_pyproject_declares_the_chosen_tools(
    combination: Combination,
) -> None:
    (tier, manager, tracker, config_system, framework), dst = combination
    pyproject = tomllib.loads((dst / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == ">=3.11"
    assert "dev" in pyproject["dependency-groups"]
    installed = {
        re.split(r"[<>=\[]", requirement)[0] for requirement in pyproject["project"]["dependencies"]
    }
    packaged = tier != "small"
    assert ("mlflow-skinny" in installed) == (packaged and tracker == "mlflow")
    assert ("wandb" in installed) == (packaged and tracker == "wandb")
    assert ("torch" in installed) == (packaged and framework == "pytorch")
    assert ("hydra-core" in installed) == (packaged and config_system == "hydra")
    assert ("omegaconf" in installed) == packaged
    if tier == "small":
        return
    backend = pyproject["build-system"]["build-backend"]
    assert backend == {"uv": "uv_build", "poetry": "poetry.core.masonry.api"}[manager]
    lint = pyproject["tool"]["ruff"]["lint"]
    assert lint["select"] == ["E", "F", "I", "N", "W", "UP", "B", "C4", "SIM"]
    assert pyproject["tool"]["mypy"]["strict"] is True


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    first, second = render(tmp_path / "a"), render(tmp_path / "b")
    names = project_files(first)
    assert names == project_files(second)
    differing = [n for n in names if (first / n).read_bytes() != (second / n).read_bytes()]
    # A template with uncommitted changes gets a fresh temporary commit id per copy.
    assert set(differing) <= {".copier-answers.yml"}
    answers = [
        yaml.safe_load((root / ".copier-answers.yml").read_text()) for root in (first, second)
    ]
    for recorded in answers:
        recorded.pop("_commit")
    assert answers[0] == answers[1]


@pytest.mark.parametrize(
    ("answers", "added", "removed"),
    [
        ({"exclude_features": ["ci"]}, set(), CI),
        ({"exclude_features": ["precommit", "license_file"]}, set(), PRECOMMIT | LICENSE),
        ({"exclude_features": ["ci", "tests"]}, set(), CI | TESTS | TRACKING_TESTS),
        ({"exclude_features": ["makefile", "ci"]}, set(), MAKEFILE | CI),
    ],
    ids=["no-ci", "no-precommit-no-license", "no-tests", "no-makefile"],
)
def test_medium_with_features_removed(
    tmp_path: Path, answers: dict[str, list[str]], added: set[str], removed: set[str]
) -> None:
    dst = render(tmp_path / "p", tier="medium", **answers)
    expected = (expected_files("medium", "uv", "mlflow") | added) - removed
    assert project_files(dst) == expected


def test_medium_with_the_validation_gate_added(tmp_path: Path) -> None:
    dst = render(tmp_path / "p", tier="medium", include_features=["validation"])
    validation = {name.format(pkg="ml_project") for name in VALIDATION}
    assert project_files(dst) == expected_files("medium", "uv", "mlflow") | validation


def test_feature_lists_typed_on_the_command_line_are_understood(tmp_path: Path) -> None:
    """`copier copy -d 'exclude_features=["ci"]'` passes the list as text."""
    dst = render(tmp_path / "p", tier="medium", exclude_features='["ci"]')
    assert project_files(dst) == expected_files("medium", "uv", "mlflow") - CI


def test_small_with_precommit_added(tmp_path: Path) -> None:
    dst = render(tmp_path / "p", tier="small", include_features=["precommit"])
    assert project_files(dst) == expected_files("small", "uv", "none") | PRECOMMIT


def test_small_with_makefile_added_pulls_in_the_package(tmp_path: Path) -> None:
    dst = render(tmp_path / "p", tier="small", include_features=["makefile"])
    files = project_files(dst)
    assert {"Makefile", "src/ml_project/models/train.py", "configs/model/default.yaml"} <= files
    assert "tests/conftest.py" not in files


@pytest.mark.parametrize("remote", ["local", "s3", "gcs", "azure"])
@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_large_files_are_the_same_for_every_remote_and_cloud(
    tmp_path: Path, remote: str, cloud: str
) -> None:
    dst = render(tmp_path / "p", tier="large", dvc_remote=remote, cloud_provider=cloud)
    assert project_files(dst) == expected_files("large", "uv", "mlflow")


@pytest.mark.parametrize(
    ("feature", "added"),
    [
        ("data_layers", DATA_LAYERS),
        ("validation", VALIDATION),
        ("pipelines", PIPELINES),
        ("serving", SERVING),
        ("e2e", E2E | SERVING),
        ("docs", DOCS),
        ("dvc", DVC),
        ("infra", INFRA | SERVING | CD),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_medium_with_one_large_feature_added(tmp_path: Path, feature: str, added: set[str]) -> None:
    dst = render(tmp_path / "p", tier="medium", include_features=[feature])
    added = {name.format(pkg="ml_project") for name in added}
    assert project_files(dst) == expected_files("medium", "uv", "mlflow") | added
