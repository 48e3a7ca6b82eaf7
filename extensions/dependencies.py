"""Every dependency a generated project declares, and the package-manager commands.

One table, keyed by feature, feeds pyproject.toml, the Makefile, the pre-commit hooks
and the ``package_name`` validator (a project must not shadow what it installs).
Lower bounds only: the project's lock file pins exact versions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Dep:
    requirement: str
    import_name: str


#: Runtime dependencies, by the feature (or tracker) that needs them.
MAIN: dict[str, tuple[Dep, ...]] = {
    "sample_notebook": (Dep("pandas>=2.2", "pandas"),),
    "src": (
        Dep("numpy>=1.26", "numpy"),
        Dep("pandas>=2.2", "pandas"),
        # Both frameworks scale features and cross-validate with scikit-learn.
        Dep("scikit-learn>=1.5", "sklearn"),
        Dep("pyyaml>=6.0", "yaml"),
        Dep("matplotlib>=3.9", "matplotlib"),
    ),
    # mlflow-skinny is the tracking client without the server; the sqlite store
    # needs sqlalchemy and alembic.
    "mlflow": (
        Dep("mlflow-skinny>=3.5,<4", "mlflow"),
        Dep("sqlalchemy>=2.0", "sqlalchemy"),
        Dep("alembic>=1.13", "alembic"),
    ),
    # skops is the safe format MLflow logs a scikit-learn model in (a torch model is
    # logged as its own file).
    "mlflow-sklearn": (Dep("skops>=0.11", "skops"),),
    # Offline by default (WANDB_MODE, see the project's README): no account needed.
    "wandb": (Dep("wandb>=0.19", "wandb"),),
    # The models are saved with joblib.
    "sklearn": (Dep("joblib>=1.4", "joblib"),),
    # The CPU or a CUDA build, from the index of `torch_backend` (or `torch_index_url`);
    # tqdm draws the epoch bar.
    "pytorch": (Dep("torch>=2.6", "torch"), Dep("tqdm>=4.66", "tqdm")),
    "yaml": (Dep("omegaconf>=2.3", "omegaconf"),),
    "hydra": (Dep("hydra-core>=1.3", "hydra"), Dep("omegaconf>=2.3", "omegaconf")),
    "serving": (
        Dep("fastapi>=0.115", "fastapi"),
        Dep("pydantic>=2.10", "pydantic"),
        # 0.37 lets a worker take longer than 5 s to start (timeout_worker_healthcheck).
        Dep("uvicorn>=0.37", "uvicorn"),
    ),
}

#: The oldest copier this template works with: copier.yml says it, everything else reads it.
#: (LibYAML's loader when PyYAML has it: the pure-Python one takes longer than the copy.)
MIN_COPIER_VERSION: str = yaml.load(
    (Path(__file__).parents[1] / "copier.yml").read_text(encoding="utf-8"),
    Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader),
)["_min_copier_version"]

#: copier itself, so `copier update` and its checks run from the locked environment,
#: and tomlkit, with which the update's migration merges pyproject.toml entry by entry.
COPIER = (
    Dep(f"copier>={MIN_COPIER_VERSION}", "copier"),
    Dep("copier-template-extensions>=0.3", "copier_template_extensions"),
    Dep("tomlkit>=0.13", "tomlkit"),
)

#: The dev dependency group, by feature. Every tier has "sample_notebook" or "src".
DEV: dict[str, tuple[Dep, ...]] = {
    "sample_notebook": (Dep("jupyterlab>=4.2", "jupyterlab"), *COPIER),
    "src": (
        *COPIER,
        Dep("jupyterlab>=4.2", "jupyterlab"),
        Dep("ruff>=0.8", "ruff"),
        Dep("mypy>=1.13", "mypy"),
        Dep("pandas-stubs>=2.2", "pandas-stubs"),
        Dep("types-pyyaml>=6.0", "types-pyyaml"),
    ),
    "tests": (Dep("pytest>=8.3", "pytest"), Dep("pytest-cov>=6.0", "pytest_cov")),
    # Starlette's TestClient asks for httpx2 and warns about plain httpx.
    # locust runs `make load-test`; a Python 3.10 project locks 2.46, its last for 3.10.
    "serving": (Dep("httpx2>=2.0", "httpx2"), Dep("locust>=2.32", "locust")),
    "precommit": (
        Dep("pre-commit>=4.0", "pre_commit"),
        Dep("pre-commit-hooks>=5.0", "pre_commit_hooks"),
        Dep("nbstripout>=0.8", "nbstripout"),
        Dep("ruff>=0.8", "ruff"),
    ),
    "pytorch": (Dep("types-tqdm>=4.66", "types-tqdm"),),
}

#: The pipeline group, by feature: DVC and its remote's plugin. `make install-dev`
#: installs it with the others; the image installs it beside the runtime dependencies
#: (and nothing else of the dev group) for the Kubernetes Jobs that run the pipeline.
PIPELINE: dict[str, tuple[Dep, ...]] = {
    "dvc": (Dep("dvc>=3.50", "dvc"),),
    # The plugin of the DVC remote, picked by the `dvc_remote` answer (see selectors()).
    "dvc-s3": (Dep("dvc-s3>=3.2", "dvc_s3"),),
    "dvc-gcs": (Dep("dvc-gs>=3.0", "dvc_gs"),),
    "dvc-azure": (Dep("dvc-azure>=3.1", "dvc_azure"),),
}

#: The docs dependency group, by feature.
DOCS: dict[str, tuple[Dep, ...]] = {
    "docs": (Dep("mkdocs>=1.6", "mkdocs"), Dep("mkdocs-material>=9.5", "material")),
}

#: PEP 735 dependency groups, in the order pyproject.toml lists them.
GROUPS = {"dev": DEV, "docs": DOCS, "pipeline": PIPELINE}

BUILD_BACKEND = {
    "uv": {"requires": "uv_build>=0.9,<0.14", "build_backend": "uv_build"},
    "poetry": {"requires": "poetry-core>=2.2,<3", "build_backend": "poetry.core.masonry.api"},
}

#: How each package manager installs and runs things; the Makefile and hooks use these.
#: Installs compile every module to bytecode, as the Dockerfile does: otherwise the first
#: run of each step compiles what it imports (MLflow, pandas, scikit-learn), which takes
#: longer than the step itself.
COMMANDS = {
    "uv": {
        "run": "uv run",
        "install": "uv sync --no-default-groups --compile-bytecode",
        "install_dev": "uv sync --compile-bytecode",
    },
    "poetry": {
        "run": "poetry run",
        "install": "poetry install --only main --compile",
        "install_dev": "poetry install --with dev --compile",
    },
}

#: Each package manager's own version: the Dockerfile and the workflows install this one.
MANAGER_VERSIONS = {"uv": "0.13.9", "poetry": "2.5.1"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[;@ ]", requirement, maxsplit=1)[0].lower()


def _collect(table: dict[str, tuple[Dep, ...]], keys: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for key in keys:
        for dep in table.get(key, ()):
            seen.setdefault(dep.requirement, None)
    return sorted(seen, key=_name)


def project_dependencies(
    features: list[str], selectors: list[str]
) -> tuple[list[str], dict[str, list[str]]]:
    """Runtime requirements and the non-empty dependency groups.

    ``selectors`` are answers that pick dependencies besides features (the tracker).
    """
    keys = [*features, *selectors]
    groups = {name: _collect(table, keys) for name, table in GROUPS.items()}
    return _collect(MAIN, keys), {name: reqs for name, reqs in groups.items() if reqs}


def selectors(
    features: list[str], tracker: str, framework: str, config_system: str, dvc_remote: str
) -> list[str]:
    """The answers, besides features, that pick dependencies: the tracker, framework
    (and the two together), config system and DVC remote."""
    keys = [tracker]
    if "src" in features:
        keys += [framework, f"{tracker}-{framework}", config_system]
    if "dvc" in features:
        keys.append(f"dvc-{dvc_remote or 'local'}")
    return keys


def installed_import_names() -> list[str]:
    """Every top-level name any generated project may install."""
    tables = (MAIN, *GROUPS.values())
    names = {dep.import_name for table in tables for deps in table.values() for dep in deps}
    return sorted(names)
