"""Configuration, data files and logging shared by every pipeline step."""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

DEFAULT_CONFIG = Path("configs/training/default.yaml")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass(frozen=True)
class ModelConfig:
    """Which estimator to train, and its hyperparameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingConfig:
    """Where the data and outputs live, how to split, and the model to train."""

    raw_path: Path
    processed_dir: Path
    target: str
    test_size: float
    random_state: int
    model_path: Path
    reports_dir: Path
    experiment_name: str
    model: ModelConfig

    @property
    def train_path(self) -> Path:
        return self.processed_dir / "train.csv"

    @property
    def test_path(self) -> Path:
        return self.processed_dir / "test.csv"


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; the error names the file when it is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: config file not found")
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(content, dict):
        raise ValueError(f"{path}: expected a mapping of settings at the top level")
    return content


def load_config(path: str | Path) -> TrainingConfig:
    """Load a training config and the model config it points to."""
    settings = load_yaml(path)
    try:
        data = settings["data"]
        model = load_yaml(settings["model_config"])
        return TrainingConfig(
            raw_path=Path(data["raw_path"]),
            processed_dir=Path(data["processed_dir"]),
            target=str(data["target"]),
            test_size=float(data["test_size"]),
            random_state=int(data["random_state"]),
            model_path=Path(settings["model_path"]),
            reports_dir=Path(settings["reports_dir"]),
            experiment_name=str(settings["experiment_name"]),
            model=ModelConfig(
                name=str(model["name"]), params=model.get("params") or {}
            ),
        )
    except KeyError as error:
        raise ValueError(f"{path}: missing setting {error}") from error


def read_csv(path: Path, hint: str) -> pd.DataFrame:
    """Read a pipeline file, saying which step makes it when it is missing."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `{hint}` first")
    return pd.read_csv(path)


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT)


def config_from_cli(description: str | None, argv: list[str] | None) -> TrainingConfig:
    """Parse ``--config`` for a pipeline step, set up logging and load the config."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    args = parser.parse_args(argv)
    setup_logging()
    return load_config(args.config)
