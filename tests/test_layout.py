"""template/ is the project it generates: plain paths, each kept or left out by the tables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from plumbum import local

from .helpers import TEMPLATE, load_extension, windows_problems

features = load_extension("features")
variants = load_extension("variants")

#: The only Jinja a path under template/ may hold.
ALLOWED_JINJA = {"{{ package_name }}", "{{ _copier_conf.answers_file }}"}


def repository_paths() -> list[str]:
    listed = local["git"]("-C", TEMPLATE, "ls-files", "-z", "--cached", "--others",
                          "--exclude-standard")  # fmt: skip
    return [name for name in listed.split("\0") if name]


def template_paths() -> set[str]:
    """Every file and folder under template/, as it is named there, without `.jinja`."""
    root = TEMPLATE / "template"
    return {path.relative_to(root).as_posix().removesuffix(".jinja") for path in root.rglob("*")}


def test_the_check_finds_what_windows_refuses() -> None:
    bad = ['a/{% if "x" in y %}b{% endif %}', "c/d.", "e /f", "g/aux.txt", "h/COM1", "i/j:k"]
    assert len(windows_problems(bad)) == len(bad)
    assert windows_problems(["src/{{ package_name }}/models/train.py", ".github/ci.yml"]) == []


def test_no_path_in_this_repository_is_one_windows_refuses() -> None:
    assert windows_problems(repository_paths()) == []


def test_template_paths_hold_no_jinja_but_the_package_and_answers_file() -> None:
    markup = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")
    found = {code for path in template_paths() for code in markup.findall(path)}
    assert found <= ALLOWED_JINJA


NAMED = sorted(
    {(f"feature {name}", path) for name, feature in features.FEATURES.items()
     for path in feature.paths}
    | {(f"{question}: {choice}", path) for question, choices in variants.PATHS.items()
       for choice, paths in choices.items() for path in paths}
)  # fmt: skip


@pytest.mark.parametrize(("owner", "path"), NAMED, ids=[f"{o}:{p}" for o, p in NAMED])
def test_every_path_a_feature_or_variant_names_is_a_template_path(owner: str, path: str) -> None:
    assert path.replace("{package}", "{{ package_name }}") in template_paths(), owner


def test_every_variant_folder_is_a_choice_of_its_question() -> None:
    """variants/<question>/<choice>/: no stray folder that nothing would include."""
    questions = yaml.safe_load((TEMPLATE / "copier.yml").read_text())
    choices = {
        question: set(
            spec["choices"].values() if isinstance(spec["choices"], dict) else spec["choices"]
        )
        for question, spec in questions.items()
        if isinstance(spec, dict) and "choices" in spec
    }
    choices["tracker"] = choices["experiment_tracker"]
    root = TEMPLATE / variants.FOLDER
    for folder in sorted(root.glob("*/*")):
        question, choice = folder.relative_to(root).parts
        assert question in variants.QUESTIONS, folder
        assert choice in choices[question], folder


def test_the_rendered_tree_is_under_template_only() -> None:
    """Variants are included, never rendered in place: they live outside template/."""
    assert not (TEMPLATE / "template" / variants.FOLDER).exists()
    assert Path(TEMPLATE / variants.FOLDER).is_dir()


def _generates(question: str, choice: str, variant: str) -> bool:
    """Whether this choice generates the file a variant is for (variants.PATHS)."""
    generated = variant.removesuffix(".jinja").replace("src/package/", "src/{package}/", 1)
    by_choice = variants.PATHS.get(question, {})
    named = {path for paths in by_choice.values() for path in paths}
    return generated not in named or generated in by_choice.get(choice, ())


def test_every_choice_has_every_variant_file_of_its_question() -> None:
    """A file includes its variant by the current choice: each choice that generates the
    file must have it."""
    root = TEMPLATE / variants.FOLDER
    missing = []
    for question in sorted(path for path in root.iterdir() if path.is_dir()):
        choices = sorted(path for path in question.iterdir() if path.is_dir())
        names = {file.relative_to(choice).as_posix() for choice in choices
                 for file in choice.rglob("*") if file.is_file()}  # fmt: skip
        missing += [
            f"{choice.relative_to(root).as_posix()}/{name}"
            for choice in choices
            for name in sorted(names)
            if not (choice / name).is_file() and _generates(question.name, choice.name, name)
        ]
    assert missing == []


def test_the_exclude_entry_renders_in_a_context_without_our_variables() -> None:
    """During an update copier applies it to the old release's render, whose extensions
    (0.3.0 and older) define no `excluded_paths`: it must exclude nothing, not fail."""
    (entry,) = yaml.safe_load((TEMPLATE / "copier.yml").read_text())["_exclude"]
    environment = SandboxedEnvironment(undefined=StrictUndefined)
    assert environment.from_string(entry).render() == ""
    assert environment.from_string(entry).render(excluded_paths="/docs\n/dvc.yaml") == (
        "/docs\n/dvc.yaml"
    )
