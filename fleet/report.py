"""`python -m fleet report LIST`: where every repository of the fleet stands.

For each repository on the list: the release it is on, how far behind the newest, its
tier and answers, what the team changed of the template (drift, against a pristine
render of its release) and what an update left unresolved. Repositories are read in
threads (git subprocesses), renders run in processes (fleet/pristine.py), each distinct
one once. Nothing is written into any repository. See docs/fleet-report.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from packaging.version import Version

from fleet.drift import compare
from fleet.formats import FORMATS, new_row
from fleet.options import listed_repos, positive
from fleet.pristine import Pristine, RenderError, Renders
from fleet.reading import Committed, ReadError, clone, open_local, remote_url
from fleet.recorded import ANSWERS_FILE, AnswersError, parse_answers
from fleet.templates import Template, TemplateError, Templates

#: Each unreadable repository's error is one of these, caught per repository.
EXPECTED = (ReadError, AnswersError, TemplateError, RenderError)
Row = dict[str, Any]


@dataclass
class Pending:
    """A repository read so far: its row, and what the comparison with its render needs."""

    row: Row
    team: Committed | None = None
    template: Template | None = None
    commit: str = ""
    render: Future[Pristine] | None = None


def failed(row: Row, error: Exception) -> None:
    if isinstance(error, EXPECTED):
        row["error"] = str(error)
    else:  # one repository never stops the report
        row["error"] = f"{row['repo']}: unexpected {type(error).__name__}: {error}"


class Fleet:
    """One run's shared state: its temporary folder, templates and renders."""

    def __init__(self, work: Path, render_jobs: int, verbose: bool) -> None:
        self.work = work
        self.templates = Templates(work)
        self.renders = Renders(work, render_jobs, verbose)

    def open(self, number: int, entry: str) -> Pending:
        """Read a repository's answers and ask for its render; an error fills the row."""
        pending = Pending(new_row(entry))
        row = pending.row
        try:
            url = remote_url(entry)
            if url is None:
                team, base = open_local(entry), Path(entry).expanduser()
            else:
                team, base = clone(entry, url, self.work / f"repo-{number}"), None
            answers_file = team.read([ANSWERS_FILE]) if ANSWERS_FILE in team.files else {}
            recorded = parse_answers(entry, answers_file.get(ANSWERS_FILE))
            row["tier"], row["answers"] = recorded.tier, recorded.answers
            try:
                template = self.templates.get(recorded.src_path, base)
                row["latest"] = template.latest
                commit_hash = template.resolve(recorded.commit)
            except TemplateError as error:
                raise TemplateError(f"{entry}: {ANSWERS_FILE}: {error}") from None
            render = self.renders.get(template.location, commit_hash, recorded.render_data())
            return Pending(row, team, template, recorded.commit, render)
        except Exception as error:
            failed(row, error)
        return pending

    def finish(self, pending: Pending) -> Row:
        """Compare with the render, once it is there: release, behind, drift, conflicts."""
        row, template = pending.row, pending.template
        if pending.team is None or pending.render is None or template is None:
            return row
        try:
            try:
                pristine = pending.render.result()
            except RenderError as error:
                where = f"{template.src_path} at {pending.commit}"
                raise RenderError(f"{row['repo']}: copier cannot render {where}: {error}") from None
            row["release"] = pristine.release
            if pristine.release is not None:
                row["behind"] = template.behind(Version(pristine.release))
            row["drift"], row["conflicts"] = compare(pending.team, pristine)
        except Exception as error:
            failed(row, error)
        return row


def build_report(entries: list[str], jobs: int, verbose: bool = False) -> list[Row]:
    """One row per entry, in list order."""
    render_jobs = max(1, min(jobs, os.cpu_count() or 1))
    with tempfile.TemporaryDirectory(prefix="fleet-report-") as tmp:
        fleet = Fleet(Path(tmp), render_jobs, verbose)
        try:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                opened = list(pool.map(fleet.open, range(len(entries)), entries))
                return list(pool.map(fleet.finish, opened))
        finally:
            fleet.renders.close()


def exit_status(rows: list[Row]) -> int:
    """As `copier check-update` tells: 1 if any is unreadable, else 2 if any is behind."""
    if any(row["error"] for row in rows):
        return 1
    return 2 if any(row["behind"] for row in rows) else 0


class Parser(argparse.ArgumentParser):
    """argparse exiting 1 on bad usage: status 2 means "behind" here."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="python -m fleet report",
        description="Report the template release, drift and conflicts of every repository.",
        allow_abbrev=False,
    )
    p.add_argument("--format", choices=sorted(FORMATS), default="table")
    p.add_argument(
        "--jobs",
        type=positive,
        default=min(32, (os.cpu_count() or 1) * 4),
        metavar="N",
        help="repositories read at once (renders: at most one per CPU)",
    )
    p.add_argument("--verbose", action="store_true", help="log each render on stderr")
    p.add_argument("list", type=Path, metavar="LIST", help="one repository URL or path a line")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    entries = listed_repos(args.list, "report")
    if entries is None:
        return 1
    rows = build_report(entries, args.jobs, args.verbose)
    sys.stdout.write(FORMATS[args.format](rows))
    return exit_status(rows)
