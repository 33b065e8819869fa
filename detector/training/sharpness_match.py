"""Reals blurred to their own source's fakes' softness, so that how soft a whole crop is says nothing of its label.

Within every source a mixed run trains on, the fakes are softer than the reals: the median fake's sharpness is 0.67
of the median real's for DFDC's swaps and 0.71-0.87 for the self-blends and most FF++ methods (docs/EXPERIMENTS.md,
"Why the people stages read softness"). A network can then learn softness as a trace and call a blurred real face
fake. ``SharpnessMatch`` holds, per source, a sample of the sharpness of its reals and of its fakes as a batch draws
them (``quality.sharpness``: what the page measures of a face) and maps a real by quantile: the crop's rank among
its source's reals gives a target at the same rank among the fakes, and where the target is lower the crop is
blurred down to it (``blur_to_sharpness``). The fakes are never touched, so what is left to tell the two apart is
where and how a face was changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from detector.analysis import quality

logger = logging.getLogger(__name__)

# Crops sampled of each source's reals and, apart, of its fakes (the recipe asked for at least 500): the median of
# 600 of DFDC's fakes would stray by about 5% (one standard error), of 3,000 by about 2%.
SAMPLE = 3000


# A blurred crop's sharpness is within this share of its target, or just under it.
TOLERANCE = 0.02
# The widest Gaussian (pixels): a crop still sharper than its target then is left at this blur.
LARGEST_SIGMA = 16.0
# Halvings of the sigma interval before the crop just under the target is taken.
BISECTIONS = 14


def sample_count(limit: int | None) -> int:
    """The crops a run samples of each source and label: ``SAMPLE``, or a smoke run's ``limit``."""
    return limit or SAMPLE


def blur_to_sharpness(
    crop: np.ndarray, target: float, tolerance: float = TOLERANCE, sharpness: float | None = None
) -> np.ndarray:
    """``crop`` ``(S, S, 3) uint8 RGB`` Gaussian-blurred until its sharpness (``quality.sharpness``) is ``target``,
    within ``tolerance`` of it or just under it; the crop itself where it is already at or under the target.

    The sigma is found by bisection: sharpness falls as the blur widens. A crop that even ``LARGEST_SIGMA`` leaves
    sharper than the target (a target near 0) comes back at that blur. ``sharpness`` is the crop's own where the
    caller has measured it already. Raises ``ValueError`` for a negative target.
    """
    if not target >= 0:
        raise ValueError(f"a target sharpness is at least 0, got {target}")
    if (quality.sharpness(crop) if sharpness is None else sharpness) <= target:
        return crop
    low, high = 0.0, 0.5
    result = _blur(crop, high, _kernel(high))
    value = quality.sharpness(result)
    while value > target and high < LARGEST_SIGMA:
        low, high = high, min(2 * high, LARGEST_SIGMA)
        result = _blur(crop, high, _kernel(high))
        value = quality.sharpness(result)
    # ``result`` is the blur at ``high``: at or under the target (unless even the widest blur is not). The bisection
    # keeps the kernel of ``high``: OpenCV's own size follows sigma and jumps, and sharpness would jump with it.
    kernel = _kernel(high)
    for _ in range(BISECTIONS):
        if abs(value - target) <= tolerance * target:
            break
        middle = (low + high) / 2
        candidate = _blur(crop, middle, kernel)
        candidate_value = quality.sharpness(candidate)
        if candidate_value > target:
            low = middle
        else:
            high, result, value = middle, candidate, candidate_value
    return result


def _kernel(sigma: float) -> int:
    """The side of a Gaussian kernel that reaches three sigmas each way (odd)."""
    return 2 * int(np.ceil(3 * sigma)) + 1


def _blur(crop: np.ndarray, sigma: float, kernel: int) -> np.ndarray:
    """``crop`` blurred in floating point, then rounded: OpenCV's 8-bit blur quantises its kernel, and sharpness
    then moves in steps as sigma does."""
    blurred = cv2.GaussianBlur(crop.astype(np.float32), (kernel, kernel), sigma)
    return np.clip(np.rint(blurred), 0, 255).astype(np.uint8)


def _levels(count: int) -> np.ndarray:
    """The quantile level of each of ``count`` sorted values: the middle of its share."""
    return (np.arange(count) + 0.5) / count


@dataclass(frozen=True)
class SharpnessMatch:
    """Per source, the sorted sharpness of a sample of its reals (``reals``) and of its fakes (``fakes``), each a
    1-D float64 array, as a batch draws them."""

    reals: dict[str, np.ndarray]
    fakes: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        if set(self.reals) != set(self.fakes):
            raise ValueError(
                f"reals and fakes must name the same sources, got {sorted(self.reals)} and {sorted(self.fakes)}"
            )
        for source in self.reals:
            for values in (self.reals[source], self.fakes[source]):
                if values.ndim != 1 or not len(values) or np.any(np.diff(values) < 0):
                    raise ValueError(f"{source}: each sample is a non-empty sorted 1-D array")

    def target(self, source: str, sharpness: float) -> float:
        """The sharpness at the same quantile among ``source``'s fakes as ``sharpness`` holds among its reals."""
        reals, fakes = self.reals[source], self.fakes[source]
        level = np.interp(sharpness, reals, _levels(len(reals)))
        return float(np.interp(level, _levels(len(fakes)), fakes))

    def match(self, source: str, crop: np.ndarray) -> np.ndarray:
        """A real ``crop`` ``(S, S, 3) uint8 RGB`` of ``source`` blurred down to its target, or as it is where the
        target is not lower than its own sharpness. Raises ``KeyError`` for a source the match has no sample of."""
        own = quality.sharpness(crop)
        return blur_to_sharpness(crop, self.target(source, own), sharpness=own)

    def median_ratios(self) -> dict[str, float]:
        """Per source, its fakes' median sharpness over its reals' (before matching)."""
        return {
            source: float(np.median(self.fakes[source]) / max(np.median(self.reals[source]), 1e-9))
            for source in self.reals
        }


Draw = Callable[[tuple[str, str], np.random.Generator], np.ndarray]


def fit(
    draw: Draw,
    real_slots: Sequence[tuple[str, str]],
    fake_slots: Sequence[tuple[str, str]],
    fake_p: np.ndarray,
    rng: np.random.Generator,
    count: int = SAMPLE,
) -> SharpnessMatch:
    """A ``SharpnessMatch`` from ``count`` reals and ``count`` fakes of each source of ``real_slots``, drawn with
    ``draw(slot, rng)`` (a crop as a batch draws it, before augmentation): a source's fakes from its own slots of
    ``fake_slots`` in their shares of ``fake_p``. Raises ``ValueError`` for a source without a fake slot."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    fake_slots = list(fake_slots)
    fake_p = np.asarray(fake_p, np.float64)
    reals, fakes = {}, {}
    for real_slot in real_slots:
        source = real_slot[0]
        own = [index for index, slot in enumerate(fake_slots) if slot[0] == source]
        if not own:
            raise ValueError(f"{source} has no fakes to match its reals to")
        shares = fake_p[own] / fake_p[own].sum()
        reals[source] = np.sort([quality.sharpness(draw(real_slot, rng)) for _ in range(count)])
        chosen = rng.choice(len(own), size=count, p=shares)
        fakes[source] = np.sort([quality.sharpness(draw(fake_slots[own[index]], rng)) for index in chosen])
    match = SharpnessMatch(reals, fakes)
    for source, ratio in match.median_ratios().items():
        logger.info("sharpness match: %s fakes' median %.2f of its reals' before matching", source, ratio)
    return match
