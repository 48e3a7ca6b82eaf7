"""This repository's fleet workflows: valid, least privilege, and their own shell works.

The steps' `run:` scripts are taken out of the workflows and run with bash as GitHub
runs them (`bash -e`), in a scratch workspace that holds this repository's `fleet/` and
`.venv`, so a step that names a command or an option that does not exist fails here.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.version import Version

from fleet.repo_list import read_repo_list

from .helpers import TEMPLATE, generate, release_tags, template_repo, tool
from .test_rollout import TOKEN, FakeGitHub, dispatches, serve_fake_github

REPORT = TEMPLATE / ".github/workflows/fleet-report.yml"
ROLLOUT = TEMPLATE / ".github/workflows/rollout.yml"
WORKFLOWS = [REPORT, ROLLOUT]
DOCS = TEMPLATE / "docs/rollout.md"
LIST = "fleet/repos.txt"
APP_TOKEN = "${{ steps.app-token.outputs.token }}"


def load(path: Path) -> dict[Any, Any]:
    workflow: dict[Any, Any] = yaml.safe_load(path.read_text())
    return workflow


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as True.
    found: dict[str, Any] = workflow.get("on", workflow.get(True))
    return found


def steps(path: Path) -> list[dict[str, Any]]:
    return [step for job in load(path)["jobs"].values() for step in job["steps"]]


def step(path: Path, name: str) -> dict[str, Any]:
    return next(s for s in steps(path) if s.get("name") == name)


def uses(path: Path, action: str) -> list[dict[str, Any]]:
    return [s for s in steps(path) if s.get("uses", "").split("@")[0] == action]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_is_valid_against_githubs_schema(path: Path) -> None:
    tool("check-jsonschema")("--builtin-schema", "vendor.github-workflows", path)


def test_report_runs_weekly_and_by_hand_on_a_list_it_names() -> None:
    on = triggers(load(REPORT))
    assert set(on) == {"schedule", "workflow_dispatch"}
    (schedule,) = on["schedule"]
    minute, hour, day, month, weekday = schedule["cron"].split()
    assert (day, month) == ("*", "*") and weekday.isdigit()  # once a week
    assert on["workflow_dispatch"]["inputs"]["list"]["default"] == LIST


def test_rollout_runs_on_version_tags_and_by_hand_as_a_dry_run_by_default() -> None:
    on = triggers(load(ROLLOUT))
    assert set(on) == {"push", "workflow_dispatch"}
    assert on["push"] == {"tags": ["v*"]}
    inputs = on["workflow_dispatch"]["inputs"]
    assert inputs["dry_run"] == {**inputs["dry_run"], "type": "boolean", "default": True}
    assert inputs["batch_size"] == {**inputs["batch_size"], "type": "number", "default": 20}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_only_reads_this_repository_at_the_top(path: Path) -> None:
    assert load(path)["permissions"] == {"contents": "read"}


def test_only_the_issue_job_may_write_and_its_comment_says_why() -> None:
    granted = [
        (path.name, job, scope)
        for path in WORKFLOWS
        for job, spec in load(path)["jobs"].items()
        for scope, level in spec.get("permissions", {}).items()
        if level == "write"
    ]
    assert granted == [("fleet-report.yml", "issue", "issues")]
    comment = re.search(r"((?:\n +#.*)+)\n +permissions:\n +issues: write\n", REPORT.read_text())
    assert comment and "write" in comment[1]


def test_the_issue_is_kept_only_when_the_repository_variable_says_so() -> None:
    job = load(REPORT)["jobs"]["issue"]
    assert job["needs"] == "report"
    assert "vars.FLEET_REPORT_ISSUE == 'true'" in job["if"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_checkout_keeps_no_credentials(path: Path) -> None:
    checkouts = uses(path, "actions/checkout")
    assert checkouts
    assert all(s["with"]["persist-credentials"] is False for s in checkouts)


@pytest.mark.parametrize(
    ("path", "permission"),
    [(REPORT, {"permission-contents": "read"}), (ROLLOUT, {"permission-actions": "write"})],
    ids=["report", "rollout"],
)
def test_the_fleet_is_reached_with_an_app_token_of_one_permission(
    path: Path, permission: dict[str, str]
) -> None:
    (token,) = uses(path, "actions/create-github-app-token")
    # Pinned to a commit of a release: tests/test_supply_chain.py checks the pin.
    assert token["uses"].split("@")[0] == "actions/create-github-app-token"
    assert token["id"] == "app-token"
    assert token["with"] == {
        "client-id": "${{ vars.FLEET_APP_CLIENT_ID }}",
        "private-key": "${{ secrets.FLEET_APP_PRIVATE_KEY }}",
        "owner": "${{ github.repository_owner }}",
        **permission,
    }


def test_the_rollout_dispatches_with_the_app_token_and_no_other() -> None:
    assert step(ROLLOUT, "Roll out")["env"] == {"GITHUB_TOKEN": APP_TOKEN}
    text = ROLLOUT.read_text()
    assert "github.token" not in text
    assert set(re.findall(r"secrets\.(\w+)", text)) == {"FLEET_APP_PRIVATE_KEY"}


def test_the_report_clones_with_the_app_token_and_the_issue_uses_the_jobs_own() -> None:
    assert step(REPORT, "Report on the fleet")["env"]["FLEET_TOKEN"] == APP_TOKEN
    assert set(re.findall(r"secrets\.(\w+)", REPORT.read_text())) == {"FLEET_APP_PRIVATE_KEY"}
    issue = step(REPORT, "Create or update the fleet-report issue")
    assert issue["env"]["GH_TOKEN"] == "${{ github.token }}"


def test_a_pre_release_tag_runs_no_step_after_the_check() -> None:
    after = steps(ROLLOUT)[[s.get("id") for s in steps(ROLLOUT)].index("release") + 1 :]
    assert [s.get("id") or s["uses"].split("@")[0] for s in after] == [
        "app-token",
        "rollout",
        "actions/upload-artifact",
    ]
    assert all("steps.release.outputs.rollout == 'true'" in s["if"] for s in after)
    assert "env.DRY_RUN != 'true'" in after[0]["if"]  # a dry run mints no token


def test_two_rollouts_never_overlap() -> None:
    concurrency = load(ROLLOUT)["concurrency"]
    assert concurrency["group"] and concurrency["cancel-in-progress"] is False


def test_the_rollout_keeps_its_results_as_an_artifact() -> None:
    (upload,) = uses(ROLLOUT, "actions/upload-artifact")
    assert upload["with"]["path"] == "rollout.json"
    assert "--output rollout.json" in step(ROLLOUT, "Roll out")["run"]


def test_the_list_the_workflows_read_exists() -> None:
    assert (TEMPLATE / LIST).is_file()
    read_repo_list(TEMPLATE / LIST)  # readable: a ListError would fail the test
    assert load(ROLLOUT)["jobs"]["rollout"]["env"]["LIST"] == LIST
    assert (
        step(REPORT, "Report on the fleet")["env"]["LIST"] == f"${{{{ inputs.list || '{LIST}' }}}}"
    )


def test_every_secret_and_variable_the_workflows_read_is_documented() -> None:
    named = {
        name
        for path in WORKFLOWS
        for name in re.findall(r"(?:secrets|vars)\.(\w+)", path.read_text())
    }
    assert named == {"FLEET_APP_CLIENT_ID", "FLEET_APP_PRIVATE_KEY", "FLEET_REPORT_ISSUE"}
    docs = DOCS.read_text()
    assert [name for name in sorted(named) if f"`{name}`" not in docs] == []


# The steps' own shell.


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A checkout as the workflows see it: this repository's fleet/ and its .venv."""
    root = tmp_path / "workspace"
    shutil.copytree(
        TEMPLATE / "fleet", root / "fleet", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / ".venv").symlink_to(TEMPLATE / ".venv")
    return root


def run_step(
    path: Path, name: str, workspace: Path, **env: str
) -> tuple[subprocess.CompletedProcess[str], str, str]:
    """Run a step's script as GitHub does; its result, job summary and outputs."""
    script = workspace.parent / "step.sh"
    script.write_text(step(path, name)["run"])
    summary, output = workspace.parent / "summary.md", workspace.parent / "output"
    summary.write_text("")
    output.write_text("")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_", "GIT_"))}
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", str(script)],
        cwd=workspace,
        env={**clean, "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output), **env},
        capture_output=True,
        text=True,
        check=False,
    )
    return done, summary.read_text(), output.read_text()


@pytest.mark.parametrize(
    ("ref_type", "ref", "rolls_out"),
    [
        ("tag", "v0.5.0", True),
        ("tag", "v1.0.0.post1", True),
        ("tag", "v0.3.0rc1", False),
        ("tag", "v0.5.1.dev0", False),
        ("tag", "v-next", False),
        ("branch", "main", True),
    ],
)
def test_only_a_release_tag_or_a_run_by_hand_from_a_branch_rolls_out(
    workspace: Path, ref_type: str, ref: str, rolls_out: bool
) -> None:
    done, _, output = run_step(ROLLOUT, "Is this a release?", workspace, REF_TYPE=ref_type, TAG=ref)
    assert done.returncode == 0, done.stderr
    assert output == f"rollout={str(rolls_out).lower()}\n"
    assert ("is not a release" in done.stdout) is not rolls_out


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    yield from serve_fake_github()


def rollout_step(
    workspace: Path, github: FakeGitHub, *repos: str, dry_run: bool, token: str = TOKEN
) -> tuple[subprocess.CompletedProcess[str], str]:
    github.requests.clear()
    listed = workspace.parent / "repos.txt"
    listed.write_text("".join(f"{repo}\n" for repo in repos))
    done, summary, _ = run_step(
        ROLLOUT,
        "Roll out",
        workspace,
        LIST=str(listed),
        DRY_RUN=str(dry_run).lower(),
        BATCH_SIZE="20",
        GITHUB_TOKEN=token,
        GITHUB_API_URL=github.url,
    )
    return done, summary


@pytest.mark.xdist_group("fleet-workflows-github")
def test_rollout_step_dispatches_and_keeps_its_results(workspace: Path, github: FakeGitHub) -> None:
    done, summary = rollout_step(
        workspace, github, "acme/churn-model", "acme/trunk-based", dry_run=False
    )
    assert done.returncode == 0, done.stderr
    assert github.paths("POST") == [dispatches("acme/churn-model"), dispatches("acme/trunk-based")]
    results = json.loads((workspace / "rollout.json").read_text())
    assert [r["status"] for r in results] == ["reached", "reached"]
    assert summary.startswith("## Template rollout\n")


@pytest.mark.xdist_group("fleet-workflows-github")
def test_rollout_step_fails_when_a_repository_was_not_reached(
    workspace: Path, github: FakeGitHub
) -> None:
    done, summary = rollout_step(workspace, github, "acme/no-workflow", dry_run=False)
    assert done.returncode == 1
    assert json.loads((workspace / "rollout.json").read_text())[0]["status"] == "failed"
    assert "| acme/no-workflow | 1 | failed |" in summary


@pytest.mark.xdist_group("fleet-workflows-github")
def test_rollout_step_in_a_dry_run_needs_no_token_and_sends_nothing(
    workspace: Path, github: FakeGitHub
) -> None:
    # A dry run skips the token step: its output is empty.
    done, summary = rollout_step(workspace, github, "acme/churn-model", dry_run=True, token="")
    assert done.returncode == 0, done.stderr
    assert github.requests == []
    assert summary.startswith("## Template rollout (dry run: nothing dispatched)\n")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Projects from this template's newest release and from the one before."""
    root = tmp_path_factory.mktemp("fleet")
    template, _ = template_repo(root / "copier-ml")
    releases = [tag for tag in release_tags(template) if not Version(tag).is_prerelease]
    return {
        "current": generate(template, releases[-1], root / "current-model"),
        "behind": generate(template, releases[-2], root / "behind-model"),
    }


def report_step(workspace: Path, *repos: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    listed = workspace.parent / "repos.txt"
    listed.write_text("".join(f"{repo}\n" for repo in repos))
    done, summary, _ = run_step(
        REPORT, "Report on the fleet", workspace, LIST=str(listed), FLEET_TOKEN="app-token"
    )
    assert summary == (workspace / "fleet-report.md").read_text()  # the report, as it wrote it
    return done, summary


@pytest.mark.xdist_group("fleet-workflows-report")
def test_report_step_passes_and_publishes_when_every_repository_is_current(
    workspace: Path, fleet: dict[str, Path]
) -> None:
    done, summary = report_step(workspace, fleet["current"])
    assert done.returncode == 0, done.stderr
    assert "current-model" in summary


@pytest.mark.xdist_group("fleet-workflows-report")
def test_report_step_passes_and_publishes_when_some_are_behind(
    workspace: Path, fleet: dict[str, Path]
) -> None:
    done, summary = report_step(workspace, fleet["current"], fleet["behind"])
    assert done.returncode == 0, done.stderr
    assert "Some repositories are behind" in done.stdout
    assert "current-model" in summary and "behind-model" in summary


@pytest.mark.xdist_group("fleet-workflows-report")
def test_report_step_fails_for_an_unreadable_repository(
    workspace: Path, fleet: dict[str, Path], tmp_path: Path
) -> None:
    done, summary = report_step(workspace, fleet["current"], tmp_path / "vanished-model")
    assert done.returncode == 1
    assert "could not be read" in done.stdout
    assert "vanished-model" in summary  # the summary still says which


def _git_sees(workspace: Path, token: str) -> tuple[list[str], Path]:
    """What git's configuration says before the report starts, for this App token (empty:
    no App set up), and the home folder it ran with."""
    script = step(REPORT, "Report on the fleet")["run"]
    setup, _, _ = script.partition("status=0")
    probe = workspace.parent / "probe.sh"
    probe.write_text(
        setup
        + "git config --get http.https://github.com/.extraheader\n"
        + "git config --get url.https://github.com/.insteadOf\n"
    )
    home = workspace.parent / "home"
    home.mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_", "GIT_"))}
    done = subprocess.run(
        ["bash", str(probe)],  # not -e: `git config --get` of an unset key exits 1
        cwd=workspace,
        env={**clean, "HOME": str(home), "FLEET_TOKEN": token, "XDG_CONFIG_HOME": str(home)},
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.splitlines(), home


def test_report_step_gives_git_the_token_for_github_through_its_environment_only(
    workspace: Path,
) -> None:
    """No git configuration file is written: the token lives in the step's environment."""
    basic = base64.b64encode(b"x-access-token:app-token").decode()
    seen, home = _git_sees(workspace, "app-token")
    assert seen == [f"::add-mask::{basic}", f"AUTHORIZATION: basic {basic}", "git@github.com:"]
    assert list(home.iterdir()) == []
    assert not (workspace / ".git").exists()


def test_report_step_without_the_app_reads_github_without_credentials(workspace: Path) -> None:
    """A fork that has not set the App up yet: no token step runs, and git sends no header
    (an empty one would fail even public clones)."""
    token_step = step(REPORT, "Create a read-only token for the fleet")
    assert token_step["if"] == "vars.FLEET_APP_CLIENT_ID != ''"
    seen, _ = _git_sees(workspace, "")
    assert seen == ["git@github.com:"]


# The issue job, with a `gh` that records what it is asked.

FAKE_GH = """#!/bin/sh
printf '%s\\n' "$*" >> "$GH_LOG"
if [ "$1 $2" = "issue list" ]; then printf '%s\\n' "$OPEN_ISSUE"; fi
"""


def issue_step(workspace: Path, report: str, open_issue: str) -> tuple[list[str], str]:
    """What the issue step asked `gh`, and the body it gave."""
    bin_ = workspace.parent / "bin"
    bin_.mkdir()
    (bin_ / "gh").write_text(FAKE_GH)
    (bin_ / "gh").chmod(0o755)
    (workspace / "fleet-report.md").write_text(report)
    log = workspace.parent / "gh.log"
    done, _, _ = run_step(
        REPORT,
        "Create or update the fleet-report issue",
        workspace,
        PATH=f"{bin_}{os.pathsep}{os.environ['PATH']}",
        GH_LOG=str(log),
        OPEN_ISSUE=open_issue,
        RUN_URL="https://github.com/acme/copier-ml/actions/runs/1",
    )
    assert done.returncode == 0, done.stderr
    return log.read_text().splitlines(), (workspace / "issue.md").read_text()


def test_issue_step_opens_the_issue_when_none_is_open(workspace: Path) -> None:
    calls, body = issue_step(workspace, "| repository | behind |\n", open_issue="")
    assert calls[0].startswith("label create fleet-report --force")
    assert calls[1].startswith("issue list --label fleet-report --state open")
    assert calls[2:] == [
        "issue create --title Fleet report --label fleet-report --body-file issue.md"
    ]
    assert body.startswith("| repository | behind |\n")
    assert body.endswith("From https://github.com/acme/copier-ml/actions/runs/1\n")


def test_issue_step_updates_the_open_issue(workspace: Path) -> None:
    calls, _ = issue_step(workspace, "| repository | behind |\n", open_issue="42")
    assert calls[2:] == ["issue edit 42 --body-file issue.md"]


def test_issue_step_cuts_a_report_longer_than_an_issue_holds(workspace: Path) -> None:
    _, body = issue_step(workspace, "x" * 100_000, open_issue="42")
    assert len(body) <= 65_536
    assert body.endswith("/actions/runs/1\n")
