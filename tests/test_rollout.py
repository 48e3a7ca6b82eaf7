"""`python -m fleet rollout` dispatches each repository's template update through the API.

The API is a fake GitHub on 127.0.0.1 that records every request and answers as GitHub
does for the repositories in REPOSITORIES.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from fleet import rollout

from .helpers import TEMPLATE

TOKEN = "app-installation-token"
WORKFLOW = "template-update.yml"
NO_DISPATCH = "Workflow does not have 'workflow_dispatch' trigger"

#: Each repository the fake knows: its default branch and the workflows it carries.
REPOSITORIES: dict[str, dict[str, Any]] = {
    "acme/churn-model": {"default_branch": "main", "workflows": {WORKFLOW}},
    "acme/demand-forecast": {"default_branch": "main", "workflows": {WORKFLOW}},
    "acme/trunk-based": {"default_branch": "trunk", "workflows": {WORKFLOW}},
    "acme/no-workflow": {"default_branch": "main", "workflows": set()},
    "acme/no-trigger": {"default_branch": "main", "workflows": {WORKFLOW}, "no_dispatch": True},
    "acme/busy": {"default_branch": "main", "workflows": {WORKFLOW}, "rate_limited": 1},
    "acme/always-busy": {"default_branch": "main", "workflows": {WORKFLOW}, "rate_limited": 99},
}


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case: HTTP's are case-insensitive
    body: Any
    at: float


@dataclass
class FakeGitHub:
    url: str
    requests: list[Request] = field(default_factory=list)
    limited: dict[str, int] = field(default_factory=dict)  # rate-limited answers given

    def paths(self, method: str = "") -> list[str]:
        return [r.path for r in self.requests if not method or r.method == method]


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def answer(self, status: int, body: Any = None, **headers: str) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self.record()
            if not self.authorised():
                return
            repo = REPOSITORIES.get(self.path.removeprefix("/repos/"))
            if repo is None:
                self.answer(404, {"message": "Not Found"})
            else:
                self.answer(
                    200, {"full_name": self.path[7:], "default_branch": repo["default_branch"]}
                )

        def do_POST(self) -> None:
            self.record()
            if not self.authorised():
                return
            name, _, rest = self.path.removeprefix("/repos/").partition("/actions/workflows/")
            workflow = rest.removesuffix("/dispatches")
            repo = REPOSITORIES.get(name)
            if repo is None or workflow not in repo["workflows"]:
                self.answer(404, {"message": "Not Found"})
            elif fake.limited.get(name, 0) < repo.get("rate_limited", 0):
                fake.limited[name] = fake.limited.get(name, 0) + 1
                self.answer(429, {"message": "API rate limit exceeded"}, Retry_After="0")
            elif repo.get("no_dispatch"):
                self.answer(422, {"message": NO_DISPATCH})
            else:
                self.answer(204)

        def record(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length) if length else b""
            fake.requests.append(
                Request(
                    self.command,
                    self.path,
                    {name.lower(): value for name, value in self.headers.items()},
                    json.loads(raw) if raw else None,
                    time.monotonic(),
                )
            )

        def authorised(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self.answer(401, {"message": "Bad credentials"})
                return False
            return True

    return Handler


def serve_fake_github() -> Iterator[FakeGitHub]:
    """A fake GitHub on 127.0.0.1, in a thread, for as long as the generator is open."""
    fake = FakeGitHub("")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def server() -> Iterator[FakeGitHub]:
    yield from serve_fake_github()


@pytest.fixture
def github(server: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> FakeGitHub:
    """The fake, emptied of earlier requests; the environment points the rollout at it."""
    server.requests.clear()
    server.limited.clear()
    monkeypatch.setenv("GITHUB_API_URL", server.url)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_SERVER_URL", raising=False)
    return server


def listing(tmp_path: Path, *entries: str) -> Path:
    path = tmp_path / "repos.txt"
    path.write_text("# the fleet\n" + "".join(f"{entry}\n" for entry in entries))
    return path


def run(tmp_path: Path, entries: list[str], *options: str) -> tuple[int, list[dict[str, Any]]]:
    """The rollout's exit status and its JSON results, with no pause between batches."""
    output = tmp_path / "rollout.json"
    status = rollout.main(
        ["--pause", "0", "--output", str(output), *options, str(listing(tmp_path, *entries))]
    )
    return status, json.loads(output.read_text())


def dispatches(repo: str) -> str:
    return f"/repos/{repo}/actions/workflows/{WORKFLOW}/dispatches"


def by_repo(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["repo"] or r["entry"]: r for r in results}


def test_rollout_dispatches_each_repository_on_its_default_branch(
    github: FakeGitHub, tmp_path: Path
) -> None:
    status, results = run(tmp_path, ["acme/churn-model", "acme/trunk-based"])
    assert status == 0
    assert [(r.method, r.path, r.body) for r in github.requests] == [
        ("GET", "/repos/acme/churn-model", None),
        ("POST", dispatches("acme/churn-model"), {"ref": "main"}),
        ("GET", "/repos/acme/trunk-based", None),
        ("POST", dispatches("acme/trunk-based"), {"ref": "trunk"}),
    ]
    assert [(r["repo"], r["status"]) for r in results] == [
        ("acme/churn-model", "reached"),
        ("acme/trunk-based", "reached"),
    ]
    assert "on trunk" in by_repo(results)["acme/trunk-based"]["detail"]


def test_rollout_sends_the_token_as_bearer_with_githubs_api_headers(
    github: FakeGitHub, tmp_path: Path
) -> None:
    run(tmp_path, ["acme/churn-model"])
    assert len(github.requests) == 2
    for request in github.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"


def test_rollout_takes_the_token_from_gh_token_too(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    status, results = run(tmp_path, ["acme/churn-model"])
    assert (status, results[0]["status"]) == (0, "reached")


@pytest.mark.parametrize(
    "entry",
    [
        "acme/churn-model",
        "gh:acme/churn-model",
        "https://github.com/acme/churn-model",
        "https://github.com/acme/churn-model.git",
        "https://github.com/acme/churn-model/",
        "git@github.com:acme/churn-model.git",
        "ssh://git@github.com/acme/churn-model.git",
    ],
)
def test_rollout_reads_every_way_of_naming_a_github_repository(
    github: FakeGitHub, tmp_path: Path, entry: str
) -> None:
    status, results = run(tmp_path, [entry])
    assert status == 0
    assert results == [
        {
            "entry": entry,
            "repo": "acme/churn-model",
            "batch": 1,
            "status": "reached",
            "http_status": None,
            "detail": f"{WORKFLOW} dispatched on main",
        }
    ]
    assert github.paths("POST") == [dispatches("acme/churn-model")]


def test_rollout_reaches_the_enterprise_server_it_runs_on(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = "https://github.acme.example/acme/churn-model.git"
    _, results = run(tmp_path, [entry])
    assert results[0]["status"] == "skipped"
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.acme.example")
    _, results = run(tmp_path, [entry])
    assert (results[0]["repo"], results[0]["status"]) == ("acme/churn-model", "reached")


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("/srv/checkouts/churn-model", "a local path"),
        ("./churn-model", "a local path"),
        ("~/churn-model", "a local path"),
        ("file:///srv/churn-model.git", "a local path"),
        ("https://gitlab.com/acme/churn-model.git", "on gitlab.com, not GitHub"),
        ("git@bitbucket.org:acme/churn-model.git", "on bitbucket.org, not GitHub"),
        ("gl:acme/churn-model", "on gitlab.com, not GitHub"),
        ("https://github.com/acme/churn-model/tree/main", "not a GitHub repository"),
    ],
)
def test_rollout_skips_what_is_not_a_github_repository_and_says_why(
    github: FakeGitHub, tmp_path: Path, entry: str, reason: str
) -> None:
    status, results = run(tmp_path, [entry, "acme/churn-model"])
    assert status == 0
    assert results[-1] == {
        "entry": entry,
        "repo": None,
        "batch": None,
        "status": "skipped",
        "http_status": None,
        "detail": results[-1]["detail"],
    }
    assert reason in results[-1]["detail"]
    assert github.paths("GET") == ["/repos/acme/churn-model"]


def test_rollout_takes_an_existing_folder_for_a_local_path(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "checkouts" / "churn-model").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    _, results = run(tmp_path, ["checkouts/churn-model"])
    assert results[0]["status"] == "skipped"
    assert github.requests == []


def test_rollout_dispatches_a_repository_listed_twice_once(
    github: FakeGitHub, tmp_path: Path
) -> None:
    _, results = run(tmp_path, ["acme/churn-model", "https://github.com/ACME/Churn-Model.git"])
    assert [r["status"] for r in results] == ["reached", "skipped"]
    assert "the same repository as acme/churn-model" in results[1]["detail"]
    assert len(github.paths("POST")) == 1


def test_rollout_dispatches_in_batches_in_the_lists_order(
    github: FakeGitHub, tmp_path: Path
) -> None:
    repos = ["acme/trunk-based", "acme/churn-model", "acme/demand-forecast", "acme/busy"]
    status, results = run(tmp_path, [*repos, "./local"], "--batch-size", "3")
    assert status == 0
    assert [(r["repo"], r["batch"]) for r in results] == [
        ("acme/trunk-based", 1),
        ("acme/churn-model", 1),
        ("acme/demand-forecast", 1),
        ("acme/busy", 2),
        (None, None),
    ]
    assert github.paths("GET") == [f"/repos/{repo}" for repo in repos]


def test_rollout_pauses_between_batches_only(github: FakeGitHub, tmp_path: Path) -> None:
    repos = ["acme/churn-model", "acme/demand-forecast", "acme/trunk-based"]
    rollout.main(["--batch-size", "2", "--pause", "0.5", str(listing(tmp_path, *repos))])
    starts = [r.at for r in github.requests if r.method == "GET"]
    assert starts[1] - starts[0] < 0.5  # the same batch
    assert starts[2] - starts[1] >= 0.5  # the next batch, after the pause


@pytest.mark.parametrize(
    ("repo", "http_status", "message"),
    [
        ("acme/no-workflow", 404, f"workflow {WORKFLOW} or repository is not visible to the app"),
        ("acme/deleted", 404, "repository is not visible to the app: is the app installed there?"),
        ("acme/no-trigger", 422, NO_DISPATCH),
    ],
)
def test_rollout_reports_a_failure_with_githubs_status_and_message(
    github: FakeGitHub, tmp_path: Path, repo: str, http_status: int, message: str
) -> None:
    status, results = run(tmp_path, [repo, "acme/churn-model"])
    assert status == 1
    failed, reached = results
    assert (failed["repo"], failed["status"], failed["http_status"]) == (
        repo,
        "failed",
        http_status,
    )
    assert failed["detail"].startswith(f"HTTP {http_status} ")
    assert message in failed["detail"]
    assert reached["status"] == "reached"  # one failure does not stop the rollout


def test_rollout_reports_a_refused_token(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "expired")
    status, results = run(tmp_path, ["acme/churn-model"])
    assert status == 1
    assert results[0]["http_status"] == 401
    assert "Bad credentials" in results[0]["detail"]


def test_rollout_reports_an_api_it_cannot_reach(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{port}")
    status, results = run(tmp_path, ["acme/churn-model"])
    assert status == 1
    assert results[0]["detail"].startswith(f"cannot reach http://127.0.0.1:{port}")


def test_rollout_waits_out_a_rate_limit_and_tries_again(github: FakeGitHub, tmp_path: Path) -> None:
    status, results = run(tmp_path, ["acme/busy"])
    assert (status, results[0]["status"]) == (0, "reached")
    assert len(github.paths("POST")) == 2


def test_rollout_gives_up_on_a_rate_limit_that_lasts(github: FakeGitHub, tmp_path: Path) -> None:
    status, results = run(tmp_path, ["acme/always-busy"])
    assert status == 1
    assert (results[0]["http_status"], results[0]["status"]) == (429, "failed")
    assert len(github.paths("POST")) == 1 + rollout.RETRIES


def test_dry_run_sends_no_request_and_lists_the_batches(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")  # a dry run needs none
    repos = ["acme/churn-model", "acme/demand-forecast", "acme/trunk-based"]
    status, results = run(tmp_path, [*repos, "./local"], "--dry-run", "--batch-size", "2")
    assert status == 0
    assert github.requests == []
    assert [(r["repo"], r["batch"], r["status"]) for r in results] == [
        ("acme/churn-model", 1, "planned"),
        ("acme/demand-forecast", 1, "planned"),
        ("acme/trunk-based", 2, "planned"),
        (None, None, "skipped"),
    ]
    out = capsys.readouterr().out
    for repo, batch in [
        ("acme/churn-model", 1),
        ("acme/demand-forecast", 1),
        ("acme/trunk-based", 2),
    ]:
        line = next(line for line in out.splitlines() if line.startswith(repo))
        assert line.split()[1:3] == [str(batch), "planned"]
        assert f"would dispatch {WORKFLOW}" in line


def test_dry_run_lists_even_repositories_that_would_fail(
    github: FakeGitHub, tmp_path: Path
) -> None:
    status, results = run(tmp_path, ["acme/no-workflow"], "--dry-run")
    assert (status, results[0]["status"], github.requests) == (0, "planned", [])


def test_missing_token_stops_before_any_request(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    monkeypatch.setenv("GH_TOKEN", "")
    summary, output = tmp_path / "summary.md", tmp_path / "rollout.json"
    status = rollout.main(
        ["--summary", str(summary), "--output", str(output), str(listing(tmp_path, "acme/x"))]
    )
    assert status == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "no token: set GITHUB_TOKEN (or GH_TOKEN)" in err
    assert github.requests == []
    assert not summary.exists() and not output.exists()


def test_a_list_with_nothing_on_github_needs_no_token(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fork without the App yet, whose list is empty or local, stays green on a tag."""
    monkeypatch.delenv("GITHUB_TOKEN")
    monkeypatch.setenv("GH_TOKEN", "")
    output = tmp_path / "rollout.json"
    listed = listing(tmp_path, str(tmp_path / "checkout"))
    assert rollout.main(["--output", str(output), str(listed)]) == 0
    assert [row["status"] for row in json.loads(output.read_text())] == ["skipped"]
    assert github.requests == []


def test_a_missing_list_is_a_one_line_error_naming_it(
    github: FakeGitHub, tmp_path: Path, capsys: Any
) -> None:
    output = tmp_path / "rollout.json"
    status = rollout.main(["--output", str(output), str(tmp_path / "nowhere.txt")])
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "nowhere.txt" in err
    assert not output.exists()
    assert github.requests == []


@pytest.mark.parametrize("option", ["--summary", "--output"])
def test_a_result_file_in_a_missing_folder_stops_before_any_request(
    github: FakeGitHub, tmp_path: Path, capsys: Any, option: str
) -> None:
    target = tmp_path / "missing" / "file"
    status = rollout.main([option, str(target), str(listing(tmp_path, "acme/churn-model"))])
    assert status == 2
    assert capsys.readouterr().err == f"rollout: {option} {target}: no folder {target.parent}\n"
    assert github.requests == []


@pytest.mark.parametrize(
    "options", [["--batch-size", "0"], ["--batch-size", "many"], ["--pause", "-1"]]
)
def test_bad_options_are_refused_before_any_request(
    github: FakeGitHub, tmp_path: Path, options: list[str], capsys: Any
) -> None:
    with pytest.raises(SystemExit) as exit_:
        rollout.main([*options, str(listing(tmp_path, "acme/churn-model"))])
    assert exit_.value.code == 2
    assert options[0] in capsys.readouterr().err
    assert github.requests == []


def test_summary_appends_a_markdown_table_of_every_entry(
    github: FakeGitHub, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("## An earlier step\n\n")
    entries = ["acme/churn-model", "acme/no-workflow", "https://gitlab.com/acme/x"]
    rollout.main(["--summary", str(summary), str(listing(tmp_path, *entries))])
    text = summary.read_text()
    assert text.startswith("## An earlier step\n\n## Template rollout\n")
    assert f"`{WORKFLOW}`: 1 reached, 1 failed, 1 skipped" in text
    rows = [line for line in text.splitlines() if line.startswith("| acme/") or "gitlab" in line]
    assert [row.split(" | ")[:3] for row in rows] == [
        ["| acme/churn-model", "1", "reached"],
        ["| acme/no-workflow", "1", "failed"],
        ["| https://gitlab.com/acme/x", "-", "skipped"],
    ]


def test_dry_run_summary_says_nothing_was_dispatched(github: FakeGitHub, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    rollout.main(["--dry-run", "--summary", str(summary), str(listing(tmp_path, "acme/x"))])
    text = summary.read_text()
    assert text.startswith("## Template rollout (dry run: nothing dispatched)\n")
    assert "1 planned, 0 skipped" in text


def test_an_empty_list_rolls_out_nothing(github: FakeGitHub, tmp_path: Path, capsys: Any) -> None:
    status, results = run(tmp_path, [])
    assert (status, results, github.requests) == (0, [], [])
    assert "lists no repositories" in capsys.readouterr().out


def test_the_command_line_dispatches_through_the_api_it_is_given(
    server: FakeGitHub, tmp_path: Path
) -> None:
    server.requests.clear()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_"))},
        "GITHUB_API_URL": server.url,
        "GITHUB_TOKEN": TOKEN,
        "PYTHONPATH": str(TEMPLATE),
    }
    entries = ["acme/churn-model", "git@github.com:acme/trunk-based.git", "acme/no-workflow"]
    done = subprocess.run(
        [sys.executable, "-m", "fleet", "rollout", "--pause", "0", "--batch-size", "2",
         "--output", str(tmp_path / "out.json"), str(listing(tmp_path, *entries))],
        env=env, capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    table = [line.split()[:3] for line in done.stdout.splitlines()]
    assert table == [
        ["REPOSITORY", "BATCH", "STATUS"],
        ["acme/churn-model", "1", "reached"],
        ["acme/trunk-based", "1", "reached"],
        ["acme/no-workflow", "2", "failed"],
    ]
    assert "batch 2 of 2: acme/no-workflow" in done.stderr
    assert server.paths("POST")[1] == dispatches("acme/trunk-based")
