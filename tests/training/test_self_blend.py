"""Self-blended fakes: changed inside the soft mask, untouched outside it, repeatable, and refused on bad input."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from detector.training import self_blend
from detector.training.self_blend import SelfBlendConfig

SIDE = 128
SEEDS = range(8)


def drawn_face(side: int = SIDE) -> np.ndarray:
    """``(side, side, 3) uint8 RGB``: a textured background, a skin-coloured ellipse with eyes and a mouth."""
    rng = np.random.default_rng(42)
    grid_y, grid_x = np.mgrid[0:side, 0:side]
    image = np.stack([grid_x * 0.5 + 40, grid_y * 0.6 + 60, np.full((side, side), 90.0)], axis=2)
    image += rng.normal(0, 6, image.shape)
    center = (side // 2, int(side * 0.55))
    axes = (int(side * 0.28), int(side * 0.36))
    face = np.zeros((side, side), np.uint8)
    cv2.ellipse(face, center, axes, 0, 0, 360, 1, -1)
    image[face == 1] = np.array([200, 150, 120]) + rng.normal(0, 8, (int(face.sum()), 3))
    for eye_x in (0.4, 0.6):
        cv2.circle(image, (int(side * eye_x), int(side * 0.45)), max(2, side // 30), (40, 30, 30), -1)
    cv2.ellipse(image, (side // 2, int(side * 0.72)), (side // 10, side // 30), 0, 0, 360, (150, 60, 60), -1)
    return np.clip(image, 0, 255).astype(np.uint8)


def drawn_landmarks(side: int = SIDE) -> np.ndarray:
    """``(468, 2) float16`` points filling the drawn face's ellipse, as a face mesh does."""
    rng = np.random.default_rng(7)
    angle = rng.uniform(0, 2 * np.pi, 468)
    radius = np.sqrt(rng.uniform(0, 1, 468))
    radius[:36] = 1.0
    points = np.stack(
        [side / 2 + radius * np.cos(angle) * side * 0.28, side * 0.55 + radius * np.sin(angle) * side * 0.36], 1
    )
    return points.astype(np.float16)


IMAGE = drawn_face()
LANDMARKS = drawn_landmarks()
FULL_BLEND = SelfBlendConfig(blend_ratios=(1.0,))
# No movement, bending, erosion or soft edge: the mask is exactly the hull it is drawn from.
STILL = SelfBlendConfig(
    scale_range=(1.0, 1.0),
    max_translation=0.0,
    deformation=0.0,
    mask_scale=0.0,
    morphology=0.0,
    mask_blur=(0.0, 0.0),
    blend_ratios=(1.0,),
)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_fake_has_the_image_shape_and_dtype(seed: int) -> None:
    fake, mask = self_blend.self_blend_with_mask(IMAGE, LANDMARKS, np.random.default_rng(seed))
    assert fake.shape == IMAGE.shape and fake.dtype == np.uint8
    assert mask.shape == IMAGE.shape[:2] and mask.dtype == np.float32
    assert mask.min() >= 0.0 and mask.max() <= 1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_pixels_outside_the_mask_are_unchanged_exactly(seed: int) -> None:
    fake, mask = self_blend.self_blend_with_mask(IMAGE, LANDMARKS, np.random.default_rng(seed))
    outside = mask == 0
    # The mask is the face: the crop's corners are outside, and so is a good part of the crop.
    assert outside[[0, 0, -1, -1], [0, -1, 0, -1]].all() and outside.mean() > 0.2
    np.testing.assert_array_equal(fake[outside], IMAGE[outside])


@pytest.mark.parametrize("seed", SEEDS)
def test_pixels_inside_the_mask_change(seed: int) -> None:
    fake, mask = self_blend.self_blend_with_mask(IMAGE, LANDMARKS, np.random.default_rng(seed), FULL_BLEND)
    inside = mask == 1
    assert inside.mean() > 0.05
    difference = np.abs(fake.astype(int) - IMAGE.astype(int)).max(axis=2)[inside]
    assert (difference > 0).mean() > 0.8 and difference.mean() > 3


@pytest.mark.parametrize("seed", SEEDS)
def test_the_mask_is_soft_and_scaled_by_a_blend_ratio(seed: int) -> None:
    _, mask = self_blend.self_blend_with_mask(IMAGE, LANDMARKS, np.random.default_rng(seed))
    # A hard core at exactly the blend ratio, a border strictly between 0 and it.
    ratio = float(mask.max())
    assert ratio in self_blend.DEFAULT_CONFIG.blend_ratios
    assert (mask == np.float32(ratio)).any()
    assert ((mask > 0) & (mask < ratio)).sum() > 2 * SIDE


def test_every_blend_ratio_is_drawn() -> None:
    ratios = [
        float(self_blend.self_blend_with_mask(IMAGE, LANDMARKS, np.random.default_rng(seed))[1].max())
        for seed in range(60)
    ]
    assert set(ratios) == {0.25, 0.5, 0.75, 1.0}
    # 1.0 is three of the six choices.
    assert 0.3 < ratios.count(1.0) / len(ratios) < 0.7


def test_the_same_seed_gives_the_same_fake() -> None:
    first = self_blend.self_blend(IMAGE, LANDMARKS, np.random.default_rng(5))
    again = self_blend.self_blend(IMAGE, LANDMARKS, np.random.default_rng(5))
    other = self_blend.self_blend(IMAGE, LANDMARKS, np.random.default_rng(6))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_a_blend_ratio_of_zero_reproduces_the_input() -> None:
    config = SelfBlendConfig(blend_ratios=(0.0,))
    for seed in SEEDS:
        fake, mask = self_blend.self_blend_with_mask(IMAGE, LANDMARKS, np.random.default_rng(seed), config)
        assert not mask.any()
        np.testing.assert_array_equal(fake, IMAGE)


def test_the_input_is_not_modified() -> None:
    image = IMAGE.copy()
    self_blend.self_blend(image, LANDMARKS, np.random.default_rng(0))
    np.testing.assert_array_equal(image, IMAGE)


def test_without_movement_or_deformation_the_mask_follows_the_hull() -> None:
    _, mask = self_blend.self_blend_with_mask(IMAGE, LANDMARKS, np.random.default_rng(0), STILL)
    hull = self_blend.hull_mask(LANDMARKS, SIDE)
    # Hard (0 or 1) and the hull, up to the one-pixel rounding of its resampled outline.
    assert set(np.unique(mask)) == {0.0, 1.0}
    ring = np.ones((3, 3), np.uint8)
    assert (mask <= cv2.dilate(hull, ring)).all() and (mask >= cv2.erode(hull, ring)).all()
    assert np.abs(mask - hull).sum() < 0.05 * hull.sum()


def test_erosion_and_dilation_stay_within_their_limit() -> None:
    hull = self_blend.hull_mask(LANDMARKS, SIDE)
    config = SelfBlendConfig(morphology=0.05)
    limit = round(0.05 * SIDE)
    grown = cv2.dilate(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * limit + 1, 2 * limit + 1)))
    shrunk = cv2.erode(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * limit + 1, 2 * limit + 1)))
    sizes = set()
    for seed in range(20):
        changed = self_blend.erode_or_dilate(hull, np.random.default_rng(seed), config)
        assert not (changed & ~grown.astype(bool)).any() and (changed >= shrunk).all()
        sizes.add(int(np.sign(int(changed.sum()) - int(hull.sum()))))
    assert sizes == {-1, 0, 1} or sizes == {-1, 1}


def test_the_deformed_outline_stays_near_the_original() -> None:
    outline = cv2.convexHull(LANDMARKS.astype(np.float32)).reshape(-1, 2)
    config = SelfBlendConfig(deformation=0.05, mask_scale=0.0)
    diameter = 2 * np.linalg.norm(outline - outline.mean(axis=0), axis=1).max()
    largest = []
    for seed in range(10):
        bent = self_blend.deform_outline(outline, np.random.default_rng(seed), config)
        distances = [abs(cv2.pointPolygonTest(outline, (float(x), float(y)), True)) for x, y in bent]
        largest.append(max(distances))
    # Moved, but by no more than the configured fraction of the diameter (the centre differs a little: + 2 px).
    assert max(largest) > 1.0
    assert max(largest) <= 0.05 * diameter + 2.0


def test_colour_and_frequency_perturbations_keep_the_shape() -> None:
    rng = np.random.default_rng(0)
    for function in (self_blend.color_perturbation, self_blend.frequency_perturbation):
        for _ in range(6):
            changed = function(IMAGE, rng, self_blend.DEFAULT_CONFIG)
            assert changed.shape == IMAGE.shape and changed.dtype == np.uint8
            assert not np.array_equal(changed, IMAGE)


def test_the_source_moves_by_at_most_the_configured_translation_and_scale() -> None:
    config = SelfBlendConfig()
    for seed in range(10):
        affine = self_blend.random_affine((64.0, 70.0), SIDE, np.random.default_rng(seed), config)
        scale = affine[0, 0]
        assert affine[0, 0] == affine[1, 1] and 0.95 <= scale <= 1.05
        # The centre moves by the translation only.
        moved = affine @ np.array([64.0, 70.0, 1.0])
        assert np.abs(moved - [64.0, 70.0]).max() <= 0.03 * SIDE + 1e-4


@pytest.mark.parametrize(
    ("image", "points"),
    [
        (IMAGE[:, :100], LANDMARKS),
        (IMAGE.astype(np.float32), LANDMARKS),
        (IMAGE, np.full((468, 2), np.nan, np.float16)),
        (IMAGE, LANDMARKS[:, :1]),
        (IMAGE, np.full((468, 2), -50.0, np.float32)),
    ],
    ids=["not square", "float image", "no mesh (NaN)", "one coordinate", "hull outside the crop"],
)
def test_bad_input_is_refused(image: np.ndarray, points: np.ndarray) -> None:
    with pytest.raises(ValueError):
        self_blend.self_blend(image, points, np.random.default_rng(0))


@pytest.mark.parametrize(
    "change",
    [
        {"blend_ratios": (1.5,)},
        {"blend_ratios": ()},
        {"scale_range": (1.05, 0.95)},
        {"scale_range": (0.0, 1.0)},
        {"max_translation": -0.1},
        {"frequency_probability": 2.0},
        {"downscale": (0.0, 0.5)},
        {"mask_blur": (0.01, float("nan"))},
    ],
)
def test_bad_configurations_are_refused(change: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(SelfBlendConfig(), **change)


def test_sizes_scale_with_the_crop() -> None:
    # The same recipe at 224 px: the unchanged border and the changed face hold at the training size too.
    image, points = drawn_face(224), drawn_landmarks(224)
    fake, mask = self_blend.self_blend_with_mask(image, points, np.random.default_rng(1), FULL_BLEND)
    np.testing.assert_array_equal(fake[mask == 0], image[mask == 0])
    assert (mask == 1).any() and (mask > 0.5).mean() > 0.2 and (mask == 0).mean() > 0.2


@pytest.mark.parametrize("region", list(self_blend.BLEND_REGIONS))
def test_a_regional_blend_covers_only_the_hull_of_its_region(region: str) -> None:
    rng = np.random.default_rng(1)
    fake, mask = self_blend.self_blend_with_mask(IMAGE, LANDMARKS, rng, STILL, region=region)
    region_hull = self_blend.hull_mask(LANDMARKS[list(self_blend.BLEND_REGIONS[region])], SIDE)
    whole_hull = self_blend.hull_mask(LANDMARKS, SIDE)
    assert 0 < mask.sum() < whole_hull.sum()
    ring = np.ones((3, 3), np.uint8)
    assert (mask <= cv2.dilate(region_hull, ring)).all()
    np.testing.assert_array_equal(fake[mask == 0], IMAGE[mask == 0])


def test_the_regional_ranges_are_milder_in_colour_and_an_unknown_region_is_refused() -> None:
    regional, whole = self_blend.REGION_CONFIG, self_blend.DEFAULT_CONFIG
    assert regional.rgb_shift < whole.rgb_shift and regional.hue_shift < whole.hue_shift
    assert regional.frequency_probability > whole.frequency_probability
    with pytest.raises(ValueError, match="region must be one of"):
        self_blend.self_blend(IMAGE, LANDMARKS, np.random.default_rng(0), region="ears")
