"""A render depends on the template and the answers, and on nothing else.

`copier update` renders the project's recorded template version with its recorded
answers and takes the difference from what was generated as the team's own changes.
So a render must not read the clock, the network, the environment or the working
directory: anything it did would come back on every update as a change nobody made.

The renders run copier's command line in a subprocess, each under an environment of
its own, from a committed and tagged snapshot of this working tree (`template_release`):
both read one commit, so every file must match, the answers file's `_commit` included,
and an edit made to the working tree meanwhile cannot slip between them.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from plumbum import local

from .conftest import RELEASE
from .helpers import PROJECT_ENV, TEMPLATE, tool

TIERS = ["small", "medium", "large"]

#: Two environments that differ in everything a render could read: clock zone and
#: epoch, locale, home (with it copier's user settings and git's global config), user,
#: and hash seed (the order of sets of strings).
ENVIRONMENTS: dict[str, dict[str, str]] = {
    "here": {
        "TZ": "UTC",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "USER": "alice",
        "LOGNAME": "alice",
        "SOURCE_DATE_EPOCH": "0",
        "PYTHONHASHSEED": "1",
    },
    "there": {
        "TZ": "Pacific/Kiritimati",  # UTC+14: another date than UTC for part of each day
        "LANG": "POSIX",
        "LC_ALL": "POSIX",
        "USER": "bob",
        "LOGNAME": "bob",
        "SOURCE_DATE_EPOCH": "2000000000",
        "PYTHONHASHSEED": "2",
    },
}
#: Every proxy variable at a port nothing answers on, nothing exempt; git may use only
#: local repositories; package tools may not reach an index.
OFFLINE = {
    **dict.fromkeys(("http_proxy", "https_proxy", "all_proxy"), "http://127.0.0.1:9"),
    **dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"), "http://127.0.0.1:9"),
    "no_proxy": "",
    "NO_PROXY": "",
    "GIT_ALLOW_PROTOCOL": "file",
    "PIP_NO_INDEX": "1",
    "UV_OFFLINE": "1",
}


def copy(
    release: Path,
    dst: Path,
    cwd: Path,
    env: dict[str, str],
    tier: str,
    prefix: tuple[str, ...] = (),
) -> Path:
    """`copier copy` in a subprocess whose environment is only PATH, HOME and `env`."""
    cwd.mkdir(parents=True, exist_ok=True)
    home = cwd / "home"
    home.mkdir(exist_ok=True)
    argv = [str(tool("copier")), "copy", "--trust", "--defaults", "--quiet", "-r", "HEAD",
            "-d", f"tier={tier}", str(release), str(dst)]  # fmt: skip
    program, *args = [*prefix, *argv]
    with local.cwd(cwd), local.env():
        local.env.clear()
        local.env.update(PATH=PROJECT_ENV["PATH"], HOME=str(home), **env)
        local[program].run(args, stdin=subprocess.DEVNULL)
    return cwd / dst


def tree(root: Path) -> dict[str, tuple[bytes, bool]]:
    """Every file's bytes and executable bit, by POSIX path."""
    return {
        path.relative_to(root).as_posix(): (path.read_bytes(), bool(path.stat().st_mode & 0o111))
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def differences(first: Path, second: Path) -> list[str]:
    a, b = tree(first), tree(second)
    return sorted(name for name in set(a) | set(b) if a.get(name) != b.get(name))


@pytest.fixture(scope="module")
def rendered(release: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """A tier rendered in the first environment, once per module (and xdist worker)."""
    done: dict[str, Path] = {}

    def render(tier: str) -> Path:
        if tier not in done:
            root = tmp_path_factory.mktemp(f"here-{tier}")
            done[tier] = copy(release, Path("project"), root, ENVIRONMENTS["here"], tier)
        return done[tier]

    return render


@pytest.mark.parametrize("tier", TIERS)
def test_renders_in_different_environments_and_directories_are_identical(
    release: Path, rendered: Callable[[str], Path], tmp_path: Path, tier: str
) -> None:
    here = rendered(tier)
    # Elsewhere: another working directory, an absolute destination of another name.
    there = copy(release, tmp_path / "elsewhere" / "other-name", tmp_path / "cwd" / "deeper",
                 ENVIRONMENTS["there"], tier)  # fmt: skip
    assert set(tree(here)) == set(tree(there))
    assert differences(here, there) == []
    assert yaml.safe_load((here / ".copier-answers.yml").read_text())["_commit"] == RELEASE


@pytest.mark.parametrize("tier", TIERS)
def test_renders_with_the_network_unreachable(
    release: Path, rendered: Callable[[str], Path], tmp_path: Path, tier: str
) -> None:
    offline = copy(release, Path("project"), tmp_path, ENVIRONMENTS["here"] | OFFLINE, tier)
    assert differences(rendered(tier), offline) == []


def _no_network_namespace() -> str:
    """Why a process cannot be run without a network here, or empty if it can."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return "no unshare"
    probe = subprocess.run([unshare, "-rn", "true"], capture_output=True, text=True)
    if probe.returncode == 0:
        return ""
    return probe.stderr.strip() or f"unshare -rn exited {probe.returncode}"


@pytest.mark.skipif(bool(_no_network_namespace()), reason=_no_network_namespace())
def test_renders_with_no_network_at_all(
    release: Path, rendered: Callable[[str], Path], tmp_path: Path
) -> None:
    """Stronger than the proxies: a network namespace of its own, with loopback down."""
    isolated = copy(release, Path("project"), tmp_path, ENVIRONMENTS["here"], "large",
                    prefix=(shutil.which("unshare") or "unshare", "-rn"))  # fmt: skip
    assert differences(rendered("large"), isolated) == []


# Static checks: what would make a render depend on more than its inputs.

#: Modules that read the clock, randomness, the network, or who and where the user is.
FORBIDDEN_MODULES = {
    "datetime", "time", "zoneinfo", "calendar", "random", "secrets", "uuid", "socket",
    "ssl", "http", "urllib", "urllib3", "requests", "httpx", "getpass", "locale",
}  # fmt: skip
#: Pure string functions inside a forbidden package.
ALLOWED_MODULES = {"urllib.parse"}
ENVIRONMENT_READS = {"environ", "environb", "getenv", "getenvb"}


def _offences(path: Path) -> list[str]:
    module = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []

    def imported(name: str, line: int) -> None:
        if name not in ALLOWED_MODULES and name.split(".")[0] in FORBIDDEN_MODULES:
            found.append(f"{path.name}:{line}: imports {name}")

    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imported(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "os":
                for alias in node.names:
                    if alias.name in ENVIRONMENT_READS:
                        found.append(f"{path.name}:{node.lineno}: imports os.{alias.name}")
            elif node.module in ALLOWED_MODULES:
                continue
            elif node.module.split(".")[0] in FORBIDDEN_MODULES:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
                for name in names:
                    imported(name, node.lineno)
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in ENVIRONMENT_READS
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ):
            found.append(f"{path.name}:{node.lineno}: reads os.{node.attr}")
    return found


def test_extensions_read_no_clock_network_randomness_or_environment() -> None:
    modules = sorted((TEMPLATE / "extensions").glob("*.py"))
    assert modules, "no extensions found"
    offences = [offence for path in modules for offence in _offences(path)]
    assert offences == [], "\n".join(offences)


def test_the_static_check_catches_what_it_looks_for(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import os, time\nfrom datetime import date\nfrom urllib.request import urlopen\n"
        "from urllib.parse import urlsplit\nfrom os import getenv\nHOME = os.environ['HOME']\n"
    )
    assert _offences(bad) == [
        "bad.py:1: imports time",
        "bad.py:2: imports datetime.date",
        "bad.py:3: imports urllib.request.urlopen",
        "bad.py:5: imports os.getenv",
        "bad.py:6: reads os.environ",
    ]


#: Jinja code (not GitHub's `${{ }}`, which is text to us).
JINJA = re.compile(r"(?<!\$)\{\{.*?\}\}|\{%.*?%\}", re.S)
#: Names that would bring the clock, randomness or the environment into a render.
UNSTABLE = re.compile(r"\b(now|utcnow|today|timestamp|random|lipsum|uuid[1-5]?|environ|getenv)\b")
#: ... and, in a generated file, where the project is: update renders in a temporary folder.
PLACED = re.compile(r"\b(dst_path|_folder_name|_copier_python)\b")


def _strings(node: object) -> Iterator[tuple[str, str]]:
    """Every string in a YAML document, with where it is."""
    stack: list[tuple[str, object]] = [("", node)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            stack += [(f"{where}.{key}", item) for key, item in value.items()]
        elif isinstance(value, list):
            stack += [(f"{where}[{index}]", item) for index, item in enumerate(value)]
        elif isinstance(value, str):
            yield where.lstrip("."), value


def test_copier_yml_reads_no_clock_randomness_or_environment() -> None:
    config = yaml.safe_load((TEMPLATE / "copier.yml").read_text())
    offences = [
        f"{where}: {code.strip()}"
        for where, text in _strings(config)
        for code in JINJA.findall(text)
        if UNSTABLE.search(code)
    ]
    offences += [
        f"_jinja_extensions: {name}"
        for name in config.get("_jinja_extensions", [])
        if re.search(r"time|random|uuid", name, re.I)
    ]
    assert offences == [], "\n".join(offences)


def test_template_files_read_no_clock_randomness_environment_or_place() -> None:
    """Paths are always rendered; contents only of the files with copier's `.jinja` suffix,
    and of the variants they include."""
    offences = []
    for path in sorted([*(TEMPLATE / "template").rglob("*"), *(TEMPLATE / "variants").rglob("*")]):
        name = path.relative_to(TEMPLATE).as_posix()
        rendered = path.is_file() and path.suffix == ".jinja"
        text = name + ("\n" + path.read_text(encoding="utf-8") if rendered else "")
        offences += [
            f"{name}: {code.strip()}"
            for code in JINJA.findall(text)
            if UNSTABLE.search(code) or PLACED.search(code)
        ]
    assert offences == [], "\n".join(offences)
