"""Keep the team's work through `copier update`, or put the project back as it was.

Run by the `_migrations` in copier.yml, under the interpreter that runs copier; not
loaded by Jinja. Copier merges a team's edits only into files that keep their path, and
writes the new release over whatever is in the way. So:

- ``before`` (copier has just rendered the recorded release into a temporary folder):
  saves each file the team edited next to that pristine original, notes the files the
  team deleted, moves aside untracked or ignored files that the new release could write
  over, and records what to roll back to, all inside ``.git``;
- ``after``: lands each edit whose file the update moved or dropped at the file's newest
  path (extensions/moves.py), merged in the conflict mode the user chose; leaves out a
  moved file the team had deleted; drops the ``.rej`` files copier left for what was
  handled; merges ``pyproject.toml`` entry by entry and keeps a conflicting notebook
  whole; then clears the record;
- ``rollback`` (extensions/update_guard.py, when copier exits before ``after`` finished):
  puts the working tree and the index back as they were.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
#: copier's own labels for the two sides of a conflict, and its marker lines.
TEAM, TEMPLATE = "before updating", "after updating"
MARKERS = (f"<<<<<<< {TEAM}", f">>>>>>> {TEMPLATE}")
#: Where copier renders the recorded release during an update (copier/_main.py).
OLD_COPY_PREFIX = "copier._main.old_copy."


def _sibling(name: str) -> ModuleType:
    unique = f"copier_ml_{name}"
    spec = importlib.util.spec_from_file_location(unique, HERE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def git(*args: str, cwd: Path | None = None, check: bool = True) -> str:
    # No hooks: the team's pre-commit or post-checkout hooks have no say in an update.
    command = ["git", "-c", f"core.hooksPath={os.devnull}", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=check).stdout


def stash_dir(project: Path | None = None) -> Path:
    """A folder inside .git: never part of copier's diff, never committed."""
    return Path(git("rev-parse", "--absolute-git-dir", cwd=project).strip()) / "copier-ml-update"


def _load(saved: Path) -> dict[str, Any]:
    state = saved / "state.json"
    return json.loads(state.read_text(encoding="utf-8")) if state.is_file() else {}


def _save(saved: Path, state: dict[str, Any]) -> None:
    saved.mkdir(parents=True, exist_ok=True)
    (saved / "state.json").write_text(json.dumps(state, indent=1), encoding="utf-8")


def _yaml(text: str) -> Any:
    import yaml  # imported when needed: most after steps have nothing to read

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _answers(path: Path) -> dict[str, Any]:
    try:
        loaded = _yaml(path.read_text(encoding="utf-8"))
    except OSError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


# The recorded release, as rendered before any edit.


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # another update removed it meanwhile
        return 0.0


def copiers_old_copy(answers_file: str, into: Path) -> Path | None:
    """The render of the recorded release that copier made just before this step, copied.

    Copier renders it in a temporary folder that migrations are not told about; reusing
    it saves rendering it again. Other updates may run on this machine at once, so the
    folder must have the project's answers and no ``.git`` yet: copier initialises one
    there right after this step, and only later deletes the folder. Still without one
    once copied, the folder was whole while it was read.
    """
    ours = _answers(Path(answers_file))
    candidates = Path(tempfile.gettempdir()).glob(OLD_COPY_PREFIX + "*")
    for folder in sorted(candidates, key=_modified, reverse=True):
        if not ours or (folder / ".git").exists() or _answers(folder / answers_file) != ours:
            continue
        try:
            shutil.copytree(folder, into)
        except OSError:
            shutil.rmtree(into, ignore_errors=True)
            continue
        if folder.is_dir() and not (folder / ".git").exists():
            return into
        shutil.rmtree(into, ignore_errors=True)
    return None


def render(template: str, commit: str, answers: dict[str, Any], into: Path, only=()) -> Path:
    """Render a release of the template with these answers (only these paths, if given)."""
    from copier import run_copy  # only renders need copier: the other steps start faster

    exclude = ["*", *(f"!/{name}" for name in only)] if only else []  # copier matches each path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_copy(template, into, data={k: v for k, v in answers.items() if not k.startswith("_")},
                 vcs_ref=commit, exclude=exclude, defaults=True, unsafe=True, quiet=True,
                 skip_tasks=True)  # fmt: skip
    return into


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()
                  and ".git" not in p.relative_to(root).parts)  # fmt: skip


def _tracked() -> set[str]:
    return set(filter(None, git("ls-files", "-z").split("\0")))


def _untracked_entries() -> list[str]:
    """Untracked and ignored paths, each ignored folder as one entry (so .venv is cheap)."""
    listed = git("status", "--porcelain=v1", "-z", "--ignored", "--untracked-files=normal")
    return sorted(entry[3:] for entry in listed.split("\0") if entry[:3] in ("?? ", "!! "))


def _generated_paths(template: Path, package: str) -> set[str]:
    """Every path a release of the template could generate, whatever the answers."""
    config = _yaml((template / "copier.yml").read_text(encoding="utf-8"))
    root = template / config.get("_subdirectory", "")
    paths = set()
    for name in _files(root):
        name = name.replace("{{ package_name }}", package).removesuffix(".jinja")
        if "{{" not in name:
            paths.add(name)
    return paths


def before(template: str, commit: str, answers_file: str) -> None:
    saved = stash_dir()
    shutil.rmtree(saved, ignore_errors=True)
    try:
        _record(saved, template, commit, answers_file)
    except BaseException:
        shutil.rmtree(saved, ignore_errors=True)  # nothing was moved yet: nothing to undo
        raise


def _record(saved: Path, template: str, commit: str, answers_file: str) -> None:
    recorded = _answers(Path(answers_file))
    package = str(recorded.get("package_name") or "")
    with tempfile.TemporaryDirectory(prefix="copier-ml-pristine-") as tmp:
        original = copiers_old_copy(answers_file, Path(tmp) / "found") or render(
            template, commit, recorded, Path(tmp) / "project"
        )
        edited, deleted = [], []
        for name in _files(original):
            ours = Path(name)
            if name == answers_file:
                continue
            if not ours.is_file():
                deleted.append(name)
            elif ours.read_bytes() != (original / name).read_bytes():
                _copy(original / name, saved / "base" / name)
                _copy(ours, saved / "ours" / name)
                edited.append(name)
    tracked = _tracked()
    in_the_way = sorted(name for name in _generated_paths(Path(template), package)
                        if name not in tracked and Path(name).is_file())  # fmt: skip
    state = {
        "copier_pid": os.getppid(),
        "head": git("rev-parse", "HEAD").strip(),
        "untracked": _untracked_entries(),
        "package": package,
        "edited": edited,
        "deleted": deleted,
        "aside": in_the_way,
    }
    _save(saved, state)
    for name in in_the_way:  # last: from here on, a failure is rolled back
        (saved / "aside" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(name, saved / "aside" / name)


# After the update.


def has_markers(path: Path) -> bool:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return any(line.startswith(MARKERS) for line in lines)


def drop_reject(name: str) -> None:
    """Remove the .rej copier wrote for a file whose edits this step has put in place."""
    Path(f"{name}.rej").unlink(missing_ok=True)


def land(ours: Path, base: Path, target: Path, conflict: str, context: int) -> bool:
    """Bring the team's change (base to ours) into ``target``, as copier would; True if clean.

    Inline mode marks conflicts as copier does, the team's side first; rej mode applies
    what fits and leaves the rest in ``<target>.rej``.
    """
    if conflict == "rej":
        name = target.as_posix()
        patch = "".join(difflib.unified_diff(
            base.read_text(encoding="utf-8").splitlines(keepends=True),
            ours.read_text(encoding="utf-8").splitlines(keepends=True),
            f"a/{name}", f"b/{name}", n=context,
        ))  # fmt: skip
        applied = subprocess.run(["git", "apply", "--reject", "-"], input=patch, text=True,
                                 capture_output=True, check=False)  # fmt: skip
        return applied.returncode == 0
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "merged"
        shutil.copyfile(ours, result)
        labels = ["-L", TEAM, "-L", "last update", "-L", TEMPLATE]
        merged = subprocess.run(["git", "merge-file", *labels, str(result), str(base),
                                 str(target)], check=False)  # fmt: skip
        if merged.returncode:
            mark_unmerged(target.as_posix(), base, ours, target)
        shutil.copyfile(result, target)
    return merged.returncode == 0


def mark_unmerged(name: str, base: Path, ours: Path, theirs: Path) -> None:
    """Record a conflict in the index, as copier does for its own: git status and commit see it."""
    stages = [f"0 {'0' * 40}\t{name}"]
    for stage, side in ((1, base), (2, ours), (3, theirs)):
        sha = git("hash-object", "-w", "--", str(side)).strip()
        stages.append(f"100644 {sha} {stage}\t{name}")
    subprocess.run(["git", "update-index", "--index-info"], input="\n".join(stages) + "\n",
                   text=True, check=True)  # fmt: skip


def _conflict_note(target: str, conflict: str) -> str:
    if conflict == "rej":
        return f" (what did not apply is in {target}.rej: apply it by hand, then delete it)"
    return " (conflicts marked: resolve them)"


def _newest_edits(state: dict[str, Any], saved: Path, moves: dict[str, str],
                  conflict: str, context: int) -> None:  # fmt: skip
    """Each edited file the update moved or dropped, at its newest path."""
    for name in state["edited"]:
        newest = moves.get(name, name)
        if newest == name and Path(name).exists():
            continue  # still generated here: copier merged it in place
        drop_reject(name)
        target = Path(newest)
        if newest != name and target.is_file():
            clean = land(saved / "ours" / name, saved / "base" / name, target, conflict, context)
            note = "" if clean else _conflict_note(newest, conflict)
            print(f"Moved your changes to {name} into {newest}{note}")
        else:
            drop_reject(newest)
            _copy(saved / "ours" / name, target)
            where = "" if newest == name else f" as {newest}"
            print(f"Kept your edited {name}{where}: this release no longer generates it")


def _respect_deletions(state: dict[str, Any], moves: dict[str, str], head: str) -> None:
    """A file the team deleted stays deleted at the path a release moved it to."""
    moved = [name for name in state["deleted"] if name in moves]
    tracked = set(git("ls-tree", "-r", "-z", "--name-only", head).split("\0")) if moved else set()
    for name in moved:
        newest = moves[name]
        if newest not in tracked and Path(newest).is_file():
            Path(newest).unlink()
            drop_reject(name)
            print(f"Left out {newest}: you deleted {name}, which this release moved there")


def _conflicted(name: str) -> bool:
    path = Path(name)
    return Path(f"{name}.rej").exists() or (path.is_file() and has_markers(path))


def _settle_conflict(name: str) -> None:
    drop_reject(name)
    git("reset", "--quiet", "--", name, check=False)  # clear the unmerged stages copier set


def _merge_structured(state: dict[str, Any], saved: Path, template: str, commit: str,
                      answers_file: str) -> None:  # fmt: skip
    """pyproject.toml merged entry by entry; a conflicting notebook kept whole."""
    names = [n for n in state["edited"] if n == "pyproject.toml" or n.endswith(".ipynb")]
    conflicted = [name for name in names if _conflicted(name)]
    if not conflicted:
        return
    with tempfile.TemporaryDirectory(prefix="copier-ml-new-") as tmp:
        new = render(template, commit, _answers(Path(answers_file)), Path(tmp) / "project",
                     only=conflicted)  # fmt: skip
        for name in conflicted:
            ours, theirs = saved / "ours" / name, new / name
            if not theirs.is_file():
                continue
            if name == "pyproject.toml":
                merge = _sibling("structured_merge").merge_pyproject
                base = (saved / "base" / name).read_text(encoding="utf-8")
                merged = merge(base, ours.read_text(encoding="utf-8"),
                               theirs.read_text(encoding="utf-8"))  # fmt: skip
                if merged is not None:
                    Path(name).write_text(merged, encoding="utf-8", newline="")
                    _settle_conflict(name)
                    print(f"Merged {name} entry by entry: your dependencies and the release's")
                continue
            beside = Path(name).with_suffix(".from-template.ipynb")
            _copy(ours, Path(name))
            _copy(theirs, beside)
            _settle_conflict(name)
            print(f"Kept your {name} whole; this release's version is {beside.as_posix()}: "
                  "take what you want from it, then delete it")  # fmt: skip


def _put_back_aside(state: dict[str, Any], saved: Path, keep_new: bool) -> None:
    """The untracked files moved out of the way: back, or beside what now takes the path."""
    for name in state["aside"]:
        kept = saved / "aside" / name
        if not kept.is_file():
            continue
        target = Path(name)
        if keep_new and target.exists():
            beside = Path(f"{name}.mine")
            while beside.exists():
                beside = Path(f"{beside}.mine")
            shutil.move(kept, beside)
            print(f"Kept your untracked {name} as {beside.as_posix()}: this release generates "
                  f"{name}")  # fmt: skip
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(kept, target)


def after(since: str, until: str, conflict: str, context: int, template: str, commit: str,
          answers_file: str) -> None:  # fmt: skip
    saved = stash_dir()
    state = _load(saved)
    if not state:
        return
    if state["edited"] or state["deleted"]:
        moves = _sibling("moves").moves_between(since, until, state["package"])
        _newest_edits(state, saved, moves, conflict, context)
        _respect_deletions(state, moves, state["head"])
        _merge_structured(state, saved, template, commit, answers_file)
    _put_back_aside(state, saved, keep_new=True)
    shutil.rmtree(saved, ignore_errors=True)


# When the update fails.


def _made_since(path: Path, started: float) -> bool:
    files = [path] if not path.is_dir() else [p for p in path.rglob("*") if not p.is_dir()]
    return all(p.lstat().st_mtime >= started for p in files)


def rollback(project: Path) -> bool:
    """Put the project back as it was before the update; False if there was nothing to do."""
    saved = stash_dir(project)
    state = _load(saved)
    if not state:
        return False
    started = (saved / "state.json").stat().st_mtime - 1  # written as the update began
    cwd = Path.cwd()
    os.chdir(project)
    try:
        git("reset", "--hard", "--quiet", state["head"])
        for entry in sorted(set(_untracked_entries()) - set(state["untracked"])):
            path = Path(entry)
            if _made_since(path, started):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        _put_back_aside(state, saved, keep_new=False)
        shutil.rmtree(saved, ignore_errors=True)
    finally:
        os.chdir(cwd)
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    steps = parser.add_subparsers(dest="step", required=True)
    first = steps.add_parser("before", help="before the update: save what it could lose")
    last = steps.add_parser("after", help="after the update: land what copier could not")
    for step in (first, last):
        step.add_argument("--template", required=True, help="the template's local clone")
        step.add_argument("--commit", required=True, help="the release to render")
        step.add_argument("--answers-file", default=".copier-answers.yml")
    last.add_argument("--since", required=True, help="the recorded version (PEP 440)")
    last.add_argument("--until", required=True, help="the new version (PEP 440)")
    last.add_argument("--conflict", choices=["inline", "rej"], default="inline")
    last.add_argument("--context-lines", type=int, default=1)
    args = parser.parse_args(argv)
    if args.step == "before":
        before(args.template, args.commit, args.answers_file)
    else:
        after(args.since, args.until, args.conflict, args.context_lines, args.template,
              args.commit, args.answers_file)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
