"""The LICENSE travels in the wheel and the sdist, with either build backend.

Each project is built as its team would (`uv build`, `poetry build`) and the two
archives are opened: the file is there and the metadata names it (PEP 639).
"""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

import pytest

from .helpers import public_index_url, render, run_in

pytestmark = pytest.mark.build

#: How each package manager builds the wheel and the sdist into dist/.
BUILD = {
    "uv": ("uv", "build", "--quiet", "--out-dir", "dist"),
    "poetry": ("poetry", "build", "--quiet", "--output", "dist"),
}


@pytest.fixture(scope="module", params=[(m, lic) for m in BUILD for lic in ("MIT", "Proprietary")],
                ids="-".join)  # fmt: skip
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """A medium project's wheel and sdist."""
    manager, license_name = request.param
    index = {"package_index_url": public_index_url()} if manager == "poetry" else {}
    dst = render(tmp_path_factory.mktemp("packaging") / "project", package_manager=manager,
                 license=license_name, **index)  # fmt: skip
    run_in(dst, *BUILD[manager])
    (wheel,) = (dst / "dist").glob("*.whl")
    (sdist,) = (dst / "dist").glob("*.tar.gz")
    return wheel, sdist


def test_the_wheel_holds_the_license_and_its_metadata_names_it(built: tuple[Path, Path]) -> None:
    wheel, _ = built
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [name for name in names if name.endswith(".dist-info/METADATA")]
        fields = archive.read(metadata).decode().splitlines()
    assert metadata.replace("METADATA", "licenses/LICENSE") in names
    assert "License-File: LICENSE" in fields


def test_the_sdist_holds_the_license(built: tuple[Path, Path]) -> None:
    _, sdist = built
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    (root,) = {name.split("/")[0] for name in names}
    assert f"{root}/LICENSE" in names
