"""Writes a labels CSV (file,label,group) of the DFDC validation crops that model cards are fitted and measured on.

    python -m scripts.validation_labels OUT.csv [--half report|calibration|all] [--percent 15]

The card's ``metrics.validation`` and ``metrics.decisions`` are measured on the report half, so
``python -m detector evaluate --crops ../shared/data/dfdc-faces/faces --labels OUT.csv --model NAME`` gives the
same numbers (the group column makes its bootstrap resample whole groups, as the card's intervals do).
"""

from __future__ import annotations

import argparse
import csv

import numpy as np

from detector.shipping import calibrate
from detector.training import datasets

HALVES = ("report", "calibration", "all")


def validation_crops(half: str, percent: int = datasets.VALIDATION_PERCENT) -> datasets.CropSet:
    """The group-split DFDC validation crops, or one half of them (``calibrate.in_calibration_half``)."""
    if half not in HALVES:
        raise ValueError(f"half must be one of {HALVES}, got {half!r}")
    _, validation = datasets.split_by_group(datasets.load_dfdc_faces(), percent)
    if half == "all":
        return validation
    in_calibration = np.array([calibrate.in_calibration_half(group) for group in validation.groups], dtype=bool)
    return validation.subset(in_calibration if half == "calibration" else ~in_calibration)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--half", choices=HALVES, default="report")
    parser.add_argument(
        "--percent",
        type=int,
        default=datasets.VALIDATION_PERCENT,
        help="the validation share the model was trained with (its card's training.validation_percent)",
    )
    arguments = parser.parse_args()
    crops = validation_crops(arguments.half, arguments.percent)
    with open(arguments.out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label", "group"])
        writer.writerows(
            (name, "FAKE" if label else "REAL", group)
            for name, label, group in zip(crops.files, crops.labels, crops.groups, strict=True)
        )
    print(f"{len(crops)} crops ({int(crops.labels.sum())} fake) from {crops.root} -> {arguments.out}")


if __name__ == "__main__":
    main()
