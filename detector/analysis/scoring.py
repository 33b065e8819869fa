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
from typing import Any

import numpy as np

from detector.errors import ModelCardError
from detector.models import calibration, ensemble_table, model_card, tflite, weight_storage

logger = logging.getLogger(__name__)


RUNTIMES = ("auto", "keras")


class FaceScorer:
    """One trained model: ``score((N, S, S, 3) uint8 RGB) -> (N,) float64`` calibrated fake probabilities.

    Scores with the model's TensorFlow Lite copy when its card records one (``detector.shipping.lite``: the same
    numbers, checked when it was made, without loading TensorFlow), else with the Keras model; ``runtime="keras"``
    always uses Keras. ``model``, the Keras model, is loaded when first asked for (explanations need it).
    """

    def __init__(
        self,
        name: str,
        folder: Path | None = None,
        batch_size: int = 16,
        verify: bool = True,
        num_threads: int | None = None,
        runtime: str = "auto",
    ) -> None:
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
        self.card = model_card.read_card(name, folder)
        self.batch_size = batch_size
        self._folder, self._verify = folder, verify
        self._model = None
        self.lite = self._lite_copy(num_threads) if runtime == "auto" else None
        if self.lite is None:
            self._load_keras()
        elif self.lite.input_size != self.card.preprocessing.input_size:
            raise ModelCardError(
                f"{name!r}: its TensorFlow Lite copy takes {self.lite.input_size} px crops but its card says "
                f"{self.card.preprocessing.input_size}"
            )

    def _lite_copy(self, num_threads: int | None) -> tflite.LiteClassifier | None:
        recorded = self.card.extra.get("tflite")
        if not recorded:
            return None
        path = (self._folder or model_card.models_folder()) / recorded["file"]
        if not path.is_file():
            logger.warning("%s: its TensorFlow Lite copy %s is missing; scoring with Keras", self.card.name, path)
            return None
        if self._verify and model_card.file_sha256(path) != recorded["sha256"]:
            raise ModelCardError(f"{path} does not match the sha256 in the card of {self.card.name!r}")
        return tflite.LiteClassifier(path, num_threads, self.batch_size)

    def _load_keras(self) -> Any:
        if self._verify:
            path = model_card.verified_weights(self.card, self._folder)
        else:
            path = model_card.weights_path(self.card.name, self._folder)
            if not path.is_file():
                raise ModelCardError(f"model {self.card.name!r} has a card but no weights file {path}")
        self._model = weight_storage.load(path)
        expected = self._model.input_shape[1]
        if expected != self.card.preprocessing.input_size:
            raise ModelCardError(
                f"{self.card.name!r}: the model takes {expected} px crops but its card says "
                f"{self.card.preprocessing.input_size}"
            )
        return self._model

    @property
    def model(self) -> Any:
        """The Keras model (loaded on first use when the scores come from the TensorFlow Lite copy)."""
        return self._model if self._model is not None else self._load_keras()

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
        if self.lite is not None:
            return self._checked(self.lite.predict(crops))
        return self._checked(tflite.predict_in_batches(crops, self.batch_size, self.model.predict_on_batch))

    def _checked(self, probabilities: np.ndarray) -> np.ndarray:
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

    def thresholds_for_videos(self, strategy: str) -> model_card.Thresholds:
        """The thresholds a whole video aggregated by ``strategy`` is decided with: one model's fitted on clips
        (``ModelCard.thresholds_for_videos``) where its card has them; for several models' average, or a card
        without them, the crop thresholds (``thresholds``), whose ``chosen_on`` says so."""
        if len(self.scorers) == 1 and strategy in self.scorers[0].card.video_thresholds:
            return self.scorers[0].card.video_thresholds[strategy]
        return dataclasses.replace(
            self.thresholds,
            chosen_on=f"single face crops, not clips (no video thresholds fitted for the {strategy!r} aggregation): "
            f"{self.thresholds.chosen_on}",
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


def load_scorer(
    names: Sequence[str] | str | None = None,
    folder: Path | None = None,
    num_threads: int | None = None,
    runtime: str = "auto",
) -> EnsembleScorer:
    """The named models (or the default one) as an ensemble (of one, most often). ``num_threads`` limits the
    TensorFlow Lite copies' threads (None: every core); ``runtime="keras"`` scores with Keras even where a
    TensorFlow Lite copy exists."""
    if names is None or names == [] or names == ():
        names = [model_card.default_model(folder)]
    elif isinstance(names, str):
        names = [names]
    scorers = [FaceScorer(name, folder, num_threads=num_threads, runtime=runtime) for name in names]
    return EnsembleScorer(scorers, folder)
