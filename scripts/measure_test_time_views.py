"""Measures whether scoring more views of each crop than the crop and its mirror ranks DFDC crops better.

Every shipped card scores a crop as it is and mirrored (``preprocessing.test_time_flip``). This scores the DFDC
validation split with each named model under more views, each also mirrored: the crop zoomed in (its centre
``--zoom`` of the side, resized back) and shifted by ``--shift`` px down-right and up-left. Printed: ROC AUC on the
report half of the validation groups (the half no calibration was fitted on) for the views as shipped, each extra
view added alone, and all of them; then the same for the mean of the models' calibrated probabilities, as the page
averages a selection. Each view costs one more pair of network passes per crop.

Run from the repository root (needs ``../shared``)::

    python -m scripts.measure_test_time_views compact_v1 compact_v1_utk compact_both_utk
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from detector.evaluation import metrics
from detector.models import calibration, model_card, weight_storage
from detector.shipping import calibrate, ship
from detector.training import datasets


def zoomed(images: np.ndarray, keep: float) -> np.ndarray:
    """``(N, S, S, 3) uint8`` crops' centre ``keep`` of the side, resized back to ``S``."""
    side = images.shape[1]
    margin = round(side * (1 - keep) / 2)
    return np.stack(
        [cv2.resize(image[margin : side - margin, margin : side - margin], (side, side)) for image in images]
    )


def shifted(images: np.ndarray, pixels: int) -> np.ndarray:
    """Crops moved ``pixels`` down and right (negative: up and left), wrapping at the border."""
    return np.roll(images, (pixels, pixels), axis=(1, 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="shipped model names (models/NAME.json)")
    parser.add_argument("--zoom", type=float, default=0.9, help="share of the side kept by the zoomed view")
    parser.add_argument("--shift", type=int, default=8, help="pixels (at 224) the shifted views move")
    parser.add_argument("--cache-folder", type=Path, default=Path(".cache"))
    arguments = parser.parse_args()

    folder = model_card.models_folder()
    cards = [model_card.read_card(name, folder) for name in arguments.models]
    percent = int(cards[0].training.get("validation_percent", datasets.VALIDATION_PERCENT))
    validation, images = datasets.dfdc_validation(percent, cards[0].preprocessing.input_size, arguments.cache_folder)
    report = np.array([not calibrate.in_calibration_half(group) for group in validation.groups])
    views = {
        "as shipped": images,
        "zoom": zoomed(images, arguments.zoom),
        "shift +": shifted(images, arguments.shift),
        "shift -": shifted(images, -arguments.shift),
    }
    extra = [name for name in views if name != "as shipped"]
    choices = {"as shipped": ["as shipped"], **{f"+ {name}": ["as shipped", name] for name in extra}}
    choices["all"] = list(views)

    def auc(probabilities: np.ndarray) -> float:
        return float(metrics.classification_metrics(validation.labels[report], probabilities[report])["roc_auc"])

    calibrated: dict[str, dict[str, np.ndarray]] = {choice: {} for choice in choices}
    for card in cards:
        model = weight_storage.load(model_card.verified_weights(card, folder))
        scores = {name: ship.predict(model, view, mirror=True) for name, view in views.items()}
        for choice, names in choices.items():
            raw = np.mean([scores[name] for name in names], axis=0)
            calibrated[choice][card.name] = calibration.apply(raw, card.calibration)
            print(f"{card.name:>20}  {choice:<12} ROC AUC {auc(raw):.4f}  ({2 * len(names)} passes a crop)")
    if len(cards) > 1:
        for choice in choices:
            mean = np.mean(list(calibrated[choice].values()), axis=0)
            print(f"{'mean of the models':>20}  {choice:<12} ROC AUC {auc(mean):.4f}")
    print(f"report half: {int(report.sum())} crops of {len(report)}")


if __name__ == "__main__":
    main()
