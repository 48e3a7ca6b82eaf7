"""Every combination renders exactly the expected files, all of them well-formed."""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    KUBERNETES_MLFLOW,
    LICENSE,
    MAKEFILE,
    PIPELINES,
    PRECOMMIT,
    PROMOTE,
    SERVING,
    TESTS,
    TRACKING_TESTS,
    VALIDATION,
    expected_files,
)
from .helpers import (
    COMBINATION_PARAMS,
    COMBINATIONS,
    MANAGERS,
    combination_answers,
    load_extension,
    local_torch,
    parent_folders,
    project_files,
    project_folders,
    render,
    run_in,
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
    validation = {name.format(pkg="ml_project") for name in VALIDATION | PROMOTE}
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
        ("validation", VALIDATION | PROMOTE),  # with MLflow, the default tracker
        ("pipelines", PIPELINES),
        ("serving", SERVING),
        ("e2e", E2E | SERVING),
        ("docs", DOCS),
        ("dvc", DVC),
        ("infra", INFRA | SERVING | CD | KUBERNETES_MLFLOW),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_medium_with_one_large_feature_added(tmp_path: Path, feature: str, added: set[str]) -> None:
    dst = render(tmp_path / "p", tier="medium", include_features=[feature])
    added = {name.format(pkg="ml_project") for name in added}
    assert project_files(dst) == expected_files("medium", "uv", "mlflow") | added


# Runtime dependencies: each one is imported by the project's code, for every framework.

#: Runtime dependencies no project module imports, and the library that loads them.
LOADED_BY_ANOTHER = {"sqlalchemy": "mlflow", "alembic": "mlflow"}


def _top_level_imports(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
    return found


def _project_imports(dst: Path) -> set[str]:
    """What the project's code imports: its modules, pipelines and notebooks."""
    found: set[str] = set()
    for path in [*(dst / "src").rglob("*.py"), *(dst / "pipelines").rglob("*.py")]:
        found |= _top_level_imports(path.read_text())
    for notebook in (dst / "notebooks").rglob("*.ipynb"):
        for cell in json.loads(notebook.read_text())["cells"]:
            if cell["cell_type"] == "code":
                code = "".join(cell["source"])
                found |= _top_level_imports(
                    "\n".join(line for line in code.splitlines() if not line.startswith("%"))
                )
    return found


def test_every_runtime_dependency_is_one_the_project_imports(combination: Combination) -> None:
    """No dependency the chosen framework never imports (joblib with PyTorch, skops
    with a torch model in MLflow): each runtime requirement's import name is imported."""
    (*_, tracker, _config, _framework), dst = combination
    dependencies = load_extension("dependencies")
    import_names = {
        dep.requirement: dep.import_name for deps in dependencies.MAIN.values() for dep in deps
    }
    declared = tomllib.loads((dst / "pyproject.toml").read_text())["project"]["dependencies"]
    imported = _project_imports(dst)
    unused = {
        requirement
        for requirement in declared
        if import_names[requirement] not in imported
        and LOADED_BY_ANOTHER.get(import_names[requirement]) not in imported
    }
    assert unused == set()


# Torch: from PyTorch's own index of the chosen build, an explicit index for torch alone.

#: Every torch_backend choice.
TORCH_BACKENDS = list(load_extension("variants").CUDA_IMAGES)


def _torch_index(pyproject: dict[str, Any], manager: str) -> tuple[dict[str, Any], Any]:
    """The one extra index of a pyproject.toml and the source it gives torch."""
    tool = pyproject["tool"]
    if manager == "uv":
        (index,) = tool["uv"]["index"]
        return index, tool["uv"]["sources"]["torch"]
    (index,) = tool["poetry"]["source"]
    return index, tool["poetry"]["dependencies"]["torch"]


@pytest.mark.parametrize("manager", MANAGERS)
@pytest.mark.parametrize("backend", TORCH_BACKENDS)
def test_torch_comes_from_pytorchs_index_of_the_chosen_build(
    rendered: Callable[..., Path], manager: str, backend: str
) -> None:
    dst = rendered(ml_framework="pytorch", package_manager=manager, torch_backend=backend)
    index, source = _torch_index(tomllib.loads((dst / "pyproject.toml").read_text()), manager)
    name, url = f"pytorch-{backend}", f"https://download.pytorch.org/whl/{backend}"
    if manager == "uv":
        assert index == {"name": name, "url": url, "explicit": True}
        assert source == {"index": name}
    else:
        assert index == {"name": name, "url": url, "priority": "explicit"}
        assert source == {"source": name}


def test_a_new_pytorch_project_gets_the_cpu_build(rendered: Callable[..., Path]) -> None:
    dst = rendered(ml_framework="pytorch")
    index, _ = _torch_index(tomllib.loads((dst / "pyproject.toml").read_text()), "uv")
    assert index["url"] == "https://download.pytorch.org/whl/cpu"
    assert yaml.safe_load((dst / ".copier-answers.yml").read_text())["torch_backend"] == "cpu"


def test_a_scikit_learn_project_has_no_torch_index(rendered: Callable[..., Path]) -> None:
    tool = tomllib.loads((rendered() / "pyproject.toml").read_text())["tool"]
    assert "index" not in tool["uv"] and "sources" not in tool["uv"]


@pytest.mark.parametrize(
    ("manager", "location", "flat"),
    [("uv", "/srv/wheels", True), ("poetry", "https://mirror.example.com/torch/cu126", False)],
)
def test_a_torch_index_url_still_wins_over_pytorchs_index(
    rendered: Callable[..., Path], manager: str, location: str, flat: bool
) -> None:
    dst = rendered(ml_framework="pytorch", package_manager=manager, torch_backend="cu126",
                   torch_index_url=location)  # fmt: skip
    index, source = _torch_index(tomllib.loads((dst / "pyproject.toml").read_text()), manager)
    assert index["name"] == "pytorch" and index["url"] == location
    assert (index.get("format") == "flat") == flat
    assert source == ({"index": "pytorch"} if manager == "uv" else {"source": "pytorch"})


def test_uv_asks_pytorchs_index_for_torch_and_nothing_else(
    rendered: Callable[..., Path],
) -> None:
    """uv itself reads the index and the source: offline, it looks for torch there (and
    finds no cached copy); every other package it looks for on the main index."""
    dst = rendered(ml_framework="pytorch", torch_backend="cu130")
    code, out, err = run_in(dst, "uv", "lock", "--offline", "--verbose", retcode=None)
    assert code != 0  # nothing reaches the network, and nothing of torch is cached
    asked = set(re.findall(r"GET request for: https://download\.pytorch\.org/whl/(\S+)", err))
    assert asked == {"cu130/torch/"}


def test_poetry_takes_torch_alone_from_pytorchs_explicit_source(
    rendered: Callable[..., Path],
) -> None:
    """Poetry's own reading of pyproject.toml, as `poetry lock` starts it."""
    from poetry.factory import Factory
    from poetry.repositories.repository_pool import Priority

    dst = rendered(ml_framework="pytorch", package_manager="poetry", torch_backend="cu128")
    poetry = Factory().create_poetry(dst)
    sources = {dep.name: dep.source_name for dep in poetry.package.all_requires}
    assert sources["torch"] == "pytorch-cu128"
    assert {name for name, source in sources.items() if source} == {"torch"}
    assert poetry.pool.get_priority("pytorch-cu128") == Priority.EXPLICIT
    assert poetry.pool.repository("pytorch-cu128").url == "https://download.pytorch.org/whl/cu128"


@pytest.mark.parametrize("manager", MANAGERS)
def test_the_license_file_is_declared_for_the_wheel_and_sdist(
    rendered: Callable[..., Path], manager: str
) -> None:
    dst = rendered(package_manager=manager)
    assert tomllib.loads((dst / "pyproject.toml").read_text())["project"]["license-files"] == [
        "LICENSE"
    ]
    without = rendered(package_manager=manager, exclude_features=["license_file"])
    assert "license-files" not in tomllib.loads((without / "pyproject.toml").read_text())["project"]
