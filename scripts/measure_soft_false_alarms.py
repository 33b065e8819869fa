"""How often a model calls real faces fake, fifth by fifth of their sharpness; and whether blurring sharp ones
makes it call them fake.

    python -m scripts.measure_soft_false_alarms NAME [--models-folder models] [--people dfdc|utkface]
        [--half report] [--under SHARPNESS] [--blur SIGMA ...] [--blur-fakes]

The benchmark counts the unseen UTKFace people's false alarms by the photo's sharpness (``benchmark --record``,
``metrics.unseen_real_faces_groups``). This asks the same of another source, the real crops of the DFDC validation
split (``--people dfdc``, the report half by default, as the card's DFDC figures), or of the same UTKFace photos
(``--people utkface``), measured the same way (``subgroups.sharpness`` at the model's input side, ranked and cut
into fifths, Wilson intervals) at the card's crop threshold. With ``--under``, also the reals softer than that
sharpness against the rest (for example the top of the softest fifth a card records).

Soft photos may differ from sharp ones in more than their softness (who is in them, how they were taken). With
``--blur``, the sharper half of the reals is scored again after a Gaussian blur of each SIGMA (pixels at the
model's input side), the same faces only softer: if their false alarms rise, softness itself is read as a trace.
With ``--blur-fakes`` (DFDC only: UTKFace's photos hold no fakes), the sharper half of the fakes too, and how many
are still called fake: a model that learnt "Gaussian-soft means real" (reals blurred in training, as
``train --match-sharpness`` does, and fakes never) would let blurred fakes through. It prints; it records nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from detector.analysis import scoring
from detector.evaluation import subgroups
from detector.training import datasets
from scripts import validation_labels


def real_faces(
    crops: datasets.CropSet, probabilities: np.ndarray, fake_threshold: float, side: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Of ``crops`` (``probabilities`` ``(N,)`` over all of them): which are real ``(N,) bool``, and for those
    (``(R,)`` each) their sharpness at ``side`` pixels (``subgroups.sharpness``) and whether each was called fake
    at ``fake_threshold``."""
    real = crops.labels == 0
    if not real.any():
        raise ValueError("no real crop to count false alarms on")
    values = np.array([subgroups.sharpness(crops.root / name, side) for name in np.array(crops.files)[real]])
    return real, values, probabilities[real] >= fake_threshold


def split_at(
    values: np.ndarray, called_fake: np.ndarray, limit: float
) -> tuple[subgroups.GroupRate, subgroups.GroupRate]:
    """The real faces of sharpness ``values`` ``(R,)`` softer than ``limit`` called fake (``called_fake`` ``(R,)``),
    and the rest."""
    softer = values < limit
    if softer.all() or not softer.any():
        raise ValueError(f"every real crop is on one side of {limit}: nothing to compare")
    return (
        subgroups.group_rate("sharpness", f"under {limit}", called_fake[softer]),
        subgroups.group_rate("sharpness", f"{limit} or more", called_fake[~softer]),
    )


def sharper_half(crops: datasets.CropSet, images: np.ndarray, label: int, side: int) -> tuple[np.ndarray, float]:
    """Of ``images`` ``(N, S, S, 3)`` (``crops`` decoded), those labelled ``label`` whose sharpness at ``side``
    pixels (``subgroups.sharpness``) is at least the median of that label's, and that median."""
    chosen = np.flatnonzero(crops.labels == label)
    if not len(chosen):
        raise ValueError(f"no crop labelled {label}")
    values = np.array([subgroups.sharpness(crops.root / crops.files[index], side) for index in chosen])
    median = float(np.median(values))
    return images[chosen[values >= median]], median


def blurred_called_fake(
    images: np.ndarray, scorer: scoring.EnsembleScorer, fake_threshold: float, sigma: float
) -> subgroups.GroupRate:
    """``images`` ``(N, S, S, 3) uint8 RGB`` called fake after a Gaussian blur of ``sigma`` pixels (none at 0): of
    real faces, the false alarms; of fakes, the share still caught."""
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    softened = images if sigma == 0 else np.stack([cv2.GaussianBlur(image, (0, 0), sigma) for image in images])
    called_fake = scorer.score(softened) >= fake_threshold
    return subgroups.group_rate("blur", f"sigma {sigma:g}", called_fake)


def _people(name: str, half: str) -> datasets.CropSet:
    if name == "utkface":
        photos = datasets.split_utkface(datasets.load_utkface())[1]
        return datasets.CropSet(photos.root, photos.files, np.zeros(len(photos), np.int64), photos.files)
    return validation_labels.validation_crops(half)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--models-folder", default=None, help="where the model is (default: models/)")
    parser.add_argument("--people", choices=("dfdc", "utkface"), default="dfdc")
    parser.add_argument("--half", choices=validation_labels.HALVES, default="report", help="with --people dfdc")
    parser.add_argument("--under", type=float, help="also the reals softer than this sharpness against the rest")
    parser.add_argument(
        "--blur", type=float, action="append", default=[], help="score the sharper half again blurred by SIGMA"
    )
    parser.add_argument("--blur-fakes", action="store_true", help="with --people dfdc: the fakes' sharper half too")
    arguments = parser.parse_args(argv)
    if arguments.blur_fakes and (arguments.people != "dfdc" or not arguments.blur):
        parser.error("--blur-fakes needs --people dfdc (UTKFace's photos hold no fakes) and at least one --blur")
    folder = Path(arguments.models_folder) if arguments.models_folder else None
    scorer = scoring.load_scorer([arguments.name], folder)
    crops = _people(arguments.people, arguments.half)
    images = datasets.decode_images(crops.root, crops.files, scorer.input_size, Path(".cache"))
    probabilities = scorer.score(images)
    threshold = scorer.thresholds.fake
    where = "UTKFace held-out quarter" if arguments.people == "utkface" else f"DFDC validation ({arguments.half} half)"
    print(f"{arguments.name}: {where} reals called fake at {threshold:.4f}")
    real, values, called_fake = real_faces(crops, probabilities, threshold, scorer.input_size)
    for rate in subgroups.fifth_rates(values, called_fake):
        low, high = rate.span or (float("nan"), float("nan"))
        print(
            f"  {rate.group:<15} sharpness {low:7.1f} to {high:7.1f}: {rate.rate:6.1%} of {rate.count} "
            f"[{rate.low:.1%}, {rate.high:.1%}]"
        )
    if arguments.under is not None:
        for rate in split_at(values, called_fake, arguments.under):
            print(f"  {rate.group:<15}: {rate.rate:6.1%} of {rate.count} [{rate.low:.1%}, {rate.high:.1%}]")
    if arguments.blur:
        sharper = values >= np.median(values)
        chosen = images[real][sharper]
        print(f"  the sharper half ({int(sharper.sum())} reals, sharpness from {np.median(values):.1f}), blurred:")
        for sigma in (0.0, *arguments.blur):
            rate = blurred_called_fake(chosen, scorer, threshold, sigma)
            print(f"  {rate.group:<15}: {rate.rate:6.1%} [{rate.low:.1%}, {rate.high:.1%}]")
    if arguments.blur_fakes:
        fakes, median = sharper_half(crops, images, 1, scorer.input_size)
        print(f"  the fakes' sharper half ({len(fakes)} fakes, sharpness from {median:.1f}), blurred, still caught:")
        for sigma in (0.0, *arguments.blur):
            rate = blurred_called_fake(fakes, scorer, threshold, sigma)
            print(f"  {rate.group:<15}: {rate.rate:6.1%} [{rate.low:.1%}, {rate.high:.1%}]")


if __name__ == "__main__":
    main()
