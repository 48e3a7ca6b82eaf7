"""What a repository's answers file records: the template, its commit and the answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

ANSWERS_FILE = ".copier-answers.yml"


class AnswersError(Exception):
    """The answers file is missing, broken or from another template; the message says which."""


@dataclass(frozen=True)
class Recorded:
    src_path: str
    commit: str
    tier: str
    answers: dict[str, Any]  # every other answer: no `_` key, no tier

    def render_data(self) -> dict[str, Any]:
        """The answers to render the recorded release with."""
        return {**self.answers, "tier": self.tier}


def parse_answers(repo: str, text: bytes | None) -> Recorded:
    """The answers file's content, checked: an AnswersError names the repository and key."""
    where = f"{repo}: {ANSWERS_FILE}"
    if text is None:
        raise AnswersError(f"{repo}: no {ANSWERS_FILE} on HEAD: not made with copier")
    try:
        data = yaml.safe_load(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise AnswersError(f"{where} is not UTF-8 text") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "cannot be parsed"
        raise AnswersError(f"{where} is not valid YAML{at}: {problem}") from None
    if not isinstance(data, dict):
        raise AnswersError(f"{where} is not a mapping of answers")
    for key in ("_src_path", "_commit"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise AnswersError(f"{where} has no {key}: cannot tell the template release")
    if "tier" not in data:
        raise AnswersError(
            f"{where} records no tier: made from another template ({data['_src_path']})"
        )
    answers = {
        key: value
        for key, value in sorted(data.items())
        if not str(key).startswith("_") and key != "tier"
    }
    return Recorded(data["_src_path"], data["_commit"], str(data["tier"]), answers)
