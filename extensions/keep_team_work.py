"""Keep the team's edits when `copier update` moves or drops a template file.

Run by the `_migrations` in copier.yml, not loaded by Jinja. Copier merges a team's
edits only into files that keep their path: a file that the new render moves or no
longer has (a release renamed it, the tier went down, a feature was switched off) is
deleted, edits and all. So:

- ``stash`` (before every update) renders the project's recorded template version with
  its recorded answers, and saves each file the team changed next to its pristine
  original, outside the work tree;
- ``move RELEASE`` (after an update that crosses RELEASE) merges the team's changes to
  each file RELEASE moved into its new place, three-way, as copier merges the rest;
- ``restore`` (after every update) puts back each stashed file the update deleted.

Migrations run only between tagged versions, so this does too.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import yaml

#: What each release moved, old path to new. A release that moves a file adds its
#: table here and a `move` migration for its version in copier.yml.
MOVES: dict[str, dict[str, str]] = {
    "0.2.0": {
        "tests/test_data.py": "tests/unit/test_data.py",
        "tests/test_features.py": "tests/unit/test_features.py",
        "tests/test_models.py": "tests/unit/test_models.py",
        "tests/test_tracking.py": "tests/unit/test_tracking.py",
        "tests/test_validate.py": "tests/unit/test_validate.py",
        "tests/test_serving.py": "tests/unit/test_serving.py",
        "tests/test_pipelines.py": "tests/integration/test_pipelines.py",
        "tests/test_serving_e2e.py": "tests/e2e/test_pipeline_to_server.py",
    },
}
#: copier's own labels for the two sides of a conflict.
TEAM, TEMPLATE = "before updating", "after updating"


def stash_dir() -> Path:
    """A folder inside .git: never part of copier's diff, never committed."""
    git_dir = subprocess.run(
        ["git", "rev-parse", "--absolute-git-dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return Path(git_dir) / "copier-ml-update"


def pristine(template: str, commit: str, answers_file: str, into: Path) -> Path:
    """The project as its recorded template version rendered it, before any edit."""
    from copier import run_copy  # only this step renders: the others start faster without it

    recorded = yaml.safe_load(Path(answers_file).read_text(encoding="utf-8"))
    answers = {key: value for key, value in recorded.items() if not key.startswith("_")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_copy(
            template,
            into,
            data=answers,
            vcs_ref=commit,
            defaults=True,
            unsafe=True,
            quiet=True,
            skip_tasks=True,
        )
    return into


def stash(template: str, commit: str, answers_file: str) -> None:
    saved = stash_dir()
    shutil.rmtree(saved, ignore_errors=True)
    edited: list[str] = []
    with tempfile.TemporaryDirectory(prefix="copier-ml-pristine-") as tmp:
        original = pristine(template, commit, answers_file, Path(tmp) / "project")
        for path in sorted(p for p in original.rglob("*") if p.is_file()):
            name = path.relative_to(original).as_posix()
            ours = Path(name)
            if name == answers_file or not ours.is_file():
                continue
            if ours.read_bytes() != path.read_bytes():
                for side, source in (("base", path), ("ours", ours)):
                    (saved / side / name).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, saved / side / name)
                edited.append(name)
    saved.mkdir(parents=True, exist_ok=True)
    (saved / "edited.json").write_text(json.dumps(edited))


def _edited(saved: Path) -> list[str]:
    manifest = saved / "edited.json"
    return json.loads(manifest.read_text()) if manifest.is_file() else []


def merge(ours: Path, base: Path, theirs: Path) -> bool:
    """Write into ``theirs`` the template's new file with the team's changes; True if clean.

    Conflicts are marked as copier marks its own: the team's side first.
    """
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "merged"
        shutil.copyfile(ours, result)
        labels = ["-L", TEAM, "-L", "last update", "-L", TEMPLATE]
        merged = subprocess.run(
            ["git", "merge-file", *labels, str(result), str(base), str(theirs)], check=False
        )
        shutil.copyfile(result, theirs)
    return merged.returncode == 0


def move(release: str) -> None:
    saved = stash_dir()
    edited = _edited(saved)
    for old, new in MOVES[release].items():
        if old not in edited:
            continue  # untouched: the update already put the new file in place
        target = Path(new)
        if target.is_file():
            clean = merge(saved / "ours" / old, saved / "base" / old, target)
            note = "" if clean else " (conflicts marked: resolve them)"
            print(f"Moved your changes to {old} into {new}{note}")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(saved / "ours" / old, target)
            print(f"Kept your {old} as {new}")
        edited.remove(old)
    (saved / "edited.json").write_text(json.dumps(edited))


def restore() -> None:
    saved = stash_dir()
    for name in _edited(saved):
        path = Path(name)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(saved / "ours" / name, path)
            print(f"Kept your edited {name}: this template version no longer generates it")
    shutil.rmtree(saved, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    steps = parser.add_subparsers(dest="step", required=True)
    before = steps.add_parser("stash", help="before the update: save the team's edited files")
    before.add_argument("--template", required=True, help="the template's local clone")
    before.add_argument("--commit", required=True, help="the project's recorded version")
    before.add_argument("--answers-file", default=".copier-answers.yml")
    steps.add_parser("move", help="after the update: merge edits into moved files").add_argument(
        "release", choices=sorted(MOVES)
    )
    steps.add_parser("restore", help="after the update: put back edited files it deleted")
    args = parser.parse_args(argv)
    if args.step == "stash":
        stash(args.template, args.commit, args.answers_file)
    elif args.step == "move":
        move(args.release)
    else:
        restore()


if __name__ == "__main__":
    sys.exit(main())
