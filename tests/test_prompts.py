"""A person answers copier's questions in a terminal: keys in, screen text out.

Each question is recognised by the first line of its help in copier.yml, which is what
copier prints for it. Keys are sent only once that prompt is on screen.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pytest
import yaml

from .expected import expected_files
from .helpers import TEMPLATE, TOOLS, project_files

ENTER = "\r"
UP = "\x1b[A"
DOWN = "\x1b[B"
CLEAR_LINE = "\x15"  # Ctrl-U: erase the pre-filled default before typing
TIMEOUT = 30

QUESTIONS: dict[str, dict] = {
    name: spec
    for name, spec in yaml.safe_load((TEMPLATE / "copier.yml").read_text()).items()
    if not name.startswith("_")
}


#: Their `when:` needs the large tier's infrastructure or DVC (the URL: a cloud remote),
#: or PyTorch, which is not the default framework.
#: The torch questions, asked only with PyTorch.
TORCH_QUESTIONS = {"torch_backend", "torch_index_url"}
NOT_ASKED_FOR_MEDIUM = {"cloud_provider", "dvc_remote", "dvc_remote_url"} | TORCH_QUESTIONS
#: Their `when:` needs a feature small does not have: a package, a LICENSE, tracking, ...
NOT_ASKED_FOR_SMALL = {
    "package_name",
    "copyright_year",
    "experiment_tracker",
    "config_system",
    "ml_framework",
} | NOT_ASKED_FOR_MEDIUM


def prompt_of(question: str) -> str:
    return QUESTIONS[question]["help"].splitlines()[0]


@pytest.fixture
def copier_tui(tmp_path: Path) -> Iterator[Callable[[], pexpect.spawn]]:
    """Start `copier copy` of this working tree into tmp_path/project, in a wide pty."""
    children: list[pexpect.spawn] = []

    def spawn() -> pexpect.spawn:
        args = ["copy", "--trust", "--vcs-ref", "HEAD", str(TEMPLATE), str(tmp_path / "project")]
        child = pexpect.spawn(
            str(TOOLS / "copier"),
            args,
            env={**os.environ, "TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1"},
            dimensions=(50, 200),
            encoding="utf-8",
            timeout=TIMEOUT,
        )
        children.append(child)
        return child

    yield spawn
    for child in children:
        child.close(force=True)


def answer(tui: pexpect.spawn, question: str, *keys: str) -> None:
    """Wait for the question, then press the keys (Enter alone accepts the default)."""
    tui.expect_exact(prompt_of(question))
    for key in keys or (ENTER,):
        tui.send(key)


def finish(tui: pexpect.spawn) -> None:
    tui.expect(pexpect.EOF)
    assert tui.wait() == 0, tui.before[-3000:]


def answers_of(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def test_person_chooses_small_tier_and_accepts_defaults(copier_tui, tmp_path):
    tui = copier_tui()
    for question in QUESTIONS:
        if question in NOT_ASKED_FOR_SMALL:
            continue
        if question == "tier":
            answer(tui, question, UP, ENTER)  # small is the first choice, above medium
        else:
            answer(tui, question)
    finish(tui)

    project = tmp_path / "project"
    assert project_files(project) == expected_files("small", "uv", "none")
    assert answers_of(project)["tier"] == "small"


def test_person_gets_the_tier_help_text(copier_tui):
    tiers = QUESTIONS["tier"]["choices"]
    explanations = [
        line.strip()
        for tier in tiers
        for line in QUESTIONS["tier"]["help"].splitlines()
        if line.split(" - ")[0].strip() == tier
    ]
    assert len(explanations) == len(tiers), "copier.yml must explain every tier"

    tui = copier_tui()
    for question in list(QUESTIONS)[: list(QUESTIONS).index("tier")]:
        answer(tui, question)
    tui.expect_exact(prompt_of("tier"))
    for explanation in explanations:
        tui.expect_exact(explanation)
    tui.expect_exact("(Use arrow keys)")  # the choice list comes after the explanations
    tui.sendcontrol("c")  # leave without generating; copier removes its template clone
    tui.expect(pexpect.EOF)


def test_person_is_told_why_a_package_name_is_refused(copier_tui, tmp_path):
    tui = copier_tui()
    for question in ["project_name", "tier", "include_features", "exclude_features"]:
        answer(tui, question)
    answer(tui, "project_slug")
    # Clear and type in one write, so the error is drawn whole on an empty line.
    answer(tui, "package_name", CLEAR_LINE + "json")
    tui.expect_exact(
        "Validation error for question 'package_name': "
        "'json' would shadow the standard-library module"
    )
    tui.send(ENTER)  # refused: the same prompt keeps the cursor
    tui.send(CLEAR_LINE + "churn_model")
    tui.send(ENTER)
    for question in list(QUESTIONS)[list(QUESTIONS).index("description") :]:
        if question not in NOT_ASKED_FOR_MEDIUM:
            answer(tui, question)
    finish(tui)

    project = tmp_path / "project"
    answers = answers_of(project)
    assert answers["package_name"] == "churn_model"
    # Enter on 'json' did not move on, so the retyped name did not land in the next question.
    assert answers["description"] == QUESTIONS["description"]["default"]
    assert (project / "src" / "churn_model").is_dir()


def test_person_choosing_large_and_s3_gets_the_terraform_bucket_by_default(copier_tui, tmp_path):
    tui = copier_tui()
    for question in QUESTIONS:
        if question in ("tier", "dvc_remote"):
            answer(tui, question, DOWN, ENTER)  # large is below medium, s3 below local
        elif question not in TORCH_QUESTIONS:
            answer(tui, question)
    finish(tui)

    project = tmp_path / "project"
    assert answers_of(project)["dvc_remote_url"] == "s3://ml-project-artifacts/dvc"
    assert "url = s3://ml-project-artifacts/dvc" in (project / ".dvc/config").read_text()


def test_person_choosing_pytorch_and_cuda_gets_pytorchs_index_of_that_build(copier_tui, tmp_path):
    tui = copier_tui()
    for question in QUESTIONS:
        if question == "ml_framework":
            answer(tui, question, DOWN, ENTER)  # pytorch is below sklearn
        elif question == "torch_backend":
            answer(tui, question, DOWN, DOWN, ENTER)  # CUDA 12.8, two below the CPU build
        elif question == "torch_index_url":
            answer(tui, question)  # empty: PyTorch's own index
        elif question not in NOT_ASKED_FOR_MEDIUM:
            answer(tui, question)
    finish(tui)

    project = tmp_path / "project"
    assert answers_of(project)["torch_backend"] == "cu128"
    pyproject = (project / "pyproject.toml").read_text()
    assert 'name = "pytorch-cu128"\nurl = "https://download.pytorch.org/whl/cu128"' in pyproject


def test_person_choosing_pytorch_is_asked_where_torch_comes_from(copier_tui, tmp_path):
    tui = copier_tui()
    for question in QUESTIONS:
        if question == "ml_framework":
            answer(tui, question, DOWN, ENTER)  # pytorch is below sklearn
        elif question == "torch_backend":
            answer(tui, question)  # the CPU build
        elif question == "torch_index_url":
            answer(tui, question, "/srv/wheels" + ENTER)  # a folder of wheels, for uv
        elif question not in NOT_ASKED_FOR_MEDIUM:
            answer(tui, question)
    finish(tui)

    project = tmp_path / "project"
    assert answers_of(project)["ml_framework"] == "pytorch"
    assert 'url = "/srv/wheels"\nformat = "flat"' in (project / "pyproject.toml").read_text()
