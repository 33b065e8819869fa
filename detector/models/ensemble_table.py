"""The thresholds fitted for a selection of several shipped models, looked up when those models are loaded.

Several models selected together are scored by the mean of their calibrated probabilities
(``detector.analysis.scoring.EnsembleScorer``). That mean needs thresholds of its own: averaging pulls
probabilities towards the middle, so no member's thresholds give the precisions its card promises. The table,
``models/ensembles.json``, is written by ``detector.shipping.ensembles`` (``python -m detector ensembles``); it names
each member's weights (sha256) and calibration, so an entry whose members changed since (retrained, recalibrated)
is stale, and ``entry_for`` returns None for it rather than guess.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from detector.errors import ModelCardError
from detector.models import model_card

logger = logging.getLogger(__name__)

TABLE_FILE = "ensembles.json"
TABLE_VERSION = 1
COMMAND = "python -m detector ensembles"


def selection_key(names: Sequence[str]) -> str:
    """One key per set of models, whatever order they were picked in: ``"a+b+c"`` (sorted names)."""
    if len(set(names)) != len(names):
        raise ValueError(f"a selection names each model once, got {list(names)}")
    return "+".join(sorted(names))


def member_fingerprint(card: model_card.ModelCard) -> dict[str, Any]:
    """What a member's calibrated probabilities depend on: its weights and its calibration."""
    fitted = card.calibration
    return {
        "sha256": card.sha256,
        "calibration": None
        if fitted is None
        else {"method": fitted.method, "temperature": fitted.temperature, "bias": fitted.bias},
    }


def read_table(folder: Path | None = None) -> dict[str, Any]:
    """The table in ``folder``, or an empty one when there is none (or it is not this version's)."""
    path = (folder or model_card.models_folder()) / TABLE_FILE
    if not path.is_file():
        return {"selections": {}}
    try:
        table = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ModelCardError(f"{path} is not valid JSON: {error}") from error
    if table.get("version") != TABLE_VERSION:
        logger.warning("%s is version %s, not %s: ignored", path, table.get("version"), TABLE_VERSION)
        return {"selections": {}}
    return table


def entry_for(cards: Sequence[model_card.ModelCard], folder: Path | None = None) -> dict[str, Any] | None:
    """The table's entry for exactly these models with exactly these weights, or None (missing or stale; a model
    named twice is no selection the table fits)."""
    names = [card.name for card in cards]
    if len(set(names)) != len(names):
        return None
    entry = read_table(folder)["selections"].get(selection_key(names))
    if entry is None or entry["members"] != {card.name: member_fingerprint(card) for card in cards}:
        return None
    return entry


def as_thresholds(entry: Mapping[str, Any] | None) -> model_card.Thresholds | None:
    """An entry's thresholds as a card's, or None for no entry."""
    if entry is None:
        return None
    chosen = entry["thresholds"]
    return model_card.Thresholds(
        fake=chosen["fake"], uncertain_low=chosen["uncertain_low"], chosen_on=chosen["chosen_on"]
    )
