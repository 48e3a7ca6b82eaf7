"""The answers that pick a variant of the project, and what each choice brings.

Features (features.py) decide which parts a project has; these answers decide which
version of a part it gets. A file that differs by one of them includes its variant
from ``variants/<question>/<choice>/`` (outside the rendered tree), and the files that
only some choices generate are named here. Every fact a template, copier.yml or a doc
example needs about a choice is written once, in the tables below.
"""

from __future__ import annotations

#: The questions with variant folders, in the order they are asked. ``tracker`` is the
#: effective tracker: ``experiment_tracker``, or "none" without the tracking feature.
QUESTIONS = ("license", "package_manager", "tracker", "config_system", "ml_framework",
             "cloud_provider", "dvc_remote")  # fmt: skip

#: Where the variants live, relative to the template's root.
FOLDER = "variants"

#: Files and folders under template/ that only some choices generate, by question then
#: choice; a choice not listed generates none of its question's paths.
PATHS: dict[str, dict[str, tuple[str, ...]]] = {
    "package_manager": {"poetry": ("poetry.toml",)},
    "tracker": {
        "mlflow": (
            "src/{package}/utils/tracking.py",
            "tests/unit/test_tracking.py",
            "src/{package}/models/promote.py",
            "infrastructure/kubernetes/mlflow-deployment.yaml",
            "infrastructure/kubernetes/mlflow-service.yaml",
            "infrastructure/kubernetes/mlflow-storage.yaml",
        ),
        "wandb": ("src/{package}/utils/tracking.py", "tests/unit/test_tracking.py"),
    },
    "config_system": {
        "hydra": (
            "configs/config.yaml",
            "src/{package}/models/sweep.py",
            "tests/integration/test_sweep.py",
        )
    },
    "ml_framework": {"pytorch": ("src/{package}/models/network.py", "tests/unit/test_network.py")},
}

#: The file the pipeline saves the trained model to, in models/, by ml_framework.
MODEL_FILES = {"sklearn": "model.joblib", "pytorch": "model.pt"}

#: The ``name`` of the default model config, by ml_framework.
MODEL_NAMES = {"sklearn": "random_forest", "pytorch": "mlp"}

#: A two-by-two grid for ``make sweep ARGS=...`` (Hydra), by ml_framework.
SWEEP_EXAMPLES = {
    "sklearn": "model.n_estimators=50,100 model.max_depth=4,8",
    "pytorch": "model.epochs=20,60 model.learning_rate=0.001,0.01",
}

#: A hyperparameter of the default model config and a new value, by ml_framework.
HYPERPARAMETERS = {"sklearn": ("n_estimators", "50"), "pytorch": ("epochs", "20")}

#: Where the model's hyperparameters sit among the settings, by config_system.
MODEL_KEYS = {"yaml": "model.params", "hydra": "model"}

#: The config every pipeline step reads unless told otherwise, by config_system.
CONFIG_FILES = {"yaml": "configs/training/default.yaml", "hydra": "configs/config.yaml"}

#: The tracker's name in prose, by tracker.
TRACKER_NAMES = {"mlflow": "MLflow", "wandb": "W&B", "none": ""}

#: The lock file each package manager writes.
LOCK_FILES = {"uv": "uv.lock", "poetry": "poetry.lock"}

#: PyTorch's own wheel index of one torch build, by torch_backend.
TORCH_INDEX = "https://download.pytorch.org/whl/{backend}"
#: The CUDA runtime image the Dockerfile's last stage builds on, by torch_backend (the
#: newest patch release of that CUDA version); the CPU build keeps the slim Python image.
CUDA_IMAGES = {
    "cpu": "",
    "cu126": "nvidia/cuda:12.6.3-runtime-ubuntu24.04",
    "cu128": "nvidia/cuda:12.8.1-runtime-ubuntu24.04",
    "cu130": "nvidia/cuda:13.0.3-runtime-ubuntu24.04",
    "cu132": "nvidia/cuda:13.2.1-runtime-ubuntu24.04",
}


def backend_of_index(url: str) -> str:
    """The torch_backend whose PyTorch index this URL is, or "" (a mirror, a folder)."""
    for backend in CUDA_IMAGES:
        if str(url).strip().rstrip("/") == TORCH_INDEX.format(backend=backend):
            return backend
    return ""


def torch_index(backend: str, index_url: str) -> dict[str, str | bool]:
    """The one index torch comes from: a recorded `torch_index_url` (a mirror, or with uv
    a folder of wheels, a flat index) keeps winning, else PyTorch's index of the build."""
    if index_url:
        return {"name": "pytorch", "url": index_url, "flat": index_url.startswith("/")}
    url = TORCH_INDEX.format(backend=backend)
    return {"name": f"pytorch-{backend}", "url": url, "flat": False}


def azure_names(slug: str) -> dict[str, str]:
    """Azure's storage account (3-24) and registry (5-50) names: lowercase letters and
    digits only, so the slug without its dashes, cut to fit."""
    compact = slug.replace("-", "")
    return {"storage_account": f"{compact[:19]}store", "registry": f"{compact[:42]}registry"}


def override_example(config_system: str, ml_framework: str) -> str:
    """The command-line override the docs show: ``model.params.n_estimators=50``."""
    key, value = HYPERPARAMETERS.get(ml_framework, HYPERPARAMETERS["sklearn"])
    return f"{MODEL_KEYS.get(config_system, MODEL_KEYS['yaml'])}.{key}={value}"


def folders(choices: dict[str, str]) -> dict[str, str]:
    """The variant folder of each question for these choices."""
    return {question: f"{FOLDER}/{question}/{choices[question]}" for question in QUESTIONS}


def excluded_paths(choices: dict[str, str]) -> list[str]:
    """Paths that other choices generate and these do not."""
    excluded: dict[str, None] = {}
    for question, by_choice in PATHS.items():
        kept = set(by_choice.get(choices[question], ()))
        for paths in by_choice.values():
            excluded.update((path, None) for path in paths if path not in kept)
    return list(excluded)
