"""What an existing repository already says, as answers to copier-ml's questions.

`python -m fleet adopt` asks nothing: each answer comes from the repository (its
pyproject.toml, lock files, `.python-version`, package folders), from `--data`, or from
the template's default, and the table it prints says which. Copier validates the result
as it would any answer; the checks here only give a better message for what is found.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet

TEMPLATE = Path(__file__).resolve().parents[1]
#: Folders with an `__init__.py` that are not the project's import package.
NOT_PACKAGES = {"tests", "test", "docs", "scripts", "notebooks", "examples", "benchmarks"}
#: The license classifiers of the choices copier.yml offers.
LICENSE_CLASSIFIERS = {
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: Apache Software License": "Apache-2.0",
    "License :: OSI Approved :: BSD License": "BSD-3-Clause",
    "License :: Other/Proprietary License": "Proprietary",
}


class MappingError(Exception):
    """A value found cannot be an answer; the message names the question, value and file."""


@dataclass
class Answer:
    value: str
    source: str  # where it came from, as the table prints it


def _answers_module() -> ModuleType:
    """extensions/answers.py, the one place that derives a slug and checks an email."""
    spec = importlib.util.spec_from_file_location(
        "copier_ml_answers", TEMPLATE / "extensions" / "answers.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def questions() -> dict[str, Any]:
    """copier.yml's questions (this clone's: the tool ships with the template)."""
    loaded = yaml.safe_load((TEMPLATE / "copier.yml").read_text(encoding="utf-8"))
    return {name: spec for name, spec in loaded.items() if not name.startswith("_")}


def read_pyproject(repo: Path) -> dict[str, Any]:
    path = repo / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise MappingError(f"{path}: not valid TOML ({error})") from None


def _table(data: dict[str, Any], dotted: str) -> Any:
    for key in dotted.split("."):
        data = data.get(key) if isinstance(data, dict) else None  # type: ignore[assignment]
    return data


def _tracked(repo: Path) -> list[str]:
    listed = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z"], capture_output=True, text=True, check=True
    ).stdout
    return [name for name in listed.split("\0") if name]


def found_packages(repo: Path) -> list[str]:
    """Import packages git tracks at the top level or in src/ (ccds puts its at the top)."""
    names = set()
    for name in _tracked(repo):
        parts = name.split("/")
        if parts[-1] == "__init__.py" and (
            len(parts) == 2 or len(parts) == 3 and parts[0] == "src"
        ):
            package = parts[-2]
            if package.isidentifier() and package not in NOT_PACKAGES:
                names.add(package)
    return sorted(names)


def _package_hint(pyproject: dict[str, Any]) -> Answer | None:
    """The package a build backend's settings name, where they name one."""
    flit = _table(pyproject, "tool.flit.module.name")
    if isinstance(flit, str):
        return Answer(flit, "[tool.flit.module].name")
    for key in (
        "tool.setuptools.packages",
        "tool.poetry.packages",
        "tool.hatch.build.targets.wheel.packages",
    ):
        listed = _table(pyproject, key)
        if isinstance(listed, list) and listed:
            first = listed[0].get("include") if isinstance(listed[0], dict) else listed[0]
            if isinstance(first, str) and "*" not in first:
                table, _, entry = key.rpartition(".")
                return Answer(first.rstrip("/").split("/")[-1], f"[{table}].{entry}")
    return None


def _python_version(repo: Path, pyproject: dict[str, Any]) -> Answer | None:
    """The lowest minor Python version the project says it supports."""
    requires = _table(pyproject, "project.requires-python")
    if isinstance(requires, str):
        return Answer(
            _lowest_minor(requires, "[project].requires-python"),
            f"[project].requires-python {requires!r}",
        )
    poetry = _table(pyproject, "tool.poetry.dependencies.python")
    if isinstance(poetry, str):
        # Poetry's ^3.10 and ~3.10 both start at 3.10.
        spec = re.sub(r"(?<![~=<>!])[\^~](?=\d)", ">=", poetry).split("||")[0]
        return Answer(
            _lowest_minor(spec, "[tool.poetry.dependencies].python"),
            f"[tool.poetry.dependencies].python {poetry!r}",
        )
    pinned = repo / ".python-version"
    if pinned.is_file():
        text = pinned.read_text(encoding="utf-8").split()
        if text and (match := re.match(r"^(\d+\.\d+)", text[0])):
            return Answer(match.group(1), f".python-version {text[0]!r}")
    return None


def _lowest_minor(spec: str, key: str) -> str:
    try:
        allowed = SpecifierSet(spec.replace(" ", ","), prereleases=True) if spec.strip() else None
    except InvalidSpecifier:
        allowed = None
    if allowed is not None:
        for minor in range(0, 40):
            if any(allowed.contains(f"3.{minor}.{patch}") for patch in (0, 99)):
                return f"3.{minor}"
    raise MappingError(
        f"python_version: cannot read a lowest Python version from {key} = {spec!r} in "
        "pyproject.toml: pass --data python_version=3.11"
    )


def _package_manager(repo: Path, pyproject: dict[str, Any]) -> Answer:
    for lock, manager in (("poetry.lock", "poetry"), ("uv.lock", "uv")):
        if (repo / lock).is_file():
            return Answer(manager, lock)
    for table, manager in (("tool.poetry", "poetry"), ("tool.uv", "uv")):
        if _table(pyproject, table) is not None:
            return Answer(manager, f"[{table}]")
    return Answer("uv", "no poetry.lock, uv.lock, [tool.poetry] or [tool.uv]: uv")


def _authors(pyproject: dict[str, Any]) -> tuple[str, str, str]:
    """The first author's name and email, and the key they came from."""
    for key in ("project.authors", "tool.poetry.authors"):
        authors = _table(pyproject, key)
        if isinstance(authors, list) and authors:
            first = authors[0]
            if isinstance(first, str):  # Poetry's "Name <email>"
                match = re.match(r"^\s*(.*?)\s*(?:<([^>]*)>)?\s*$", first)
                first = {"name": match.group(1), "email": match.group(2)} if match else {}
            if isinstance(first, dict):
                return str(first.get("name") or ""), str(first.get("email") or ""), key
    return "", "", ""


def _license(pyproject: dict[str, Any]) -> Answer | None:
    declared = _table(pyproject, "project.license") or _table(pyproject, "tool.poetry.license")
    if isinstance(declared, dict):
        declared = declared.get("text")
    choices = questions()["license"]["choices"]
    if isinstance(declared, str) and declared in choices:
        return Answer(declared, "[project].license")
    for classifier in _table(pyproject, "project.classifiers") or []:
        if classifier in LICENSE_CLASSIFIERS:
            return Answer(LICENSE_CLASSIFIERS[classifier], "[project].classifiers")
    return None


def map_answers(repo: Path) -> dict[str, Answer]:
    """Each answer the repository gives, with where it came from."""
    pyproject = read_pyproject(repo)
    derive = _answers_module()
    found: dict[str, Answer] = {}
    for key in ("project.name", "tool.poetry.name"):
        name = _table(pyproject, key)
        if isinstance(name, str) and name.strip():
            found["project_name"] = Answer(name, f"[{key.rpartition('.')[0]}].name")
            break
    else:
        found["project_name"] = Answer(repo.name, "the folder's name")
    found["project_slug"] = Answer(
        derive.to_slug(found["project_name"].value), "project_name, lowercase and dash-separated"
    )
    packages = found_packages(repo)
    from_name = derive.to_package(found["project_slug"].value)
    if hint := _package_hint(pyproject):
        found["package_name"] = hint
    elif len(packages) == 1:
        where = "src/" if (repo / "src" / packages[0]).is_dir() else ""
        found["package_name"] = Answer(packages[0], f"the package {where}{packages[0]}/")
    elif from_name in packages:
        found["package_name"] = Answer(from_name, f"project_slug (packages: {', '.join(packages)})")
    else:
        found["package_name"] = Answer(from_name, "project_slug (no import package found)")
    if python := _python_version(repo, pyproject):
        found["python_version"] = python
    found["package_manager"] = _package_manager(repo, pyproject)
    for key in ("project.description", "tool.poetry.description"):
        description = _table(pyproject, key)
        if isinstance(description, str) and description.strip() and "\n" not in description:
            found["description"] = Answer(description, f"[{key.rpartition('.')[0]}].description")
            break
    name, email, key = _authors(pyproject)
    if name.strip():
        found["author_name"] = Answer(name, f"[{key.rpartition('.')[0]}].authors")
    if email and not derive.email_error(email):
        found["author_email"] = Answer(email, f"[{key.rpartition('.')[0]}].authors")
    if license_ := _license(pyproject):
        found["license"] = license_
    return found


def check_choices(found: dict[str, Answer]) -> None:
    """A found value outside a question's choices is refused here, saying how to choose."""
    for name, answer in found.items():
        question = questions().get(name, {})
        choices = question.get("choices")
        if isinstance(choices, list) and answer.value not in choices:
            raise MappingError(
                f"{name}: {answer.value!r} (from {answer.source}) is not one of "
                f"{', '.join(choices)}: pass --data {name}={question['default']} (or another)"
            )
