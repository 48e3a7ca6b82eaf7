"""What a team changed of its release, and what an update left unresolved.

Files are compared by git blob id first, so only the files that differ are read. Line
counts are a line diff's (Python's difflib, as `git diff --numstat` counts an ordinary
edit); a binary file (a NUL byte in its first 8,000, git's own test) counts 0 and 0,
where git shows `-`. A mode change alone (an executable bit) is a change of 0 and 0.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from fleet.pristine import Pristine
from fleet.reading import Committed
from fleet.recorded import ANSWERS_FILE

LINE = re.compile(rb"[^\n]*\n|[^\n]+$")
#: A conflict: git's or copier's markers (`<<<<<<< before updating`), both ends of one.
OPENS, CLOSES = re.compile(rb"^<<<<<<< ", re.M), re.compile(rb"^>>>>>>> ", re.M)


def lines(data: bytes) -> list[bytes]:
    """Lines as git counts them: a last line without a newline is one."""
    return LINE.findall(data)


def binary(data: bytes) -> bool:
    return b"\0" in data[:8000]


def length(data: bytes) -> int:
    return 0 if binary(data) else len(lines(data))


def counted(old: bytes, new: bytes) -> tuple[int, int]:
    """Lines added and removed from old to new."""
    if binary(old) or binary(new):
        return 0, 0
    added = removed = 0
    matcher = difflib.SequenceMatcher(None, lines(old), lines(new), autojunk=False)
    for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes():
        if tag != "equal":
            removed += old_end - old_start
            added += new_end - new_start
    return added, removed


def conflicted(path: str, data: bytes) -> bool:
    return path.endswith(".rej") or bool(OPENS.search(data) and CLOSES.search(data))


def compare(team: Committed, pristine: Pristine) -> tuple[list[dict[str, Any]], list[str]]:
    """The drift entries, sorted by path, and the conflicted files, sorted."""
    ours = {path: e for path, e in team.files.items() if path != ANSWERS_FILE}
    theirs = {path: e for path, e in pristine.files.items() if path != ANSWERS_FILE}
    differing = sorted(path for path, entry in ours.items() if theirs.get(path) != entry)
    content = team.read(differing)
    drift = []
    for path in sorted(set(ours) | set(theirs)):
        if path not in ours:
            change, added, removed = "deleted", 0, length(pristine.read(path))
        elif path not in theirs:
            change, added, removed = "added", length(content[path]), 0
        elif ours[path] != theirs[path]:
            change = "changed"
            added, removed = counted(pristine.read(path), content[path])
        else:
            continue
        drift.append({"path": path, "change": change, "added": added, "removed": removed})
    conflicts = [path for path in differing if conflicted(path, content[path])]
    return drift, conflicts
