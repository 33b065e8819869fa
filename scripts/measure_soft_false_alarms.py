"""How often a model calls DFDC's real validation crops fake, fifth by fifth of their sharpness.

    python -m scripts.measure_soft_false_alarms NAME [--models-folder models] [--half report] [--under SHARPNESS]

The benchmark counts the unseen UTKFace people's false alarms by the photo's sharpness (``benchmark --record``,
``metrics.unseen_real_faces_groups``); this asks whether the same holds on another source, the real crops of the
DFDC validation split (the report half by default, as the card's DFDC figures), measured the same way
(``subgroups.sharpness`` at the model's input side, ranked and cut into fifths, Wilson intervals) at the card's
crop threshold; with ``--under``, also the reals softer than that sharpness against the rest (for example the top of
the softest fifth the card records, which the page's soft-face note uses). It prints; it records nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from detector.analysis import scoring
from detector.evaluation import subgroups
from detector.training import datasets
from scripts import validation_labels


def false_alarms_by_sharpness(
    crops: datasets.CropSet, probabilities: np.ndarray, fake_threshold: float, side: int
) -> list[subgroups.GroupRate]:
    """The real crops of ``crops`` (``probabilities`` ``(N,)`` over all of them) called fake at ``fake_threshold``,
    fifth by fifth of their sharpness at ``side`` pixels, softest first (``subgroups.by_sharpness``)."""
    real = crops.labels == 0
    if not real.any():
        raise ValueError("no real crop to count false alarms on")
    paths = [crops.root / name for name, keep in zip(crops.files, real, strict=True) if keep]
    return subgroups.by_sharpness(paths, probabilities[real] >= fake_threshold, side)


def split_at(
    crops: datasets.CropSet, probabilities: np.ndarray, fake_threshold: float, side: int, limit: float
) -> tuple[subgroups.GroupRate, subgroups.GroupRate]:
    """The real crops softer than ``limit`` (sharpness at ``side`` pixels) called fake, and the rest."""
    real = crops.labels == 0
    values = np.array([subgroups.sharpness(crops.root / name, side) for name in np.array(crops.files)[real]])
    called_fake = probabilities[real] >= fake_threshold
    softer = values < limit
    if softer.all() or not softer.any():
        raise ValueError(f"every real crop is on one side of {limit}: nothing to compare")
    return (
        subgroups.group_rate("sharpness", f"under {limit}", called_fake[softer]),
        subgroups.group_rate("sharpness", f"{limit} or more", called_fake[~softer]),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--models-folder", default=None, help="where the model is (default: models/)")
    parser.add_argument("--half", choices=validation_labels.HALVES, default="report")
    parser.add_argument("--under", type=float, help="also the reals softer than this sharpness against the rest")
    arguments = parser.parse_args(argv)
    folder = Path(arguments.models_folder) if arguments.models_folder else None
    scorer = scoring.load_scorer([arguments.name], folder)
    crops = validation_labels.validation_crops(arguments.half)
    images = datasets.decode_images(crops.root, crops.files, scorer.input_size, Path(".cache"))
    probabilities = scorer.score(images)
    threshold = scorer.thresholds.fake
    print(f"{arguments.name}: DFDC validation ({arguments.half} half) reals called fake at {threshold:.4f}")
    for rate in false_alarms_by_sharpness(crops, probabilities, threshold, scorer.input_size):
        low, high = rate.span or (float("nan"), float("nan"))
        print(
            f"  {rate.group:<15} sharpness {low:7.1f} to {high:7.1f}: {rate.rate:6.1%} of {rate.count} "
            f"[{rate.low:.1%}, {rate.high:.1%}]"
        )
    if arguments.under is not None:
        for rate in split_at(crops, probabilities, threshold, scorer.input_size, arguments.under):
            print(f"  {rate.group:<15}: {rate.rate:6.1%} of {rate.count} [{rate.low:.1%}, {rate.high:.1%}]")


if __name__ == "__main__":
    main()
