"""A repository's committed tree, read with git plumbing only: nothing is written into it.

A local path is read in place (`git ls-tree`, `git cat-file --batch`: neither touches the
index or the working tree, and `GIT_OPTIONAL_LOCKS=0` keeps git from refreshing anything).
A URL is cloned into a temporary folder, one commit deep, without checkout, without the
large blobs: `git cat-file` fetches one on demand if a differing file needs it.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from copier._vcs import GIT_PREFIX, REPLACEMENTS

#: Blobs above this size stay on the server until a differing file needs one.
BLOB_LIMIT = "blob:limit=256k"
#: No prompt (reports run unattended and in parallel), no optional lock or refresh.
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}


class ReadError(Exception):
    """The repository cannot be read; the message names it."""


@dataclass(frozen=True)
class Entry:
    """A committed file: its git mode and blob id."""

    mode: str
    oid: str


def git(*args: str, cwd: Path | None = None, input: bytes | None = None) -> bytes:
    """git with the read-only environment; ReadError with git's last line if it fails."""
    env = {**os.environ, **GIT_ENV}
    if cwd is not None:  # never let git find an enclosing repository instead of this one
        env["GIT_CEILING_DIRECTORIES"] = str(cwd.resolve().parent)
    done = subprocess.run(
        ["git", *args], cwd=cwd, input=input, capture_output=True, env=env, check=False
    )
    if done.returncode:
        lines = done.stderr.decode(errors="replace").strip().splitlines() or ["(no message)"]
        raise ReadError(lines[-1].removeprefix("fatal: "))
    return done.stdout


def remote_url(entry: str) -> str | None:
    """The URL to clone for a list entry, or None when it names a local path.

    copier's prefixes (`gh:`, `gl:`, `git+`, `git@`, ...) read as copier reads them, plus
    any `scheme://` URL (`file://`, `ssh://`, any host). copier's own `get_repo` is not
    used: it changes the working directory, and the report reads in threads.
    """
    if Path(entry).expanduser().exists():
        return None
    url = entry
    for pattern, replacement in REPLACEMENTS:
        url = re.sub(pattern, replacement, url)
    if url.startswith("git+"):
        return url[4:]
    if url.startswith(GIT_PREFIX) or re.match(r"^[a-z][a-z0-9+.-]*://|^[\w.-]+@[\w.-]+:", url):
        return url
    return None


class Committed:
    """The files on HEAD of one git folder, and a way to read their bytes."""

    def __init__(self, folder: Path, label: str) -> None:
        self.folder = folder
        self.label = label
        try:
            listing = git("ls-tree", "-r", "-z", "--full-tree", "HEAD", cwd=folder)
        except ReadError as error:
            raise ReadError(f"{label}: HEAD has no commit to read ({error})") from None
        self.files: dict[str, Entry] = {}
        for record in filter(None, listing.split(b"\0")):
            meta, _, path = record.partition(b"\t")
            mode, kind, oid = meta.decode().split()
            if kind == "blob":  # submodules (commits) have no content of ours to compare
                self.files[path.decode(errors="surrogateescape")] = Entry(mode, oid)

    def read(self, paths: list[str]) -> dict[str, bytes]:
        """The committed bytes of these files, in one `git cat-file --batch`."""
        oids = [self.files[path].oid for path in paths]
        if not oids:
            return {}
        try:
            batch = "".join(f"{oid}\n" for oid in oids).encode()
            out = git("cat-file", "--batch", cwd=self.folder, input=batch)
        except ReadError as error:
            raise ReadError(f"{self.label}: cannot read its files ({error})") from None
        blobs: dict[str, bytes] = {}
        at = 0
        while at < len(out):
            header_end = out.index(b"\n", at)
            header = out[at:header_end].decode().split()
            if len(header) != 3:
                raise ReadError(f"{self.label}: git has no object {header[0]}")
            oid, kind, size = header
            start = header_end + 1
            blobs[oid] = out[start : start + int(size)]
            at = start + int(size) + 1
            if kind != "blob":
                raise ReadError(f"{self.label}: {oid} is a {kind}, not a file")
        return {path: blobs[self.files[path].oid] for path in paths}


def open_local(entry: str) -> Committed:
    """A local repository, read in place."""
    folder = Path(entry).expanduser()
    if not folder.is_dir():
        raise ReadError(f"{entry}: no such folder")
    try:
        git("rev-parse", "--git-dir", cwd=folder)
    except ReadError:
        raise ReadError(f"{entry}: not a git repository") from None
    return Committed(folder, entry)


def clone(entry: str, url: str, into: Path) -> Committed:
    """A shallow, blob-filtered clone of the default branch, with nothing checked out."""
    try:
        git("clone", "--quiet", "--depth=1", "--single-branch", "--no-checkout",
            f"--filter={BLOB_LIMIT}", "--", url, str(into))  # fmt: skip
    except ReadError as error:
        raise ReadError(f"{entry}: cannot clone it: {error}") from None
    return Committed(into, entry)
