"""The tier and feature table: the one place that says what each tier generates.

Each feature names the paths it adds under template/; every other path is always
generated. Templates never repeat this table: they ask for ``features`` (computed by
the context hook in context.py) with ``{% if "tests" in features %}``, and the files a
render keeps follow from the paths below. Only ``tier``, ``include_features`` and
``exclude_features`` are stored in the answers file, so the computed set follows a
later change of tier on ``copier update``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml
from jinja2 import Environment
from jinja2.ext import Extension


@dataclass(frozen=True)
class Feature:
    help: str
    #: Files and folders under template/ that only this feature generates; a path that
    #: several features name needs them all. ``{package}`` is the import name.
    paths: tuple[str, ...] = ()
    #: Features this one works only with; including it pulls them in.
    requires: frozenset[str] = frozenset()


def _needs(*names: str) -> frozenset[str]:
    return frozenset(names)


#: Every feature, in the order the prompt shows them.
FEATURES: dict[str, Feature] = {
    "sample_notebook": Feature(
        "one exploration notebook and data/sample.csv (the quick-experiment layout)",
        paths=("notebooks/exploration.ipynb", "data/sample.csv"),
    ),
    "src": Feature(
        "the src/ package with a real data, features, train, evaluate, predict pipeline",
        paths=(
            "src",
            "data/raw",
            "data/processed",
            "models",
            "reports",
            "notebooks/01_exploration.ipynb",
            "notebooks/02_preprocessing.ipynb",
            "notebooks/03_modeling.ipynb",
            "notebooks/04_evaluation.ipynb",
            "poetry.toml",
        ),
        requires=_needs("configs"),
    ),
    "configs": Feature(
        "YAML configs for the model and the training run",
        paths=("configs",),
        requires=_needs("src"),
    ),
    "data_layers": Feature(
        "data/interim and data/external beside raw and processed",
        paths=("data/interim", "data/external"),
        requires=_needs("src"),
    ),
    "tests": Feature(
        "pytest suite for data, features and models",
        paths=("tests",),
        requires=_needs("src"),
    ),
    "makefile": Feature(
        "Makefile with install, lint, test and pipeline targets",
        paths=("Makefile",),
        requires=_needs("src"),
    ),
    "precommit": Feature(
        "pre-commit hooks run from the project's own locked tools",
        paths=(".pre-commit-config.yaml",),
    ),
    "ci": Feature(
        "GitHub Actions workflow for lint, type-check and tests",
        paths=(".github",),
        requires=_needs("makefile", "tests"),
    ),
    # Asks `experiment_tracker`; the tracking files come with its choice (variants.py).
    "tracking": Feature(
        "experiment tracking (MLflow or Weights & Biases, local by default)",
        requires=_needs("src"),
    ),
    "contributing": Feature(
        "CONTRIBUTING.md with branch and commit conventions",
        paths=("CONTRIBUTING.md",),
    ),
    "license_file": Feature(
        "LICENSE file with the chosen license's text",
        paths=("LICENSE",),
    ),
    "validation": Feature(
        "model-validation gate: make validate-model fails below config thresholds",
        paths=(
            "src/{package}/models/validate.py",
            "tests/unit/test_validate.py",
            "src/{package}/models/promote.py",
            ".github/workflows/model-validation.yml",
        ),
        requires=_needs("src"),
    ),
    "pipelines": Feature(
        "pipelines/training and pipelines/inference: one-command entry points",
        paths=(
            "pipelines",
            "tests/integration/test_pipelines.py",
            "infrastructure/kubernetes/batch-inference-cronjob.yaml",
        ),
        requires=_needs("src"),
    ),
    "serving": Feature(
        "HTTP inference service (FastAPI + uvicorn): /health, /predict",
        paths=(
            "src/{package}/serving",
            "configs/deployment",
            "docs/serving.md",
            "tests/unit/test_serving.py",
            "tests/load",
        ),
        requires=_needs("src", "configs"),
    ),
    "e2e": Feature(
        "end-to-end tests: the real server on a free local port, real HTTP requests",
        paths=("tests/e2e",),
        requires=_needs("tests", "serving"),
    ),
    "docs": Feature(
        "MkDocs Material site: getting started, pipeline, serving; make docs-build",
        paths=("docs", "mkdocs.yml"),
        requires=_needs("makefile"),
    ),
    "infra": Feature(
        "Dockerfile, Kubernetes manifests and Terraform (AWS, GCP or Azure) for serving",
        paths=(
            "infrastructure",
            ".dockerignore",
            ".github/workflows/cd.yml",
            "configs/deployment/container.yaml",
            "docs/deployment.md",
            "src/{package}/models/sweep_grid.py",
        ),
        requires=_needs("serving"),
    ),
    "dvc": Feature(
        "DVC pipeline (dvc.yaml) mirroring the Makefile; data versioned in a DVC remote",
        paths=(
            "dvc.yaml",
            ".dvc",
            ".dvcignore",
            ".github/workflows/model-validation.yml",
            # The Kubernetes Jobs keep their data and models in the DVC remote.
            "infrastructure/kubernetes/training-job.yaml",
            "infrastructure/kubernetes/batch-inference-cronjob.yaml",
            "infrastructure/kubernetes/sweep-job.yaml",
            "infrastructure/kubernetes/sweep-grid.yaml",
            "src/{package}/models/sweep_grid.py",
        ),
        requires=_needs("src"),
    ),
}

_MEDIUM = frozenset(
    {
        "src",
        "configs",
        "tests",
        "makefile",
        "precommit",
        "ci",
        "tracking",
        "contributing",
        "license_file",
    }
)

#: Each tier's features.
TIERS: dict[str, frozenset[str]] = {
    "small": frozenset({"sample_notebook"}),
    "medium": _MEDIUM,
    "large": _MEDIUM
    | {"data_layers", "validation", "pipelines", "serving", "e2e", "docs", "infra", "dvc"},
}


def _closure(names: Iterable[str]) -> set[str]:
    """Add, transitively, every feature the given ones require."""
    result = set(names)
    pending = list(result)
    while pending:
        name = pending.pop()
        for needed in FEATURES[name].requires if name in FEATURES else ():
            if needed not in result:
                result.add(needed)
                pending.append(needed)
    return result


def _as_list(value: Any) -> list[str]:
    """Answers arrive as lists, or as None when a question was skipped."""
    if not value:
        return []
    if isinstance(value, str):
        # `copier -d exclude_features='[ci]'` arrives unparsed in other questions' checks.
        parsed = yaml.safe_load(value)
        return [str(item) for item in parsed] if isinstance(parsed, list) else [value]
    return [str(item) for item in value]


def resolve_features(tier: str, include: Any = None, exclude: Any = None) -> list[str]:
    """The features of a tier, with single features added and removed on top."""
    if tier not in TIERS:
        raise ValueError(f"tier: unknown tier {tier!r}, choose one of {', '.join(TIERS)}")
    chosen = _closure(TIERS[tier] | set(_as_list(include)))
    chosen -= set(_as_list(exclude))
    return [name for name in FEATURES if name in chosen]


def feature_problems(tier: str, include: Any = None, exclude: Any = None) -> str:
    """Explain, in one line, why these choices cannot work together (empty when they can)."""
    included, excluded = set(_as_list(include)), set(_as_list(exclude))
    unknown = sorted((included | excluded) - FEATURES.keys())
    if unknown:
        return f"unknown feature(s) {', '.join(unknown)}; choose from {', '.join(FEATURES)}"
    both = sorted(included & excluded)
    if both:
        return f"{', '.join(both)} cannot be both included and excluded"
    chosen = set(resolve_features(tier, included, excluded))
    for name in sorted(chosen):
        missing = sorted(FEATURES[name].requires - chosen)
        if missing:
            needed = ", ".join(missing)
            return f"{name} needs {needed}; exclude {name} too, or keep {needed}"
    return ""


def feature_choices(tier: str, action: str) -> dict[str, str]:
    """Prompt choices, titled with their help: what the tier lacks, or what it has."""
    in_tier = TIERS.get(tier, frozenset())
    wanted = action == "exclude"
    return {
        f"{name} - {feature.help}": name
        for name, feature in FEATURES.items()
        if (name in in_tier) == wanted
    }


class FeatureFilters(Extension):
    """Lets copier.yml offer feature choices and check them."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters["feature_choices"] = feature_choices
        environment.filters["feature_problems"] = feature_problems
