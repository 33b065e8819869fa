"""Checks that the second DFDC fakes' path (160 px, JPEG) is not what a model calls fake.

    python -m scripts.measure_resolution_path --model NAME [--model NAME ...]

``dfdc-extra-fakes`` are all fakes and were stored at 160 px as JPEG of about quality 90 (read from their
quantisation tables), while ``dfdc-faces`` are 224 px JPEG of about quality 75. If a model learnt that path, a real
crop taken through it would score as more fake. This takes the DFDC validation reals (never trained on) once as
they are and once through that path (area resize to 160 px, JPEG quality 90, decode), scores both with each model,
and prints the mean fake probability of each, their mean paired difference with a 95% bootstrap interval over
crops, and the share of each called fake at the model's threshold.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from detector.analysis.scoring import load_scorer
from detector.training import datasets

PATH_SIDE = 160
PATH_QUALITY = 90


def through_path(image: np.ndarray, size: int) -> np.ndarray:
    """``(S, S, 3) uint8 RGB`` taken through the second fakes' path, returned at ``size``."""
    small = cv2.resize(image, (PATH_SIDE, PATH_SIDE), interpolation=cv2.INTER_AREA)
    encoded = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, PATH_QUALITY])[1]
    decoded = cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    interpolation = cv2.INTER_AREA if size < PATH_SIDE else cv2.INTER_CUBIC
    return cv2.resize(decoded, (size, size), interpolation=interpolation)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", dest="models", required=True)
    parser.add_argument("--resamples", type=int, default=1000)
    arguments = parser.parse_args()
    validation = datasets.split_by_group(datasets.load_dfdc_faces())[1]
    reals = validation.subset(validation.labels == 0)
    originals = datasets.decode_images(reals.root, reals.files, 224, None)
    rng = np.random.default_rng(0)
    for name in arguments.models:
        scorer = load_scorer([name])
        size = scorer.input_size
        direct = np.stack([cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA) for image in originals])
        path = np.stack([through_path(image, size) for image in originals])
        as_they_are, taken_through = scorer.score(direct), scorer.score(path)
        difference = taken_through - as_they_are
        means = [
            difference[rng.integers(0, len(difference), len(difference))].mean() for _ in range(arguments.resamples)
        ]
        low, high = np.percentile(means, [2.5, 97.5])
        threshold = scorer.thresholds.fake
        print(
            f"{name}: {len(reals)} DFDC validation reals; mean fake probability {as_they_are.mean():.3f} as they are, "
            f"{taken_through.mean():.3f} through the 160 px path (difference {difference.mean():+.3f} "
            f"[{low:+.3f}, {high:+.3f}]); called fake {np.mean(as_they_are >= threshold):.1%} vs "
            f"{np.mean(taken_through >= threshold):.1%} at {threshold:.2f}"
        )


if __name__ == "__main__":
    main()
