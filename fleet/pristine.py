"""Pristine renders: what a release makes of a repository's recorded answers, once per run.

copier changes the working directory while it renders, so renders run in worker
processes (spawned: the report's threads are not forked with them), each distinct
(template, commit, answers) once. A render is then listed as a team commits it: `git add
--all` in the render, so its own .gitignore decides, as it did for the team.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import threading
import time
import warnings
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleet.reading import Entry, git


class RenderError(Exception):
    """copier could not render the release; the message is copier's, on one line."""


@dataclass(frozen=True)
class Pristine:
    folder: Path
    release: str | None  # the PEP 440 version copier gives the commit
    files: dict[str, Entry]  # what the team would have committed

    def read(self, path: str) -> bytes:
        return (self.folder / path).read_bytes()


def render(location: str, commit: str, data: dict[str, Any], into: str, verbose: bool) -> Pristine:
    """Render in this process (a worker's): copier's own copy, and its version of the commit."""
    from copier._main import Worker

    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Worker(src_path=location, dst_path=Path(into), vcs_ref=commit, data=data,
                        defaults=True, unsafe=True, quiet=True) as worker:  # fmt: skip
                worker.run_copy()
                version = worker.template.version
    except Exception as error:  # copier raises many kinds; the report needs one line
        raise RenderError(" ".join(str(error).split()) or type(error).__name__) from None
    folder = Path(into)
    git("-c", "init.defaultBranch=main", "init", "--quiet", cwd=folder)
    git("add", "--all", cwd=folder)
    listing = git("ls-files", "--stage", "-z", cwd=folder)
    files = {}
    for record in filter(None, listing.split(b"\0")):
        meta, _, path = record.partition(b"\t")
        mode, oid, _ = meta.decode().split()
        files[path.decode(errors="surrogateescape")] = Entry(mode, oid)
    if verbose:
        seconds = time.perf_counter() - start
        print(f"fleet: rendered {location} at {commit} ({data.get('tier')}) in {seconds:.1f} s",
              file=sys.stderr, flush=True)  # fmt: skip
    return Pristine(folder, None if version is None else str(version), files)


def render_key(location: str, commit_hash: str, data: dict[str, Any]) -> str:
    return json.dumps([location, commit_hash, data], sort_keys=True, default=str)


class Renders:
    """Each distinct render once, in at most `jobs` worker processes."""

    def __init__(self, workdir: Path, jobs: int, verbose: bool = False) -> None:
        self._workdir = workdir
        self._verbose = verbose
        self._pool = ProcessPoolExecutor(
            max_workers=jobs, mp_context=multiprocessing.get_context("spawn")
        )
        self._lock = threading.Lock()
        self._renders: dict[str, Future[Pristine]] = {}

    def get(self, location: str, commit_hash: str, data: dict[str, Any]) -> Future[Pristine]:
        """The render's future; the first caller of a key submits it, the rest share it."""
        key = render_key(location, commit_hash, data)
        with self._lock:
            if key not in self._renders:
                into = self._workdir / f"render-{len(self._renders)}"
                self._renders[key] = self._pool.submit(
                    render, location, commit_hash, data, os.fspath(into), self._verbose
                )
            return self._renders[key]

    @property
    def count(self) -> int:
        return len(self._renders)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
