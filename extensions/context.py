"""Every value the templates derive from the answers, computed in one place, in order.

Copier builds a fresh Jinja context for each string and file it renders, hundreds per
copy; this hook adds the derived values to each, from a cache keyed by the answers.
Templates read these values and never recompute them.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from copier_template_extensions import ContextHook
from jinja2 import Environment


def _sibling(name: str) -> ModuleType:
    """Import a module of this folder by path: an update loads two releases of it at once."""
    path = Path(__file__).with_name(f"{name}.py")
    unique = f"copier_ml_{name}_{abs(hash(str(path.resolve())))}"
    if unique not in sys.modules:
        spec = importlib.util.spec_from_file_location(unique, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        spec.loader.exec_module(module)
    return sys.modules[unique]


features = _sibling("features")
variants = _sibling("variants")
dependencies = _sibling("dependencies")
answers = _sibling("answers")
actions = _sibling("actions")

#: The answers the derived values depend on, besides the tier and feature lists.
ANSWERS = ("package_name", "license", "package_manager", "experiment_tracker",
           "config_system", "ml_framework", "cloud_provider", "dvc_remote")  # fmt: skip
#: Answers that may be absent or empty; they change derived values too.
OPTIONAL = ("torch_backend", "torch_index_url", "project_slug")


def derive(answers: dict[str, Any]) -> dict[str, Any]:
    """The derived values, each from the answers and the values above it."""
    tier, include, exclude = (answers.get(key) for key in
                              ("tier", "include_features", "exclude_features"))  # fmt: skip
    chosen = features.resolve_features(tier, include, exclude)
    if any(answers.get(name) is None for name in ANSWERS):
        return {"features": chosen}  # still asking: only the questions' conditions need more
    framework, config_system = answers["ml_framework"], answers["config_system"]
    tracker = answers["experiment_tracker"] if "tracking" in chosen else "none"
    choices = {question: answers.get(question, "") for question in variants.QUESTIONS}
    choices["tracker"] = tracker
    excluded = [
        path
        for name, feature in features.FEATURES.items()
        if name not in chosen
        for path in feature.paths
    ] + variants.excluded_paths(choices)
    picks = dependencies.selectors(chosen, tracker, framework, config_system,
                                   answers["dvc_remote"])  # fmt: skip
    main, groups = dependencies.project_dependencies(chosen, picks)
    manager = answers["package_manager"]
    model_filename = variants.MODEL_FILES[framework]
    torch = "src" in chosen and framework == "pytorch"
    backend = answers.get("torch_backend") or "cpu"
    return {
        "features": chosen,
        "tracker": tracker,
        "tracker_name": variants.TRACKER_NAMES[tracker],
        "variants": variants.folders(choices),
        # One pattern a line, for the `_exclude` entry in copier.yml.
        "excluded_paths": "\n".join(
            "/" + path.replace("{package}", answers["package_name"]) for path in excluded
        ),
        "model_filename": model_filename,
        "model_file": f"models/{model_filename}",
        "config_file": variants.CONFIG_FILES[config_system],
        "model_key": variants.MODEL_KEYS[config_system],
        "model_name": variants.MODEL_NAMES[framework],
        "hyperparameter": variants.HYPERPARAMETERS[framework][0],
        "override_example": variants.override_example(config_system, framework),
        "sweep_example": variants.SWEEP_EXAMPLES[framework],
        "dependencies": main,
        "dependency_groups": groups,
        "build": dependencies.BUILD_BACKEND[manager],
        "cmd": dependencies.COMMANDS[manager],
        "lock_file": variants.LOCK_FILES[manager],
        "manager_version": dependencies.MANAGER_VERSIONS[manager],
        "azure": variants.azure_names(answers.get("project_slug") or ""),
        # A CUDA build of torch: the image, the Job and the Deployment ask for a GPU.
        "gpu": bool(torch and variants.CUDA_IMAGES[backend]),
        # The CUDA runtime image of that build, or empty.
        "cuda_image": variants.CUDA_IMAGES[backend] if torch else "",
        # The uv that installs the image's standalone Python on CUDA's, with Poetry too.
        "uv_version": dependencies.MANAGER_VERSIONS["uv"],
        # The index torch alone comes from (name, url, flat), or empty without torch.
        "torch_index": variants.torch_index(backend, answers.get("torch_index_url") or "")
        if torch
        else {},
    }


def _key(context: dict[str, Any]) -> tuple[Any, ...]:
    def frozen(value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    names = ("tier", "include_features", "exclude_features", *ANSWERS, *OPTIONAL)
    return tuple(frozen(context.get(name)) for name in names)


class ProjectContext(ContextHook):
    """Adds the derived values to every render context once ``tier`` is known."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["installed_import_names"] = dependencies.installed_import_names()
        # `{{ "actions/checkout" | action }}`: the action pinned to a commit (actions.py).
        environment.filters["action"] = actions.pinned
        self._derived: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._rename_checked = False

    def hook(self, context: dict[str, Any]) -> None:
        if context.get("tier") not in features.TIERS:
            return
        key = _key(context)
        if key not in self._derived:
            self._derived[key] = derive(context)
        context.update(self._derived[key])
        if context.get("_copier_phase") == "render" and not self._rename_checked:
            self._rename_checked = True  # first: finding the answers file calls this again
            self._refuse_a_rename(context)

    @staticmethod
    def _refuse_a_rename(context: dict[str, Any]) -> None:
        """Stop a render into a project whose answers file records another package name.

        The first string copier renders for the files (`_subdirectory`) comes before any
        file is written. An update refuses a rename earlier, before it renders the old
        release (answers.check_answers_before_update), except with --quiet: this is then
        the only refusal, after the `before` migrations.
        """
        name = context.get(answers.PACKAGE)
        if "src" not in context["features"] or not name:
            return
        conf = context["_copier_conf"]
        recorded = answers.recorded_answer(conf, answers.PACKAGE)
        if recorded and str(recorded) != str(name):
            raise answers.UserMessageError(
                answers.rename_refusal(
                    str(recorded), str(name), str(conf["answers_file"]), "before it writes a file"
                )
            )
