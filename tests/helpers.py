"""Rendering and running helpers shared by the template's tests."""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import re
import shutil
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from copier import run_copy
from packaging.version import Version
from plumbum import local
from plumbum.machines import LocalCommand

TEMPLATE = Path(__file__).resolve().parents[1]

#: The answers that change what a render holds, each with every choice it offers.
TIERS = ["small", "medium", "large"]
MANAGERS = ["uv", "poetry"]
TRACKERS = ["mlflow", "wandb", "none"]
CONFIG_SYSTEMS = ["yaml", "hydra"]
FRAMEWORKS = ["sklearn", "pytorch"]
#: Every tier x package manager x tracker x config system x framework.
COMBINATIONS = list(itertools.product(TIERS, MANAGERS, TRACKERS, CONFIG_SYSTEMS, FRAMEWORKS))


#: One pytest parameter per combination, kept on one xdist worker so that every test
#: module reads the same render of it (see `rendered`).
COMBINATION_PARAMS = [
    pytest.param(c, marks=pytest.mark.xdist_group("render-" + "-".join(c)), id="-".join(c))
    for c in COMBINATIONS
]


def combination_answers(combination: tuple[str, ...]) -> dict[str, str]:
    """The answers of one entry of COMBINATIONS."""
    names = ("tier", "package_manager", "experiment_tracker", "config_system", "ml_framework")
    return dict(zip(names, combination, strict=True))


#: uv, poetry, ruff and copier live beside the interpreter running the tests.
TOOLS = Path(sys.executable).parent


def public_index_url() -> str:
    """The index pip itself uses, asked of pip at run time so no host name is written down."""
    from pip._internal.models.index import PyPI

    return PyPI.simple_url


def load_extension(name: str) -> ModuleType:
    """Import an extension by path, as copier-template-extensions does."""
    spec = importlib.util.spec_from_file_location(
        f"ext_{name}", TEMPLATE / "extensions" / f"{name}.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def local_torch() -> tuple[str, str]:
    """A folder of wheels in pip's own configuration that holds a torch for this Python.

    Returns the folder and the torch version, or two empty strings: torch then comes from
    the main index (a CUDA build, gigabytes). Read at run time, never written down.
    """
    from pip._internal.configuration import Configuration

    configuration = Configuration(isolated=False)
    configuration.load()
    folders: list[str] = []
    for key, value in configuration.items():  # pip 26 pairs each file with its settings
        settings = value if isinstance(value, dict) else {key: value}
        folders += [found for name, found in settings.items() if name.endswith("find-links")]
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    for folder in " ".join(folders).split():
        for wheel in sorted(Path(folder).glob(f"torch-*-{tag}-{tag}-*.whl")):
            return folder, wheel.name.split("-")[1]
    return "", ""


def render(dst: Path, **answers: Any) -> Path:
    """Generate a project from this working tree (uncommitted changes included)."""
    return render_release(TEMPLATE, "HEAD", dst, **answers)


def render_release(template: Path, ref: str, dst: Path, **answers: Any) -> Path:
    """Generate a project from a git reference of a template repository."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Dd]irty.*")
        run_copy(
            str(template),
            dst,
            data=answers,
            defaults=True,
            unsafe=True,
            quiet=True,
            vcs_ref=ref,
        )
    return dst


def _project_paths(root: Path, folders: bool) -> set[str]:
    skip = {".git", ".venv"}
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if (path.is_dir() if folders else path.is_file())
        and not skip & set(path.relative_to(root).parts)
    }


def project_files(root: Path) -> set[str]:
    """Every file of a generated project, as POSIX paths relative to it."""
    return _project_paths(root, folders=False)


def project_folders(root: Path) -> set[str]:
    """Every folder of a generated project, as POSIX paths relative to it."""
    return _project_paths(root, folders=True)


def parent_folders(files: set[str]) -> set[str]:
    """The folders that hold these files, at every depth."""
    return {parent.as_posix() for name in files for parent in Path(name).parents} - {"."}


#: Characters Windows refuses in a file name, and the names it reserves for devices.
WINDOWS_REFUSES = re.compile(r'[<>:"|?*\x00-\x1f\\]')
RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$", re.I)


def windows_problems(paths: list[str]) -> list[str]:
    """Each path with a part that Windows cannot create, and why."""
    problems = []
    for path in paths:
        for part in path.split("/"):
            if WINDOWS_REFUSES.search(part):
                problems.append(f"{path}: {part!r} has a character Windows refuses")
            elif part.endswith((".", " ")):
                problems.append(f"{path}: {part!r} ends with a dot or a space")
            elif RESERVED.match(part):
                problems.append(f"{path}: {part!r} is a name Windows reserves")
    return problems


def makefile_recipes(project: Path) -> dict[str, list[str]]:
    """Each target of a project's Makefile, with its recipe lines as written."""
    recipes: dict[str, list[str]] = {}
    target = ""
    for line in (project / "Makefile").read_text().splitlines():
        if match := re.match(r"^([a-z-]+):", line):
            target = match.group(1)
            recipes[target] = []
        elif line.startswith("\t") and target:
            recipes[target].append(line.strip())
        else:
            target = ""
    return recipes


def tool(name: str) -> LocalCommand:
    """A command from the test environment, whatever PATH says (``ruff.exe`` on Windows)."""
    found = shutil.which(name, path=str(TOOLS))
    if found is None:
        raise FileNotFoundError(f"{name}: not installed beside {sys.executable}")
    return local[found]


#: What a generated project's commands see: our uv and poetry first, no Python
#: downloads, Poetry's environment in .venv, and a git identity for commits.
PROJECT_ENV = {
    "PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}",
    "UV_PYTHON_DOWNLOADS": "never",
    "POETRY_VIRTUALENVS_IN_PROJECT": "true",
    # DVC reports usage unless told not to; the tests reach no network but the index.
    "DVC_NO_ANALYTICS": "1",
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def run_in(project: Path, *argv: str | Path, retcode: int | None = 0) -> tuple[int, str, str]:
    """Run a command inside a generated project, as its user would; fail loudly unless told."""
    with local.cwd(project), local.env(**PROJECT_ENV):
        return local[str(argv[0])].run([str(arg) for arg in argv[1:]], retcode=retcode)


def template_release(dst: Path, tag: str = "v0.1.0") -> Path:
    """This working tree committed and tagged as a release in a repository of its own.

    `copier update` needs the recorded template commit to exist; a working tree with
    uncommitted changes gets a throwaway one, so updates are tested from a snapshot.
    """
    listed = local["git"](
        "-C", TEMPLATE, "ls-files", "-z", "--cached", "--others", "--exclude-standard"
    )
    for name in filter(None, listed.split("\0")):
        source = TEMPLATE / name
        if source.is_file():
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            (dst / name).write_bytes(source.read_bytes())
    git = local["git"]["-C", dst]
    git("init", "--quiet")
    git("add", "--all")
    git("-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "-qm", "release")
    git("tag", tag)
    return dst


def _working_tree_files() -> list[str]:
    listed = local["git"](
        "-C", TEMPLATE, "ls-files", "-z", "--cached", "--others", "--exclude-standard"
    )
    return [name for name in listed.split("\0") if name and (TEMPLATE / name).is_file()]


#: A released version's heading in CHANGELOG.md, and the commit its tag points to.
RELEASE_RECORD = re.compile(
    r"^## \[(?P<version>[^\]]+)\].*\n\nTag `(?P<tag>v[^`]+)`, commit `(?P<commit>[0-9a-f]{40})`",
    re.M,
)


def changelog_version() -> str:
    """The newest release the changelog names: the version the working tree is, or will be."""
    match = re.search(r"^## \[(\d+\.\d+\.\d+)\]", (TEMPLATE / "CHANGELOG.md").read_text(), re.M)
    assert match, "CHANGELOG.md names no release"
    return match.group(1)


def changed_since_last_release(package: str = "ml_project") -> set[str]:
    """The generated files that the changelog says changed since the newest recorded release.

    They are the backticked paths (with a dot or a slash, or a root file such as
    ``Makefile``, ``Dockerfile`` or ``LICENSE``) in the ``### Generated files``
    lists of every section above that release's (``[Unreleased]``, and a release whose
    tag is not recorded yet).
    """
    text = (TEMPLATE / "CHANGELOG.md").read_text(encoding="utf-8")
    newest = RELEASE_RECORD.search(text)
    unreleased = text[: newest.start()] if newest else text
    listed: set[str] = set()
    for section in re.split(r"^### ", unreleased, flags=re.M)[1:]:
        if section.startswith("Generated files\n"):
            listed |= set(
                re.findall(r"`([\w<>./-]*[./][\w<>./-]*|[A-Z][a-z]*file|LICENSE)`", section)
            )
    return {name.replace("<package>", package) for name in listed}


def recorded_releases() -> dict[str, str]:
    """Each tag CHANGELOG.md records, oldest first, with its commit.

    The changelog travels with every clone; tags do not always (CI clones one branch
    without them), so the update tests rebuild the tags from this record.
    """
    from packaging.version import Version

    text = (TEMPLATE / "CHANGELOG.md").read_text(encoding="utf-8")
    found = {match["tag"]: match["commit"] for match in RELEASE_RECORD.finditer(text)}
    return dict(sorted(found.items(), key=lambda item: Version(item[0][1:])))


def release_tags(repo: Path) -> list[str]:
    """A repository's release tags, oldest first (PEP 440 order)."""
    from packaging.version import Version

    tags = local["git"]("-C", repo, "tag", "--list", "v*").split()
    return sorted(tags, key=lambda tag: Version(tag[1:]))


def template_repo(dst: Path) -> tuple[Path, str]:
    """A clone of this repository, every recorded release tagged, whose newest tag is this tree.

    Updates are tested from each real release to what is being built: the working tree,
    committed on top of the clone. It is tagged as the changelog's newest release when
    that tag is not cut yet, else as the next patch's development release, so version
    gated migrations up to the newest release run.
    """
    git = local["git"]["-C", dst]
    local["git"]("clone", "--quiet", TEMPLATE, dst)
    for tag, commit in recorded_releases().items():
        if not git("tag", "--list", tag).strip():
            git("tag", tag, commit)
    for name in git("ls-files", "-z").split("\0"):
        if name and not (TEMPLATE / name).exists():
            (dst / name).unlink()
    for name in _working_tree_files():
        (dst / name).parent.mkdir(parents=True, exist_ok=True)
        (dst / name).write_bytes((TEMPLATE / name).read_bytes())
    git("add", "--all")
    identity = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
    if not git("status", "--porcelain").strip():
        released = git("tag", "--points-at", "HEAD", "--list", "v*").split()
        if released:
            return dst, released[0]
    version = changelog_version()
    tags = release_tags(dst)
    git(*identity, "commit", "--quiet", "--allow-empty", "-m", "the working tree")
    major, minor, patch = map(int, version.split("."))
    tag = f"v{version}" if f"v{version}" not in tags else f"v{major}.{minor}.{patch + 1}.dev0"
    git(*identity, "tag", "-a", tag, "-m", tag)
    return dst, tag


#: How a small project installs (it has no Makefile), as its README says.
SMALL_INSTALL = {"uv": ["uv", "sync"], "poetry": ["poetry", "install"]}


class BuildProjects:
    """The installed projects of a session, each generated and installed once.

    Several test modules use the same project (test_build and test_dvc share the large
    ones); they name it by tier and package manager, and keep it on one xdist worker
    with the group ``<tier>-<manager>``. A test that changes a project puts it back.
    """

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self._factory = factory
        self._projects: dict[tuple[str, str], Path] = {}
        self._pipelines: dict[Path, str] = {}

    def installed(self, tier: str, manager: str) -> Path:
        """A fresh project of this tier in a new git repository, installed by its manager."""
        if (tier, manager) not in self._projects:
            answers = {"tier": tier, "package_manager": manager}
            if manager == "poetry":
                # Poetry's default source cannot resolve here; the simple index can.
                answers["package_index_url"] = public_index_url()
            dst = render(self._factory.mktemp(f"{tier}-{manager}") / "project", **answers)
            run_in(dst, "git", "init", "--quiet")
            run_in(dst, "git", "add", "--all")
            run_in(dst, "git", "commit", "--quiet", "--message", "chore: generate from copier-ml")
            run_in(dst, *(SMALL_INSTALL[manager] if tier == "small" else ["make", "install-dev"]))
            self._projects[tier, manager] = dst
        return self._projects[tier, manager]

    def pipeline(self, project: Path, *targets: str) -> str:
        """Run the project's pipeline targets once per session; what they logged."""
        if project not in self._pipelines:
            _, out, err = run_in(project, "make", *targets)
            self._pipelines[project] = out + err
        return self._pipelines[project]


# Driving `copier update` as a team does, on real git repositories.

ANSWERS = ".copier-answers.yml"
#: Lines copier writes where the team and the template changed the same lines.
MARKERS = ("<<<<<<< before updating", ">>>>>>> after updating")
IDENTITY = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
git = local["git"]


def copier(project: Path, *args: str, retcode: int | None = 0) -> tuple[int, str, str]:
    """The copier command line, run in a project; stdin closed as in CI."""
    with local.cwd(project), local.env(**PROJECT_ENV):
        return tool("copier").run([*args], retcode=retcode, stdin=open(os.devnull))


def generate(template: Path, ref: str, dst: Path, **answers: str) -> Path:
    """A project copied at a release and committed, as a team starts."""
    data = [f"--data={name}={value}" for name, value in answers.items()]
    copier(template.parent, "copy", "--trust", "--defaults", "--quiet", "-r", ref, *data,
           str(template), str(dst))  # fmt: skip
    git("-C", dst, "init", "--quiet")
    commit(dst, "chore: generate")
    return dst


def commit(project: Path, message: str) -> None:
    git("-C", project, "add", "--all")
    git("-C", project, *IDENTITY, "commit", "--quiet", "--allow-empty", "-m", message)


def update(project: Path, *args: str) -> str:
    """`copier update` with the recorded answers; copier's output."""
    _, out, err = copier(project, "update", "--trust", "--defaults", "--skip-answered", *args)
    return out + err


def tree(root: Path) -> dict[str, bytes]:
    """Every file of a project but git's own and the answers file, with its bytes."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(root).parts and path.name != ANSWERS
    }


def unresolved(root: Path) -> list[str]:
    """Files with conflict markers (lines that start with one) or rejected hunks."""
    return sorted(
        name
        for name, content in tree(root).items()
        if name.endswith(".rej")
        or any(line.startswith(MARKERS) for line in content.decode(errors="replace").splitlines())
    )


def answers(project: Path) -> dict[str, object]:
    recorded: dict[str, object] = yaml.safe_load((project / ANSWERS).read_text())
    return recorded


def next_release(template: Path) -> str:
    """The version a release cut now gets: the next patch after the newest tag."""
    newest = Version(release_tags(template)[-1][1:])
    return f"{newest.major}.{newest.minor}.{newest.micro + 1}"


def release(template: Path, change: Callable[[Path], None]) -> str:
    """Commit a change to the template and tag it as a newer release; the tag."""
    tag = f"v{next_release(template)}"
    change(template)
    commit(template, f"feat: {tag}")
    git("-C", template, "tag", "-a", tag, "-m", tag)
    return tag


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def add_dependency(pyproject: Path, requirement: str) -> None:
    """Add a runtime dependency where `uv add` puts it: in name order."""
    lines = pyproject.read_text().splitlines(keepends=True)
    start = lines.index("dependencies = [\n") + 1
    end = lines.index("]\n", start)
    at = next((i for i in range(start, end) if lines[i].strip() > f'"{requirement}",'), end)
    lines.insert(at, f'    "{requirement}",\n')
    pyproject.write_text("".join(lines))


def make_with_our_copier(
    project: Path, *args: str, retcode: int | None = 0
) -> tuple[int, str, str]:
    """A generated project's make, not installed: its copier is the test environment's."""
    return run_in(project, "make", "--no-print-directory", "RUN=", *args, retcode=retcode)


def back_to_head(project: Path) -> None:
    """A project as committed: what a test changed is reset, what it made is removed."""
    git("-C", project, "reset", "--quiet", "--hard")
    git("-C", project, "clean", "--quiet", "-fdx")


# A real MLflow tracking server, for the projects' tracking and registry.

#: Keeps the runs on this machine: no usage reports from MLflow, no error reports from wandb.
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "WANDB_ERROR_REPORTING": "false"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def mlflow_server(folder: Path) -> Iterator[tuple[str, Path]]:
    """`mlflow server` on 127.0.0.1 with a SQLite store (runs and registry) and an
    artifact store in ``folder``: its URL and artifact folder, stopped on exit."""
    import signal
    import subprocess

    artifacts = folder / "artifacts"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    args += ["--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}"]
    args += ["--artifacts-destination", str(artifacts)]
    log_path = folder / "server.log"
    with log_path.open("w") as log, local.env(**QUIET):
        server = tool("mlflow").popen(args, start_new_session=True, stdout=log, stderr=log)
    try:
        wait_until_healthy(f"{url}/health", server, log_path)
        yield url, artifacts
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine: its workers may hang on
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


#: What `make load-test` prints after locust's own table (serving/load_test.py's report).
LOAD_TEST_FIGURES = re.compile(
    r"Requests: (?P<requests>\d+), failed: (?P<failed>\d+)\n"
    r"Throughput: (?P<throughput>[\d.]+) requests/s\n"
    r"Latency: p50 (?P<p50>\d+) ms, p95 (?P<p95>\d+) ms, p99 (?P<p99>\d+) ms"
)


def load_test_figures(output: str) -> dict[str, float]:
    """The requests, failures, throughput and p50/p95/p99 a `make load-test` printed."""
    match = LOAD_TEST_FIGURES.search(output)
    if match is None:
        raise ValueError(f"no load-test figures in its output:\n{output[-3000:]}")
    return {name: float(value) for name, value in match.groupdict().items()}


def wait_until_healthy(url: str, server: Any, log: Path, wait: float = 120) -> None:
    """Return once ``url`` answers 200; fail with the server's log if it exits or is late."""
    import time
    import urllib.request

    deadline = time.monotonic() + wait
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"mlflow server did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
