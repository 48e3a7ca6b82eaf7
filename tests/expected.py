"""The exact files each part of a generated project owns, written out by hand.

Independent of extensions/features.py on purpose: a change to the tier table must
show up here as a deliberate edit, like cookiecutter-data-science's expected sets.
"""

from __future__ import annotations

BASE = {".copier-answers.yml", ".gitattributes", ".gitignore", "README.md", "pyproject.toml"}

SMALL_LAYOUT = {"notebooks/exploration.ipynb", "data/sample.csv"}

PACKAGE = {
    "src/{pkg}/__init__.py",
    "src/{pkg}/data/__init__.py",
    "src/{pkg}/data/make_dataset.py",
    "src/{pkg}/data/preprocessing.py",
    "src/{pkg}/features/__init__.py",
    "src/{pkg}/features/build_features.py",
    "src/{pkg}/models/__init__.py",
    "src/{pkg}/models/train.py",
    "src/{pkg}/models/predict.py",
    "src/{pkg}/models/evaluate.py",
    "src/{pkg}/visualization/__init__.py",
    "src/{pkg}/visualization/visualize.py",
    "src/{pkg}/utils/__init__.py",
    "src/{pkg}/utils/cli.py",
    "src/{pkg}/utils/config.py",
    "src/{pkg}/utils/config_loader.py",
    "src/{pkg}/utils/files.py",
    "data/raw/.gitkeep",
    "data/processed/.gitkeep",
    "models/.gitkeep",
    "reports/figures/.gitkeep",
    "notebooks/01_exploration.ipynb",
    "notebooks/02_preprocessing.ipynb",
    "notebooks/03_modeling.ipynb",
    "notebooks/04_evaluation.ipynb",
    "configs/model/default.yaml",
    "configs/training/default.yaml",
}
TESTS = {
    "tests/__init__.py",
    "tests/conftest.py",
    "tests/unit/__init__.py",
    "tests/unit/test_config.py",
    "tests/unit/test_data.py",
    "tests/unit/test_features.py",
    "tests/unit/test_imports.py",
    "tests/unit/test_models.py",
    "tests/integration/__init__.py",
    "tests/integration/test_stages.py",
}
MAKEFILE = {"Makefile"}
PRECOMMIT = {".pre-commit-config.yaml"}
CI = {
    ".github/dependabot.yml",
    ".github/workflows/ci.yml",
    ".github/workflows/template-update.yml",
}
CONTRIBUTING = {"CONTRIBUTING.md"}
LICENSE = {"LICENSE"}
#: With either tracker, MLflow or Weights & Biases.
TRACKING = {"src/{pkg}/utils/tracking.py"}
TRACKING_TESTS = {"tests/unit/test_tracking.py"}
PYTORCH = {"src/{pkg}/models/network.py"}
PYTORCH_TESTS = {"tests/unit/test_network.py"}
HYDRA = {"configs/config.yaml", "src/{pkg}/models/sweep.py"}
HYDRA_TESTS = {"tests/integration/test_sweep.py"}
POETRY_PACKAGE = {"poetry.toml"}
VALIDATION = {"src/{pkg}/models/validate.py", "tests/unit/test_validate.py"}
#: With validation and MLflow: `make promote` and its model registry.
PROMOTE = {"src/{pkg}/models/promote.py"}
PIPELINES = {
    "pipelines/training/run_training.py",
    "pipelines/inference/run_inference.py",
    "tests/integration/test_pipelines.py",
}

MEDIUM = BASE | PACKAGE | TESTS | MAKEFILE | PRECOMMIT | CI | CONTRIBUTING | LICENSE
SMALL = BASE | SMALL_LAYOUT
SERVING = {
    "configs/deployment/default.yaml",
    "src/{pkg}/serving/__init__.py",
    "src/{pkg}/serving/app.py",
    "src/{pkg}/serving/load_test.py",
    "tests/unit/test_serving.py",
    "tests/load/locustfile.py",
}
E2E = {"tests/e2e/__init__.py", "tests/e2e/test_pipeline_to_server.py"}
DOCS = {"mkdocs.yml", "docs/index.md", "docs/getting-started.md", "docs/pipeline.md"}
DOCS_SERVING = {"docs/serving.md"}
INFRA = {
    ".dockerignore",
    "configs/deployment/container.yaml",
    "infrastructure/docker/Dockerfile",
    "infrastructure/kubernetes/deployment.yaml",
    "infrastructure/kubernetes/service.yaml",
    "infrastructure/kubernetes/configmap.yaml",
    "infrastructure/kubernetes/kustomization.yaml",
    "infrastructure/terraform/main.tf",
    "infrastructure/terraform/variables.tf",
    "infrastructure/terraform/outputs.tf",
    "infrastructure/terraform/versions.tf",
}
DOCS_INFRA = {"docs/deployment.md"}
#: The Kubernetes Jobs, with infra and DVC (they keep their data in its remote).
KUBERNETES_JOBS = {
    "infrastructure/kubernetes/training-job.yaml",
    "infrastructure/kubernetes/batch-inference-cronjob.yaml",
    "infrastructure/kubernetes/sweep-job.yaml",
    "infrastructure/kubernetes/sweep-grid.yaml",
    "src/{pkg}/models/sweep_grid.py",
}
#: The team's MLflow tracking server, with infra and MLflow.
KUBERNETES_MLFLOW = {
    "infrastructure/kubernetes/mlflow-deployment.yaml",
    "infrastructure/kubernetes/mlflow-service.yaml",
    "infrastructure/kubernetes/mlflow-storage.yaml",
}
#: Workflows that need more than CI: deploying needs infra, the gate needs DVC.
CD = {".github/workflows/cd.yml"}
MODEL_VALIDATION = {".github/workflows/model-validation.yml"}
DATA_LAYERS = {"data/interim/.gitkeep", "data/external/.gitkeep"}
DVC = {"dvc.yaml", ".dvc/config", ".dvc/.gitignore", ".dvcignore"}
LARGE = (
    MEDIUM
    | DATA_LAYERS
    | VALIDATION
    | PIPELINES
    | SERVING
    | E2E
    | DOCS
    | DOCS_SERVING
    | INFRA
    | DOCS_INFRA
    | KUBERNETES_JOBS
    | DVC
    | CD
    | MODEL_VALIDATION
)


def expected_files(
    tier: str,
    package_manager: str,
    tracker: str,
    config_system: str = "yaml",
    framework: str = "sklearn",
    pkg: str = "ml_project",
) -> set[str]:
    """The whole file set of a tier with no features added or removed."""
    files = set({"small": SMALL, "medium": MEDIUM, "large": LARGE}[tier])
    if tier != "small":
        if tracker != "none":
            files |= TRACKING | TRACKING_TESTS
        if framework == "pytorch":
            files |= PYTORCH | PYTORCH_TESTS
        if config_system == "hydra":
            files |= HYDRA | HYDRA_TESTS
        if package_manager == "poetry":
            files |= POETRY_PACKAGE
    if tier == "large" and tracker == "mlflow":
        files |= KUBERNETES_MLFLOW
    if tier == "large" and tracker == "mlflow":
        files |= PROMOTE
    return {name.format(pkg=pkg) for name in files}
