"""All or nothing: an update that fails after our ``before`` step leaves no trace.

Copier writes the new release straight into the project, then merges, then runs the
``after`` migration; when anything on the way fails it exits with the project half
written. This hook runs inside copier's process (it is loaded as a Jinja extension, so
it sees every render's destination) and, at exit, rolls back any update whose ``after``
step did not finish (extensions/keep_team_work.py ``rollback``).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from copier_template_extensions import ContextHook

_GUARDED: set[str] = set()


def _keep_team_work() -> Any:
    path = Path(__file__).with_name("keep_team_work.py")
    spec = importlib.util.spec_from_file_location("copier_ml_keep_team_work", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def roll_back_if_unfinished(project: Path, steps: Any) -> None:
    if not (project / ".git").exists():
        return  # a copy, or copier's own temporary render: nothing was updated
    state = steps._load(steps.stash_dir(project))
    if state.get("copier_pid") != os.getpid():
        return  # recorded by another process: not ours to undo
    if steps.rollback(project):
        print(
            "copier-ml: the update stopped with the error above, so your project was put"
            " back as it was (files and git index; nothing is left in .git). Fix the cause,"
            " then run the same `copier update` command again.",
            file=sys.stderr,
        )


class UpdateGuard(ContextHook):
    """Registers, once per destination, the rollback that runs when copier exits."""

    def hook(self, context: dict[str, Any]) -> None:
        destination = str(context["_copier_conf"]["dst_path"])
        if destination not in _GUARDED:
            _GUARDED.add(destination)
            # Loaded now: by exit time copier has deleted its clone of the template.
            steps = _keep_team_work()
            atexit.register(roll_back_if_unfinished, Path(destination).resolve(), steps)
