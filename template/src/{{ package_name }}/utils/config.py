"""The settings every pipeline step reads, as typed values.

A config loader (config_loader.py) composes the settings from configs/; this module
checks them and turns them into the dataclasses the steps take.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

_T = TypeVar("_T")


class ConfigError(ValueError):
    """A setting that cannot be read: a bad override, a missing or mistyped value."""


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
    #: The least each metric must reach (``make validate-model``); empty: no gate.
    thresholds: dict[str, float] = field(default_factory=dict)
    #: How far each metric may fall below a baseline's (``make validate-model
    #: BASELINE=...``); empty: no comparison.
    max_drop: dict[str, float] = field(default_factory=dict)

    @property
    def train_path(self) -> Path:
        return self.processed_dir / "train.csv"

    @property
    def test_path(self) -> Path:
        return self.processed_dir / "test.csv"


def _setting(settings: Mapping[str, Any], key: str, source: str) -> Any:
    """The value at a dotted key; the error names the key and the config."""
    value: Any = settings
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise ConfigError(f"{source}: missing setting {key!r}")
        value = value[part]
    return value


def _typed(
    kind: Callable[[Any], _T], settings: Mapping[str, Any], key: str, source: str
) -> _T:
    value = _setting(settings, key, source)
    try:
        return kind(value)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{source}: setting {key!r} = {value!r}: {error}") from error


def _mapping(value: Any, key: str, source: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{source}: setting {key!r} must be a mapping, got {value!r}")
    return {str(name): item for name, item in value.items()}


def _model_config(settings: Mapping[str, Any], source: str) -> ModelConfig:
    """The model in either shape: hyperparameters under ``params:``, or beside ``name``."""
    model = _mapping(_setting(settings, "model", source), "model", source)
    params = _mapping(model.get("params"), "model.params", source)
    params.update({k: v for k, v in model.items() if k not in ("name", "params")})
    return ModelConfig(name=_typed(str, settings, "model.name", source), params=params)


def to_training_config(settings: DictConfig, source: str | Path) -> TrainingConfig:
    """The typed config of loaded settings; ``source`` names them in errors."""
    source = str(source)
    try:
        tree = OmegaConf.to_container(settings, resolve=True)
    except OmegaConfBaseException as error:
        raise ConfigError(f"{source}: {error}") from error
    values = _mapping(tree, "(top level)", source)
    thresholds = _mapping(values.get("thresholds"), "thresholds", source)
    max_drop = _mapping(values.get("max_drop"), "max_drop", source)
    return TrainingConfig(
        raw_path=_typed(Path, values, "data.raw_path", source),
        processed_dir=_typed(Path, values, "data.processed_dir", source),
        target=_typed(str, values, "data.target", source),
        test_size=_typed(float, values, "data.test_size", source),
        random_state=_typed(int, values, "data.random_state", source),
        model_path=_typed(Path, values, "model_path", source),
        reports_dir=_typed(Path, values, "reports_dir", source),
        experiment_name=_typed(str, values, "experiment_name", source),
        model=_model_config(values, source),
        thresholds={
            name: _typed(float, values, f"thresholds.{name}", source)
            for name in thresholds
        },
        max_drop={
            name: _typed(float, values, f"max_drop.{name}", source) for name in max_drop
        },
    )
