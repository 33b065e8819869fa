"""Scoring face crops with trained Keras models.

A ``FaceScorer`` wraps one model and its card: it checks the weights against the card's sha256, reads the input
size from the card, and scores crops in fixed-size batches (a fixed batch shape keeps TensorFlow from retracing
for every new count of faces). Load once and reuse: loading costs seconds, scoring 32 crops a fraction of one.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from detector.errors import ModelCardError
from detector.models import calibration, ensemble_table, model_card, weight_storage

logger = logging.getLogger(__name__)


class FaceScorer:
    """One trained model: ``score((N, S, S, 3) uint8 RGB) -> (N,) float64`` calibrated fake probabilities."""

    def __init__(self, name: str, folder: Path | None = None, batch_size: int = 16, verify: bool = True) -> None:
        self.card = model_card.read_card(name, folder)
        if verify:
            path = model_card.verified_weights(self.card, folder)
        else:
            path = model_card.weights_path(name, folder)
            if not path.is_file():
                raise ModelCardError(f"model {name!r} has a card but no weights file {path}")
        self.model = weight_storage.load(path)
        self.batch_size = batch_size
        expected = self.model.input_shape[1]
        if expected != self.card.preprocessing.input_size:
            raise ModelCardError(
                f"{name!r}: the model takes {expected} px crops but its card says {self.card.preprocessing.input_size}"
            )

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def input_size(self) -> int:
        return self.card.preprocessing.input_size

    def score(self, crops: np.ndarray) -> np.ndarray:
        """Calibrated fake probabilities ``(N,) float64`` for ``(N, S, S, 3) uint8 RGB`` crops, S = ``input_size``.

        The card's calibration (temperature or Platt scaling, fitted on validation data) is applied here, so every
        probability the page, the command line and the reports show is calibrated, and the card's thresholds
        (chosen on calibrated probabilities) apply to it; several models' average has thresholds of its own
        (``EnsembleScorer.thresholds``). A card without calibration leaves the outputs as they
        are. ``score_uncalibrated`` gives the model's own outputs.
        """
        return calibration.apply(self.score_uncalibrated(crops), self.card.calibration)

    def score_uncalibrated(self, crops: np.ndarray) -> np.ndarray:
        """The model's raw fake probabilities ``(N,) float64`` for ``(N, S, S, 3) uint8 RGB`` crops (the mean
        over each crop and its mirror image where the card asks for ``test_time_flip``)."""
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[1:] != (self.input_size, self.input_size, 3):
            raise ValueError(f"crops must be (N, {self.input_size}, {self.input_size}, 3), got {crops.shape}")
        if len(crops) == 0:
            return np.zeros(0, np.float64)
        if self.card.preprocessing.test_time_flip:
            return (self._predict(crops) + self._predict(crops[:, :, ::-1])) / 2
        return self._predict(crops)

    def _predict(self, crops: np.ndarray) -> np.ndarray:
        outputs = []
        for start in range(0, len(crops), self.batch_size):
            batch = crops[start : start + self.batch_size].astype(np.float32)
            count = len(batch)
            if count < self.batch_size:
                batch = np.concatenate([batch, np.zeros((self.batch_size - count, *batch.shape[1:]), np.float32)])
            outputs.append(np.asarray(self.model.predict_on_batch(batch)).reshape(-1)[:count])
        probabilities = np.concatenate(outputs).astype(np.float64)
        if not np.all(np.isfinite(probabilities)):
            raise ModelCardError(f"model {self.name!r} produced non-finite scores")
        return np.clip(probabilities, 0.0, 1.0)


class EnsembleScorer:
    """Several models scoring the same crops; their mean is the ensemble's probability.

    All members must take the same input size and crop framing, so that one crop serves them all. ``thresholds``
    are the one model's, or those fitted for exactly this selection (``detector.models.ensemble_table``, in
    ``folder``); a selection the table has no current entry for borrows the first model's, and
    ``thresholds_fitted`` is False.
    """

    def __init__(self, scorers: Sequence[FaceScorer], folder: Path | None = None) -> None:
        if not scorers:
            raise ValueError("an ensemble needs at least one model")
        sizes = {scorer.input_size for scorer in scorers}
        margins = {scorer.card.preprocessing.face_margin for scorer in scorers}
        if len(sizes) > 1 or len(margins) > 1:
            raise ModelCardError(
                "models in one ensemble must share input size and face margin: "
                + ", ".join(f"{s.name} ({s.input_size} px)" for s in scorers)
            )
        self.scorers = tuple(scorers)
        cards = [scorer.card for scorer in scorers]
        # What the table measured for this selection (thresholds, validation and decision rates), when current.
        self.selection = ensemble_table.entry_for(cards, folder) if len(cards) > 1 else None
        fitted = ensemble_table.as_thresholds(self.selection) if len(cards) > 1 else cards[0].thresholds
        self.thresholds_fitted = fitted is not None
        self.thresholds: model_card.Thresholds = fitted or dataclasses.replace(
            cards[0].thresholds,
            chosen_on=f"not fitted for this selection of models (run `{ensemble_table.COMMAND}`): those of "
            f"{cards[0].name} alone, {cards[0].thresholds.chosen_on}",
        )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(scorer.name for scorer in self.scorers)

    @property
    def input_size(self) -> int:
        return self.scorers[0].input_size

    @property
    def card(self) -> model_card.ModelCard:
        """The first member's card: the crop framing the ensemble uses (every member's is the same)."""
        return self.scorers[0].card

    def score_each(self, crops: np.ndarray) -> np.ndarray:
        """``(N, M)`` probabilities, one column per model."""
        return np.stack([scorer.score(crops) for scorer in self.scorers], axis=1)

    def score(self, crops: np.ndarray) -> np.ndarray:
        return self.score_each(crops).mean(axis=1) if len(crops) else np.zeros(0, np.float64)


def load_scorer(names: Sequence[str] | str | None = None, folder: Path | None = None) -> EnsembleScorer:
    """The named models (or the default one) as an ensemble (of one, most often)."""
    if names is None or names == [] or names == ():
        names = [model_card.default_model(folder)]
    elif isinstance(names, str):
        names = [names]
    return EnsembleScorer([FaceScorer(name, folder) for name in names], folder)
