"""Thresholds for every selection of several shipped models, chosen on validation data as one model's are.

Several models selected together are scored by the mean of their calibrated probabilities
(``scoring.EnsembleScorer``). That mean needs thresholds of its own: averaging pulls probabilities towards the
middle, so no member's thresholds give the precisions its card promises, and borrowing the first member's made
the verdict depend on the order the models were picked in. ``python -m detector ensembles`` scores the DFDC
validation split once per shipped model and, for every selection of two or more, chooses the thresholds on the
calibration half by the rule single models follow (``calibrate.choose_thresholds``) and measures them on the
report half. The table, ``models/ensembles.json``, names each member's weights (sha256) and calibration: an entry
whose members changed since (retrained, recalibrated) is stale, and ``entry_for`` returns None for it rather
than guess.
"""

from __future__ import annotations

import datetime
import itertools
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detector.errors import ModelCardError
from detector.evaluation import metrics
from detector.models import model_card
from detector.models.ensemble_table import COMMAND, TABLE_FILE, TABLE_VERSION, member_fingerprint, selection_key
from detector.shipping import calibrate
from detector.training import datasets

logger = logging.getLogger(__name__)


def selections(names: Sequence[str]) -> list[tuple[str, ...]]:
    """Every selection of two or more of ``names``, smallest first."""
    ordered = sorted(names)
    return [combo for size in range(2, len(ordered) + 1) for combo in itertools.combinations(ordered, size)]


def fit_selection(
    probabilities: Mapping[str, np.ndarray],
    labels: np.ndarray,
    in_calibration_half: np.ndarray,
    data: str,
    target_precision: float = calibrate.TARGET_PRECISION,
) -> dict[str, Any]:
    """Thresholds for the mean of ``probabilities`` (model name -> calibrated probabilities of the same crops),
    chosen on the crops where ``in_calibration_half`` is true and measured on the others."""
    mean = np.mean([probabilities[name] for name in sorted(probabilities)], axis=0)
    fit, report = in_calibration_half, ~in_calibration_half
    choice = calibrate.choose_thresholds(labels[fit], mean[fit], target_precision)
    chosen_on = calibrate.choice_text(
        choice,
        target_precision,
        int(fit.sum()),
        float(labels[fit].mean()),
        "the mean of the models' calibrated probabilities",
    )
    measured_on = f"{data}, report half (groups not used for the thresholds)"
    context = {"data": measured_on, "measured_by": f"detector.shipping.ensembles ({COMMAND})"}
    measured = metrics.classification_metrics(labels[report], mean[report], choice.fake)
    decisions = metrics.decision_rates(labels[report], mean[report], choice.fake, choice.uncertain_low)
    return {
        "thresholds": {"fake": choice.fake, "uncertain_low": choice.uncertain_low, "chosen_on": chosen_on},
        "validation": {**measured, "probabilities": "mean of the models' calibrated probabilities", **context},
        "decisions": {**decisions, **context},
    }


def build_table(folder: Path | None = None, cache_folder: Path | None = Path(".cache")) -> dict[str, Any]:
    """Scores the validation split with every shipped model in ``folder`` and fits every selection of two or more.

    Needs ``../shared`` (the DFDC crops); the models are scored exactly as the page scores them (calibrated, and
    mirrored where their cards say so)."""
    from detector.analysis.scoring import FaceScorer

    folder = folder or model_card.models_folder()
    names = model_card.available_models(folder)
    if len(names) < 2:
        raise ModelCardError(f"{folder} holds {len(names)} model(s): no selection of several to fit")
    cards = {name: model_card.read_card(name, folder) for name in names}
    percents = {int(card.training.get("validation_percent", datasets.VALIDATION_PERCENT)) for card in cards.values()}
    sizes = {card.preprocessing.input_size for card in cards.values()}
    if len(percents) != 1 or len(sizes) != 1:
        raise ModelCardError(f"the models were validated on different splits or sizes: {percents}, {sizes}")
    validation, images = datasets.dfdc_validation(percents.pop(), sizes.pop(), cache_folder)
    probabilities = {}
    for name in names:
        logger.info("scoring %d validation crops with %s", len(images), name)
        probabilities[name] = FaceScorer(name, folder).score(images)
    in_half = np.array([calibrate.in_calibration_half(group) for group in validation.groups], dtype=bool)
    data = f"{datasets.VALIDATION_DATA} ({len(validation)} crops)"
    entries = {}
    for combo in selections(names):
        entry = fit_selection({name: probabilities[name] for name in combo}, validation.labels, in_half, data)
        entries[selection_key(combo)] = {
            "members": {name: member_fingerprint(cards[name]) for name in combo},
            **entry,
        }
    return {
        "version": TABLE_VERSION,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": COMMAND,
        "rule": "thresholds chosen on the calibration half of the validation groups (calibrate.in_calibration_half)"
        " by the rule single models follow; every rate measured on the report half",
        "selections": entries,
    }


def write_table(table: Mapping[str, Any], folder: Path | None = None) -> Path:
    path = (folder or model_card.models_folder()) / TABLE_FILE
    path.write_text(json.dumps(table, indent=2, sort_keys=False) + "\n")
    return path
