"""`python -m fleet rollout`: ask every repository on the list to run its template update.

Each GitHub repository on the list gets a `workflow_dispatch` of its own
`template-update.yml` on its default branch, through the REST API, in batches with a pause
between them so that a release does not start hundreds of runs at once. Entries that are
not GitHub repositories are listed as skipped. See docs/rollout.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from fleet.options import listed_repos, positive

T = TypeVar("T")
API_VERSION = "2022-11-28"
#: How often a rate-limited request is tried again, and the longest wait for each.
RETRIES = 2
LONGEST_WAIT = 60
TIMEOUT = 30

_NAME = r"(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)/(?P<name>[A-Za-z0-9._-]+?)"
_BARE = re.compile(rf"^{_NAME}$")
_HTTPS = re.compile(rf"^https://(?P<host>[^/@]+)/{_NAME}(?:\.git)?/?$")
_SSH = re.compile(rf"^(?:ssh://)?git@(?P<host>[^/:]+)[:/]{_NAME}(?:\.git)?$")


@dataclass
class Result:
    """One list entry's outcome; these fields are the JSON of `--output`."""

    entry: str  # the line of the list
    repo: str | None  # owner/name, or None for an entry that is not a GitHub repository
    batch: int | None  # 1-based batch number; None when skipped
    status: str  # planned (dry run), reached, failed or skipped
    http_status: int | None  # GitHub's answer to the failing request, when there was one
    detail: str


def github_hosts() -> set[str]:
    """github.com, and the GitHub Enterprise host the workflow runs on."""
    hosts = {"github.com"}
    server = urllib.parse.urlparse(os.environ.get("GITHUB_SERVER_URL", "")).hostname
    if server:
        hosts.add(server.lower())
    return hosts


def parse_entry(entry: str, hosts: set[str]) -> tuple[str | None, str]:
    """The `owner/name` an entry names, or None and why it is skipped."""
    if entry.startswith(("/", ".", "~", "file:")) or Path(entry).exists():
        return None, "a local path: the rollout dispatches GitHub repositories only"
    for pattern in (_HTTPS, _SSH):
        if match := pattern.match(entry):
            host = match["host"].lower()
            if host not in hosts:
                return None, f"on {host}, not GitHub: update it another way"
            return f"{match['owner']}/{match['name']}", ""
    if entry.startswith("gl:"):  # copier's shorthand for gitlab.com
        return None, "on gitlab.com, not GitHub: update it another way"
    if "://" not in entry and (match := _BARE.match(entry.removeprefix("gh:"))):
        return f"{match['owner']}/{match['name']}", ""
    return None, "not a GitHub repository (owner/name or its URL)"


class GitHub:
    """The two REST calls the rollout makes, with the token as bearer."""

    def __init__(self, api: str, token: str) -> None:
        self.api = api.rstrip("/")
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "copier-ml-fleet-rollout",
        }

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        """GitHub's status and JSON answer; a rate limit's `Retry-After` is waited out twice."""
        data = None if body is None else json.dumps(body).encode()
        headers = {**self.headers, **({"Content-Type": "application/json"} if data else {})}
        attempt = 0
        while True:
            request = urllib.request.Request(self.api + path, data, headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                    return response.status, _json(response.read())
            except urllib.error.HTTPError as error:
                wait = error.headers.get("Retry-After", "")
                if error.code in (403, 429) and wait.isdigit() and attempt < RETRIES:
                    attempt += 1
                    time.sleep(min(int(wait), LONGEST_WAIT))
                    continue
                return error.code, _json(error.read())


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


#: What a failing status usually means for this rollout, after GitHub's own message.
HINTS = {
    401: "the token was refused (App installation tokens expire after an hour)",
    403: "the app lacks `actions: write` on this repository, or the rate limit was hit",
    404: "the {what} is not visible to the app: is the app installed there?",
    422: "the workflow does not run on workflow_dispatch, or the branch is missing",
}


def _failure(status: int, answer: dict[str, Any], what: str) -> str:
    message = str(answer.get("message", "no message"))
    hint = HINTS.get(status, "").format(what=what)
    return f"HTTP {status} {message}" + (f": {hint}" if hint else "")


def dispatch(github: GitHub, repo: str, workflow: str) -> tuple[str, int | None, str]:
    """Dispatch the workflow on the repository's default branch: status, HTTP status, detail."""
    path = "/repos/" + urllib.parse.quote(repo)
    try:
        status, answer = github.call("GET", path)
        if status != 200:
            return "failed", status, _failure(status, answer, "repository")
        branch = str(answer.get("default_branch", ""))
        workflow_path = f"{path}/actions/workflows/{urllib.parse.quote(workflow, safe='')}"
        status, answer = github.call("POST", workflow_path + "/dispatches", {"ref": branch})
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return "failed", None, f"cannot reach {github.api}: {reason}"
    if status != 204:
        return "failed", status, _failure(status, answer, f"workflow {workflow} or repository")
    return "reached", None, f"{workflow} dispatched on {branch}"


def batches(repos: list[T], size: int) -> list[list[T]]:
    return [repos[start : start + size] for start in range(0, len(repos), size)]


def table(results: list[Result]) -> str:
    rows = [("REPOSITORY", "BATCH", "STATUS", "DETAIL")]
    rows += [(r.repo or r.entry, str(r.batch or "-"), r.status, r.detail) for r in results]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[3]])
        for row in rows
    )


def markdown(results: list[Result], workflow: str, dry_run: bool) -> str:
    title = "## Template rollout" + (" (dry run: nothing dispatched)" if dry_run else "")
    statuses = ("planned", "skipped") if dry_run else ("reached", "failed", "skipped")
    tally = ", ".join(f"{sum(r.status == s for r in results)} {s}" for s in statuses)
    lines = [title, "", f"`{workflow}`: {tally}", ""]
    lines += ["| Repository | Batch | Status | Detail |", "| --- | --- | --- | --- |"]
    for r in results:
        cells = [r.repo or r.entry, str(r.batch or "-"), r.status, r.detail]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def parser() -> argparse.ArgumentParser:
    def seconds(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = -1
        if value < 0:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds")
        return value

    p = argparse.ArgumentParser(
        prog="python -m fleet rollout",
        description="Ask every GitHub repository on the list to run its template update.",
        allow_abbrev=False,  # a workflow's misspelt option fails instead of passing
    )
    p.add_argument("--dry-run", action="store_true", help="send nothing; list what it would do")
    p.add_argument("--batch-size", type=positive, default=20, metavar="N")
    p.add_argument("--pause", type=seconds, default=30, metavar="SECONDS", help="between batches")
    p.add_argument("--workflow", default="template-update.yml", help="the workflow to dispatch")
    p.add_argument("--summary", type=Path, metavar="FILE", help="append a markdown table")
    p.add_argument("--output", type=Path, metavar="FILE.json", help="write the results as JSON")
    p.add_argument("list", type=Path, metavar="LIST", help="one repository a line")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    entries = listed_repos(args.list, "rollout")
    if entries is None:
        return 2
    for option, path in (("--summary", args.summary), ("--output", args.output)):
        if path and not path.parent.is_dir():
            print(f"rollout: {option} {path}: no folder {path.parent}", file=sys.stderr)
            return 2
    hosts = github_hosts()
    targets: dict[str, tuple[str, str]] = {}  # owner/name in lower case: (entry, owner/name)
    skipped: list[Result] = []
    for entry in entries:
        repo, why = parse_entry(entry, hosts)
        if repo and repo.lower() in targets:
            repo, why = None, f"the same repository as {targets[repo.lower()][0]}"
        if repo:
            targets[repo.lower()] = (entry, repo)
        else:
            skipped.append(Result(entry, None, None, "skipped", None, why))
    # A list with nothing on GitHub needs no token: a new fork's tag push stays green.
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    if not token and not args.dry_run and targets:
        print(
            "rollout: no token: set GITHUB_TOKEN (or GH_TOKEN) to a GitHub App installation "
            "token, or pass --dry-run",
            file=sys.stderr,
        )
        return 2
    groups = batches(list(targets.values()), args.batch_size)
    github = GitHub(os.environ.get("GITHUB_API_URL") or "https://api.github.com", token or "")

    results: list[Result] = []
    for number, group in enumerate(groups, 1):
        if number > 1 and not args.dry_run:
            print(f"waiting {args.pause:g} s before batch {number}", file=sys.stderr)
            time.sleep(args.pause)
        print(f"batch {number} of {len(groups)}:", *(r for _, r in group), file=sys.stderr)
        for entry, repo in group:
            if args.dry_run:
                detail = f"would dispatch {args.workflow} on its default branch"
                status, code = "planned", None
            else:
                status, code, detail = dispatch(github, repo, args.workflow)
            results.append(Result(entry, repo, number, status, code, detail))
    results += skipped

    if not entries:
        print(f"{args.list} lists no repositories: nothing to roll out")
    else:
        print(table(results))
    if args.summary:
        with args.summary.open("a", encoding="utf-8") as summary:
            summary.write(markdown(results, args.workflow, args.dry_run))
    if args.output:
        args.output.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 1 if any(r.status == "failed" for r in results) else 0
