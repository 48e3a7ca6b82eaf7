"""What the fleet's commands share on their command lines."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fleet.repo_list import ListError, read_repo_list


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def listed_repos(path: Path, command: str) -> list[str] | None:
    """The list's repositories, or None once its error is printed, naming the file."""
    try:
        return read_repo_list(path)
    except ListError as error:
        print(f"{command}: {error}", file=sys.stderr)
        return None
