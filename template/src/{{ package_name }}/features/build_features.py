"""Features derived from the raw measurements, the same for training and serving."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: New column -> (numerator, denominator).
RATIO_FEATURES: dict[str, tuple[str, str]] = {
    "flavanoid_phenol_ratio": ("flavanoids", "total_phenols"),
    "color_hue_ratio": ("color_intensity", "hue"),
}


def add_ratio_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the ratio columns; a zero denominator gives 0, never infinity."""
    result = frame.copy()
    for name, (numerator, denominator) in RATIO_FEATURES.items():
        ratio = result[numerator] / result[denominator].replace(0, np.nan)
        result[name] = ratio.fillna(0.0)
    return result


def build_features(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """The model's input columns: everything but the target, plus derived features."""
    return add_ratio_features(frame.drop(columns=[target], errors="ignore"))


def split_features_target(
    frame: pd.DataFrame, target: str
) -> tuple[pd.DataFrame, pd.Series[Any]]:
    """Model inputs and labels from a processed split."""
    return build_features(frame, target), frame[target]
