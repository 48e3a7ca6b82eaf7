"""A CUDA build of torch gets an image that runs it; the CPU build keeps today's image.

Render-only: the image is never built here (the CUDA images are gigabytes, and the
standalone Python uv installs comes from outside the package index). What is checked
is what the build would do: the base image of each stage, the interpreter the
environment is built on and that the last stage carries, and hadolint on every variant.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from .helpers import MANAGERS, load_extension, render, tool
from .test_infra import DOCKERFILE, _final_stage, _instructions

CUDA_IMAGES = load_extension("variants").CUDA_IMAGES
CUDA_BACKENDS = [backend for backend, image in CUDA_IMAGES.items() if image]
SLIM_PYTHON = re.compile(r"python:3\.11(\.\d+)?-slim-[a-z]+")
#: Pinned to a CUDA patch release and an Ubuntu release, never a moving tag.
CUDA_RUNTIME = re.compile(r"nvidia/cuda:(\d+)\.(\d+)\.\d+-runtime-ubuntu\d\d\.\d\d")
#: Where the builder puts the standalone Python the CUDA stage carries.
STANDALONE = "/opt/python"


def _dockerfile(tmp_path: Path, manager: str, backend: str) -> DockerfileParser:
    dst = render(tmp_path / "project", tier="large", ml_framework="pytorch",
                 package_manager=manager, torch_backend=backend)  # fmt: skip
    return DockerfileParser(str(dst / DOCKERFILE))


@pytest.fixture(scope="module", params=[(m, b) for m in MANAGERS for b in CUDA_BACKENDS],
                ids="-".join)  # fmt: skip
def cuda(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str, DockerfileParser]:
    manager, backend = request.param
    return manager, backend, _dockerfile(tmp_path_factory.mktemp("cuda"), manager, backend)


@pytest.fixture(scope="module", params=MANAGERS)
def cpu(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, DockerfileParser]:
    return request.param, _dockerfile(tmp_path_factory.mktemp("cpu"), request.param, "cpu")


def _hadolint(dockerfile: DockerfileParser, tmp_path: Path) -> None:
    config = tmp_path / "hadolint.yaml"
    config.write_text("ignored: []\n")  # our own, so no config on the machine silences a rule
    tool("hadolint")(
        "--config", config, "--no-color", "--failure-threshold", "style", dockerfile.dockerfile_path
    )


def test_a_cuda_build_runs_on_the_cuda_runtime_of_its_version(
    cuda: tuple[str, str, DockerfileParser],
) -> None:
    _, backend, dockerfile = cuda
    builder, runtime = dockerfile.parent_images
    assert SLIM_PYTHON.fullmatch(builder)
    pinned = CUDA_RUNTIME.fullmatch(runtime)
    assert pinned, runtime
    assert f"cu{pinned[1]}{pinned[2]}" == backend


def test_the_cuda_stage_carries_the_standalone_python_the_environment_is_built_on(
    cuda: tuple[str, str, DockerfileParser],
) -> None:
    manager, _, dockerfile = cuda
    assert f"--from=builder {STANDALONE} {STANDALONE}" in [
        i["value"] for i in _final_stage(dockerfile) if i["instruction"] == "COPY"
    ]
    builder = " ".join(_instructions(dockerfile, "RUN") + _instructions(dockerfile, "ENV"))
    assert f"UV_PYTHON_INSTALL_DIR={STANDALONE}" in builder
    assert "uv python install 3.11" in builder
    if manager == "uv":
        assert "UV_MANAGED_PYTHON=1" in builder
    else:
        assert 'poetry env use "$(uv python find --managed-python 3.11)"' in builder


def test_a_cuda_dockerfile_passes_hadolint(
    cuda: tuple[str, str, DockerfileParser], tmp_path: Path
) -> None:
    _hadolint(cuda[2], tmp_path)


def test_the_cpu_build_keeps_the_slim_python_image_and_its_python(
    cpu: tuple[str, DockerfileParser],
) -> None:
    _, dockerfile = cpu
    assert all(SLIM_PYTHON.fullmatch(image) for image in dockerfile.parent_images)
    assert STANDALONE not in dockerfile.content
    assert "nvidia" not in dockerfile.content


def test_a_cpu_dockerfile_passes_hadolint(
    cpu: tuple[str, DockerfileParser], tmp_path: Path
) -> None:
    _hadolint(cpu[1], tmp_path)
