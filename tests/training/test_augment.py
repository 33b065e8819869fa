import os

import numpy as np
import pytest

from detector.training import augment


@pytest.fixture
def face():
    y, x = np.mgrid[0:64, 0:64]
    # A gradient with a checkerboard on it: detail that blur and compression visibly change.
    checker = ((x // 4 + y // 4) % 2) * 40
    image = np.stack([x * 3 + checker, y * 3 + checker, (x + y) * 2], axis=2)
    return np.clip(image, 0, 255).astype(np.uint8)


def test_flip_mirrors(face):
    np.testing.assert_array_equal(augment.horizontal_flip(face)[:, 0], face[:, -1])


@pytest.mark.parametrize(
    "transform",
    [
        augment.color_jitter,
        augment.gaussian_blur,
        augment.downscale_upscale,
        augment.jpeg_recompress,
        augment.h264_recompress,
    ],
)
def test_transforms_keep_shape_and_type_and_change_pixels(face, transform):
    output = transform(face, np.random.default_rng(3))
    assert output.shape == face.shape and output.dtype == np.uint8
    assert not np.array_equal(output, face)
    assert np.abs(output.astype(int) - face.astype(int)).mean() < 40


def test_reframing_the_whole_side_changes_nothing(face):
    np.testing.assert_array_equal(augment.reframe(face, np.random.default_rng(0), min_side=1.0), face)


@pytest.mark.parametrize("seed", range(5))
def test_reframing_zooms_into_a_part_of_the_crop(seed):
    ramp = np.repeat(np.repeat(np.arange(0, 256, 4, dtype=np.uint8)[None, :, None], 64, axis=0), 3, axis=2)
    output = augment.reframe(ramp, np.random.default_rng(seed), min_side=0.5)
    assert output.shape == ramp.shape and output.dtype == np.uint8
    # A part of the ramp, stretched to the full width: still rising from left to right, over a shorter span.
    assert np.all(np.diff(output[0, :, 0].astype(int)) >= 0)
    assert int(output[0, -1, 0]) - int(output[0, 0, 0]) < int(ramp[0, -1, 0]) - int(ramp[0, 0, 0])


def test_a_colour_cast_with_no_range_changes_nothing(face):
    np.testing.assert_array_equal(augment.color_cast(face, np.random.default_rng(0), gain=0.0, shift=0.0), face)


def test_a_colour_cast_moves_each_channel_on_its_own_over_the_whole_crop():
    grey = np.full((32, 32, 3), 128, np.uint8)
    cast = augment.color_cast(grey, np.random.default_rng(1))
    # Every pixel moves alike (a cast, not a local change), and the channels move apart (a tint, not brightness).
    assert (cast == cast[0, 0]).all()
    assert len(set(cast[0, 0].tolist())) == 3


def test_policy_is_repeatable_with_a_seed(face):
    batch = np.stack([face] * 4)
    policy = augment.AugmentationPolicy(
        flip=0.5, color=1.0, blur=0.5, rescale=0.5, jpeg=0.5, h264=0.5, reframe=0.5, cast=0.5
    )
    first = policy.apply_batch(batch, np.random.default_rng(7))
    second = policy.apply_batch(batch, np.random.default_rng(7))
    np.testing.assert_array_equal(first, second)


def test_no_augmentation_is_identity(face):
    np.testing.assert_array_equal(augment.NO_AUGMENTATION.apply(face, np.random.default_rng(0)), face)


def test_policy_rejects_bad_probability():
    with pytest.raises(ValueError):
        augment.AugmentationPolicy(flip=1.5)


def test_h264_loses_more_detail_at_a_higher_rate_factor(face):
    def error(crf):
        output = augment.h264_recompress(face, np.random.default_rng(0), crf_range=(crf, crf))
        return np.abs(output.astype(int) - face.astype(int)).mean()

    assert error(18) < error(45)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_h264_compresses_alike_on_any_number_of_cores(face):
    # With its threads left to itself, x264 cuts the frame into one slice per core, so the artefacts a run trains
    # on would depend on the machine. A training crop's size: x264 slices only frames of enough rows.
    crop = np.repeat(np.repeat(face, 2, axis=0), 2, axis=1)
    cores = os.sched_getaffinity(0)
    on_all_cores = augment.h264_recompress(crop, np.random.default_rng(0), crf_range=(35, 35))
    os.sched_setaffinity(0, {min(cores)})
    try:
        on_one_core = augment.h264_recompress(crop, np.random.default_rng(0), crf_range=(35, 35))
    finally:
        os.sched_setaffinity(0, cores)
    assert np.array_equal(on_all_cores, on_one_core)


def test_h264_needs_even_sides(face):
    with pytest.raises(ValueError, match="even"):
        augment.h264_recompress(face[:63], np.random.default_rng(0))


def test_a_policy_describes_what_it_applies_and_how_often():
    policy = augment.AugmentationPolicy(flip=0.5, color=0.0, blur=0.0, rescale=0.2, jpeg=0.0, h264=0.15)
    assert policy.describe() == "horizontal flip 50%, downscale-upscale 20%, H.264 intra-frame re-compression 15%"
    assert augment.NO_AUGMENTATION.describe() == "none"


def test_an_augmentation_switched_off_draws_no_random_number(face):
    rng = np.random.default_rng(5)
    before = rng.bit_generator.state
    augment.NO_AUGMENTATION.apply(face, rng)
    assert rng.bit_generator.state == before
    # Only the flip is on, and always applied: exactly one draw, so a policy with h264=0 consumes the stream as
    # the code did before the H.264 augmentation existed.
    flipped = augment.AugmentationPolicy(flip=1.0, color=0.0, blur=0.0, rescale=0.0, jpeg=0.0, h264=0.0)
    flipped.apply(face, rng)
    expected = np.random.default_rng(5)
    expected.random()
    assert rng.bit_generator.state == expected.bit_generator.state


def test_a_policy_from_text_replaces_only_the_shares_named():
    policy = augment.policy_from_text("h264=0, jpeg=0.5")
    assert policy == augment.AugmentationPolicy(h264=0.0, jpeg=0.5)
    assert policy.flip == augment.AugmentationPolicy().flip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sharpen=0.5", "one of flip"),
        ("jpeg", "NAME=SHARE"),
        ("jpeg=lots", "not a number"),
        ("jpeg=2", r"\[0, 1\]"),
        ("jpeg=0.1,jpeg=0.2", "twice"),
    ],
)
def test_a_policy_from_text_refuses_what_it_cannot_mean(text, message):
    with pytest.raises(ValueError, match=message):
        augment.policy_from_text(text)
