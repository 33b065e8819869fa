"""Measures how confident a model is about real faces, on DFDC and on unseen people, to read rule 4 by.

On a set of real faces only, expected calibration error is the mean fake probability (every label is 0). For a
model calibrated on a balanced set, the mean fake probability of that set's reals is about ``2 E[p (1 - p)]``
(calibration makes ``E[label | p] = p``, so the reals contribute ``E[p (1 - p)]`` of the mean and are half the
set): it is fixed by how well the model separates the classes, not by the calibration. So an ECE of 0.08 on unseen
real people asks the model to be as sure of them as a model separating DFDC with ``2 E[p (1 - p)] = 0.08`` would
be of DFDC's reals; or to treat their look as a sign of realness, which the UTKFace face-swap set then shows.

Printed for each named model: on the DFDC report half (the groups no calibration was fitted on), the mean fake
probability of the reals and of the fakes and ``2 E[p (1 - p)]``; on the held-out quarter of UTKFace (people no
model trains on), the mean fake probability (that set's ECE), its median and the share at or above the card's fake
threshold.

Run from the repository root (needs ``../shared``)::

    python -m scripts.measure_real_prior compact_trio_v1 compact_v1_utk resnet50_v1b
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from detector.analysis.scoring import load_scorer
from detector.models import model_card
from detector.training import datasets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="shipped model names (models/NAME.json)")
    parser.add_argument("--cache-folder", type=Path, default=Path(".cache"))
    arguments = parser.parse_args()

    held_out = datasets.split_utkface(datasets.load_utkface())[1]
    for name in arguments.models:
        card = model_card.read_card(name, model_card.models_folder())
        scorer = load_scorer([name])
        percent = int(card.training.get("validation_percent", datasets.VALIDATION_PERCENT))
        validation, images = datasets.dfdc_validation(percent, scorer.input_size, arguments.cache_folder)
        report = np.array([not datasets.in_calibration_half(group) for group in validation.groups])
        labels = validation.labels[report]
        dfdc = scorer.score(images[report])
        unseen = scorer.score(
            datasets.decode_images(held_out.root, held_out.files, scorer.input_size, arguments.cache_folder)
        )
        print(
            f"{name}: DFDC report half: reals {dfdc[labels == 0].mean():.3f}, fakes {dfdc[labels == 1].mean():.3f}, "
            f"2E[p(1-p)] {2 * np.mean(dfdc * (1 - dfdc)):.3f}; "
            f"unseen people ({unseen.size}): mean {unseen.mean():.3f}, median {np.median(unseen):.3f}, "
            f"at or above the fake threshold {card.thresholds.fake:.2f}: {np.mean(unseen >= card.thresholds.fake):.1%}"
        )


if __name__ == "__main__":
    main()
