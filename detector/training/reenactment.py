"""Reenactment proxies: a real face crop with only its mouth or lower face moved to a new expression.

Expression reenactment (Face2Face, NeuralTextures) keeps a person's identity, eyes, hair and background and
re-renders only the mouth and jaw to another expression. The models here learn their fakes from self-blends (the
whole face blended with a colour-changed copy of itself, ``self_blend``) and from real deepfakes, so a crop changed
only around the mouth, by moving its shape rather than its colour, is a manipulation they never saw: the
benchmark's figure on these proxies measures whether a detector carries over to expression changes. This makes one
from a single crop and its 468-point face mesh (``detector.training.landmarks``):

1. a new *expression* is drawn (``draw_expression``): the mouth opens or closes, its corners widen or narrow,
   and for the lower face the jaw shifts sideways;
2. the mesh's lower-face points move to it (``moved_mesh``), measured in the mouth's own frame (``mouth_frame``)
   so that a tilted face opens its mouth along its own axis; the eyes, brows and nose never move;
3. the crop is warped so the mesh lands on the moved points, piecewise affine over the Delaunay triangulation
   (``face_swap.warp_to_points``), with a *fence* of fixed points around the region so nothing outside it moves;
   where the mouth opens its inside is darkened, as a rendered mouth interior is;
4. the warp is blended back through a soft mask over the region only (``region_mask``): outside the mask the
   fake is the real crop exactly.

Every random choice comes from the ``numpy.random.Generator`` passed in, so a seeded call is repeatable. Used to
build the benchmark's reenactment set (``detector.evaluation.benchmark_sets``); not used in training. Its limits
(one image warped in 2D: no rendered teeth, no motion over time) are in docs/DESIGN.md, "Reenactment proxies".
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from detector.training.face_swap import warp_to_points
from detector.training.landmarks import checked_face_mesh

REGIONS = ("mouth", "lower_face")

# MediaPipe face-mesh indices. Each lip contour runs from the subject's right corner along the lower lip to the
# left corner, then back along the upper lip.
OUTER_LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
INNER_LIPS = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
LOWER_LIP = OUTER_LIPS[1:10] + INNER_LIPS[1:10]
UPPER_LIP = OUTER_LIPS[11:] + INNER_LIPS[11:]
MOUTH_CORNERS = (61, 291)
INNER_CORNERS = (78, 308)
JAW = (172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397)
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
NOSE_TIP = 1
# The point just under the nose tip, where the upper lip's skin begins: nothing above it moves.
NOSE_BASE = 2
UPPER_LIP_TOP = 0
LOWER_LIP_BOTTOM = 17
UPPER_LIP_INNER, LOWER_LIP_INNER = 13, 14
CHIN = 152

# The expression's random ranges, as fractions of the mouth's width. The mouth region opens less, because the skin
# between the lip and the chin has to absorb the whole movement there (the chin stays).
OPENING = {"mouth": (0.05, 0.25), "lower_face": (0.05, 0.35)}
# A mouth open by at least this much may instead be closed, by this fraction of its gap.
MIN_GAP_TO_CLOSE = 0.08
CLOSING = (0.5, 0.9)
CLOSING_PROBABILITY = 0.5
SMILE = (-0.06, 0.12)
JAW_SHIFT = 0.08
INTERIOR_DARKNESS = (0.3, 0.6)

# The shape of the movement, in mouth widths: the smile's reach around each corner (a Gaussian's sigma), how far
# from the lips the mouth region's movement fades out (and the mouth mask reaches), how far the jaw's movement
# reaches sideways, and the lower-face mask's margin around its points.
SMILE_SIGMA = 0.3
MOUTH_REACH = 0.3
JAW_HALF_WIDTH = 1.3
LOWER_FACE_MARGIN = 0.08
# The mask's soft edge (a fraction of the crop side, as in face_swap) and the spacing of the fence's fixed points
# (pixels): close enough that the triangulation never reaches across the fence.
EDGE_SIGMA = 0.02
FENCE_SPACING = 2.0


@dataclass(frozen=True)
class Expression:
    """A change of expression, in fractions of the mouth's width.

    ``opening`` moves the middle of the lower lip down (up when negative: the mouth closes), and in the lower face
    the chin with it; ``smile`` moves each mouth corner outward and up by half as much (inward and down when
    negative); ``jaw_shift`` moves the lower lip and chin towards the image's right (left when negative; the lower
    face only); ``interior_darkness`` in [0, 1] darkens the newly opened inside of the mouth.
    """

    opening: float
    smile: float
    jaw_shift: float = 0.0
    interior_darkness: float = 0.0

    def __post_init__(self) -> None:
        for name in ("opening", "smile", "jaw_shift"):
            value = getattr(self, name)
            if not math.isfinite(value) or abs(value) > 1:
                raise ValueError(f"{name} must be a finite fraction of the mouth width within [-1, 1], got {value}")
        if not 0 <= self.interior_darkness <= 1:
            raise ValueError(f"interior_darkness must be within [0, 1], got {self.interior_darkness}")


@dataclass(frozen=True)
class MouthFrame:
    """The mouth's own axes: ``origin`` between the mouth corners, unit vectors ``across`` (along the eye line,
    towards the image's right for an upright face) and ``down`` (towards the chin), all ``(2,) float64`` (x, y)
    pixels, and the mouth's ``width`` in pixels."""

    origin: np.ndarray
    across: np.ndarray
    down: np.ndarray
    width: float

    def local(self, points: np.ndarray) -> np.ndarray:
        """``(N, 2)`` pixel points as ``(N, 2) float64`` (across, down) coordinates in mouth widths."""
        return (np.asarray(points, np.float64) - self.origin) @ np.stack([self.across, self.down], axis=1) / self.width

    def pixels(self, offsets: np.ndarray) -> np.ndarray:
        """``(N, 2)`` (across, down) offsets in mouth widths as ``(N, 2) float64`` pixel offsets (x, y)."""
        return np.asarray(offsets, np.float64) @ np.stack([self.across, self.down]) * self.width


def mouth_frame(points: np.ndarray) -> MouthFrame:
    """The mouth's frame from a ``(468, 2)`` mesh; ``ValueError`` when the eyes or mouth corners coincide.

    The axes follow the eye line rather than the mouth corners, which tilt with a lopsided smile."""
    points = np.asarray(points, np.float64)
    eye_line = points[LEFT_EYE_OUTER] - points[RIGHT_EYE_OUTER]
    width = float(np.linalg.norm(points[MOUTH_CORNERS[1]] - points[MOUTH_CORNERS[0]]))
    if np.linalg.norm(eye_line) < 1.0 or width < 1.0:
        raise ValueError("the mesh's eye corners or mouth corners coincide: not a face mesh")
    across = eye_line / np.linalg.norm(eye_line)
    down = np.array([-across[1], across[0]])
    origin = (points[MOUTH_CORNERS[0]] + points[MOUTH_CORNERS[1]]) / 2
    # A mirrored mesh puts the chin on the other side of the eye line: keep "down" towards it.
    if np.dot(points[CHIN] - points[RIGHT_EYE_OUTER], down) < 0:
        down = -down
    return MouthFrame(origin=origin, across=across, down=down, width=width)


def mouth_gap(points: np.ndarray) -> float:
    """How far the inner lips are apart at the middle, in mouth widths (0 or less: closed)."""
    frame = mouth_frame(points)
    local = frame.local(np.asarray(points)[[UPPER_LIP_INNER, LOWER_LIP_INNER]])
    return float(local[1, 1] - local[0, 1])


def draw_expression(region: str, gap: float, rng: np.random.Generator) -> Expression:
    """A random expression change for ``region``, given the mouth's current ``gap`` (``mouth_gap``).

    The mouth opens by a fraction of its width drawn from ``OPENING``, or, when it is open at least
    ``MIN_GAP_TO_CLOSE``, closes by a fraction of its gap with probability ``CLOSING_PROBABILITY``. Every value is
    drawn whatever the region, so the stream of random numbers does not depend on it."""
    _check_region(region)
    close = rng.random() < CLOSING_PROBABILITY
    opening = rng.uniform(*OPENING[region])
    closing = rng.uniform(*CLOSING)
    smile = rng.uniform(*SMILE)
    jaw_shift = rng.uniform(-JAW_SHIFT, JAW_SHIFT)
    darkness = rng.uniform(*INTERIOR_DARKNESS)
    if close and gap >= MIN_GAP_TO_CLOSE:
        opening = -closing * gap
    return Expression(
        opening=float(opening),
        smile=float(smile),
        jaw_shift=float(jaw_shift) if region == "lower_face" else 0.0,
        interior_darkness=float(darkness),
    )


def _check_region(region: str) -> None:
    if region not in REGIONS:
        raise ValueError(f"region must be one of {REGIONS}, got {region!r}")


def _smoothstep(values: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, a smooth S between: a movement that starts and stops without a crease in the skin."""
    clipped = np.clip(values, 0.0, 1.0)
    return clipped * clipped * (3.0 - 2.0 * clipped)


def _signed_lip_distance(points: np.ndarray) -> np.ndarray:
    """Each point's signed distance to the outer lips' outline, in pixels: positive inside, negative outside."""
    outline = np.asarray(points, np.float32)[list(OUTER_LIPS)].reshape(-1, 1, 2)
    return np.array([cv2.pointPolygonTest(outline, (float(x), float(y)), True) for x, y in points])


def _contour_height(local: np.ndarray, indices: tuple[int, ...], across: np.ndarray) -> np.ndarray:
    """The ``down`` coordinate of the lip contour ``indices`` at each ``across`` (held level beyond its ends)."""
    samples = local[list(indices)]
    order = np.argsort(samples[:, 0])
    return np.interp(across, samples[order, 0], samples[order, 1])


def opening_weights(local: np.ndarray, inside_lips: np.ndarray, region: str) -> np.ndarray:
    """How much of the opening each mesh point takes, ``(N,) float64`` in [0, 1].

    ``local`` is the mesh in the mouth's frame ``(N, 2)`` (``MouthFrame.local``), ``inside_lips`` ``(N,) bool``
    whether each point lies inside the outer lips. The lower lip takes a profile that is 1 at its middle and 0 at
    the corners (an opened mouth is rounder in the middle); the upper lip takes nothing. The named inner contours
    touch when the mouth is closed, so the other points of the lips' body belong to the lower lip when they lie
    below the line between the inner lips. The rest take more the further below that line they are: in
    ``"lower_face"`` the jaw moves, fading out towards its angles (it turns about the ears); in ``"mouth"`` only the
    skin under the lip. A point under the lower lip never takes less than the lip above it: the lip would slide
    over it and fold the warp.
    """
    across, down = local[:, 0], local[:, 1]
    middle = (
        _contour_height(local, INNER_CORNERS + INNER_LIPS[11:], across)
        + _contour_height(local, INNER_CORNERS + INNER_LIPS[1:10], across)
    ) / 2
    lower_edge = _contour_height(local, MOUTH_CORNERS + OUTER_LIPS[1:10], across)
    centre = np.abs(across).argmin()
    depth = max(float(lower_edge[centre] - middle[centre]), 0.05)
    lip_profile = np.clip(1.0 - np.abs(2.0 * across) ** 3, 0.0, 1.0)
    jaw_profile = np.clip(1.0 - (across / JAW_HALF_WIDTH) ** 2, 0.0, 1.0)
    weights = _smoothstep((down - middle) / depth) * (jaw_profile if region == "lower_face" else lip_profile)
    under_lip = (down >= lower_edge) & (np.abs(across) < 0.5)
    weights[under_lip] = np.maximum(weights, lip_profile)[under_lip]
    upper = np.zeros(len(local), bool)
    upper[list(UPPER_LIP + MOUTH_CORNERS + INNER_CORNERS)] = True
    lower = np.zeros(len(local), bool)
    lower[list(LOWER_LIP)] = True
    lower |= inside_lips & (down > middle) & ~upper
    upper |= inside_lips & ~lower
    weights[lower] = lip_profile[lower]
    weights[upper] = 0.0
    return weights


def moved_mesh(points: np.ndarray, region: str, expression: Expression) -> np.ndarray:
    """The ``(468, 2)`` mesh with its lower face moved to ``expression``, as ``(468, 2) float64`` pixels.

    In the mouth's frame (``mouth_frame``; units of its width) each point moves down by ``opening`` times its
    ``opening_weights``, and for ``"lower_face"`` sideways by ``jaw_shift`` times the same weights (the lower lip and
    jaw move together). Each mouth corner moves by ``smile``, its neighbours less (a Gaussian of ``SMILE_SIGMA``).
    In ``"mouth"`` all movement fades out linearly ``MOUTH_REACH`` away from the lips, so the chin stays. Points
    above the nose base never move.
    """
    _check_region(region)
    points = np.asarray(points, np.float64)
    frame = mouth_frame(points)
    local = frame.local(points)
    signed_distance = _signed_lip_distance(points)
    weights = opening_weights(local, signed_distance >= 0, region)
    offsets = np.zeros_like(local)
    offsets[:, 1] = expression.opening * weights
    if region == "lower_face":
        offsets[:, 0] = expression.jaw_shift * weights
    for corner in MOUTH_CORNERS:
        outward = math.copysign(1.0, local[corner, 0])
        corner_offset = np.array([outward * expression.smile, -0.5 * expression.smile])
        squared = ((local - local[corner]) ** 2).sum(axis=1)
        offsets += np.exp(-squared / (2 * SMILE_SIGMA**2))[:, np.newaxis] * corner_offset
    # Nothing above the nose base moves; the upper lip's skin follows the corners more the nearer it is to them.
    down = local[:, 1]
    nose_base, lip_top = down[NOSE_BASE], down[UPPER_LIP_TOP]
    gate = _smoothstep((down - nose_base) / max(lip_top - nose_base, 0.05))
    gate[down <= nose_base] = 0.0
    offsets *= gate[:, np.newaxis]
    if region == "mouth":
        # The opening is at most OPENING["mouth"][1] < MOUTH_REACH of the mouth's width, so the skin under the lip
        # is squeezed or stretched by this fade, never folded over.
        fade = np.clip(1.0 + np.minimum(signed_distance, 0.0) / (MOUTH_REACH * frame.width), 0.0, 1.0)
        offsets *= fade[:, np.newaxis]
    return points + frame.pixels(offsets)


def _region_points(points: np.ndarray, region: str) -> np.ndarray:
    """The indices of the mesh points that define ``region``'s outline: the outer lips, or the lips, the jaw line
    and every point below the nose base."""
    if region == "mouth":
        return np.array(OUTER_LIPS)
    frame = mouth_frame(points)
    down = frame.local(points)[:, 1]
    return np.union1d(np.flatnonzero(down >= down[NOSE_BASE]), np.array(OUTER_LIPS + INNER_LIPS + JAW))


def _dilated_hull(points: np.ndarray, reach: float) -> np.ndarray:
    """The convex hull of ``(N, 2)`` points grown by ``reach`` pixels, as an ``(M, 2) float64`` outline."""
    angles = np.linspace(0.0, 2 * np.pi, 32, endpoint=False)
    disc = reach * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    grown = (np.asarray(points, np.float64)[:, np.newaxis, :] + disc[np.newaxis]).reshape(-1, 2)
    return cv2.convexHull(grown.astype(np.float32)).reshape(-1, 2).astype(np.float64)


def _region_reach(region: str, mouth_width: float) -> float:
    return (MOUTH_REACH if region == "mouth" else LOWER_FACE_MARGIN) * mouth_width


def region_mask(points: np.ndarray, moved: np.ndarray, region: str, side: int) -> np.ndarray:
    """The soft blending mask ``(side, side) float32`` in [0, 1] of ``region``, before and after the move.

    The hull of the region's points in both meshes, grown by ``MOUTH_REACH`` (mouth) or ``LOWER_FACE_MARGIN``
    (lower face) mouth widths, blurred by a Gaussian of ``EDGE_SIGMA`` of the side cut at three sigmas: the mask
    is exactly 0 further than that from the grown hull. Both meshes count, so an opened jaw's new chin is inside.
    """
    _check_region(region)
    indices = _region_points(points, region)
    outline = _dilated_hull(
        np.concatenate([points[indices], moved[indices]]), _region_reach(region, mouth_frame(points).width)
    )
    hard = np.zeros((side, side), np.float32)
    cv2.fillConvexPoly(hard, np.round(outline).astype(np.int32), 1.0)
    sigma = EDGE_SIGMA * side
    kernel_size = 2 * math.ceil(3 * sigma) + 1
    soft = cv2.GaussianBlur(hard, (kernel_size, kernel_size), sigmaX=sigma, sigmaY=sigma)
    # The kernel's weights sum to 1 only to float precision: keep the core exactly 1 and the outside exactly 0.
    soft[soft > 1.0 - 1e-5] = 1.0
    soft[soft < 1e-6] = 0.0
    return soft


def _fence(points: np.ndarray, moved: np.ndarray, region: str, side: int) -> np.ndarray:
    """Fixed points ``(K, 2) float64`` every ``FENCE_SPACING`` px around the region, just beyond the mask's reach,
    and four far corners so that the triangulation covers the crop. Triangles outside the fence have only fixed
    corners, so the warp moves nothing there."""
    indices = _region_points(points, region)
    reach = _region_reach(region, mouth_frame(points).width) + 3 * EDGE_SIGMA * side + 2.0
    outline = _dilated_hull(np.concatenate([points[indices], moved[indices]]), reach)
    closed = np.concatenate([outline, outline[:1]])
    samples = []
    for start, end in itertools.pairwise(closed):
        steps = max(1, math.ceil(np.linalg.norm(end - start) / FENCE_SPACING))
        samples.append(start + np.linspace(0.0, 1.0, steps, endpoint=False)[:, np.newaxis] * (end - start))
    corners = np.array([[-side, -side], [2 * side, -side], [-side, 2 * side], [2 * side, 2 * side]], np.float64)
    polygon = outline.astype(np.float32).reshape(-1, 1, 2)
    outside = [corner for corner in corners if cv2.pointPolygonTest(polygon, tuple(map(float, corner)), False) < 0]
    return np.concatenate([*samples, np.array(outside).reshape(-1, 2)])


def darken_mouth_interior(image: np.ndarray, moved: np.ndarray, darkness: float) -> np.ndarray:
    """``image`` ``(S, S, 3) uint8 RGB`` darkened by ``darkness`` inside the moved mesh's inner lips.

    A warp can only stretch the lips over an opened mouth; a rendered one shows a dark interior there. The edge is
    softened by a one-pixel Gaussian so the lips' inner line stays."""
    interior = np.zeros(image.shape[:2], np.float32)
    cv2.fillPoly(interior, [np.round(moved[list(INNER_LIPS)]).astype(np.int32)], 1.0)
    interior = cv2.GaussianBlur(interior, (0, 0), sigmaX=1.0)
    factor = 1.0 - darkness * interior[..., np.newaxis]
    return np.clip(np.rint(image.astype(np.float32) * factor), 0, 255).astype(np.uint8)


def apply_expression(
    image: np.ndarray, mesh: np.ndarray, region: str, expression: Expression
) -> tuple[np.ndarray, np.ndarray]:
    """The crop with ``region`` moved to ``expression``, and the mask it was blended with.

    ``image`` is a square face crop ``(S, S, 3) uint8 RGB``, ``mesh`` its ``(468, 2)`` face mesh in crop pixels
    (any float dtype). Returns the fake ``(S, S, 3) uint8 RGB`` and the blend weight ``(S, S) float32`` in [0, 1];
    where the weight is 0 the fake equals ``image`` exactly. ``ValueError`` for a bad image, mesh or region.
    """
    _check_region(region)
    points = checked_face_mesh(image, mesh).astype(np.float64)
    side = image.shape[0]
    moved = moved_mesh(points, region, expression)
    fence = _fence(points, moved, region, side)
    warped, _ = warp_to_points(image, np.concatenate([points, fence]), np.concatenate([moved, fence]))
    if expression.opening > 0 and expression.interior_darkness > 0:
        # Scaled by the new share of the final gap: teeth that showed already are stretched over the whole
        # opening, and darkening all of it would hide them.
        gap = max(mouth_gap(points), 0.0)
        warped = darken_mouth_interior(
            warped, moved, expression.interior_darkness * expression.opening / (gap + expression.opening)
        )
    # No colour matching (face_swap matches Lab statistics): the warped pixels come from the same crop, so their
    # colours already belong there, and a match would undo the darkened mouth.
    mask = region_mask(points, moved, region, side)
    weight = mask[..., np.newaxis]
    blended = weight * warped.astype(np.float32) + (1.0 - weight) * image.astype(np.float32)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8), mask


def reenact_with_mask(
    image: np.ndarray, mesh: np.ndarray, rng: np.random.Generator, region: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A reenactment proxy of a real crop and the mask it was blended with: see ``apply_expression``.

    ``region`` is one of ``REGIONS``, or None to draw one with ``rng``; the expression is drawn with ``rng``
    (``draw_expression``). Returns the fake ``(S, S, 3) uint8 RGB`` and the ``(S, S) float32`` weight in [0, 1].
    """
    if region is not None:
        _check_region(region)
    points = checked_face_mesh(image, mesh)
    if region is None:
        region = REGIONS[int(rng.integers(len(REGIONS)))]
    expression = draw_expression(region, mouth_gap(points), rng)
    return apply_expression(image, points, region, expression)


def reenact(image: np.ndarray, mesh: np.ndarray, rng: np.random.Generator, region: str | None = None) -> np.ndarray:
    """A reenactment proxy ``(S, S, 3) uint8 RGB`` of a real crop ``(S, S, 3) uint8 RGB`` and its ``(468, 2)``
    face mesh: see ``reenact_with_mask``."""
    return reenact_with_mask(image, mesh, rng, region)[0]
