"""A small PyTorch network with scikit-learn's classifier interface.

``MLPClassifier`` is a multilayer perceptron, seeded and deterministic: two trainings
with the same ``random_state`` give the same weights. It has ``fit``, ``predict`` and
``classes_`` like any scikit-learn classifier, so it follows the scaler in the same
``Pipeline`` and works with ``cross_val_score``.

``pipeline_state`` turns a trained pipeline into plain tensors, lists and numbers for
``torch.save``; ``pipeline_from_state`` rebuilds it from what
``torch.load(path, weights_only=True)`` reads, so loading a model runs no pickled code.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from torch import nn
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

logger = logging.getLogger(__name__)

#: A log line every this many epochs, and after the last one.
LOG_EVERY = 10
#: The layout of a saved model; a file with another one is refused, with the reason.
STATE_VERSION = 1


def build_network(
    n_features: int, hidden_sizes: Sequence[int], n_classes: int
) -> nn.Sequential:
    """Linear layers with ReLU between them, ending in one logit per class."""
    layers: list[nn.Module] = []
    width = n_features
    for size in hidden_sizes:
        layers += [nn.Linear(width, int(size)), nn.ReLU()]
        width = int(size)
    layers.append(nn.Linear(width, n_classes))
    return nn.Sequential(*layers)


@contextmanager
def reproducible(seed: int) -> Iterator[torch.Generator]:
    """Seeded weights, a seeded generator for shuffling, deterministic kernels.

    The global random state and the deterministic setting are restored afterwards.
    """
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True)
        try:
            yield torch.Generator().manual_seed(seed)
        finally:
            torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


@contextmanager
def threads(count: int) -> Iterator[None]:
    """Run torch's CPU kernels on ``count`` threads, then restore the setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_positive_int(value: Any) -> bool:
    return _is_int(value) and value > 0


class MLPClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A multilayer perceptron classifier trained with Adam on cross-entropy.

    Args:
        hidden_sizes: the width of each hidden layer, in order.
        epochs: passes over the training data.
        learning_rate: Adam's step size.
        batch_size: rows per gradient step.
        random_state: the seed of the initial weights and of the shuffling.
        device: where training runs: ``"auto"``, a GPU when torch sees one and else
            the CPU, or a torch device such as ``"cpu"`` or ``"cuda"`` (refused when
            torch sees no GPU). The trained network always predicts on the CPU.
        num_threads: CPU threads for training. One is fastest for a network this
            small, and leaves the other cores free; raise it for wide layers.
    """

    def __init__(
        self,
        hidden_sizes: Sequence[int] = (64, 32),
        epochs: int = 60,
        learning_rate: float = 0.001,
        batch_size: int = 32,
        random_state: int = 0,
        device: str = "auto",
        num_threads: int = 1,
    ) -> None:
        self.hidden_sizes = hidden_sizes
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.random_state = random_state
        self.device = device
        self.num_threads = num_threads

    def _check_hyperparameters(self) -> None:
        """Refuse every bad hyperparameter at once, naming each and what it must be."""
        problems = []
        # Any: a config may hold anything, whatever the annotations say.
        sizes: Any = self.hidden_sizes
        if (
            isinstance(sizes, str)
            or not isinstance(sizes, Sequence)
            or not sizes
            or not all(_is_positive_int(size) for size in sizes)
        ):
            problems.append(
                f"hidden_sizes must be a non-empty list of positive integers, "
                f"got {sizes!r}"
            )
        for name in ("epochs", "batch_size", "num_threads"):
            value = getattr(self, name)
            if not _is_positive_int(value):
                problems.append(f"{name} must be a positive integer, got {value!r}")
        rate: Any = self.learning_rate
        if (
            isinstance(rate, bool)
            or not isinstance(rate, numbers.Real)
            or not math.isfinite(rate)
            or rate <= 0
        ):
            problems.append(f"learning_rate must be a positive number, got {rate!r}")
        if not _is_int(self.random_state):
            problems.append(
                f"random_state must be an integer seed, got {self.random_state!r}"
            )
        try:
            device = self.training_device()
        except (RuntimeError, TypeError):
            problems.append(
                f"device must be 'auto' or a torch device such as 'cpu' or 'cuda', "
                f"got {self.device!r}"
            )
        else:
            if device.type == "cuda" and not torch.cuda.is_available():
                problems.append(
                    f"device {self.device!r} needs a GPU, and torch sees none (a CPU "
                    "build of torch, or no NVIDIA driver): remove it to train on the CPU"
                )
        if problems:
            raise ValueError(f"{type(self).__name__}: {'; '.join(problems)}")

    def training_device(self) -> torch.device:
        """The device ``fit`` trains on: the configured one, or with ``"auto"`` the
        GPU when torch sees one, else the CPU."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def fit(self, X: ArrayLike, y: ArrayLike) -> MLPClassifier:  # noqa: N803
        """Train a fresh network on the rows of ``X`` and their classes ``y``."""
        self._check_hyperparameters()
        features = torch.as_tensor(np.asarray(X, dtype=np.float32))
        classes, encoded = np.unique(np.asarray(y), return_inverse=True)
        labels = torch.as_tensor(encoded.reshape(-1), dtype=torch.int64)
        if features.ndim != 2 or len(features) != len(labels):
            raise ValueError(
                f"expected a 2-d X with one row per label, got X of shape "
                f"{tuple(features.shape)} and {len(labels)} labels"
            )
        device = self.training_device()
        logger.info("Training on %s", device)
        if device.type == "cuda":  # pragma: no cover - needs a GPU
            # cuBLAS is deterministic only with a fixed workspace.
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        with threads(self.num_threads), reproducible(self.random_state) as generator:
            network = build_network(
                features.shape[1], self.hidden_sizes, len(classes)
            ).to(device)
            self._train(network, features.to(device), labels.to(device), generator)
        self.network_ = network.cpu().eval()
        self.classes_ = classes
        self.n_features_in_ = int(features.shape[1])
        return self

    def _train(
        self,
        network: nn.Module,
        features: torch.Tensor,
        labels: torch.Tensor,
        generator: torch.Generator,
    ) -> None:
        optimizer = torch.optim.Adam(network.parameters(), lr=float(self.learning_rate))
        loss_function = nn.CrossEntropyLoss()
        rows = len(labels)
        network.train()
        # The bar draws only on a terminal (disable=None); log lines go around it.
        epochs = tqdm(
            range(1, self.epochs + 1),
            desc="training",
            unit="epoch",
            disable=None,
            leave=False,
        )
        with logging_redirect_tqdm():
            for epoch in epochs:
                total = 0.0
                order = torch.randperm(rows, generator=generator)
                for batch in torch.split(order.to(features.device), self.batch_size):
                    optimizer.zero_grad()
                    loss = loss_function(network(features[batch]), labels[batch])
                    loss.backward()
                    optimizer.step()
                    total += loss.item() * len(batch)
                mean_loss = total / rows
                epochs.set_postfix(loss=f"{mean_loss:.3f}", refresh=False)
                if epoch % LOG_EVERY == 0 or epoch == self.epochs:
                    logger.info("epoch %d/%d loss %.3f", epoch, self.epochs, mean_loss)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "network_")

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:  # noqa: N803
        """The probability of each class (columns in ``classes_`` order) per row."""
        check_is_fitted(self)
        features = np.asarray(X, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has shape {features.shape}, but {type(self).__name__} expects "
                f"{self.n_features_in_} features per row"
            )
        with torch.no_grad():
            logits = self.network_(torch.as_tensor(features))
            probabilities = torch.softmax(logits, dim=1)
        return probabilities.numpy().astype(np.float64)

    def predict(self, X: ArrayLike) -> NDArray[Any]:  # noqa: N803
        """The most probable class of each row."""
        best = self.predict_proba(X).argmax(axis=1)
        classes: NDArray[Any] = self.classes_[best]
        return classes


def pipeline_state(pipeline: Pipeline) -> dict[str, Any]:
    """A trained scaler-and-network pipeline as tensors, lists and numbers only."""
    scaler: StandardScaler = pipeline.named_steps["scale"]
    model: MLPClassifier = pipeline.named_steps["model"]
    check_is_fitted(model)
    names = getattr(scaler, "feature_names_in_", None)
    return {
        "version": STATE_VERSION,
        "feature_names": None if names is None else [str(name) for name in names],
        "scaler_mean": scaler.mean_.tolist(),
        "scaler_scale": scaler.scale_.tolist(),
        "scaler_samples": int(np.max(scaler.n_samples_seen_)),
        "classes": model.classes_.tolist(),
        "hyperparameters": {
            "hidden_sizes": [int(size) for size in model.hidden_sizes],
            "epochs": int(model.epochs),
            "learning_rate": float(model.learning_rate),
            "batch_size": int(model.batch_size),
            "random_state": int(model.random_state),
            "device": str(model.device),
            "num_threads": int(model.num_threads),
        },
        "network": model.network_.state_dict(),
    }


def pipeline_from_state(state: dict[str, Any]) -> Pipeline:
    """The pipeline ``pipeline_state`` described, ready to predict."""
    version = state.get("version")
    if version != STATE_VERSION:
        raise ValueError(
            f"saved model format {version!r} is not {STATE_VERSION}: "
            "retrain it with `make train`"
        )
    scaler = StandardScaler()
    scaler.mean_ = np.asarray(state["scaler_mean"], dtype=np.float64)
    scaler.scale_ = np.asarray(state["scaler_scale"], dtype=np.float64)
    scaler.var_ = scaler.scale_**2
    scaler.n_samples_seen_ = state["scaler_samples"]
    scaler.n_features_in_ = len(scaler.mean_)
    if state["feature_names"] is not None:
        scaler.feature_names_in_ = np.asarray(state["feature_names"], dtype=object)

    model = MLPClassifier(**state["hyperparameters"])
    model.classes_ = np.asarray(state["classes"])
    model.n_features_in_ = scaler.n_features_in_
    network = build_network(
        model.n_features_in_, model.hidden_sizes, len(model.classes_)
    )
    network.load_state_dict(state["network"])
    model.network_ = network.eval()
    return Pipeline([("scale", scaler), ("model", model)])
