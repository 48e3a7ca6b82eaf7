"""The large tier's infrastructure: a linted image, valid Kubernetes manifests, Terraform.

Everything is checked offline: the Kubernetes schemas ship with kubernetes-validate,
hadolint is a binary inside its wheel, and python-hcl2 parses Terraform without the
providers. The checks also tie the pieces together: the port, user, config file and
model path the Dockerfile uses are the ones the manifests and configs use.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from dockerfile_parse import DockerfileParser
from kubernetes_validate.utils import ValidationError, validate

from .helpers import render, run_in, tool

#: The Kubernetes release whose schemas the manifests must satisfy.
KUBERNETES_VERSION = "1.33.0"
#: How each package manager installs the runtime dependencies from its lock file.
LOCKED_INSTALL = {
    "uv": ("uv.lock", "uv sync --locked --no-default-groups"),
    "poetry": ("poetry.lock", "poetry install --only main"),
}
CLOUDS = ["aws", "gcp", "azure"]
DOCKERFILE = "infrastructure/docker/Dockerfile"
KUBERNETES = "infrastructure/kubernetes"
TERRAFORM = "infrastructure/terraform"
CONTAINER_CONFIG = "configs/deployment/container.yaml"
SLUG, PACKAGE = "wine-quality", "wine_quality"

#: What each cloud's Terraform must create: storage for DVC and models, and a registry.
CLOUD_RESOURCES = {
    "aws": {"aws_s3_bucket", "aws_ecr_repository"},
    "gcp": {"google_storage_bucket", "google_artifact_registry_repository"},
    "azure": {
        "azurerm_resource_group",
        "azurerm_storage_account",
        "azurerm_storage_container",
        "azurerm_container_registry",
    },
}
CLOUD_PROVIDERS = {"aws": "aws", "gcp": "google", "azure": "azurerm"}

#: The Jobs that run the project's image beside the service, and what each needs.
JOBS = ("training-job.yaml", "batch-inference-cronjob.yaml", "sweep-job.yaml")
SERVING_FILES = {"configmap.yaml", "deployment.yaml", "service.yaml", "kustomization.yaml"}
JOB_FILES = {*JOBS, "sweep-grid.yaml"}  # with DVC: the Jobs keep their data in its remote
MLFLOW_FILES = {"mlflow-deployment.yaml", "mlflow-service.yaml", "mlflow-storage.yaml"}
#: Every answer that changes the Kubernetes folder, and the files it holds then.
KUBERNETES_ANSWERS: dict[str, dict[str, Any]] = {
    "mlflow-aws": {"experiment_tracker": "mlflow", "cloud_provider": "aws"},
    "wandb-gcp": {"experiment_tracker": "wandb", "cloud_provider": "gcp"},
    "none-azure": {"experiment_tracker": "none", "cloud_provider": "azure"},
    "pytorch-gpu": {"ml_framework": "pytorch", "torch_backend": "cu128", "config_system": "hydra"},
    "medium-infra": {"tier": "medium", "include_features": ["infra"]},
}
KUBERNETES_FILES = {
    "mlflow-aws": SERVING_FILES | JOB_FILES | MLFLOW_FILES,
    "wandb-gcp": SERVING_FILES | JOB_FILES,
    "none-azure": SERVING_FILES | JOB_FILES,
    "pytorch-gpu": SERVING_FILES | JOB_FILES | MLFLOW_FILES,
    "medium-infra": SERVING_FILES | MLFLOW_FILES,
}
HCL = hcl2.SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)


def _large(factory: pytest.TempPathFactory, cloud: str = "aws", manager: str = "uv") -> Path:
    dst = factory.mktemp(f"large-{cloud}-{manager}")
    return render(
        dst,
        tier="large",
        project_name="Wine Quality",
        cloud_provider=cloud,
        package_manager=manager,
    )


def _manifest(project: Path, name: str) -> dict[str, Any]:
    return yaml.safe_load((project / KUBERNETES / name).read_text())


def _pod(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = _pod(deployment)["containers"]
    return container


def _manifest_paths(project: Path) -> list[Path]:
    """The folder's Kubernetes objects: not kustomize's file, not the sweep's grid."""
    skipped = {"kustomization.yaml", "sweep-grid.yaml"}
    return sorted(p for p in (project / KUBERNETES).iterdir() if p.name not in skipped)


def _job_pod(manifest: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of a Job or a CronJob's Job."""
    spec = manifest["spec"]
    spec = spec["jobTemplate"]["spec"] if manifest["kind"] == "CronJob" else spec
    return spec["template"]["spec"]


def _containers(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The containers of any workload; none for a Service, a ConfigMap, a claim."""
    if manifest["kind"] in ("Job", "CronJob"):
        return _job_pod(manifest)["containers"]
    if manifest["kind"] == "Deployment":
        return _pod(manifest)["containers"]
    return []


def _tag_check(project: Path) -> str:
    """The script of cd.yml's step that compares the release tag with the manifests'."""
    workflow = yaml.safe_load((project / ".github/workflows/cd.yml").read_text())
    (job,) = workflow["jobs"].values()
    (step,) = [s for s in job["steps"] if "kustomization.yaml" in s.get("run", "")]
    return step["run"]


def _run_step(project: Path, script: str, tag: str) -> subprocess.CompletedProcess[str]:
    """Run a workflow step's script as GitHub would for a push of ``tag``."""
    env = {"PATH": "/usr/bin:/bin", "GITHUB_REF_NAME": tag}
    return subprocess.run(
        ["bash", "-e", "-c", script], cwd=project, env=env, capture_output=True, text=True
    )


def _instructions(dockerfile: DockerfileParser, name: str) -> list[str]:
    """The arguments of every instruction called ``name``, in order."""
    return [i["value"] for i in dockerfile.structure if i["instruction"] == name]


def _final_stage(dockerfile: DockerfileParser) -> list[dict[str, Any]]:
    stages: list[list[dict[str, Any]]] = []
    for instruction in dockerfile.structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages[-1]


def _cmd(dockerfile: DockerfileParser) -> list[str]:
    return json.loads(_instructions(dockerfile, "CMD")[-1])  # the exec form is a JSON list


def _context_files(project: Path, dockerfile: DockerfileParser) -> Iterator[str]:
    """What the Dockerfile copies from the build context, folders walked."""
    for value in _instructions(dockerfile, "COPY"):
        if value.startswith("--from"):
            continue
        for name in value.split()[:-1]:
            if (project / name).is_dir():
                for path in (project / name).rglob("*"):
                    if path.is_file():
                        yield path.relative_to(project).as_posix()
            else:
                # uv.lock and the model exist only once the project has run; `dvc.lock*`
                # is dvc.lock when there is one (BuildKit copies nothing else).
                yield name.removesuffix("*")


def _dockerignore_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex: `*` stays within a folder, `**` crosses them."""
    parts = re.split(r"(\*\*/|\*\*|\*|\?|\[[^\]]*\])", pattern)
    wildcards = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile(
        "".join(wildcards.get(p, p if p.startswith("[") else re.escape(p)) for p in parts)
    )


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path, or a folder above it, wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for pattern in patterns:
        regex = _dockerignore_regex(pattern.removeprefix("!"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            ignored = not pattern.startswith("!")
    return ignored


def _terraform(project: Path) -> dict[str, list[dict[str, Any]]]:
    """Every top-level block of the Terraform folder, by block type."""
    blocks: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((project / TERRAFORM).glob("*.tf")):
        parsed = hcl2.loads(path.read_text(), serialization_options=HCL)
        for kind, entries in parsed.items():
            blocks.setdefault(kind, []).extend(entries)
    return blocks


def _names(blocks: list[dict[str, Any]]) -> set[str]:
    return {name for block in blocks for name in block}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _large(tmp_path_factory)


@pytest.fixture(scope="module", params=list(LOCKED_INSTALL))
def managed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, DockerfileParser]:
    project = _large(tmp_path_factory, manager=request.param)
    return request.param, DockerfileParser(path=str(project / DOCKERFILE))


@pytest.fixture(scope="module", params=CLOUDS)
def cloud(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    return request.param, _large(tmp_path_factory, cloud=request.param)


@pytest.fixture(scope="module", params=list(KUBERNETES_ANSWERS))
def kubernetes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    """A project of each combination that changes the Kubernetes folder."""
    answers = {"tier": "large", "project_name": "Wine Quality", **KUBERNETES_ANSWERS[request.param]}
    return request.param, render(tmp_path_factory.mktemp(request.param), **answers)


@pytest.fixture(scope="module")
def gpu_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dst = tmp_path_factory.mktemp("gpu")
    answers = {"ml_framework": "pytorch", "torch_backend": "cu128"}
    return render(dst, tier="large", project_name="Wine Quality", **answers)


@pytest.fixture(scope="module")
def deployment(project: Path) -> dict[str, Any]:
    return _manifest(project, "deployment.yaml")


@pytest.fixture(scope="module")
def dockerfile(project: Path) -> DockerfileParser:
    return DockerfileParser(path=str(project / DOCKERFILE))


# Kubernetes


def test_manifest_is_valid_against_the_kubernetes_schema(kubernetes: tuple[str, Path]) -> None:
    _, project = kubernetes
    for path in _manifest_paths(project):
        documents = list(yaml.safe_load_all(path.read_text()))
        assert len(documents) == 1, path.name  # one document a file, as check-yaml wants
        # Strict: an unknown or misspelt field is refused too.
        assert validate(documents[0], KUBERNETES_VERSION, strict=True) == "1.33", path.name


def test_kubernetes_folder_holds_exactly_the_manifests_of_the_combination(
    kubernetes: tuple[str, Path],
) -> None:
    combination, project = kubernetes
    names = {path.name for path in (project / KUBERNETES).iterdir()}
    assert names == KUBERNETES_FILES[combination]


def test_kustomization_applies_every_manifest_of_the_folder(
    kubernetes: tuple[str, Path],
) -> None:
    _, project = kubernetes
    kustomization = _manifest(project, "kustomization.yaml")
    assert kustomization["kind"] == "Kustomization"
    assert set(kustomization["resources"]) == {path.name for path in _manifest_paths(project)}


def test_every_manifest_runs_the_image_kustomization_tags_never_latest(
    kubernetes: tuple[str, Path],
) -> None:
    _, project = kubernetes
    ((image,),) = [_manifest(project, "kustomization.yaml")["images"]]
    assert image["name"] == SLUG
    assert re.fullmatch(r"v\d+\.\d+\.\d+", image["newTag"])  # a git tag cd.yml pushes
    for path in _manifest_paths(project):
        for container in _containers(yaml.safe_load(path.read_text())):
            if path.name.startswith("mlflow-"):
                # MLflow's own image, pinned to a release.
                assert re.fullmatch(r"ghcr\.io/mlflow/mlflow:v\d+\.\d+\.\d+", container["image"])
            else:
                # Untagged here: kustomization.yaml's newTag is the only tag, so no
                # manifest falls back to :latest or drifts from the others.
                assert container["image"] == SLUG, path.name
    text = "\n".join(path.read_text() for path in (project / KUBERNETES).iterdir())
    assert ":latest" not in text


def test_cd_refuses_a_release_tag_the_manifests_do_not_run(project: Path) -> None:
    script = _tag_check(project)
    assert _run_step(project, script, "v0.1.0").returncode == 0
    refused = _run_step(project, script, "v0.2.0")
    assert refused.returncode == 1
    assert "make kubernetes-image TAG=v0.2.0" in refused.stdout


def test_make_kubernetes_image_names_the_tag_and_registry_that_cd_checks(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project = _large(tmp_path_factory, cloud="gcp")
    registry = "europe-west1-docker.pkg.dev/acme/serving/wine-quality"
    run_in(project, "make", "kubernetes-image", "TAG=v0.2.0", f"IMAGE={registry}")
    (image,) = _manifest(project, "kustomization.yaml")["images"]
    assert image == {"name": SLUG, "newName": registry, "newTag": "v0.2.0"}
    assert _run_step(project, _tag_check(project), "v0.2.0").returncode == 0
    assert not list((project / KUBERNETES).glob("*.bak"))


def test_make_kubernetes_image_without_a_tag_says_so(project: Path) -> None:
    _, _, err = run_in(project, "make", "kubernetes-image", retcode=2)
    assert "set TAG= to the git tag cd.yml pushes" in err


@pytest.mark.parametrize("name", JOBS)
def test_job_runs_unprivileged_on_a_read_only_root_with_resources(project: Path, name: str) -> None:
    pod = _job_pod(_manifest(project, name))
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}
    # Its only writable places are volumes of its own.
    mounted = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert container["workingDir"] in mounted


@pytest.mark.parametrize("name", ["training-job.yaml", "sweep-job.yaml"])
def test_training_jobs_log_to_the_tracking_servers_service(project: Path, name: str) -> None:
    service = _manifest(project, "mlflow-service.yaml")
    (port,) = service["spec"]["ports"]
    (container,) = _job_pod(_manifest(project, name))["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["MLFLOW_TRACKING_URI"] == f"http://{service['metadata']['name']}:{port['port']}"


def test_jobs_read_the_storage_and_wandb_credentials_from_secrets(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    dst = tmp_path_factory.mktemp("wandb")
    project = render(dst, tier="large", project_name="Wine Quality", experiment_tracker="wandb")
    for name in JOBS:
        (container,) = _job_pod(_manifest(project, name))["containers"]
        secrets = {source["secretRef"]["name"] for source in container["envFrom"]}
        tracked = name != "batch-inference-cronjob.yaml"  # scoring logs no run
        assert secrets == {f"{SLUG}-storage"} | ({f"{SLUG}-wandb"} if tracked else set()), name


def test_sweep_job_has_one_index_per_grid_point(project: Path) -> None:
    job = _manifest(project, "sweep-job.yaml")
    grid = _manifest(project, "sweep-grid.yaml")
    assert job["spec"]["completionMode"] == "Indexed"
    (container,) = _job_pod(job)["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    points = json.loads(env["SWEEP_POINTS"])
    assert job["spec"]["completions"] == len(points) == math.prod(map(len, grid.values()))
    assert {tuple(point) for point in points} == {
        tuple(f"{key}={value}" for key, value in zip(grid, values, strict=True))
        for values in itertools.product(*grid.values())
    }
    assert all(key.startswith("model.params.") for key in grid)  # what `make train ARGS=` takes


@pytest.mark.parametrize("name", ["deployment.yaml", "training-job.yaml", "sweep-job.yaml"])
def test_with_a_cuda_torch_the_deployment_and_training_ask_for_one_gpu(
    gpu_project: Path, project: Path, name: str
) -> None:
    (container,) = _containers(_manifest(gpu_project, name))
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    (cpu_container,) = _containers(_manifest(project, name))
    assert "nvidia.com/gpu" not in cpu_container["resources"]["limits"]


def test_batch_inference_never_asks_for_a_gpu(gpu_project: Path) -> None:
    (container,) = _containers(_manifest(gpu_project, "batch-inference-cronjob.yaml"))
    assert "nvidia.com/gpu" not in container["resources"]["limits"]


def test_tracking_server_runs_as_securely_as_the_service(project: Path) -> None:
    server = _manifest(project, "mlflow-deployment.yaml")
    pod = _pod(server)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    container = _container(server)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health"


def test_tracking_server_keeps_its_store_on_the_claimed_volume(project: Path) -> None:
    server = _manifest(project, "mlflow-deployment.yaml")
    claim = _manifest(project, "mlflow-storage.yaml")
    (volume,) = [v for v in _pod(server)["volumes"] if "persistentVolumeClaim" in v]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    (mount,) = [m for m in _container(server)["volumeMounts"] if m["name"] == volume["name"]]
    args = dict(arg.split("=", 1) for arg in _container(server)["args"][1:])
    assert args["--backend-store-uri"] == f"sqlite:///{mount['mountPath']}/mlflow.db"
    assert args["--artifacts-destination"].startswith(mount["mountPath"] + "/")
    service = _manifest(project, "mlflow-service.yaml")
    assert (
        service["spec"]["selector"].items()
        <= server["spec"]["template"]["metadata"]["labels"].items()
    )
    (port,) = service["spec"]["ports"]
    assert f"{service['metadata']['name']}:{port['port']}" in args["--allowed-hosts"].split(",")


@pytest.mark.parametrize(
    ("field", "value"),
    [("replicas", "2"), ("replica", 2)],
    ids=["string-replica-count", "misspelt-field"],
)
def test_schema_check_refuses_a_broken_deployment(
    deployment: dict[str, Any], field: str, value: object
) -> None:
    broken = copy.deepcopy(deployment)
    broken["spec"][field] = value
    with pytest.raises(ValidationError):
        validate(broken, KUBERNETES_VERSION, strict=True)


def test_manifests_are_named_after_the_project(project: Path) -> None:
    for path in _manifest_paths(project):
        manifest = yaml.safe_load(path.read_text())
        assert manifest["metadata"]["name"].startswith(SLUG)
        assert manifest["metadata"]["labels"]["app.kubernetes.io/name"] == SLUG


def test_deployment_probes_health_for_readiness_and_liveness(
    deployment: dict[str, Any],
) -> None:
    container = _container(deployment)
    (port,) = container["ports"]
    for probe in ("readinessProbe", "livenessProbe"):
        check = container[probe]["httpGet"]
        assert check["path"] == "/health"
        assert check["port"] in (port["name"], port["containerPort"])


def test_deployment_requests_and_limits_cpu_and_memory(deployment: dict[str, Any]) -> None:
    resources = _container(deployment)["resources"]
    assert set(resources["requests"]) == {"cpu", "memory"}
    assert set(resources["limits"]) == {"cpu", "memory"}


def test_deployment_runs_unprivileged_on_a_read_only_root(
    deployment: dict[str, Any],
) -> None:
    assert _pod(deployment)["securityContext"]["runAsNonRoot"] is True
    assert _pod(deployment)["automountServiceAccountToken"] is False
    security = _container(deployment)["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]


def test_deployment_runs_as_the_images_user(
    deployment: dict[str, Any], dockerfile: DockerfileParser
) -> None:
    user, group = _instructions(dockerfile, "USER")[-1].split(":")
    pod = _pod(deployment)["securityContext"]
    assert (pod["runAsUser"], pod["runAsGroup"]) == (int(user), int(group))


def test_deployment_selects_its_own_pods(deployment: dict[str, Any]) -> None:
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_service_selects_the_deployments_pods_and_targets_its_port(project: Path) -> None:
    deployment = _manifest(project, "deployment.yaml")
    service = _manifest(project, "service.yaml")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    (port,) = _container(deployment)["ports"]
    (target,) = service["spec"]["ports"]
    assert target["targetPort"] in (port["name"], port["containerPort"])


def test_configmap_holds_the_config_the_image_reads(
    project: Path, dockerfile: DockerfileParser
) -> None:
    deployment = _manifest(project, "deployment.yaml")
    configmap = _manifest(project, "configmap.yaml")
    (volume,) = [v for v in _pod(deployment)["volumes"] if "configMap" in v]
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    (mount,) = [m for m in _container(deployment)["volumeMounts"] if m["name"] == volume["name"]]
    (key,) = configmap["data"]
    # The image's CMD reads --config relative to its WORKDIR: the mounted file.
    cmd = _cmd(dockerfile)
    read = Path(_instructions(dockerfile, "WORKDIR")[-1]) / cmd[cmd.index("--config") + 1]
    assert Path(mount["mountPath"]) / key == read
    settings = yaml.safe_load(configmap["data"][key])
    assert settings == yaml.safe_load((project / CONTAINER_CONFIG).read_text())


def test_container_config_has_the_settings_of_the_default_one(project: Path) -> None:
    container = yaml.safe_load((project / CONTAINER_CONFIG).read_text())
    default = yaml.safe_load((project / "configs/deployment/default.yaml").read_text())
    assert container.keys() == default.keys()
    assert container["model_path"] == default["model_path"]


def test_container_serves_on_every_interface_at_the_port_everyone_uses(
    project: Path, deployment: dict[str, Any], dockerfile: DockerfileParser
) -> None:
    settings = yaml.safe_load((project / CONTAINER_CONFIG).read_text())
    assert settings["host"] == "0.0.0.0"
    port = settings["port"]
    (container_port,) = _container(deployment)["ports"]
    assert container_port["containerPort"] == port
    assert _instructions(dockerfile, "EXPOSE") == [str(port)]
    assert f"127.0.0.1:{port}/health" in _instructions(dockerfile, "HEALTHCHECK")[0]


# Docker


def test_dockerfile_passes_hadolint(managed: tuple[str, DockerfileParser], tmp_path: Path) -> None:
    _, dockerfile = managed
    # Our own config, so no hadolint.yaml on the machine silences a rule.
    config = tmp_path / "hadolint.yaml"
    config.write_text("ignored: []\n")
    tool("hadolint")(
        "--config", config, "--no-color", "--failure-threshold", "style", dockerfile.dockerfile_path
    )


def test_dockerfile_builds_in_stages_from_a_pinned_slim_python(
    managed: tuple[str, DockerfileParser],
) -> None:
    _, dockerfile = managed
    assert len(dockerfile.parent_images) >= 2
    pinned = re.compile(r"python:3\.11(\.\d+)?-slim-[a-z]+(@sha256:[0-9a-f]{64})?")
    assert all(pinned.fullmatch(image) for image in dockerfile.parent_images)


def test_dockerfile_runs_as_a_numeric_non_root_user(
    managed: tuple[str, DockerfileParser],
) -> None:
    _, dockerfile = managed
    users = [i["value"] for i in _final_stage(dockerfile) if i["instruction"] == "USER"]
    user = users[-1].split(":")[0]
    assert user.isdigit()  # Kubernetes' runAsNonRoot can check only a number
    assert int(user) != 0


def test_dockerfile_checks_health_with_python_alone(
    managed: tuple[str, DockerfileParser],
) -> None:
    _, dockerfile = managed
    (healthcheck,) = _instructions(dockerfile, "HEALTHCHECK")
    assert "urllib.request" in healthcheck
    assert "/health" in healthcheck
    assert "curl" not in healthcheck


def test_dockerfile_installs_the_runtime_dependencies_from_the_lock_file(
    managed: tuple[str, DockerfileParser],
) -> None:
    manager, dockerfile = managed
    lock, install = LOCKED_INSTALL[manager]
    assert any(lock in copied.split() for copied in _instructions(dockerfile, "COPY"))
    runs = _instructions(dockerfile, "RUN")
    assert any(run.startswith(install) for run in runs)
    assert not any("export" in run or "requirements" in run for run in runs)


def test_dockerfile_serves_the_trained_model(managed: tuple[str, DockerfileParser]) -> None:
    _, dockerfile = managed
    copied = [value.split() for value in _instructions(dockerfile, "COPY")]
    assert ["models/model.joblib", "./models/model.joblib"] in copied
    assert ["configs", "./configs"] in copied
    cmd = _cmd(dockerfile)
    assert cmd[:3] == ["python", "-m", f"{PACKAGE}.serving.app"]
    assert cmd[3:] == ["--config", CONTAINER_CONFIG]


def test_dockerignore_sends_what_the_image_copies_and_nothing_heavy(
    managed: tuple[str, DockerfileParser],
) -> None:
    _, dockerfile = managed
    project = Path(dockerfile.dockerfile_path).parents[2]
    patterns = [
        line
        for line in (project / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    needed = list(_context_files(project, dockerfile))
    assert f"src/{PACKAGE}/serving/app.py" in needed
    assert [name for name in needed if _ignored(name, patterns)] == []
    heavy = [".git/HEAD", ".venv/bin/python", "data/raw/wine.csv", "mlruns/0/meta.yaml"]
    others = ["mlflow.db", "notebooks/01_exploration.ipynb", ".env", "models/old.joblib"]
    caches = [f"src/{PACKAGE}/__pycache__/__init__.cpython-311.pyc"]
    assert all(_ignored(name, patterns) for name in heavy + others + caches)


def test_the_image_carries_dvc_and_the_pipeline_for_the_kubernetes_jobs(
    managed: tuple[str, DockerfileParser],
) -> None:
    """The training, batch-inference and sweep Jobs run `dvc` in the serving image."""
    _, dockerfile = managed
    project = Path(dockerfile.dockerfile_path).parents[2]
    installs = [run for run in _instructions(dockerfile, "RUN") if "--locked" in run
                or "poetry install" in run]  # fmt: skip
    assert installs and all("pipeline" in run for run in installs)
    copies = [i["value"].split() for i in _final_stage(dockerfile) if i["instruction"] == "COPY"]
    targets = {copy[-1].removeprefix("./").rstrip("/") for copy in copies}
    assert {".dvc/config", "pipelines"} <= targets
    assert "src" in targets or "/app/src" in targets  # dvc.yaml's deps
    assert ["dvc.yaml", "dvc.lock*", "./"] in copies
    patterns = [line for line in (project / ".dockerignore").read_text().splitlines()
                if line and not line.startswith("#")]  # fmt: skip
    kept_out = [".dvc/config.local", ".dvc/cache/files/md5/ab/cdef", ".dvc/tmp/lock"]
    assert all(_ignored(name, patterns) for name in kept_out)


# Terraform


def test_terraform_is_four_files_of_valid_hcl(cloud: tuple[str, Path]) -> None:
    _, project = cloud
    files = sorted((project / TERRAFORM).iterdir())
    assert [path.name for path in files] == ["main.tf", "outputs.tf", "variables.tf", "versions.tf"]
    for path in files:
        hcl2.loads(path.read_text())  # raises on a syntax error


def test_terraform_creates_the_clouds_storage_and_registry(cloud: tuple[str, Path]) -> None:
    provider, project = cloud
    resources = _names(_terraform(project)["resource"])
    assert CLOUD_RESOURCES[provider] <= resources
    assert all(name.startswith(f"{CLOUD_PROVIDERS[provider]}_") for name in resources)


def test_terraform_requires_only_the_clouds_provider(cloud: tuple[str, Path]) -> None:
    provider, project = cloud
    (settings,) = _terraform(project)["terraform"]
    (required,) = settings["required_providers"]
    name = CLOUD_PROVIDERS[provider]
    assert set(required) == {name}
    assert required[name]["source"] == f"hashicorp/{name}"
    assert required[name]["version"].startswith("~>")
    assert _names(_terraform(project)["provider"]) == {name}


def test_terraform_outputs_the_dvc_remote_and_the_image_repository(
    cloud: tuple[str, Path],
) -> None:
    _, project = cloud
    outputs = _names(_terraform(project)["output"])
    assert {"dvc_remote_url", "model_artifacts_url", "image_repository_url"} <= outputs


def test_terraform_declares_every_variable_it_uses(cloud: tuple[str, Path]) -> None:
    _, project = cloud
    text = "\n".join(path.read_text() for path in (project / TERRAFORM).glob("*.tf"))
    used = set(re.findall(r"\bvar\.([A-Za-z_][A-Za-z0-9_]*)", text))
    assert used == _names(_terraform(project)["variable"])


def _resource(project: Path, kind: str) -> dict[str, Any]:
    """The one resource of this kind in the Terraform folder."""
    (found,) = [b[kind] for b in _terraform(project)["resource"] if kind in b]
    (resource,) = found.values()
    return resource


def _days(project: Path, value: object) -> int:
    """A number of days, written as is or as a variable's default."""
    if isinstance(value, str) and (match := re.fullmatch(r"\$\{var\.(\w+)\}", value)):
        (default,) = [
            b[match[1]]["default"] for b in _terraform(project)["variable"] if match[1] in b
        ]
        value = default
    assert isinstance(value, int)
    return value


def test_s3_expires_old_object_versions(tmp_path_factory: pytest.TempPathFactory) -> None:
    project = _large(tmp_path_factory, cloud="aws")
    versioning = _resource(project, "aws_s3_bucket_versioning")
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"
    lifecycle = _resource(project, "aws_s3_bucket_lifecycle_configuration")
    assert lifecycle["bucket"] == "${aws_s3_bucket.artifacts.id}"
    (rule,) = lifecycle["rule"]
    assert rule["status"] == "Enabled"
    (expiration,) = rule["noncurrent_version_expiration"]
    assert 0 < _days(project, expiration["noncurrent_days"]) <= 365


def test_cloud_storage_expires_old_object_versions(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project = _large(tmp_path_factory, cloud="gcp")
    bucket = _resource(project, "google_storage_bucket")
    assert bucket["versioning"][0]["enabled"] is True
    (rule,) = bucket["lifecycle_rule"]
    assert rule["action"][0]["type"] == "Delete"
    (condition,) = rule["condition"]
    assert condition["with_state"] == "ARCHIVED"  # the live version is never deleted
    assert 0 < _days(project, condition["days_since_noncurrent_time"]) <= 365


def test_azure_storage_expires_old_versions_and_takes_no_shared_key(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project = _large(tmp_path_factory, cloud="azure")
    account = _resource(project, "azurerm_storage_account")
    assert account["shared_access_key_enabled"] is False
    (blobs,) = account["blob_properties"]
    assert blobs["versioning_enabled"] is True
    policy = _resource(project, "azurerm_storage_management_policy")
    assert policy["storage_account_id"] == "${azurerm_storage_account.artifacts.id}"
    (rule,) = policy["rule"]
    (version,) = rule["actions"][0]["version"]
    assert 0 < _days(project, version["delete_after_days_since_creation"]) <= 365
    # Without shared keys, Terraform itself must reach the storage through Entra ID.
    (provider,) = [b["azurerm"] for b in _terraform(project)["provider"]]
    assert provider["storage_use_azuread"] is True


def test_azure_storage_soft_deletes_blobs_and_containers(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project = _large(tmp_path_factory, cloud="azure")
    (blobs,) = _resource(project, "azurerm_storage_account")["blob_properties"]
    for policy in ("delete_retention_policy", "container_delete_retention_policy"):
        (retention,) = blobs[policy]
        assert 1 <= _days(project, retention["days"]) <= 365, policy


# The question


def test_cloud_provider_is_asked_only_when_infra_is_generated(tmp_path: Path) -> None:
    medium = render(tmp_path / "medium", tier="medium")
    assert not (medium / "infrastructure").exists()
    assert not (medium / ".dockerignore").exists()
    assert "cloud_provider" not in yaml.safe_load((medium / ".copier-answers.yml").read_text())
    large = render(tmp_path / "large", tier="large", cloud_provider="gcp")
    assert yaml.safe_load((large / ".copier-answers.yml").read_text())["cloud_provider"] == "gcp"


def test_an_unknown_cloud_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cloud_provider"):
        render(tmp_path / "p", tier="large", cloud_provider="oracle")
    assert not (tmp_path / "p").exists()


def test_medium_with_infra_added_brings_the_service_it_ships(tmp_path: Path) -> None:
    dst = render(tmp_path / "p", tier="medium", include_features=["infra"])
    assert (dst / DOCKERFILE).is_file()
    assert (dst / "src/ml_project/serving/app.py").is_file()
    assert yaml.safe_load((dst / ".copier-answers.yml").read_text())["cloud_provider"] == "aws"
