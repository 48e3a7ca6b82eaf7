"""The suite's own machinery: each build project is installed once, on one worker."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from plumbum import local

from .helpers import TEMPLATE

PROBE = """
import os
from pathlib import Path

import pytest

def _record(group: str) -> None:
    folder = Path(os.environ["PROBE_OUT"])
    (folder / f"{group}-{os.environ['PYTEST_XDIST_WORKER']}").touch()

@pytest.fixture(scope="module", params=[
    pytest.param(name, marks=pytest.mark.xdist_group(name)) for name in ("a", "b")
])
def project(request: pytest.FixtureRequest) -> str:
    return request.param

@pytest.mark.parametrize("step", range(6))
def test_step(project: str, step: int) -> None:
    _record(project)
"""


def test_xdist_keeps_each_group_on_one_worker(tmp_path: Path) -> None:
    """With `--dist loadgroup` (pyproject.toml), a group's tests share one worker, so a
    module fixture that installs a project runs once per group, not once per worker."""
    (tmp_path / "test_probe.py").write_text(PROBE)
    out = tmp_path / "out"
    out.mkdir()
    settings = tomllib.loads((TEMPLATE / "pyproject.toml").read_text())
    addopts = " ".join(settings["tool"]["pytest"]["ini_options"]["addopts"])
    with local.cwd(tmp_path), local.env(PROBE_OUT=str(out)):
        local[sys.executable]("-m", "pytest", "-n", "2", "-p", "no:cacheprovider",
                              "-o", f"addopts={addopts}", "test_probe.py")  # fmt: skip
    workers = sorted(path.name for path in out.iterdir())
    assert [name.split("-")[0] for name in workers] == ["a", "b"], workers
