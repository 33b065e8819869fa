"""Measuring a model (or ensemble) on labelled data: ``python -m detector evaluate``.

Two levels, each measured with the same metrics (``detector.metrics``) and percentile bootstrap intervals:

- **crop**: labelled face crops, each scored once. When the label file has a ``group`` column (the DFDC crops':
  the source video), the bootstrap resamples whole groups, because a fake and its source are not independent.
- **video**: labelled videos, each run through the whole pipeline (``pipeline.analyze``); the video's
  ``fake_probability`` is its score and the video's file is its id. A video the checker abstains on (UNCERTAIN
  without a probability: too few usable faces) has no score: it is counted as an abstention and left out of the
  metrics. A video that cannot be read is counted as an error and left out too.

Probabilities are those ``FaceScorer.score`` returns: calibrated by each model's card.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from detector.config import AnalysisConfig
from detector.errors import DetectorError
from detector.evaluation import metrics
from detector.models import model_card
from detector.training import datasets
from detector.types import DecisionThresholds

if TYPE_CHECKING:
    from detector.analysis.faces import FaceDetector
    from detector.analysis.scoring import EnsembleScorer

logger = logging.getLogger(__name__)

RESAMPLES = 1000
SEED = 0
CONFIDENCE = 0.95


@dataclass(frozen=True)
class LevelEvaluation:
    """The measurement of one level (``"crop"`` or ``"video"``).

    ``labels`` and ``probabilities`` are ``(N,)`` over the samples that have a probability, ``ids`` names them.
    ``abstentions`` and ``errors`` are the samples left out (file names; file and message).
    """

    level: str
    ids: tuple[str, ...]
    labels: np.ndarray
    probabilities: np.ndarray
    data: dict[str, Any]
    metrics: dict[str, Any]
    intervals: dict[str, Any]
    decisions: dict[str, Any]
    abstentions: tuple[str, ...] = ()
    errors: tuple[dict[str, str], ...] = ()
    per_sample: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "data": self.data,
            "metrics": self.metrics,
            "confidence_intervals": self.intervals,
            "decisions": self.decisions,
        }
        if self.level == "video":
            data["abstentions"] = {
                "count": len(self.abstentions),
                "files": list(self.abstentions),
                "note": "UNCERTAIN verdicts without a probability (too few usable faces): excluded from the metrics",
            }
            data["errors"] = list(self.errors)
            data["per_video"] = list(self.per_sample)
        return data


def measure(
    labels: np.ndarray,
    probabilities: np.ndarray,
    fake_threshold: float,
    uncertain_low: float,
    groups: np.ndarray | None = None,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Point metrics at ``fake_threshold``, their bootstrap intervals (by group when ``groups`` is given) and
    the three-way decision rates."""
    measured = metrics.classification_metrics(labels, probabilities, fake_threshold)
    intervals = metrics.bootstrap_intervals(
        labels, probabilities, fake_threshold, groups, resamples, seed, confidence=CONFIDENCE
    )
    decisions = metrics.decision_rates(labels, probabilities, fake_threshold, uncertain_low)
    return measured, intervals, decisions


def _counts(labels: np.ndarray) -> dict[str, int]:
    return {"count": int(labels.size), "count_fake": int(labels.sum()), "count_real": int(labels.size - labels.sum())}


def evaluate_crops(
    crops: datasets.CropSet,
    scorer: EnsembleScorer,
    thresholds: DecisionThresholds,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    cache_folder: Path | None = None,
    labels_file: str | None = None,
) -> LevelEvaluation:
    """Scores every crop once and measures them at ``thresholds`` (``pipeline.decision_thresholds``)."""
    images = datasets.decode_images(crops.root, crops.files, scorer.input_size, cache_folder)
    probabilities = scorer.score(images)
    grouped = any(group != name for group, name in zip(crops.groups, crops.files, strict=True))
    groups = np.asarray(crops.groups, dtype=object) if grouped else None
    measured, intervals, decisions = measure(
        crops.labels, probabilities, thresholds.fake, thresholds.uncertain_low, groups, resamples, seed
    )
    data = {
        "labels": labels_file,
        "folder": str(crops.root),
        **_counts(crops.labels),
        "groups": len(set(crops.groups)),
        "resampled_by": "group (the label file's group column)" if grouped else "crop (no group column)",
    }
    return LevelEvaluation("crop", crops.files, crops.labels, probabilities, data, measured, intervals, decisions)


def evaluate_videos(
    videos: datasets.CropSet,
    scorer: EnsembleScorer,
    config: AnalysisConfig,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    detector: FaceDetector | None = None,
    labels_file: str | None = None,
) -> LevelEvaluation:
    """Runs the pipeline on every video and measures the videos' fake probabilities.

    ``videos.files`` are relative to ``videos.root``; each file is its video's id and its own resampling unit.
    """
    from detector.analysis import pipeline  # Imported here: the crop level needs no face detector.

    thresholds = pipeline.decision_thresholds(config, scorer.thresholds_for_videos(config.aggregation))
    kept_ids, kept_labels, kept_probabilities = [], [], []
    abstentions, errors, per_video = [], [], []
    for position, (name, label) in enumerate(zip(videos.files, videos.labels, strict=True)):
        truth = "FAKE" if label else "REAL"
        try:
            result = pipeline.analyze(videos.root / name, scorer, config, detector)
        except DetectorError as error:
            logger.warning("%s: cannot analyse: %s", name, error)
            errors.append({"file": name, "error": str(error)})
            per_video.append({"file": name, "label": truth, "verdict": None, "fake_probability": None})
            continue
        verdict = result.verdict
        probability = verdict.fake_probability
        per_video.append(
            {"file": name, "label": truth, "verdict": verdict.label.value, "fake_probability": probability}
        )
        logger.info("%d/%d %s (%s): %s %s", position + 1, len(videos), name, truth, verdict.label.value, probability)
        if probability is None:
            abstentions.append(name)
            continue
        kept_ids.append(name)
        kept_labels.append(int(label))
        kept_probabilities.append(probability)
    labels = np.asarray(kept_labels, dtype=np.int32)
    probabilities = np.asarray(kept_probabilities, dtype=np.float64)
    data = {
        "labels": labels_file,
        "folder": str(videos.root),
        "videos": len(videos),
        **_counts(labels),
        "abstentions": len(abstentions),
        "errors": len(errors),
        "counted": "videos with a fake probability; abstentions and unreadable videos are excluded",
        "resampled_by": "video",
        "frames": config.frames_to_sample if config.sampling == "count" else f"every {config.frame_stride}th",
        "aggregation": config.aggregation,
    }
    if labels.size:
        measured, intervals, decisions = measure(
            labels, probabilities, thresholds.fake, thresholds.uncertain_low, None, resamples, seed
        )
    else:
        measured, intervals, decisions = {}, {}, {}
        logger.warning("no video had a fake probability: nothing to measure")
    return LevelEvaluation(
        "video",
        tuple(kept_ids),
        labels,
        probabilities,
        data,
        measured,
        intervals,
        decisions,
        tuple(abstentions),
        tuple(errors),
        tuple(per_video),
    )


# Measurements the training commands write into a card; ``evaluate --record`` may not overwrite them.
RESERVED_CARD_METRICS = frozenset({"validation", "decisions", "validation_split", "storage"})


def card_metrics(
    level: LevelEvaluation, key: str, description: str, command: str, resamples: int, seed: int
) -> dict[str, dict[str, Any]]:
    """The level's numbers as a model card keeps them: ``metrics[key]``, ``key_intervals`` and ``key_decisions``,
    each saying what it was measured on (``description``); the exact ``command`` is kept for whoever repeats it.

    Numbers the data cannot define (ROC AUC on real faces only) are left out rather than stored as null, and so
    are the accuracy and the decisions' precisions when the data holds one class: with no fakes, accuracy is one
    minus the false-positive rate, and would count every "Inconclusive" as right; every FAKE call is wrong by
    construction. Neither says anything a reader could use beyond the false-positive rate.
    """
    if not level.metrics:
        raise DetectorError("nothing was measured (no sample had a fake probability): nothing to record")
    context = {
        "data": description,
        "unit": "face crops" if level.level == "crop" else "videos",
        "measured_by": "python -m detector evaluate",
        "command": command,
    }
    one_class = min(level.metrics["count_fake"], level.metrics["count_real"]) == 0
    left_out = {"accuracy", "precision_fake", "precision_real"} if one_class else set()
    intervals = {
        name: [round(interval["low"], 4), round(interval["high"], 4)]
        for name, interval in level.intervals.items()
        if interval is not None and name not in left_out
    }
    return {
        key: {
            **{name: value for name, value in level.metrics.items() if value is not None and name not in left_out},
            **context,
        },
        f"{key}_intervals": {
            "method": f"percentile bootstrap, {resamples} resamples by {level.data['resampled_by']}, seed {seed}, "
            f"{CONFIDENCE:.0%}",
            "threshold": level.metrics["threshold"],
            **intervals,
        },
        f"{key}_decisions": {
            **{name: value for name, value in level.decisions.items() if value is not None and name not in left_out},
            **context,
        },
    }


def record_in_card(
    card: model_card.ModelCard, measurements: dict[str, dict[str, Any]], folder: Path | None = None
) -> Path:
    """Adds ``measurements`` (``card_metrics``) to the card of the model that was measured and rewrites it.

    ``card`` is the card the model was loaded with: if its weights or card changed on disk since, the numbers
    would describe another model, so nothing is written. ``calibrate`` later replaces a card's metrics, these
    included, because they depend on the calibration.
    """
    current = model_card.read_card(card.name, folder)
    if current != card:
        raise DetectorError(f"the card of {card.name!r} changed while it was measured: nothing recorded")
    model_card.verified_weights(current, folder)  # the weights too
    updated = replace(current, metrics={**current.metrics, **measurements})
    return model_card.write_card(updated, folder)


def model_descriptions(scorer: EnsembleScorer) -> list[dict[str, Any]]:
    """Name, version, sha256, thresholds and calibration of each model, as the report records them."""
    return [
        {
            "name": member.card.name,
            "version": member.card.version,
            "architecture": member.card.architecture,
            "sha256": member.card.sha256,
            "thresholds": asdict(member.card.thresholds),
            "calibration": None if member.card.calibration is None else asdict(member.card.calibration),
        }
        for member in scorer.scorers
    ]


def report(
    levels: list[LevelEvaluation],
    scorer: EnsembleScorer,
    thresholds: DecisionThresholds,
    command: str,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> dict[str, Any]:
    """The JSON report: metrics, intervals, counts, models with their sha256, data and the command."""
    calibrated = [member.card.calibration is not None for member in scorer.scorers]
    return {
        "command": command,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "models": model_descriptions(scorer),
        "ensemble": "mean of the members' probabilities" if len(scorer.scorers) > 1 else None,
        "probabilities": (
            "calibrated as each model card says (temperature or Platt scaling)"
            if all(calibrated)
            else "raw model outputs for the models without calibration in their card: "
            + ", ".join(name for name, done in zip(scorer.names, calibrated, strict=True) if not done)
        ),
        "thresholds": {
            "fake": thresholds.fake,
            "uncertain_low": thresholds.uncertain_low,
            "chosen_on": thresholds.chosen_on,
            "fitted_for_these_models": scorer.thresholds_fitted,
        },
        "bootstrap": {
            "method": "percentile",
            "resamples": resamples,
            "seed": seed,
            "confidence": CONFIDENCE,
        },
        "expected_calibration_error": f"{metrics.CALIBRATION_BINS} equal-width bins of the fake probability; its "
        "bootstrap interval is biased upward (resampling noise widens every bin's gap), so it can lie above the point "
        "estimate",
        **{level.level: level.to_dict() for level in levels},
    }


def summary_lines(levels: list[LevelEvaluation]) -> list[str]:
    """One line per level for the terminal: the main numbers with their intervals."""
    lines = []
    for level in levels:
        if not level.metrics:
            lines.append(f"{level.level}: nothing to measure ({len(level.abstentions)} abstentions)")
            continue
        parts = []
        for key, title in (
            ("roc_auc", "ROC AUC"),
            ("equal_error_rate", "EER"),
            ("log_loss", "log loss"),
            ("expected_calibration_error", "ECE"),
            ("balanced_accuracy", "balanced accuracy"),
        ):
            value, interval = level.metrics.get(key), level.intervals.get(key)
            if value is None:
                parts.append(f"{title} n/a")
            elif interval is None:
                parts.append(f"{title} {value:.3f}")
            else:
                parts.append(f"{title} {value:.3f} [{interval['low']:.3f}, {interval['high']:.3f}]")
        line = f"{level.level}: {level.metrics['count']} measured; " + ", ".join(parts)
        if level.level == "video":
            line += f"; {len(level.abstentions)} abstentions and {len(level.errors)} errors excluded"
        lines.append(line)
    return lines


def write_plots(levels: list[LevelEvaluation], folder: Path) -> list[Path]:
    """``roc.html`` and ``reliability.html`` in ``folder``, Plotly with plotly.js inside (they open offline)."""
    from detector.evaluation import plots

    folder.mkdir(parents=True, exist_ok=True)
    curves = [
        (level.level, level.labels, level.probabilities)
        for level in levels
        if level.labels.size and len(np.unique(level.labels)) == 2
    ]
    written = []
    for name, figure in (
        ("roc.html", plots.roc_figure(curves)),
        ("reliability.html", plots.reliability_figure(curves)),
    ):
        path = folder / name
        figure.write_html(path, include_plotlyjs=True, full_html=True)
        written.append(path)
    return written
