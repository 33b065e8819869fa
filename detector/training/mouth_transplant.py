"""Mouth transplants: a real face crop with its mouth or lower face replaced by another face's, placed without a warp.

Expression reenactment (Face2Face, NeuralTextures) re-renders a person's mouth and jaw: the pixels there are made
anew (lips, teeth, the skin's texture), not moved. The reenactment proxies (``reenactment``) move the crop's own
pixels with a 2D warp, and a network that trained on them learnt the warp and nothing that carried to FF++'s real
reenactments (docs/EXPERIMENTS.md, "Reenactment proxies in training"). This makes the other half of what such a
tool leaves: a region whose pixels come from another image, with their own expression, teeth and texture, and no
warp. From a *target* crop and a *donor* crop with their 468-point face meshes (``detector.training.landmarks``):

1. the similarity (rotation, one scale, shift) that best brings the donor's ``ANCHORS`` (eye corners, nose, mouth
   corners: the points an expression moves least) onto the target's is fitted by least squares (``similarity``);
   a donor whose anchors it leaves more than ``MAX_RESIDUAL`` eye distances away on average (another head pose or
   face shape) is refused, and so is one it would scale beyond ``MAX_SCALE``;
2. the donor crop is moved by that similarity alone (``cv2.warpAffine``), so its mouth keeps its own shape;
3. its colours are matched to the target's inside the region (``face_swap.match_colour``);
4. it is blended in through the soft mask of the region around both meshes (``reenactment.region_mask``), so the
   target's own lips are covered wherever either mouth lies, cut to where both faces are face (``face_mask`` of
   each mesh): a donor's jaw or cheek placed narrower or wider than the target's would otherwise bring its own
   background in, or cover the target's. Outside the mask the fake is the target exactly.

The donor is another training real of the same source (``mixed_batches``); every dataset here has one real crop
of a person's clip, so the donor is another person, not another frame of the same one. Used in training only (the
``dfdc_first_mouths`` mix); the benchmark's reenactment proxies (a warp of the crop's own mouth) are not made by it.
"""

from __future__ import annotations

import cv2
import numpy as np

from detector.training import reenactment
from detector.training.face_swap import match_colour, soft_inside
from detector.training.landmarks import checked_face_mesh, hull_mask

REGIONS = reenactment.REGIONS
# MediaPipe face-mesh indices: the outer and inner eye corners, the nose tip and base, the mouth corners.
ANCHORS = (33, 263, 133, 362, 1, 2, 61, 291)
# The largest root-mean-square distance, in the target's eye distances (outer corners), between the target's
# anchors and the donor's moved onto them. Measured on 3,000 random pairs of DFDC training reals' meshes: median
# 0.058, 75th percentile 0.093; about two pairs in three fit.
MAX_RESIDUAL = 0.08
MAX_SCALE = 1.5
# Where the hard region (the soft mask at one half) covers fewer pixels than this, there is no mouth to replace.
MIN_REGION_PIXELS = 16


def similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The ``(2, 3) float64`` affine matrix of the similarity (no reflection) that best maps the ``(N, 2)`` points
    ``source`` onto ``target`` in least squares (Umeyama's solution); ``ValueError`` for fewer than two points or
    points that all coincide."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    if source.ndim != 2 or source.shape[1] != 2 or source.shape != target.shape or len(source) < 2:
        raise ValueError(f"need two (N, 2) point sets of the same shape, N >= 2, got {source.shape}, {target.shape}")
    source_centre, target_centre = source.mean(axis=0), target.mean(axis=0)
    centred_source, centred_target = source - source_centre, target - target_centre
    spread = float((centred_source**2).sum())
    if spread < 1e-9:
        raise ValueError("the source points all coincide")
    left, singular, right = np.linalg.svd(centred_target.T @ centred_source)
    signs = np.array([1.0, -1.0 if np.linalg.det(left) * np.linalg.det(right) < 0 else 1.0])
    rotation = left @ np.diag(signs) @ right
    scale = float((singular * signs).sum()) / spread
    shift = target_centre - scale * rotation @ source_centre
    return np.column_stack([scale * rotation, shift])


def _moved(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return np.asarray(points, np.float64) @ matrix[:, :2].T + matrix[:, 2]


def donor_fit(target_points: np.ndarray, donor_points: np.ndarray) -> np.ndarray:
    """The similarity ``(2, 3) float64`` that places the donor on the target (``similarity`` over ``ANCHORS``);
    ``ValueError`` when the donor does not fit (``MAX_RESIDUAL``, ``MAX_SCALE``)."""
    target_anchors = np.asarray(target_points, np.float64)[list(ANCHORS)]
    donor_anchors = np.asarray(donor_points, np.float64)[list(ANCHORS)]
    matrix = similarity(donor_anchors, target_anchors)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if not 1 / MAX_SCALE <= scale <= MAX_SCALE:
        raise ValueError(f"the donor's face would be scaled by {scale:.2f}: too unlike the target's in size")
    eye_distance = float(np.linalg.norm(target_anchors[1] - target_anchors[0]))
    residual = np.sqrt(((_moved(donor_anchors, matrix) - target_anchors) ** 2).sum(axis=1).mean())
    if residual > MAX_RESIDUAL * eye_distance:
        raise ValueError(
            f"the donor's face does not fit the target's ({residual / eye_distance:.3f} eye distances off, at most "
            f"{MAX_RESIDUAL}): another pose or face shape"
        )
    return matrix


def face_mask(points: np.ndarray, side: int) -> np.ndarray:
    """A face as a soft weight ``(side, side) float32`` in [0, 1]: its mesh's hull with an edge of
    ``reenactment.EDGE_SIGMA`` of the side inside it (``face_swap.soft_inside``), exactly 0 outside the hull."""
    return soft_inside(hull_mask(points, side), reenactment.EDGE_SIGMA * side)


def transplant_with_mask(
    target: np.ndarray,
    target_mesh: np.ndarray,
    donor: np.ndarray,
    donor_mesh: np.ndarray,
    region: str,
) -> tuple[np.ndarray, np.ndarray]:
    """The target crop with ``region`` (one of ``REGIONS``) replaced by the donor's, and the mask it was blended with.

    ``target`` and ``donor`` are square face crops of one size ``(S, S, 3) uint8 RGB``, the meshes their ``(468, 2)``
    face meshes in crop pixels. Returns the fake ``(S, S, 3) uint8 RGB`` and the blend weight ``(S, S) float32`` in
    [0, 1]; where the weight is 0 the fake equals ``target`` exactly. ``ValueError`` for bad input, a donor that does
    not fit (``donor_fit``) or a region with nothing in it.
    """
    if region not in REGIONS:
        raise ValueError(f"region must be one of {REGIONS}, got {region!r}")
    target_points = checked_face_mesh(target, target_mesh, "target").astype(np.float64)
    donor_points = checked_face_mesh(donor, donor_mesh, "donor").astype(np.float64)
    if donor.shape != target.shape:
        raise ValueError(f"donor and target must be the same size, got {donor.shape} and {target.shape}")
    side = target.shape[0]
    matrix = donor_fit(target_points, donor_points)
    placed = cv2.warpAffine(donor, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    placed_points = _moved(donor_points, matrix)
    region_weight = reenactment.region_mask(target_points, placed_points, region, side)
    mask = np.minimum(region_weight, np.minimum(face_mask(target_points, side), face_mask(placed_points, side)))
    core = mask >= 0.5
    if core.sum() < MIN_REGION_PIXELS:
        raise ValueError("the region covers no area of the crop")
    coloured = match_colour(placed, target, core)
    weight = mask[..., np.newaxis]
    blended = weight * coloured.astype(np.float32) + (1.0 - weight) * target.astype(np.float32)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8), mask
