"""FF++ fakes paired with the real crop they were made on, and the mask of what was changed."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from test_self_blend import drawn_face

from detector.training import ffpp_pairs

SIDE = 128
MOUTH = (slice(84, 104), slice(46, 82))


def _real(seed: int) -> np.ndarray:
    """A drawn face on a textured background of its own (another seed: another video)."""
    rng = np.random.default_rng(seed)
    face = drawn_face(SIDE).astype(np.float32)
    texture = cv2.GaussianBlur(rng.normal(0, 60, (SIDE, SIDE, 3)).astype(np.float32), (0, 0), 2)
    background = rng.uniform(40, 220, 3).astype(np.float32) + texture
    face[:, :24] = background[:, :24]
    face[:, -24:] = background[:, -24:]
    face[:20] = background[:20]
    return np.clip(face, 0, 255).astype(np.uint8)


def _fake_of(real: np.ndarray, shift: float = 1.5) -> np.ndarray:
    """``real`` moved by ``shift`` pixels (the detector's box moves between a real and its fake) with its mouth
    repainted, as a reenactment changes it."""
    moved = cv2.warpAffine(
        real,
        np.float32([[1, 0, shift], [0, 1, -shift / 2]]),
        (SIDE, SIDE),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )
    fake = moved.copy()
    fake[MOUTH] = np.clip(fake[MOUTH].astype(int) + np.array([60, -40, -40]), 0, 255)
    return fake


def test_a_fake_finds_the_real_it_was_made_on_among_others_and_its_mask_is_the_change():
    reals = np.stack([_real(1), _real(2), _real(3)])
    fake = _fake_of(reals[1])
    pair = ffpp_pairs.find_pair(fake, reals)
    assert pair is not None and pair.real_index == 1
    assert pair.edge_difference < 3.0
    mask = ffpp_pairs.change_mask(fake, reals[1], pair)
    assert mask.shape == (SIDE, SIDE) and mask.dtype == np.float32
    assert mask[MOUTH].mean() > 0.8
    outside = np.ones((SIDE, SIDE), bool)
    outside[74:114, 36:92] = False
    assert mask[outside].mean() < 0.02


def test_a_fake_without_its_real_among_the_reals_has_no_pair():
    reals = np.stack([_real(1), _real(2)])
    assert ffpp_pairs.find_pair(_fake_of(_real(3)), reals) is None
    assert ffpp_pairs.find_pair(_fake_of(_real(3)), reals[:0]) is None


def test_pair_masks_search_only_the_fakes_group_and_are_cached(tmp_path):
    reals = np.stack([_real(1), _real(2)])
    fakes = np.stack([_fake_of(reals[0]), _fake_of(reals[1]), _fake_of(reals[1])])
    # The third fake's real is in another group: no pair.
    masks = ffpp_pairs.pair_masks(fakes, ("a", "b", "a"), reals, ("a", "b"), tmp_path)
    assert masks.shape == (3, SIDE, SIDE) and masks.dtype == np.float16
    assert np.isfinite(masks[:2]).all() and np.isnan(masks[2]).all()
    assert masks[0][MOUTH].mean() > 0.8
    cached = list(tmp_path.glob("ffpp-pairs-3-*.npy"))
    assert len(cached) == 1
    np.save(cached[0], np.zeros_like(masks))
    np.testing.assert_array_equal(ffpp_pairs.pair_masks(fakes, ("a", "b", "a"), reals, ("a", "b"), tmp_path), 0)


def test_a_fake_that_differs_from_its_pair_nowhere_keeps_no_mask(tmp_path):
    real = _real(1)
    unchanged = cv2.warpAffine(real, np.float32([[1, 0, 1], [0, 1, 0]]), (SIDE, SIDE), borderMode=cv2.BORDER_REFLECT)
    masks = ffpp_pairs.pair_masks(unchanged[np.newaxis], ("a",), real[np.newaxis], ("a",), None)
    assert ffpp_pairs.find_pair(unchanged, real[np.newaxis]) is not None
    assert np.isnan(masks).all()


def test_the_edge_difference_reads_the_top_and_side_bands_only():
    base = np.zeros((SIDE, SIDE, 3), np.uint8)
    changed = base.copy()
    changed[60:, 30:98] = 200
    assert ffpp_pairs.edge_difference(changed, base) == 0.0
    changed[:4] = 200
    assert ffpp_pairs.edge_difference(changed, base) > 0.0
    assert ffpp_pairs.edge_difference(changed, base, np.zeros((SIDE, SIDE), bool)) == pytest.approx(float("inf"))


def test_pair_reals_name_each_fakes_real_within_its_group_and_are_cached(tmp_path):
    reals = np.stack([_real(1), _real(2), _real(3)])
    fakes = np.stack([_fake_of(reals[2]), _fake_of(reals[0]), _fake_of(reals[1])])
    # The third fake's real is in another group: no pair.
    partners = ffpp_pairs.pair_reals(fakes, ("b", "a", "b"), reals, ("a", "a", "b"), tmp_path)
    assert partners.dtype == np.int32
    np.testing.assert_array_equal(partners, [2, 0, -1])
    cached = list(tmp_path.glob("ffpp-pair-reals-3-*.npy"))
    assert len(cached) == 1
    np.save(cached[0], np.full(3, 7, np.int32))
    np.testing.assert_array_equal(ffpp_pairs.pair_reals(fakes, ("b", "a", "b"), reals, ("a", "a", "b"), tmp_path), 7)
