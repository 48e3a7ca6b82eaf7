"""Measure what the template costs its users, as ratios within one run.

Why: the issue sets two targets, and machines differ too much for absolute numbers
to mean anything in a test. So this is a script, not a test: it measures our
template against copier's own floor on the same machine in the same run.

1. ``copier copy`` of each tier against copier's floor: a one-question, one-file
   template in a git repository, laid out like ours (copying a local repository
   clones it, so both pay a clone). Each tier is also compared with its plain twin:
   a template with exactly the files that tier renders, copied verbatim (one
   question, nothing rendered, no extensions). The twin is copier's floor for that
   many files; the gap to it is ours (questions, extensions, rendering, cloning this
   repository). Our template is copied from a clone with the
   working tree committed and tagged, as users copy a release, so that no case pays
   for copier's commit of uncommitted changes. Every case is copied once to warm up,
   then ``--repeat`` times, interleaved; we keep the median. Target: a large copy
   costs at most 1.15x its plain twin. One more case empties our compile cache
   (extensions/compile_cache.py) before each copy: a machine's first copy.
2. Time to first green of a generated project, per tier and package manager: copy,
   ``git init``, then the tier's steps, each timed: ``make install-dev``, ``make
   lint`` and ``make test`` for medium; ``make install-dev``, ``make pipeline`` (``dvc
   repro`` from the raw data) and ``make test`` (unit, integration, e2e) for large.
   The sequence runs once to warm the caches (reported too, with whatever cache it
   found), then again, warm. Target: medium with uv green within 60 s, warm.

3. ``copier update`` per tier, as a ratio to ``copier copy`` of the same tier in the
   same run: a project copied at one release of a clone of this repository and
   committed, updated to the next release (one changed line in the README). Again for
   a medium project holding large ignored data under ``data/`` (a 2 GiB sparse file
   and 5,000 small files), which an update must neither read nor slow down for.

4. Training time on the embedded dataset per ``ml_framework``: a medium project of
   each framework is installed (torch from a folder of wheels in pip's configuration
   when there is one, else the index), its data made, then ``make train`` is timed
   ``--repeat`` times, interleaved; the median, and PyTorch as a ratio to
   scikit-learn. Each run includes the interpreter start and imports, as a user sees.

5. This repository's ``make test`` from a fresh clone without tags, as ``.ci/run``
   runs it: ``make test`` with ``PYTEST_ADDOPTS`` asking for verbose output and every
   duration, so that the command is the README's. Reported: the wall time (target: at
   most 15 minutes on 2 cores), and per xdist group of build tests its tests, the
   workers that ran them and their seconds. One worker per group is one install of
   that project per session.

Usage: ``.venv/bin/python bench/run.py [--repeat N] [--skip-green] [--write]``.
``--write`` replaces the measured section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

from copier import run_copy, run_update
from jinja2 import FileSystemBytecodeCache
from plumbum import local

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.helpers import load_extension, local_torch, public_index_url  # noqa: E402

#: copier, uv and poetry live beside the interpreter running this script (.venv/bin).
TOOLS = Path(sys.executable).parent
DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
TIERS = ("small", "medium", "large")
COPY_TARGET = 1.15  # a large copy: at most this many times its plain twin
GREEN_TARGET = 60.0  # seconds, medium with uv, warm cache
SUITE_TARGET = 15 * 60.0  # seconds, `make test` from a fresh clone on 2 cores
UPDATE_TARGET = 4.0  # `copier update` of a tier: at most this many copies of it
#: The make targets that take each tier from a fresh copy to green.
STEPS = {
    "medium": ("install-dev", "lint", "test"),
    "large": ("install-dev", "pipeline", "test"),
}
git = local["git"]


def copy(src: Path, dst: Path, **data: Any) -> None:
    """The one copier call that the floor, the twins and our template all go through."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Dd]irty.*")
        run_copy(str(src), dst, data=data, defaults=True, unsafe=True, quiet=True, vcs_ref="HEAD")


def plain_template(root: Path, files: dict[str, str]) -> Path:
    """A committed template with one question and these files (relative path: text).

    Laid out like ours, files under ``_subdirectory``: at the repository root copier
    would also walk, and render the name of, every file in ``.git``.
    """
    root.mkdir()
    (root / "copier.yml").write_text(
        "_subdirectory: template\nname:\n  type: str\n  default: world\n"
    )
    for name, text in files.items():
        path = root / "template" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    with local.cwd(root):
        git("init", "--quiet")
        git("add", "-A")
        git("-c", "user.name=bench", "-c", "user.email=bench@example.com",
            "commit", "--quiet", "-m", "plain template")  # fmt: skip
    return root


def rendered_files(project: Path) -> dict[str, str]:
    return {
        path.relative_to(project).as_posix(): path.read_text()
        for path in sorted(project.rglob("*"))
        if path.is_file()
    }


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def bench_copy(repeat: int) -> dict[str, tuple[int, float]]:
    """File count and median seconds of ``copier copy`` for every case."""
    with tempfile.TemporaryDirectory(prefix="copier-ml-bench-") as tmp:
        work = Path(tmp)
        template = releases(work / "template")
        floor = plain_template(work / "floor", {"hello.txt.jinja": "Hello {{ name }}\n"})
        cases: dict[str, tuple[Callable[[Path], None], int]] = {"floor": (partial(copy, floor), 1)}
        for tier in TIERS:
            shape = work / f"shape-{tier}"
            copy_at(template, shape, tier, "v1")
            files = rendered_files(shape)
            twin = plain_template(work / f"twin-{tier}", files)
            cases[f"twin-{tier}"] = (partial(copy, twin), len(files))
            cases[tier] = (partial(copy_at, template, tier=tier, tag="v1"), len(files))
        # Last in each round, so that the rounds' other copies find the cache filled.
        cases["large-cold"] = (partial(cold_copy_at, template, tier="large", tag="v1"),
                               cases["large"][1])  # fmt: skip
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for run in range(repeat + 1):  # run 0 warms imports, Jinja and the file cache
            for name, (action, _) in cases.items():
                seconds = timed(partial(action, work / f"{name}-{run}"))
                if run:
                    samples[name].append(seconds)
        return {name: (cases[name][1], statistics.median(samples[name])) for name in cases}


def releases(root: Path, alone: bool = False) -> Path:
    """A clone of this repository with the working tree as ``v1`` and a later ``v2``.

    ``alone``: without what copier-ml adds to an update (see `copier_alone`).
    """
    local["git"]("clone", "--quiet", ROOT, root)
    for name in git("-C", ROOT, "ls-files", "-z", "-co", "--exclude-standard").split("\0"):
        if name and (ROOT / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes((ROOT / name).read_bytes())
    if alone:
        copier_alone(root / "copier.yml")
    identity = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    for tag in ("v1", "v2"):
        if tag == "v2":
            readme = root / "template" / "README.md.jinja"
            readme.write_text(readme.read_text() + "\nA line from the next release.\n")
        git("-C", root, "add", "--all")
        git("-C", root, *identity, "commit", "--quiet", "--allow-empty", "-m", tag)
        git("-C", root, "tag", tag)
    return root


def copier_alone(config: Path) -> None:
    """Drop our migrations, our answer check and our rollback guard from a copier.yml.

    What is left is copier's own update of the same files: the bench measures our cost
    against it.
    """
    kept, dropping = [], False
    for line in config.read_text(encoding="utf-8").splitlines(keepends=True):
        if line[:1] not in (" ", "#", "\n"):
            dropping = line.startswith(("_migrations:", "_message_before_update:"))
        if not dropping and "update_guard.py" not in line:
            kept.append(line)
    config.write_text("".join(kept), encoding="utf-8")


def ignored_data(project: Path) -> None:
    """Gigabytes on paper (a sparse file) and many small files, all git-ignored."""
    with (project / "data" / "raw" / "images.bin").open("wb") as big:
        big.truncate(2 * 1024**3)
    images = project / "data" / "raw" / "images"
    images.mkdir()
    for index in range(5000):
        (images / f"{index:05}.csv").write_text("a,b\n1,2\n")


def copy_at(template: Path, dst: Path, tier: str, tag: str) -> None:
    run_copy(str(template), dst, data={"tier": tier}, defaults=True, unsafe=True, quiet=True,
             vcs_ref=tag)  # fmt: skip


def cold_copy_at(template: Path, dst: Path, tier: str, tag: str) -> None:
    """A copy on a machine that never rendered this template: compile cache emptied."""
    FileSystemBytecodeCache(pattern=load_extension("compile_cache").PATTERN).clear()
    copy_at(template, dst, tier, tag)


def update_to(project: Path, tag: str) -> None:
    """As a team runs it: not quiet, so copier renders and prints the messages."""
    with local.cwd(project), open(os.devnull, "w") as sink:  # noqa: SIM117
        with redirect_stdout(sink), redirect_stderr(sink):  # the migrations run git in cwd
            run_update(project, defaults=True, unsafe=True, vcs_ref=tag, overwrite=True,
                       skip_answered=True)  # fmt: skip


def bench_update(repeat: int) -> dict[str, tuple[float, float, float]]:
    """Median seconds of ``copier update``, of ``copier copy``, and of copier's own update
    of the same files (our migrations and checks off), per case."""
    cases = {tier: tier for tier in TIERS} | {"medium with ignored data": "medium"}
    results = {}
    with tempfile.TemporaryDirectory(prefix="copier-ml-update-") as tmp:
        work = Path(tmp)
        template = releases(work / "template")
        alone = releases(work / "template-alone", alone=True)
        for case, tier in cases.items():
            name = case.replace(" ", "-")
            ours = committed_copy(template, work / name, tier, with_data=case != tier)
            plain = committed_copy(alone, work / f"{name}-alone", tier, with_data=case != tier)
            updates, copies, alones = [], [], []
            for run in range(repeat + 1):
                back_to_v1(ours)
                updated = timed(partial(update_to, ours, "v2"))
                dst = work / f"copy-{name}-{run}"
                copied = timed(partial(copy_at, template, dst, tier, "v2"))
                back_to_v1(plain)
                by_copier = timed(partial(update_to, plain, "v2"))
                if run:
                    updates.append(updated)
                    copies.append(copied)
                    alones.append(by_copier)
            results[case] = tuple(map(statistics.median, (updates, copies, alones)))
    return results


def committed_copy(template: Path, project: Path, tier: str, with_data: bool) -> Path:
    """A project copied at ``v1`` and committed, with large ignored data if asked."""
    copy_at(template, project, tier, "v1")
    with local.cwd(project):
        git("init", "--quiet")
        git("add", "--all")
        git("-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit",
            "--quiet", "-m", "generate")  # fmt: skip
    if with_data:
        ignored_data(project)
    return project


def back_to_v1(project: Path) -> None:
    """The committed ``v1`` again (never ``clean -x``: ignored data stays)."""
    with local.cwd(project):
        git("reset", "--quiet", "--hard")
        git("clean", "--quiet", "-d", "--force")


@contextmanager
def developer_shell(tmp: Path, cwd: Path) -> Iterator[None]:
    """A developer's shell in ``cwd``: our tools first, no active venv, bytecode on.

    Some shells set PYTHONDONTWRITEBYTECODE; under it every process would compile
    mlflow and scikit-learn from source again, which no developer waits for twice.
    """
    shell = {
        "PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}",
        "UV_PYTHON_DOWNLOADS": "never",
        "POETRY_VIRTUALENVS_IN_PROJECT": "true",
        "PRE_COMMIT_HOME": str(tmp / "pre-commit-home"),
    }
    with local.env(**shell), local.cwd(cwd):
        local.env.pop("VIRTUAL_ENV", None)  # an active venv would capture poetry and uv
        local.env.pop("PYTHONDONTWRITEBYTECODE", None)
        yield


def first_green(tier: str, manager: str) -> dict[str, float]:
    """Seconds for each step of a fresh project of this tier, and their total."""
    answers: dict[str, str] = {"tier": tier, "package_manager": manager}
    if manager == "poetry":  # Poetry's default source does not resolve here: name the index
        answers["package_index_url"] = public_index_url()
    with tempfile.TemporaryDirectory(prefix="copier-ml-green-") as tmp:
        project = Path(tmp) / "project"
        copy(ROOT, project, **answers)
        with developer_shell(Path(tmp), project):
            git("init", "--quiet")
            times = {step: timed(local["make"][step]) for step in STEPS[tier]}
    times["total"] = sum(times.values())
    return times


def bench_green() -> dict[str, dict[str, dict[str, float]]]:
    """Per tier, per package manager and cache: seconds per step."""
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for tier in STEPS:
        rows[tier] = {}
        for manager in ("uv", "poetry"):
            rows[tier][f"{manager}, first pass (cache as found)"] = first_green(tier, manager)
            rows[tier][f"{manager}, warm"] = first_green(tier, manager)
    return rows


FRAMEWORKS = ("sklearn", "pytorch")


def bench_training(repeat: int) -> dict[str, float]:
    """Median seconds of `make train` in a medium project, per framework."""
    times: dict[str, list[float]] = {framework: [] for framework in FRAMEWORKS}
    with tempfile.TemporaryDirectory(prefix="copier-ml-train-") as tmp:
        projects = {}
        for framework in FRAMEWORKS:
            answers = {"tier": "medium", "ml_framework": framework}
            if framework == "pytorch":
                answers["torch_index_url"] = local_torch()[0]
            projects[framework] = project = Path(tmp) / framework
            copy(ROOT, project, **answers)
            with developer_shell(Path(tmp), project):
                git("init", "--quiet")
                local["make"]("install-dev", "data-process", "train")  # warm-up run
        for _ in range(repeat):
            for framework, project in projects.items():
                with developer_shell(Path(tmp), project):
                    times[framework].append(timed(local["make"]["train"]))
    return {framework: statistics.median(runs) for framework, runs in times.items()}


#: Lines of the suite's verbose output: which worker ran a test, and each phase's time.
WORKER_LINE = re.compile(r"^\[(gw\d+)\] \[ *\d+%\] [A-Z]+ (\S+)", re.MULTILINE)
DURATION_LINE = re.compile(r"^([\d.]+)s (?:setup|call|teardown) +(\S+)", re.MULTILINE)
SUMMARY_LINE = re.compile(r"^=+ (\d+ passed.*) in [\d.]+s", re.MULTILINE)


def xdist_group(test: str) -> str:
    """The group a test id ends with (``test[uv]@medium-uv``), or "" (an ``@`` inside a
    parameter, as in an email address, is no group)."""
    return test.rsplit("@", 1)[1] if "@" in test and not test.endswith("]") else ""


def bench_suite() -> dict[str, Any]:
    """This repository's ``make test`` in a fresh clone without tags, as .ci/run runs it.

    Returns the wall seconds, pytest's summary line, and per xdist group (the ``@``
    suffix of a test id) its tests, the workers that ran them and their seconds.
    """
    with tempfile.TemporaryDirectory(prefix="copier-ml-suite-") as tmp:
        clone = Path(tmp) / "copier-ml"
        git("clone", "--quiet", "--no-tags", ROOT, clone)
        with local.cwd(clone), local.env(PYTEST_ADDOPTS="-v --durations=0"):
            local.env.pop("VIRTUAL_ENV", None)
            start = time.perf_counter()
            code, out, err = local["make"].run(["test"], retcode=None)
            seconds = time.perf_counter() - start
    summary = SUMMARY_LINE.search(out)
    groups: dict[str, dict[str, Any]] = {}
    for worker, test in WORKER_LINE.findall(out):
        if name := xdist_group(test):
            group = groups.setdefault(name, {"tests": 0, "workers": set()})
            group["tests"] += 1
            group["workers"].add(worker)
    for spent, test in DURATION_LINE.findall(out):
        if name := xdist_group(test):
            group = groups[name]
            group["seconds"] = group.get("seconds", 0.0) + float(spent)
    return {
        "seconds": seconds,
        "summary": summary.group(1) if summary else f"make test exited {code}: {err[-300:]}",
        "groups": groups,
    }


def environment(load: float) -> str:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 0
    with local.cwd(ROOT):
        commit = git("rev-parse", "--short", "HEAD").strip()
        dirty = " with uncommitted changes" if git("status", "--porcelain").strip() else ""
    return (
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.system()} "
        f"{platform.machine()}, {cpus} CPUs (load average {load:.1f} at the start), "
        f"Python {platform.python_version()}, {git('--version').strip()}; "
        f"copier {version('copier')}, uv {version('uv')}, poetry {version('poetry')}; "
        f"template at {commit}{dirty}."
    )


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def report(
    copies: dict[str, tuple[int, float]],
    greens: dict[str, dict[str, dict[str, float]]] | None,
    updates: dict[str, tuple[float, float, float]],
    load: float,
    training: dict[str, float] | None = None,
    suite: dict[str, Any] | None = None,
) -> str:
    floor = copies["floor"][1]
    lines = [
        environment(load),
        "",
        f"`copier copy`, median seconds (target: large at most {COPY_TARGET}x its twin). "
        "A twin has the tier's files, copied verbatim:",
        "",
        "| Template | Files | Seconds | x floor | x twin | Target |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
        f"| copier floor (one question, one file) | 1 | {floor:.3f} | 1.00 | | |",
    ]
    for tier in TIERS:
        files, twin = copies[f"twin-{tier}"]
        seconds = copies[tier][1]
        ratio = seconds / twin
        target = verdict(ratio <= COPY_TARGET) if tier == "large" else ""
        lines += [
            f"| plain twin of {tier} | {files} | {twin:.3f} | {twin / floor:.2f} | 1.00 | |",
            f"| **{tier}** | {files} | {seconds:.3f} | {seconds / floor:.2f} | {ratio:.2f} "
            f"| {target} |",
        ]
    files, twin = copies["twin-large"]
    cold = copies["large-cold"][1]
    lines.append(
        f"| large, first copy on a machine (compile cache empty) | {files} | {cold:.3f} "
        f"| {cold / floor:.2f} | {cold / twin:.2f} | |"
    )
    lines += [
        "",
        "`copier update` to the next release (one changed line), median seconds, against "
        "`copier copy` of the same tier in the same run (target: an update costs at most "
        f"{UPDATE_TARGET:.0f} copies), and against copier's own update of the same files, "
        "with our migrations, answer check and rollback guard taken out:",
        "",
        "| Project | Update | Copy | Update / copy | Target | copier alone | copier alone / copy |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for case, (updated, copied, alone) in updates.items():
        met = verdict(updated / copied <= UPDATE_TARGET)
        lines.append(f"| {case} | {updated:.2f} | {copied:.2f} | {updated / copied:.2f} | {met} "
                     f"| {alone:.2f} | {alone / copied:.2f} |")  # fmt: skip
    if training:
        sklearn = training["sklearn"]
        lines += [
            "",
            "`make train` on the embedded dataset in a medium project, median seconds "
            "(interpreter start and imports included):",
            "",
            "| ml_framework | Seconds | x scikit-learn |",
            "| --- | ---: | ---: |",
            *(f"| {name} | {s:.2f} | {s / sklearn:.2f} |" for name, s in training.items()),
        ]
    for tier, rows in (greens or {}).items():
        target = f" (target: uv, warm, within {GREEN_TARGET:.0f} s)" if tier == "medium" else ""
        steps = STEPS[tier]
        lines += [
            "",
            f"Time to first green of a {tier} project, seconds{target}:",
            "",
            "| Package manager, cache | " + " | ".join(f"make {s}" for s in steps) + " | Total |",
            "| --- |" + " ---: |" * (len(steps) + 1),
        ]
        for name, t in rows.items():
            total = f"{t['total']:.1f}"
            if tier == "medium" and name == "uv, warm":
                total += f" ({verdict(t['total'] <= GREEN_TARGET)})"
            cells = " | ".join(f"{t[step]:.1f}" for step in steps)
            lines.append(f"| {name} | {cells} | {total} |")
    if suite:
        minutes = suite["seconds"] / 60
        met = verdict(suite["seconds"] <= SUITE_TARGET and "failed" not in suite["summary"])
        lines += [
            "",
            f"This repository's `make test` from a fresh clone without tags: {minutes:.1f} "
            f"minutes, {suite['summary']} (target: at most {SUITE_TARGET / 60:.0f} minutes "
            f"on 2 cores: {met}). The groups of build tests, each a project installed once "
            "on the one worker that runs all its tests (seconds: their setup, call and "
            "teardown):",
            "",
            "| xdist group | Tests | Workers | Seconds |",
            "| --- | ---: | ---: | ---: |",
        ]
        for name, group in sorted(suite["groups"].items()):
            if not name.startswith("render-"):
                lines.append(
                    f"| {name} | {group['tests']} | {len(group['workers'])} "
                    f"| {group.get('seconds', 0.0):.0f} |"
                )
        renders = [g for name, g in suite["groups"].items() if name.startswith("render-")]
        if renders:
            spread = max(len(group["workers"]) for group in renders)
            lines += [
                "",
                f"The {len(renders)} render groups (one combination each, read by several "
                f"modules) ran on at most {spread} worker each.",
            ]
    return "\n".join(lines) + "\n"


def write(section: str) -> None:
    text = DOC.read_text()
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        sys.exit(f"{DOC}: no {START} ... {END} section to replace")
    DOC.write_text(pattern.sub(lambda _: f"{START}\n{section}{END}", text, count=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed copies per case (median)")
    parser.add_argument(
        "--skip-green",
        action="store_true",
        help="skip installs: copy and update only, no green, training or suite",
    )
    parser.add_argument("--write", action="store_true", help=f"update {DOC.relative_to(ROOT)}")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.write and args.skip_green:
        parser.error("--write records the whole run: drop --skip-green")
    load = os.getloadavg()[0]
    copies = bench_copy(args.repeat)
    updates = bench_update(args.repeat)
    greens = None if args.skip_green else bench_green()
    training = None if args.skip_green else bench_training(args.repeat)
    suite = None if args.skip_green else bench_suite()
    section = report(copies, greens, updates, load, training, suite)
    print(section, end="")
    if args.write:
        write(section)
        print(f"Wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
