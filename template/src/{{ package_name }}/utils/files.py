"""Reading the files the pipeline steps share, with errors that say what to run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; the error names the file when it is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: config file not found")
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(content, dict):
        raise ValueError(f"{path}: expected a mapping of settings at the top level")
    return content


def read_csv(path: Path, hint: str) -> pd.DataFrame:
    """Read a pipeline file, saying which step makes it when it is missing."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `{hint}` first")
    return pd.read_csv(path)
