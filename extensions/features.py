"""The tier and feature table: the one place that says what each tier generates.

Templates never repeat this table. They ask for ``features`` (added to every render
context by ``FeaturesContext``) with ``{% if "tests" in features %}``. Only ``tier``,
``include_features`` and ``exclude_features`` are stored in the answers file, so the
computed set follows a later change of tier on ``copier update``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml
from copier_template_extensions import ContextHook
from jinja2 import Environment
from jinja2.ext import Extension

#: What each feature adds, in the order the prompt shows them.
FEATURES: dict[str, str] = {
    "sample_notebook": "one exploration notebook and data/sample.csv (the quick-experiment layout)",
    "src": "the src/ package with a real data, features, train, evaluate, predict pipeline",
    "configs": "YAML configs for the model and the training run",
    "data_layers": "data/interim and data/external beside raw and processed",
    "tests": "pytest suite for data, features and models",
    "makefile": "Makefile with install, lint, test and pipeline targets",
    "precommit": "pre-commit hooks run from the project's own locked tools",
    "ci": "GitHub Actions workflow for lint, type-check and tests",
    "tracking": "experiment tracking (MLflow or Weights & Biases, local by default)",
    "contributing": "CONTRIBUTING.md with branch and commit conventions",
    "license_file": "LICENSE file with the chosen license's text",
    "validation": "model-validation gate: make validate-model fails below config thresholds",
    "pipelines": "pipelines/training and pipelines/inference: one-command entry points",
    "serving": "HTTP inference service (FastAPI + uvicorn): /health, /predict",
    "e2e": "end-to-end tests: the real server on a free local port, real HTTP requests",
    "docs": "MkDocs Material site: getting started, pipeline, serving; make docs-build",
    "infra": "Dockerfile, Kubernetes manifests and Terraform (AWS, GCP or Azure) for serving",
    "dvc": "DVC pipeline (dvc.yaml) mirroring the Makefile; data versioned in a DVC remote",
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

#: Each tier's features. Large grows as the large-tier features land.
TIERS: dict[str, frozenset[str]] = {
    "small": frozenset({"sample_notebook"}),
    "medium": _MEDIUM,
    "large": _MEDIUM
    | {"data_layers", "validation", "pipelines", "serving", "e2e", "docs", "infra", "dvc"},
}

#: A feature works only with these others; including it pulls them in.
REQUIRES: dict[str, frozenset[str]] = {
    "src": frozenset({"configs"}),
    "configs": frozenset({"src"}),
    "data_layers": frozenset({"src"}),
    "tests": frozenset({"src"}),
    "makefile": frozenset({"src"}),
    "ci": frozenset({"makefile", "tests"}),
    "tracking": frozenset({"src"}),
    "validation": frozenset({"src"}),
    "pipelines": frozenset({"src"}),
    "serving": frozenset({"src", "configs"}),
    "e2e": frozenset({"tests", "serving"}),
    "docs": frozenset({"makefile"}),
    "infra": frozenset({"serving"}),
    "dvc": frozenset({"src"}),
}


def _closure(names: Iterable[str]) -> set[str]:
    """Add, transitively, every feature the given ones require."""
    result = set(names)
    pending = list(result)
    while pending:
        for needed in REQUIRES.get(pending.pop(), ()):
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
        missing = sorted(REQUIRES.get(name, frozenset()) - chosen)
        if missing:
            needed = ", ".join(missing)
            return f"{name} needs {needed}; exclude {name} too, or keep {needed}"
    return ""


def feature_choices(tier: str, action: str) -> dict[str, str]:
    """Prompt choices, titled with their help: what the tier lacks, or what it has."""
    in_tier = TIERS.get(tier, frozenset())
    wanted = action == "exclude"
    return {f"{name} - {FEATURES[name]}": name for name in FEATURES if (name in in_tier) == wanted}


#: The file each framework's pipeline saves the trained model to, in models/.
MODEL_FILES = {"sklearn": "model.joblib", "pytorch": "model.pt"}


def _answers(context: Mapping[str, Any]) -> tuple[str, Any, Any]:
    return context["tier"], context.get("include_features"), context.get("exclude_features")


class FeaturesContext(ContextHook):
    """Adds ``features``, the effective ``tracker`` and the ``model_file`` to render contexts
    once ``tier`` is known."""

    def hook(self, context: dict[str, Any]) -> None:
        if context.get("tier") in TIERS:
            features = resolve_features(*_answers(context))
            context["features"] = features
            tracked = "tracking" in features
            context["tracker"] = context.get("experiment_tracker", "none") if tracked else "none"
            context["model_filename"] = MODEL_FILES.get(context.get("ml_framework"), "")
            context["model_file"] = f"models/{context['model_filename']}"


class FeatureFilters(Extension):
    """Lets copier.yml offer feature choices and check them."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters["feature_choices"] = feature_choices
        environment.filters["feature_problems"] = feature_problems
