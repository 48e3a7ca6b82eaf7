"""Report figures, drawn with Matplotlib's object API so no display is needed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


def plot_confusion_matrix(
    y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[object], path: Path
) -> Path:
    """Save a confusion matrix with the count in each cell.

    Matplotlib is imported here: only the step that draws pays for it.
    """
    from matplotlib.figure import Figure
    from sklearn.metrics import confusion_matrix

    matrix = np.asarray(confusion_matrix(y_true, y_pred, labels=labels))
    figure = Figure(figsize=(5, 4), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes)
    ticks = range(len(labels))
    axes.set_xticks(ticks, [str(label) for label in labels])
    axes.set_yticks(ticks, [str(label) for label in labels])
    axes.set_xlabel("Predicted")
    axes.set_ylabel("Actual")
    axes.set_title("Confusion matrix")
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, str(count), ha="center", va="center")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path
