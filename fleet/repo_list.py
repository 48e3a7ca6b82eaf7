"""The list of a fleet's repositories: one URL or local path a line, `#` starts a comment."""

from __future__ import annotations

from pathlib import Path


class ListError(Exception):
    """The list cannot be read; the message names the file."""


def read_repo_list(path: Path) -> list[str]:
    """The repositories a list file names, in its order, each once."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ListError(f"{path}: no such file (REPOS names the list of repositories)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ListError(f"{path}: cannot be read: {error}") from None
    repos: list[str] = []
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry and entry not in repos:
            repos.append(entry)
    return repos
