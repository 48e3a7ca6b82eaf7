"""Checks and derivations for the answers, used by copier.yml as Jinja filters.

Each check returns an empty string for a good answer and a one-line reason otherwise;
copier prefixes it with the question's name and writes nothing.
"""

from __future__ import annotations

import keyword
import re
import sys
import unicodedata
from urllib.parse import urlsplit

from jinja2 import Environment
from jinja2.ext import Extension

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


def torch_index_error(value: str, package_manager: str) -> str:
    """A simple index for either manager, or a folder of wheels (a flat index) for uv."""
    location = str(value).strip()
    if not location.startswith("/"):
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
            dvc_remote_url_default=dvc_remote_url_default,
            dvc_remote_url_error=dvc_remote_url_error,
        )
