"""The generated workflows' supply chain: what they run is pinned, they keep no token
they do not need, each write they ask for says why, Dependabot keeps the pins current,
and zizmor, a GitHub Actions auditor, finds nothing at its default persona.

Every combination with CI is checked, and each cloud's cd.yml, with and without DVC.
zizmor runs offline: its online audits (known-vulnerable actions, impostor commits)
would ask GitHub.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from .helpers import COMBINATION_PARAMS, TEMPLATE, combination_answers, load_extension, tool

ACTIONS: dict[str, tuple[str, str]] = load_extension("actions").ACTIONS
MANAGER_VERSIONS: dict[str, str] = load_extension("dependencies").MANAGER_VERSIONS

#: A step's action, pinned to a commit, its release in the comment that follows.
PINNED = re.compile(
    r"uses: (?P<action>[\w.-]+/[\w.-]+)@(?P<commit>[0-9a-f]{40})  # (?P<release>v\d+\.\d+\.\d+)$"
)
USES = re.compile(r"^\s*(?:- )?uses:")
OWN_WORKFLOWS = sorted((TEMPLATE / ".github/workflows").glob("*.yml"))

#: Every combination with CI (the small tier has none), each cloud's cd.yml, and the
#: large tier without DVC (no model-validation.yml) or a medium one with it.
PROJECTS = [
    pytest.param(combination_answers(p.values[0]), marks=p.marks, id=p.id)
    for p in COMBINATION_PARAMS
    if p.values[0][0] != "small"
] + [
    pytest.param({"tier": "large", "cloud_provider": "gcp"}, id="large-gcp"),
    pytest.param({"tier": "large", "cloud_provider": "azure"}, id="large-azure"),
    pytest.param({"tier": "large", "exclude_features": ["dvc"]}, id="large-without-dvc"),
    pytest.param(
        {"tier": "medium", "package_manager": "poetry", "include_features": ["dvc", "validation"]},
        id="medium-poetry-with-dvc",
    ),
]


@pytest.fixture(params=PROJECTS)
def project(request: pytest.FixtureRequest, rendered: Callable[..., Path]) -> Path:
    answers: dict[str, Any] = request.param
    return rendered(**answers)


def workflows(project: Path) -> list[Path]:
    found = sorted((project / ".github/workflows").glob("*.yml"))
    assert found, f"no workflow in {project}"
    return found


def steps(path: Path) -> list[dict[str, Any]]:
    workflow = yaml.safe_load(path.read_text())
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def unpinned(text: str) -> list[str]:
    """Each `uses:` line that is not an action of ACTIONS at its commit and release."""
    wrong = []
    for line in text.splitlines():
        if not USES.match(line):
            continue
        found = PINNED.search(line)
        if not found or ACTIONS.get(found["action"]) != (found["commit"], found["release"]):
            wrong.append(line.strip())
    return wrong


def uncommented_grants(text: str) -> list[str]:
    """Each permission above `read` (or write-all) without a comment on its line."""
    wrong, block = [], None
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip())
        if block is not None and line.strip() and indent <= block:
            block = None  # the permissions block ended
        if re.match(r"\s*permissions:\s*(#.*)?$", line):
            block = indent
            continue
        value = line.split("#")[0].split(":", 1)[-1].strip()
        grants = (block is not None and value not in ("read", "none", "")) or "write-all" in value
        if grants and not re.search(r"#\s*\S", line):
            wrong.append(line.strip())
    return wrong


def zizmor(target: Path, *options: str) -> list[dict[str, Any]]:
    """zizmor's findings at its default persona, offline, without a configuration file."""
    code, out, err = tool("zizmor").run(
        ["--offline", "--no-config", "--no-progress", "--format", "json", *options, str(target)],
        retcode=None,
    )
    assert code == 0 or 10 <= code <= 14, err  # 1x: findings, the worst of severity x
    findings: list[dict[str, Any]] = json.loads(out)
    return findings


def summary(findings: list[dict[str, Any]]) -> list[str]:
    """One line a finding: its audit, file and line, for an assertion's message."""
    lines = []
    for finding in findings:
        where = finding["locations"][0]
        path = where["symbolic"]["key"]["Local"]["verbatim_path"]
        row = where["concrete"]["location"]["start_point"]["row"] + 1
        lines.append(f"{finding['ident']} {Path(path).name}:{row}")
    return lines


# Generated projects.


def test_zizmor_finds_nothing(project: Path) -> None:
    findings = zizmor(project)
    assert summary(findings) == []
    assert "zizmor: ignore" not in "".join(path.read_text() for path in workflows(project))


def test_every_action_is_pinned_to_a_commit_with_its_release(project: Path) -> None:
    for path in workflows(project):
        assert unpinned(path.read_text()) == [], path.name


def test_every_checkout_keeps_no_credentials(project: Path) -> None:
    """Not even template-update.yml's: create-pull-request sets its own token up to push."""
    for path in workflows(project):
        checkouts = [s for s in steps(path) if s.get("uses", "").startswith("actions/checkout@")]
        assert checkouts, path.name
        assert all(s["with"]["persist-credentials"] is False for s in checkouts), path.name


def test_every_permission_above_read_says_why(project: Path) -> None:
    for path in workflows(project):
        assert uncommented_grants(path.read_text()) == [], path.name


def manager(project: Path) -> str:
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    return str(answers["package_manager"])


def test_workflows_install_the_package_manager_version_the_dockerfile_pins(
    project: Path,
) -> None:
    name = manager(project)
    version = MANAGER_VERSIONS[name]
    dockerfile = project / "infrastructure/docker/Dockerfile"
    if dockerfile.exists():
        assert f"ARG {name.upper()}_VERSION={version}\n" in dockerfile.read_text()
    for path in workflows(project):
        if name == "uv":
            setups = [s for s in steps(path) if s.get("uses", "").startswith("astral-sh/setup-uv@")]
            assert [s["with"]["version"] for s in setups] == [version], path.name
        else:
            installs = [s["run"] for s in steps(path) if s.get("name") == "Install Poetry"]
            assert installs == [f'pipx install "poetry=={version}"'], path.name


def test_dependabot_configuration_is_valid_against_its_schema(project: Path) -> None:
    tool("check-jsonschema")(
        "--builtin-schema", "vendor.dependabot", project / ".github/dependabot.yml"
    )


def test_dependabot_keeps_the_actions_the_lock_file_and_the_base_image_current(
    project: Path,
) -> None:
    config = yaml.safe_load((project / ".github/dependabot.yml").read_text())
    updates = {u["package-ecosystem"]: u["directory"] for u in config["updates"]}
    # Dependabot reads Poetry's lock file in its pip ecosystem.
    expected = {"github-actions": "/", {"uv": "uv", "poetry": "pip"}[manager(project)]: "/"}
    if (project / "infrastructure/docker/Dockerfile").exists():
        expected["docker"] = "/infrastructure/docker"
    assert updates == expected
    assert all(u["schedule"]["interval"] == "weekly" for u in config["updates"])


def test_the_readme_says_how_to_use_renovate_instead(project: Path) -> None:
    readme = (project / "README.md").read_text()
    section = readme.split("## Keeping dependencies current", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```json\n(.*?)```", section, re.S)
    assert json.loads(block)["extends"] == ["config:recommended", "helpers:pinGitHubActionDigests"]
    assert "delete `.github/dependabot.yml`" in section


def test_a_project_without_ci_has_no_dependabot_configuration(
    rendered: Callable[..., Path],
) -> None:
    assert not (rendered(tier="medium", exclude_features=["ci"]) / ".github").exists()
    assert not (rendered(tier="small") / ".github").exists()


# The checks above can fail.


def test_zizmor_finds_an_unpinned_action_and_a_kept_token(tmp_path: Path) -> None:
    (tmp_path / ".github/workflows").mkdir(parents=True)
    (tmp_path / ".github/workflows/ci.yml").write_text(
        "on: push\npermissions: {}\njobs:\n  check:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v5\n"
    )
    assert {f["ident"] for f in zizmor(tmp_path)} == {"unpinned-uses", "artipacked"}


def test_a_tag_a_foreign_commit_or_a_wrong_release_is_not_a_pin() -> None:
    commit, release = ACTIONS["actions/checkout"]
    good = f"      - uses: actions/checkout@{commit}  # {release}"
    assert unpinned(good) == []
    for bad in (
        "      - uses: actions/checkout@v5",
        f"      - uses: actions/checkout@{commit}",
        f"      - uses: actions/checkout@{'0' * 40}  # {release}",
        f"      - uses: actions/checkout@{commit}  # v0.0.1",
        f"        uses: actions/setup-python@{commit}  # {release}",
    ):
        assert unpinned(bad) == [bad.strip()]


def test_a_write_without_a_comment_is_caught() -> None:
    text = (
        "permissions:\n  contents: read\njobs:\n  a:\n    permissions:\n"
        "      contents: write  # push the branch\n      issues: write\n    steps: []\n"
    )
    assert uncommented_grants(text) == ["issues: write"]
    assert uncommented_grants("permissions: write-all\n") == ["permissions: write-all"]


# The pins themselves, and this repository's own workflows.


def test_every_pinned_action_is_used() -> None:
    sources = [*OWN_WORKFLOWS, *TEMPLATE.glob("template/.github/workflows/*.jinja")]
    sources += TEMPLATE.glob("variants/*/*/.github/workflows/*.jinja")
    text = "".join(path.read_text() for path in sources)
    assert [name for name in ACTIONS if name not in text] == []


def test_templates_name_actions_only_through_the_pins() -> None:
    templates = [*TEMPLATE.glob("template/.github/workflows/*.jinja")]
    templates += TEMPLATE.glob("variants/*/*/.github/workflows/*.jinja")
    for path in templates:
        for line in path.read_text().splitlines():
            if USES.match(line):
                assert re.search(r'uses: \{\{ "[\w.-]+/[\w.-]+" \| action \}\}$', line), line


@pytest.mark.parametrize("path", OWN_WORKFLOWS, ids=lambda path: path.name)
def test_this_repositorys_workflows_pin_the_same_commits(path: Path) -> None:
    assert unpinned(path.read_text()) == []


def test_zizmor_finds_nothing_in_this_repositorys_workflows_but_what_they_explain() -> None:
    """The fleet's App tokens cover the App's installation: each ignore says why."""
    assert summary(zizmor(TEMPLATE / ".github")) == []
    ignored = zizmor(TEMPLATE / ".github", "--no-ignores")
    assert {finding["ident"] for finding in ignored} == {"github-app"}
    for path in OWN_WORKFLOWS:
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if "zizmor: ignore[" in line:
                assert lines[number - 1].strip().startswith("#"), f"{path.name}:{number + 1}"
