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
    """Registers the rollback that runs when copier exits, once per render of a project.

    Copier builds one Jinja environment, so one of these, for each render: the first
    context tells where it renders. Only a git repository can be updated; copier's own
    temporary renders have none while they render.
    """

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self._seen = False

    def hook(self, context: dict[str, Any]) -> None:
        if self._seen:
            return
        self._seen = True
        destination = Path(str(context["_copier_conf"]["dst_path"])).resolve()
        if str(destination) not in _GUARDED and (destination / ".git").exists():
            _GUARDED.add(str(destination))
            # Loaded now: by exit time copier has deleted its clone of the template.
            atexit.register(roll_back_if_unfinished, destination, _keep_team_work())
