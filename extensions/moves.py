"""What each release moved or stopped generating: the record `copier update` follows.

Copier merges a team's edits only into files that keep their path. A release that
renames a file records the move here, and one that stops generating a file on purpose
records the removal, so that the update can land the team's edits at the file's newest
path, from any release to any later one. tests/test_same_output.py fails when a path
the previous release rendered disappears without an entry here.

Paths are the generated project's; ``{package}`` stands for the package folder's name.
Run by the migrations (extensions/keep_team_work.py), under the interpreter that runs
copier, which has `packaging`; read by the tests.
"""

from __future__ import annotations

from packaging.version import Version

#: Old path to new, by the release that moved it.
MOVES: dict[str, dict[str, str]] = {
    "0.2.0": {
        "tests/test_data.py": "tests/unit/test_data.py",
        "tests/test_features.py": "tests/unit/test_features.py",
        "tests/test_models.py": "tests/unit/test_models.py",
        "tests/test_tracking.py": "tests/unit/test_tracking.py",
        "tests/test_validate.py": "tests/unit/test_validate.py",
        "tests/test_serving.py": "tests/unit/test_serving.py",
        "tests/test_pipelines.py": "tests/integration/test_pipelines.py",
        "tests/test_serving_e2e.py": "tests/e2e/test_pipeline_to_server.py",
    },
}

#: Paths a release stopped generating on purpose; an edited one is put back for the team.
REMOVED: dict[str, list[str]] = {
    # 0.4.0 split the helpers by job (config, config_loader, cli, files).
    "0.4.0": ["src/{package}/utils/helpers.py"],
}


def _between(since: str, until: str, table: dict[str, object]) -> list[str]:
    """The releases of a table that an update from ``since`` to ``until`` crosses, in order."""
    low, high = Version(since), Version(until)
    return sorted((r for r in table if low < Version(r) <= high), key=Version)


def moves_between(since: str, until: str, package: str = "") -> dict[str, str]:
    """Each path moved on the way from ``since`` to ``until``, to its newest path.

    Moves chain: a file moved by one release and again by a later one goes straight to
    its last path.
    """
    chained: dict[str, str] = {}
    for release in _between(since, until, MOVES):
        for old, new in MOVES[release].items():
            old, new = (path.replace("{package}", package) for path in (old, new))
            for start, end in chained.items():
                if end == old:
                    chained[start] = new
            chained.setdefault(old, new)
    return chained


def removed_between(since: str, until: str, package: str = "") -> set[str]:
    """The paths that the releases from ``since`` to ``until`` stopped generating."""
    return {
        path.replace("{package}", package)
        for release in _between(since, until, REMOVED)
        for path in REMOVED[release]
    }
