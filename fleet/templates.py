"""The templates the fleet's answers name, each read once a run: its releases and commits.

A local template is read in place; a URL is cloned once (in full, with its tags) into
the run's temporary folder, and copier renders from that clone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from copier._vcs import valid_version
from packaging.version import Version

from fleet.reading import ReadError, git, remote_url


class TemplateError(Exception):
    """The template cannot be read, or lacks the recorded commit."""


@dataclass(frozen=True)
class Template:
    src_path: str  # as the answers record it
    location: str  # the local git folder copier renders from
    releases: tuple[Version, ...]  # release tags, oldest first

    def resolve(self, commit: str) -> str:
        """The full hash of a recorded `_commit` (a tag, a hash or a `git describe`)."""
        try:
            if commit.startswith("-"):
                raise ReadError("not a revision")
            out = git("rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}",
                      cwd=Path(self.location))  # fmt: skip
        except ReadError:
            raise TemplateError(f"_commit {commit} is not a commit of {self.src_path}") from None
        return out.decode().strip()

    @property
    def latest(self) -> str | None:
        return str(self.releases[-1]) if self.releases else None

    def behind(self, release: Version) -> int:
        """How many releases are newer than this version."""
        return sum(version > release for version in self.releases)


def release_tags(tags: Iterable[str]) -> dict[Version, str]:
    """The tags `copier update` would take, by version: PEP 440, pre-releases left out."""
    found = {Version(tag): tag for tag in tags if valid_version(tag)}
    return {version: tag for version, tag in found.items() if not version.is_prerelease}


def releases(location: str) -> tuple[Version, ...]:
    """The template's release versions, oldest first."""
    tags = git("tag", "--list", cwd=Path(location)).decode().split()
    return tuple(sorted(release_tags(tags)))


class Templates:
    """Each distinct `_src_path` opened once, however many repositories and threads ask."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._lock = threading.Lock()
        #: Per template: its own lock, its number (a clone's folder), and once opened, it.
        self._opened: dict[str, tuple[threading.Lock, int, list[Template | TemplateError]]] = {}

    def get(self, src_path: str, base: Path | None) -> Template:
        """The template; `base` is the local repository a relative `_src_path` is under."""
        key = src_path if base is None else f"{base}\0{src_path}"
        with self._lock:
            if key not in self._opened:
                self._opened[key] = (threading.Lock(), len(self._opened), [])
            lock, number, done = self._opened[key]
        with lock:  # the first caller opens it; the others wait for it
            if not done:
                try:
                    done.append(self._open(src_path, base, number))
                except TemplateError as error:
                    done.append(error)
        if isinstance(done[0], TemplateError):
            raise done[0]
        return done[0]

    def _open(self, src_path: str, base: Path | None, number: int) -> Template:
        folder = Path(src_path).expanduser()
        if not folder.is_absolute() and base is not None:
            folder = base / folder  # copier reads a relative path from the project
        try:
            if folder.exists():
                git("rev-parse", "--git-dir", cwd=folder)
                location = str(folder.resolve())
            elif url := remote_url(src_path):
                location = str(self._workdir / f"template-{number}")
                git("clone", "--quiet", "--no-checkout", "--", url, location)
            else:
                raise ReadError("no such folder or repository")
            return Template(src_path, location, releases(location))
        except ReadError as error:
            raise TemplateError(f"template {src_path} cannot be read: {error}") from None
