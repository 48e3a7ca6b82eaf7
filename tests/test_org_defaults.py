"""The org-wide rollout path of docs/org-rollout.md, run with copier's command line.

Org defaults in a data file (`--data-file`) or in a user settings file
(`COPIER_SETTINGS_PATH`, `defaults:`) reach the answers file and the rendered files;
the order in which they override each other is the one the document states; a bad org
value is refused by name before anything is written; and `copier check-update
--output-format json` tells a project that is behind from one that is not.

Every run points COPIER_SETTINGS_PATH at a settings file of the test's own, so the
settings of whoever runs the suite play no part.
"""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from plumbum import local

from .conftest import RELEASE
from .helpers import PROJECT_ENV, run_in, template_release, tool

ANSWERS = ".copier-answers.yml"
ORG = {
    "author_name": "Acme ML Platform",
    "author_email": "ml-platform@example.org",
    "package_index_url": "https://index.example.org/simple",
    "license": "Apache-2.0",
}


def write_yaml(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def copier(cwd: Path, settings: Path, *args: str | Path) -> tuple[int, str]:
    """copier's command line under a settings file of the test's: exit status, output."""
    with local.cwd(cwd), local.env(**PROJECT_ENV, COPIER_SETTINGS_PATH=str(settings)):
        code, out, err = tool("copier").run(
            [str(arg) for arg in args], retcode=None, stdin=subprocess.DEVNULL
        )
    return code, out + err


def copy(release: Path, dst: Path, *args: str | Path, settings: Path | None = None) -> Path:
    """`copier copy --trust --defaults` at the release; fails loudly."""
    settings = settings or write_yaml(dst.parent / "no-settings.yml", {"defaults": {}})
    code, output = copier(dst.parent, settings, "copy", "--trust", "--defaults", "--quiet",
                          "-r", RELEASE, *args, release, dst)  # fmt: skip
    assert code == 0, output
    return dst


def commit_new(project: Path) -> None:
    """Put a freshly copied project under git, as a team does before its first update."""
    run_in(project, "git", "init", "--quiet")
    run_in(project, "git", "add", "--all")
    run_in(project, "git", "commit", "--quiet", "-m", "chore: generate")


def answers(project: Path) -> dict[str, object]:
    recorded: dict[str, object] = yaml.safe_load((project / ANSWERS).read_text())
    return recorded


def assert_org_defaults_applied(project: Path) -> None:
    recorded = answers(project)
    assert {key: recorded[key] for key in ORG} == ORG
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["authors"] == [
        {"name": ORG["author_name"], "email": ORG["author_email"]}
    ]
    assert pyproject["project"]["license"] == "Apache-2.0"
    assert [index["url"] for index in pyproject["tool"]["uv"]["index"]] == [
        ORG["package_index_url"]
    ]
    license_text = (project / "LICENSE").read_text()
    assert license_text.startswith("Apache License")
    assert f"Copyright 2026 {ORG['author_name']}" in license_text


# 1. One place for the org's defaults: a data file, or the settings file's `defaults:`.


def test_org_data_file_reaches_the_answers_pyproject_and_license(
    release: Path, tmp_path: Path
) -> None:
    org = write_yaml(tmp_path / "copier-org.yml", ORG)
    assert_org_defaults_applied(copy(release, tmp_path / "project", "--data-file", org))


def test_settings_file_defaults_reach_the_answers_pyproject_and_license(
    release: Path, tmp_path: Path
) -> None:
    settings = write_yaml(tmp_path / "settings.yml", {"defaults": ORG})
    assert_org_defaults_applied(copy(release, tmp_path / "project", settings=settings))


# 2. Which wins: -d over --data-file over the settings' defaults over the template's.


@pytest.mark.parametrize("cli_first", [False, True], ids=["data-file-first", "cli-first"])
def test_precedence_is_command_line_then_data_file_then_settings_then_template(
    release: Path, tmp_path: Path, cli_first: bool
) -> None:
    settings = write_yaml(tmp_path / "settings.yml", {"defaults": {
        "author_name": "Settings", "license": "BSD-3-Clause",
        "author_email": "settings@example.org"}})  # fmt: skip
    org = write_yaml(tmp_path / "org.yml", {"author_name": "Data File", "license": "Apache-2.0"})
    data_file, cli = ["--data-file", str(org)], ["-d", "author_name=Command Line"]
    args = [*cli, *data_file] if cli_first else [*data_file, *cli]
    recorded = answers(copy(release, tmp_path / "project", *args, settings=settings))
    assert recorded["author_name"] == "Command Line"  # -d beats the data file
    assert recorded["license"] == "Apache-2.0"  # the data file beats the settings
    assert recorded["author_email"] == "settings@example.org"  # settings beat the template
    assert recorded["python_version"] == "3.11"  # the template's default


# 3. A bad org value stops every copy, naming the question; nothing is written.


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"license": "GPL-9"}, "Invalid choice for 'license': 'GPL-9' is not in"),
        ({"author_email": "platform team"}, "Validation error for question 'author_email'"),
    ],
    ids=["license", "author_email"],
)
def test_an_invalid_org_value_is_refused_by_name_and_nothing_is_written(
    release: Path, tmp_path: Path, value: dict[str, str], words: str
) -> None:
    org = write_yaml(tmp_path / "copier-org.yml", ORG | value)
    settings = write_yaml(tmp_path / "settings.yml", {"defaults": {}})
    code, output = copier(tmp_path, settings, "copy", "--trust", "--defaults", "-r", RELEASE,
                          "--data-file", org, release, tmp_path / "project")  # fmt: skip
    assert code != 0
    assert words in output
    assert not (tmp_path / "project").exists()


# 4. Trust: the template loads Jinja extensions, so copier needs to be told to trust it.


def test_without_trust_the_copy_is_refused_and_nothing_is_written(
    release: Path, tmp_path: Path
) -> None:
    settings = write_yaml(tmp_path / "settings.yml", {"defaults": {}})
    code, output = copier(tmp_path, settings, "copy", "--defaults", "-r", RELEASE,
                          release, tmp_path / "project")  # fmt: skip
    assert code == 4
    assert "Template uses potentially unsafe feature: jinja_extensions." in output
    assert not (tmp_path / "project").exists()


def test_settings_trust_prefix_stands_for_the_trust_flag(release: Path, tmp_path: Path) -> None:
    settings = write_yaml(tmp_path / "settings.yml", {"trust": [f"{release.parent}/"]})
    code, output = copier(tmp_path, settings, "copy", "--defaults", "--quiet", "-r", RELEASE,
                          release, tmp_path / "project")  # fmt: skip
    assert code == 0, output
    assert (tmp_path / "project" / ANSWERS).is_file()


# 5. Rolling out: a changed org file arrives with the update that passes it.


def test_update_with_a_changed_org_data_file_brings_the_new_value(
    release: Path, tmp_path: Path
) -> None:
    org = write_yaml(tmp_path / "copier-org.yml", ORG)
    project = copy(release, tmp_path / "project", "--data-file", org)
    commit_new(project)
    write_yaml(org, ORG | {"author_name": "Acme Machine Learning"})
    code, output = copier(project, write_yaml(tmp_path / "settings.yml", {"defaults": {}}),
                          "update", "--trust", "--defaults", "--skip-answered",
                          "--data-file", org, "-r", RELEASE)  # fmt: skip
    assert code == 0, output
    assert answers(project)["author_name"] == "Acme Machine Learning"
    assert "Copyright 2026 Acme Machine Learning" in (project / "LICENSE").read_text()


def test_update_keeps_recorded_answers_over_changed_settings_defaults(
    release: Path, tmp_path: Path
) -> None:
    """Settings defaults shape new copies only: a project's answers file wins afterwards."""
    settings = write_yaml(tmp_path / "settings.yml", {"defaults": ORG})
    project = copy(release, tmp_path / "project", settings=settings)
    commit_new(project)
    write_yaml(settings, {"defaults": ORG | {"author_name": "Acme Machine Learning"}})
    code, output = copier(project, settings, "update", "--trust", "--defaults",
                          "--skip-answered", "-r", RELEASE)  # fmt: skip
    assert code == 0, output
    assert answers(project)["author_name"] == ORG["author_name"]
    assert run_in(project, "git", "status", "--porcelain")[1] == ""


# 6. Which projects are behind.


@pytest.fixture
def behind(tmp_path: Path) -> tuple[Path, Path]:
    """A project copied at v0.1.0 of a release repository this test may tag further."""
    own = template_release(tmp_path / "copier-ml", RELEASE)
    project = copy(own, tmp_path / "project")
    commit_new(project)
    return own, project


def new_release(template: Path, tag: str) -> None:
    readme = template / "template/README.md.jinja"
    readme.write_text(readme.read_text() + "\nAdded in a later release.\n")
    run_in(template, "git", "commit", "--quiet", "-am", f"feat: {tag}")
    run_in(template, "git", "tag", tag)


def check_update(project: Path, *args: str) -> tuple[int, str]:
    settings = write_yaml(project.parent / "check-settings.yml", {"defaults": {}})
    return copier(project, settings, "check-update", *args)


def test_check_update_json_says_behind_only_after_a_new_tag(
    behind: tuple[Path, Path],
) -> None:
    template, project = behind
    code, output = check_update(project, "--output-format", "json")
    assert code == 0, output
    assert json.loads(output) == {
        "update_available": False, "current_version": "0.1.0", "latest_version": "0.1.0"
    }  # fmt: skip
    new_release(template, "v0.1.1")
    code, output = check_update(project, "--output-format", "json")
    assert code == 0, output
    assert json.loads(output) == {
        "update_available": True, "current_version": "0.1.0", "latest_version": "0.1.1"
    }  # fmt: skip


def test_check_update_quiet_exits_2_only_when_behind(behind: tuple[Path, Path]) -> None:
    template, project = behind
    assert check_update(project, "--quiet") == (0, "")
    new_release(template, "v0.1.1")
    assert check_update(project, "--quiet") == (2, "")
