"""Checks and derivations for the answers, used by copier.yml as Jinja filters.

Each check returns an empty string for a good answer and a one-line reason otherwise;
copier prefixes it with the question's name and writes nothing.

`copier update` first renders the project's recorded release with the recorded answers,
with that release's code, then ours. A hand-broken answer makes that render die with a
traceback, and `--data` cannot help, as copier renders the old release with the recorded
answers only. So `_message_before_update`, the one thing of the new release copier
renders before (unless `--quiet`), calls `check_answers_before_update`: it refuses a
broken answer or a package rename, or repairs a broken answer from `--data` in the
answers copier is about to render the old release with (see docs/updating.md).
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import sys
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import yaml
from copier.errors import UserMessageError
from jinja2 import Environment, pass_context
from jinja2.ext import Extension
from jinja2.runtime import Context

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
TEMPLATE_MARKUP = ("{{", "}}", "{%", "%}", "{#", "#}")
#: Names a project package must not take: test runners and our generated folders.
#: The generated code is formatted for import names up to this long.
MAX_PACKAGE_LENGTH = 30
RESERVED_PACKAGES = frozenset({"test", "tests", "src", "data", "models", "notebooks", "configs"})
#: Each cloud DVC remote's URL scheme, and the bucket and path that the project's
#: Terraform creates for it (the default answer).
DVC_REMOTES = {
    "s3": ("s3://", "{slug}-artifacts/dvc"),
    "gcs": ("gs://", "{slug}-artifacts/dvc"),
    "azure": ("azure://", "artifacts/dvc"),
}


def to_slug(text: str) -> str:
    """A distribution name from a title: 'Churn Model v2' -> 'churn-model-v2'."""
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    slug = re.sub(r"^[0-9-]+", "", slug)
    return slug or "ml-project"


def to_package(slug: str) -> str:
    """An import name from a slug: 'churn-model-v2' -> 'churn_model_v2'."""
    return str(slug).replace("-", "_")


def project_name_error(value: str) -> str:
    text = str(value)
    if not text.strip():
        return "must not be empty"
    if any(mark in text for mark in TEMPLATE_MARKUP):
        return "must not contain template markup such as {{ or {%"
    if not text.isprintable():
        return "must be printable text on one line, without control characters"
    return ""


def project_slug_error(value: str) -> str:
    if SLUG_PATTERN.match(str(value)):
        return ""
    return (
        f"{value!r} must be lowercase letters and digits in dash-separated words, "
        "starting with a letter (for example churn-model)"
    )


def package_name_error(value: str, installed: list[str] | tuple[str, ...] = ()) -> str:
    name = str(value)
    if not name.isidentifier() or not name.isascii():
        return f"{name!r} is not a valid Python identifier (letters, digits, underscores)"
    if len(name) > MAX_PACKAGE_LENGTH:
        return (
            f"{name!r} is longer than {MAX_PACKAGE_LENGTH} characters; choose a shorter import name"
        )
    if name != name.lower():
        return f"{name!r} must be lowercase (PEP 8 package names)"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"{name!r} is a Python keyword"
    if name in sys.stdlib_module_names:
        return f"{name!r} would shadow the standard-library module of that name"
    if name in installed or name in RESERVED_PACKAGES:
        return f"{name!r} would shadow a package the project installs or a folder it has"
    return ""


def email_error(value: str) -> str:
    if EMAIL_PATTERN.match(str(value)):
        return ""
    return f"{value!r} does not look like an email address (name@example.org)"


def index_url_error(value: str) -> str:
    url = str(value).strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or " " in url:
        return f"{url!r} must be an http(s) URL of a simple package index, or empty"
    return ""


def _variants() -> ModuleType:
    """extensions/variants.py, the table of torch builds, imported by path like this file."""
    path = Path(__file__).with_name("variants.py")
    spec = importlib.util.spec_from_file_location(f"copier_ml_answers_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


variants = _variants()


def torch_backend_default(index_url: str) -> str:
    """The build a recorded PyTorch index URL names (projects from before torch_backend
    keep their build on update), else the CPU build."""
    return variants.backend_of_index(index_url) or "cpu"


def torch_index_error(value: str, package_manager: str, backend: str = "cpu") -> str:
    """A simple index for either manager, or a folder of wheels (a flat index) for uv;
    not PyTorch's index of another build than torch_backend's."""
    location = str(value).strip()
    if not location.startswith("/"):
        named = variants.backend_of_index(location)
        if named and named != backend:
            return (
                f"{location!r} is PyTorch's index of the {named} build, and torch_backend "
                f"is {backend}: answer torch_backend={named} and leave this empty"
            )
        return index_url_error(location)
    if package_manager != "uv":
        return f"{location!r}: a folder of wheels works with uv only; give Poetry an index URL"
    return ""


def dvc_remote_url_default(remote: str, slug: str) -> str:
    """The Terraform bucket's DVC folder, for a cloud remote; empty for a local one."""
    if remote not in DVC_REMOTES:
        return ""
    scheme, bucket = DVC_REMOTES[remote]
    return scheme + bucket.format(slug=slug)


def dvc_remote_url_error(value: str, remote: str) -> str:
    if remote not in DVC_REMOTES:
        return ""
    scheme = DVC_REMOTES[remote][0]
    if re.match(rf"^{re.escape(scheme)}[a-z0-9][a-z0-9._-]*(/[^\s'\"#;]*)?$", str(value)):
        return ""
    return f"must be {scheme}<bucket>[/path] for the {remote} remote"


# Answers an update must refuse, or repair before copier renders the recorded release.

#: The question whose change an update refuses: its folder is the team's code.
PACKAGE = "package_name"


def template_questions(template: Path) -> dict[str, dict[str, Any]]:
    """The questions of a template's copier.yml, by name."""
    text = (Path(template) / "copier.yml").read_text(encoding="utf-8")
    config = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # fast
    return {
        name: spec
        for name, spec in config.items()
        if not name.startswith("_") and isinstance(spec, dict)
    }


def _choice_values(choices: Any) -> list[str]:
    """The values of a question's choices: a list, or a mapping of titles to values."""
    if isinstance(choices, Mapping):
        return [str(value) for value in choices.values()]
    return [str(c[1] if isinstance(c, list | tuple) else c) for c in choices or ()]


def _parse(spec: Mapping[str, Any], value: Any) -> tuple[Any, str]:
    """The answer as copier casts it (a str, or a list for a multiselect), or why it cannot."""
    if spec.get("multiselect"):
        if isinstance(value, str):
            try:
                value = yaml.safe_load(value)
            except yaml.YAMLError:
                return value, f"{value!r} is not a list"
        if not isinstance(value, list):
            return value, f"{value!r} is not a list"
        return [str(item) for item in value], ""
    if value is None or isinstance(value, list | dict):
        return value, f"{value!r} is not a text answer"
    return (str(value) if spec.get("type", "str") == "str" else value), ""


def answer_problems(
    env: Environment, questions: Mapping[str, Mapping[str, Any]], answers: Mapping[str, Any]
) -> dict[str, str]:
    """Why copier would refuse each of these answers, by question; empty when it would not.

    These are the checks copier makes of an answer it is given: each value (each item,
    for a multiselect) is one of the question's choices, and the validator renders
    nothing. Templated choices and validators render with the other answers, so the
    validators run once every choice is good: one broken choice, one line.
    """
    problems: dict[str, str] = {}
    parsed: dict[str, Any] = {}
    for name, value in answers.items():
        if name in questions:
            parsed[name], problem = _parse(questions[name], value)
            if problem:
                problems[name] = problem
    for name, value in parsed.items():
        choices = questions[name].get("choices")
        if name in problems or not choices:
            continue
        if isinstance(choices, str):
            try:
                choices = yaml.safe_load(env.from_string(choices).render(parsed))
            except Exception:  # noqa: BLE001 - another answer is broken: reported there
                continue
        allowed = _choice_values(choices)
        wrong = [item for item in (value if isinstance(value, list) else [value])
                 if item not in allowed]  # fmt: skip
        if wrong:
            listed = ", ".join(repr(item) for item in wrong)
            problems[name] = f"{listed} is not one of its choices: {', '.join(allowed)}"
    if problems:
        return problems
    for name, value in parsed.items():
        if validator := questions[name].get("validator"):
            try:
                reason = env.from_string(validator).render(parsed).strip()
            except Exception:  # noqa: BLE001 - an answer it reads is missing: copier's to say
                continue
            if reason:
                problems[name] = f"{value!r}: {reason}"
    return problems


def renamed_by_hand(project: Path, old: str, new: str) -> bool:
    """The team moved the package already: src/<new>/ is there and src/<old>/ is not."""
    return (Path(project) / "src" / new).is_dir() and not (Path(project) / "src" / old).exists()


def rename_refusal(
    old: str, new: str, answers_file: str, stops: str = "before changing anything"
) -> str:
    """Why an update does not rename the package, and how a team does it instead."""
    return (
        f"{PACKAGE}: the project's package is {old!r} (recorded in {answers_file}) and this "
        f"update asks for {new!r}. copier would render src/{new}/ beside your code and leave "
        f"src/{old}/ without its __init__.py, still importing {old}, so the update stops "
        f"{stops}. Rename the package yourself first:\n"
        f"  git mv src/{old} src/{new}\n"
        f"  replace {old} with {new} everywhere else it appears (git grep -lw {old}: the "
        f"imports, pyproject.toml, the Makefile, the notebooks), but not in {answers_file}\n"
        f"  commit, then: copier update --data {PACKAGE}={new}   (without --quiet)"
    )


def review_update(
    env: Environment,
    questions: Mapping[str, Mapping[str, Any]],
    recorded: Mapping[str, Any],
    data: Mapping[str, Any],
    project: Path,
    answers_file: str = ".copier-answers.yml",
) -> tuple[dict[str, Any], str]:
    """What an update must do before copier renders the recorded release with ``recorded``.

    Returns the answers to repair (a broken recorded answer that ``data``, the update's
    ``--data``, gives a good value for; a package the team renamed by hand) and the
    reason to refuse the update, empty when there is none.
    """
    broken = answer_problems(env, questions, recorded)
    repairs = {name: data[name] for name in broken if name in data}
    old, new = recorded.get(PACKAGE), data.get(PACKAGE)
    if old and new and str(new) != str(old) and PACKAGE not in broken:
        if not renamed_by_hand(project, str(old), str(new)):
            return {}, rename_refusal(str(old), str(new), answers_file)
        repairs[PACKAGE] = new
    repaired = {**recorded, **repairs}
    left = answer_problems(env, questions, repaired)
    if not left:
        return {name: _parse(questions[name], value)[0] for name, value in repairs.items()}, ""
    release = recorded.get("_commit", "its recorded release")
    lines = [
        f"{'--data' if name in repairs else answers_file}: {name}: {problem}"
        for name, problem in left.items()
    ]
    examples = " ".join(
        f"--data {name}='[...]'" if questions[name].get("multiselect") else f"--data {name}=..."
        for name in left
    )
    return {}, "\n".join(
        [
            "copier update stopped before changing anything: it first renders the project's "
            f"recorded release ({release}) with the answers in {answers_file}, and cannot "
            "with these:",
            *(f"  {line}" for line in lines),
            f"Add the right values to your update command: {examples}",
            f"(or correct {answers_file} by hand and commit it first).",
        ]
    )


def _updating_worker() -> Any | None:
    """copier's Worker running `run_update`, found on the call stack: copier hands the
    template no handle on it, and its cached recorded answers are what the old render reads."""
    frame = sys._getframe(1)
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if frame.f_code.co_name == "run_update" and type(candidate).__name__ == "Worker":
            return candidate
        frame = frame.f_back
    return None


def _read_answers(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _write_repairs(path: Path, repairs: Mapping[str, Any]) -> None:
    """Write the repaired answers into the answers file, keeping its comments.

    The `before` migration reads the file (keep_team_work.py finds copier's render of
    the recorded release by these answers, or renders it with them); copier rewrites it
    whole at the end of the update, and a failed update puts it back as committed.
    """
    text = path.read_text(encoding="utf-8")
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    answers = {**_read_answers(path), **repairs}
    path.write_text(header + yaml.safe_dump(answers, sort_keys=False), encoding="utf-8")


@pass_context
def check_answers_before_update(context: Context) -> str:
    """Refuse, or repair from --data, the recorded answers before copier renders with them.

    Rendered by `_message_before_update`; what it prints is the repairs it made.
    """
    conf = context["_copier_conf"]
    project, answers_file = Path(conf["dst_path"]), str(conf["answers_file"])
    worker = _updating_worker()
    recorded = worker.subproject.last_answers if worker else _read_answers(project / answers_file)
    questions = template_questions(Path(conf["src_path"]))
    repairs, refusal = review_update(
        context.environment, questions, recorded, conf["data"], project, answers_file
    )
    if refusal:
        raise UserMessageError(refusal)
    if repairs and worker is None:
        raise UserMessageError(
            f"copier update cannot repair {', '.join(repairs)} here: correct {answers_file} "
            "by hand and commit it first."
        )
    was = dict(recorded)
    recorded.update(repairs)  # the very dict copier renders the recorded release with
    if repairs and not conf["pretend"]:
        _write_repairs(project / answers_file, repairs)
    return "\n".join(
        f"Repaired {name} in {answers_file}: {was.get(name)!r} is now {value!r} (from --data)."
        for name, value in repairs.items()
    )


@pass_context
def package_rename_error(context: Context, value: str) -> str:
    """The validator's refusal of a new package name typed at an update's prompt.

    A new name given with --data is refused (or, renamed by hand, repaired) before the
    update renders anything, by `check_answers_before_update`; see also context.py.
    """
    conf = context.get("_copier_conf")
    if conf is None or PACKAGE in conf["data"]:
        return ""
    recorded = recorded_answer(conf, PACKAGE)
    if recorded and str(value) != str(recorded):
        return (
            f"{recorded!r} is this project's package: an update does not rename it "
            "(see 'Answers that update refuses' in the template's docs/updating.md)"
        )
    return ""


def recorded_answer(conf: Mapping[str, Any], name: str) -> Any:
    """An answer in the answers file of the project being rendered (None: no such file)."""
    return _read_answers(Path(conf["dst_path"]) / str(conf["answers_file"])).get(name)


class AnswerFilters(Extension):
    """Registers the checks and derivations as filters for copier.yml."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters.update(
            to_slug=to_slug,
            to_package=to_package,
            project_name_error=project_name_error,
            project_slug_error=project_slug_error,
            package_name_error=package_name_error,
            email_error=email_error,
            index_url_error=index_url_error,
            torch_index_error=torch_index_error,
            torch_backend_default=torch_backend_default,
            dvc_remote_url_default=dvc_remote_url_default,
            dvc_remote_url_error=dvc_remote_url_error,
            package_rename_error=package_rename_error,
        )
        environment.globals["check_answers_before_update"] = check_answers_before_update
