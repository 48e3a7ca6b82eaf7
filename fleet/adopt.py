"""`python -m fleet adopt REPO`: bring a repository that copier-ml did not make under it.

Copier renders a release with answers read from the repository (fleet/adopt_answers.py)
into a temporary folder; then, in a new branch of the repository, each rendered file is
added where the team has nothing, skipped where the team has the same bytes, and put
beside the team's file as `<path>.from-template` where the two differ: nothing of the
team's is overwritten, and each clash is listed to resolve by hand. The answers file
records the release, so `copier update` takes the next ones. See docs/adopting.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from fleet.adopt_answers import TEMPLATE, Answer, MappingError, check_choices, map_answers
from fleet.adopt_answers import questions as template_questions
from fleet.templates import release_tags

ANSWERS_FILE = ".copier-answers.yml"
BESIDE = ".from-template"


class AdoptError(Exception):
    """Adoption cannot go on; the message names the repository or the answer."""


def git(repo: Path, *args: str, input: str | None = None) -> str:
    """git in the repository, without its hooks: they have no say in what adoption writes."""
    command = ["git", "-C", str(repo), "-c", f"core.hooksPath={os.devnull}", *args]
    done = subprocess.run(command, input=input, capture_output=True, text=True, check=False)
    if done.returncode:
        raise AdoptError(f"git {args[0]} in {repo} failed: {done.stderr.strip() or done.stdout}")
    return done.stdout


def refuse_unless_adoptable(repo: Path, branch: str, committing: bool) -> None:
    """A clean git repository of its own, not under copier yet: else one line, nothing done."""
    if not repo.is_dir():
        raise AdoptError(f"{repo}: no such folder")
    try:
        top = Path(git(repo, "rev-parse", "--show-toplevel").strip()).resolve()
    except AdoptError:
        raise AdoptError(f"{repo}: not a git repository (git init and commit it first)") from None
    if top != repo:
        raise AdoptError(f"{repo}: inside the git repository {top}; pass its top level")
    if (repo / ANSWERS_FILE).exists():
        raise AdoptError(
            f"{repo}: already has {ANSWERS_FILE}, so it is under a copier "
            "template: take releases with `copier update`"
        )
    try:
        git(repo, "rev-parse", "--verify", "--quiet", "HEAD")
    except AdoptError:
        raise AdoptError(f"{repo}: has no commit yet; commit the team's files first") from None
    changed = git(repo, "status", "--porcelain", "--untracked-files=all").splitlines()
    if changed:
        listed = ", ".join(line[3:] for line in changed[:3]) + (", ..." if changed[3:] else "")
        raise AdoptError(
            f"{repo}: has uncommitted or untracked changes ({listed}); commit or stash them first"
        )
    if git(repo, "branch", "--list", branch).strip():
        raise AdoptError(f"{repo}: branch {branch} exists already; pass --branch NAME")
    if committing:
        for ident in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
            try:
                git(repo, "var", ident)
            except AdoptError:
                raise AdoptError(
                    f"{repo}: git has no identity to commit with; set user.name "
                    "and user.email (git config)"
                ) from None


def default_template() -> str:
    """What `_src_path` records: this clone's origin, so teams update from the shared one."""
    try:
        return git(TEMPLATE, "remote", "get-url", "origin").strip()
    except AdoptError:
        return str(TEMPLATE)


def newest_release(template: str) -> str:
    """The newest vX.Y.Z tag of the template, pre-releases left out, as `copier copy` picks."""
    try:
        listed = git(TEMPLATE, "ls-remote", "--tags", "--refs", template)
    except AdoptError as error:
        raise AdoptError(f"cannot read the release tags of {template}: {error}") from None
    releases = release_tags(line.rpartition("refs/tags/")[2] for line in listed.splitlines())
    if not releases:
        raise AdoptError(f"{template}: has no release tag (vX.Y.Z); pass --vcs-ref")
    return releases[max(releases)]


def render(template: str, ref: str, answers: dict[str, Answer], into: Path) -> Path:
    """copier's own render and validation of the release, into a folder of its own."""
    from copier import run_copy
    from copier.errors import CopierError

    data = {name: answer.value for name, answer in answers.items()}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run_copy(template, into, data=data, vcs_ref=ref, defaults=True, unsafe=True, quiet=True)
    except (ValueError, CopierError, OSError, subprocess.CalledProcessError) as error:
        message = " ".join(str(error).split())
        for name, answer in answers.items():
            if f"'{name}'" in message:
                message += f" (the value came from {answer.source}; pass --data {name}=VALUE)"
                break
        raise AdoptError(f"copier: {message}") from None
    return into


@dataclass
class Plan:
    """Where each rendered file goes in the repository."""

    added: list[str] = field(default_factory=list)  # ours, where the team has nothing
    same: list[str] = field(default_factory=list)  # the team has the same bytes
    clashes: dict[str, str] = field(default_factory=dict)  # the team's path: where ours goes

    def writes(self) -> list[tuple[str, str]]:
        """(rendered path, repository path) of each file to write."""
        return [(name, name) for name in self.added] + list(self.clashes.items())


def _beside(repo: Path, parts: list[str], at: int) -> str:
    """The path with `.from-template` appended to part `at`, taken by nothing yet."""
    moved = [*parts[:at], parts[at] + BESIDE, *parts[at + 1 :]]
    while (repo / Path(*moved[: at + 1])).exists():
        moved[at] += BESIDE
    return "/".join(moved)


def make_plan(rendered: Path, repo: Path) -> Plan:
    plan = Plan()
    names = sorted(p.relative_to(rendered).as_posix() for p in rendered.rglob("*") if p.is_file())
    for name in names:
        parts = name.split("/")
        # A team file where we need a folder, or a team folder where we put a file.
        blocked = next(
            (
                at
                for at in range(len(parts))
                if (
                    (repo / Path(*parts[: at + 1])).is_dir()
                    if at == len(parts) - 1
                    else (repo / Path(*parts[: at + 1])).is_file()
                )
            ),
            None,
        )
        if blocked is not None:
            plan.clashes[name] = _beside(repo, parts, blocked)
        elif not (repo / name).is_file():
            plan.added.append(name)
        elif (repo / name).read_bytes() == (rendered / name).read_bytes():
            plan.same.append(name)
        else:
            plan.clashes[name] = _beside(repo, parts, len(parts) - 1)
    return plan


def _write(rendered: Path, repo: Path, plan: Plan, made: list[Path]) -> list[str]:
    """Copy ours in, noting every file and folder made (to undo); the paths written."""
    written = []
    for source, target in plan.writes():
        path = repo / target
        missing = [p for p in reversed(path.parents) if not p.exists()]
        path.parent.mkdir(parents=True, exist_ok=True)
        made += missing
        shutil.copy(rendered / source, path)  # with its mode: scripts stay executable
        made.append(path)
        written.append(target)
    return written


def _ignored(repo: Path, paths: list[str]) -> list[str]:
    done = subprocess.run(
        ["git", "-C", str(repo), "check-ignore", "-z", "--stdin"],
        input="\0".join(paths),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode > 1:
        raise AdoptError(f"git check-ignore in {repo} failed: {done.stderr.strip()}")
    return sorted(filter(None, done.stdout.split("\0")))


def _message(ref: str, tier: str, plan: Plan) -> str:
    lines = [
        f"chore: adopt copier-ml {ref}",
        "",
        f"copier-ml {ref} (tier {tier}) rendered over the existing tree by "
        "`python -m fleet adopt`: the team's files are unchanged.",
    ]
    if plan.clashes:
        lines += ["", "Ours beside the team's file, to resolve before merging:"]
        lines += [f"- {beside}" for beside in plan.clashes.values()]
    return "\n".join(lines) + "\n"


def _put_back(repo: Path, start: list[str], branch: str, made: list[Path]) -> None:
    """The repository as it was: our files and folders gone, the old branch out, ours deleted."""
    for path in reversed(made):
        if path.is_file() or path.is_symlink():
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    git(repo, "reset", "--quiet", "--hard")  # the tree was clean: only our staging goes
    git(repo, "switch", "--quiet", *start)
    git(repo, "branch", "--quiet", "-D", branch)


def commit_adoption(
    repo: Path, rendered: Path, plan: Plan, branch: str, ref: str, tier: str
) -> tuple[str, list[str]]:
    """Write the plan on a new branch and commit it: the commit and the ignored paths."""
    start = _current(repo)
    git(repo, "switch", "--quiet", "-c", branch)
    made: list[Path] = []
    try:
        written = _write(rendered, repo, plan, made)
        ignored = _ignored(repo, written)
        kept = [name for name in written if name not in ignored]
        git(repo, "add", "--pathspec-from-file=-", "--pathspec-file-nul", input="\0".join(kept))
        git(repo, "commit", "--quiet", "--no-verify", "-m", _message(ref, tier, plan))
    except BaseException as error:
        _put_back(repo, start, branch, made)
        where = start[-1]
        raise AdoptError(
            f"{error}; {repo} is as it was: back on {where}, branch {branch} deleted"
        ) from None
    return git(repo, "rev-parse", "--short", "HEAD").strip(), ignored


def _current(repo: Path) -> list[str]:
    """How `git switch` gets back here: the branch, or the detached commit."""
    done = subprocess.run(
        ["git", "-C", str(repo), "symbolic-ref", "--quiet", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 0:
        return [done.stdout.strip()]
    return ["--detach", git(repo, "rev-parse", "HEAD").strip()]


def print_mapping(answers: dict[str, Answer]) -> None:
    rows = [("QUESTION", "VALUE", "FROM")]
    rows += [(name, answer.value, answer.source) for name, answer in answers.items()]
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    for name, value, source in rows:
        print(f"{name.ljust(widths[0])}  {value.ljust(widths[1])}  {source}")


def print_plan(plan: Plan, ignored: list[str]) -> None:
    print(f"{len(plan.added)} added, ours where you had nothing:")
    print("".join(f"  {name}\n" for name in plan.added), end="")
    if plan.same:
        print(f"{len(plan.same)} unchanged, you have the same file already:")
        print("".join(f"  {name}\n" for name in plan.same), end="")
    if plan.clashes:
        print(f"{len(plan.clashes)} clashes, your file kept as it is and ours beside it:")
        print("".join(f"  {name} -> {beside}\n" for name, beside in plan.clashes.items()), end="")
    if ignored:
        print(
            f"{len(ignored)} not committed, your .gitignore ignores them (written to the "
            "working tree only):"
        )
        print("".join(f"  {name}\n" for name in ignored), end="")


def next_steps(branch: str, plan: Plan) -> str:
    steps = ["Next steps:"]
    if plan.clashes:
        steps.append(
            f"  1. Resolve each of the {len(plan.clashes)} clashes: merge what you want "
            "of ours into your file, then delete ours (`git rm <path>.from-template`); "
            "docs/adopting.md says what to take from each."
        )
    steps.append(f"  {len(steps)}. Commit, push {branch} and open a pull request.")
    steps.append(
        f"  {len(steps)}. Once merged, take later releases with "
        "`copier update --trust --skip-answered` (or `make template-update`)."
    )
    return "\n".join(steps)


def parse_data(pairs: list[str]) -> dict[str, Answer]:
    asked = template_questions()
    data = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals:
            raise AdoptError(f"--data {pair}: expected KEY=VALUE")
        if name not in asked:
            raise AdoptError(f"--data {pair}: copier-ml asks no question {name!r}")
        data[name] = Answer(value, "--data")
    return data


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m fleet adopt",
        description="Bring a repository that copier-ml did not make under it, in a branch.",
        allow_abbrev=False,
    )
    p.add_argument("--tier", choices=["small", "medium", "large"], default="medium")
    p.add_argument("--vcs-ref", metavar="TAG", help="the release (default: the newest tag)")
    p.add_argument(
        "--template",
        metavar="URL_OR_PATH",
        help="what _src_path records (default: this clone's origin)",
    )
    p.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an answer, over what the repository says (repeatable)",
    )
    p.add_argument("--branch", default="adopt-copier-ml")
    p.add_argument("--dry-run", action="store_true", help="print the mapping and plan only")
    p.add_argument("repo", type=Path, metavar="REPO")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    repo = args.repo.resolve()
    try:
        data = parse_data(args.data)
        refuse_unless_adoptable(repo, args.branch, committing=not args.dry_run)
        found = map_answers(repo)
        check_choices({name: answer for name, answer in found.items() if name not in data})
        tier = Answer(args.tier, "--tier" if "--tier" in argv else "--tier's default")
        answers = {"tier": tier, **found, **data}
        template = args.template or default_template()
        ref = args.vcs_ref or newest_release(template)
        print(f"Answers for {repo}:")
        print_mapping(answers)
        with tempfile.TemporaryDirectory(prefix="copier-ml-adopt-") as tmp:
            rendered = render(template, ref, answers, Path(tmp) / "render")
            plan = make_plan(rendered, repo)
            if args.dry_run:
                print(f"\nDry run of copier-ml {ref} from {template}; nothing written:")
                print_plan(plan, [])
                return 0
            commit, ignored = commit_adoption(repo, rendered, plan, args.branch, ref, args.tier)
    except (AdoptError, MappingError) as error:
        print(f"adopt: {error}", file=sys.stderr)
        return 1
    print(f"\ncopier-ml {ref} from {template}, committed as {commit} on branch {args.branch}:")
    print_plan(plan, ignored)
    print("\n" + next_steps(args.branch, plan))
    return 0
