"""Reals blurred to their source's fakes' softness by quantile, the fakes untouched."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from test_mixed_batches import SIDE, drawn_meshes, make_pools  # noqa: F401 (drawn_meshes: a fixture)

from detector.analysis import quality
from detector.training import mixed_batches, sharpness_match
from detector.training.augment import NO_AUGMENTATION


def _noise(seed: int, side: int = 64) -> np.ndarray:
    """A sharp crop: uniform noise, ``(side, side, 3) uint8``."""
    return np.random.default_rng(seed).uniform(0, 255, (side, side, 3)).astype(np.uint8)


@pytest.mark.parametrize("share", [0.9, 0.5, 0.1, 0.01])
def test_a_crop_is_blurred_to_its_target_sharpness(share):
    crop = _noise(0)
    target = share * quality.sharpness(crop)
    blurred = sharpness_match.blur_to_sharpness(crop, target)
    assert blurred.shape == crop.shape and blurred.dtype == np.uint8
    found = quality.sharpness(blurred)
    # Within the tolerance, or just under the target.
    assert target * (1 - 2 * sharpness_match.TOLERANCE) <= found <= target * (1 + sharpness_match.TOLERANCE)


def test_a_crop_at_or_under_its_target_is_left_as_it_is():
    crop = cv2.GaussianBlur(_noise(1), (0, 0), 2)
    assert sharpness_match.blur_to_sharpness(crop, quality.sharpness(crop)) is crop
    assert sharpness_match.blur_to_sharpness(crop, 10 * quality.sharpness(crop)) is crop
    with pytest.raises(ValueError, match="at least 0"):
        sharpness_match.blur_to_sharpness(crop, -1.0)


def test_a_target_no_blur_reaches_leaves_the_crop_at_the_widest_blur():
    crop = _noise(2)
    side = 2 * int(np.ceil(3 * sharpness_match.LARGEST_SIGMA)) + 1
    widest = np.rint(cv2.GaussianBlur(crop.astype(np.float32), (side, side), sharpness_match.LARGEST_SIGMA))
    np.testing.assert_array_equal(sharpness_match.blur_to_sharpness(crop, 0.0), widest)


def _sample(values) -> np.ndarray:
    return np.sort(np.asarray(values, np.float64))


def test_a_real_is_mapped_to_the_same_quantile_among_its_sources_fakes():
    match = sharpness_match.SharpnessMatch(
        reals={"a": _sample(np.linspace(100, 200, 101))}, fakes={"a": _sample(np.linspace(50, 100, 101))}
    )
    assert match.target("a", 150.0) == pytest.approx(75.0, abs=0.5)
    # Beyond the sample's ends, the ends.
    assert match.target("a", 1000.0) == pytest.approx(100.0)
    assert match.target("a", 1.0) == pytest.approx(50.0)
    assert match.median_ratios() == {"a": pytest.approx(0.5)}
    with pytest.raises(KeyError):
        match.target("b", 150.0)


@pytest.mark.parametrize(
    "reals, fakes, message",
    [
        ({"a": _sample([1, 2])}, {"b": _sample([1, 2])}, "same sources"),
        ({"a": _sample([])}, {"a": _sample([1])}, "non-empty sorted"),
        ({"a": np.array([2.0, 1.0])}, {"a": _sample([1])}, "non-empty sorted"),
    ],
)
def test_a_match_needs_a_sorted_sample_of_both_labels_of_each_source(reals, fakes, message):
    with pytest.raises(ValueError, match=message):
        sharpness_match.SharpnessMatch(reals, fakes)


def _draw_softer_fakes(slot, rng):
    """Sharp noise for reals; fakes of source "a" blurred by 1.5 px, those of "b" by 0.7 px or 1.2 px by kind."""
    crop = rng.uniform(0, 255, (48, 48, 3)).astype(np.float32)
    sigma = {("a", "fake"): 1.5, ("b", "one"): 0.7, ("b", "two"): 1.2}.get(slot)
    if sigma:
        crop = cv2.GaussianBlur(crop, (0, 0), sigma)
    return crop.astype(np.uint8)


def test_a_fitted_match_brings_each_sources_reals_to_its_fakes_median():
    real_slots = [("a", "real"), ("b", "real")]
    fake_slots = [("a", "fake"), ("b", "one"), ("b", "two")]
    match = sharpness_match.fit(
        _draw_softer_fakes, real_slots, fake_slots, np.array([0.5, 0.4, 0.1]), np.random.default_rng(0), count=60
    )
    assert set(match.reals) == set(match.fakes) == {"a", "b"}
    assert all(len(values) == 60 for values in (*match.reals.values(), *match.fakes.values()))
    rng = np.random.default_rng(1)
    for source in ("a", "b"):
        matched = [quality.sharpness(match.match(source, _draw_softer_fakes((source, "real"), rng))) for _ in range(40)]
        assert np.median(matched) == pytest.approx(np.median(match.fakes[source]), rel=0.1)
    # Source b's fakes, mostly the milder blur, are sharper than a's.
    assert np.median(match.fakes["b"]) > np.median(match.fakes["a"])
    with pytest.raises(ValueError, match="no fakes"):
        sharpness_match.fit(_draw_softer_fakes, real_slots, fake_slots[:1], np.array([1.0]), np.random.default_rng(0))


def _sharp_pools():
    """make_pools with noise reals (sharp) in place of the drawn face's, so matching has something to blur."""
    pools = make_pools()
    for source in ("dfdc", "ffpp", "utkface"):
        count = len(pools.images[(source, "real")])
        pools.images[(source, "real")] = np.stack([_noise(index, SIDE) for index in range(count)])
    return pools


@pytest.mark.usefixtures("drawn_meshes")
def test_matched_batches_blur_their_reals_and_leave_their_fakes_as_drawn():
    plain = mixed_batches.MixedBatches(_sharp_pools(), 32, NO_AUGMENTATION, seed=4, steps=2)
    matched = mixed_batches.MixedBatches(_sharp_pools(), 32, NO_AUGMENTATION, seed=4, steps=2)
    match = matched.match_sharpness(seed=9, count=30)
    assert matched.sharpness_match is match and set(match.reals) == {"dfdc", "ffpp", "utkface"}
    plain_images, plain_labels = plain[0]
    matched_images, matched_labels = matched[0]
    np.testing.assert_array_equal(plain_labels, matched_labels)
    # The same draws: the fakes alike, the reals (sharp noise, sharper than every fake) each blurred.
    np.testing.assert_array_equal(plain_images[16:], matched_images[16:])
    for plain_real, matched_real in zip(plain_images[:16], matched_images[:16], strict=True):
        assert quality.sharpness(matched_real.astype(np.uint8)) < quality.sharpness(plain_real.astype(np.uint8))


@pytest.mark.usefixtures("drawn_meshes")
def test_paired_batches_refuse_sharpness_matching():
    paired = mixed_batches.MixedBatches(make_pools(), 8, NO_AUGMENTATION, seed=0, paired=True)
    with pytest.raises(ValueError, match="unpaired"):
        paired.match_sharpness(seed=0, count=5)
