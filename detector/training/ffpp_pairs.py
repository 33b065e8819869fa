"""FaceForensics++ fakes paired with the real crop they were made on, and the mask of what each method changed.

FF++ makes every fake on the frames of one real target video, and ``ffpp-faces`` takes about one crop per video
from its first frames, so most fakes have a real crop of nearly the same frame in their group (the split keeps a
target's real and fakes together). Aligned to the fake, that real differs from it where the method changed the face:
the mouth for NeuralTextures, the expression for Face2Face, the whole inner face for the swaps. That difference is
a blend mask for a real manipulation, which the blend-boundary head (``blend_boundary``) can learn the seam of, as
it does for self-blends (docs/EXPERIMENTS.md, "FF++ fakes with their own seams"). The pair itself is the real that
a paired batch puts beside its fake (``pair_reals``; docs/EXPERIMENTS.md, "Paired batches").

Pairing (``find_pair``): the reals of the fake's group are ranked by the mean difference of small grey copies
along their edges; the best ``CANDIDATES`` are aligned to the fake with an affine ECC (``cv2.findTransformECC``) and
the one whose edge bands then differ least is the pair, if that difference is at most ``MAX_EDGE_DIFFERENCE``.
Images are ``(S, S, 3) uint8 RGB``; differences are in 0-255 units.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

logger = logging.getLogger(__name__)

CANDIDATES = 5
# The edge bands compared after alignment: the top and both sides, this fraction of the side wide (the bottom holds
# the chin and mouth, which the methods change).
EDGE_FRACTION = 1 / 8
# The most an aligned pair may differ along its edges (0-255 units, mean over pixels and channels). At 128 px, the best
# match of the first 60 training fakes of each method fell into two heaps, 2.4-7 (the same frame) and 22-37 (no pair
# in the group); over the whole training pools 63-89% of each method's fakes pair (docs/EXPERIMENTS.md).
MAX_EDGE_DIFFERENCE = 8.0
# The per-pixel difference (after a blur) read as compression noise, and the one read as fully changed.
NOISE_DIFFERENCE = 6.0
CHANGED_DIFFERENCE = 18.0
# A change mask whose largest value stays below this marks no change surely: such a fake keeps no mask.
MIN_MASK_PEAK = 0.5
_SMALL_SIDE = 32
_ECC_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-4)


@dataclass(frozen=True)
class Pair:
    """A fake's pair: the index of the real among the reals searched, its alignment to the fake (a 2x3 affine
    warp that maps fake pixels to real pixels) and the mean edge difference it leaves."""

    real_index: int
    warp: np.ndarray
    edge_difference: float


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _small(image: np.ndarray) -> np.ndarray:
    return cv2.resize(_grey(image), (_SMALL_SIDE, _SMALL_SIDE), interpolation=cv2.INTER_AREA)


def _edge_bands(side: int) -> np.ndarray:
    """``(side, side) bool``: the top band and both side bands, ``EDGE_FRACTION`` of the side wide."""
    band = max(1, round(side * EDGE_FRACTION))
    edges = np.zeros((side, side), bool)
    edges[:band] = True
    edges[:, :band] = True
    edges[:, -band:] = True
    return edges


def aligned(real: np.ndarray, warp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``real`` moved onto its fake's pixels by ``warp`` (``Pair.warp``), as float32, and where it is defined
    ``(S, S) bool`` (pixels the warp brings from outside the real are not)."""
    side = real.shape[0]
    flags = cv2.INTER_LINEAR + cv2.WARP_INVERSE_MAP
    moved = cv2.warpAffine(real.astype(np.float32), warp, (side, side), flags=flags, borderMode=cv2.BORDER_REFLECT)
    inside = cv2.warpAffine(np.ones((side, side), np.float32), warp, (side, side), flags=flags, borderValue=0.0)
    return moved, inside > 0.999


def edge_difference(fake: np.ndarray, real: np.ndarray, inside: np.ndarray | None = None) -> float:
    """The mean absolute difference of two aligned crops over the top and side bands (``EDGE_FRACTION``), where
    ``inside`` (default: everywhere)."""
    edges = _edge_bands(fake.shape[0])
    if inside is not None:
        edges &= inside
    if not edges.any():
        return float("inf")
    difference = np.abs(fake.astype(np.float32) - real.astype(np.float32)).mean(axis=2)
    return float(difference[edges].mean())


def find_pair(fake: np.ndarray, reals: np.ndarray, small_reals: np.ndarray | None = None) -> Pair | None:
    """The real of ``reals`` ``(N, S, S, 3)`` that ``fake`` was made on, aligned, or None if none fits
    (``MAX_EDGE_DIFFERENCE``). ``small_reals`` are the reals' small grey copies when the caller has them already
    (``pair_masks`` makes them once for every fake)."""
    if not len(reals):
        return None
    if small_reals is None:
        small_reals = np.stack([_small(real) for real in reals])
    # Along the edges only: a swap replaces the inner face, so the whole crop would rank its pair no better.
    bands = _edge_bands(_SMALL_SIDE)
    coarse = np.abs(small_reals - _small(fake))[:, bands].mean(axis=1)
    fake_grey = _grey(fake)
    best: Pair | None = None
    for index in np.argsort(coarse, kind="stable")[:CANDIDATES]:
        warp = np.eye(2, 3, dtype=np.float32)
        try:
            _, warp = cv2.findTransformECC(
                fake_grey, _grey(reals[index]), warp, cv2.MOTION_AFFINE, _ECC_CRITERIA, None, 5
            )
        except cv2.error:
            # ECC did not converge: the two are too unlike to align; compare them as they are.
            warp = np.eye(2, 3, dtype=np.float32)
        moved, inside = aligned(reals[index], warp)
        difference = edge_difference(fake, moved, inside)
        if best is None or difference < best.edge_difference:
            best = Pair(int(index), warp, difference)
    if best is None or best.edge_difference > MAX_EDGE_DIFFERENCE:
        return None
    return best


def change_mask(fake: np.ndarray, real: np.ndarray, pair: Pair) -> np.ndarray:
    """What the method changed, ``(S, S) float32`` in [0, 1]: the per-pixel difference of ``fake`` and its aligned
    pair, blurred, ramped from ``NOISE_DIFFERENCE`` (0) to ``CHANGED_DIFFERENCE`` (1) and softened; 0 where the
    aligned real is not defined."""
    side = fake.shape[0]
    moved, inside = aligned(real, pair.warp)
    difference = np.abs(fake.astype(np.float32) - moved).mean(axis=2)
    difference = cv2.GaussianBlur(difference, (0, 0), sigmaX=side / 96)
    mask = np.clip((difference - NOISE_DIFFERENCE) / (CHANGED_DIFFERENCE - NOISE_DIFFERENCE), 0.0, 1.0)
    mask = cv2.GaussianBlur(mask * inside, (0, 0), sigmaX=side / 64)
    return np.clip(mask, 0.0, 1.0).astype(np.float32)


def _digest(fakes: np.ndarray, reals: np.ndarray, *parts: object) -> str:
    digest = hashlib.sha1()
    for images in (fakes, reals):
        digest.update(np.ascontiguousarray(images).tobytes())
    digest.update(repr(parts).encode())
    return digest.hexdigest()[:16]


def _cached(path: Path | None, compute: Callable[[], np.ndarray]) -> np.ndarray:
    if path is not None and path.is_file():
        return np.load(path)
    result = compute()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, result)
    return result


def _pairs(
    fakes: np.ndarray, fake_groups: tuple[str, ...], reals: np.ndarray, real_groups: tuple[str, ...]
) -> Iterator[tuple[int, int, Pair]]:
    """``(fake index, real index, pair)`` for each fake that has a pair among the reals of its own group."""
    real_groups_array = np.asarray(real_groups)
    small_reals = np.stack([_small(real) for real in reals]) if len(reals) else np.empty((0, _SMALL_SIDE, _SMALL_SIDE))
    for index, (fake, group) in enumerate(zip(fakes, fake_groups, strict=True)):
        candidates = np.flatnonzero(real_groups_array == group)
        pair = find_pair(fake, reals[candidates], small_reals[candidates])
        if pair is not None:
            yield index, int(candidates[pair.real_index]), pair


def pair_masks(
    fakes: np.ndarray,
    fake_groups: tuple[str, ...],
    reals: np.ndarray,
    real_groups: tuple[str, ...],
    cache_folder: Path | None = None,
) -> np.ndarray:
    """Each fake's ``change_mask`` with its pair among the reals of its own group, ``(N, S, S) float16``; all NaN
    for a fake without a pair, or whose mask nowhere reaches ``MIN_MASK_PEAK``. Cached in ``cache_folder`` by the
    images' and groups' digest."""
    key = _digest(
        fakes, reals, fake_groups, real_groups, MAX_EDGE_DIFFERENCE, NOISE_DIFFERENCE, CHANGED_DIFFERENCE, MIN_MASK_PEAK
    )
    path = None if cache_folder is None else cache_folder / f"ffpp-pairs-{len(fakes)}-{key}.npy"

    def compute() -> np.ndarray:
        masks = np.full(fakes.shape[:3], np.nan, np.float16)
        for index, real_index, pair in _pairs(fakes, fake_groups, reals, real_groups):
            mask = change_mask(fakes[index], reals[real_index], pair)
            # A fake that differs from its pair nowhere above the noise says nothing sure of where it was changed.
            if mask.max() >= MIN_MASK_PEAK:
                masks[index] = mask
        logger.info(
            "pairs: %d of %d fakes paired with a change mask", int(np.isfinite(masks[:, 0, 0]).sum()), len(fakes)
        )
        return masks

    return _cached(path, compute)


def pair_reals(
    fakes: np.ndarray,
    fake_groups: tuple[str, ...],
    reals: np.ndarray,
    real_groups: tuple[str, ...],
    cache_folder: Path | None = None,
) -> np.ndarray:
    """Each fake's pair among the reals of its own group, as an index into ``reals`` ``(N,) int32``; -1 for a fake
    without one. Paired batches (``mixed_batches``) put the two side by side. Cached as ``pair_masks`` is."""
    key = _digest(fakes, reals, fake_groups, real_groups, MAX_EDGE_DIFFERENCE)
    path = None if cache_folder is None else cache_folder / f"ffpp-pair-reals-{len(fakes)}-{key}.npy"

    def compute() -> np.ndarray:
        partners = np.full(len(fakes), -1, np.int32)
        for index, real_index, _ in _pairs(fakes, fake_groups, reals, real_groups):
            partners[index] = real_index
        logger.info("pairs: %d of %d fakes paired with their real", int((partners >= 0).sum()), len(fakes))
        return partners

    return _cached(path, compute)
