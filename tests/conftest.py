"""Fixtures shared by several test modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import template_release

#: The tag the `release` fixture carries.
RELEASE = "v0.1.0"


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This working tree, committed and tagged in a repository of its own; never changed."""
    return template_release(tmp_path_factory.mktemp("tagged-release") / "copier-ml", RELEASE)
