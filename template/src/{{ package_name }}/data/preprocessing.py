"""Cleaning and splitting, kept apart from loading so each can be tested alone."""

from __future__ import annotations

import pandas as pd


def clean(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop exact duplicate rows and rows with missing values."""
    return frame.drop_duplicates().dropna().reset_index(drop=True)


def split(
    frame: pd.DataFrame, target: str, test_size: float, random_state: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A stratified split, so train and test keep the class balance."""
    from sklearn.model_selection import train_test_split

    if target not in frame.columns:
        raise KeyError(f"target column {target!r} is not in the data")
    train: pd.DataFrame
    test: pd.DataFrame
    train, test = train_test_split(
        frame, test_size=test_size, random_state=random_state, stratify=frame[target]
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)
