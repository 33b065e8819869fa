"""Face swaps made here, to measure the models on a manipulation none of them was trained on.

Every model here learnt its fakes from DFDC's face swaps and from self-blends of real faces; a reviewer's video may
carry another method, on other people, from another camera. This makes the classic landmark face swap that open
tools did before deep learning, on real photos the models never saw, from two faces and their 468-point meshes
(``detector.landmarks``):

1. the *source* face is warped onto the *target*'s geometry, triangle by triangle over the Delaunay triangulation
   of the target's mesh (``warp_to_points``);
2. its colours are matched to the target's inside the face: mean and spread of each Lab channel
   (``match_colour``);
3. it is blended in over the mesh's hull, shrunk a little: either alpha-blended through a softened edge or Poisson
   ("seamless") cloned, which carries the target's gradients across the boundary (``swap_faces``).

Used by ``detector.evaluation.benchmark_sets`` and ``benchmark_clips``, and by one training mix
(``mixed_batches.MIXES["dfdc_first_swaps"]``, between training reals only); not part of the video pipeline.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay
from threadpoolctl import ThreadpoolController

from detector.training.landmarks import checked_crop_and_mesh, hull_mask

BLENDS = ("alpha", "poisson")
# How far the blending mask is pulled inside the mesh's hull, and how soft the alpha edge is (fractions of the
# crop side): the hull's outermost points sit on the jaw line and hairline, where a swap would show the source's
# background.
SHRINK = 0.03
EDGE_SIGMA = 0.015
# The BLAS libraries loaded (numpy's and scipy's OpenBLAS), found once: limiting them through it costs about 0.03 ms
# a warp, where ``threadpool_limits`` looks them up again each time (3 ms).
_BLAS = ThreadpoolController()


def warp_to_points(
    source: np.ndarray, source_points: np.ndarray, target_points: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``source`` moved so that its ``source_points`` land on ``target_points``, and where that is defined.

    ``source`` is ``(S, S, 3) uint8 RGB``; the points are ``(N, 2)`` (x, y) pixels, the same N landmarks in both.
    Each pixel inside the triangulation of ``target_points`` takes the source pixel at the same barycentric
    position in the matching source triangle (piecewise affine). Returns the warped ``(S, S, 3) uint8`` image
    (outside the triangulation: the source unchanged) and a ``(S, S) bool`` mask of the triangulated pixels.
    """
    source_points = checked_crop_and_mesh(source, source_points, "source").astype(np.float64)
    target_points = np.asarray(target_points, dtype=np.float64)
    if target_points.shape != source_points.shape or not np.isfinite(target_points).all():
        raise ValueError(f"target points must be finite and shaped like the source's {source_points.shape}")
    side = source.shape[0]
    rows, columns = np.mgrid[0:side, 0:side]
    pixels = np.stack([columns.ravel(), rows.ravel()], axis=1).astype(np.float64)
    # One BLAS thread: locating the pixels computes scipy's barycentric transform, one small LAPACK solve per mesh
    # triangle, and OpenBLAS's threads, synchronised on each, crawl whenever the cores are busy (64 against 10 ms a
    # warp beside a training run; seconds a face beside the tests; docs/DESIGN.md, "Warps on one BLAS thread").
    with _BLAS.limit(limits=1, user_api="blas"):
        triangulation = Delaunay(target_points)
        simplex = triangulation.find_simplex(pixels)
    inside = simplex >= 0
    transform = triangulation.transform[simplex[inside]]
    first_two = np.einsum("mij,mj->mi", transform[:, :2], pixels[inside] - transform[:, 2])
    barycentric = np.column_stack([first_two, 1.0 - first_two.sum(axis=1)])
    corners = source_points[triangulation.simplices[simplex[inside]]]
    mapped = pixels.copy()
    mapped[inside] = np.einsum("mk,mkd->md", barycentric, corners)
    map_x = mapped[:, 0].reshape(side, side).astype(np.float32)
    map_y = mapped[:, 1].reshape(side, side).astype(np.float32)
    warped = cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return warped, inside.reshape(side, side)


def match_colour(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``source`` with each Lab channel's mean and spread inside ``mask`` set to ``target``'s there.

    Both images ``(S, S, 3) uint8 RGB``, ``mask`` ``(S, S)`` bool with at least two pixels. Pixels outside the mask
    are shifted the same way (they are blended away)."""
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != source.shape[:2] or mask.sum() < 2:
        raise ValueError("the mask must match the images and cover at least two pixels")
    source_lab = cv2.cvtColor(source.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    target_lab = cv2.cvtColor(target.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    source_inside, target_inside = source_lab[mask], target_lab[mask]
    spread = target_inside.std(axis=0) / np.maximum(source_inside.std(axis=0), 1e-3)
    matched = (source_lab - source_inside.mean(axis=0)) * spread + target_inside.mean(axis=0)
    rgb = cv2.cvtColor(matched.astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def swap_mask(target_points: np.ndarray, triangulated: np.ndarray, side: int) -> np.ndarray:
    """The hard blending mask ``(side, side) bool``: the target mesh's hull, shrunk by ``SHRINK`` of the side,
    within the triangulated pixels, and clear of the border (Poisson cloning needs a margin)."""
    hull = hull_mask(target_points, side)
    shrink = max(1, round(SHRINK * side))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * shrink + 1, 2 * shrink + 1))
    mask = cv2.erode(hull, kernel).astype(bool) & triangulated
    mask[:2], mask[-2:], mask[:, :2], mask[:, -2:] = False, False, False, False
    return mask


def soft_inside(mask: np.ndarray, sigma: float) -> np.ndarray:
    """A hard ``(S, S)`` mask as a soft weight ``(S, S) float32`` in [0, 1] whose edge lies inside it: a copy shrunk
    by two ``sigma`` (pixels), blurred by a Gaussian of ``sigma``, and exactly 0 outside the mask."""
    reach = max(1, round(2 * sigma))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    core = cv2.erode(mask.astype(np.uint8), kernel).astype(np.float32)
    return cv2.GaussianBlur(core, (0, 0), sigmaX=sigma) * mask.astype(bool)


def swap_faces(
    target: np.ndarray,
    target_points: np.ndarray,
    source: np.ndarray,
    source_points: np.ndarray,
    blend: str = "alpha",
) -> np.ndarray:
    """The target face crop ``(S, S, 3) uint8 RGB`` with its face replaced by the source's.

    ``source`` is another face crop of the same size; the points are each face's mesh, ``(468, 2)`` (x, y) pixels.
    ``blend`` is ``"alpha"`` (a soft edge of ``EDGE_SIGMA`` of the side) or ``"poisson"`` (``cv2.seamlessClone``).
    Outside the blending mask the result is the target; raises ``ValueError`` when the faces leave no mask.
    """
    if blend not in BLENDS:
        raise ValueError(f"blend must be one of {BLENDS}, got {blend!r}")
    target_points = checked_crop_and_mesh(target, target_points, "target").astype(np.float64)
    if source.shape != target.shape:
        raise ValueError(f"source and target must be the same size, got {source.shape} and {target.shape}")
    side = target.shape[0]
    warped, triangulated = warp_to_points(source, source_points, target_points)
    mask = swap_mask(target_points, triangulated, side)
    if mask.sum() < 16:
        raise ValueError("the face meshes leave no area to swap")
    coloured = match_colour(warped, target, mask)
    if blend == "poisson":
        columns, rows = np.nonzero(mask.T)
        center = (int((columns.min() + columns.max() + 1) // 2), int((rows.min() + rows.max() + 1) // 2))
        return cv2.seamlessClone(coloured, target, mask.astype(np.uint8) * 255, center, cv2.NORMAL_CLONE)
    weight = soft_inside(mask, EDGE_SIGMA * side)[..., np.newaxis]
    blended = weight * coloured.astype(np.float32) + (1.0 - weight) * target.astype(np.float32)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
