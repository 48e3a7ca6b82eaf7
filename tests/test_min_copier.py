"""The oldest copier that copier.yml admits renders the same project as the newest."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .helpers import TEMPLATE, project_files, render, run_in, tool

pytestmark = pytest.mark.build

MIN_VERSION = yaml.safe_load((TEMPLATE / "copier.yml").read_text())["_min_copier_version"]


@pytest.mark.parametrize("tier", ["small", "medium"])
def test_min_copier_version_renders_what_the_newest_does(tmp_path: Path, tier: str) -> None:
    venv = tmp_path / "old-copier"
    tool("uv")("venv", "--quiet", "--python", "3.11", venv)
    tool("uv")(
        "pip",
        "install",
        "--quiet",
        "--python",
        venv / "bin" / "python",
        f"copier=={MIN_VERSION}",
        "copier-template-extensions",
    )
    old = tmp_path / "old"
    args = ["copy", "--quiet", "--trust", "--defaults", "--vcs-ref", "HEAD", "-d", f"tier={tier}"]
    run_in(tmp_path, venv / "bin" / "copier", *args, TEMPLATE, old)
    new = render(tmp_path / "new", tier=tier)

    assert project_files(old) == project_files(new)
    differing = {n for n in project_files(new) if (old / n).read_bytes() != (new / n).read_bytes()}
    assert differing <= {".copier-answers.yml"}  # its _commit differs for a draft template
