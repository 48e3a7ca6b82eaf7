"""A PyTorch project installs the chosen torch build and passes every gate of its tier.

One large uv project with the choices furthest from the defaults (PyTorch, Hydra,
Weights & Biases), so the heaviest combination is the one proven end to end. torch
comes from the folder of wheels in pip's own configuration when it holds a build for
this Python (the CPU build on this kind of machine), else from the main index.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import local_torch, render, run_in

pytestmark = [pytest.mark.build, pytest.mark.xdist_group("large-uv-pytorch")]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[int, str]]:
    """The project installed, and what `pre-commit run --all-files` then said.

    The hooks run first, on the project as generated, before other tests add outputs.
    """
    folder, _ = local_torch()
    dst = render(tmp_path_factory.mktemp("large-pytorch") / "project", tier="large",
                 ml_framework="pytorch", config_system="hydra", experiment_tracker="wandb",
                 torch_index_url=folder)  # fmt: skip
    run_in(dst, "git", "init", "--quiet")
    run_in(dst, "git", "add", "--all")
    run_in(dst, "git", "commit", "--quiet", "--message", "chore: generate from copier-ml")
    run_in(dst, "make", "install-dev")
    run_in(dst, "git", "add", "--all")
    code, out, err = run_in(dst, "uv", "run", "pre-commit", "run", "--all-files", retcode=None)
    _, changed, _ = run_in(dst, "git", "diff")
    run_in(dst, "make", "data-process")
    return dst, (code, out + err + changed)


@pytest.fixture(scope="module")
def project(installed: tuple[Path, tuple[int, str]]) -> Path:
    return installed[0]


def _python(project: Path, code: str) -> str:
    return run_in(project, "uv", "run", "python", "-c", code)[1].strip()


def test_torch_is_the_build_from_the_chosen_index(project: Path) -> None:
    _, version = local_torch()
    installed = _python(project, "import torch; print(torch.__version__)")
    assert installed == (version or installed)
    assert _python(project, "import torch; print(torch.cuda.is_available())") == "False"


def test_passes_make_lint(project: Path) -> None:
    run_in(project, "make", "lint")


def test_passes_make_test_unit_integration_and_e2e(project: Path) -> None:
    _, out, _ = run_in(project, "make", "test")
    assert " passed" in out and " failed" not in out
    for layer in ("tests/unit/test_network.py", "tests/integration/", "tests/e2e/"):
        assert layer in out or layer.rstrip("/") in out, layer


@pytest.fixture(scope="module")
def two_trainings(project: Path) -> list[str]:
    """`make train` twice, in two processes, each into its own model file; their logs."""
    logs = []
    for name in ("first", "second"):
        _, out, err = run_in(
            project, "make", "train", f"ARGS=model.epochs=20 model_path=models/{name}.pt"
        )
        logs.append(out + err)
    return logs


def test_training_logs_its_epochs(two_trainings: list[str]) -> None:
    assert "epoch 10/20" in two_trainings[0]
    assert "epoch 20/20" in two_trainings[0]


def test_training_logs_the_device_it_picked(two_trainings: list[str]) -> None:
    assert "Training on cpu" in two_trainings[0]  # no GPU here: the CPU, by itself


def test_training_on_cuda_without_a_gpu_stops_with_the_reason(project: Path) -> None:
    code, out, err = run_in(
        project, "make", "train", "ARGS=+model.device=cuda model.epochs=1", retcode=None
    )
    assert code != 0
    assert "device 'cuda' needs a GPU, and torch sees none" in out + err


def test_training_twice_with_the_same_seed_gives_the_same_weights(
    project: Path, two_trainings: list[str]
) -> None:
    same = _python(
        project,
        "import torch\n"
        "a, b = (torch.load(f'models/{n}.pt', weights_only=True) for n in ('first', 'second'))\n"
        "flat = lambda s: torch.cat([t.flatten().float() for t in s['network'].values()])\n"
        "print(torch.equal(flat(a), flat(b)))",
    )
    assert same == "True"


def test_dvc_pipeline_passes_the_validation_gate(project: Path) -> None:
    run_in(project, "make", "pipeline")
    metrics = json.loads((project / "reports/metrics.json").read_text())
    assert metrics["accuracy"] >= 0.85
    run_in(project, "make", "validate-model")


def test_passes_pre_commit_on_all_files(installed: tuple[Path, tuple[int, str]]) -> None:
    _, (code, report) = installed
    assert code == 0, report  # every hook passed and none had anything to fix
